"""Undeploy instances by hostname: exactly the named hosts, nothing else.

A host is found by its allocation (named after the hostname), or, for a
node deployed without one (e.g. by Nova), by the ``display_name`` in its
``instance_info``: only on a node that is not free (``available``,
``manageable``, ``enroll``) and holds no allocation of another hostname.
Never by index or generated name: the node behind
``overcloud-novacompute-1`` is whichever node carries that hostname.

A run has four steps, each costing requests for all hosts at once:

1. *find*: one allocation listing and one node listing;
2. *start*: refuse a ``protected`` node, wait (one bulk listing per poll)
   for a node still ``deploying``, ``deleting`` or ``rebuilding`` to
   settle, then request ``deleted`` (one request per host). Ironic's
   tear-down detaches every VIF itself and unbinds its Neutron port;
   Heat's ports stay in Neutron: they belong to the stack;
3. *wait*, in bulk, through cleaning to ``available`` (``manageable`` or
   ``enroll`` when the node ends there);
4. *release*: make sure the host's allocation and ``instance_info`` are
   gone (Ironic normally drops both itself: a request only for what is
   left behind). Only an allocation named after the host is ever
   deleted, never another host's.

A leftover ``display_name`` on a free node without allocation is cleared
(the node is free already) and the host reported in ``not_found``. An
unknown or already undeployed host is a warning, not an error. Each
host's failure is recorded and the others carry on; one UndeployError at
the end names every failed host, its node and the state or error. A run
with the same input after any failure finishes the job.
"""

import collections
import logging
import time

from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal import labels
from tripleo_baremetal import model
from tripleo_baremetal.provisioning import node_settings
from tripleo_baremetal.provisioning import polling
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)

#: Ironic API version of the provision request.
#: Free nodes: nothing is deployed on them.
DONE_STATES = states.NOT_DEPLOYED
#: States a deploy (or rebuild, or undeploy) leaves by itself: wait for
#: the node to settle before deciding what to do with it.
_TRANSITIONAL = frozenset([states.DEPLOYING, states.DELETING,
                           states.REBUILDING])
#: States a node leaves by itself on its way back to a free state.
_UNDEPLOYING = states.UNDEPLOY_IN_PROGRESS | frozenset(
    [states.INSPECTING, states.INSPECTWAIT, states.VERIFYING,
     states.ADOPTING])
#: No ``deleted`` to request: free already, or on its way back.
_NO_REQUEST = DONE_STATES | _UNDEPLOYING
#: A node in one of these accepted an earlier ``deleted`` request.
_STARTED = states.UNDEPLOY_IN_PROGRESS | frozenset([states.AVAILABLE,
                                                    states.MANAGEABLE])

#: What was found for a hostname: its node (None when nothing carries
#: it), its allocation (or None), and free nodes of ours carrying a
#: leftover display_name of it.
Found = collections.namedtuple('Found', ['node', 'allocation', 'leaked'])


def _hostname(item):
    """The hostname of a hostname, a record with one, or a JSON mapping."""
    if isinstance(item, dict):
        return item.get('hostname')
    return getattr(item, 'hostname', item)


def unique_hostnames(items):
    """The hostnames of ``items`` (dicts or strings), each once, in order.

    :raises: InvalidInput naming each item without a hostname.
    """
    hostnames = [_hostname(item) for item in items]
    missing = ['item %d (%r) has no hostname' % (index, item)
               for index, (item, host) in enumerate(zip(items, hostnames))
               if not host or not isinstance(host, str)]
    if missing:
        raise exceptions.InvalidInput(missing)
    return list(dict.fromkeys(hostnames))


def _listing(hostnames, what, call, **kwargs):
    try:
        return list(call(**kwargs))
    except api.ERRORS as exc:
        raise exceptions.UndeployError(
            'cannot undeploy %s: listing %s failed: %s'
            % (', '.join(hostnames), what, api.describe(exc)))


def _carriers(nodes, hostnames, allocations):
    """``{hostname: [node...]}`` of nodes with that display_name.

    A node holding the allocation of another hostname is not one of them.
    """
    owner = {alloc.id: alloc.name for alloc in allocations}
    wanted = set(hostnames)
    found = collections.defaultdict(list)
    for node in nodes:
        display = (node.instance_info or {}).get('display_name')
        if display in wanted and owner.get(node.instance_id,
                                           display) == display:
            found[display].append(node)
    return found


