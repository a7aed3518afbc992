"""Pick nodes for instances: plan them all, then reserve them in Ironic.

``pick_nodes`` reads the nodes once, plans every instance of the request
together (``placement``), and reserves each planned node with one
allocation of Ironic's Allocation API, named after the hostname, with
the instance's resource class and traits and the planned node as the
only candidate, so that Ironic itself guarantees that no node is booked
twice. Allocations are created from a thread pool, with at most
``concurrency`` of them in flight (each one occupies a conductor worker
until processed; a flooded conductor answers HTTP 503, which is waited
out), and watched with one allocation listing per poll.

Another client may take a planned node between our listing and our
allocation: Ironic then fails that allocation. The failed allocation is
deleted and the affected instances are planned again against fresh node
data, for as long as that makes progress (``MAX_REPLANS``). If no
complete set of reservations can be made, every allocation this run
created is deleted before the error is raised: a failed run leaves
nothing reserved.

No host is ever dropped: a hostname that already has an allocation
(left by an interrupted run, or made meanwhile by another run of the
same request) is not reserved twice, and it is returned among the
reservations all the same once Ironic has processed it, so that the
caller deploys it (or, if its node is already deploying or active,
waits for it). A create whose answer was lost (a dropped connection, a
gateway timeout) is read back by name rather than repeated or deleted.

What the node listing said of each node this run reserved is returned
too (``node_snapshots``): Ironic allocates only an available node out of
maintenance, so the deploy that follows need not read the node again.

Requests: one allocation listing (to find hostnames that already have
an allocation), one node listing, one allocation creation per instance,
and one allocation listing per poll (a poll per ``concurrency``
instances or so); a lost race costs a node listing and a deletion more.
A request with ``root_device`` also reads the inventory of each node that
passes its other checks, once per run (``inventory``).
"""

import collections
from concurrent import futures
import logging
import re
import time

from openstack import exceptions as sdk_exc

from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal import labels
from tripleo_baremetal import listing
from tripleo_baremetal import model
from tripleo_baremetal.picking import inventory
from tripleo_baremetal.picking import node_filters
from tripleo_baremetal.picking import placement
from tripleo_baremetal.provisioning import node_settings
from tripleo_baremetal.provisioning import polling
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)

#: Allocation fields the listings ask for (keeps responses small).
ALLOCATION_FIELDS = polling.ALLOCATION_FIELDS

#: HTTP statuses after which Ironic keeps the allocation it was asked to
#: create but never processes it (no free conductor worker, a crash): it
#: is deleted by name and created again.
_STUCK_STATUSES = frozenset([500, 503])

#: Allocations take milliseconds with a local conductor: poll quickly,
#: then back off.
POLL_INTERVAL = 0.2
POLL_INTERVAL_MAX = 2.0
POLL_BACKOFF = 1.5

#: First and longest pause before creating again an allocation that
#: Ironic refused with HTTP 503 (no free conductor worker).
THROTTLE_DELAY = 0.5
THROTTLE_DELAY_MAX = 5.0

#: How many re-plans in a row may reserve nothing new before giving up.
#: A round that reserves something does not count: with several clients
#: racing for a pool that just fits, each round settles some nodes, and
#: the run ends anyway when every instance has a node, when no complete
#: plan is left, or at the timeout.
MAX_REPLANS = 3


def list_nodes(conn):
    """One listing of every node, as ``node_filters.NodeView`` records.

    Nothing is filtered server-side: the report has to explain why each
    node was not used (active, in maintenance, another resource class),
    so those nodes are needed too. Asking only for the fields planning
    uses keeps the response small (the detailed listing cannot be
    narrowed with ``fields``). Read as JSON (``listing``): a pick of
    1,000 hosts on 1,200 nodes lists them once per attempt.
    """
    return [node_filters.node_view(node) for node in
            listing.nodes(conn, node_filters.NODE_FIELDS)]


def _list_allocations(conn):
    """Every allocation, read as JSON (the pick polls it; ``listing``)."""
    return listing.allocations(conn, ALLOCATION_FIELDS)


def _validate(instances):
    """Raise InvalidInput naming every malformed or duplicate instance."""
    problems, seen = [], set()
    for instance in instances:
        host = instance.hostname
        if not host:
            # Never quote the instance: its config_drive may hold secrets.
            problems.append('an instance (role %s, index %s) has no '
                            'hostname' % (instance.role, instance.index))
            continue
        if host in seen:
            problems.append('%s: hostname requested twice' % host)
        seen.add(host)
        problems.extend(node_filters.validate(instance))
    if problems:
        raise exceptions.InvalidInput(problems)


