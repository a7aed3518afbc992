"""Sizes of what travels through Mistral's context, over N instances.

Mistral refuses any task result, action input or published value over
``[engine] execution_field_size_limit_kb`` (1,024 KB by default). The
``expand_roles`` result is the largest value the workbook's context holds
before the deploy: here it is computed for N = 200, 1,000 and 5,000
instances in two roles with a 2 KB ``cloud_config`` each, and shown to
grow by a small constant per instance (config drives shared, instances
as compact records), well under the default limit at N = 1,000
(doc/source/scale.md).
"""

import json
import unittest

from tripleo_baremetal import actions
from tripleo_baremetal import field_size

#: Mistral's default ``[engine] execution_field_size_limit_kb``, in bytes.
LIMIT = 1024 * 1024


def cloud_config(role='Controller'):
    """A role's cloud_config of about 2 KB, with passwords (secrets)."""
    return {'hostname_prefix': role,
            'users': [{'name': 'user%d' % i, 'passwd': 'secret%034d' % i}
                      for i in range(24)],
            'write_files': [{'path': '/etc/motd', 'content': 'm' * 400}]}


def roles(count):
    return [{'name': name, 'count': count // 2, 'defaults': {
        'config_drive': {'cloud_config': cloud_config(name)},
        'networks': [{'network': 'ctlplane', 'vif': True}]}}
        for name in ('Controller', 'Compute')]


def size(value):
    return len(json.dumps(value))


class ExpandRolesSizeTest(unittest.TestCase):

    def expand(self, count):
        # Past the size check (which refuses N = 5,000: 1.7 MB).
        action = actions.ExpandRoles(roles(count))
        result = type(action).run.__wrapped__(action, None)
        self.assertIsInstance(result, dict, result)
        return result

    def test_cloud_config_is_about_2kb(self):
        self.assertGreater(size(cloud_config()), 1800)

    def test_result_per_instance_is_a_small_constant(self):
        sizes = {count: size(self.expand(count)) for count in
                 (200, 1000, 5000)}
        # Linear with a small constant: under 400 bytes per instance,
        # whatever N (a full record with its drive was 3.5 KB).
        per_instance = (sizes[5000] - sizes[200]) / 4800
        self.assertLess(per_instance, 400, sizes)
        # At 1,000 the whole result is under a third of the limit.
        self.assertLess(sizes[1000], LIMIT / 3, sizes)

    def test_drives_are_shared(self):
        result = self.expand(1000)
        drives = result['config_drives']
        self.assertEqual(2, len(drives['drives']))
        self.assertEqual(1000, len(drives['hosts']))
        self.assertLess(size(drives), 64 * 1024)

    def test_no_secret_in_the_instances(self):
        result = self.expand(200)
        self.assertNotIn('secret', json.dumps(result['instances']))
        self.assertNotIn('config_drive', json.dumps(result['instances']))

    def test_a_batch_input_is_bounded_by_its_size(self):
        result = self.expand(5000)
        drives = result['config_drives']
        batch = [{'hostname': inst['hostname'], 'instance': inst}
                 for inst in result['instances'][:20]]
        # deploy_batches' config_drives input: the batch's hosts only.
        batch_drives = {'drives': drives['drives'], 'hosts': {
            item['hostname']: drives['hosts'][item['hostname']]
            for item in batch}}
        self.assertLess(size(batch) + size(batch_drives), 32 * 1024)
        self.assertEqual(cloud_config(), actions.drive_of(
            batch_drives, batch[0]['hostname'])['cloud_config'])


class DriveOfTest(unittest.TestCase):

    def test_shared(self):
        drives = {'drives': [{'cloud_config': {'a': 1}}],
                  'hosts': {'h0': 0}}
        self.assertEqual({'cloud_config': {'a': 1}},
                         actions.drive_of(drives, 'h0'))
        self.assertIsNone(actions.drive_of(drives, 'h1'))

    def test_plain_mapping(self):
        self.assertEqual({'meta_data': {}}, actions.drive_of(
            {'h0': {'meta_data': {}}}, 'h0'))
        self.assertIsNone(actions.drive_of(None, 'h0'))