def find_nodes(conn, hostnames):
    """Find what carries each hostname: two listings in all.

    :returns: ``({hostname: Found}, {hostname: error})``; a hostname with
        an error (several nodes carry it) is not in the first dict.
    :raises: UndeployError naming the hosts when a listing fails.
    """
    if not hostnames:
        return {}, {}
    allocations = _listing(hostnames, 'allocations',
                           conn.baremetal.allocations,
                           fields=list(polling.ALLOCATION_FIELDS))
    nodes = _listing(hostnames, 'nodes', conn.baremetal.nodes,
                     fields=list(polling.POLL_FIELDS))
    wanted = set(hostnames)
    by_name = {alloc.name: alloc for alloc in allocations
               if alloc.name in wanted}
    by_id = {node.id: node for node in nodes}
    carriers = _carriers(nodes, hostnames, allocations)
    found, errors = {}, {}
    for host in hostnames:
        alloc = by_name.get(host)
        node = by_id.get(alloc.node_id) if alloc else None
        deployed = [n for n in carriers[host]
                    if n.provision_state not in DONE_STATES]
        if node is None and len(deployed) > 1:
            errors[host] = (
                '%s: hostname carried by several nodes: %s; undeploy them '
                'by node instead' % (host, ', '.join(
                    labels.node_label(n) for n in deployed)))
            continue
        if node is None and deployed:
            node = deployed[0]
        leaked = [n for n in carriers[host]
                  if n.provision_state in DONE_STATES and not n.instance_id
                  and (node is None or n.id != node.id)]
        found[host] = Found(node, alloc, leaked)
    return found, errors


def _read_node(conn, node_id):
    """The node as it is now, or None when it cannot be read."""
    try:
        return conn.baremetal.get_node(node_id,
                                       fields=list(polling.POLL_FIELDS))
    except api.ERRORS as exc:
        LOG.warning('Cannot read node %s back: %s', node_id,
                    api.describe(exc))
        return None