def _reservation(host, alloc, names):
    """The ``model.Reservation`` of ``host`` by the SDK allocation ``alloc``.

    :param names: ``{node uuid: node name}`` (allocations carry no name).
    """
    return model.Reservation(hostname=host, node=alloc.node_id,
                             node_name=names.get(alloc.node_id),
                             allocation=alloc.id)


def _sorted(reservations):
    """Reservations in natural hostname order (``node-9`` before 10)."""
    return sorted(reservations,
                  key=lambda item: placement.natural_key(item.hostname))


def _find_existing(conn, hostnames, timeout):
    """Allocations already named after a hostname of the request.

    Allocations still ``allocating`` (another run's, or a crashed run's
    that Ironic is finishing) are waited for first, never deleted.

    :returns: ``(existing, stale)``: ``{hostname: allocation}`` holding a
        node (never created twice), and ``{hostname: allocation}`` in
        ``error``, which hold nothing and are replaced.
    """
    existing, stale = {}, {}
    for host, alloc in polling.settled_allocations(conn, hostnames,
                                                   timeout).items():
        if host not in hostnames:
            continue
        if alloc.node_id:
            existing[host] = alloc
        else:
            stale[host] = alloc
    return existing, stale


def pick_nodes(conn, instances, concurrency=20, dry_run=False, timeout=None,
               conf=None):
    """Plan and reserve a node for every instance that needs one.

    :param instances: ``model.Instance`` records; only the ``wanted``
        ones (managed and provisioned) are picked for.
    :param concurrency: how many allocations are created at once.
    :param dry_run: plan and report only; nothing is written to Ironic.
    :param timeout: seconds Ironic may go without processing any of the
        allocations being waited for (default: the ``allocation_timeout``
        option). The window is restarted by each allocation Ironic
        processes, so that a run of a thousand allocations, which takes
        longer than the timeout on a busy conductor, is not cut off while
        it progresses; a conductor that stops processing them is noticed
        within ``timeout``.
    :param conf: oslo.config object holding our options (default: the
        global CONF).
    :returns: ``{'reservations': [model.Reservation], 'existing':
        [model.Reservation], 'existing_states': {hostname: allocation
        state}, 'plan': {hostname: node name or UUID}, 'report': str,
        'node_snapshots': {hostname: node_snapshot()}}``; snapshots only
        of the nodes this call reserved.
        ``existing`` are the hostnames that already had an allocation
        (an earlier run's, or another run's made meanwhile): they are
        among the reservations too, not created again, and
        ``existing_states`` holds the state their allocation had. Both
        lists are in natural hostname order. With ``dry_run`` the
        reservations are empty and ``plan`` and ``report`` say what
        would be reserved (an impossible plan raises PlacementError all
        the same).
    :raises: InvalidInput for malformed requests, PlacementError (with
        the per-instance report) when no complete plan exists,
        ReservationError when Ironic refuses the reservations, and its
        subclass ReservationTimeout when Ironic processes none of them
        for ``timeout`` seconds; in every error case nothing this call
        reserved is left behind.
    """
    wanted = [inst for inst in instances if inst.wanted]
    _validate(wanted)
    if not wanted:
        return _result(report='No instance needs a node.')
    if timeout is None:
        timeout = baremetal_conf.get_conf(conf).allocation_timeout

    existing, stale = _find_existing(conn, {inst.hostname for inst in wanted},
                                     timeout)
    nodes = list_nodes(conn)
    names = {node.uuid: node.name for node in nodes}
    adopted = _adopt(existing, names)
    to_pick = [inst for inst in wanted if inst.hostname not in existing]
    inventories = inventory.Inventories(conn, concurrency)
    planned = _plan(to_pick, inventories.with_disks(nodes, to_pick))
    if dry_run:
        return _result(existing=adopted, plan=_labels(planned),
                       report=planned['report'] + _stale_note(stale))
    reservations = [item for item, _state in adopted]
    if not to_pick:
        return _result(reservations, adopted, _labels(planned),
                       planned['report'])

    _delete_stale(conn, stale)
    reserver = _Reserver(conn, to_pick, concurrency, timeout, names=names,
                         inventories=inventories,
                         views={node.uuid: node for node in nodes})
    created = reserver.run(planned['assignments'])
    reservations = _sorted(reservations + created)
    taken = {item.hostname for item, _state in reserver.taken}
    return _result(reservations, adopted + reserver.taken,
                   {item.hostname: item.node_name or item.node
                    for item in reservations},
                   planned['report'] + reserver.notes(),
                   {item.hostname: node_snapshot(reserver.views[item.node],
                                                 item.allocation)
                    for item in created if item.hostname not in taken
                    and item.node in reserver.views})


