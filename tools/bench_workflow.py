#!/usr/bin/env python3
"""Deploy N nodes three ways on one real Ironic and compare the costs.

Starts a private PostgreSQL, a fake-hardware Ironic and a Mistral (one
process, or with ``--rabbit`` separate API, engine and two executors over
a private RabbitMQ) on 127.0.0.1, enrols one pool per run (its own
resource class, so runs never share nodes), then for each ``--nodes`` N:

* ``metalsmith``: as tripleo-ansible's ``metalsmith_instances`` module
  drives it (reserve one by one, provision in a thread pool of
  ``concurrency``, each job waiting for its node), only for N up to
  ``--metalsmith-max`` (it is slow);
* ``workbook``: our ``deploy_roles`` workflow on the real Mistral;
* ``core``: the same steps in Python (``sequence``), timed per phase;
* ``rerun``: ``deploy_roles`` again on the deployed workbook run.

It prints Ironic requests per deployed node split by method (from
Ironic's access log), wall time, time in each phase, the time between the
last node reaching ``active`` and the end, and the ratios; then the
planning time of 2,000 instances on a 10,000-node pool (pure Python) and
the cost of listing a 1,000-node pool from the real Ironic. Numbers to
read, not to assert. metalsmith is a benchmark-only dependency
(``bench-requirements.txt``).

    nice -n 10 python tools/bench_workflow.py [--nodes 40 200] [--ports]
        [--rabbit] [--skip-metalsmith]
"""

import argparse
import collections
import datetime
import functools
import http.server
import os
import re
import resource
import shutil
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)
sys.path.insert(0, os.path.join(TOP, 'tools'))

from localcloud import ironic  # noqa: E402
from localcloud import mistral  # noqa: E402
from localcloud import nodes  # noqa: E402
from localcloud import postgres  # noqa: E402
from tripleo_baremetal import conf as baremetal_conf  # noqa: E402
from tripleo_baremetal.picking import placement  # noqa: E402
from tripleo_baremetal.picking import reservation  # noqa: E402
from tripleo_baremetal.provisioning import existing  # noqa: E402
from tripleo_baremetal.provisioning import sequence  # noqa: E402
from tripleo_baremetal.provisioning import wait  # noqa: E402
from tripleo_baremetal.request import roles  # noqa: E402
from tripleo_baremetal import workbooks  # noqa: E402

WB = 'tripleo.baremetal_deploy.v1.'
CHECKSUM = 'a' * 64
#: Its ``href`` is set by ``serve_image`` once the image server runs.
IMAGE = {'href': None, 'checksum': CHECKSUM}
WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')
CONCURRENCY = 20

#: Ironic's conductor log line of a node reaching a state.
_MOVED = re.compile(r'^(?P<ts>\S+ \S+) .*Node (?P<node>\S+) moved to '
                    r'provision state "(?P<state>[^"]+)"')
_STAMP = '%Y-%m-%d %H:%M:%S.%f'
#: Mistral's trace line of a task or workflow that succeeded.
_ENDED = re.compile(r"^(?P<ts>\S+ \S+) .* workflow_trace .*?"
                    r"(?P<kind>Task|Workflow) '(?P<name>[^']+)' "
                    r"(?:\(\S+\) )?"
                    r"\[RUNNING -> SUCCESS")


def serve_image(work):
    """Serve a small image file on 127.0.0.1, as the undercloud does.

    The conductor sends the image URL a HEAD request while it handles a
    provision request that does not say ``image_type``; an unreachable
    URL would make every such request wait for a connect timeout.

    :returns: the server (``shutdown()`` stops it) and the image's URL.
    """
    root = os.path.join(work, 'images')
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, 'overcloud-full.raw'), 'wb') as image:
        image.write(b'\0' * 4096)
    handler = functools.partial(_QuietHandler, directory=root)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, 'http://127.0.0.1:%d/overcloud-full.raw' % (
        server.server_address[1])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args):
        pass


