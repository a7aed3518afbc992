"""Find what a request already has in Ironic and what each instance needs.

This is the first step of every run, and what makes runs converge: after
any failure (a crash between reserving and deploying, a deploy that
failed, a run killed while waiting) the next run with the same input
finds each instance's state and carries on from there. The rule
(``doc/source/convergence.md``), per managed, provisioned instance, decided by
the allocation named after its hostname (or, for nodes deployed before
allocations, e.g. by Nova, a node whose ``instance_info`` carries the
hostname as ``display_name``):

====================================  ======================================
found                                 next step
====================================  ======================================
allocation, node ``active``           existing: deployed
allocation, node deploying            ``deploying``: wait for it
allocation, node ``available``        ``reserved``: deploy it (resume)
allocation, node deploy failed        undeploy it, pick a node again
allocation ``error``, no node         delete it, pick a node again
allocation ``allocating``             wait until Ironic processed it
no allocation, node ``active``        backfill an allocation: existing
no allocation, available node with    clear that leaked ``instance_info``,
the hostname as ``display_name``      pick a node
nothing                               ``not_found``: pick a node
====================================  ======================================

Anything else (the host's node is being rescued, cleaned, inspected...)
blocks the run with a message naming host, node and state. Only
allocations of the request's own hostnames are ever deleted, and only
those in ``error``: one another run is still ``allocating`` is waited
for, never deleted.

Requests: one allocation listing and one node listing (a listing per
poll while allocations are still ``allocating``), the bulk Neutron reads
of ``ports``, and writes only for repairs. Every check, including the
ports', passes before anything is written; an unchanged, converged
request writes nothing.
"""

import logging
import time

from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal import labels
from tripleo_baremetal import listing
from tripleo_baremetal import model
from tripleo_baremetal.provisioning import adopt
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import node_settings
from tripleo_baremetal.provisioning import polling
from tripleo_baremetal.provisioning import ports
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)

_FIELDS = ('uuid', 'name', 'provision_state', 'target_provision_state',
           'instance_uuid', 'instance_info', 'maintenance', 'last_error',
           'reservation')

#: Seconds between two allocation listings while waiting for Ironic's
#: tear-down of failed nodes to drop their allocations.
RELEASE_POLL = 0.5

# What an instance needs next (see the module docstring).
EXISTING = 'existing'
DEPLOYING = 'deploying'
RESERVED = 'reserved'
REDEPLOY = 'redeploy'          # its node failed: undeploy, then pick
RELEASE = 'release'            # its allocation holds nothing usable
CLEAR = 'clear'                # a leaked display_name on a free node
BACKFILL = 'backfill'
ADOPT = 'adopt'                # take over the running server (adopt.py)
NOT_FOUND = 'not_found'


def _entry(instance, node, allocation_id):
    """An instance found on its node, as a deployment in the node's state."""
    return model.Deployment(
        instance=instance.without_secrets(),
        reservation=model.Reservation.from_node(instance.hostname, node,
                                                allocation_id),
        provision_state=node.provision_state)


def _reservation(instance, node, allocation_id):
    """A reservation an earlier run left: deploy it (keeps the drive)."""
    return model.Deployment(
        instance=instance,
        reservation=model.Reservation.from_node(instance.hostname, node,
                                                allocation_id))


class _Inventory:
    """The allocations and nodes of one run, indexed for classification."""

    def __init__(self, allocations, nodes):
        self.allocations = allocations
        self.by_id = {node.id: node for node in nodes}
        self.by_name = {node.name: node for node in nodes if node.name}
        self.by_display = {}
        for node in nodes:
            display = (node.instance_info or {}).get('display_name')
            if display:
                self.by_display.setdefault(display, []).append(node)
        # Any allocation on a node; instance_uuid is the allocation's UUID.
        self.alloc_of_node = {alloc.node_id: alloc
                              for alloc in allocations.values()
                              if alloc.node_id}

    def carriers(self, host):
        """Nodes in use that carry ``host`` in their ``instance_info``.

        Nodes deployed by Nova have an ``instance_uuid`` (Nova's) but no
        allocation; the allocation of ``host``, when there is one, is
        compared by the caller.
        """
        return [node for node in self.by_display.get(host, ())
                if node.provision_state != states.AVAILABLE]

    def leaked(self, host):
        """Free nodes whose ``instance_info`` still names ``host``."""
        return [node for node in self.by_display.get(host, ())
                if node.provision_state == states.AVAILABLE
                and not node.instance_id]