def node_snapshot(view, allocation):
    """What a deploy needs of a node this run reserved by ``allocation``.

    Ironic's field names (``provisioning.known.node`` reads them). The node was
    available and out of maintenance, or Ironic would not have allocated
    it.
    """
    return {'uuid': view.uuid, 'name': view.name,
            'provision_state': states.AVAILABLE, 'maintenance': False,
            'allocation_uuid': allocation,
            'properties': dict(view.properties)}


def _result(reservations=(), existing=(), plan=None, report='',
            snapshots=None):
    """What ``pick_nodes`` returns; ``existing`` as (reservation, state)."""
    return {'reservations': _sorted(reservations),
            'existing': _sorted(item for item, _state in existing),
            'existing_states': {item.hostname: state
                                for item, state in existing},
            'plan': dict(plan or {}), 'report': report,
            'node_snapshots': dict(snapshots or {})}


def _adopt(existing, names):
    """``[(Reservation, state)]`` of the allocations found by hostname.

    They are reserved already (by an earlier run, or another run of the
    same request): used as they are, never created again.
    """
    adopted = []
    for host, alloc in existing.items():
        LOG.warning('%s: allocation %s (%s) already exists; not picking a '
                    'node again', host, alloc.id, alloc.state)
        adopted.append((_reservation(host, alloc, names), alloc.state))
    return adopted


def _plan(instances, nodes):
    """``placement.plan``; PlacementError (with its report) if incomplete."""
    planned = placement.plan(instances, nodes)
    if not planned['complete']:
        raise exceptions.PlacementError(planned['report'],
                                        report=planned['report'])
    return planned


def _labels(planned):
    """``{hostname: node name or UUID}`` of a plan, for the caller."""
    return {host: node.label
            for host, node in planned['assignments'].items()}


def _stale_note(stale):
    """The dry-run report line naming failed allocations to replace."""
    if not stale:
        return ''
    return '\nFailed allocations to replace: %s' % ', '.join(sorted(stale))


def _delete_stale(conn, stale):
    """Delete ``{hostname: allocation}`` left in error by an earlier run.

    They hold no node but their name: the hostname's new allocation
    needs it.
    """
    for host, alloc in sorted(stale.items()):
        LOG.info('%s: deleting allocation %s left in error (%s)', host,
                 alloc.id, alloc.last_error)
        try:
            api.retry(conn.baremetal.delete_allocation, alloc.id,
                      ignore_missing=True, what='deleting %s' % alloc.id)
        except api.ERRORS as exc:
            raise exceptions.ReservationError(
                '%s: cannot delete failed allocation %s of an earlier run: '
                '%s' % (host, alloc.id, api.describe(exc)))


#: Ironic prefixes every allocation error with the allocation's UUID.
_ALLOCATION_PREFIX = re.compile(r'^Failed to process allocation \S+: ')


def _describe_failures(failures, todo):
    """``"<error>: host on node, ... and N more; <error>: ..."``.

    Failures are grouped by Ironic's message, so that hundreds of them
    (e.g. a busy conductor) stay readable.
    """
    groups = collections.defaultdict(list)
    for host in sorted(failures, key=placement.natural_key):
        message = _ALLOCATION_PREFIX.sub('', str(failures[host])).strip()
        groups[message].append('%s on %s' % (host, todo[host].label))
    return '; '.join('%s: %s' % (message, placement.name_list(entries))
                     for message, entries in sorted(
                         groups.items(), key=lambda item: -len(item[1])))


