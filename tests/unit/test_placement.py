"""Planning: maximum matching, preferences, determinism and the report."""

import dataclasses
import itertools
import random
import time
import unittest

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tripleo_baremetal import model
from tripleo_baremetal.picking import node_filters
from tripleo_baremetal.picking import placement


def node(name, profile='compute', rc='baremetal', traits=(),
         state='available', maintenance=None, power='power off',
         extra_caps='', allocation=None):
    caps = 'profile:%s,boot_option:local' % profile if profile else ''
    if extra_caps:
        caps += ',' + extra_caps
    return node_filters.node_view({
        'uuid': 'uuid-%s' % name, 'name': name, 'provision_state': state,
        'power_state': power, 'maintenance': maintenance is not None,
        'maintenance_reason': maintenance or None,
        'allocation_uuid': allocation, 'instance_uuid': allocation,
        'resource_class': rc, 'traits': list(traits),
        'properties': {'capabilities': caps}})


def inst(hostname, role='Compute', profile='compute', **fields):
    instance = {'hostname': hostname, 'role': role,
                'resource_class': 'baremetal',
                'capabilities': {'profile': profile} if profile else {},
                'traits': [], 'forbidden_traits': [], 'name': None,
                'conductor_group': None}
    instance.update(fields)
    return model.Instance.from_dict(instance)


def with_disk(view, local_gb):
    """``view`` with another ``local_gb`` (views are frozen)."""
    return dataclasses.replace(view, local_gb=local_gb)


def names(result):
    return {host: n.name for host, n in result['assignments'].items()}


class MatchingTest(unittest.TestCase):

    def test_pinned_instance_gets_its_node(self):
        # Greedy in hostname order would give a node-1 and leave b nothing.
        result = placement.plan(
            [inst('a'), inst('b', name='node-1')],
            [node('node-1'), node('node-2')])
        self.assertTrue(result['complete'])
        self.assertEqual({'a': 'node-2', 'b': 'node-1'}, names(result))

    def test_pinned_by_uuid(self):
        result = placement.plan([inst('b', name='uuid-node-2'), inst('a')],
                                [node('node-1'), node('node-2')])
        self.assertEqual({'a': 'node-1', 'b': 'node-2'}, names(result))

    def test_matching_across_roles(self):
        # Controllers fit only the control nodes, the generic role fits
        # everything: it must take what the controllers cannot use.
        nodes = [node('n1', profile='control'), node('n2', profile='control'),
                 node('n3', profile='compute')]
        instances = [inst('any-0', role='Any', profile=None),
                     inst('ctl-0', role='Controller', profile='control'),
                     inst('ctl-1', role='Controller', profile='control')]
        result = placement.plan(instances, nodes)
        self.assertTrue(result['complete'])
        self.assertEqual({'any-0': 'n3', 'ctl-0': 'n1', 'ctl-1': 'n2'},
                         names(result))

    def test_chain_needs_augmenting_paths(self):
        # x fits {1,2}, y fits {2,3}, z fits {3}: only x1 y2 z3 works.
        nodes = [node('n1', traits=['CUSTOM_X']),
                 node('n2', traits=['CUSTOM_X', 'CUSTOM_Y']),
                 node('n3', traits=['CUSTOM_Y', 'CUSTOM_Z'])]
        instances = [inst('x', traits=['CUSTOM_X']),
                     inst('y', traits=['CUSTOM_Y']),
                     inst('z', traits=['CUSTOM_Z'])]
        self.assertEqual({'x': 'n1', 'y': 'n2', 'z': 'n3'},
                         names(placement.plan(instances, nodes)))

    def test_prefers_nodes_with_fewest_extras(self):
        nodes = [node('a-gpu', traits=['CUSTOM_GPU']), node('b-plain'),
                 node('c-special', extra_caps='node:compute-7')]
        result = placement.plan([inst('compute-0')], nodes)
        self.assertEqual({'compute-0': 'b-plain'}, names(result))
        result = placement.plan([inst('compute-0'), inst('compute-1')],
                                nodes)
        self.assertEqual({'compute-0': 'b-plain', 'compute-1': 'a-gpu'},
                         names(result))

    def test_scarce_node_left_for_the_instance_needing_it(self):
        nodes = [node('n1', traits=['CUSTOM_GPU']), node('n2')]
        result = placement.plan(
            [inst('a-plain'), inst('b-gpu', traits=['CUSTOM_GPU'])], nodes)
        self.assertEqual({'a-plain': 'n2', 'b-gpu': 'n1'}, names(result))

    def test_deterministic(self):
        rnd = random.Random(42)
        nodes = [node('node-%d' % i, traits=rnd.sample(
            ['CUSTOM_A', 'CUSTOM_B', 'CUSTOM_C'], rnd.randint(0, 2)))
            for i in range(60)]
        instances = ([inst('compute-%d' % i) for i in range(30)]
                     + [inst('a-%d' % i, traits=['CUSTOM_A'])
                        for i in range(10)])
        expected = names(placement.plan(instances, nodes))
        for _ in range(5):
            rnd.shuffle(nodes)
            rnd.shuffle(instances)
            self.assertEqual(expected,
                             names(placement.plan(instances, nodes)))

    def test_identical_nodes_taken_in_natural_name_order(self):
        nodes = [node('node-%d' % i) for i in (10, 9, 1, 2)]
        result = placement.plan([inst('c-%d' % i) for i in (2, 10, 1)],
                                nodes)
        self.assertEqual({'c-1': 'node-1', 'c-2': 'node-2',
                          'c-10': 'node-9'}, names(result))

    def test_salt_spreads_choices_but_keeps_preferences(self):
        nodes = [node('node-%d' % i) for i in range(50)]
        nodes.append(node('gpu', traits=['CUSTOM_GPU']))
        plain = names(placement.plan([inst('c-0')], nodes))
        salted = {names(placement.plan([inst('c-0')], nodes,
                                       salt=str(i)))['c-0']
                  for i in range(5)}
        self.assertEqual({'c-0': 'node-0'}, plain)
        self.assertGreater(len(salted), 1)
        self.assertNotIn('gpu', salted)
        self.assertEqual(
            names(placement.plan([inst('c-0')], nodes, salt='x')),
            names(placement.plan([inst('c-0')], nodes, salt='x')))

    def test_empty(self):
        result = placement.plan([], [node('n1')])
        self.assertTrue(result['complete'])
        self.assertEqual({}, result['assignments'])

    def test_large_plan_is_fast(self):
        rnd = random.Random(7)
        profiles = ['control'] * 3 + ['compute'] * 12 + ['storage'] * 5
        nodes = [node('node-%d' % i, profile=rnd.choice(profiles),
                      traits=rnd.sample(['CUSTOM_A', 'CUSTOM_B', 'CUSTOM_C',
                                         'CUSTOM_D'], rnd.randint(0, 2)))
                 for i in range(1000)]
        instances = (
            [inst('ctl-%d' % i, role='Controller', profile='control')
             for i in range(50)]
            + [inst('cmp-%d' % i) for i in range(350)]
            + [inst('st-%d' % i, role='Storage', profile='storage')
               for i in range(90)]
            + [inst('pin-%d' % i, role='Pinned', profile=None,
                    name='node-%d' % (900 + i)) for i in range(10)])
        start = time.monotonic()
        result = placement.plan(instances, nodes)
        elapsed = time.monotonic() - start
        self.assertTrue(result['complete'], result['report'])
        self.assertEqual(500, len({n.uuid for n in
                                   result['assignments'].values()}))
        self.assertLess(elapsed, 5.0)