def roles_file(tag, count):
    return [{'name': 'Compute', 'count': count,
             'hostname_format': '%s-%%index%%' % tag,
             'defaults': {'image': dict(IMAGE), 'resource_class': tag}}]


def port_maps(count, ports):
    if not ports:
        return {}
    return {'role_ctlplane_port_map': {
        'Compute': [nodes.ctlplane_port(i) for i in range(count)]}}


def enrol(conn, tag, count):
    """``count`` available nodes of resource class ``tag``."""
    start = time.monotonic()
    nodes.enrol_nodes(conn, [{'name': '%s-n%03d' % (tag, i),
                              'resource_class': tag}
                             for i in range(count)], timeout=900)
    return time.monotonic() - start


def classify(method, path):
    """The phase a request belongs to, from what it asks."""
    if path in ('/', '/v1', '/v1/'):
        return 'discovery'
    base = ironic.path_prefix(path)
    if '/allocations' in base and method == 'GET' and 'fields' not in path:
        return 'picking'
    if base == '/v1/nodes' and method == 'GET':
        if 'reservation' in path:
            return 'existing'
        if 'conductor_group' in path:
            return 'picking'
        return 'wait'
    if base == '/v1/allocations' or base == '/v1/allocations/*':
        return 'allocations'
    return 'deploy'


def phases(requests):
    """``(phase, request)`` of each request, in order.

    Allocation requests are ``existing``'s until the existence check's
    node listing, ``picking``'s after it (or when they write).
    """
    seen_existing = False
    for req in requests:
        phase = classify(req.method, req.path)
        if phase == 'allocations':
            phase = ('picking' if seen_existing or req.method != 'GET'
                     else 'existing')
        if phase == 'existing' and ironic.path_prefix(
                req.path) == '/v1/nodes':
            seen_existing = True
        yield phase, req


def split_allocations(requests):
    """Request counts by phase and method (``phases``)."""
    counts = collections.defaultdict(collections.Counter)
    for phase, req in phases(requests):
        counts[phase][req.method] += 1
    return counts


def last_active(service, node_prefix, since):
    """Wall-clock time of the last node of a pool reaching ``active``."""
    latest = None
    names = _node_ids(service, node_prefix)
    with open(service.log_file, errors='replace') as stream:
        for line in stream:
            match = _MOVED.search(line)
            if not match or match.group('state') != 'active' or \
                    match.group('node') not in names:
                continue
            stamp = datetime.datetime.strptime(match.group('ts'),
                                               _STAMP).timestamp()
            if stamp >= since and (latest is None or stamp > latest):
                latest = stamp
    return latest


def tail_steps(log_files, since, until):
    """``[(step, seconds after since)]``: what Mistral ended after ``since``.

    Read from Mistral's ``workflow_trace`` lines (the engine's log), for
    the end latency's breakdown: which step closed when after the last
    node reached ``active``.
    """
    steps = []
    for path in log_files:
        with open(path, errors='replace') as stream:
            for line in stream:
                match = _ENDED.search(line)
                if not match:
                    continue
                stamp = datetime.datetime.strptime(match.group('ts'),
                                                   _STAMP).timestamp()
                if since <= stamp <= until + 1:
                    steps.append((stamp - since, '%s %s' % (
                        match.group('kind').lower(),
                        match.group('name').rsplit('.', 1)[-1])))
    return [(name, offset) for offset, name in sorted(steps)]


def mistral_logs(mistral_service):
    """The log files holding the engine's trace lines."""
    if hasattr(mistral_service, 'components'):
        return [mistral_service.log_file('engine')]
    return [mistral_service.log_file]


def _node_ids(service, prefix):
    conn = service.connection()
    return {node.id for node in conn.baremetal.nodes(fields=['uuid', 'name'])
            if (node.name or '').startswith(prefix)}


