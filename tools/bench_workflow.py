#!/usr/bin/env python3
"""Deploy N nodes three ways on one real Ironic and compare the costs.

Starts a private PostgreSQL, a fake-hardware Ironic and a Mistral (one
process with its default options, or with ``--rabbit`` separate API,
engine and two executors over a private RabbitMQ) on 127.0.0.1, enrols
one pool per run (its own resource class, so runs never share nodes),
then for each ``--nodes`` N deploys the request of issue 22: N instances
in two roles (Controller and Compute, half each), a ``cloud_config`` of
``--cloud-config-kb`` per role, one ctlplane port each with ``--ports``:

* ``plan``: ``overcloud node plan`` (the command, end to end, through
  Mistral) of the N instances on the workbook's pool of 1.2 N nodes;
* ``metalsmith``: as tripleo-ansible's ``metalsmith_instances`` module
  drives it (reserve one by one, provision in a thread pool of
  ``concurrency``, each job waiting for its node), only for N up to
  ``--metalsmith-max`` (it is slow);
* ``workbook``: our ``deploy_roles`` workflow on the real Mistral;
* ``core``: the same steps in Python (``sequence``), timed per phase,
  for N up to ``--core-max``;
* ``rerun``: ``deploy_roles`` again on the deployed workbook run.

It prints Ironic requests per deployed node split by method (from
Ironic's access log), wall time, time in each phase, the time between the
last node reaching ``active`` and the end (and which step ended when),
wall time over Ironic's CPU time (all its processes') and Mistral's CPU
as a share of Ironic's, Mistral's resident memory and database size
before and after each workflow run, and the largest values Mistral
stored against its field size limit; then the planning time of 2,000
instances on a 10,000-node pool (pure Python) and the cost of listing a
1,000-node pool from the real Ironic. Numbers to read, not to assert.
metalsmith is a benchmark-only dependency (``bench-requirements.txt``).

Ironic is one process (API and conductor) unless ``--split-ironic N``
runs it as an undercloud does: ``ironic-conductor`` and ``ironic-api``
with N workers over JSON-RPC; its CPU is then metered in total and per
process.

    nice -n 10 python tools/bench_workflow.py [--nodes 200 1000] [--ports]
        [--rabbit] [--split-ironic N] [--skip-metalsmith]
        [--deploy-delay S]

``--deploy-delay S`` keeps each fake deploy ``deploying`` for 2 S seconds
(Ironic's ``[fake] deploy_delay``), as real hardware keeps it for
minutes: the deploy step then closes while nodes still deploy, and the
end of the run is what an operator waits for after the last node.
"""

import argparse
import collections
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)
sys.path.insert(0, os.path.join(TOP, 'tools'))

import bench_meters  # noqa: E402
import bench_report  # noqa: E402
import bench_request  # noqa: E402
from localcloud import ironic  # noqa: E402
from localcloud import mistral  # noqa: E402
from localcloud import postgres  # noqa: E402
from localcloud import process  # noqa: E402
from tripleo_baremetal.cli import follow  # noqa: E402
from tripleo_baremetal import conf as baremetal_conf  # noqa: E402
from tripleo_baremetal.picking import placement  # noqa: E402
from tripleo_baremetal.picking import reservation  # noqa: E402
from tripleo_baremetal.provisioning import existing  # noqa: E402
from tripleo_baremetal.provisioning import sequence  # noqa: E402
from tripleo_baremetal.provisioning import wait  # noqa: E402
from tripleo_baremetal.request import roles  # noqa: E402
from tripleo_baremetal import workbooks  # noqa: E402

WB = 'tripleo.baremetal_deploy.v1.'
CONCURRENCY = 20


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
        # Mistral, before and after a workflow run: {component: RSS MiB},
        # database bytes; the largest values it stored.
        self.memory = ()
        self.database = ()
        self.fields = []
        self.contexts = []

    def per_node(self, method=None):
        if not self.deployed:
            return 0.0
        if method is None:
            return sum(self.requests.values()) / self.deployed
        return self.requests.get(method, 0) / self.deployed