class _Reserver(object):
    """One reservation run: what it created, so it can undo all of it."""

    def __init__(self, conn, instances, concurrency, timeout, names=None,
                 clock=time.monotonic, sleep=time.sleep, views=None,
                 inventories=None):
        self.conn = conn
        #: The inventories read so far (re-plans read no node twice).
        self.inventories = inventories or inventory.Inventories(
            conn, concurrency)
        #: node uuid -> node name, for the reservations' ``node_name``.
        self.names = dict(names or {})
        #: node uuid -> NodeView of the latest listing (``node_snapshot``).
        self.views = dict(views or {})
        #: hostname -> model.Instance being reserved.
        self.by_host = {inst.hostname: inst for inst in instances}
        self.workers = max(1, min(int(concurrency or 1), len(instances)))
        self.clock = clock
        self.sleep = sleep
        self.deadline = clock() + timeout
        self.timeout = timeout
        #: hostname -> allocation id of every live allocation we created.
        self.created = {}
        #: ``(Reservation, allocation state)`` of hostnames whose
        #: allocation another client made first; reserved all the same.
        self.taken = []
        #: report lines about re-plans.
        self.replanned = []
        #: hostname -> planned NodeView of the current attempt.
        self.planned = {}
        #: hostnames whose creation Ironic answered with 503 (busy).
        self.throttled = []

    def run(self, assignments):
        """Reserve ``{hostname: NodeView}``, re-planning after lost races.

        :returns: the ``model.Reservation`` of every hostname.
        """
        done, todo, attempt, stalled = {}, assignments, 0, 0
        try:
            while True:
                before = len(done)
                failures = self._attempt(todo, done)
                if not failures:
                    return list(done.values())
                attempt += 1
                stalled = 0 if len(done) > before else stalled + 1
                text = _describe_failures(failures, todo)
                if stalled > MAX_REPLANS:
                    raise exceptions.ReservationError(
                        'Ironic refused %d reservation(s) in %d re-plan(s) '
                        'in a row: %s' % (len(failures), MAX_REPLANS, text))
                LOG.warning('Re-planning %d instance(s) whose nodes could '
                            'not be reserved (taken by another client?): %s',
                            len(failures), text)
                self.replanned.append('Re-planned after refused '
                                      'reservations: %s' % text)
                todo = self._replan(sorted(failures), attempt, text)
        except BaseException:
            self.release_all()
            raise

    def _replan(self, hostnames, attempt, text):
        nodes = list_nodes(self.conn)
        self.names.update((node.uuid, node.name) for node in nodes)
        self.views.update((node.uuid, node) for node in nodes)
        salt = '%s/%d' % (','.join(sorted(self.by_host)), attempt)
        instances = [self.by_host[h] for h in hostnames]
        planned = placement.plan(
            instances, self.inventories.with_disks(nodes, instances),
            salt=salt)
        if not planned['complete']:
            message = ('Other clients took planned nodes (%s) and no '
                       'complete plan is left:\n%s' % (text,
                                                       planned['report']))
            raise exceptions.PlacementError(message, report=planned['report'])
        return planned['assignments']

    def _create(self, host, node):
        """Create one allocation; ``(allocation, None)`` or ``(None, error)``.

        HTTP 503 means the conductor has no free worker, and after a 500
        Ironic may have stored the allocation too (it then stays
        ``allocating`` for ever): it is deleted by name and created again
        after a pause, until the deadline. No answer at all (a dropped
        connection, a timeout, a gateway error) means the request may
        have arrived: the allocation is read back by name and used when
        it exists, else created again. HTTP 409 is the caller's.
        """
        req = node_filters.requirements(self.by_host[host])
        delay = THROTTLE_DELAY
        while True:
            try:
                alloc = self.conn.baremetal.create_allocation(
                    name=host, resource_class=req.resource_class,
                    traits=sorted(req.traits),
                    candidate_nodes=[node.uuid])
            except api.ERRORS as exc:
                status = getattr(exc, 'status_code', None) or 0
                if 400 <= status < 500 or not api.is_transient(exc):
                    return None, exc
                if status in _STUCK_STATUSES:
                    # No one else uses our hostname (checked before).
                    self._delete(host)
                else:
                    found = self._read_back(host, node)
                    if found is not None:
                        return found, None
                if self.clock() + delay >= self.deadline:
                    return None, exc
                LOG.debug('%s: %s; creating the allocation again in %.1fs',
                          host, api.describe(exc), delay)
                if status == 503:
                    self.throttled.append(host)
                self.sleep(delay)
                delay = min(delay * 2, THROTTLE_DELAY_MAX)
                continue
            # Recorded at once, so a failure anywhere later releases it.
            self.created[host] = alloc.id
            return alloc, None

    def _read_back(self, host, node):
        """The allocation named ``host``, if a lost request created it.

        One made for our planned node is taken as ours (released on
        failure like one we saw created); None when there is none.
        """
        try:
            alloc = api.retry(self.conn.baremetal.get_allocation, host,
                              fields=list(ALLOCATION_FIELDS)
                              + ['candidate_nodes'],
                              what='reading back allocation %s' % host)
        except sdk_exc.NotFoundException:
            return None
        except api.ERRORS as exc:
            LOG.warning('%s: cannot read back the allocation: %s', host,
                        api.describe(exc))
            return None
        if list(alloc.candidate_nodes or ()) == [node.uuid]:
            LOG.info('%s: allocation %s was created although its answer '
                     'was lost', host, alloc.id)
            self.created[host] = alloc.id
        return alloc

    def _attempt(self, todo, done):
        """Create and wait for allocations; ``{hostname: error}`` refused.

        At most ``concurrency`` allocations are being created or processed
        by Ironic at any time (a sliding window refilled after each poll):
        every allocation takes a conductor worker, and a conductor flooded
        with hundreds answers HTTP 503. Reserved hostnames go to ``done``
        (``{hostname: Reservation}``).
        """
        failures, pending = {}, {}
        queue = collections.deque(sorted(todo, key=placement.natural_key))
        interval = POLL_INTERVAL
        self.planned = todo
        with futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            while True:
                waiting = [host for host, alloc in pending.items()
                           if alloc.state == states.ALLOCATING]
                room = min(self.workers - len(waiting), len(queue))
                if room > 0:
                    batch = [queue.popleft() for _ in range(room)]
                    self._create_batch(pool, batch, pending, failures)
                elif waiting:
                    interval = self._wait(pending, waiting, interval)
                else:
                    break
        self._settle(pending, done, failures)
        return failures

    def _create_batch(self, pool, batch, pending, failures):
        """Create the allocations of ``batch`` (hostnames) in ``pool``.

        Created (or found) allocations go to ``pending``, refused ones
        to ``failures``.
        """
        def create(host):
            return (host,) + self._create(host, self.planned[host])

        for host, alloc, error in pool.map(create, batch):
            if alloc is None and isinstance(error, sdk_exc.ConflictException):
                alloc = self._conflict(host, error, failures)
            if alloc is not None:
                pending[host] = alloc
            elif host not in failures:
                failures[host] = api.describe(error)

    def _wait(self, pending, waiting, interval):
        """Sleep ``interval`` (within the deadline), then poll once.

        :returns: the next interval: short again after a poll that saw an
            allocation end, longer otherwise.
        :raises: ReservationTimeout naming the ``waiting`` hostnames once
            the deadline has passed.
        """
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            raise exceptions.ReservationTimeout(
                'Ironic did not process the allocations of %s within %ss '
                '(allocation_timeout: none of those waited for was '
                'processed in that time)'
                % (', '.join(sorted(waiting, key=placement.natural_key)),
                   self.timeout))
        self.sleep(min(interval, remaining))
        if self._poll(pending):
            # Ironic is processing them: the timeout is for a stall, not
            # for the whole run (see pick_nodes).
            self.deadline = self.clock() + self.timeout
            return POLL_INTERVAL
        return min(interval * POLL_BACKOFF, POLL_INTERVAL_MAX)

    def _settle(self, pending, done, failures):
        """Sort processed allocations into ``done`` and ``failures``.

        A failed allocation holds no node but the hostname: it is deleted
        so that a re-plan can create it again.
        """
        for host, alloc in pending.items():
            if alloc.state == states.ALLOCATION_ACTIVE:
                done[host] = _reservation(host, alloc, self.names)
                continue
            failures[host] = alloc.last_error or 'allocation failed'
            LOG.info('%s: allocation %s for node %s failed: %s', host,
                     alloc.id, self.planned[host].label, failures[host])
            self.created.pop(host, None)
            self._delete(host, alloc.id)

    def _poll(self, pending):
        """One allocation listing; update ``pending``; True if any ended."""
        ours = {alloc.id: host for host, alloc in pending.items()
                if alloc.state == states.ALLOCATING}
        ended = False
        for alloc in _list_allocations(self.conn):
            host = ours.get(alloc.id)
            if host is not None:
                pending[host] = alloc
                ended = ended or alloc.state != states.ALLOCATING
        return ended

    def _conflict(self, host, error, failures):
        """HTTP 409 on creation: usually the name is already taken.

        By this run's own request whose answer was lost, or by another
        run of the same request: either way the allocation is used (and
        polled like ours), never created twice and never dropped.
        """
        alloc = self._read_back(host, self.planned[host])
        if alloc is None:
            failures[host] = api.describe(error)
            return None
        if host not in self.created:
            LOG.warning('%s: allocation %s appeared meanwhile (another '
                        'client?); using it', host, alloc.id)
            self.taken.append((_reservation(host, alloc, self.names),
                               alloc.state))
        return alloc

    def _delete(self, host, allocation=None):
        """Delete one allocation (by id, else by the hostname); log errors."""
        try:
            api.retry(self.conn.baremetal.delete_allocation,
                      allocation or host, ignore_missing=True,
                      what='deleting allocation %s' % (allocation or host))
            return True
        except api.ERRORS as exc:
            LOG.error('%s: could not delete allocation %s: %s', host,
                      allocation or host, api.describe(exc))
            return False

    def notes(self):
        """Report lines (each after a newline) on re-plans and 503s."""
        text = ''.join('\n' + line for line in self.replanned)
        if self.throttled:
            text += ('\nIronic had no free conductor worker (HTTP 503) %d '
                     'time(s); those allocations were created again after a '
                     'pause' % len(self.throttled))
        return text

    def release_all(self):
        """Delete every allocation this run created (after a failure)."""
        if not self.created:
            return
        LOG.info('Releasing %d allocation(s) created by this run',
                 len(self.created))
        with futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            ok = list(pool.map(lambda item: self._delete(*item),
                               sorted(self.created.items())))
        left = [host for (host, _id), deleted in
                zip(sorted(self.created.items()), ok) if not deleted]
        if left:
            LOG.error('Allocations of %s could not be deleted; delete them '
                      'by name', ', '.join(left))
        self.created = {}