def _pin_problem(instance, node, view):
    """Why the instance's pinned node contradicts what Ironic holds."""
    host, pinned = instance.hostname, instance.name
    if not pinned:
        return None
    pin = view.by_name.get(pinned) or view.by_id.get(pinned)
    if pin is None:
        return None
    if node is not None and pin.id != node.id:
        return ('%s: pinned to node %s but already deployed on node %s'
                % (host, labels.node_label(pin), labels.node_label(node)))
    alloc = view.alloc_of_node.get(pin.id)
    carried = alloc.name if alloc is not None else (
        (pin.instance_info or {}).get('display_name')
        if pin.provision_state != states.AVAILABLE else None)
    if carried and carried != host:
        return ('%s: pinned node %s already carries hostname %s'
                % (host, labels.node_label(pin), carried))
    return None


def _by_node_state(host, node):
    """What an allocated node's state says; ``(kind, problem)``."""
    state = node.provision_state
    if state == states.ACTIVE:
        return EXISTING, None
    if state in states.DEPLOY_IN_PROGRESS:
        return DEPLOYING, None
    if state == states.AVAILABLE:
        return (RELEASE if node.is_maintenance else RESERVED), None
    if state in states.DEPLOY_FAILED:
        return REDEPLOY, None
    return None, ('%s: node %s holds this host\'s allocation but is %s '
                  '(target %s); finish or abort that operation, then '
                  're-run' % (host, labels.node_label(node), state,
                              node.target_provision_state or 'none'))


def _classify_adopt(instance, view):
    """``(kind, node, None, problem)`` of an instance to adopt.

    Only for an instance without an allocation: once adopted, it has one
    and is classified like any other.
    """
    host, pinned = instance.hostname, instance.name
    node = view.by_name.get(pinned) or view.by_id.get(pinned)
    problem = _pin_problem(instance, None, view)
    if problem:
        return None, None, None, problem
    if node is None:
        return None, None, None, (
            '%s: adopt: node %s is not enrolled in Ironic; enrol it with '
            'its running server and make it manageable' % (host, pinned))
    state = node.provision_state
    if state == states.ACTIVE:
        return BACKFILL, node, None, None
    if state in states.ADOPTABLE or state == states.ADOPTING:
        return ADOPT, node, None, None
    return None, node, None, (
        '%s: adopt: node %s is %s; adoption takes over a running server '
        'from manageable (enrol the node, then manage it; never provide '
        'it, which cleans its disks). To deploy a new server there '
        'instead, drop adopt' % (host, labels.node_label(node), state))


def _classify(instance, view):
    """``(kind, node, allocation, problem)`` for one instance."""
    host = instance.hostname
    alloc = view.allocations.get(host)
    if instance.adopt and alloc is None:
        return _classify_adopt(instance, view)
    node = view.by_id.get(alloc.node_id) if alloc and alloc.node_id else None
    carriers = view.carriers(host)
    others = [n for n in carriers if node is None or n.id != node.id]
    if node is not None and others:
        return None, None, alloc, (
            '%s: allocation %s is on node %s but node %s also carries this '
            'hostname' % (host, alloc.id, labels.node_label(node),
                          labels.node_label(others[0])))
    if node is None and len(carriers) > 1:
        return None, None, alloc, (
            '%s: hostname is carried by nodes %s' % (
                host, ' and '.join(labels.node_label(n) for n in carriers)))
    problem = _pin_problem(instance, node or (carriers[0] if carriers
                                              else None), view)
    if problem:
        return None, None, alloc, problem
    if node is not None:
        kind, problem = _by_node_state(host, node)
        return kind, node, alloc, problem
    if alloc is not None:
        # In error (allocating ones were waited for): holds nothing.
        return RELEASE, None, alloc, None
    if carriers:
        node = carriers[0]
        if node.provision_state == states.ACTIVE:
            return BACKFILL, node, None, None
        return None, node, None, (
            '%s: node %s carries this hostname without an allocation and is '
            '%s; only an active node can be taken over' % (
                host, labels.node_label(node), node.provision_state))
    leaked = view.leaked(host)
    if leaked:
        return CLEAR, leaked[0], None, None
    return NOT_FOUND, None, None, None


