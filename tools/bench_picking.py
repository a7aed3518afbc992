#!/usr/bin/env python3
"""Measure the node picker: planning time and Ironic requests to reserve.

Planning is pure Python on fake node dicts: a 1000-node pool (profiles,
traits, some nodes in maintenance or active) and 500 instances of four
roles (one with pinned nodes), plus the TripleO "predictable placement"
shape where every instance asks for its own ``node:<name>`` capability.
The best of ``--repeat`` runs is shown.

Requests are counted by reserving the same request against a counting
fake of the baremetal API (allocations finish at the next listing), and,
with ``--real``, against a real Ironic (fake hardware, PostgreSQL)
started on 127.0.0.1, counting the requests in Ironic's access log. The
target is one node listing plus about one or two requests per instance.

    python tools/bench_picking.py [--repeat N] [--real [--real-nodes N]]
"""

import argparse
import collections
import contextlib
import logging
import random
import shutil
import tempfile
import threading
import time

from tripleo_baremetal import model
from tripleo_baremetal.picking import node_filters
from tripleo_baremetal.picking import placement
from tripleo_baremetal.picking import reservation

NODES = 1000
INSTANCES = 500
PROFILES = ['control'] * 2 + ['compute'] * 14 + ['storage'] * 4
TRAITS = ['CUSTOM_GPU', 'CUSTOM_NVME', 'CUSTOM_SRIOV', 'CUSTOM_DPDK']


def node_specs(count, seed=1):
    """Node specs (name, profile, traits, state) of the benchmark pool."""
    rnd = random.Random(seed)
    specs = []
    for index in range(count):
        specs.append({
            'name': 'node-%d' % index,
            'capabilities': {'profile': PROFILES[index % len(PROFILES)]},
            'traits': sorted(rnd.sample(TRAITS, rnd.choice([0, 0, 0, 1, 2]))),
            'maintenance': index % 97 == 5,
            'active': index % 89 == 7,
        })
    return specs


def fake_node(spec):
    caps = ','.join('%s:%s' % item for item in
                    sorted(dict(spec['capabilities'],
                                boot_option='local').items()))
    return {'uuid': 'uuid-%s' % spec['name'], 'name': spec['name'],
            'provision_state': 'active' if spec['active'] else 'available',
            'power_state': 'power off', 'maintenance': spec['maintenance'],
            'maintenance_reason': 'bench' if spec['maintenance'] else None,
            'instance_uuid': 'x' if spec['active'] else None,
            'allocation_uuid': None, 'resource_class': 'baremetal',
            'traits': spec['traits'], 'conductor_group': '',
            'properties': {'capabilities': caps}}


def instance(hostname, role, profile, **fields):
    """A ``model.Instance`` of ``role`` asking for ``profile`` (or none)."""
    fields.setdefault('capabilities',
                      {'profile': profile} if profile else {})
    return model.Instance(hostname=hostname, role=role, **fields)