def _eligible(instances, nodes):
    return {inst.hostname: [n.uuid for n in nodes
                            if node_filters.reject_reason(
                                node_filters.requirements(inst), n) is None]
            for inst in instances}


def _max_matching_size(eligible):
    """Plain Kuhn's algorithm, as an independent check."""
    owner = {}

    def try_assign(host, seen):
        for uuid in eligible[host]:
            if uuid in seen:
                continue
            seen.add(uuid)
            if uuid not in owner or try_assign(owner[uuid], seen):
                owner[uuid] = host
                return True
        return False

    return sum(1 for host in sorted(eligible) if try_assign(host, set()))


_TRAITS = ['CUSTOM_A', 'CUSTOM_B', 'CUSTOM_C']


@st.composite
def _problems(draw):
    nodes = [node('n%d' % i, profile=draw(st.sampled_from(['p', 'q'])),
                  traits=draw(st.lists(st.sampled_from(_TRAITS),
                                       unique=True, max_size=3)),
                  maintenance=draw(st.sampled_from([None, None, None, 'x'])),
                  rc=draw(st.sampled_from(['baremetal'] * 3 + ['other'])))
             for i in range(draw(st.integers(0, 7)))]
    instances = []
    for i in range(draw(st.integers(0, 6))):
        pinned = draw(st.sampled_from([None] * 4 + ['n0', 'n1', 'n9']))
        instances.append(inst(
            'i%d' % i, profile=draw(st.sampled_from(['p', 'q', None])),
            traits=draw(st.lists(st.sampled_from(_TRAITS), unique=True,
                                 max_size=2)),
            name=pinned,
            resource_class=draw(st.sampled_from(['baremetal'] * 4
                                                + ['other']))))
    return instances, nodes