class FieldSizeTest(unittest.TestCase):

    def conf(self, limit):
        from oslo_config import cfg
        conf = cfg.ConfigOpts()
        conf.register_opts([cfg.IntOpt('execution_field_size_limit_kb',
                                       default=limit)], group='engine')
        conf([])
        return conf

    def test_default_without_mistral_options(self):
        from oslo_config import cfg
        self.assertEqual(1024, field_size.limit_kb(cfg.ConfigOpts()))

    def test_under_and_over(self):
        conf = self.conf(1)
        self.assertIsNone(field_size.over_limit('x', 'a' * 500, conf))
        message = field_size.over_limit('expand_roles result',
                                        'a' * 3000, conf)
        self.assertIn('[engine] execution_field_size_limit_kb = 1 KB by '
                      '2 KB', message)
        self.assertNotIn('\n', message)
        self.assertIsNone(field_size.over_limit('x', 'a' * 3000,
                                                self.conf(-1)))

    def test_expand_roles_fails_with_one_line(self):
        # 3,000 instances of a 1 KB network_config each: over 1 MiB.
        many = [{'name': 'Compute', 'count': 3000, 'defaults': {
            'network_config': {'template': 'x' * 1024}}}]
        result = actions.ExpandRoles(many).run(None)
        self.assertIn('ExpandRoles result is', result.error)
        self.assertIn('execution_field_size_limit_kb', result.error)


class CtlplanePortReferenceTest(unittest.TestCase):

    def test_round_trip(self):
        from tripleo_baremetal import model
        port = {'id': 'p1', 'fixed_ips': [{'ip_address': '192.168.24.9'}]}
        inst = model.Instance.from_dict({'hostname': 'h', 'ctlplane_port':
                                         port, 'ports': [port]})
        data = inst.to_dict()
        self.assertEqual('p1', data['ctlplane_port'])
        self.assertEqual(inst, model.Instance.from_dict(data))
        # Not one of the ports (or ports unresolved): in full.
        alone = model.Instance.from_dict({'hostname': 'h',
                                          'ctlplane_port': port})
        self.assertEqual(port, alone.to_dict()['ctlplane_port'])

    def test_unknown_reference(self):
        from tripleo_baremetal import exceptions
        from tripleo_baremetal import model
        self.assertRaises(exceptions.InvalidInput, model.Instance.from_dict,
                          {'hostname': 'h', 'ctlplane_port': 'p9',
                           'ports': []})


