"""Find the instances that already exist, so a re-run deploys nothing twice.

An instance exists when an allocation is named after its hostname, or,
failing that, when a node carries the hostname as ``instance_info``
``display_name`` (nodes deployed before allocations, e.g. by Nova). Such
an active node without an allocation gets one (a *backfill*, never a
redeploy), so that later runs and scale-down find it the normal way.

Two requests answer for the whole request: one allocation listing and one
node listing (plus the bulk Neutron reads of ``ports`` when Heat's port
maps lack data). All checks, including the ports', pass before anything
is written. Re-running an unchanged request writes nothing.
"""

import logging

from openstack import exceptions as sdk_exc

from tripleo_baremetal import exceptions
from tripleo_baremetal import polling
from tripleo_baremetal import ports

LOG = logging.getLogger(__name__)

_FIELDS = ('uuid', 'name', 'provision_state', 'instance_uuid',
           'instance_info', 'maintenance', 'last_error')


def _entry(instance, node, allocation_id):
    return dict(instance, node=node.id, node_name=node.name,
                allocation=allocation_id,
                provision_state=node.provision_state)


def check_existing_instances(conn, instances):
    """Split managed, provisioned instances into existing and not found.

    :returns: ``{'instances': [existing, with node, node_name, allocation,
        provision_state], 'not_found': [instances to pick nodes for]}``.
    :raises: InvalidInput naming both sides when a hostname is on two
        nodes, or a pinned node already carries another hostname.
    """
    wanted = [inst for inst in instances
              if inst.get('managed', True) and inst.get('provisioned', True)]
    allocations = {alloc.name: alloc
                   for alloc in conn.baremetal.allocations() if alloc.name}
    nodes = list(conn.baremetal.nodes(fields=list(_FIELDS)))
    by_id = {node.id: node for node in nodes}
    by_name = {node.name: node for node in nodes if node.name}
    by_display = {}
    for node in nodes:
        display = (node.instance_info or {}).get('display_name')
        if display:
            by_display.setdefault(display, []).append(node)
    alloc_by_node = {alloc.node_id: alloc for alloc in allocations.values()
                     if alloc.node_id}

    errors, existing, not_found, stale = [], [], [], []
    for instance in wanted:
        host = instance['hostname']
        alloc = allocations.get(host)
        carriers = [node for node in by_display.get(host, ())
                    if node.provision_state != 'available']
        node = by_id.get(alloc.node_id) if alloc and alloc.node_id else None
        others = [n for n in carriers if node is None or n.id != node.id]
        if node is not None and others:
            errors.append('%s: allocation %s is on node %s but node %s also '
                          'carries this hostname'
                          % (host, alloc.id, polling.node_label(node),
                             polling.node_label(others[0])))
            continue
        if node is None and len(carriers) > 1:
            errors.append('%s: hostname is carried by nodes %s'
                          % (host, ' and '.join(polling.node_label(n)
                                                for n in carriers)))
            continue
        node = node or (carriers[0] if carriers else None)
        pinned = instance.get('name')
        if pinned:
            pin = by_name.get(pinned) or by_id.get(pinned)
            if node is not None and pin is not None and pin.id != node.id:
                errors.append('%s: pinned to node %s but already deployed on '
                              'node %s' % (host, polling.node_label(pin),
                                           polling.node_label(node)))
                continue
            pin_host = _carried_hostname(pin, alloc_by_node) if pin else None
            if pin_host and pin_host != host:
                errors.append('%s: pinned node %s already carries hostname '
                              '%s' % (host, polling.node_label(pin), pin_host))
                continue
        if node is None:
            if alloc is not None:
                stale.append(alloc)
            not_found.append(instance)
            continue
        held = alloc or alloc_by_node.get(node.id)
        existing.append(_entry(instance, node, held.id if held else None))
    if errors:
        raise exceptions.InvalidInput(errors)

    # Every check passed: only now write anything.
    resolved = ports.resolve_ports(
        conn, existing + not_found,
        {entry['hostname']: entry['node'] for entry in existing})
    existing, not_found = resolved[:len(existing)], resolved[len(existing):]
    for alloc in stale:
        # A failed allocation from an earlier run holds nothing.
        LOG.warning('%s: deleting allocation %s left in state %s',
                    alloc.name, alloc.id, alloc.state)
        conn.baremetal.delete_allocation(alloc, ignore_missing=True)
    for entry in existing:
        if entry['allocation'] is None and \
                entry['provision_state'] == 'active':
            entry['allocation'] = _backfill(conn, entry['hostname'],
                                            by_id[entry['node']])
    LOG.info('%d instance(s) exist, %d to deploy', len(existing),
             len(not_found))
    return {'instances': existing, 'not_found': not_found}


def _carried_hostname(node, alloc_by_node):
    alloc = alloc_by_node.get(node.id)
    if alloc is not None:
        return alloc.name
    if node.provision_state != 'available':
        return (node.instance_info or {}).get('display_name')
    return None


def _backfill(conn, host, node):
    """Give an active node deployed without an allocation its allocation."""
    LOG.info('%s: node %s is active without an allocation; creating one',
             host, polling.node_label(node))
    try:
        alloc = conn.baremetal.create_allocation(name=host, node=node.id)
        if alloc.state != 'active':
            alloc = conn.baremetal.wait_for_allocation(alloc, timeout=60)
    except sdk_exc.SDKException as exc:
        # A refused backfill may leave an allocation in "error" behind.
        conn.baremetal.delete_allocation(host, ignore_missing=True)
        raise exceptions.ReservationError(
            '%s: could not create an allocation for active node %s: %s'
            % (host, polling.node_label(node), exc))
    return alloc.id
