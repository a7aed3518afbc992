"""Delete every node and allocation of an Ironic, whatever their state.

Used between functional tests so that each starts from an empty Ironic,
and by the demo to start over. Deployed nodes are undeployed first, as an
operator would, so that the network interface detaches their VIFs (with
Neutron, ports would stay bound otherwise). Ironic refuses to delete a
node that is ``available`` unless it is in maintenance, and refuses any
change while a conductor holds the node's lock (a fake deploy with
``deploy_delay`` holds it for seconds). So each round undeploys deployed
nodes, puts the other unlocked ones in maintenance and deletes them
(which also deletes their ports and allocations), deletes allocations
left without a node, and the next round retries whatever was locked or
refused. Past half the time allowed, nodes are deleted in maintenance
without undeploying.
"""

import concurrent.futures
import logging
import time

from openstack import exceptions as sdk_exc

from localcloud import nodes
from localcloud import process

LOG = logging.getLogger(__name__)

POLL_INTERVAL = 0.2
MAX_WORKERS = 8

_NODE_FIELDS = ['uuid', 'name', 'provision_state', 'maintenance',
                'reservation', 'protected', 'last_error']

#: States left by undeploying (``deleted``) rather than by force.
UNDEPLOY_STATES = frozenset(['active', 'deploy failed'])


def _delete_node(conn, node, force):
    """Take an unlocked node out of the way; errors are retried later."""
    if node.is_protected:
        conn.baremetal.patch_node(node.id, [{'op': 'replace',
                                             'path': '/protected',
                                             'value': False}],
                                  retry_on_conflict=False)
    if not force and not node.is_maintenance \
            and node.provision_state in UNDEPLOY_STATES:
        nodes.set_state(conn, node.id, 'provision', 'deleted')
        return
    if not node.is_maintenance:
        response = conn.baremetal.put(
            '/nodes/%s/maintenance' % node.id,
            json={'reason': 'deleted by the test clean-up'},
            retriable_status_codes=[])
        sdk_exc.raise_from_response(response)
    conn.baremetal.delete_node(node.id, ignore_missing=True)


def _round(conn, pool, errors, force):
    """One pass; returns the nodes and allocations seen before it."""
    found = list(conn.baremetal.nodes(fields=_NODE_FIELDS))
    allocations = list(conn.baremetal.allocations(
        fields=['uuid', 'name', 'state', 'node_uuid', 'last_error']))
    futures = {pool.submit(_delete_node, conn, node, force): node
               for node in found if not node.reservation}
    orphans = [alloc for alloc in allocations
               if not alloc.node_id and alloc.state != 'allocating']
    futures.update({pool.submit(conn.baremetal.delete_allocation, alloc.id,
                                ignore_missing=True): alloc
                    for alloc in orphans})
    for future in concurrent.futures.as_completed(futures):
        item = futures[future]
        try:
            future.result()
        except sdk_exc.SDKException as exc:
            # Locked meanwhile, or still moving: the next round retries.
            errors[item.id] = str(exc)
    return found, allocations


def delete_all_nodes(conn, timeout=60):
    """Delete all nodes and allocations; wait until none is left.

    :raises: WaitTimeout naming what is left, its state and the last error
        seen for it.
    """
    started = time.monotonic()
    errors = {}
    seen = {'nodes': [], 'allocations': []}

    def describe():
        lines = ['left: %d node(s), %d allocation(s)' % (
            len(seen['nodes']), len(seen['allocations']))]
        for node in seen['nodes']:
            lines.append('node %s (%s): %s%s%s, last error: %s' % (
                node.name, node.id, node.provision_state,
                ' maintenance' if node.is_maintenance else '',
                ' locked by %s' % node.reservation if node.reservation
                else '',
                errors.get(node.id) or node.last_error))
        for alloc in seen['allocations']:
            lines.append('allocation %s (%s): %s, last error: %s' % (
                alloc.name, alloc.id, alloc.state,
                errors.get(alloc.id) or alloc.last_error))
        return '\n'.join(lines)

    with concurrent.futures.ThreadPoolExecutor(MAX_WORKERS) as pool:
        def done():
            force = time.monotonic() - started > timeout / 2
            seen['nodes'], seen['allocations'] = _round(conn, pool, errors,
                                                        force)
            return not seen['nodes'] and not seen['allocations']

        process.wait_until(done, timeout, interval=POLL_INTERVAL,
                           what='every node and allocation to be deleted',
                           details=describe)
    LOG.debug('Deleted every node and allocation in %.2f s',
              time.monotonic() - started)