def _resolve_ports(conn, found):
    """Complete the ports of every instance; return the updated rows."""
    rows = [row for row in found if row[0] != CLEAR]
    node_for_host = {row[1].hostname: row[2].id for row in rows
                     if row[2] is not None}
    resolved = ports.resolve_ports(conn, [row[1] for row in found],
                                   node_for_host)
    return [(kind, instance, node, alloc)
            for (kind, _old, node, alloc), instance in zip(found, resolved)]


def check_existing_instances(conn, instances, conf=None):
    """Find each instance's state and repair what an earlier run left.

    :param instances: ``model.Instance`` list; only managed, provisioned
        ones are looked at.
    :param conf: oslo.config object holding our options (default: CONF).
    :returns: ``{'instances': [model.Deployment, active], 'deploying':
        [the same, still deploying: wait for them], 'reserved':
        [model.Deployment without a state: deploy them], 'not_found':
        [model.Instance to pick nodes for], 'repaired': [what was cleaned
        up or adopted, as sentences], 'failed': [model.Deployment with
        ``error``: adoptions that failed]}``; every instance has its
        ports resolved, and those of ``reserved`` and ``not_found`` keep
        their config drive.
    :raises: InvalidInput (before any write) for a bad image, a hostname
        on two nodes, a pinned node carrying another hostname, bad
        ports; NodeStateError when a node's state blocks the run.
    """
    options = baremetal_conf.get_conf(conf)
    wanted = [inst for inst in instances if inst.wanted]
    _check_images(wanted, options)
    hostnames = {inst.hostname for inst in wanted}
    allocations = polling.settled_allocations(
        conn, hostnames, options.allocation_timeout) if wanted else {}
    view = _Inventory(allocations, listing.nodes(conn, _FIELDS))
    found, problems, blocked = [], [], []
    for instance in wanted:
        kind, node, alloc, problem = _classify(instance, view)
        if problem:
            (blocked if kind is None and node is not None
             else problems).append(problem)
        found.append((kind, instance, node, alloc))
    if problems:
        raise exceptions.InvalidInput(problems + blocked)
    if blocked:
        raise exceptions.NodeStateError('; '.join(blocked))

    # Every check passed: only now write anything.
    found = _resolve_ports(conn, found)
    result = {'instances': [], 'deploying': [], 'reserved': [],
              'not_found': [], 'repaired': [], 'failed': []}
    _repair(conn, found, result, options)
    LOG.info('%d instance(s) exist, %d deploying, %d reserved, %d to pick',
             len(result['instances']), len(result['deploying']),
             len(result['reserved']), len(result['not_found']))
    return result


def _check_images(instances, options):
    """Refuse unusable images of the whole request before any write."""
    problems = []
    for instance in instances:
        try:
            deploy.check_image(instance, options.check_local_images,
                               allowed_paths=options.file_url_allowed_paths)
        except exceptions.InvalidInput as exc:
            problems.extend(exc.errors)
    if problems:
        raise exceptions.InvalidInput(problems)


def _repair(conn, found, result, options):
    """Sort the instances into the result, repairing as the rule says."""
    undeployed = []
    _adopt(conn, [(instance, node) for kind, instance, node, _alloc in found
                  if kind == ADOPT], result, options)
    for kind, instance, node, alloc in found:
        host = instance.hostname
        if kind == ADOPT:
            continue
        if kind == EXISTING:
            result['instances'].append(_entry(instance, node, alloc.id))
        elif kind == DEPLOYING:
            result['deploying'].append(_entry(instance, node, alloc.id))
        elif kind == RESERVED:
            result['reserved'].append(_reservation(instance, node, alloc.id))
        elif kind == BACKFILL:
            result['instances'].append(_entry(
                instance, node, _backfill(conn, host, node)))
        else:
            result['not_found'].append(instance)
            repaired = _release(conn, kind, host, node, alloc)
            if repaired:
                result['repaired'].append(repaired)
            if kind == REDEPLOY:
                undeployed.append(alloc)
    if undeployed:
        _wait_released(conn, undeployed, options)


def _adopt(conn, items, result, options):
    """Adopt ``[(instance, node)]``; backfill their allocations.

    Failures go to ``result['failed']`` (deployments with ``error``):
    the run counts them against ``max_fail_percentage``.
    """
    if not items:
        return
    adopted, failed = adopt.adopt_nodes(conn, items, options.deploy_timeout,
                                        options)
    for instance, node in adopted:
        result['instances'].append(_entry(
            instance, node, _backfill(conn, instance.hostname, node)))
        result['repaired'].append('%s: adopted the server running on node '
                                  '%s' % (instance.hostname,
                                          labels.node_label(node)))
    for instance, message in failed:
        result['failed'].append(model.Deployment(
            instance=instance.without_secrets(), error=message))