class _Run(object):
    """The state of one undeploy run, host by host."""

    def __init__(self, conn, hostnames, options, timeout,
                 undeploy_adopted=False):
        self.conn = conn
        self.undeploy_adopted = undeploy_adopted
        self.hostnames = hostnames
        self.options = options
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.found = {}
        #: ``{hostname: message}`` of hosts that failed.
        self.errors = collections.OrderedDict()
        #: Hosts whose node was still undeploying at the timeout.
        self.timed_out = set()
        self.not_found = []
        #: ``{node id: hostname}`` of nodes undeploying (or undeployed).
        self.started = collections.OrderedDict()
        #: Ids of started nodes that are not free yet.
        self.pending = set()
        #: The latest view of every node of the run, by id (None: gone).
        self.nodes = {}

    def retry(self, call, *args, what, **kwargs):
        return api.retry(call, *args, what=what,
                         attempts=self.options.api_retries,
                         delay=self.options.api_retry_delay, **kwargs)

    def remaining(self):
        return max(0.0, self.deadline - time.monotonic())

    def fail(self, host, message):
        LOG.error('%s', message)
        self.errors.setdefault(host, message)

    # Find

    def find(self):
        self.found, errors = find_nodes(self.conn, self.hostnames)
        for host, message in errors.items():
            self.fail(host, message)
        for host, found in self.found.items():
            if found.node is not None:
                self.nodes[found.node.id] = found.node
            for node in found.leaked:
                self.clear_leak(host, node)
            if found.node is None:
                self.not_found_host(host, found.allocation)

    def clear_leak(self, host, node):
        LOG.warning('%s: free node %s still carries this hostname in its '
                    'instance_info; clearing it', host,
                    labels.node_label(node))
        self.patch_instance_info(host, node)

    def not_found_host(self, host, alloc):
        """Nothing carries ``host``: drop an allocation left without node."""
        if alloc is not None:
            if alloc.state == states.ALLOCATING:
                self.fail(host, '%s: allocation %s is still being processed '
                          'by Ironic; run the undeploy again once it is '
                          'done' % (host, alloc.id))
                return
            LOG.warning('%s: allocation %s holds no node, deleting it',
                        host, alloc.id)
            if not self.delete_allocation(host, alloc, None):
                return
        LOG.warning('%s: no node carries this hostname; nothing to '
                    'undeploy', host)
        self.not_found.append(host)

    # Start

    def start(self):
        """Request ``deleted`` wherever a node of ours is deployed."""
        settling = collections.OrderedDict()
        to_request = []
        for host in self.hostnames:
            found = self.found.get(host)
            if found is None or found.node is None:
                continue
            node = found.node
            if node.is_protected:
                self.fail(host, '%s: node %s is protected; unset protection '
                          '(baremetal node set --unprotected) to undeploy '
                          'it' % (host, labels.node_label(node)))
            elif node_settings.is_adopted(node) and \
                    not self.undeploy_adopted:
                self.fail(host, '%s: node %s runs a server that was adopted '
                          '(taken over as it ran), never deployed by this '
                          'tool; undeploying it wipes that server. Ask for '
                          'it explicitly (undeploy_adopted, '
                          '--undeploy-adopted) to undeploy it'
                          % (host, labels.node_label(node)))
            elif node.provision_state in _TRANSITIONAL:
                LOG.info('%s: node %s is %s, waiting for it to settle',
                         host, labels.node_label(node),
                         node.provision_state)
                settling[node.id] = host
            else:
                to_request.append(host)
        # Nodes that need no waiting undeploy while the others settle.
        for host in to_request:
            self.begin(host)
        for host in self.settle(settling):
            self.begin(host)

    def settle(self, settling):
        """Wait for nodes in the middle of a deploy or undeploy to settle.

        :returns: the hosts whose nodes settled, to be undeployed now.
        """
        if not settling:
            return []
        try:
            nodes, _ = polling.poll_nodes(
                self.conn, list(settling),
                lambda nodes: all(n.provision_state not in _TRANSITIONAL
                                  for n in nodes.values()),
                self.remaining(), interval=self.options.poll_interval,
                max_interval=self.options.poll_interval_max)
        except api.ERRORS as exc:
            for node_id, host in settling.items():
                self.fail(host, '%s: cannot read the state of node %s: %s'
                          % (host, labels.node_label(self.nodes[node_id]),
                             api.describe(exc)))
            return []
        settled = []
        for node_id, host in settling.items():
            node = nodes.get(node_id)
            label = labels.node_label(self.nodes[node_id])
            if node is None:
                self.fail(host, '%s: node %s is gone' % (host, label))
            elif node.provision_state in _TRANSITIONAL:
                self.fail(host, '%s: node %s is still %s after %ss'
                          % (host, label, node.provision_state,
                             self.timeout))
            else:
                LOG.info('%s: node %s settled in %s', host, label,
                         node.provision_state)
                self.nodes[node_id] = node
                settled.append(host)
        return settled

    def begin(self, host):
        """Request ``deleted`` for the host's node unless it is free."""
        node = self.nodes[self.found[host].node.id]
        label = labels.node_label(node)
        self.started[node.id] = host
        if node.provision_state in _NO_REQUEST:
            LOG.warning('%s: node %s is already %s', host, label,
                        node.provision_state)
            if node.provision_state not in DONE_STATES:
                self.pending.add(node.id)
            return
        problems = node_settings.restore_node(self.conn, node)
        if problems:
            del self.started[node.id]
            self.fail(host, '%s: not undeployed: %s (tear-down would lose '
                      'what to restore)' % (host, '; '.join(problems)))
            return
        self.pending.add(node.id)
        try:
            self.request_deleted(node.id)
        except api.ERRORS as exc:
            # Refused, or its answer lost: did the undeploy start anyway?
            current = _read_node(self.conn, node.id)
            if current is None or current.provision_state not in _STARTED:
                del self.started[node.id]
                self.fail(host, '%s: undeploy of node %s (%s) failed: %s'
                          % (host, label, node.provision_state,
                             api.describe(exc)))
                return
            LOG.info('%s: node %s is %s: its undeploy did start (%s)',
                     host, label, current.provision_state,
                     api.describe(exc))
        else:
            LOG.info('%s: undeploying node %s', host, label)

    def request_deleted(self, node_id):
        """One PUT: the SDK's call would read the node back (one more GET)."""
        api.set_provision_state(self.conn, node_id, states.DELETED,
                                what='undeploy of node %s' % node_id,
                                attempts=self.options.api_retries,
                                delay=self.options.api_retry_delay)

    # Wait

    def wait(self):
        """Poll, in bulk, the nodes undeploying until none moves any more."""
        pending = [node_id for node_id in self.started
                   if node_id in self.pending]
        if not pending:
            return
        try:
            nodes, _ = polling.poll_nodes(
                self.conn, pending,
                lambda nodes: all(n.provision_state not in _UNDEPLOYING
                                  for n in nodes.values()),
                self.remaining(), interval=self.options.poll_interval,
                max_interval=self.options.poll_interval_max)
        except api.ERRORS as exc:
            for node_id in pending:
                host = self.started.pop(node_id)
                self.fail(host, '%s: cannot read the state of node %s: %s'
                          % (host, labels.node_label(self.nodes[node_id]),
                             api.describe(exc)))
            return
        for node_id in pending:
            self.nodes[node_id] = nodes.get(node_id)

    # Release

    def release(self):
        """Check how each started node ended; drop what is left behind.

        :returns: the undeployed hosts, in request order.
        """
        undeployed = []
        for node_id, host in self.started.items():
            node = self.nodes.get(node_id)
            label = labels.node_label(self.found[host].node)
            if node is None or node.provision_state not in DONE_STATES:
                if node is not None and \
                        node.provision_state in _UNDEPLOYING:
                    self.timed_out.add(host)
                self.fail(host, '%s: node %s is %s after undeploy: %s' % (
                    host, label, node.provision_state if node else 'gone',
                    _why(node, self.timeout)))
                continue
            if not self.release_node(host, node):
                continue
            LOG.info('%s: node %s is %s', host, label, node.provision_state)
            undeployed.append(model.Undeployed(
                hostname=host, node=node_id, node_name=node.name,
                provision_state=node.provision_state))
        order = {host: index for index, host in enumerate(self.hostnames)}
        return sorted(undeployed, key=lambda item: order[item.hostname])

    def release_node(self, host, node):
        """Delete the host's allocation and instance_info if still there."""
        alloc = self.found[host].allocation
        alloc_id = alloc.id if alloc is not None else None
        if alloc is not None and alloc.state == states.ALLOCATING:
            LOG.warning('%s: allocation %s is being processed by Ironic; '
                        'leaving it', host, alloc_id)
        elif alloc is not None and (alloc.node_id != node.id
                                    or node.instance_id == alloc_id):
            if not self.delete_allocation(host, alloc, node):
                return False
        if node.instance_id is not None and node.instance_id != alloc_id:
            # Another client reserved the node since it became free:
            # its instance_info is no longer ours to clear.
            LOG.warning('%s: node %s now holds %s, leaving it alone', host,
                        labels.node_label(node), node.instance_id)
            return True
        info = node.instance_info or {}
        if info and info.get('display_name') in (None, host):
            return self.patch_instance_info(host, node)
        return True

    def delete_allocation(self, host, alloc, node):
        """Delete ``alloc``, found by its name: ``host``, never another."""
        try:
            self.retry(self.conn.baremetal.delete_allocation, alloc.id,
                       ignore_missing=True,
                       what='deleting allocation %s' % alloc.id)
        except api.ERRORS as exc:
            self.fail(host, '%s: cannot delete allocation %s%s: %s' % (
                host, alloc.id,
                ' of node %s' % labels.node_label(node) if node else '',
                api.describe(exc)))
            return False
        return True

    def patch_instance_info(self, host, node):
        # Its record of what to put back goes with the instance_info.
        node_settings.restore_node(self.conn, node)
        try:
            self.retry(self.conn.baremetal.patch_node, node.id,
                       [{'op': 'replace', 'path': '/instance_info',
                         'value': {}}], retry_on_conflict=False,
                       what='clearing instance_info of node %s' % node.id)
        except api.ERRORS as exc:
            self.fail(host, '%s: cannot clear instance_info of node %s: %s'
                      % (host, labels.node_label(node), api.describe(exc)))
            return False
        return True

    def raise_errors(self, undeployed):
        if not self.errors:
            return
        message = '; '.join(self.errors.values())
        if undeployed:
            message += ' (undeployed: %s)' % ', '.join(
                item.hostname for item in undeployed)
        if set(self.errors) == self.timed_out:
            raise exceptions.UndeployTimeout(message)
        raise exceptions.UndeployError(message)