def ctlplane_port(index):
    """A ctlplane port as Neutron completes it (what the brief keeps)."""
    return {'id': '%08d-1111-2222-3333-444444444444' % index,
            'mac_address': '52:54:00:%02x:%02x:%02x' % (
                index >> 16, (index >> 8) & 255, index & 255),
            'fixed_ips': [{'ip_address': '192.168.%d.%d' % (
                24 + index // 250, 2 + index % 250),
                'subnet_id': 'aaaaaaaa-1111-2222-3333-444444444444'}],
            'network': {'id': 'bbbbbbbb-1111-2222-3333-444444444444',
                        'name': 'ctlplane', 'mtu': 1500,
                        'tags': ['192.168.24.0/21']},
            'subnets': [{'id': 'aaaaaaaa-1111-2222-3333-444444444444',
                         'name': 'ctlplane-subnet',
                         'cidr': '192.168.24.0/21',
                         'gateway_ip': '192.168.24.1', 'host_routes': [],
                         'dns_nameservers': ['192.168.24.1']}]}


class DeployValuesSizeTest(unittest.TestCase):
    """What travels after the pick, per host, is a bounded constant.

    The values of ``deploy_instances``' and ``deploy_roles``' context
    after ``pick_nodes``: reservations, the deployed records (briefs,
    ``deploy_instances``' output and ``finish_deploy``'s input) and
    ``finish_deploy``'s output (the environment, per-host summaries and
    port ids), for N instances with one Heat ctlplane port each.
    """

    def values(self, count):
        from tripleo_baremetal import model
        expanded = ExpandRolesSizeTest.expand(self, count)
        deployments = []
        for index, data in enumerate(expanded['instances']):
            inst = model.Instance.from_dict(data).replace(
                ctlplane_port=model.Port.from_dict(ctlplane_port(index)))
            reservation = model.Reservation(
                hostname=inst.hostname,
                node='%08d-aaaa-bbbb-cccc-dddddddddddd' % index,
                node_name='node-%04d' % index,
                allocation='%08d-eeee-ffff-0000-111111111111' % index)
            deployments.append(model.Deployment(
                instance=inst, reservation=reservation,
                provision_state='active', attached_vifs=[
                    inst.ctlplane_port.id]))
        briefs = [item.to_dict(brief=True) for item in deployments]
        finish = actions.FinishDeploy(expanded['environment'], briefs)
        output = type(finish).run.__wrapped__(finish, None)
        return {
            'reservations': [item.reservation.to_dict()
                             for item in deployments],
            'deployed (briefs)': briefs,
            'finish_deploy input': {'environment': expanded['environment'],
                                    'instances': briefs},
            'finish_deploy output': output,
        }

    def test_per_host_constant_and_under_the_limit_at_1000(self):
        small = {key: size(value) for key, value in self.values(200).items()}
        large = {key: size(value) for key, value in
                 self.values(1000).items()}
        for key in large:
            per_host = (large[key] - small[key]) / 800
            # Under 800 bytes a host each (a complete record with its
            # port was 1.3 KB), so that N = 1,000 stays under 80% of
            # Mistral's default 1,024 KB (doc/source/scale.md).
            self.assertLess(per_host, 800, (key, small, large))
            self.assertLess(large[key], LIMIT * 0.8, (key, large))

    def test_brief_port_keeps_what_the_environment_reads(self):
        from tripleo_baremetal import model
        port = model.Port.from_dict(ctlplane_port(7))
        brief = port.brief()
        self.assertEqual((port.id, port.fixed_ips), (brief.id,
                                                     brief.fixed_ips))
        self.assertIsNone(brief.mac_address)
        self.assertEqual({'name', 'mtu', 'tags'}, set(brief.network))
        self.assertEqual(set(model.SUBNET_KEYS), set(brief.subnets[0]))
        from tripleo_baremetal.request import environment
        self.assertEqual(environment.deployed_port_entry(port),
                         environment.deployed_port_entry(brief))

    def test_finish_deploy_output(self):
        output = self.values(200)['finish_deploy output']
        self.assertEqual(200, len(output['instances']))
        self.assertEqual({'hostname', 'role', 'index', 'node', 'node_name',
                          'provision_state'}, set(output['instances'][0]))
        self.assertEqual(200, len(output['environment']['parameter_defaults']
                                  ['DeployedServerPortMap']))
        self.assertNotIn('secret', json.dumps(output))


class FitCheckTest(unittest.TestCase):
    """``expand_roles`` with ``check_fit`` refuses what Mistral would.

    ``footprint.deployed_bytes`` is a lower bound of ``finish_deploy``'s
    input: never over the real one (so no request that would fit is
    refused), and close to it (so the check is worth its while).
    """

    def test_lower_bound_and_close(self):
        from tripleo_baremetal import model
        from tripleo_baremetal.request import environment
        from tripleo_baremetal.request import footprint
        values = DeployValuesSizeTest.values(self, 200)
        expanded = ExpandRolesSizeTest.expand(self, 200)
        instances = [model.Instance.from_dict(data).replace(
            ctlplane_port=model.Port.from_dict(ctlplane_port(index)).brief())
            for index, data in enumerate(expanded['instances'])]
        estimate = footprint.deployed_bytes(instances,
                                            expanded['environment'])
        # What ensure_ports and the wait add to the input: the port map
        # of Heat's ports, no failed host.
        real = size(dict(values['finish_deploy input'], failed=[],
                         node_port_map={
                             inst.hostname: environment.known_port_entries(
                                 inst) for inst in instances}))
        self.assertLessEqual(estimate, real)
        self.assertGreater(estimate, real * 0.9, (estimate, real))

    def test_refused_at_the_start_with_one_line(self):
        # 3,500 instances without ports: the expansion itself fits
        # (about 260 bytes each), their deployed records (about 340
        # bytes each) do not.
        many = [{'name': 'Compute', 'count': 3500}]
        ok = actions.ExpandRoles(many).run(None)
        self.assertIsInstance(ok, dict)
        self.assertLess(size(ok), LIMIT * 0.9)
        result = actions.ExpandRoles(many, check_fit=True).run(None)
        self.assertRegex(result.error, (
            r"^roles: deploying 3500 instance\(s\) would pass at least "
            r"\d+ KB from one step to the next \(wait_for_deploy's input"))
        self.assertIn('over [engine] execution_field_size_limit_kb = 1024 '
                      'KB by', result.error)
        self.assertRegex(result.error, r'to \d+ or more$')
        self.assertNotIn('\n', result.error)

    def test_not_refused_when_it_fits_or_undeploying(self):
        fits = [{'name': 'Compute', 'count': 1000}]
        self.assertIsInstance(
            actions.ExpandRoles(fits, check_fit=True).run(None), dict)
        many = [{'name': 'Compute', 'count': 3500}]
        self.assertIsInstance(actions.ExpandRoles(
            many, provisioned=False, check_fit=True).run(None), dict)

    def test_suggested_limit(self):
        self.assertEqual(1536, actions._headroom(1100))
        self.assertEqual(1280, actions._headroom(1000))
