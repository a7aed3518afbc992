"""Enrol fake-hardware nodes and make them available, fast.

Each node goes through what an operator's enrolment does: create the
node, its port and traits, ``manage`` (verify) and ``provide`` (automated
cleaning), and it gets a power state. The Allocation API only considers
nodes with a known power state, and the fake power interface reports none
until one is set, so every node is powered off explicitly.

Requests go out from a few threads and progress is watched with one
node listing per poll, every ~0.2 s, instead of the SDK's per-node 2 s
waits: a dozen nodes are available in a few seconds.
"""

import concurrent.futures
import logging
import random
import time

from openstack import exceptions as sdk_exc

from localcloud import exceptions
from localcloud import process

LOG = logging.getLogger(__name__)

DRIVER = 'fake-hardware'
DEFAULT_RESOURCE_CLASS = 'baremetal'
DEFAULT_PROPERTIES = {'cpus': 4, 'memory_mb': 8192, 'local_gb': 100,
                      'cpu_arch': 'x86_64'}
POLL_INTERVAL = 0.2
MAX_WORKERS = 8

_POLL_FIELDS = ['uuid', 'name', 'provision_state', 'target_provision_state',
                'power_state', 'target_power_state', 'reservation',
                'last_error']


def random_mac():
    """A random, locally administered, unicast MAC address."""
    octets = [0x02] + [random.randint(0, 255) for _ in range(5)]
    return ':'.join('%02x' % octet for octet in octets)


def capabilities_string(capabilities):
    """``{'profile': 'control'}`` -> ``'profile:control,boot_option:local'``.

    ``boot_option:local`` is added unless given, as TripleO's nodes have.
    """
    merged = dict(capabilities or {})
    merged.setdefault('boot_option', 'local')
    return ','.join('%s:%s' % item for item in merged.items())


def node_fields(spec):
    """The node creation fields for a spec (see enrol_nodes)."""
    properties = dict(DEFAULT_PROPERTIES)
    properties.update(spec.get('properties') or {})
    if 'local_gb' in spec:
        properties['local_gb'] = spec['local_gb']
    properties['capabilities'] = capabilities_string(
        spec.get('capabilities'))
    fields = {'driver': DRIVER,
              'name': spec['name'],
              'resource_class': spec.get('resource_class',
                                         DEFAULT_RESOURCE_CLASS),
              'properties': properties}
    if spec.get('conductor_group'):
        fields['conductor_group'] = spec['conductor_group']
    for key in ('driver_info', 'extra', 'network_interface'):
        if spec.get(key):
            fields[key] = spec[key]
    if spec.get('disks') is not None:
        fields['inspect_interface'] = 'agent'
    if spec.get('raid_interface'):
        fields['raid_interface'] = spec['raid_interface']
    return fields


def ctlplane_port(index):
    """A ctlplane port as Heat's port map gives it, for index ``index``.

    No Neutron behind it (Ironic's ``noop`` network interface): for
    benchmarks and tests that need a config drive with network data.
    """
    return {'id': '00000000-0000-4000-8000-%012d' % index,
            'fixed_ips': [{'ip_address': '10.0.%d.%d' % divmod(index + 10,
                                                               250)}],
            'network': {'name': 'ctlplane', 'mtu': 1500},
            'subnets': [{'cidr': '10.0.0.0/16', 'gateway_ip': '10.0.0.1',
                         'host_routes': [], 'dns_nameservers': [],
                         'ip_version': 4}]}


def inventory(mac, disks):
    """The inventory the deploy agent would post for a node.

    :param disks: dicts with ``name`` and ``size`` (bytes) and any of
        ``rotational``, ``serial``, ``wwn``, ``model``, ``vendor``,
        ``hctl``, ``by_path``.
    """
    return {
        'interfaces': [{'name': 'eth0', 'mac_address': mac,
                        'ipv4_address': None}],
        'disks': [dict({'rotational': False, 'model': None,
                        'vendor': None, 'serial': None, 'wwn': None,
                        'hctl': None, 'by_path': None}, **disk)
                  for disk in disks],
        'cpu': {'count': 4, 'architecture': 'x86_64'},
        'memory': {'physical_mb': 8192, 'total': 8 * 1024 ** 3},
        'bmc_address': '127.0.0.1',
        'system_vendor': {'manufacturer': 'fake', 'product_name': 'fake',
                          'serial_number': 'fake'},
        'boot': {'pxe_interface': mac, 'current_boot_mode': 'uefi'},
    }


