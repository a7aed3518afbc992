"""Follow a workflow execution: node progress as it happens, then a table.

Each poll costs one Mistral request (the execution's state alone), one
allocation listing and one node listing, whatever the number of nodes;
with ``verbose``, one more Mistral request for the task states. The
whole execution (its output) is read once, when it has ended. A line is
printed per node state change of the request's hosts (``reserved``
when its allocation appears, then Ironic's provision states, with
``last_error`` on failure) and a running count whenever it changes.
"""

import sys
import time

from tripleo_baremetal import labels
from tripleo_baremetal import listing
from tripleo_baremetal import states

#: Mistral's final execution states.
FINAL = frozenset(['SUCCESS', 'ERROR', 'CANCELLED'])
#: What a line says for a node holding a host's allocation, before the
#: deploy starts.
RESERVED = 'reserved'

_NODE_FIELDS = ['uuid', 'name', 'provision_state', 'last_error',
                'instance_info', 'instance_uuid']


class Interrupted(Exception):
    """The operator stopped following; the execution keeps running."""


class Progress:
    """Node state changes of a set of hosts, from bulk listings."""

    def __init__(self, conn, hostnames, stream=None, clock=time.monotonic):
        self.conn = conn
        self.hostnames = set(hostnames)
        self.stream = stream or sys.stdout
        self.clock = clock
        self.started = clock()
        self.seen = {}
        self.count = None

    def _states(self):
        """``{hostname: (node, state)}`` from one listing of each kind.

        Read as JSON (``listing``): building SDK resources of 1,000
        nodes and allocations every second would cost the command about
        as much time as it has between two polls.
        """
        by_node = {alloc.node_id: alloc.name
                   for alloc in listing.allocations(
                       self.conn, ['uuid', 'name', 'node_uuid'])
                   if alloc.name in self.hostnames and alloc.node_id}
        found = {}
        for node in listing.nodes(self.conn, _NODE_FIELDS):
            host = by_node.get(node.id) or (
                node.instance_info or {}).get('display_name')
            if host not in self.hostnames:
                continue
            state = node.provision_state
            if state == states.AVAILABLE and node.id in by_node:
                state = RESERVED
            found[host] = (node, state)
        return found

    def poll(self):
        """Print what changed since the last poll."""
        for host, (node, state) in sorted(self._states().items()):
            if self.seen.get(host) == state:
                continue
            self.seen[host] = state
            error = (': %s' % node.last_error
                     if state in states.DEPLOY_FAILED and node.last_error
                     else '')
            self.write('  %6.1fs  %-28s %-24s %s%s' % (
                self.clock() - self.started, host, labels.short(
                    node.name, node.id), state, error))
        self._count()

    def _count(self):
        active = sum(1 for state in self.seen.values()
                     if state == states.ACTIVE)
        failed = sum(1 for state in self.seen.values()
                     if state in states.DEPLOY_FAILED)
        count = (active, failed)
        if count != self.count and self.seen:
            self.count = count
            self.write('  %d/%d active, %d failed' % (
                active, len(self.hostnames), failed))

    def write(self, line):
        print(line, file=self.stream, flush=True)


def execution_state(client, execution_id):
    """The state of one execution, read without the rest of it.

    mistralclient's ``executions.get`` takes no ``fields``: for it Mistral
    loads and serialises the execution's input, output, context and spec,
    which hold every instance of the request (about a megabyte at 1,000
    nodes). ``?fields=state`` reads one column. An error answer is left to
    ``executions.get``, which raises mistralclient's own exception for it.
    """
    manager = client.executions
    resp = manager.http_client.get('/executions/%s?fields=state'
                                   % execution_id)
    if resp.status_code != 200:
        return manager.get(execution_id).state
    return resp.json()['state']


def follow(client, execution, progress=None, timeout=None, interval=1.0,
           verbose=False, stream=None, sleep=time.sleep,
           clock=time.monotonic):
    """Poll ``execution`` until it ends; return it, read in full.

    :param progress: a ``Progress`` polled along, or None.
    :raises: Interrupted on Ctrl-C (the execution keeps running);
        TimeoutError when ``timeout`` seconds pass first.
    """
    stream = stream or sys.stdout
    deadline = None if timeout is None else clock() + timeout
    tasks = {}
    try:
        while True:
            state = execution_state(client, execution.id)
            if progress is not None:
                progress.poll()
            if verbose:
                _print_tasks(client, execution, tasks, stream)
            if state in FINAL:
                return client.executions.get(execution.id)
            if deadline is not None and clock() >= deadline:
                raise TimeoutError(
                    'execution %s is still %s after %ss'
                    % (execution.id, state, timeout))
            sleep(interval)
    except KeyboardInterrupt:
        raise Interrupted(
            'Stopped following execution %s; it keeps running. Running the '
            'same command again is safe: it waits for what is under way '
            'and finishes the job.' % execution.id) from None


def _print_tasks(client, execution, seen, stream):
    for task in client.tasks.list(workflow_execution_id=execution.id):
        if seen.get(task.id) != task.state:
            seen[task.id] = task.state
            print('  task %s: %s' % (task.name, task.state), file=stream,
                  flush=True)


def table(rows, headers):
    """Plain text columns, for the final summary of a run."""
    rows = [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(row[col]) for row in [headers] + rows)
              for col in range(len(headers))]
    return '\n'.join('  '.join(cell.ljust(width) for cell, width
                               in zip(row, widths)).rstrip()
                     for row in [tuple(headers)] + rows)


#: Columns of the table printed at the end of a provisioning run.
DEPLOYED_COLUMNS = ('HOSTNAME', 'NODE', 'STATE', 'CTLPLANE IP', 'ROLE')


def deployed_rows(output):
    """Rows of ``DEPLOYED_COLUMNS`` from deploy_roles' output."""
    ips = output.get('ctlplane_ips') or {}
    return [(inst['hostname'], inst.get('node_name') or inst.get('node'),
             inst.get('provision_state') or '-',
             ips.get(inst['hostname'], '-'), inst.get('role') or '-')
            for inst in sorted(output.get('instances') or (),
                               key=lambda i: i['hostname'])]