def release_nodes(conn, reservations, concurrency=20):
    """Release reservations whose deploy never started.

    For the workflow's clean-up after its deploy step failed as a whole
    (an executor lost, say): a reservation whose node is still
    ``available`` loses its allocation and any ``instance_info`` a
    half-done deploy set; a node whose deploy did start (deploying,
    active) is left alone (a re-run waits for it), and a failed one is
    undeployed, which releases it too. Gone allocations are fine.

    :param reservations: ``model.Reservation`` records; the allocation
        is deleted by its UUID when known, else by the hostname (its
        name).
    :returns: ``{'released': [Reservation], 'left': [Reservation]}``, in
        the order given.
    :raises: ReservationError naming every reservation that could not be
        released, after trying all of them.
    """
    if not reservations:
        return {'released': [], 'left': []}
    node_ids = {item.node for item in reservations if item.node}
    nodes = polling.list_nodes(conn, node_ids) if node_ids else {}
    workers = max(1, min(int(concurrency or 1), len(reservations)))
    with futures.ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(zip(reservations, pool.map(
            lambda item: _release_one(conn, item, nodes.get(item.node)),
            reservations)))
    failed = [error for _item, (done, error) in outcomes if done is None]
    if failed:
        raise exceptions.ReservationError(
            'Could not release %d of %d reservation(s): %s'
            % (len(failed), len(reservations), '; '.join(failed)))
    released = [item for item, (done, _error) in outcomes if done]
    left = [item for item, (done, _error) in outcomes if done is False]
    LOG.info('Released %d reservation(s), left %d deploying', len(released),
             len(left))
    return {'released': released, 'left': left}