def _inspect(conn, poller, specs, node_ids, macs):
    """Inspect the manageable nodes whose spec has ``disks``.

    As in a real undercloud: ``inspect`` with the ``agent`` interface,
    then the inventory posted to ``/v1/continue_inspection`` the way
    ironic-python-agent posts it; the node returns to ``manageable``.
    """
    todo = [(node_id, spec) for node_id, spec in zip(node_ids, specs)
            if spec.get('disks') is not None]
    if not todo:
        return
    _concurrently(lambda item: set_state(conn, item[0], 'provision',
                                         'inspect', '1.6'),
                  todo, 'inspect')
    poller.wait(lambda node: node.id not in dict(todo)
                or node.provision_state == 'inspect wait',
                ('inspect failed',), 'waiting for inspection data')

    def post(item):
        node_id, spec = item
        response = conn.baremetal.post(
            '/continue_inspection', json={
                'inventory': inventory(macs[node_id], spec['disks']),
                'root_disk': (spec['disks'] or [None])[0]},
            retriable_status_codes=[])
        sdk_exc.raise_from_response(
            response, error_message='continue_inspection of %s' % node_id)

    _concurrently(post, todo, 'continue_inspection')
    poller.wait(lambda node: node.provision_state == 'manageable',
                ('inspect failed',), 'inspected')


def set_state(conn, node_id, kind, target, microversion=None):
    """``PUT /v1/nodes/<id>/states/<kind>`` without re-reading the node.

    The SDK's ``set_node_provision_state``/``set_node_power_state`` fetch
    the node after each action; the pollers here read every node at once
    anyway, so that is one request per node saved.
    """
    response = conn.baremetal.put(
        '/nodes/%s/states/%s' % (node_id, kind), json={'target': target},
        microversion=microversion, retriable_status_codes=[])
    sdk_exc.raise_from_response(
        response, error_message='Failed to set %s state of node %s to %s'
        % (kind, node_id, target))


def _describe(node):
    return '%s (%s): %s%s' % (
        node.name, node.id, node.provision_state,
        ', last error: %s' % node.last_error if node.last_error else '')


def _concurrently(func, items, what):
    """Call ``func(item)`` from a few threads; raise on any failure."""
    started = time.monotonic()
    failures = []
    results = {}
    workers = max(1, min(MAX_WORKERS, len(items)))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(func, item): index
                   for index, item in enumerate(items)}
        for future in concurrent.futures.as_completed(futures):
            try:
                results[futures[future]] = future.result()
            except sdk_exc.SDKException as exc:
                item = items[futures[future]]
                label = item['name'] if isinstance(item, dict) else item
                failures.append('%s: %s' % (label, exc))
    if failures:
        raise exceptions.EnrolmentError('%s failed for %d node(s):\n%s' % (
            what, len(failures), '\n'.join(sorted(failures))))
    LOG.debug('%s: %d node(s) in %.2f s', what, len(items),
              time.monotonic() - started)
    return [results[index] for index in range(len(items))]


class _Poller:
    """Watches a set of nodes with one listing per poll."""

    def __init__(self, conn, node_ids, deadline):
        self.conn = conn
        self.node_ids = set(node_ids)
        self.deadline = deadline
        self.last = {}

    def list(self):
        self.last = {node.id: node
                     for node in self.conn.baremetal.nodes(
                         fields=_POLL_FIELDS)
                     if node.id in self.node_ids}
        missing = self.node_ids - set(self.last)
        if missing:
            raise exceptions.EnrolmentError(
                'node(s) %s disappeared while being enrolled'
                % ', '.join(sorted(missing)))
        return self.last

    def summary(self):
        states = {}
        for node in self.last.values():
            key = '%s/%s' % (node.provision_state, node.power_state)
            if node.reservation:
                key += ' (locked)'
            states.setdefault(key, []).append(node.name or node.id)
        return 'last seen: %s' % '; '.join(
            '%s: %s' % (key, ', '.join(sorted(names)))
            for key, names in sorted(states.items()))

    def wait(self, done, failed_states, what):
        """Poll until ``done(node)`` holds for every node (and unlocked).

        :raises: EnrolmentError as soon as a node reaches a state of
            ``failed_states``; WaitTimeout at the deadline.
        """
        def check():
            nodes = self.list()
            failed = [node for node in nodes.values()
                      if node.provision_state in failed_states]
            if failed:
                raise exceptions.EnrolmentError(
                    '%d node(s) failed while waiting for %s:\n%s' % (
                        len(failed), what,
                        '\n'.join(sorted(_describe(n) for n in failed))))
            return all(done(node) and not node.reservation
                       for node in nodes.values())

        started = time.monotonic()
        process.wait_until(check, max(0, self.deadline - time.monotonic()),
                           interval=POLL_INTERVAL,
                           what='%d node(s) to be %s' % (len(self.node_ids),
                                                         what),
                           details=self.summary)
        LOG.debug('%d node(s) %s after %.2f s', len(self.node_ids), what,
                  time.monotonic() - started)


