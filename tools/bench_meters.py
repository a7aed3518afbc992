"""What the benchmarks read from the services while they run.

Ironic's access log (requests by phase), its conductor log (when the last
node reached ``active``), Mistral's trace lines (which step ended when),
and ``/proc`` (CPU seconds and resident memory of each service's
processes); also the size of Mistral's database and of the largest value
Mistral stored, the distance to ``[engine] execution_field_size_limit_kb``.
Helpers of ``bench_workflow.py``, not part of the package.
"""

import collections
import datetime
import os
import re
import resource

from localcloud import ironic

#: Ironic's conductor log line of a node reaching a state.
_MOVED = re.compile(r'^(?P<ts>\S+ \S+) .*Node (?P<node>\S+) moved to '
                    r'provision state "(?P<state>[^"]+)"')
_STAMP = '%Y-%m-%d %H:%M:%S.%f'
#: Mistral's trace line of an action, task or workflow that succeeded.
_ENDED = re.compile(r"^(?P<ts>\S+ \S+) .* workflow_trace .*?"
                    r"(?P<kind>Action|Task|Workflow) '(?P<name>[^']+)' "
                    r"(?:\([^)]*\))* ?"
                    r"\[RUNNING -> SUCCESS")


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
    node reached ``active``. Of the actions, the last of each name only
    (the last ``deploy_nodes`` tells the deploy step's own closing, a
    ``with-items`` completion, from its items' work).
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
    steps.sort()
    last = {name: offset for offset, name in steps}
    return [(name, offset) for offset, name in steps
            if not name.startswith('action ') or last[name] == offset]


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
    benchmark prints it next to the wall time. A service's ``pids()``
    cover all its processes and their workers: a split Ironic's CPU is
    its conductor's and every API worker's.
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


def rss_mib(pids):
    """Resident memory (MiB) of the live processes ``pids``, summed."""
    total_kib = 0
    for pid in pids:
        try:
            with open('/proc/%d/status' % pid) as stream:
                for line in stream:
                    if line.startswith('VmRSS:'):
                        total_kib += int(line.split()[1])
                        break
        except OSError:
            continue        # exited since it was listed
    return total_kib / 1024.0


def mistral_memory(mistral_service):
    """``{component: RSS MiB}`` of Mistral's processes.

    One entry for the single-process Mistral; the engine, the API and
    each executor for the multi-process one.
    """
    return collections.OrderedDict(
        (name, rss_mib(pids))
        for name, pids in mistral_service.component_pids().items())


#: Where Mistral keeps the values ``execution_field_size_limit_kb``
#: bounds: ``(table, columns)``.
_FIELDS = (('action_executions_v2', ('input', 'output')),
           ('task_executions_v2', ('published',)),
           ('workflow_executions_v2', ('input', 'output')))


def database_size(database_url):
    """Bytes of a Mistral database (SQLite's file, PostgreSQL's own)."""
    import sqlalchemy
    if database_url.startswith('sqlite:///'):
        return os.path.getsize(database_url[len('sqlite:///'):])
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text(
                'SELECT pg_database_size(current_database())')).scalar()
    finally:
        engine.dispose()


#: The context each task execution stores (not bounded by the limit, but
#: loaded again at each of the task's action completions).
CONTEXTS = (('task_executions_v2', ('in_context',)),)


def largest_fields(database_url, since, top=3, fields=_FIELDS):
    """The largest values Mistral stored since ``since`` (a timestamp).

    :param fields: ``(table, columns)`` to look at: by default the values
        Mistral compared with its field size limit (an action's input or
        result, a task's published values, a workflow's input or
        output), or ``CONTEXTS``.
    :returns: ``[(bytes, 'kind column name')]``, largest first, by the
        action, task or workflow name.
    """
    import sqlalchemy
    stamp = datetime.datetime.utcfromtimestamp(since)
    best = {}
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            for table, columns in fields:
                for column in columns:
                    rows = conn.execute(sqlalchemy.text(
                        'SELECT name, length(%s) FROM %s WHERE created_at '
                        '>= :since' % (column, table)), {'since': stamp})
                    for name, size in rows:
                        key = '%s %s %s' % (table.split('_')[0], column,
                                            name.rsplit('.', 1)[-1])
                        best[key] = max(best.get(key, 0), size or 0)
    finally:
        engine.dispose()
    return sorted(((size, key) for key, size in best.items()),
                  reverse=True)[:top]
