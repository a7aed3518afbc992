"""DeployNode and WaitForDeploy at the HTTP level."""

import base64
import gzip

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


class DeployNodeTest(base.HttpTestCase):

    def setUp(self):
        super().setUp()
        self.node = base.node('node-0', 'n0', allocation='alloc-0')
        self.register('GET', 'nodes/node-0', self.node)
        self.register('PATCH', 'nodes/node-0', dict(
            self.node, instance_info={'display_name': 'compute-0'}))
        self.register('GET', 'nodes/node-0/validate', base.validation(
            console='not supported', rescue='not supported'))
        self.register('PUT', 'nodes/node-0/states/provision', status=202)

    def deploy(self, instance):
        return self.run_action(actions.DeployNode(
            instance, 'node-0', allocation='alloc-0',
            ssh_keys=['ssh-ed25519 AAAA test'], user_name='tripleo-admin',
            stackname='overcloud'))

    def test_node_without_ports_costs_four_requests(self):
        # deploy.py: "Six Ironic requests plus one per port for a node:
        # read the node, one PATCH [...], a VIF attach per Heat port, one
        # validate, the node's ports and port groups [...] and the
        # provision request". Without ports the NIC listings are skipped
        # too: 4 requests.
        result = self.deploy(base.instance('compute-0'))

        self.assertNotIn('error', result)
        self.assertEqual(('node-0', 'alloc-0', []), (
            result['node'], result['allocation'], result['attached_vifs']))
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes/node-0'),
            ironic('PATCH', 'nodes/node-0'),
            ironic('GET', 'nodes/node-0/validate'),
            ironic('PUT', 'nodes/node-0/states/provision'),
        ])
        patch = self.requests_to('PATCH', 'nodes/node-0')[0].json()
        self.assertEqual({'/instance_info/capabilities',
                          '/instance_info/display_name',
                          '/instance_info/image_checksum',
                          '/instance_info/image_source'},
                         {op['path'] for op in patch})
        self.assertEqual({'add'}, {op['op'] for op in patch})
        provision = self.requests_to('PUT', 'nodes/node-0/states/provision')
        self.assertEqual('active', provision[0].json()['target'])
        # The config drive is sent as a gzipped, base64 ISO.
        drive = gzip.decompress(base64.b64decode(
            provision[0].json()['configdrive']))
        self.assertEqual(b'CD001', drive[0x8001:0x8006])
        self.assertEqual('1.56', provision[0].headers[
            'X-OpenStack-Ironic-API-Version'])

    def test_node_with_one_port_costs_seven_requests(self):
        # README (benchmarks): "deploying costs 7 Ironic requests per node
        # with one port (6 + 1 per port)".
        self.register('POST', 'nodes/node-0/vifs', status=204)
        self.register('GET', 'ports/detail', {'ports': [
            base.ironic_port('nic-0', 'node-0', '52:54:00:00:00:01',
                             vif='port-0')]})
        self.register('GET', 'portgroups/detail', {'portgroups': []})

        result = self.deploy(base.instance(
            'compute-0', ctlplane_port=dict(PORT), ports=[dict(PORT)]))

        self.assertEqual(['port-0'], result['attached_vifs'])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes/node-0'),
            ironic('PATCH', 'nodes/node-0'),
            ironic('POST', 'nodes/node-0/vifs'),
            ironic('GET', 'nodes/node-0/validate'),
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
            ironic('GET', 'nodes/node-0/validate'),
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
