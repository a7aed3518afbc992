"""The Heat side on real services: the post-deploy hook, update, delete.

A stack of heat/overcloud-baremetal.yaml (with
heat/environments/baremetal-deploy.yaml) on a real Heat, given only the
roles file (RolesFile): its OS::Mistral::ExternalResource runs
provision_stack on our Mistral, which makes the Neutron ports the roles
file's networks ask for and provisions real (fake-hardware) Ironic nodes
with them; an update scales up or down; deleting the stack undeploys the
nodes and deletes the ports the workflow made.
"""

import os

from localcloud import demo_heat
from tests.functional import base
from tests.functional import neutron_base

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HEAT = os.path.join(TOP, 'heat')
IMAGE = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}


#: As real roles files do: the ctlplane port, made by the workflow.
NETWORKS = [{'network': 'ctlplane', 'vif': True}]


def roles_file(controllers=2, computes=2):
    return [{'name': 'Controller', 'count': controllers,
             'defaults': {'image': IMAGE, 'networks': NETWORKS}},
            {'name': 'Compute', 'count': computes,
             'defaults': {'image': IMAGE, 'networks': NETWORKS}}]


class HeatStackTest(neutron_base.NeutronMistralTestCase, base.HeatTestCase):
    """Create, then delete; an impossible request fails the stack."""

    WORKBOOKS = [os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml')]
    MISTRAL_OPTIONS = {'tripleo_baremetal': {'check_local_images': False}}

    def stack_arguments(self, roles_data, name):
        return demo_heat.stack_arguments(
            HEAT, roles_data, name, ['ssh-ed25519 AAAAC3Nza heat-test'])

    def create_stack(self, roles_data, name='overcloud', timeout=240):
        created = self.heat_client.stacks.create(
            stack_name=name, **self.stack_arguments(roles_data, name))
        stack_id = created['stack']['id']
        self.addCleanup(self.delete_stack, stack_id)
        return self.wait_for_stack(stack_id, timeout=timeout)

    def update_stack(self, stack, roles_data, timeout=240):
        self.heat_client.stacks.update(
            stack.id, **self.stack_arguments(roles_data, stack.stack_name))
        return self.wait_for_stack(stack.id, timeout=timeout)

    def delete_stack(self, stack_id, timeout=240):
        """Delete the stack; its final status ('DELETE_COMPLETE' if gone)."""
        if self.heat_client.stacks.get(stack_id).stack_status != \
                'DELETE_COMPLETE':
            self.heat_client.stacks.delete(stack_id)
        stack = self.wait_for_stack(stack_id, timeout=timeout)
        return stack.stack_status if stack is not None else 'DELETE_COMPLETE'

    def outputs(self, stack):
        return {item['output_key']: item['output_value']
                for item in self.heat_client.stacks.get(stack.id).outputs}

    def heat_ports(self):
        return {port.name: port for port in self.conn.network.ports()
                if port.name and port.name.endswith('-ctlplane')}

    def test_create_then_delete(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(4)])
        roles_data = roles_file()
        stack = self.create_stack(roles_data)
        self.assertEqual('CREATE_COMPLETE', stack.stack_status,
                         stack.stack_status_reason)
        ports = self.heat_ports()
        hosts = sorted(name[:-len('-ctlplane')] for name in ports)
        self.assertEqual(['overcloud-controller-0', 'overcloud-controller-1',
                          'overcloud-novacompute-0',
                          'overcloud-novacompute-1'], hosts)
        by_host = {alloc.name: alloc.node_id
                   for alloc in self.conn.baremetal.allocations()}
        self.assertEqual(hosts, sorted(by_host))
        for host in hosts:
            node = self.conn.baremetal.get_node(by_host[host])
            self.assertEqual('active', node.provision_state, host)
            self.assertEqual([ports[host + '-ctlplane'].id],
                             self.conn.baremetal.list_node_vifs(node), host)

        outputs = self.outputs(stack)
        self.assertEqual(sorted(hosts),
                         sorted(outputs['HostnameMap'].values()))
        for host in hosts:
            port = ports[host + '-ctlplane']
            address = port.fixed_ips[0]['ip_address']
            self.assertEqual(address, outputs['ctlplane_ips'][host])
            self.assertEqual(
                address, outputs['DeployedServerPortMap'][
                    host + '-ctlplane']['fixed_ips'][0]['ip_address'])
            self.assertEqual(address, outputs['NodePortMap'][host][
                'ctlplane']['ip_address'])
            self.assertEqual(port.id, outputs['ports'][host]['ctlplane'])
        self.assertEqual(2, outputs['environment']['parameter_defaults'][
            'ComputeCount'])
        # The roles file may hold secrets (config_drive): Heat hides it.
        self.assertEqual('******', self.heat_client.stacks.get(
            stack.id).parameters['RolesFile'])

        self.assertEqual('DELETE_COMPLETE', self.delete_stack(stack.id))
        self.assertEqual([], list(self.conn.baremetal.allocations()))
        for node in self.conn.baremetal.nodes(details=True):
            self.assertEqual('available', node.provision_state, node.name)
            self.assertEqual([], self.conn.baremetal.list_node_vifs(node))
        self.assertEqual({}, self.heat_ports())

    def test_scale_up_by_stack_update(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(3)])
        stack = self.create_stack(roles_file(controllers=1, computes=1))
        self.assertEqual('CREATE_COMPLETE', stack.stack_status,
                         stack.stack_status_reason)
        before = {alloc.name: (alloc.id, alloc.node_id)
                  for alloc in self.conn.baremetal.allocations()}
        stack = self.update_stack(stack, roles_file(controllers=1,
                                                    computes=2))
        self.assertEqual('UPDATE_COMPLETE', stack.stack_status,
                         stack.stack_status_reason)
        after = {alloc.name: (alloc.id, alloc.node_id)
                 for alloc in self.conn.baremetal.allocations()}
        # One more host; the others kept their allocation and node.
        self.assertEqual(['overcloud-novacompute-1'],
                         sorted(set(after) - set(before)))
        self.assertEqual(before, {host: after[host] for host in before})
        ports = self.heat_ports()
        node = after['overcloud-novacompute-1'][1]
        self.assertEqual('active',
                         self.conn.baremetal.get_node(node).provision_state)
        self.assertEqual([ports['overcloud-novacompute-1-ctlplane'].id],
                         self.conn.baremetal.list_node_vifs(node))
        self.assertEqual(2, self.outputs(stack)['environment'][
            'parameter_defaults']['ComputeCount'])

    def test_scale_down_by_stack_update(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(3)])
        stack = self.create_stack(roles_file(controllers=1, computes=2))
        self.assertEqual('CREATE_COMPLETE', stack.stack_status,
                         stack.stack_status_reason)
        before = {alloc.name: (alloc.id, alloc.node_id)
                  for alloc in self.conn.baremetal.allocations()}
        ports = self.heat_ports()
        scaled = roles_file(controllers=1, computes=2)
        scaled[1]['count'] = 1
        scaled[1]['instances'] = [{'hostname': 'overcloud-novacompute-0',
                                   'provisioned': False}]
        stack = self.update_stack(stack, scaled)
        self.assertEqual('UPDATE_COMPLETE', stack.stack_status,
                         stack.stack_status_reason)
        after = {alloc.name: (alloc.id, alloc.node_id)
                 for alloc in self.conn.baremetal.allocations()}
        # Exactly that host went; the others kept node, allocation, port.
        self.assertEqual({host: value for host, value in before.items()
                          if host != 'overcloud-novacompute-0'}, after)
        removed = self.conn.baremetal.get_node(
            before['overcloud-novacompute-0'][1])
        self.assertEqual('available', removed.provision_state)
        self.assertEqual([], self.conn.baremetal.list_node_vifs(removed))
        now = self.heat_ports()
        self.assertNotIn('overcloud-novacompute-0-ctlplane', now)
        for name in now:
            self.assertEqual(ports[name].id, now[name].id, name)

    def test_impossible_request_fails_the_stack(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(2)])
        stack = self.create_stack(roles_file(controllers=1, computes=2))
        self.assertEqual('CREATE_FAILED', stack.stack_status)
        self.assertIn('overcloud-novacompute-1', stack.stack_status_reason)
        self.assertIn('Cannot place', stack.stack_status_reason)
        self.assertEqual([], list(self.conn.baremetal.allocations()))
        self.assertEqual('DELETE_COMPLETE', self.delete_stack(stack.id))
        self.assertEqual({}, self.heat_ports())
