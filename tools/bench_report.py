"""What ``bench_workflow.py`` prints for the runs of one N.

Per run: requests per node by method, writes, the end latency and the
phases; CPU seconds and issue 22's ratios (wall time over Ironic's CPU,
the client side's CPU as a share of Ironic's); Mistral's memory and
database before and after, and its largest stored values against the
field size limit; which step ended when after the last node was active.
"""

WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')
#: Mistral's default ``[engine] execution_field_size_limit_kb``.
FIELD_LIMIT = 1024 * 1024

#: Whose CPU is the client side's, per run: Mistral's for the workflow
#: runs, this process's for those it drives itself.
_CLIENT = {'metalsmith': 'bench', 'core': 'bench'}

#: The CPU meter of a split Ironic's conductor (bench_workflow).
CONDUCTOR = 'ironic-conductor'


def report(count, runs, concurrency, topology=None):
    """Print what the runs of one N measured.

    :param topology: how Ironic ran (``localcloud.ironic.topology``),
        for the header.
    """
    print('\n== N = %d, concurrency %d%s ==' % (
        count, concurrency, ', Ironic: %s' % topology if topology else ''))
    _report_requests(runs)
    _report_cpu(runs)
    _report_mistral(runs)
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


def _report_requests(runs):
    methods = ('GET', 'POST', 'PATCH', 'PUT', 'DELETE')
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


def _report_cpu(runs):
    """CPU seconds and issue 22's two ratios.

    The wall time against its floor on one Ironic process, and the
    client side's CPU against Ironic's. A split Ironic's ``ironic`` is
    the sum of its processes; the conductor, one process, bounds the
    wall time from below instead.
    """
    split = any(CONDUCTOR in run.cpu for run in runs)
    if split:
        print('  CPU seconds per run (ironic: all its processes; the '
              'conductor is one Python process, its CPU time bounds the '
              'wall time from below):')
    else:
        print('  CPU seconds per run (Ironic is one Python process: its '
              'CPU time bounds the wall time from below):')
    for run in runs:
        ironic_cpu = run.cpu.get('ironic', 0.0)
        print('  %-10s %s; Ironic %.3f s per node, %.0f%% of the wall time'
              % (run.name, ', '.join('%s %.1f' % item
                                     for item in run.cpu.items()),
                 ironic_cpu / run.deployed if run.deployed else 0.0,
                 100.0 * ironic_cpu / run.wall if run.wall else 0.0))
        client = _CLIENT.get(run.name, 'mistral')
        print('  %-10s wall / Ironic CPU %.2f; client (%s) CPU %.0f%% of '
              "Ironic's" % (
                  run.name, run.wall / ironic_cpu if ironic_cpu else 0.0,
                  client, 100.0 * run.cpu.get(client, 0.0) / ironic_cpu
                  if ironic_cpu else 0.0))
        if split and run.cpu.get(CONDUCTOR):
            print('  %-10s wall / conductor CPU %.2f' % (
                run.name, run.wall / run.cpu[CONDUCTOR]))


def _report_mistral(runs):
    """Mistral's memory and database before and after each workflow run.

    And the largest values it stored, against its field size limit.
    """
    for run in runs:
        if not run.memory:
            continue
        before, after = run.memory
        print('  %-10s Mistral RSS MiB %s; database %.1f -> %.1f MiB '
              '(%.1f KiB per node)' % (
                  run.name, ', '.join(
                      '%s %.0f -> %.0f (%.1f KiB per node)' % (
                          name, before.get(name, 0.0), after[name],
                          1024.0 * (after[name] - before.get(name, 0.0))
                          / run.count)
                      for name in after),
                  run.database[0] / 2.0 ** 20, run.database[1] / 2.0 ** 20,
                  (run.database[1] - run.database[0]) / 1024.0 / run.count))
        if run.fields:
            print('  %-10s largest fields: %s' % (run.name, '; '.join(
                '%s %.0f KiB (%.0f B per node, %.0f%% of the limit)' % (
                    key, size / 1024.0, size / run.count,
                    100.0 * size / FIELD_LIMIT)
                for size, key in run.fields)))
        if run.contexts:
            print('  %-10s largest task contexts: %s' % (
                run.name, '; '.join(
                    '%s %.0f KiB' % (key.split(' ', 2)[-1], size / 1024.0)
                    for size, key in run.contexts)))
