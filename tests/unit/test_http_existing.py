"""CheckExistingInstances at the HTTP level: what it reads, what it writes."""

import types
from unittest import mock

from tests.unit import http_base as base
from tests.unit.http_base import ironic
from tests.unit.http_base import neutron
from tripleo_baremetal import actions
from tripleo_baremetal import connection
from tripleo_baremetal import model
from tripleo_baremetal.provisioning import existing

HOSTS = ('compute-0', 'compute-1', 'compute-2')


def converged(hosts=HOSTS):
    """Nodes and allocations of a request whose every host is active."""
    nodes, allocs = [], []
    for index, host in enumerate(hosts):
        node_id, alloc_id = 'node-%d' % index, 'alloc-%d' % index
        nodes.append(base.node(node_id, 'n%d' % index, 'active',
                               allocation=alloc_id,
                               instance_info={'display_name': host}))
        allocs.append(base.allocation(alloc_id, host, node_id))
    return nodes, allocs


class ConvergedRequestTest(base.HttpTestCase):

    def check(self, instances):
        return self.run_action(actions.CheckExistingInstances(instances))

    def test_converged_request_reads_twice_and_writes_nothing(self):
        # existing.py: "Requests: one allocation listing and one node
        # listing [...] an unchanged, converged request writes nothing."
        nodes, allocs = converged()
        self.register_allocations(allocs)
        self.register_nodes(nodes)

        result = self.check([base.instance(host) for host in HOSTS])

        self.assertEqual(list(HOSTS),
                         [item['hostname'] for item in result['instances']])
        self.assertEqual(([], [], [], []), (
            result['deploying'], result['reserved'], result['not_found'],
            result['repaired']))
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations',
                   fields=base.Fields('uuid', 'name', 'state', 'node_uuid')),
            ironic('GET', 'nodes', fields=base.Fields(
                'uuid', 'provision_state', 'instance_uuid',
                'instance_info')),
        ])
        self.assertEqual([], self.writes())

    def test_converged_request_with_ports_reads_neutron_in_bulk(self):
        # ports.py: "a request per kind of resource for the whole run,
        # never per instance: GET /v2.0/ports?id=a&id=b..." and the VIFs
        # attached in Ironic: "2 requests, whatever the number of nodes".
        nodes, allocs = converged()
        self.register_allocations(allocs)
        self.register_nodes(nodes)
        port_ids = ['port-%d' % index for index in range(len(HOSTS))]
        self.register('GET', base.NEUTRON + '/v2.0/ports', {'ports': [
            base.neutron_port(port_id, 'net-ctlplane',
                              '52:54:00:00:00:0%d' % index,
                              '192.168.24.1%d' % index, 'subnet-ctlplane')
            for index, port_id in enumerate(port_ids)]})
        self.register('GET', 'ports', {'ports': [
            base.ironic_port('nic-%d' % index, 'node-%d' % index,
                             '52:54:00:00:00:0%d' % index, vif=port_id)
            for index, port_id in enumerate(port_ids)]})
        self.register('GET', 'portgroups', {'portgroups': []})
        self.register('GET', base.NEUTRON + '/v2.0/networks', {'networks': [
            {'id': 'net-ctlplane', 'name': 'ctlplane', 'mtu': 1500,
             'tags': []}]})
        self.register('GET', base.NEUTRON + '/v2.0/subnets', {'subnets': [
            {'id': 'subnet-ctlplane', 'name': 'ctlplane-subnet',
             'cidr': '192.168.24.0/24', 'gateway_ip': '192.168.24.1',
             'host_routes': [], 'dns_nameservers': [], 'ip_version': 4,
             'enable_dhcp': False, 'network_id': 'net-ctlplane'}]})
        instances = [base.instance(host, network_ports={
            'ctlplane': port_id}) for host, port_id in zip(HOSTS, port_ids)]

        result = self.check(instances)

        self.assertEqual(3, len(result['instances']))
        self.assertEqual(
            '192.168.24.10',
            model.Deployment.from_dict(result["instances"][0]).instance
            .ctlplane_port
            .fixed_ips[0]['ip_address'])
        # A brief record: the ctlplane port in full, not the port list.
        self.assertNotIn('ports', result['instances'][0])
        self.assertEqual('192.168.24.0/24', result['instances'][0][
            'ctlplane_port']['subnets'][0]['cidr'])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields('name')),
            ironic('GET', 'nodes', fields=base.Fields('uuid')),
        ] + base.neutron_discovery() + [
            neutron('GET', 'ports', id=port_ids),
            # The ctlplane ports lack network and subnets: both are read.
            neutron('GET', 'networks', id=['net-ctlplane']),
            neutron('GET', 'subnets', id=['subnet-ctlplane']),
            ironic('GET', 'ports', fields=base.Fields(
                'node_uuid', 'internal_info')),
            ironic('GET', 'portgroups', fields=base.Fields(
                'node_uuid', 'internal_info')),
        ])
        self.assertEqual([], self.writes())


class WaitReleasedTest(base.HttpTestCase):
    """Waiting for tear-down to drop the allocations of failed nodes."""

    def test_one_listing_per_poll_until_gone(self):
        self.register_allocations([base.allocation('alloc-0', 'compute-0')],
                                  [])
        options = types.SimpleNamespace(allocation_timeout=30)
        with mock.patch.object(existing.time, 'sleep', autospec=True):
            existing._wait_released(
                connection.get_connection(),
                [types.SimpleNamespace(id='alloc-0')], options)

        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields='uuid'),
            ironic('GET', 'allocations', fields='uuid')])
        self.assertEqual([], self.writes())
