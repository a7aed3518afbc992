"""DeployNode and WaitForDeploy at the HTTP level."""

import base64
import gzip
import json

from tests.unit import http_base as base
from tests.unit.http_base import ironic
from tripleo_baremetal import actions

PORT = {'id': 'port-0', 'mac_address': '52:54:00:00:00:01',
        'fixed_ips': [{'ip_address': '192.168.24.10',
                       'subnet_id': 'subnet-ctlplane'}],
        'network': {'id': 'net-ctlplane', 'name': 'ctlplane', 'mtu': 1500,
                    'tags': []},
        'subnets': [{'id': 'subnet-ctlplane', 'cidr': '192.168.24.0/24',
                     'gateway_ip': '192.168.24.1', 'host_routes': [],
                     'dns_nameservers': [], 'ip_version': 4,
                     'enable_dhcp': False}]}


#: What pick_nodes returns of a node it has just reserved.
SNAPSHOT = {'uuid': 'node-0', 'name': 'n0', 'provision_state': 'available',
            'maintenance': False, 'allocation_uuid': 'alloc-0',
            'properties': {'local_gb': 100}}


class DeployNodeTest(base.HttpTestCase):

    def setUp(self):
        super().setUp()
        self.node = base.node('node-0', 'n0', allocation='alloc-0')
        self.register('GET', 'nodes/node-0', self.node)
        self.register('PATCH', 'nodes/node-0', dict(
            self.node, instance_info={'display_name': 'compute-0'}))
        self.register('PUT', 'nodes/node-0/states/provision', status=202)

    def deploy(self, instance, **kwargs):
        return self.run_action(actions.DeployNode(
            instance, 'node-0', allocation='alloc-0',
            ssh_keys=['ssh-ed25519 AAAA test'], user_name='tripleo-admin',
            stackname='overcloud', **kwargs))

    def test_node_without_ports_costs_three_requests(self):
        # deploy.py: "Three Ironic requests for a node without ports: read
        # the node [...], one PATCH for everything in instance_info, and
        # the provision request carrying the config drive".
        result = self.deploy(base.instance('compute-0'))

        self.assertNotIn('error', result)
        self.assertEqual(('node-0', 'alloc-0', []), (
            result['node'], result['allocation'], result['attached_vifs']))
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes/node-0'),
            ironic('PATCH', 'nodes/node-0'),
            ironic('PUT', 'nodes/node-0/states/provision'),
        ])
        patch = self.requests_to('PATCH', 'nodes/node-0')[0].json()
        self.assertEqual({'/instance_info/capabilities',
                          '/instance_info/display_name',
                          '/instance_info/image_checksum',
                          '/instance_info/image_source',
                          '/instance_info/image_type'},
                         {op['path'] for op in patch})
        self.assertEqual({'add'}, {op['op'] for op in patch})
        # Given, so that the conductor need not HEAD the image URL to
        # tell a whole-disk image from a directory while it holds the
        # provision request.
        self.assertIn({'op': 'add', 'path': '/instance_info/image_type',
                       'value': 'whole-disk'}, patch)
        provision = self.requests_to('PUT', 'nodes/node-0/states/provision')
        self.assertEqual('active', provision[0].json()['target'])
        # The config drive is sent as a gzipped, base64 ISO.
        drive = gzip.decompress(base64.b64decode(
            provision[0].json()['configdrive']))
        self.assertEqual(b'CD001', drive[0x8001:0x8006])
        self.assertEqual('1.56', provision[0].headers[
            'X-OpenStack-Ironic-API-Version'])

    def test_just_reserved_node_costs_only_the_writes(self):
        # deploy.py: "a caller that has just reserved the node [...]
        # passes what it knows of it as node [...]: 2 requests without
        # ports".
        result = self.deploy(base.instance('compute-0'),
                             node_snapshot=SNAPSHOT)

        self.assertNotIn('error', result)
        self.assertEqual(('node-0', 'alloc-0'), (result['node'],
                                                 result['allocation']))
        self.assert_calls(base.ironic_discovery() + [
            ironic('PATCH', 'nodes/node-0'),
            ironic('PUT', 'nodes/node-0/states/provision'),
        ])

    def test_snapshot_of_another_allocation_is_refused_unwritten(self):
        # "a node that is not reserved for this instance is never
        # written to", whatever the caller claims to know.
        result = self.deploy(base.instance('compute-0'), node_snapshot=dict(
            SNAPSHOT, allocation_uuid='alloc-other'))

        self.assertIn('not reserved for this instance', result['error'])
        self.assertEqual([], self.writes())

    def test_validation_is_the_provision_request(self):
        # deploy.py: "Ironic validates the node's interfaces before it
        # accepts it: a node that fails is refused with HTTP 400, and
        # rolled back here"; Ironic's own instance_info keys go too.
        self.register('PUT', 'nodes/node-0/states/provision', status=400,
                      json={'error_message': json.dumps({
                          'faultstring': 'Failed to validate deploy info'})})
        self.register('GET', 'nodes/node-0', responses=[
            {'json': self.node},
            {'json': dict(self.node, instance_info={
                'display_name': 'compute-0', 'image_type': 'whole-disk'})}])
        self.register('DELETE', 'allocations/alloc-0', status=204)

        result = self.deploy(base.instance('compute-0'),
                             node_snapshot=SNAPSHOT)

        self.assertIn('compute-0: node n0 (node-0) failed validation for the '
                      'deploy', result['error'])
        self.assertIn('Failed to validate deploy info', result['error'])
        undo = self.requests_to('PATCH', 'nodes/node-0')[1].json()
        self.assertIn({'op': 'remove', 'path': '/instance_info/image_type'},
                      undo)
        self.assertEqual(1, len(self.requests_to('DELETE',
                                                 'allocations/alloc-0')))

    def register_one_port(self):
        self.register('POST', 'nodes/node-0/vifs', status=204)
        self.register('GET', 'ports/detail', {'ports': [
            base.ironic_port('nic-0', 'node-0', '52:54:00:00:00:01',
                             vif='port-0')]})
        self.register('GET', 'portgroups/detail', {'portgroups': []})

    def test_node_with_one_port_costs_six_requests(self):
        # deploy.py: "With ports, one VIF attach per port and two listings
        # of the node's ports and port groups [...]: 6 for one port."
        self.register_one_port()

        result = self.deploy(base.instance(
            'compute-0', ctlplane_port=dict(PORT), ports=[dict(PORT)]))

        self.assertEqual(['port-0'], result['attached_vifs'])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes/node-0'),
            ironic('PATCH', 'nodes/node-0'),
            ironic('POST', 'nodes/node-0/vifs'),
            ironic('GET', 'ports/detail', node='node-0'),
            ironic('GET', 'portgroups/detail', node='node-0'),
            ironic('PUT', 'nodes/node-0/states/provision'),
        ])
        self.assertEqual({'id': 'port-0'}, self.requests_to(
            'POST', 'nodes/node-0/vifs')[0].json())

    def test_root_device_raid_and_steps_cost_two_requests_more(self):
        # node_settings: the inventory read and the RAID PUT; the hint
        # and our record go in the one instance_info PATCH, the steps
        # with the provision request (API 1.69).
        self.register('GET', 'nodes/node-0', dict(
            self.node, target_raid_config={},
            properties={'local_gb': 50, 'root_device': {'name': 'sda'}}))
        self.register('GET', 'nodes/node-0/inventory', {
            'inventory': {'disks': [
                {'name': '/dev/sda', 'size': 100 * 1024 ** 3,
                 'serial': 'S1', 'rotational': False},
                {'name': '/dev/sdb', 'size': 900 * 1024 ** 3,
                 'serial': 'S2', 'wwn': '0x5002', 'rotational': True}]},
            'plugin_data': {}})
        self.register('PUT', 'nodes/node-0/states/raid', status=204)
        raid = {'logical_disks': [{'size_gb': 100, 'raid_level': '1'}]}
        step = {'interface': 'bios', 'step': 'apply_configuration',
                'args': {}, 'priority': 150}

        result = self.deploy(base.instance(
            'compute-0', root_device={'size': '>= 500'}, raid_config=raid,
            deploy_steps=[step]))

        self.assertNotIn('error', result)
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes/node-0'),
            ironic('GET', 'nodes/node-0/inventory'),
            ironic('PATCH', 'nodes/node-0'),
            ironic('PUT', 'nodes/node-0/states/raid'),
            ironic('PUT', 'nodes/node-0/states/provision'),
        ])
        patch = self.requests_to('PATCH', 'nodes/node-0')[0].json()
        self.assertIn({'op': 'add', 'path': '/properties/root_device',
                       'value': {'wwn': '0x5002'}}, patch)
        self.assertIn({'op': 'add', 'path': '/instance_info/'
                       'tripleo_baremetal', 'value': {'saved': {
                           'root_device': {'name': 'sda'},
                           'target_raid_config': {}}}}, patch)
        self.assertEqual(raid, self.requests_to(
            'PUT', 'nodes/node-0/states/raid')[0].json())
        provision = self.requests_to('PUT',
                                     'nodes/node-0/states/provision')[0]
        self.assertEqual('1.69', provision.headers[
            'X-OpenStack-Ironic-API-Version'])
        self.assertEqual([step, {
            'interface': 'raid', 'step': 'apply_configuration',
            'args': {'raid_config': raid}, 'priority': 90}],
            provision.json()['deploy_steps'])

    def test_just_reserved_node_with_one_port_costs_three_requests(self):
        # "[...] and the NICs of every reserved node, read in one listing
        # (list_nics), as nics: [...] 3 with one".
        self.register_one_port()
        nics = [{'address': '52:54:00:00:00:01',
                 'internal_info': {'tenant_vif_port_id': 'port-0'}}]

        result = self.deploy(base.instance(
            'compute-0', ctlplane_port=dict(PORT), ports=[dict(PORT)]),
            node_snapshot=SNAPSHOT, nics=nics)

        self.assertEqual(['port-0'], result['attached_vifs'])
        self.assert_calls(base.ironic_discovery() + [
            ironic('PATCH', 'nodes/node-0'),
            ironic('POST', 'nodes/node-0/vifs'),
            ironic('PUT', 'nodes/node-0/states/provision'),
        ])

    def test_deploy_already_under_way_costs_one_read(self):
        # deploy_node: "a node whose deploy is already under way or done
        # is returned as it is, without a write".
        self.register('GET', 'nodes/node-0', dict(
            self.node, provision_state='wait call-back',
            target_provision_state='active'))

        result = self.deploy(base.instance('compute-0'))

        self.assertNotIn('error', result)
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes/node-0'),
        ])