class PropertyTest(unittest.TestCase):

    @settings(max_examples=150, deadline=None)
    @given(_problems())
    def test_plan_is_a_maximum_valid_matching(self, problem):
        instances, nodes = problem
        result = placement.plan(instances, nodes)
        eligible = _eligible(instances, nodes)
        chosen = [n.uuid for n in result['assignments'].values()]
        self.assertEqual(len(chosen), len(set(chosen)))
        for host, n in result['assignments'].items():
            self.assertIn(n.uuid, eligible[host])
        best = _max_matching_size(eligible)
        self.assertEqual(best, len(result['assignments']))
        self.assertEqual(best == len(instances), result['complete'])
        self.assertEqual(sorted(set(eligible) - set(result['assignments'])),
                         sorted(result['unplaced']))

    @settings(max_examples=80, deadline=None)
    @given(_problems())
    def test_complete_plans_have_minimal_extras(self, problem):
        instances, nodes = problem
        result = placement.plan(instances, nodes)
        if not result['complete'] or len(nodes) > 6:
            return
        by_uuid = {n.uuid: n for n in nodes}
        eligible = _eligible(instances, nodes)

        def cost(host, uuid):
            instance = next(i for i in instances if i.hostname == host)
            return node_filters.extra_count(
                node_filters.requirements(instance), by_uuid[uuid])

        hosts = sorted(eligible)
        best = min(
            sum(cost(h, u) for h, u in zip(hosts, perm))
            for perm in itertools.permutations(by_uuid, len(hosts))
            if all(u in eligible[h] for h, u in zip(hosts, perm)))
        got = sum(cost(h, n.uuid)
                  for h, n in result['assignments'].items())
        self.assertEqual(best, got)


