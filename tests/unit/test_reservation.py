"""Reserving planned nodes against a small fake Ironic."""

import collections
import threading
import time
import unittest
from unittest import mock

from openstack import exceptions as sdk_exc

from tests.unit import listing_fakes
from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.picking import reservation


class Boom(Exception):
    """An unexpected failure (a bug, an interrupt) in the middle."""


class FakeAllocation(object):

    def __init__(self, **fields):
        self.id = fields.pop('id')
        self.name = fields.pop('name', None)
        self.state = fields.pop('state', 'allocating')
        self.last_error = fields.pop('last_error', None)
        self.node_id = fields.pop('node_id', None)
        self.resource_class = fields.pop('resource_class', None)
        self.traits = fields.pop('traits', [])
        self.candidate_nodes = fields.pop('candidate_nodes', [])

    def copy(self):
        return FakeAllocation(**dict(vars(self)))


class FakeBaremetal(object):
    """Just enough of the baremetal proxy, with Ironic's allocation rules.

    Allocations stay ``allocating`` until the next allocation listing
    (Ironic's conductor works asynchronously); ``before_process`` lets a
    test act in between, e.g. let another client take a node: it runs
    once, at the first listing that finds allocations to process.
    """

    def __init__(self, nodes):
        self.nodes_by_id = {node['uuid']: dict(node) for node in nodes}
        self.allocs = collections.OrderedDict()
        self.calls = collections.Counter()
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.create_delay = 0
        self.before_process = None
        self.fail_create = {}
        self.stuck = False
        self.stuck_ids = set()
        self.serial = 0

    @staticmethod
    def _busy(error):
        return getattr(error, 'status_code', None) == 503

    # Nodes
    def listed(self):
        """The nodes a listing shows (Ironic's JSON)."""
        return [dict(node) for node in self.nodes_by_id.values()]

    default_microversion = listing_fakes.MICROVERSION

    def get(self, path, params=None, microversion=None):
        """A listing as ``listing`` reads it: Ironic's JSON."""
        fields = listing_fakes.fields(params)
        if path == '/nodes':
            with self.lock:
                self.calls['nodes'] += 1
                assert 'instance_uuid' in fields and 'uuid' in fields
                return listing_fakes.answer('nodes', self.listed())
        assert path == '/allocations', path
        return listing_fakes.answer('allocations',
                                    self.allocations(fields=fields))

    # Allocations
    def allocations(self, fields=None, **filters):
        pending = any(a.state == 'allocating' for a in self.allocs.values())
        if pending and self.before_process is not None:
            hook, self.before_process = self.before_process, None
            hook(self)
        with self.lock:
            self.calls['allocations'] += 1
            if not self.stuck:
                for alloc in self.allocs.values():
                    if (alloc.state == 'allocating'
                            and alloc.id not in self.stuck_ids):
                        self._process(alloc)
            return [alloc.copy() for alloc in self.allocs.values()]

    def _process(self, alloc):
        node = self.nodes_by_id.get(alloc.candidate_nodes[0])
        if (node is None or node['allocation_uuid']
                or node['provision_state'] != 'available'
                or node['maintenance'] or not node['power_state']
                or node['resource_class'] != alloc.resource_class
                or not set(alloc.traits) <= set(node['traits'])):
            alloc.state = 'error'
            alloc.last_error = 'all nodes were filtered out during ' \
                               'reservation'
            return
        alloc.state = 'active'
        alloc.node_id = node['uuid']
        node['allocation_uuid'] = node['instance_uuid'] = alloc.id

    def create_allocation(self, name=None, resource_class=None, traits=None,
                          candidate_nodes=None):
        with self.lock:
            self.calls['create_allocation'] += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.create_delay)
            with self.lock:
                self.max_allocating = max(
                    getattr(self, 'max_allocating', 0),
                    1 + sum(1 for a in self.allocs.values()
                            if a.state == 'allocating'))
                error = self.fail_create.get(name)
                if isinstance(error, list):
                    error = error.pop(0) if error else None
                if error is not None and not self._busy(error):
                    raise error
                if any(a.name == name for a in self.allocs.values()):
                    raise sdk_exc.ConflictException(
                        'allocation %s already exists' % name)
                self.serial += 1
                alloc = FakeAllocation(
                    id='alloc-%d' % self.serial, name=name,
                    resource_class=resource_class, traits=traits or [],
                    candidate_nodes=list(candidate_nodes))
                self.allocs[alloc.id] = alloc
                if error is not None:
                    # Like Ironic: stored, then no worker to process it.
                    self.stuck_ids.add(alloc.id)
                    raise error
                return alloc.copy()
        finally:
            with self.lock:
                self.active -= 1

    def _find(self, ident):
        if ident in self.allocs:
            return self.allocs[ident]
        for alloc in self.allocs.values():
            if alloc.name == ident:
                return alloc
        return None

    def get_allocation(self, ident, fields=None):
        with self.lock:
            self.calls['get_allocation'] += 1
            alloc = self._find(ident)
            if alloc is None:
                raise sdk_exc.NotFoundException('no allocation %s' % ident)
            return alloc.copy()

    def delete_allocation(self, ident, ignore_missing=True):
        with self.lock:
            self.calls['delete_allocation'] += 1
            alloc = self._find(ident)
            if alloc is None:
                if not ignore_missing:
                    raise sdk_exc.NotFoundException('gone')
                return None
            node = self.nodes_by_id.get(alloc.node_id)
            if node is not None:
                if node['provision_state'] == 'active':
                    raise sdk_exc.ConflictException('node is active')
                node['allocation_uuid'] = node['instance_uuid'] = None
            del self.allocs[alloc.id]
            return alloc

    # Helpers for tests
    def take(self, node_name, by='other-client'):
        """Another client reserves a node (as a finished allocation)."""
        node = next(n for n in self.nodes_by_id.values()
                    if n['name'] == node_name)
        self.serial += 1
        alloc = FakeAllocation(id='foreign-%d' % self.serial, name=by,
                               state='active', node_id=node['uuid'],
                               candidate_nodes=[node['uuid']])
        self.allocs[alloc.id] = alloc
        node['allocation_uuid'] = node['instance_uuid'] = alloc.id

    def reserved(self):
        """``{allocation name: node name}`` of active allocations."""
        return {a.name: self.nodes_by_id[a.node_id]['name']
                for a in self.allocs.values() if a.state == 'active'}

    def writes(self):
        return (self.calls['create_allocation']
                + self.calls['delete_allocation'])


