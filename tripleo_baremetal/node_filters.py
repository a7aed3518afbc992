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

from tripleo_baremetal import capabilities as caps

#: Node fields planning needs; the listing asks for these only.
NODE_FIELDS = ('uuid', 'name', 'provision_state', 'power_state',
               'maintenance', 'maintenance_reason', 'instance_uuid',
               'allocation_uuid', 'resource_class', 'traits', 'properties',
               'conductor_group')

#: What an instance asks of a node; hashable so instances can share it.
Requirements = collections.namedtuple(
    'Requirements', ['name', 'resource_class', 'traits', 'forbidden_traits',
                     'capabilities', 'conductor_group'])

NOT_PINNED_NODE = 'not the pinned node'
NO_POWER_STATE = 'no power state yet'


def node_view(node):
    """A plain dict of the fields planning uses, from an SDK node or dict.

    Plain dicts (with Ironic's API field names) make planning independent
    of openstacksdk, so it can be tested and benchmarked with fake data.
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
        maintenance = node.is_maintenance
        uuid = node.id
        instance_uuid = node.instance_id
        allocation_uuid = node.allocation_id
    properties = get('properties') or {}
    return {
        'uuid': uuid,
        'name': get('name'),
        'provision_state': get('provision_state'),
        'power_state': get('power_state'),
        'maintenance': bool(maintenance),
        'maintenance_reason': get('maintenance_reason'),
        'instance_uuid': instance_uuid,
        'allocation_uuid': allocation_uuid,
        'resource_class': get('resource_class'),
        'traits': frozenset(get('traits') or ()),
        'capabilities': caps.parse(properties.get('capabilities')),
        'conductor_group': get('conductor_group') or '',
    }


def label(node):
    """How reports name a node: its name, else its UUID."""
    return node['name'] or node['uuid']


def requirements(instance):
    """The ``Requirements`` of an instance dict (see doc/instances.md)."""
    group = instance.get('conductor_group')
    return Requirements(
        name=instance.get('name') or None,
        resource_class=instance.get('resource_class') or 'baremetal',
        traits=frozenset(instance.get('traits') or ()),
        forbidden_traits=frozenset(instance.get('forbidden_traits') or ()),
        capabilities=tuple(sorted(
            (str(key), str(value))
            for key, value in (instance.get('capabilities') or {}).items())),
        conductor_group=None if group is None else str(group))


def validate(instance):
    """Problems (full sentences) with an instance's requirements."""
    problems = []
    for key, requirement in sorted(
            (instance.get('capabilities') or {}).items()):
        problem = caps.validate(requirement)
        if problem:
            problems.append('%s: capability %s: %s'
                            % (instance.get('hostname'), key, problem))
    both = (set(instance.get('traits') or ())
            & set(instance.get('forbidden_traits') or ()))
    if both:
        problems.append('%s: traits %s are both required and forbidden'
                        % (instance.get('hostname'),
                           ', '.join(sorted(both))))
    return problems


def is_pinned_node(req, node):
    """Whether ``node`` is the node ``req`` is pinned to (by name or UUID)."""
    return req.name in (node['name'], node['uuid'])


def state_reason(node):
    """Why a node cannot be reserved whatever is asked, as a pair.

    :returns: ``(reason, detail)`` or None when the node is free. ``reason``
        groups nodes in reports; ``detail`` (may be None) is per node.
    """
    if node['provision_state'] != 'available':
        return 'provision state %s' % node['provision_state'], None
    if node['maintenance']:
        return 'in maintenance', ('reason: %s' % node['maintenance_reason']
                                  if node['maintenance_reason'] else None)
    if node['allocation_uuid']:
        return 'already allocated', 'allocation %s' % node['allocation_uuid']
    if node['instance_uuid']:
        return 'has an instance', 'instance %s' % node['instance_uuid']
    if not node['power_state']:
        # Ironic's Allocation API skips such nodes (with_power_state).
        return NO_POWER_STATE, None
    return None


def reject_reason(req, node):
    """Why ``node`` cannot host an instance with ``req``, or None if it can.

    :returns: ``(reason, detail)`` as ``state_reason`` does.
    """
    if req.name is not None and not is_pinned_node(req, node):
        return NOT_PINNED_NODE, None
    if node['resource_class'] != req.resource_class:
        return ('resource_class is %r (want %r)'
                % (node['resource_class'], req.resource_class), None)
    if (req.conductor_group is not None
            and node['conductor_group'].lower()
            != req.conductor_group.lower()):
        return ('conductor_group is %r (want %r)'
                % (node['conductor_group'], req.conductor_group), None)
    traits = node['traits']
    for trait in sorted(req.traits - traits):
        return 'missing trait %s' % trait, None
    for trait in sorted(req.forbidden_traits & traits):
        return 'has forbidden trait %s' % trait, None
    if req.capabilities:
        reason = caps.mismatch(dict(req.capabilities), node['capabilities'])
        if reason:
            return reason, None
    return state_reason(node)


def extra_count(req, node):
    """How many node capabilities and traits ``req`` does not ask for.

    Planning prefers nodes with fewer extras so that nodes with scarce
    features (a GPU trait, a special profile) stay free for the instances
    that need them.
    """
    wanted_keys = {key for key, _value in req.capabilities}
    extra = sum(1 for key in node['capabilities'] if key not in wanted_keys)
    return extra + len(node['traits'] - req.traits)
