"""PickNodes and ReleaseNodes at the HTTP level."""

import threading

from tests.unit import http_base as base
from tests.unit.http_base import ironic
from tripleo_baremetal import actions


class FakeAllocations(object):
    """Ironic's allocations: created ``allocating``, listed ``active``.

    As with a real conductor, an allocation is processed a moment after
    its creation: the POST answers ``allocating``, the next listing shows
    it ``active`` on its (single) candidate node.
    """

    def __init__(self):
        self.created = {}
        self.lock = threading.Lock()

    def create(self, request, context):
        """``POST /v1/allocations``."""
        body = request.json()
        alloc = base.allocation('alloc-%s' % body['name'], body['name'],
                                state='allocating',
                                candidate_nodes=body['candidate_nodes'],
                                traits=body.get('traits', []))
        with self.lock:
            self.created[alloc['uuid']] = alloc
        context.status_code = 201
        return alloc

    def listing(self, request, context):
        """``GET /v1/allocations``: every allocation, processed."""
        with self.lock:
            return {'allocations': [
                dict(alloc, state='active',
                     node_uuid=alloc['candidate_nodes'][0])
                for alloc in self.created.values()]}


class PickNodesTest(base.HttpTestCase):

    def setUp(self):
        super().setUp()
        self.allocations = FakeAllocations()
        self.register('GET', 'allocations', self.allocations.listing)
        self.register('POST', 'allocations', self.allocations.create)
        self.register_nodes([base.node('node-%d' % index, 'n%d' % index)
                             for index in range(5)])

    def test_three_instances_on_five_nodes(self):
        # reservation.py: "Requests: one allocation listing (to find
        # hostnames that already have an allocation), one node listing,
        # one allocation creation per instance, and one allocation
        # listing per poll (a poll per ``concurrency`` instances or so)".
        hosts = ['compute-%d' % index for index in range(3)]

        result = self.run_action(actions.PickNodes(
            [base.instance(host) for host in hosts]))

        self.assertEqual(hosts, [item['hostname']
                                 for item in result['reservations']])
        self.assertEqual(3, len({item['node']
                                 for item in result['reservations']}))
        # What deploy_node need not read again (reservation.py: "What the
        # node listing said of each node this run reserved").
        first = result['reservations'][0]
        self.assertEqual(
            {'uuid': first['node'], 'allocation_uuid': first['allocation'],
             'provision_state': 'available', 'maintenance': False},
            {key: first['node_snapshot'][key] for key in (
                'uuid', 'allocation_uuid', 'provision_state',
                'maintenance')})
        self.assertIsNone(first['nics'])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields('name',
                                                            'state')),
            ironic('GET', 'nodes', fields=base.Fields(
                'uuid', 'provision_state', 'resource_class', 'traits',
                'properties')),
            base.in_any_order(*[ironic('POST', 'allocations')] * 3),
            # The confirmation: one poll for all three.
            ironic('GET', 'allocations', fields=base.Fields('state')),
        ])
        bodies = sorted((request.json() for request in self.requests_to(
            'POST', 'allocations')), key=lambda body: body['name'])
        self.assertEqual(hosts, [body['name'] for body in bodies])
        for body in bodies:
            self.assertEqual(1, len(body['candidate_nodes']))
            self.assertEqual('baremetal', body['resource_class'])

    def test_dry_run_reads_twice_and_writes_nothing(self):
        result = self.run_action(actions.PickNodes(
            [base.instance('compute-0')], dry_run=True))

        self.assertEqual([], result['reservations'])
        self.assertEqual(['compute-0'], list(result['plan']))
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields('name')),
            ironic('GET', 'nodes', fields=base.Fields('uuid')),
        ])

    def test_window_of_two_costs_a_poll_per_window(self):
        # reservation.py: at most ``concurrency`` allocations in flight,
        # "a sliding window refilled after each poll".
        hosts = ['compute-%d' % index for index in range(4)]

        result = self.run_action(actions.PickNodes(
            [base.instance(host) for host in hosts], concurrency=2))

        self.assertEqual(4, len(result['reservations']))
        create = ironic('POST', 'allocations')
        poll = ironic('GET', 'allocations', fields=base.Fields('state'))
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields('name')),
            ironic('GET', 'nodes', fields=base.Fields('uuid')),
            base.in_any_order(create, create), poll,
            base.in_any_order(create, create), poll,
        ])


class ReleaseNodesTest(base.HttpTestCase):

    def test_releases_what_did_not_start_and_leaves_the_rest(self):
        # reservation.release_nodes: one node listing; an available node
        # loses its allocation "and any instance_info a half-done deploy
        # set"; a node whose deploy did start is left alone.
        self.register_nodes([
            base.node('node-0', 'n0', allocation='alloc-0',
                      instance_info={'display_name': 'compute-0'}),
            base.node('node-1', 'n1', allocation='alloc-1'),
            base.node('node-2', 'n2', 'deploying', allocation='alloc-2',
                      instance_info={'display_name': 'compute-2'}),
        ])
        self.register('PATCH', 'nodes/node-0', base.node('node-0', 'n0'))
        for index in range(2):
            self.register('DELETE', 'allocations/alloc-%d' % index,
                          status=204)

        result = self.run_action(actions.ReleaseNodes([
            {'hostname': 'compute-%d' % index, 'node': 'node-%d' % index,
             'allocation': 'alloc-%d' % index} for index in range(3)]))

        self.assertEqual({'released': ['compute-0', 'compute-1'],
                          'left': ['compute-2']}, result)
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes', fields=base.Fields(
                'uuid', 'provision_state', 'instance_info')),
            # A thread per reservation: node-0's PATCH precedes its
            # DELETE, the other DELETE comes whenever.
            base.in_any_order(ironic('PATCH', 'nodes/node-0'),
                              ironic('DELETE', 'allocations/alloc-0'),
                              ironic('DELETE', 'allocations/alloc-1')),
        ])
        self.assertEqual(
            [{'op': 'replace', 'path': '/instance_info', 'value': {}}],
            self.requests_to('PATCH', 'nodes/node-0')[0].json())

    def test_gone_allocations_are_fine(self):
        # "Gone allocations are fine": a 404 on DELETE is success.
        self.register_nodes([])
        self.register('DELETE', 'allocations/compute-0', status=404,
                      json=base.ironic_error('Allocation compute-0 could '
                                             'not be found.', 404))

        result = self.run_action(actions.ReleaseNodes([
            {'hostname': 'compute-0'}]))

        self.assertEqual({'released': ['compute-0'], 'left': []}, result)
        self.assert_calls(base.ironic_discovery() + [
            ironic('DELETE', 'allocations/compute-0'),
        ])
