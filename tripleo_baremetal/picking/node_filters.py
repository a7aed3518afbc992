"""Whether a node can host an instance, and if not, why not.

Planning reads every node once and compares it with the *requirements*
of each instance (resource class, traits, capabilities, conductor group,
pinned node). Instances of one role share their requirements, so the
checks run once per distinct requirement set and node, not once per
instance and node.

The checks run in a fixed order and the first failing one is the
node's reason, so a report can group nodes by reason and the counts add
up. What the instance asks for is checked before the node's state: a
node reported "in maintenance" or "provision state active" would
otherwise fit, which is what an operator fixing capacity wants to know.
"""

import collections
import dataclasses
import json
import typing

from tripleo_baremetal.common import capabilities as caps
from tripleo_baremetal.common import images
from tripleo_baremetal.common import messages
from tripleo_baremetal.common import root_device as root_device_mod
from tripleo_baremetal import labels
from tripleo_baremetal import states

#: Node fields planning needs; the listing asks for these only. Not
#: ``allocation_uuid``: Ironic (39.x) answers HTTP 500 when a node listing
#: asks for it, and an allocation sets the node's ``instance_uuid`` anyway.
NODE_FIELDS = ('uuid', 'name', 'provision_state', 'power_state',
               'maintenance', 'maintenance_reason', 'instance_uuid',
               'resource_class', 'traits', 'properties', 'conductor_group',
               'raid_interface')

#: What an instance asks of a node; hashable so instances can share it.
#: ``root_size_gb`` is the instance's (or None) and ``partition`` whether
#: its image is a partition image (kernel and ramdisk): without
#: ``root_size_gb`` such an image needs the node's ``local_gb`` (deploy
#: makes a root partition of ``local_gb - 1``). ``root_device`` is the
#: request's ``root_device.key`` (None: any disk) and ``raid`` whether it
#: needs a RAID interface (a ``raid_config`` or a ``raid`` deploy step).
Requirements = collections.namedtuple(
    'Requirements', ['name', 'resource_class', 'traits', 'forbidden_traits',
                     'capabilities', 'conductor_group', 'root_size_gb',
                     'partition', 'root_device', 'raid'],
    defaults=(None, False))

#: Smallest ``local_gb`` a partition image without root_size_gb needs.
MIN_LOCAL_GB = 2

NOT_PINNED_NODE = 'not the pinned node'
NO_POWER_STATE = 'no power state yet'
NOT_INSPECTED = 'not inspected'
#: The RAID interface that cannot build anything.
NO_RAID = 'no-raid'


@dataclasses.dataclass(frozen=True)
class NodeView:
    """The fields of an Ironic node that planning uses, read once.

    Plain values (Ironic's API field names, traits as a frozenset,
    capabilities parsed) make planning independent of openstacksdk, so
    it can be tested and benchmarked with fake data. Private to picking:
    the records the core exchanges name nodes by UUID (``Reservation``).
    """

    uuid: str
    name: typing.Optional[str]
    provision_state: typing.Optional[str]
    power_state: typing.Optional[str]
    maintenance: bool
    maintenance_reason: typing.Optional[str]
    instance_uuid: typing.Optional[str]
    allocation_uuid: typing.Optional[str]
    resource_class: typing.Optional[str]
    traits: typing.FrozenSet[str]
    capabilities: dict
    conductor_group: str
    local_gb: int
    raid_interface: typing.Optional[str] = None
    #: The inspected disks (``root_device.Disk``); None when the inventory
    #: was not read or there is none (``inventory_error`` says which).
    disks: typing.Optional[tuple] = None
    inventory_error: typing.Optional[str] = None
    #: The node's ``properties`` as listed, for the deploy that follows
    #: (``reservation.node_snapshot``); not compared.
    properties: dict = dataclasses.field(default_factory=dict,
                                         compare=False, repr=False)

    @property
    def label(self):
        """How reports name a node: its name, else its UUID."""
        return labels.short(self.name, self.uuid)