def instances(count, node_count):
    """Controllers, computes (no GPU), GPU computes, storage, pinned."""
    result = [instance('controller-%d' % i, 'Controller', 'control')
              for i in range(max(3, count * 6 // 100))]
    result += [instance('gpu-compute-%d' % i, 'GpuCompute', 'compute',
                        traits=['CUSTOM_GPU']) for i in range(count // 25)]
    result += [instance('storage-%d' % i, 'CephStorage', 'storage')
               for i in range(count * 16 // 100)]
    # Pinned to nodes of the last 1% of the pool (any profile).
    pins = range(node_count - node_count // 100, node_count)
    result += [instance('pinned-%d' % i, 'Pinned', None,
                        name='node-%d' % pin)
               for i, pin in enumerate(p for p in pins
                                       if p % 97 != 5 and p % 89 != 7)]
    result += [instance('compute-%d' % i, 'Compute', 'compute',
                        forbidden_traits=['CUSTOM_GPU'])
               for i in range(count - len(result))]
    return result


def predictable(count, node_count):
    """Every instance asks for ``node:<its node>`` (TripleO's old way)."""
    specs = node_specs(node_count)
    for spec in specs:
        spec['capabilities']['node'] = 'host-%s' % spec['name']
        spec['maintenance'] = spec['active'] = False
    wanted = [instance('host-%d' % i, 'Compute', None,
                       capabilities={'node': 'host-node-%d' % (i * 2)})
              for i in range(count)]
    return [node_filters.node_view(fake_node(s)) for s in specs], wanted


def best_time(func, repeat):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


class CountingBaremetal(object):
    """A fake baremetal proxy that counts requests like Ironic would."""

    def __init__(self, nodes):
        self.nodes_by_id = {node['uuid']: dict(node) for node in nodes}
        self.allocs = collections.OrderedDict()
        self.counts = collections.Counter()
        self.lock = threading.Lock()

    def nodes(self, **query):
        self.counts['GET /v1/nodes'] += 1
        return [dict(node) for node in self.nodes_by_id.values()]

    def allocations(self, **query):
        with self.lock:
            self.counts['GET /v1/allocations'] += 1
            for alloc in self.allocs.values():
                if alloc.state == 'allocating':
                    node = self.nodes_by_id[alloc.candidate]
                    if node['instance_uuid']:
                        alloc.state = 'error'
                        alloc.last_error = 'all nodes were filtered out'
                    else:
                        alloc.state, alloc.node_id = 'active', node['uuid']
                        node['instance_uuid'] = alloc.id
            return [_Alloc(**vars(a)) for a in self.allocs.values()]

    def create_allocation(self, name, resource_class, traits,
                          candidate_nodes):
        with self.lock:
            self.counts['POST /v1/allocations'] += 1
            alloc = _Alloc(id='alloc-%d' % len(self.allocs), name=name,
                           state='allocating', candidate=candidate_nodes[0])
            self.allocs[alloc.id] = alloc
            return _Alloc(**vars(alloc))

    def delete_allocation(self, ident, ignore_missing=True):
        with self.lock:
            self.counts['DELETE /v1/allocations/*'] += 1
            self.allocs.pop(ident, None)


class _Alloc(object):

    def __init__(self, id, name, state, candidate, node_id=None,
                 last_error=None):
        self.id, self.name, self.state = id, name, state
        self.candidate, self.node_id = candidate, node_id
        self.last_error = last_error


def print_counts(title, counts, instance_count):
    total = sum(counts.values())
    print(title)
    for key in sorted(counts):
        print('  %-34s %5d  (%.3f per instance)'
              % (key, counts[key], counts[key] / instance_count))
    print('  %-34s %5d  (%.3f per instance; target 1 node listing + '
          '1-2 per instance)' % ('total', total, total / instance_count))


def bench_planning(repeat):
    specs = node_specs(NODES)
    nodes = [node_filters.node_view(fake_node(spec)) for spec in specs]
    wanted = instances(INSTANCES, NODES)
    elapsed, result = best_time(lambda: placement.plan(wanted, nodes),
                                repeat)
    roles = collections.Counter(inst.role for inst in wanted)
    print('Planning %d instances (%s) on %d nodes: %.1f ms, complete: %s'
          % (len(wanted), ', '.join('%d %s' % (n, r) for r, n in
                                    sorted(roles.items())),
             len(nodes), elapsed * 1000, result['complete']))
    p_nodes, p_wanted = predictable(INSTANCES, NODES)
    elapsed, result = best_time(lambda: placement.plan(p_wanted, p_nodes),
                                repeat)
    print('Planning %d instances with their own node:<name> capability '
          'on %d nodes: %.1f ms, complete: %s'
          % (len(p_wanted), len(p_nodes), elapsed * 1000,
             result['complete']))
    short = wanted + [instance('extra-controller-%d' % i, 'Controller',
                               'control') for i in range(100)]
    elapsed, result = best_time(lambda: placement.plan(short, nodes),
                                repeat)
    print('Planning an impossible request (%d instances, %d too many '
          'controllers): %.1f ms, report of %d lines / %d characters'
          % (len(short), len(result['unplaced']), elapsed * 1000,
             result['report'].count('\n') + 1, len(result['report'])))
    return specs, wanted


def bench_fake_requests(specs, wanted):
    baremetal = CountingBaremetal([fake_node(spec) for spec in specs])
    conn = type('Conn', (), {'baremetal': baremetal})()
    start = time.perf_counter()
    result = reservation.pick_nodes(conn, wanted, concurrency=20,
                                    timeout=60)
    elapsed = time.perf_counter() - start
    print_counts('Reserving %d instances against a counting fake '
                 '(%.2f s, polls of 0.2 s included):'
                 % (len(result['reservations']), elapsed),
                 baremetal.counts, len(wanted))


@contextlib.contextmanager
def real_ironic(node_count):
    from localcloud import ironic
    from localcloud import nodes as local_nodes
    from localcloud import postgres

    work_dir = tempfile.mkdtemp(prefix='bench-picking-')
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work_dir, ignore_errors=True)
        cluster = postgres.PostgresCluster(work_dir)
        stack.callback(cluster.stop)
        cluster.start()
        service = ironic.IronicService(work_dir,
                                       cluster.create_database('ironic'))
        stack.callback(service.stop)
        service.start()
        conn = service.connection()
        start = time.perf_counter()
        specs = node_specs(node_count)
        created = local_nodes.enrol_nodes(conn, [
            {'name': s['name'], 'capabilities': s['capabilities'],
             'traits': s['traits']} for s in specs],
            timeout=max(600, node_count))
        by_name = {node.name: node for node in created}
        for spec in specs:
            if spec['maintenance']:
                conn.baremetal.set_node_maintenance(by_name[spec['name']],
                                                    reason='bench')
        print('Enrolled %d nodes in %.0f s'
              % (node_count, time.perf_counter() - start))
        yield service, conn


def bench_real_requests(node_count, instance_count):
    with real_ironic(node_count) as (service, conn):
        wanted = instances(instance_count, node_count)
        service.reset_request_counts()
        start = time.perf_counter()
        result = reservation.pick_nodes(conn, wanted, concurrency=20,
                                        timeout=600)
        elapsed = time.perf_counter() - start
        counts = service.request_counts(by_path=True)
        print_counts('Reserving %d instances on a real Ironic with %d '
                     'nodes (%.2f s):' % (len(result['reservations']),
                                          node_count, elapsed),
                     counts, len(wanted))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--real', action='store_true',
                        help='also reserve on a real Ironic (PostgreSQL '
                             'and Ironic started on 127.0.0.1)')
    parser.add_argument('--real-nodes', type=int, default=NODES)
    parser.add_argument('--real-instances', type=int, default=None,
                        help='default: half the nodes')
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    specs, wanted = bench_planning(args.repeat)
    bench_fake_requests(specs, wanted)
    if args.real:
        bench_real_requests(args.real_nodes,
                            args.real_instances or args.real_nodes // 2)


if __name__ == '__main__':
    main()