def _cpu_of(pids):
    """CPU seconds (user + system) the live processes ``pids`` used."""
    tick = os.sysconf('SC_CLK_TCK')
    total = 0.0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as stream:
                fields = stream.read().rsplit(')', 1)[1].split()
        except OSError:
            continue        # exited since it was listed
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class CpuMeter:
    """CPU seconds each service (and this process) used during a run.

    The wall time of a path cannot go below the CPU time the one Ironic
    process needs for its requests (Python: one core at most), so the
    benchmark prints it next to the wall time.
    """

    def __init__(self, services):
        self.services = services    # {name: object with pids()}

    def snapshot(self):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result = {'bench': usage.ru_utime + usage.ru_stime}
        for name, service in self.services.items():
            result[name] = _cpu_of(service.pids())
        return result

    @staticmethod
    def since(before, after):
        return collections.OrderedDict(
            (name, after[name] - before.get(name, 0.0)) for name in after)


class Run:
    """One way of deploying N nodes, measured."""

    def __init__(self, name, count):
        self.name, self.count = name, count
        self.wall = None
        self.phases = collections.OrderedDict()
        self.requests = collections.Counter()
        self.by_phase = {}
        self.end_latency = None
        self.deployed = 0
        self.note = ''
        self.cpu = {}
        self.tail = []

    def per_node(self, method=None):
        if not self.deployed:
            return 0.0
        if method is None:
            return sum(self.requests.values()) / self.deployed
        return self.requests.get(method, 0) / self.deployed


def run_metalsmith(service, count, ports):
    """Deploy as tripleo-ansible's metalsmith_instances module does."""
    from concurrent import futures

    import metalsmith
    from metalsmith import instance_config
    from metalsmith import sources

    tag = 'ms%d' % count
    run = Run('metalsmith', count)
    if ports:
        run.note = 'no ports (metalsmith would create them in Neutron)'
    provisioner = metalsmith.Provisioner(
        cloud_region=service.connection().config)
    instances = [{'hostname': '%s-%d' % (tag, i), 'resource_class': tag,
                  'image': dict(IMAGE),
                  'ssh_public_keys': 'ssh-ed25519 AAAA bench'}
                 for i in range(count)]
    service.reset_request_counts()
    start = time.time()
    # reserve(): one by one.
    for inst in instances:
        node = provisioner.reserve_node(resource_class=inst['resource_class'])
        inst['name'] = node.id
    reserved = time.time()

    def provision(inst):
        image = sources.detect(image=inst['image']['href'],
                               checksum=inst['image']['checksum'])
        config = instance_config.CloudInitConfig(
            ssh_keys=[inst['ssh_public_keys']])
        node = provisioner.provision_node(inst['name'], config=config,
                                          hostname=inst['hostname'],
                                          image=image)
        # concurrency < len(instances) makes the module wait in each job.
        provisioner.wait_for_provisioning([node.uuid], timeout=3600)
        return node

    with futures.ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        done = list(pool.map(provision, instances))
    end = time.time()
    run.wall = end - start
    run.phases['picking'] = reserved - start
    run.phases['deploy+wait'] = end - reserved
    run.deployed = len(done)
    _count(run, service)
    active = last_active(service, tag + '-', start)
    run.end_latency = end - active if active else None
    return run


def _count(run, service):
    requests = service.requests()
    run.requests = collections.Counter(req.method for req in requests)
    run.by_phase = split_allocations(requests)