def node_view(node):
    """The ``NodeView`` of an SDK node, a ``listing.Record`` or a dict.

    A dict may use Ironic's API field names (``uuid``, ``maintenance``)
    or the SDK's (``id``, ``is_maintenance``). A field a listing did not
    ask for reads as None.
    """
    if isinstance(node, dict):
        get = node.get
        maintenance = get('maintenance', get('is_maintenance'))
        uuid = get('uuid', get('id'))
        instance_uuid = get('instance_uuid', get('instance_id'))
        allocation_uuid = get('allocation_uuid', get('allocation_id'))
    else:
        def get(key, default=None):
            return getattr(node, key, default)
        maintenance = get('is_maintenance')
        uuid = get('id')
        instance_uuid = get('instance_id')
        allocation_uuid = get('allocation_id')
    properties = get('properties') or {}
    return NodeView(
        uuid=uuid,
        name=get('name'),
        provision_state=get('provision_state'),
        power_state=get('power_state'),
        maintenance=bool(maintenance),
        maintenance_reason=get('maintenance_reason'),
        instance_uuid=instance_uuid,
        allocation_uuid=allocation_uuid,
        resource_class=get('resource_class'),
        traits=frozenset(get('traits') or ()),
        capabilities=caps.parse(properties.get('capabilities')),
        conductor_group=get('conductor_group') or '',
        local_gb=_local_gb(properties),
        raid_interface=get('raid_interface'),
        properties=dict(properties))


def _local_gb(properties):
    """A node's ``properties.local_gb`` as an int; 0 when unknown."""
    try:
        return max(int(properties.get('local_gb') or 0), 0)
    except (TypeError, ValueError):
        return 0


def requirements(instance):
    """The ``Requirements`` of a ``model.Instance``.

    Values are normalised so that instances asking for the same thing
    share one: traits as sets, capabilities sorted and as text, an empty
    pinned name or a zero root size as None.
    """
    group = instance.conductor_group
    return Requirements(
        name=instance.name or None,
        resource_class=instance.resource_class,
        traits=frozenset(instance.traits),
        forbidden_traits=frozenset(instance.forbidden_traits),
        capabilities=tuple(sorted(
            (str(key), str(value))
            for key, value in instance.capabilities.items())),
        conductor_group=None if group is None else str(group),
        root_size_gb=instance.root_size_gb or None,
        partition=not images.is_whole_disk(instance.image),
        root_device=root_device_mod.key(instance.root_device),
        raid=bool(instance.raid_config) or any(
            step.get('interface') == 'raid'
            for step in instance.deploy_steps))


def validate(instance):
    """Problems (full sentences) with a ``model.Instance``'s requirements."""
    problems = []
    for key, requirement in sorted(instance.capabilities.items()):
        problem = caps.validate(requirement)
        if problem:
            problems.append('%s: capability %s: %s'
                            % (instance.hostname, messages.cut(str(key)),
                               messages.cut(problem, 2 * messages.MAX_SHOWN)))
    both = set(instance.traits) & set(instance.forbidden_traits)
    if both:
        problems.append('%s: traits %s are both required and forbidden'
                        % (instance.hostname, ', '.join(sorted(both))))
    return problems


def index_nodes(nodes):
    """Index ``nodes`` for ``candidates``; each list keeps their order."""
    index = {'name': collections.defaultdict(list),
             'resource_class': collections.defaultdict(list),
             'capability': collections.defaultdict(list)}
    for node in nodes:
        index['name'][node.uuid].append(node)
        if node.name and node.name != node.uuid:
            index['name'][node.name].append(node)
        index['resource_class'][node.resource_class].append(node)
        for item in node.capabilities.items():
            index['capability'][item].append(node)
    return index


def candidates(req, index):
    """The nodes (from ``index_nodes``) that ``req`` may fit: a superset.

    The smallest of: the pinned node, the nodes of the resource class,
    the nodes with one of the exact capability values asked for.
    """
    if req.name is not None:
        return index['name'].get(req.name, [])
    best = index['resource_class'].get(req.resource_class, [])
    for key, requirement in req.capabilities:
        if caps.is_exact(requirement):
            nodes = index['capability'].get((key, requirement), [])
            if len(nodes) < len(best):
                best = nodes
    return best


def is_pinned_node(req, node):
    """Whether ``node`` is the node ``req`` is pinned to (by name or UUID)."""
    return req.name in (node.name, node.uuid)


def state_reason(node):
    """Why a node cannot be reserved whatever is asked, as a pair.

    :returns: ``(reason, detail)`` or None when the node is free. ``reason``
        groups nodes in reports; ``detail`` (may be None) is per node.
    """
    if node.provision_state != states.AVAILABLE:
        return 'provision state %s' % node.provision_state, None
    if node.maintenance:
        return 'in maintenance', ('reason: %s' % node.maintenance_reason
                                  if node.maintenance_reason else None)
    if node.allocation_uuid:
        return 'already reserved', 'allocation %s' % node.allocation_uuid
    if node.instance_uuid:
        # An allocation sets instance_uuid to its own UUID.
        return 'already reserved', 'instance_uuid %s' % node.instance_uuid
    if not node.power_state:
        # Ironic's Allocation API skips such nodes (with_power_state).
        return NO_POWER_STATE, None
    return None