def enrol_nodes(conn, specs, timeout=None):
    """Create fake-hardware nodes and make them available and powered off.

    :param conn: an openstacksdk Connection, ideally with
        ``baremetal_status_code_retries=0``.
    :param specs: a list of dicts: ``name`` (required),
        ``resource_class`` (default ``baremetal``), ``capabilities`` (dict,
        ``boot_option:local`` is added), ``traits`` (list), ``local_gb``,
        ``properties`` (more properties), ``conductor_group``,
        ``driver_info``, ``extra``, ``network_interface``, ``mac`` (random
        by default), ``port`` (more port fields, e.g.
        ``physical_network`` and ``local_link_connection``), ``disks``
        (the node is inspected with an inventory holding them, see
        ``inventory``), ``raid_interface`` and ``manageable`` (true:
        left ``manageable``, e.g. to be adopted).
    :param timeout: seconds for the whole enrolment (default: 60 s, more
        for over a hundred nodes).
    :returns: the nodes (with details), in the order of ``specs``.
    :raises: EnrolmentError naming the nodes that failed and why;
        WaitTimeout with the states last seen.
    """
    if not specs:
        return []
    started = time.monotonic()
    timeout = timeout or max(60, 0.5 * len(specs))
    deadline = started + timeout
    names = [spec.get('name') for spec in specs]
    if None in names or len(set(names)) != len(names):
        raise exceptions.EnrolmentError('every node spec needs a unique '
                                        'name, got %s' % names)
    baremetal = conn.baremetal
    macs = {}

    def create(spec):
        node = baremetal.create_node(**node_fields(spec))
        port = dict(spec.get('port') or {}, node_id=node.id,
                    address=spec.get('mac') or random_mac())
        baremetal.create_port(**port)
        macs[node.id] = port['address']
        if spec.get('traits'):
            baremetal.set_node_traits(node, spec['traits'])
        # The fake power interface only reports what was set.
        set_state(conn, node.id, 'power', 'power off')
        return node.id

    node_ids = _concurrently(create, specs, 'creating nodes')
    poller = _Poller(conn, node_ids, deadline)
    poller.wait(lambda node: node.power_state == 'power off', (),
                'powered off')

    def action(name):
        # manage and provide need API 1.4
        return lambda node_id: set_state(conn, node_id, 'provision', name,
                                         '1.4')

    _concurrently(action('manage'), node_ids, 'manage')
    poller.wait(lambda node: node.provision_state == 'manageable',
                ('enroll',), 'manageable')
    _inspect(conn, poller, specs, node_ids, macs)
    kept = {node_id for node_id, spec in zip(node_ids, specs)
            if spec.get('manageable')}
    to_provide = [node_id for node_id in node_ids if node_id not in kept]
    _concurrently(action('provide'), to_provide, 'provide')
    poller.wait(lambda node: node.id in kept
                or node.provision_state == 'available',
                ('clean failed', 'error'), 'available')

    unpowered = [node.id for node in poller.last.values()
                 if node.power_state != 'power off']
    if unpowered:
        LOG.debug('Powering off again after cleaning: %s', unpowered)
        _concurrently(lambda node_id: set_state(conn, node_id, 'power',
                                                'power off'),
                      unpowered, 'power off')
        poller.wait(lambda node: node.power_state == 'power off', (),
                    'powered off')

    by_id = {node.id: node for node in baremetal.nodes(details=True)}
    LOG.info('Enrolled %d node(s) in %.1f s', len(node_ids),
             time.monotonic() - started)
    return [by_id[node_id] for node_id in node_ids]