def run_workbook(service, mistral_client, count, ports, tag=None,
                 batch_size=1, logs=()):
    """``deploy_roles`` on the real Mistral; phases from Ironic's log."""
    tag = tag or 'wb%d' % count
    run = Run('workbook' if batch_size == 1 else 'wb-batch%d' % batch_size,
              count)
    inputs = dict(port_maps(count, ports), roles=roles_file(tag, count),
                  ssh_keys=['ssh-ed25519 AAAA bench'],
                  concurrency=CONCURRENCY, batch_size=batch_size)
    service.reset_request_counts()
    start = time.time()
    execution = mistral_client.executions.create(WB + 'deploy_roles',
                                                 workflow_input=inputs)
    execution = _wait_execution(mistral_client, execution.id, 1800)
    end = time.time()
    run.wall = end - start
    if execution.state != 'SUCCESS':
        raise SystemExit('deploy_roles failed: %s' % execution.state_info)
    output = mistral_client.executions.get(execution.id).output
    import json
    output = json.loads(output) if isinstance(output, str) else output
    run.deployed = len(output['new_instances']) or len(output['instances'])
    _count(run, service)
    run.phases = _phase_times(service.requests_with_times(), start, end)
    active = last_active(service, tag + '-', start)
    run.end_latency = end - active if active else None
    if active and logs:
        run.tail = tail_steps(logs, active, end)
    run.execution = execution.id
    return run