def _release_one(conn, reservation, ironic_node):
    """Release one reservation: ``(done, error)``.

    ``done`` is True when released, False when left to its deploy, None
    when Ironic refused (``error`` then says why).

    :param ironic_node: the SDK node of ``reservation.node``, or None
        when the listing did not find it.
    """
    host = reservation.hostname
    target = reservation.allocation or host
    state = ironic_node.provision_state if ironic_node is not None else None
    try:
        if state in states.DEPLOY_IN_PROGRESS or state == states.ACTIVE:
            LOG.info('%s: node %s is %s; not releasing it', host,
                     labels.node_label(ironic_node), state)
            return False, None
        if state in states.DEPLOY_FAILED:
            node_settings.restore_node(conn, ironic_node)
            api.set_provision_state(conn, ironic_node.id, states.DELETED)
            return True, None
        if ironic_node is not None and (ironic_node.instance_info or {}).get(
                'display_name') == host:
            # A half-done deploy may have set a root device hint or RAID.
            node_settings.restore_node(conn, ironic_node)
            api.retry(conn.baremetal.patch_node, ironic_node.id, [
                {'op': 'replace', 'path': '/instance_info', 'value': {}}],
                what='clearing instance_info of %s' % ironic_node.id)
        api.retry(conn.baremetal.delete_allocation, target,
                  ignore_missing=True, what='deleting allocation %s' % target)
    except api.ERRORS as exc:
        return None, '%s: allocation %s: %s' % (host, target,
                                                api.describe(exc))
    return True, None
