"""UndeployInstance at the HTTP level."""

from tests.unit import http_base as base
from tests.unit.http_base import ironic
from tripleo_baremetal import actions

DEPLOYED = base.node('node-0', 'n0', 'active', allocation='alloc-0',
                     instance_info={'display_name': 'compute-0'})
#: What Ironic's tear-down leaves: no allocation, no instance_info.
CLEANED = base.node('node-0', 'n0', 'available')


class UndeployInstanceTest(base.HttpTestCase):

    def setUp(self):
        super().setUp()
        self.register_allocations([base.allocation('alloc-0', 'compute-0',
                                                   'node-0')])
        self.register('PUT', 'nodes/node-0/states/provision', status=202)

    def undeploy(self, hostname='compute-0'):
        return self.run_action(actions.UndeployInstance(hostname=hostname,
                                                        timeout=30))

    def test_undeploy_is_two_listings_one_request_and_the_polls(self):
        # undeploy.py: "1. find: one allocation listing and one node
        # listing; 2. start: [...] request deleted (one request per
        # host); 3. wait, in bulk [...]; 4. release: [...] a request only
        # for what is left behind" (here nothing is).
        self.register_nodes([DEPLOYED],
                            [dict(DEPLOYED, provision_state='cleaning')],
                            [CLEANED])

        result = self.undeploy()

        self.assertEqual({'undeployed': [{
            'hostname': 'compute-0', 'node': 'node-0', 'node_name': 'n0',
            'provision_state': 'available'}], 'not_found': []}, result)
        poll = ironic('GET', 'nodes', fields=base.Fields('provision_state'))
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields('name',
                                                            'node_uuid')),
            ironic('GET', 'nodes', fields=base.Fields('instance_info')),
            ironic('PUT', 'nodes/node-0/states/provision'),
            poll, poll,
        ])
        self.assertEqual({'target': 'deleted'}, self.requests_to(
            'PUT', 'nodes/node-0/states/provision')[0].json())

    def test_leftovers_cost_one_request_each(self):
        # Step 4: the allocation and instance_info Ironic left behind are
        # deleted with one request each.
        self.register_nodes([DEPLOYED], [dict(
            CLEANED, allocation_uuid='alloc-0', instance_uuid='alloc-0',
            instance_info={'display_name': 'compute-0'})])
        self.register('DELETE', 'allocations/alloc-0', status=204)
        self.register('PATCH', 'nodes/node-0', CLEANED)

        self.undeploy()

        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields()),
            ironic('GET', 'nodes', fields=base.Fields()),
            ironic('PUT', 'nodes/node-0/states/provision'),
            ironic('GET', 'nodes', fields=base.Fields()),
            ironic('DELETE', 'allocations/alloc-0'),
            ironic('PATCH', 'nodes/node-0'),
        ])

    def test_unknown_host_reads_twice_and_writes_nothing(self):
        self.register_nodes([CLEANED])

        result = self.undeploy('compute-9')

        self.assertEqual({'undeployed': [], 'not_found': ['compute-9']},
                         result)
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields()),
            ironic('GET', 'nodes', fields=base.Fields()),
        ])