def make_node(name, profile='compute', traits=(), **fields):
    node = {'uuid': 'uuid-%s' % name, 'name': name,
            'provision_state': 'available', 'power_state': 'power off',
            'maintenance': False, 'maintenance_reason': None,
            'instance_uuid': None, 'allocation_uuid': None,
            'resource_class': 'baremetal', 'traits': list(traits),
            'properties': {'capabilities': 'profile:%s' % profile},
            'conductor_group': ''}
    node.update(fields)
    return node


def inst(hostname, profile='compute', role='Compute', **fields):
    instance = {'hostname': hostname, 'role': role, 'provisioned': True,
                'managed': True, 'resource_class': 'baremetal',
                'capabilities': {'profile': profile}, 'traits': [],
                'forbidden_traits': [], 'name': None,
                'conductor_group': None}
    instance.update(fields)
    return model.Instance.from_dict(instance)


class PickNodesTest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(reservation, 'POLL_INTERVAL', 0.001)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.nodes = ([make_node('ctl-node-%d' % i, profile='control')
                       for i in range(3)]
                      + [make_node('cmp-node-%d' % i) for i in range(6)])
        self.baremetal = FakeBaremetal(self.nodes)
        self.conn = mock.Mock(baremetal=self.baremetal)

    def pick(self, instances, **kwargs):
        kwargs.setdefault('timeout', 5)
        return reservation.pick_nodes(self.conn, instances, **kwargs)

    def request(self):
        return ([inst('controller-%d' % i, profile='control',
                      role='Controller') for i in range(3)]
                + [inst('compute-%d' % i) for i in range(4)])

    def test_reserves_the_plan(self):
        result = self.pick(self.request())
        expected = {'controller-0': 'ctl-node-0', 'controller-1':
                    'ctl-node-1', 'controller-2': 'ctl-node-2',
                    'compute-0': 'cmp-node-0', 'compute-1': 'cmp-node-1',
                    'compute-2': 'cmp-node-2', 'compute-3': 'cmp-node-3'}
        self.assertEqual(expected, result['plan'])
        self.assertEqual(expected, self.baremetal.reserved())
        self.assertEqual(
            model.Reservation(
                hostname='compute-0', node='uuid-cmp-node-0',
                node_name='cmp-node-0',
                allocation=self.baremetal._find('compute-0').id),
            result['reservations'][0])
        self.assertEqual(['compute-0', 'compute-1', 'compute-2', 'compute-3',
                          'controller-0', 'controller-1', 'controller-2'],
                         [r.hostname for r in result['reservations']])
        self.assertEqual([r.hostname for r in result['reservations']],
                         list(result['plan']))
        self.assertEqual([], result['existing'])
        self.assertEqual({}, result['existing_states'])
        self.assertIn('Placed 7 instances on 9 nodes', result['report'])

    def test_allocation_carries_resource_class_traits_and_one_candidate(self):
        self.baremetal.nodes_by_id['uuid-cmp-node-5']['traits'] = [
            'CUSTOM_GPU']
        self.pick([inst('gpu-0', traits=['CUSTOM_GPU'])])
        alloc = self.baremetal._find('gpu-0')
        self.assertEqual(('baremetal', ['CUSTOM_GPU'], ['uuid-cmp-node-5']),
                         (alloc.resource_class, alloc.traits,
                          alloc.candidate_nodes))

    def test_request_count(self):
        self.pick(self.request())
        calls = self.baremetal.calls
        self.assertEqual(1, calls['nodes'])
        self.assertEqual(7, calls['create_allocation'])
        # One listing for existing names, one poll.
        self.assertEqual(2, calls['allocations'])
        self.assertEqual(0, calls['delete_allocation'])

    def test_concurrency_is_bounded(self):
        self.baremetal.create_delay = 0.02
        self.pick(self.request(), concurrency=3)
        self.assertEqual(3, self.baremetal.max_active)

    def test_allocations_in_flight_are_bounded(self):
        # Each allocation holds a conductor worker until processed.
        self.pick(self.request(), concurrency=3)
        self.assertEqual(3, self.baremetal.max_allocating)
        self.assertEqual(7, len(self.baremetal.reserved()))
        # 7 instances in windows of 3: a poll per window.
        self.assertEqual(1 + 3, self.baremetal.calls['allocations'])

    def test_busy_conductor_is_waited_out(self):
        busy = sdk_exc.HttpException(
            'Requested action cannot be performed due to lack of free '
            'conductor workers.', http_status=503)
        self.baremetal.fail_create['compute-1'] = [busy, busy]
        with mock.patch.object(reservation, 'THROTTLE_DELAY', 0.001):
            result = self.pick([inst('compute-0'), inst('compute-1')])
        self.assertEqual({'compute-0': 'cmp-node-0',
                          'compute-1': 'cmp-node-1'}, result['plan'])
        self.assertEqual(result['plan'], self.baremetal.reserved())
        # The allocations Ironic kept despite the 503 were deleted; no
        # re-plan was needed.
        self.assertEqual(2, self.baremetal.calls['delete_allocation'])
        self.assertEqual(2, len(self.baremetal.allocs))
        self.assertEqual(1, self.baremetal.calls['nodes'])
        self.assertIn('no free conductor worker (HTTP 503) 2 time(s)',
                      result['report'])

    def test_busy_conductor_until_the_deadline(self):
        busy = sdk_exc.HttpException('busy', http_status=503)
        self.baremetal.fail_create['compute-1'] = [busy] * 1000
        with mock.patch.object(reservation, 'THROTTLE_DELAY', 0.01):
            with self.assertRaises(exceptions.ReservationError):
                self.pick([inst('compute-0'), inst('compute-1')],
                          timeout=0.1)
        self.assertEqual({}, dict(self.baremetal.allocs))

    def test_concurrency_one_is_serial(self):
        self.baremetal.create_delay = 0.005
        self.pick(self.request(), concurrency=1)
        self.assertEqual(1, self.baremetal.max_active)

    def test_skips_unprovisioned_and_unmanaged(self):
        result = self.pick([inst('compute-0'),
                            inst('compute-1', provisioned=False),
                            inst('compute-2', managed=False)])
        self.assertEqual(['compute-0'], list(result['plan']))

    def test_nothing_to_do(self):
        result = self.pick([inst('compute-0', provisioned=False)])
        self.assertEqual([], result['reservations'])
        self.assertEqual(0, sum(self.baremetal.calls.values()))

    def test_dry_run_writes_nothing(self):
        result = self.pick(self.request(), dry_run=True)
        self.assertEqual('ctl-node-0', result['plan']['controller-0'])
        self.assertEqual(7, len(result['plan']))
        self.assertEqual([], result['reservations'])
        self.assertEqual(0, self.baremetal.writes())
        self.assertEqual({}, self.baremetal.reserved())
        self.assertIn('controller-0 -> ctl-node-0', result['report'])

    def test_dry_run_impossible_plan_raises(self):
        with self.assertRaises(exceptions.PlacementError):
            self.pick([inst('c-%d' % i) for i in range(7)], dry_run=True)
        self.assertEqual(0, self.baremetal.writes())

    def test_impossible_plan_reserves_nothing(self):
        self.baremetal.nodes_by_id['uuid-ctl-node-2'].update(
            maintenance=True, maintenance_reason='disk failure')
        with self.assertRaises(exceptions.PlacementError) as ctx:
            self.pick(self.request())
        self.assertEqual(0, self.baremetal.writes())
        self.assertIn('controller-2: 2 of 9 nodes fit (ctl-node-0, '
                      'ctl-node-1), but other instances', str(ctx.exception))
        self.assertIn('1 in maintenance: ctl-node-2 (reason: disk failure)',
                      ctx.exception.report)
        self.assertIn('Controller needs 3, 2 eligible', ctx.exception.report)

    def test_invalid_input(self):
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            self.pick([inst('a', capabilities={'cpus': '>= lots'}),
                       inst('a')])
        self.assertIn('a: hostname requested twice', str(ctx.exception))
        self.assertIn('operator >= needs a number', str(ctx.exception))
        self.assertEqual(0, sum(self.baremetal.calls.values()))

    def test_lost_race_is_replanned(self):
        # Another client takes cmp-node-1 after our listing.
        self.baremetal.before_process = lambda fake: fake.take('cmp-node-1')
        result = self.pick([inst('compute-%d' % i) for i in range(4)])
        reserved = self.baremetal.reserved()
        self.assertEqual('cmp-node-1', reserved.pop('other-client'))
        self.assertEqual(result['plan'], reserved)
        self.assertEqual(4, len(set(reserved.values())))
        self.assertNotEqual('cmp-node-1', result['plan']['compute-1'])
        self.assertEqual(['compute-0', 'compute-1', 'compute-2',
                          'compute-3'],
                         sorted(r.hostname for r in result['reservations']))
        # The failed allocation was deleted, a fresh listing was made.
        self.assertEqual(1, self.baremetal.calls['delete_allocation'])
        self.assertEqual(2, self.baremetal.calls['nodes'])
        self.assertIn('Re-planned after refused reservations: all nodes '
                      'were filtered out during reservation: compute-1 on '
                      'cmp-node-1', result['report'])

    def test_lost_race_without_spare_cleans_up_everything(self):
        def take_two(fake):
            fake.take('cmp-node-1', by='x')
            fake.take('cmp-node-4', by='y')
        self.baremetal.before_process = take_two
        with self.assertRaises(exceptions.PlacementError) as ctx:
            self.pick([inst('compute-%d' % i) for i in range(5)])
        self.assertIn('Other clients took planned nodes', str(ctx.exception))
        self.assertIn('compute-1 on cmp-node-1', str(ctx.exception))
        self.assertEqual({'x': 'cmp-node-1', 'y': 'cmp-node-4'},
                         self.baremetal.reserved())
        self.assertEqual(['x', 'y'], sorted(
            alloc.name for alloc in self.baremetal.allocs.values()))

    def test_retries_are_bounded(self):
        # Every reservation of compute-0 fails: the node filter is stale
        # in a way planning cannot see.
        def refuse(fake):
            for alloc in fake.allocs.values():
                if alloc.name == 'compute-0' and alloc.state == 'allocating':
                    alloc.state = 'error'
                    alloc.last_error = 'no suitable nodes'
            fake.before_process = refuse
        self.baremetal.before_process = refuse
        with self.assertRaises(exceptions.ReservationError) as ctx:
            self.pick([inst('compute-0'), inst('compute-1')])
        self.assertIn('in 3 re-plan(s) in a row: no suitable nodes: '
                      'compute-0 on', str(ctx.exception))
        self.assertEqual({}, self.baremetal.reserved())
        self.assertEqual({}, dict(self.baremetal.allocs))
        # compute-1 was reserved at once: that first round made progress,
        # then 1 + 3 rounds without.
        self.assertEqual(1 + 4, self.baremetal.calls['nodes'])

    def test_replans_continue_while_they_make_progress(self):
        # Each round another client takes all our planned nodes but one:
        # five rounds, more than MAX_REPLANS, each reserving something.
        baremetal = FakeBaremetal([make_node('n%d' % i) for i in range(16)])
        self.conn.baremetal = baremetal

        def take_all_but_last(fake):
            mine = sorted((a.name, a.candidate_nodes[0])
                          for a in fake.allocs.values()
                          if a.state == 'allocating')
            for name, node_id in mine[:-1]:
                fake.take(fake.nodes_by_id[node_id]['name'], by='x' + name)
            if len(mine) > 1:
                fake.before_process = take_all_but_last
        baremetal.before_process = take_all_but_last
        result = self.pick([inst('c%d' % i) for i in range(5)])
        self.assertEqual(5, len(result['reservations']))
        self.assertEqual(5, baremetal.calls['nodes'])
        self.assertEqual(4, result['report'].count('Re-planned'))

    def test_timeout_cleans_up_everything(self):
        self.baremetal.stuck = True
        with self.assertRaises(exceptions.ReservationTimeout) as ctx:
            self.pick(self.request(), timeout=0.05)
        self.assertIn('did not process the allocations of compute-0, '
                      'compute-1', str(ctx.exception))
        self.assertIn('within 0.05s (allocation_timeout: none of those '
                      'waited for was processed in that time)',
                      str(ctx.exception))
        self.assertEqual({}, dict(self.baremetal.allocs))

    def test_a_long_run_that_progresses_is_not_cut_off(self):
        # One allocation at a time, each created in 0.1 s and processed
        # at the next poll: the run takes 0.7 s, longer than the timeout,
        # which is for a stall (1,000 allocations take minutes).
        self.baremetal.create_delay = 0.1
        started = time.monotonic()
        result = self.pick(self.request(), concurrency=1, timeout=0.3)
        self.assertGreater(time.monotonic() - started, 0.6)
        self.assertEqual(7, len(result['reservations']))

    def test_unexpected_error_cleans_up_everything(self):
        original = self.baremetal.allocations
        polls = []

        def broken(**kwargs):
            polls.append(1)
            if len(polls) > 1:
                raise Boom()
            return original(**kwargs)
        self.baremetal.allocations = broken
        with self.assertRaises(Boom):
            self.pick(self.request())
        self.assertEqual({}, dict(self.baremetal.allocs))
        self.assertEqual(7, self.baremetal.calls['delete_allocation'])

    def test_create_refused_is_replanned(self):
        self.baremetal.fail_create['compute-1'] = sdk_exc.BadRequestException(
            'Candidate node uuid-cmp-node-1 not found')
        calls = {'n': 0}
        original = self.baremetal.create_allocation

        def create(**kwargs):
            if kwargs['name'] == 'compute-1':
                calls['n'] += 1
                if calls['n'] > 1:
                    self.baremetal.fail_create.pop('compute-1', None)
            return original(**kwargs)
        self.baremetal.create_allocation = create
        result = self.pick([inst('compute-0'), inst('compute-1')])
        self.assertEqual(2, len(result['reservations']))
        self.assertIn('Candidate node uuid-cmp-node-1 not found: compute-1 '
                      'on cmp-node-1', result['report'])

    def test_server_error_on_create_deletes_by_name(self):
        error = sdk_exc.HttpException('boom', http_status=500)
        self.baremetal.fail_create['compute-0'] = error
        with mock.patch.object(reservation, 'MAX_REPLANS', 0):
            with self.assertRaises(exceptions.ReservationError):
                self.pick([inst('compute-0'), inst('compute-1')])
        self.assertEqual({}, dict(self.baremetal.allocs))

    def test_existing_allocation_is_not_duplicated(self):
        self.baremetal.take('cmp-node-0', by='compute-0')
        result = self.pick([inst('compute-0'), inst('compute-1')])
        self.assertEqual([model.Reservation(
            hostname='compute-0', node='uuid-cmp-node-0',
            node_name='cmp-node-0',
            allocation=self.baremetal._find('compute-0').id)],
            result['existing'])
        self.assertEqual({'compute-0': 'active'}, result['existing_states'])
        # Not created twice, and not dropped: it is reserved all the same.
        self.assertEqual({'compute-0': 'cmp-node-0',
                          'compute-1': 'cmp-node-1'}, result['plan'])
        self.assertEqual(['compute-0', 'compute-1'],
                         [r.hostname for r in result['reservations']])
        self.assertEqual(1, self.baremetal.calls['create_allocation'])

    def test_failed_allocation_of_earlier_run_is_replaced(self):
        self.baremetal.allocs['old'] = FakeAllocation(
            id='old', name='compute-0', state='error', last_error='x')
        result = self.pick([inst('compute-0')], dry_run=True)
        self.assertIn('Failed allocations to replace: compute-0',
                      result['report'])
        self.assertIn('old', self.baremetal.allocs)
        result = self.pick([inst('compute-0')])
        self.assertEqual(['compute-0'],
                         [r.hostname for r in result['reservations']])
        self.assertNotIn('old', self.baremetal.allocs)

    def test_name_taken_meanwhile_is_reserved_not_dropped(self):
        original = self.baremetal.create_allocation

        def create(**kwargs):
            if kwargs['name'] == 'compute-1':
                self.baremetal.take('cmp-node-5', by='compute-1')
            return original(**kwargs)
        self.baremetal.create_allocation = create
        result = self.pick([inst('compute-0'), inst('compute-1')])
        self.assertEqual([('compute-0', 'cmp-node-0'),
                          ('compute-1', 'cmp-node-5')],
                         [(r.hostname, r.node_name)
                          for r in result['reservations']])
        self.assertEqual([('compute-1', 'cmp-node-5')],
                         [(e.hostname, e.node_name)
                          for e in result['existing']])
        self.assertEqual(['compute-1'], list(result['existing_states']))
        # The other client's allocation is left alone.
        self.assertEqual('cmp-node-5', self.baremetal.reserved()['compute-1'])


