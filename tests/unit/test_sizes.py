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
