"""Picking nodes against a real (fake-hardware) Ironic on PostgreSQL."""

import threading

from tests.functional import base
from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.picking import reservation

WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')


def inst(hostname, role, profile=None, **fields):
    instance = {'hostname': hostname, 'role': role, 'provisioned': True,
                'managed': True, 'resource_class': 'baremetal',
                'capabilities': {'profile': profile} if profile else {},
                'profile': profile, 'traits': [], 'forbidden_traits': [],
                'name': None, 'conductor_group': None}
    instance.update(fields)
    return model.Instance.from_dict(instance)


class PickingTest(base.IronicTestCase):

    def allocations(self):
        """``{allocation name: (state, node name)}`` as Ironic has them."""
        names = {node.id: node.name for node in self.conn.baremetal.nodes()}
        return {alloc.name: (alloc.state, names.get(alloc.node_id))
                for alloc in self.conn.baremetal.allocations()}

    def assert_reserved(self, result):
        """Ironic holds exactly the reservations of ``result``."""
        expected = {entry.hostname: ('active', entry.node_name)
                    for entry in result['reservations']}
        self.assertEqual(expected, self.allocations())
        by_uuid = {node.id: node
                   for node in self.conn.baremetal.nodes(details=True)}
        for entry in result['reservations']:
            self.assertEqual(entry.allocation,
                             by_uuid[entry.node].allocation_id)

    def test_mixed_plan(self):
        self.enrol_nodes(
            [{'name': 'ctl-%d' % i, 'capabilities': {'profile': 'control'}}
             for i in range(4)]
            + [{'name': 'cmp-%d' % i, 'capabilities': {'profile': 'compute'}}
               for i in range(4)]
            + [{'name': 'gpu-0', 'capabilities': {'profile': 'compute'},
                'traits': ['CUSTOM_GPU']},
               {'name': 'big-0', 'capabilities': {'profile': 'compute',
                                                  'disk': '500'}},
               {'name': 'other-0', 'resource_class': 'other',
                'capabilities': {'profile': 'compute'}}])
        instances = (
            [inst('controller-%d' % i, 'Controller', 'control')
             for i in range(3)]
            + [inst('compute-%d' % i, 'Compute', 'compute',
                    forbidden_traits=['CUSTOM_GPU']) for i in range(2)]
            + [inst('gpu-compute-0', 'GpuCompute', 'compute',
                    traits=['CUSTOM_GPU']),
               inst('big-compute-0', 'BigCompute',
                    capabilities={'profile': 'compute', 'disk': '>= 400'}),
               # Pinned to a node the other computes would pick first.
               inst('pinned-0', 'Pinned', name='cmp-0')])
        self.ironic.reset_request_counts()

        dry = reservation.pick_nodes(self.conn, instances, dry_run=True)
        self.assertEqual(0, sum(self.ironic.request_counts()[method]
                                for method in WRITES))
        self.assertEqual({}, self.allocations())

        self.ironic.reset_request_counts()
        result = reservation.pick_nodes(self.conn, instances, concurrency=4)
        counts = self.ironic.request_counts()
        self.assertEqual(dry['plan'], result['plan'])
        self.assertEqual({
            'controller-0': 'ctl-0', 'controller-1': 'ctl-1',
            'controller-2': 'ctl-2', 'compute-0': 'cmp-1',
            'compute-1': 'cmp-2', 'gpu-compute-0': 'gpu-0',
            'big-compute-0': 'big-0', 'pinned-0': 'cmp-0'}, result['plan'])
        self.assert_reserved(result)
        # One allocation listing and one node listing, one POST each,
        # polls: one listing each.
        self.assertEqual({'POST': 8}, {m: counts[m] for m in WRITES
                                       if counts[m]})
        self.assertLessEqual(counts['GET'], 2 + 6, counts)

        # The same hostnames again: reported as existing, nothing created,
        # and none dropped: they are among the reservations all the same.
        self.ironic.reset_request_counts()
        again = reservation.pick_nodes(self.conn, instances)
        self.assertEqual(0, self.ironic.request_counts().get('POST', 0))
        self.assertEqual(sorted(result['plan']),
                         sorted(r.hostname for r in again['reservations']))
        self.assertEqual(sorted(result['plan']),
                         sorted(e.hostname for e in again['existing']))

        reservation.release_nodes(self.conn, result['reservations'])
        self.assertEqual({}, self.allocations())

    def test_impossible_plan_reserves_nothing(self):
        nodes = self.enrol_nodes(
            [{'name': 'ctl-%d' % i, 'capabilities': {'profile': 'control'}}
             for i in range(3)]
            + [{'name': 'cmp-%d' % i, 'capabilities': {'profile': 'compute'}}
               for i in range(13)]
            + [{'name': 'other-0', 'resource_class': 'other',
                'capabilities': {'profile': 'control'}}])
        self.conn.baremetal.set_node_maintenance(nodes[2],
                                                 reason='disk failure')
        instances = ([inst('controller-%d' % i, 'Controller', 'control')
                      for i in range(3)]
                     + [inst('compute-%d' % i, 'Compute', 'compute')
                        for i in range(5)])
        self.ironic.reset_request_counts()
        with self.assertRaises(exceptions.PlacementError) as ctx:
            reservation.pick_nodes(self.conn, instances)
        counts = self.ironic.request_counts()
        # One allocation listing, one node listing, no write.
        self.assertEqual({'GET': 2}, dict(counts))
        self.assertEqual({}, self.allocations())
        message = str(ctx.exception)
        self.assertIn(
            'controller-2: 2 of 17 nodes fit (ctl-0, ctl-1), but other '
            'instances of this request need them (see Contention): '
            "13 capability profile is 'compute' (want 'control'): cmp-0, "
            'cmp-1, cmp-2, cmp-3, cmp-4, cmp-5, cmp-6, cmp-7, cmp-8, cmp-9 '
            "and 3 more; 1 in maintenance: ctl-2 (reason: disk failure); "
            "1 resource_class is 'other' (want 'baremetal'): other-0",
            message)
        self.assertIn('Contention: 3 instances (controller-0, controller-1, '
                      'controller-2) compete for 2 nodes (ctl-0, ctl-1)',
                      message)
        self.assertIn('Capacity: Compute needs 5, 13 eligible; Controller '
                      'needs 3, 2 eligible', message)
        self.assertEqual(message, ctx.exception.report)

    def test_racing_pickers_never_double_book(self):
        # 2 x 6 instances for 12 nodes: the pool just fits, and both
        # pickers plan the same nodes first (plans are deterministic).
        self.enrol_nodes([{'name': 'node-%d' % i,
                           'capabilities': {'profile': 'compute'}}
                          for i in range(12)])
        results, errors = {}, []
        start = threading.Barrier(2)

        def picker(prefix):
            conn = self.ironic.connection()
            instances = [inst('%s-%d' % (prefix, i), 'Compute', 'compute')
                         for i in range(6)]
            start.wait()
            try:
                results[prefix] = reservation.pick_nodes(
                    conn, instances, concurrency=6, timeout=120)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=picker, args=(prefix,))
                   for prefix in ('a', 'b')]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        self.assertEqual([], errors)
        allocations = self.allocations()
        self.assertEqual(12, len(allocations))
        self.assertTrue(all(state == 'active'
                            for state, _node in allocations.values()))
        self.assertEqual(12, len({node for _state, node
                                  in allocations.values()}))
        for prefix in ('a', 'b'):
            self.assertEqual(6, len(results[prefix]['reservations']))
            for entry in results[prefix]['reservations']:
                self.assertEqual(('active', entry.node_name),
                                 allocations[entry.hostname])