def _disk_check(req):
    """A check of the node's ``local_gb`` for ``req``, or None.

    With a ``root_device`` the chosen disk is checked instead
    (``_root_device_check``).
    """
    if req.root_device is not None:
        return None
    if req.partition and not req.root_size_gb:
        reason = ('local_gb too small for a partition image without '
                  'root_size_gb (at least %d needed)' % MIN_LOCAL_GB)

        def check(node):
            if node.local_gb < MIN_LOCAL_GB:
                return reason, ('local_gb %d' % node.local_gb
                                if node.local_gb else 'no local_gb')
            return None
        return check
    if req.root_size_gb:
        reason = 'local_gb smaller than root_size_gb %d' % req.root_size_gb

        def check(node):
            # Unknown (0) is let through: Ironic is then told root_gb.
            if 0 < node.local_gb < req.root_size_gb:
                return reason, 'local_gb %d' % node.local_gb
            return None
        return check
    return None


def _root_device_check(req):
    """A check that ``req``'s root device is among the node's disks.

    Last of all checks: it needs the node's inventory, read (one request
    per node) only for nodes that passed every other check.
    """
    spec = json.loads(req.root_device)
    root_size_gb = (req.root_size_gb or 1) if req.partition else None

    def check(node):
        if node.disks is None:
            return NOT_INSPECTED, node.inventory_error
        disk, reason = root_device_mod.choose(spec, node.disks,
                                              root_size_gb)
        return reason if disk is None else None
    return check


def checker(req):
    """A function ``node -> (reason, detail) or None`` for ``req``.

    The requirements are prepared once, so checking a thousand nodes
    against a role costs little more than the comparisons themselves.
    """
    name, resource_class = req.name, req.resource_class
    group = None if req.conductor_group is None else \
        req.conductor_group.lower()
    traits, forbidden = req.traits, req.forbidden_traits
    cap_checks = caps.compile_checks(dict(req.capabilities))
    disk = _disk_check(req)
    root_device = _root_device_check(req) if req.root_device else None
    raid = req.raid

    def check(node):
        if name is not None and name != node.name and name != node.uuid:
            return NOT_PINNED_NODE, None
        if node.resource_class != resource_class:
            return ('resource_class is %r (want %r)'
                    % (node.resource_class, resource_class), None)
        if group is not None and node.conductor_group.lower() != group:
            return ('conductor_group is %r (want %r)'
                    % (node.conductor_group, req.conductor_group), None)
        node_traits = node.traits
        if traits and not traits <= node_traits:
            return 'missing trait %s' % min(traits - node_traits), None
        if forbidden and not forbidden.isdisjoint(node_traits):
            return ('has forbidden trait %s' % min(forbidden & node_traits),
                    None)
        if cap_checks:
            reason = caps.first_mismatch(cap_checks, node.capabilities)
            if reason:
                return reason, None
        if raid and node.raid_interface == NO_RAID:
            return ('raid_interface %s cannot build a RAID configuration'
                    % NO_RAID, None)
        reason = (disk(node) if disk else None) or state_reason(node)
        if reason is None and root_device is not None:
            reason = root_device(node)
        return reason

    return check


def reject_reason(req, node):
    """Why ``node`` cannot host an instance with ``req``, or None if it can.

    Checks in order: pinned node, resource class, conductor group,
    required traits, forbidden traits, capabilities, RAID interface, disk
    size (``local_gb`` against a partition image or ``root_size_gb``),
    the node's state (``state_reason``), then the root device against
    the node's inspected disks (it needs the inventory).

    :returns: ``(reason, detail)`` as ``state_reason`` does.
    """
    return checker(req)(node)


def extra_count(req, node):
    """How many node capabilities and traits ``req`` does not ask for.

    Planning prefers nodes with fewer extras so that nodes with scarce
    features (a GPU trait, a special profile) stay free for the instances
    that need them.
    """
    wanted_keys = {key for key, _value in req.capabilities}
    extra = sum(1 for key in node.capabilities if key not in wanted_keys)
    return extra + len(node.traits - req.traits)