def run_metalsmith(service, count, request):
    """Deploy as tripleo-ansible's metalsmith_instances module does."""
    from concurrent import futures

    import metalsmith
    from metalsmith import instance_config
    from metalsmith import sources

    tag = 'ms%d' % count
    run = Run('metalsmith', count)
    if request.ports:
        run.note = 'no ports (metalsmith would create them in Neutron)'
    provisioner = metalsmith.Provisioner(
        cloud_region=service.connection().config)
    instances = [{'hostname': '%s-%d' % (tag, i), 'resource_class': tag,
                  'image': dict(bench_request.IMAGE),
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
    active = bench_meters.last_active(service, tag + '-', start)
    run.end_latency = end - active if active else None
    return run


def _count(run, service):
    requests = service.requests()
    run.requests = collections.Counter(req.method for req in requests)
    run.by_phase = bench_meters.split_allocations(requests)


def run_plan(service, mistral_service, count, request, tag, work):
    """``overcloud node plan`` of the request on pool ``tag``.

    The operator's command, end to end: it expands the roles file, then
    runs ``expand_roles`` and ``pick_nodes`` (dry run) on Mistral.
    """
    path = os.path.join(work, '%s-roles.yaml' % tag)
    with open(path, 'w') as stream:
        yaml.safe_dump(bench_request.roles_file(
            tag, count, request.cloud_config_kib), stream)
    command = [os.path.join(os.path.dirname(sys.executable),
                            'tripleo-baremetal'),
               'overcloud', 'node', 'plan', path,
               '--mistral-url', mistral_service.url,
               '--ironic-url', service.url]
    run = Run('plan', count)
    service.reset_request_counts()
    start = time.time()
    done = subprocess.run(command, capture_output=True, text=True,
                          timeout=900, cwd=work,
                          env=process.importable_env())
    run.wall = time.time() - start
    if done.returncode:
        raise SystemExit('plan failed: %s' % done.stderr[-2000:])
    planned = sum(1 for line in done.stdout.splitlines()
                  if line.rstrip().endswith(' planned'))
    run.deployed = count    # per-node figures are per planned instance
    run.note = '%d of %d planned, nothing written' % (planned, count)
    _count(run, service)
    return run


def run_workbook(service, mistral_service, count, request, tag=None,
                 batch_size=None, name='workbook'):
    """``deploy_roles`` on the real Mistral; phases from Ironic's log.

    :param batch_size: the workflow's ``batch_size``; None leaves the
        workbook's default.
    """
    run = Run(name, count)
    tag = tag or 'wb%d' % count
    client = mistral_service.client()
    inputs = dict(bench_request.port_maps(count, request.ports),
                  roles=bench_request.roles_file(tag, count,
                                                 request.cloud_config_kib),
                  ssh_keys=['ssh-ed25519 AAAA bench'],
                  concurrency=CONCURRENCY)
    if batch_size is not None:
        inputs['batch_size'] = batch_size
    memory = bench_meters.mistral_memory(mistral_service)
    database = bench_meters.database_size(mistral_service.database_url)
    service.reset_request_counts()
    start = time.time()
    execution = client.executions.create(WB + 'deploy_roles',
                                         workflow_input=inputs)
    execution = _wait_execution(client, execution.id, 3600)
    end = time.time()
    run.wall = end - start
    if execution.state != 'SUCCESS':
        raise SystemExit('deploy_roles failed: %s' % execution.state_info)
    run.memory = (memory, bench_meters.mistral_memory(mistral_service))
    run.database = (database, bench_meters.database_size(
        mistral_service.database_url))
    run.fields = bench_meters.largest_fields(mistral_service.database_url,
                                             start)
    run.contexts = bench_meters.largest_fields(
        mistral_service.database_url, start, fields=bench_meters.CONTEXTS)
    output = client.executions.get(execution.id).output
    output = json.loads(output) if isinstance(output, str) else output
    run.deployed = len(output['new_instances']) or len(output['instances'])
    _count(run, service)
    run.phases = _phase_times(service.requests_with_times(), start, end)
    active = bench_meters.last_active(service, tag + '-', start)
    run.end_latency = end - active if active else None
    if active:
        run.tail = bench_meters.tail_steps(
            bench_meters.mistral_logs(mistral_service), active, end)
    run.execution = execution.id
    return run


def _wait_execution(client, execution_id, timeout):
    """Poll the state alone, 4 times a second (the end is when it is seen).

    The poller is the benchmark's, not the product's (the commands poll
    once a second), and what Mistral spends answering it counts as
    Mistral's CPU: reading the whole execution 20 times a second took a
    quarter of Mistral's CPU at N = 400; the state alone at that rate
    still took a tenth.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if follow.execution_state(client, execution_id) in follow.FINAL:
            return client.executions.get(execution_id)
        time.sleep(0.25)
    raise SystemExit('execution %s timed out' % execution_id)


def _phase_times(requests, start, end):
    """Seconds per phase, from the timestamps of Ironic's access log.

    A phase lasts from the previous phase's last request to its own last
    one; ``environment`` from the last request to the end.
    """
    last = collections.OrderedDict()
    stamps = [stamp for stamp, _req in requests]
    for stamp, (phase, _req) in zip(stamps, bench_meters.phases(
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


def run_core(service, count, request, conf):
    """The same steps as the workflow, in Python, timed per phase."""
    tag = 'core%d' % count
    run = Run('core', count)
    conn = service.connection()
    instances = roles.expand_roles(
        bench_request.roles_file(tag, count, request.cloud_config_kib),
        **bench_request.port_maps(count, request.ports))['instances']
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
    active = bench_meters.last_active(service, tag + '-', start)
    run.end_latency = end - active if active else None
    return run


def run_rerun(service, mistral_service, count, request):
    """``deploy_roles`` again on what the workbook run deployed."""
    run = run_workbook(service, mistral_service, count, request,
                       tag='wb%d' % count)
    run.name = 'rerun'
    run.deployed = count
    run.end_latency = None
    return run


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


#: The request of one run: ports or not, KiB of cloud_config per role.
Request = collections.namedtuple('Request', ['ports', 'cloud_config_kib'])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--nodes', type=int, nargs='+', default=[200, 1000])
    parser.add_argument('--ports', action='store_true',
                        help='one ctlplane port per instance')
    parser.add_argument('--cloud-config-kb', type=int, default=2,
                        help='KiB of cloud_config per role (0: none)')
    parser.add_argument('--rabbit', action='store_true',
                        help='Mistral as API, engine and two executors '
                        'over a private RabbitMQ')
    parser.add_argument('--split-ironic', type=int, metavar='N',
                        help='Ironic as ironic-conductor and ironic-api '
                        'with N workers (default: one ironic process)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="the workbook run's batch_size (the "
                        "workbook's default if not given)")
    parser.add_argument('--batch-sizes', type=int, nargs='*', default=[],
                        help='also run the workbook with these batch_size '
                        'values (nodes per deploy action)')
    parser.add_argument('--metalsmith-max', type=int, default=40)
    parser.add_argument('--skip-metalsmith', action='store_true')
    parser.add_argument('--core-max', type=int, default=200,
                        help='run the core for N up to this')
    parser.add_argument('--skip-core', action='store_true')
    parser.add_argument('--skip-plan', action='store_true')
    parser.add_argument('--listing', type=int, default=1000)
    parser.add_argument('--deploy-delay', type=int, default=None,
                        metavar='S',
                        help="Ironic's [fake] deploy_delay: each fake "
                        "deploy spends 2 S seconds in 'deploying' (its "
                        "prepare and deploy steps), as real hardware "
                        "takes minutes; default: none, nodes go active "
                        "within a fraction of a second")
    return parser.parse_args(argv)


def main():
    args = parse_args()
    print('bench_workflow %s, %s' % (
        datetime.datetime.now().strftime('%Y-%m-%d %H:%M'),
        ' '.join(sys.argv[1:]) or 'defaults'))
    print('Ironic: %s' % ironic.topology(args.split_ironic))
    if args.deploy_delay:
        print('fake deploys: %s s in deploying ([fake] deploy_delay %s)'
              % (2 * args.deploy_delay, args.deploy_delay))
    bench_planning()
    work = tempfile.mkdtemp(prefix='tripleo-baremetal-bench-')
    started = []
    image_server, href = bench_request.serve_image(work)
    bench_request.IMAGE['href'] = href
    try:
        cluster = postgres.PostgresCluster(work)
        cluster.start()
        started.append(cluster)
        # No automated cleaning: enrolling hundreds of nodes is quicker.
        service = ironic.IronicService(
            work, cluster.create_database('ironic'),
            config={'conductor': {'automated_clean': False}},
            fake_deploy_delay=args.deploy_delay or None,
            api_workers=args.split_ironic)
        service.start()
        started.append(service)
        mistral_service, broker = _start_mistral(work, cluster, service,
                                                 args, started)
        mistral_service.client().workbooks.create(workbooks.read())
        metered = _ironic_meters(service) + [('mistral', mistral_service),
                                             ('postgres', cluster)]
        if broker is not None:
            metered.append(('rabbitmq', broker))
        meter = bench_meters.CpuMeter(collections.OrderedDict(metered))
        for count in args.nodes:
            runs = bench_count(args, count, service, mistral_service,
                               meter, work)
            bench_report.report(count, runs, CONCURRENCY,
                                service.topology)
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


def bench_count(args, count, service, mistral_service, meter, work):
    """Every run of one N, measured: ``[Run]``."""
    request = Request(args.ports, args.cloud_config_kb)
    conn = service.connection()

    def measured(function, *fargs, **kwargs):
        before = meter.snapshot()
        run = function(*fargs, **kwargs)
        run.cpu = meter.since(before, meter.snapshot())
        return run

    runs = []
    if not args.skip_metalsmith and count <= args.metalsmith_max:
        bench_request.enrol(conn, 'ms%d' % count, count)
        runs.append(measured(run_metalsmith, service, count, request))
    tag = 'wb%d' % count
    bench_request.enrol(conn, tag, int(count * bench_request.POOL_FACTOR))
    if not args.skip_plan:
        runs.append(measured(run_plan, service, mistral_service, count,
                             request, tag, work))
    runs.append(measured(run_workbook, service, mistral_service, count,
                         request, batch_size=args.batch_size))
    for size in args.batch_sizes:
        tag = 'wb%db%d' % (count, size)
        bench_request.enrol(conn, tag, count)
        runs.append(measured(run_workbook, service, mistral_service, count,
                             request, tag=tag, batch_size=size,
                             name='wb-batch%d' % size))
    if not args.skip_core and count <= args.core_max:
        bench_request.enrol(conn, 'core%d' % count, count)
        conf = baremetal_conf.standalone_conf(check_local_images=False)
        runs.append(measured(run_core, service, count, request, conf))
    runs.append(measured(run_rerun, service, mistral_service, count,
                         request))
    return runs


def _ironic_meters(service):
    """``[(name, pids() holder)]``: Ironic, and each process when split.

    ``ironic`` always covers every Ironic process and its workers (what
    the ratios use); ``ironic-conductor`` and ``ironic-api`` show how
    the split Ironic's CPU divides.
    """
    meters = [('ironic', service)]
    if service.split:
        meters += [(proc.name, proc) for proc in service.services]
    return meters


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