def _release(conn, kind, host, node, alloc):
    """Undo what an earlier run left for ``host``; say what was done."""
    what = 'API call'
    try:
        if kind == REDEPLOY:
            what = 'undeploy of failed node %s' % labels.node_label(node)
            _undeploy(conn, node)
            return ('%s: node %s was %s (%s); undeployed it and picked a '
                    'node again' % (host, labels.node_label(node),
                                    node.provision_state,
                                    node.last_error or 'no error recorded'))
        if kind == RELEASE:
            what = 'deletion of allocation %s' % alloc.id
            api.retry(conn.baremetal.delete_allocation, alloc.id,
                      ignore_missing=True, what=what)
            reason = ('node %s is in maintenance' % labels.node_label(node)
                      if node is not None else 'it was in state %s: %s' % (
                          alloc.state, alloc.last_error or 'no error'))
            return ('%s: deleted allocation %s (%s); picked a node again'
                    % (host, alloc.id, reason))
        if kind == CLEAR:
            what = 'clean-up of node %s' % labels.node_label(node)
            node_settings.restore_node(conn, node)
            api.retry(conn.baremetal.patch_node, node.id, [
                {'op': 'replace', 'path': '/instance_info', 'value': {}}],
                what=what)
            return ('%s: cleared the instance_info an earlier run left on '
                    'available node %s' % (host, labels.node_label(node)))
    except api.ERRORS as exc:
        raise exceptions.ApiError('%s: %s failed: %s'
                                  % (host, what, api.describe(exc)))
    return None


def _undeploy(conn, node):
    """Request ``deleted`` for a failed node: Ironic drops the allocation.

    What the deploy set beyond instance_info is put back first.
    """
    node_settings.restore_node(conn, node)
    try:
        api.set_provision_state(conn, node.id, states.DELETED)
    except api.ERRORS:
        current = conn.baremetal.get_node(node.id, fields=['provision_state'])
        if current.provision_state not in (states.UNDEPLOY_IN_PROGRESS
                                           | states.NOT_DEPLOYED):
            raise
        # Our request arrived; only its answer was lost.


def _wait_released(conn, allocations, options):
    """Wait until Ironic's tear-down dropped the allocations of failed nodes.

    Tear-down deletes a node's allocation itself, a moment after the
    request; picking before that would find the hostname still taken.
    One allocation listing per poll, read as JSON (``listing``).
    """
    pending = {alloc.id for alloc in allocations}
    deadline = time.monotonic() + options.allocation_timeout
    while pending and time.monotonic() < deadline:
        time.sleep(RELEASE_POLL)
        present = {alloc.id for alloc in listing.allocations(
            conn, ['uuid'])}
        pending &= present
    for alloc_id in sorted(pending):
        LOG.warning('Allocation %s outlived its node\'s tear-down; deleting '
                    'it', alloc_id)
        api.retry(conn.baremetal.delete_allocation, alloc_id,
                  ignore_missing=True, what='deletion of %s' % alloc_id)


def _backfill(conn, host, node):
    """Give an active node deployed without an allocation its allocation."""
    LOG.info('%s: node %s is active without an allocation; creating one',
             host, labels.node_label(node))
    try:
        alloc = conn.baremetal.create_allocation(name=host, node=node.id)
        if alloc.state != states.ALLOCATION_ACTIVE:
            alloc = conn.baremetal.wait_for_allocation(alloc, timeout=60)
    except api.ERRORS as exc:
        # A refused backfill may leave an allocation in "error" behind;
        # a lost answer may have created it: read back by name.
        try:
            alloc = conn.baremetal.get_allocation(host)
            if alloc.node_id == node.id and \
                    alloc.state == states.ALLOCATION_ACTIVE:
                return alloc.id
            conn.baremetal.delete_allocation(host, ignore_missing=True)
        except api.ERRORS:
            pass
        raise exceptions.ReservationError(
            '%s: could not create an allocation for active node %s: %s'
            % (host, labels.node_label(node), api.describe(exc)))
    return alloc.id