class ReleaseNodesTest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.baremetal = FakeBaremetal([make_node('n1'), make_node('n2'),
                                        make_node('n3')])
        self.conn = mock.Mock(baremetal=self.baremetal)
        self.baremetal.take('n1', by='a')
        self.baremetal.take('n2', by='b')

    def test_release(self):
        reservations = [
            model.Reservation(hostname='a', node='uuid-n1',
                              allocation=self.baremetal._find('a').id),
            model.Reservation(hostname='b', node='uuid-n2'),
            model.Reservation(hostname='gone', node='uuid-n3',
                              allocation='no-such-allocation')]
        result = reservation.release_nodes(self.conn, reservations)
        self.assertEqual({'released': reservations, 'left': []}, result)
        self.assertEqual({}, dict(self.baremetal.allocs))
        self.assertEqual(1, self.baremetal.calls['nodes'])

    def test_deploying_node_is_left(self):
        self.baremetal.nodes_by_id['uuid-n1']['provision_state'] = 'deploying'
        left = model.Reservation(hostname='a', node='uuid-n1')
        released = model.Reservation(hostname='b', node='uuid-n2')
        result = reservation.release_nodes(self.conn, [left, released])
        self.assertEqual({'released': [released], 'left': [left]}, result)
        self.assertEqual(['a'], [alloc.name for alloc
                                 in self.baremetal.allocs.values()])

    def test_refused_release_is_reported_after_trying_all(self):
        # Listed as available, refused as active (it changed meanwhile).
        listed = self.baremetal.listed()
        self.baremetal.listed = lambda: listed
        self.baremetal.nodes_by_id['uuid-n1']['provision_state'] = 'active'
        with self.assertRaises(exceptions.ReservationError) as ctx:
            reservation.release_nodes(self.conn, [
                model.Reservation(hostname='a', node='uuid-n1'),
                model.Reservation(hostname='b', node='uuid-n2')])
        self.assertIn('Could not release 1 of 2 reservation(s): a: '
                      'allocation a: node is active', str(ctx.exception))
        self.assertEqual(['a'], [alloc.name for alloc
                                 in self.baremetal.allocs.values()])

    def test_empty(self):
        self.assertEqual({'released': [], 'left': []},
                         reservation.release_nodes(self.conn, []))
        self.assertEqual(0, self.baremetal.calls['nodes'])