class ReportTest(unittest.TestCase):

    def test_rejections_grouped_by_reason(self):
        nodes = ([node('node-%d' % i, rc='compute') for i in range(7)]
                 + [node('node-7', profile='control',
                         maintenance='disk failure'),
                    node('node-8', profile='control', maintenance='')]
                 + [node('node-%d' % i, profile='control', state='active')
                    for i in (9, 10)]
                 + [node('node-11', profile='compute')])
        result = placement.plan(
            [inst('controller-0', role='Controller', profile='control')],
            nodes)
        self.assertFalse(result['complete'])
        self.assertEqual(['controller-0'], result['unplaced'])
        report = result['report']
        self.assertIn('Cannot place 1 of 1 instance on 12 nodes:', report)
        self.assertIn(
            "- controller-0: 0 of 12 nodes fit: "
            "7 resource_class is 'compute' (want 'baremetal'): node-0, "
            "node-1, node-2, node-3, node-4, node-5, node-6; "
            "2 in maintenance: node-7 (reason: disk failure), node-8; "
            "2 provision state active: node-9, node-10; "
            "1 capability profile is 'compute' (want 'control'): node-11",
            report)
        self.assertIn('Capacity: Controller needs 1, 0 eligible', report)

    def test_disk_too_small_for_partition_image(self):
        nodes = [node('unknown'), with_disk(node('small'), 1)]
        image = {'href': 'http://x/p.qcow2', 'kernel': 'http://x/k',
                 'ramdisk': 'http://x/r'}
        result = placement.plan([inst('cmp-0', image=image)], nodes)
        self.assertFalse(result['complete'])
        self.assertEqual({}, result['assignments'])
        self.assertIn(
            '- cmp-0: 0 of 2 nodes fit: 2 local_gb too small for a partition '
            'image without root_size_gb (at least 2 needed): small '
            '(local_gb 1), unknown (no local_gb)', result['report'])
        result = placement.plan([inst('cmp-0', image=image)],
                                nodes + [with_disk(node('big'), 100)])
        self.assertEqual({'cmp-0': 'big'}, names(result))

    def test_root_size_larger_than_disk(self):
        nodes = [with_disk(node(name), size)
                 for name, size in (('n40', 40), ('n60', 60))]
        result = placement.plan(
            [inst('cmp-0', root_size_gb=50), inst('cmp-1', root_size_gb=50)],
            nodes)
        self.assertEqual({'cmp-0': 'n60'}, names(result))
        self.assertIn('local_gb smaller than root_size_gb 50: n40 '
                      '(local_gb 40)', result['report'])

    def test_at_most_ten_names_per_reason(self):
        nodes = [node('node-%d' % i, traits=['CUSTOM_X'])
                 for i in range(1000)]
        result = placement.plan([inst('gpu-0', traits=['CUSTOM_GPU'])],
                                nodes)
        report = result['report']
        self.assertIn(
            '0 of 1000 nodes fit: 1000 missing trait CUSTOM_GPU: node-0, '
            'node-1, node-2, node-3, node-4, node-5, node-6, node-7, '
            'node-8, node-9 and 990 more', report)
        self.assertLess(len(report), 600)

    def test_unplaced_instances_of_a_role_share_a_line(self):
        result = placement.plan([inst('c-%d' % i) for i in range(14)],
                                [node('n1', profile='control')])
        self.assertIn('- c-0, c-1, c-2, c-3, c-4, c-5, c-6, c-7, c-8, c-9 '
                      'and 4 more: 0 of 1 node fit: 1 capability profile '
                      "is 'control' (want 'compute'): n1", result['report'])

    def test_contention(self):
        nodes = [node('n1', profile='control'), node('n2', profile='control'),
                 node('n3', profile='compute')]
        instances = [inst('ctl-%d' % i, role='Controller', profile='control')
                     for i in range(3)]
        instances.append(inst('any-0', role='Any', profile=None))
        result = placement.plan(instances, nodes)
        report = result['report']
        self.assertEqual(['ctl-2'], result['unplaced'])
        self.assertIn(
            '- ctl-2: 2 of 3 nodes fit (n1, n2), but other instances of '
            'this request need them (see Contention): 1 capability profile '
            "is 'compute' (want 'control'): n3", report)
        self.assertIn('Contention: 3 instances (ctl-0, ctl-1, ctl-2) '
                      'compete for 2 nodes (n1, n2)', report)
        self.assertIn('Capacity: Any needs 1, 3 eligible; Controller needs '
                      '3, 2 eligible', report)

    def test_contention_across_roles(self):
        # Both roles fit only n1 and n2: three instances, two nodes.
        nodes = [node('n1', traits=['CUSTOM_A', 'CUSTOM_B']),
                 node('n2', traits=['CUSTOM_A', 'CUSTOM_B']), node('n3')]
        instances = [inst('a-0', role='A', traits=['CUSTOM_A']),
                     inst('a-1', role='A', traits=['CUSTOM_A']),
                     inst('b-0', role='B', traits=['CUSTOM_B'])]
        report = placement.plan(instances, nodes)['report']
        self.assertIn('Contention: 3 instances (a-0, a-1, b-0) compete for '
                      '2 nodes (n1, n2)', report)

    def test_two_instances_pinned_to_one_node(self):
        nodes = [node('n1'), node('n2')]
        result = placement.plan([inst('a', name='n1'), inst('b', name='n1')],
                                nodes)
        self.assertEqual(['b'], result['unplaced'])
        self.assertIn('- b (pinned to n1): 1 of 1 node fit (n1), but other '
                      'instances of this request need it', result['report'])
        self.assertIn('Contention: 2 instances (a, b) compete for 1 node '
                      '(n1)', result['report'])

    def test_pinned_node_missing(self):
        result = placement.plan([inst('a', name='ghost')], [node('n1')])
        self.assertIn("- a: pinned to node 'ghost', which is not among the "
                      "1 node listed", result['report'])

    def test_pinned_node_unfit(self):
        result = placement.plan(
            [inst('a', name='n1')],
            [node('n1', maintenance='bad fan'), node('n2')])
        self.assertIn('- a (pinned to n1): 0 of 1 node fit: 1 in '
                      'maintenance: n1 (reason: bad fan)', result['report'])
        self.assertNotIn('n2', result['report'].split('Capacity')[0])

    def test_power_state_hint(self):
        nodes = [node('n%d' % i, power=None) for i in range(3)]
        report = placement.plan([inst('c-0')], nodes)['report']
        self.assertIn('3 no power state yet: n0, n1, n2', report)
        self.assertIn(placement.POWER_STATE_HINT, report)

    def test_no_power_state_hint_otherwise(self):
        report = placement.plan([inst('c-0')],
                                [node('n1', rc='x')])['report']
        self.assertNotIn('power state', report)

    def test_success_report(self):
        result = placement.plan(
            [inst('ctl-0', role='Controller', profile='control'),
             inst('cmp-0')],
            [node('n1', profile='control'), node('n2'), node('n3')])
        self.assertEqual(
            'Placed 2 instances on 3 nodes:\n'
            '- cmp-0 -> n2 (2 of 3 nodes fit)\n'
            '- ctl-0 -> n1 (1 of 3 nodes fit)\n'
            'Capacity: Compute needs 1, 2 eligible; Controller needs 1, '
            '1 eligible', result['report'])
