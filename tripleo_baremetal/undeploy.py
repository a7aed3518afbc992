"""Undeploy instances by hostname: exactly the named hosts, nothing else.

A host is found by its allocation (named after the hostname), or, for a
node deployed without one, by the ``display_name`` in its
``instance_info``. Never by index or generated name: the node behind
``overcloud-novacompute-1`` is whichever node carries that hostname.

For each host: refuse a ``protected`` node, detach its VIFs (Heat's ports
stay in Neutron: they belong to the stack), request ``deleted``, then wait
in bulk through cleaning to ``available`` (``manageable`` when cleaning is
off), and make sure the allocation and ``instance_info`` are gone. An
unknown or already undeployed host is a warning, not an error.
"""

import logging

from openstack import exceptions as sdk_exc

from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal import polling

LOG = logging.getLogger(__name__)

DONE_STATES = frozenset(['available', 'manageable', 'enroll'])
FAILED_STATES = frozenset(['clean failed', 'error'])
#: States a node leaves by itself; undeploy waits for it to settle.
_TRANSITIONAL = frozenset(['deploying', 'deleting', 'rebuilding'])
_UNDEPLOYABLE = frozenset(['available', 'manageable', 'enroll', 'inspecting',
                           'inspect failed', 'cleaning', 'clean wait',
                           'verifying', 'adopting'])


def _hostname(item):
    return item['hostname'] if isinstance(item, dict) else item


def find_nodes(conn, hostnames):
    """Map each hostname to its node, or None when nothing carries it.

    One allocation listing and, only when some host has no allocation, one
    node listing.
    """
    allocations = {alloc.name: alloc for alloc in conn.baremetal.allocations()
                   if alloc.name in hostnames}
    found = {}
    node_ids = {alloc.node_id for alloc in allocations.values()
                if alloc.node_id}
    nodes = polling.list_nodes(conn, node_ids) if node_ids else {}
    missing = [host for host in hostnames
               if host not in allocations
               or allocations[host].node_id not in nodes]
    by_display_name = {}
    if missing:
        for node in conn.baremetal.nodes(fields=list(polling.POLL_FIELDS)):
            display = (node.instance_info or {}).get('display_name')
            if display in missing:
                by_display_name.setdefault(display, []).append(node)
    for host in hostnames:
        alloc = allocations.get(host)
        if alloc and alloc.node_id in nodes:
            found[host] = (nodes[alloc.node_id], alloc)
        elif len(by_display_name.get(host, ())) > 1:
            raise exceptions.UndeployError(
                'hostname %s is carried by several nodes: %s; undeploy them '
                'by node instead' % (host, ', '.join(
                    n.name or n.id for n in by_display_name[host])))
        elif by_display_name.get(host):
            found[host] = (by_display_name[host][0], alloc)
        else:
            found[host] = (None, alloc)
    return found


def _wait_until_settled(conn, node, options, timeout):
    """Wait for a node in the middle of a deploy to reach a stable state."""
    nodes, done = polling.poll_nodes(
        conn, [node.id],
        lambda nodes: all(n.provision_state not in _TRANSITIONAL
                          for n in nodes.values()),
        timeout, interval=options.poll_interval,
        max_interval=options.poll_interval_max)
    if not done or node.id not in nodes:
        raise exceptions.UndeployError(
            'node %s is still %s after %ss' % (
                node.name or node.id,
                nodes[node.id].provision_state if node.id in nodes
                else 'gone', timeout))
    return nodes[node.id]


def _detach_vifs(conn, node, hostname):
    for vif in conn.baremetal.list_node_vifs(node):
        try:
            conn.baremetal.detach_vif_from_node(node, vif)
        except (sdk_exc.BadRequestException, sdk_exc.NotFoundException):
            LOG.debug('%s: VIF %s already detached from %s', hostname, vif,
                      node.id)


def undeploy_instances(conn, items, timeout=None, conf=None):
    """Undeploy hosts given as hostnames or instance dicts.

    :returns: ``{'undeployed': [{'hostname', 'node', 'provision_state'}],
        'not_found': [hostname...]}``.
    :raises: UndeployError naming each host that could not be undeployed;
        the other hosts are still undeployed.
    """
    options = baremetal_conf.get_conf(conf)
    timeout = timeout or options.undeploy_timeout
    hostnames = [_hostname(item) for item in items]
    found = find_nodes(conn, hostnames)
    errors, started, not_found = [], {}, []

    for host in hostnames:
        node, alloc = found[host]
        if node is None:
            if alloc is not None:
                LOG.warning('%s: allocation %s holds no node, deleting it',
                            host, alloc.id)
                conn.baremetal.delete_allocation(alloc, ignore_missing=True)
            LOG.warning('%s: no node carries this hostname; nothing to '
                        'undeploy', host)
            not_found.append(host)
            continue
        label = polling.node_label(node)
        if node.is_protected:
            errors.append('%s: node %s is protected; unset protection '
                          '(baremetal node set --unprotected) to undeploy it'
                          % (host, label))
            continue
        if node.provision_state in _UNDEPLOYABLE:
            LOG.warning('%s: node %s is already %s', host, label,
                        node.provision_state)
            started[node.id] = (host, node)
            continue
        try:
            if node.provision_state in _TRANSITIONAL:
                node = _wait_until_settled(conn, node, options, timeout)
            _detach_vifs(conn, node, host)
            polling.retry_while_locked(
                conn.baremetal.set_node_provision_state, node, 'deleted')
        except (sdk_exc.SDKException, exceptions.UndeployError) as exc:
            errors.append('%s: undeploy of node %s failed: %s'
                          % (host, label, exc))
            continue
        LOG.info('%s: undeploying node %s', host, label)
        started[node.id] = (host, node)

    undeployed = []
    if started:
        nodes, done = polling.poll_nodes(
            conn, list(started),
            lambda nodes: all(n.provision_state in DONE_STATES | FAILED_STATES
                              for n in nodes.values()),
            timeout, interval=options.poll_interval,
            max_interval=options.poll_interval_max)
        for node_id, (host, node) in started.items():
            current = nodes.get(node_id)
            state = current.provision_state if current else None
            label = node.name or node_id
            if state not in DONE_STATES:
                errors.append('%s: node %s is %s after undeploy: %s'
                              % (host, label, state,
                                 (current.last_error if current else None)
                                 or 'timed out after %ss' % timeout))
                continue
            _release(conn, current, host)
            undeployed.append({'hostname': host, 'node': node_id,
                               'node_name': node.name,
                               'provision_state': state})
    if errors:
        raise exceptions.UndeployError('; '.join(errors))
    return {'undeployed': undeployed, 'not_found': not_found}


def _release(conn, node, host):
    """Ironic normally drops both itself; make sure of it."""
    if node.instance_id:
        # An allocation sets instance_uuid to its own UUID.
        conn.baremetal.delete_allocation(node.instance_id,
                                         ignore_missing=True)
    if node.instance_info:
        conn.baremetal.patch_node(node, [{'op': 'replace',
                                          'path': '/instance_info',
                                          'value': {}}])
    LOG.info('%s: node %s is %s', host, node.name or node.id,
             node.provision_state)