def deploying(count, states):
    """Nodes ``node-<i>`` in ``states[i]``, each with its allocation."""
    return [base.node('node-%d' % index, 'n%d' % index, states[index],
                      allocation='alloc-%d' % index)
            for index in range(count)]


class WaitForDeployTest(base.HttpTestCase):

    K = 3

    def instances(self):
        return [{'hostname': 'compute-%d' % index, 'node': 'node-%d' % index,
                 'allocation': 'alloc-%d' % index} for index in range(self.K)]

    def test_one_node_listing_per_poll_whatever_the_count(self):
        # polling.py: "one GET /v1/nodes?fields=... answers for every node
        # being watched"; wait.py: "one node listing per poll".
        self.register_nodes(
            deploying(self.K, ['deploying'] * self.K),
            deploying(self.K, ['active', 'wait call-back', 'active']),
            deploying(self.K, ['active'] * self.K))

        result = self.run_action(actions.WaitForDeploy(self.instances(),
                                                       timeout=30))

        self.assertEqual(['compute-0', 'compute-1', 'compute-2'],
                         [inst['hostname'] for inst in result['instances']])
        self.assertEqual([], result['failed'])
        poll = ironic('GET', 'nodes', fields=base.Fields(
            'uuid', 'provision_state', 'last_error'))
        self.assert_calls(base.ironic_discovery() + [poll] * 3)

    def test_deploy_results_that_did_not_start_count_as_failed(self):
        # The workbook passes deploy_node's results as they are: one with
        # "error" (its deploy could not start, its node was released) is
        # a failure the wait neither polls nor undeploys.
        instances = self.instances()
        instances[1]['error'] = 'compute-1: deploy refused'
        self.register_nodes(deploying(self.K, ['active'] * self.K))

        result = self.run_action(actions.WaitForDeploy(
            instances, timeout=30, max_fail_percentage=50))

        self.assertEqual(['compute-0', 'compute-2'],
                         [inst['hostname'] for inst in result['instances']])
        self.assertEqual(['compute-1'],
                         [inst['hostname'] for inst in result['failed']])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes', fields=base.Fields('provision_state'))])

    def test_tolerated_failure_is_undeployed_with_one_request(self):
        # wait.py: "Failed nodes are undeployed (which also releases their
        # allocations)": one provision request, no read-back.
        self.register_nodes(
            deploying(self.K, ['active', 'deploy failed', 'active']))
        self.register('PUT', 'nodes/node-1/states/provision', status=202)

        result = self.run_action(actions.WaitForDeploy(
            self.instances(), timeout=30, max_fail_percentage=50))

        self.assertEqual(['compute-1'],
                         [inst['hostname'] for inst in result['failed']])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes', fields=base.Fields('provision_state')),
            ironic('PUT', 'nodes/node-1/states/provision'),
        ])
        self.assertEqual({'target': 'deleted'}, self.requests_to(
            'PUT', 'nodes/node-1/states/provision')[0].json())

    def test_with_environment_it_is_the_last_step(self):
        # Given deploy_roles' environment, the wait also returns what
        # finish_deploy did (finished), for the hosts already active and
        # those it saw become active; its own instances only name them.
        self.register_nodes(deploying(self.K, ['active'] * self.K))
        existing = [{'hostname': 'compute-9', 'role': 'Compute', 'index': 9,
                     'node': 'node-9', 'provision_state': 'active'}]
        environment = {'parameter_defaults': {'ComputeCount': 4}}

        result = self.run_action(actions.WaitForDeploy(
            self.instances(), timeout=30, existing=existing,
            existing_count=1, environment=environment))

        self.assertEqual([{'hostname': 'compute-0'}], result['instances'][:1])
        finished = result['finished']
        self.assertEqual({'hostname', 'role', 'index', 'node', 'node_name',
                          'provision_state'}, set(finished['instances'][1]))
        self.assertEqual(['compute-9', 'compute-0', 'compute-1',
                          'compute-2'],
                         [inst['hostname'] for inst in finished['instances']])
        self.assertEqual(4, finished['environment']['parameter_defaults'][
            'ComputeCount'])
        self.assertEqual({}, finished['ports'])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes', fields=base.Fields('provision_state'))])

    def test_with_environment_and_nothing_to_wait_for(self):
        # A converged re-run: no node to poll, no request; the
        # environment is still built.
        existing = [{'hostname': 'compute-9', 'role': 'Compute', 'index': 9,
                     'node': 'node-9', 'provision_state': 'active'}]

        result = self.run_action(actions.WaitForDeploy(
            [], existing=existing, existing_count=1, environment={}))

        self.assertEqual([], result['instances'])
        self.assertEqual(['compute-9'], [
            inst['hostname'] for inst in result['finished']['instances']])
        self.assert_calls([])