def _why(node, timeout):
    if node is None:
        return 'it was deleted'
    if node.last_error:
        return node.last_error
    if node.is_maintenance:
        return 'in maintenance: %s' % (node.maintenance_reason
                                       or 'no reason given')
    if node.provision_state in _UNDEPLOYING:
        return 'timed out after %ss' % timeout
    return 'no error recorded'


def undeploy_instances(conn, items, timeout=None, conf=None,
                       undeploy_adopted=False):
    """Undeploy hosts given as hostnames or records with a ``hostname``.

    Each hostname is undeployed once, whatever the number of items naming
    it, in the order first seen. The root device hint and target RAID
    config a deploy set are put back first.

    :param undeploy_adopted: also undeploy servers that were adopted
        (taken over as they ran); refused for them otherwise, since it
        wipes a server this tool never deployed.

    :returns: ``{'undeployed': [model.Undeployed], 'not_found':
        [hostname...]}``.
    :raises: UndeployError naming each host that could not be undeployed,
        its node and why (UndeployTimeout when every failure is a node
        still undeploying at the timeout); the other hosts are still
        undeployed.
    """
    options = baremetal_conf.get_conf(conf)
    run = _Run(conn, unique_hostnames(items), options,
               timeout or options.undeploy_timeout,
               undeploy_adopted=undeploy_adopted)
    run.find()
    run.start()
    run.wait()
    undeployed = run.release()
    run.raise_errors(undeployed)
    return {'undeployed': undeployed, 'not_found': run.not_found}