def _wait_execution(client, execution_id, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = client.executions.get(execution_id)
        if execution.state in ('SUCCESS', 'ERROR', 'CANCELLED'):
            return execution
        time.sleep(0.05)
    raise SystemExit('execution %s timed out' % execution_id)


def _phase_times(requests, start, end):
    """Seconds per phase, from the timestamps of Ironic's access log.

    A phase lasts from the previous phase's last request to its own last
    one; ``environment`` from the last request to the end.
    """
    last = collections.OrderedDict()
    stamps = [stamp for stamp, _req in requests]
    for stamp, (phase, _req) in zip(stamps, phases(
            req for _stamp, req in requests)):
        if phase != 'discovery':
            last[phase] = stamp
    result, previous = collections.OrderedDict(), start
    for phase in ('existing', 'picking', 'deploy', 'wait'):
        if phase in last:
            result[phase] = max(last[phase] - previous, 0.0)
            previous = max(previous, last[phase])
    result['environment'] = end - previous
    return result


def run_core(service, count, ports, conf):
    """The same steps as the workflow, in Python, timed per phase."""
    tag = 'core%d' % count
    run = Run('core', count)
    conn = service.connection()
    instances = roles.expand_roles(roles_file(tag, count),
                                   **port_maps(count, ports))['instances']
    service.reset_request_counts()
    start = time.time()
    found = existing.check_existing_instances(conn, instances, conf=conf)
    t1 = time.time()
    picked = reservation.pick_nodes(conn, found['not_found'],
                                    concurrency=CONCURRENCY, conf=conf)
    t2 = time.time()
    deploying, not_started = sequence.start_deploys(
        conn, picked['reservations'], found['not_found'],
        concurrency=CONCURRENCY, snapshots=picked['node_snapshots'],
        ssh_keys=['ssh-ed25519 AAAA bench'], conf=conf)
    t3 = time.time()
    result = wait.wait_for_deploy(conn, deploying, timeout=1800, conf=conf,
                                  not_started=not_started)
    end = time.time()
    run.wall = end - start
    run.phases.update([('existing', t1 - start), ('picking', t2 - t1),
                       ('deploy', t3 - t2), ('wait', end - t3)])
    run.deployed = len(result['instances'])
    _count(run, service)
    active = last_active(service, tag + '-', start)
    run.end_latency = end - active if active else None
    return run


def run_rerun(service, mistral_client, count, ports):
    """``deploy_roles`` again on what the workbook run deployed."""
    run = run_workbook(service, mistral_client, count, ports,
                       tag='wb%d' % count)
    run.name = 'rerun'
    run.deployed = count
    run.end_latency = None
    return run


def report(count, runs):
    methods = ('GET', 'POST', 'PATCH', 'PUT', 'DELETE')
    print('\n== N = %d, concurrency %d ==' % (count, CONCURRENCY))
    print('%-10s %8s %8s %s  %7s %8s  %s' % (
        'run', 'wall s', 'req/node', ' '.join('%6s' % m for m in methods),
        'writes', 'end lat', 'phases (s)'))
    for run in runs:
        writes = sum(run.requests.get(m, 0) for m in WRITES)
        print('%-10s %8.1f %8.2f %s  %7d %8s  %s%s' % (
            run.name, run.wall, run.per_node(),
            ' '.join('%6.2f' % run.per_node(m) for m in methods), writes,
            '%.2f' % run.end_latency if run.end_latency is not None
            else '-', ', '.join('%s %.2f' % item
                                for item in run.phases.items()),
            ' [%s]' % run.note if run.note else ''))
    print('  CPU seconds per run (Ironic is one Python process: its CPU '
          'time bounds the wall time from below):')
    for run in runs:
        ironic_cpu = run.cpu.get('ironic', 0.0)
        print('  %-10s %s; Ironic %.3f s per node, %.0f%% of the wall time'
              % (run.name, ', '.join('%s %.1f' % item
                                     for item in run.cpu.items()),
                 ironic_cpu / run.deployed if run.deployed else 0.0,
                 100.0 * ironic_cpu / run.wall if run.wall else 0.0))
        # Issue 22's two ratios: the wall time against its floor on one
        # Ironic process, and the client side's (Mistral's) CPU.
        print('  %-10s wall / Ironic CPU %.2f; client CPU %.0f%% of '
              "Ironic's" % (
                  run.name, run.wall / ironic_cpu if ironic_cpu else 0.0,
                  100.0 * run.cpu.get('mistral', 0.0) / ironic_cpu
                  if ironic_cpu else 0.0))
    for run in runs:
        if run.tail:
            print('  %s after the last node became active: %s' % (
                run.name, ', '.join('%s +%.2f s' % step
                                    for step in run.tail)))
    for run in runs:
        print('  %s requests by phase: %s (total %d)' % (
            run.name, '; '.join(
                '%s %s' % (phase, dict(counter)) for phase, counter in
                sorted(run.by_phase.items())),
            sum(run.requests.values())))
    named = {run.name: run for run in runs}
    if 'workbook' in named:
        wb = named['workbook']
        for other in ('metalsmith', 'core'):
            if other in named:
                print('  %s / workbook: wall %.1fx, requests per node %.2fx'
                      % (other, named[other].wall / wb.wall,
                         named[other].per_node() / wb.per_node()))
        print('  workbook per-node wall: %.3f s' % (wb.wall / count))


def bench_planning(count=2000, pool=10000):
    """Planning time of ``count`` instances on a ``pool``-node pool."""
    import bench_picking

    from tripleo_baremetal.picking import node_filters
    views = [node_filters.node_view(bench_picking.fake_node(spec))
             for spec in bench_picking.node_specs(pool)]
    wanted = bench_picking.instances(count, pool)
    best, planned = bench_picking.best_time(
        lambda: placement.plan(wanted, views), 3)
    print('\nplanning %d instances on %d nodes: %.3f s (best of 3), '
          'complete: %s' % (count, pool, best, planned['complete']))


def bench_listing(service, count=1000):
    """Time and requests to list a ``count``-node pool with our fields."""
    conn = service.connection()
    present = len(list(conn.baremetal.nodes(fields=['uuid'])))
    missing = max(count - present, 0)
    if missing:
        from concurrent import futures
        with futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: conn.baremetal.create_node(
                driver='fake-hardware', name='listing-%04d' % i,
                resource_class='listing'), range(missing)))
    service.reset_request_counts()
    start = time.time()
    listed = reservation.list_nodes(conn)
    elapsed = time.time() - start
    print('listing %d nodes (picking fields): %.2f s, %d request(s)'
          % (len(listed), elapsed, sum(service.request_counts().values())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--nodes', type=int, nargs='+', default=[40, 200])
    parser.add_argument('--ports', action='store_true',
                        help='one ctlplane port per instance')
    parser.add_argument('--rabbit', action='store_true',
                        help='Mistral as API, engine and two executors '
                        'over a private RabbitMQ')
    parser.add_argument('--batch-sizes', type=int, nargs='*', default=[],
                        help='also run the workbook with these batch_size '
                        'values (nodes per deploy action)')
    parser.add_argument('--metalsmith-max', type=int, default=40)
    parser.add_argument('--skip-metalsmith', action='store_true')
    parser.add_argument('--skip-core', action='store_true')
    parser.add_argument('--listing', type=int, default=1000)
    args = parser.parse_args()
    print('bench_workflow %s, %s' % (datetime.date.today().isoformat(),
                                     ' '.join(sys.argv[1:]) or 'defaults'))
    bench_planning()
    work = tempfile.mkdtemp(prefix='tripleo-baremetal-bench-')
    started = []
    image_server, IMAGE['href'] = serve_image(work)
    try:
        cluster = postgres.PostgresCluster(work)
        cluster.start()
        started.append(cluster)
        # No automated cleaning: enrolling hundreds of nodes is quicker.
        service = ironic.IronicService(
            work, cluster.create_database('ironic'),
            config={'conductor': {'automated_clean': False}})
        service.start()
        started.append(service)
        mistral_service, broker = _start_mistral(work, cluster, service,
                                                 args, started)
        client = mistral_service.client()
        client.workbooks.create(workbooks.read())
        conf = baremetal_conf.standalone_conf(check_local_images=False)
        conn = service.connection()
        metered = [('ironic', service), ('mistral', mistral_service),
                   ('postgres', cluster)]
        if broker is not None:
            metered.append(('rabbitmq', broker))
        meter = CpuMeter(collections.OrderedDict(metered))

        def measured(function, *fargs, **kwargs):
            before = meter.snapshot()
            run = function(*fargs, **kwargs)
            run.cpu = meter.since(before, meter.snapshot())
            return run

        for count in args.nodes:
            runs = []
            if not args.skip_metalsmith and count <= args.metalsmith_max:
                enrol(conn, 'ms%d' % count, count)
                runs.append(measured(run_metalsmith, service, count,
                                     args.ports))
            enrol(conn, 'wb%d' % count, count)
            logs = mistral_logs(mistral_service)
            runs.append(measured(run_workbook, service, client, count,
                                 args.ports, logs=logs))
            for size in args.batch_sizes:
                tag = 'wb%db%d' % (count, size)
                enrol(conn, tag, count)
                runs.append(measured(run_workbook, service, client, count,
                                     args.ports, tag=tag, batch_size=size,
                                     logs=logs))
            if not args.skip_core:
                enrol(conn, 'core%d' % count, count)
                runs.append(measured(run_core, service, count, args.ports,
                                     conf))
            runs.append(measured(run_rerun, service, client, count,
                                 args.ports))
            report(count, runs)
        if hasattr(mistral_service, 'executor_counts'):
            print('\nactions per executor: %s'
                  % mistral_service.executor_counts())
        if args.listing:
            bench_listing(service, args.listing)
    finally:
        for item in reversed(started):
            item.stop()
        image_server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def _mistral_options(service):
    return {'tripleo_baremetal': {
        'auth_type': 'none', 'baremetal_endpoint_override': service.url,
        'check_local_images': False}}


def _start_mistral(work, cluster, service, args, started):
    """``(mistral, broker)``: the broker is None without ``--rabbit``."""
    rabbit = None
    if args.rabbit:
        from localcloud import mistral_multi
        from localcloud import rabbitmq
        rabbit = rabbitmq.RabbitService(work)
        rabbit.start()
        started.append(rabbit)
        result = mistral_multi.MistralCluster(
            work, rabbit.transport_url, cluster.create_database('mistral'),
            config=_mistral_options(service), executors=2)
    else:
        result = mistral.MistralService(work,
                                        config=_mistral_options(service))
    result.start()
    started.append(result)
    return result, rabbit


if __name__ == '__main__':
    main()
