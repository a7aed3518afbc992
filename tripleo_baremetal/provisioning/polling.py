"""Bulk polling of node states: one listing per poll, whatever the count.

Waiting node by node (``GET /v1/nodes/<id>`` every 2 s per node, as the
SDK's ``wait_for_*`` helpers do) costs requests in proportion to the
number of nodes. Here one ``GET /v1/nodes?fields=...`` answers for every
node being watched, and the wait ends as soon as the caller's check says so.

The interval adapts: it starts short, doubles (up to its maximum) after
each poll that saw no node change state, and is short again after a poll
that saw a change. While nodes move (a batch of deploys finishing one
after the other) the end is seen within one short interval; a long,
quiet deploy costs few polls.
"""

import logging
import time

from tripleo_baremetal import api
from tripleo_baremetal import exceptions
from tripleo_baremetal import listing
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)

#: Node fields a poll asks for (keeps the response small). Not
#: ``allocation_uuid``: Ironic answers a listing that asks for it with HTTP
#: 500; ``instance_uuid`` (which an allocation sets to its own UUID) and
#: the allocation listing tell the same.
POLL_FIELDS = ('uuid', 'name', 'provision_state', 'target_provision_state',
               'last_error', 'maintenance', 'maintenance_reason',
               'instance_uuid', 'instance_info', 'protected')


#: Allocation fields the listings ask for (keeps responses small).
ALLOCATION_FIELDS = ('uuid', 'name', 'state', 'last_error', 'node_uuid')

#: Seconds between two allocation listings while waiting for allocations
#: another run (or a crashed one) left ``allocating``.
ALLOCATING_POLL = 0.5


def list_nodes(conn, node_ids, fields=POLL_FIELDS, **filters):
    """One node listing, narrowed to ``node_ids``: ``{uuid: node}``.

    The nodes are ``listing.Record`` objects, read as SDK nodes are
    (``id``, ``is_maintenance``, ``instance_id``, ``is_protected``).
    """
    wanted = set(node_ids)
    found = {}
    for node in listing.nodes(conn, fields, **filters):
        if node.id in wanted:
            found[node.id] = node
    return found


def poll_nodes(conn, node_ids, is_done, timeout, interval=1.0,
               max_interval=10.0, fields=POLL_FIELDS, clock=time.monotonic,
               sleep=time.sleep, **filters):
    """Poll ``node_ids`` in bulk until ``is_done(nodes)`` is true.

    :param is_done: called with ``{uuid: node}`` after each poll (nodes
        that vanished are absent); returns a true value to stop.
    :returns: ``(nodes, done)``: the last poll's nodes and whether
        ``is_done`` said so before ``timeout`` seconds passed.
    """
    deadline = clock() + timeout
    nodes, seen, shortest = {}, None, interval
    while True:
        try:
            nodes = list_nodes(conn, node_ids, fields=fields, **filters)
        except api.ERRORS as exc:
            # The transport already retried; an API that stays away for a
            # while must not end an hour-long wait: poll again later.
            if not api.is_transient(exc) or clock() >= deadline:
                raise
            LOG.warning('Polling %d node(s) failed, will try again: %s',
                        len(node_ids), api.describe(exc))
        else:
            if is_done(nodes):
                return nodes, True
            now = _states(nodes)
            if seen is not None and now != seen:
                interval = shortest
            seen = now
        remaining = deadline - clock()
        if remaining <= 0:
            return nodes, False
        LOG.debug('Waiting %.1fs for %d node(s)', min(interval, remaining),
                  len(node_ids))
        sleep(min(interval, remaining))
        interval = min(interval * 2, max_interval)


def _states(nodes):
    """What a poll compares with the previous one: each node's states."""
    return {node_id: (getattr(node, 'provision_state', None),
                      getattr(node, 'target_provision_state', None))
            for node_id, node in nodes.items()}


def settled_allocations(conn, hostnames, timeout, clock=time.monotonic,
                        sleep=time.sleep):
    """``{name: allocation}`` of every named allocation, once settled.

    Allocations of ``hostnames`` still being processed (by another run,
    or one Ironic is finishing for a crashed run) are waited for, with one
    listing per poll, until Ironic has processed none of them for
    ``timeout`` seconds (``allocation_timeout``, as in the pick: another
    run reserving a thousand of the same hostnames takes minutes).

    :raises: NodeStateError naming the hosts still allocating.
    """
    deadline, busy = clock() + timeout, []
    while True:
        allocations = {alloc.name: alloc for alloc in
                       listing.allocations(conn, ALLOCATION_FIELDS)
                       if alloc.name}
        before, busy = busy, sorted(
            host for host, alloc in allocations.items()
            if host in hostnames and alloc.state == states.ALLOCATING)
        if not busy:
            return allocations
        if set(before) - set(busy):
            # Ironic processed one since the last poll: still moving.
            deadline = clock() + timeout
        if clock() >= deadline:
            raise exceptions.NodeStateError(
                'allocations of %s are still being processed by Ironic '
                'after %ss (another run reserving the same hostnames?); '
                're-run when it is done' % (', '.join(busy), timeout))
        LOG.info('Waiting for Ironic to process the allocations of %s',
                 ', '.join(busy))
        sleep(ALLOCATING_POLL)
