"""Root device requests: check them, match them to inspected disks.

A roles file may say which disk of a node is its root device
(``root_device``), in one of two forms:

- Ironic's root device hints, ``{size: '>= 100', rotational: false}``:
  every hint must hold for a disk. The keys and their semantics are
  Ironic's (``size`` in GiB with the numeric operators, string hints with
  ``s==``, ``<in>``, ``<or>`` ... compared without regard to case,
  ``rotational`` a boolean, ``name`` with or without ``/dev/``);
- a policy, ``smallest`` or ``largest`` (the TripleO client's ``node
  configure --root-device`` policies), as a string or as ``{policy:
  largest, minimum_size_gb: 100}``; disks below ``minimum_size_gb``
  (default 4, as the client's) are never chosen.

The disks come from the node's inspection inventory
(``GET /v1/nodes/{node}/inventory``). ``choose`` picks the disk the
request means, the first matching one in inventory order as the deploy
agent would, and ``stable_hint`` turns it into the hint written to the
node: a WWN or serial number that names only this disk, never a bare
``/dev/sdX``, which may change between boots, when a stable id exists.

Everything here is pure: no API calls.
"""

import collections
import json

from tripleo_baremetal.common import capabilities as caps

GIB = 1024 ** 3

#: Ironic's root device hints and the type of their values.
HINTS = {
    'size': int,
    'rotational': bool,
    'name': str,
    'model': str,
    'vendor': str,
    'serial': str,
    'wwn': str,
    'wwn_with_extension': str,
    'wwn_vendor_extension': str,
    'hctl': str,
    'by_path': str,
}

POLICIES = ('smallest', 'largest')

#: Keys of ``root_device`` that are ours, not Ironic hints.
OWN_KEYS = ('policy', 'minimum_size_gb')

#: Smallest disk a policy chooses when no ``minimum_size_gb`` is given.
DEFAULT_MINIMUM_GB = 4

#: Hints that name a disk for good, best first; ``name`` is the fallback.
STABLE_HINTS = ('wwn_with_extension', 'wwn', 'serial', 'by_path')

#: Operators a ``size`` hint may use (numeric); string hints take these
#: and the string ones.
_NUMERIC_OPERATORS = ('=', '==', '!=', '>=', '<=')

_TRUE = ('true', '1', 'yes', 'on')
_FALSE = ('false', '0', 'no', 'off')

#: One inspected disk, as the inventory describes it.
Disk = collections.namedtuple('Disk', [
    'name', 'size', 'rotational', 'model', 'vendor', 'serial', 'wwn',
    'wwn_with_extension', 'wwn_vendor_extension', 'hctl', 'by_path'])


def problems(value):
    """What is wrong with a roles-file ``root_device`` value.

    :returns: ``[(key or None, value, problem)]``; empty when it is fine.
    """
    if isinstance(value, str):
        if value not in POLICIES:
            return [(None, value, 'is not a policy (smallest or largest) '
                     'nor a mapping of root device hints')]
        return []
    if not isinstance(value, dict):
        return [(None, value, 'must be a policy (smallest or largest) or a '
                 'mapping of root device hints')]
    found = []
    hints = [key for key in value if key not in OWN_KEYS]
    for key in hints:
        if key not in HINTS:
            found.append((key, value[key], 'is not a root device hint '
                          '(known: %s)' % ', '.join(sorted(HINTS))))
        else:
            problem = _hint_problem(key, value[key])
            if problem:
                found.append((key, value[key], problem))
    if 'policy' in value:
        if value['policy'] not in POLICIES:
            found.append(('policy', value['policy'],
                          'is not a policy (smallest or largest)'))
        if hints:
            found.append(('policy', value['policy'], 'cannot be combined '
                          'with hints (%s): give one or the other'
                          % ', '.join(sorted(map(str, hints)))))
    elif not hints:
        found.append((None, value, 'names no hint and no policy'))
    minimum = value.get('minimum_size_gb', 1)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or \
            minimum < 1:
        found.append(('minimum_size_gb', minimum,
                      'must be an integer of at least 1'))
    return found


def _hint_problem(key, value):
    kind = HINTS[key]
    if kind is bool:
        if isinstance(value, bool) or str(value).lower() in _TRUE + _FALSE:
            return None
        return 'must be true or false'
    if isinstance(value, bool) or value is None or \
            isinstance(value, (dict, list)):
        return 'must be a %s' % ('number of GiB' if kind is int
                                 else 'string')
    if kind is int:
        if isinstance(value, int) or str(value).strip().isdigit():
            return None if int(value) > 0 else 'must be at least 1 GiB'
        operator = str(value).split(None, 1)[0] if str(value).strip() \
            else ''
        if operator in caps.OPERATORS and \
                operator not in _NUMERIC_OPERATORS:
            return ('uses %s, a string operator; size takes %s'
                    % (operator, ', '.join(_NUMERIC_OPERATORS)))
        if operator not in caps.OPERATORS:
            return ('must be a number of GiB or an expression such as '
                    '">= 100"')
    return caps.validate(str(value))


def normalise(value):
    """The canonical ``root_device`` mapping of a checked roles-file value.

    A policy string becomes ``{'policy': p}``; hint keys stay as given.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return {'policy': value}
    return dict(value)


def key(spec):
    """A hashable, order-independent key for a normalised ``spec``."""
    return None if spec is None else json.dumps(spec, sort_keys=True)


def disks(inventory):
    """The ``Disk`` records of an inventory (``{'inventory': {...}}``).

    Accepts the API answer (``inventory`` and ``plugin_data``) or the
    inventory itself. Disks without a name are skipped.
    """
    inventory = inventory or {}
    inventory = inventory.get('inventory', inventory)
    result = []
    for disk in inventory.get('disks') or ():
        if not isinstance(disk, dict) or not disk.get('name'):
            continue
        result.append(Disk(**{field: disk.get(field)
                              for field in Disk._fields}))
    return tuple(result)


def size_gib(disk):
    """A disk's size in GiB, as a float (Ironic compares it this way)."""
    try:
        return int(disk.size or 0) / GIB
    except (TypeError, ValueError):
        return 0.0


def _text(value):
    return str(value).strip().lower()


def _name(value):
    value = _text(value)
    return value if value.startswith('/dev/') else '/dev/' + value


def _hint_matches(key, hint, disk):
    """Whether one Ironic hint holds for ``disk``, Ironic's way."""
    if key == 'size':
        if not isinstance(hint, str) or caps.is_exact(hint):
            hint = '== %s' % hint
        return caps.matches(hint, repr(size_gib(disk)))
    value = getattr(disk, key)
    if key == 'rotational':
        wanted = hint if isinstance(hint, bool) else _text(hint) in _TRUE
        return value is not None and bool(value) == wanted
    if value is None:
        return False
    hint_text = _text(hint)
    if key in ('name', 'by_path') and hint_text.split(None, 1)[0] \
            not in caps.OPERATORS:
        return _name(value) == _name(hint_text)
    return caps.matches(hint_text, _text(value))


def _matching(spec, candidates):
    hints = {k: v for k, v in spec.items() if k not in OWN_KEYS}
    return [disk for disk in candidates
            if all(_hint_matches(k, v, disk) for k, v in hints.items())]


def choose(spec, node_disks, root_size_gb=None):
    """The disk ``spec`` means among ``node_disks``, or why there is none.

    :param spec: a normalised ``root_device`` mapping.
    :param root_size_gb: a partition image's root partition size: the disk
        must hold it and 1 GiB more (the partition table, the config
        drive).
    :returns: ``(disk, None)`` or ``(None, (reason, disks))``: the reason
        names the request (``"root_device {size: '>= 500'}: no matching
        disk"``), the same for every node, so reports can group nodes by
        it; ``disks`` lists the node's (``"sda 238 GiB, sdb 931 GiB
        rotational"``).
    """
    minimum = spec.get('minimum_size_gb')
    policy = spec.get('policy')
    if policy and minimum is None:
        minimum = DEFAULT_MINIMUM_GB
    found = [disk for disk in node_disks
             if not minimum or size_gib(disk) >= minimum]
    found = _matching(spec, found)
    if root_size_gb:
        found = [disk for disk in found
                 if size_gib(disk) >= root_size_gb + 1]
    if not found:
        needs = []
        if minimum:
            needs.append('of at least %d GiB' % minimum)
        if root_size_gb:
            needs.append('holding root_size_gb %d' % root_size_gb)
        return None, ('%s: no matching disk%s' % (
            describe(spec), ' ' + ' '.join(needs) if needs else ''),
            describe_disks(node_disks) or 'the inventory lists no disk')
    if policy == 'smallest':
        return min(found, key=size_gib), None
    if policy == 'largest':
        return max(found, key=size_gib), None
    return found[0], None


def stable_hint(disk, node_disks):
    """The hint naming ``disk`` for good: ``{'serial': ...}`` or the like.

    The first of ``STABLE_HINTS`` the disk has and no other disk of the
    node shares (some controllers give every disk one serial); its device
    name only when there is none.
    """
    for hint in STABLE_HINTS:
        value = getattr(disk, hint)
        if value and not any(getattr(other, hint) == value
                             for other in node_disks if other != disk):
            return {hint: value}
    return {'name': disk.name}


def describe(spec):
    """``root_device {size: '>= 500'}`` or ``root_device largest``."""
    if set(spec) <= set(OWN_KEYS) and 'policy' in spec:
        text = spec['policy']
        if spec.get('minimum_size_gb'):
            text += ' (minimum_size_gb %d)' % spec['minimum_size_gb']
        return 'root_device %s' % text
    return 'root_device {%s}' % ', '.join(
        '%s: %r' % (k, v) for k, v in sorted(spec.items()))


def describe_disks(node_disks, limit=8):
    """``sda 238 GiB, sdb 931 GiB rotational`` (at most ``limit``)."""
    parts = []
    for disk in node_disks[:limit]:
        name = disk.name[5:] if disk.name.startswith('/dev/') else disk.name
        parts.append('%s %d GiB%s' % (name, int(size_gib(disk)),
                                      ' rotational' if disk.rotational
                                      else ''))
    if len(node_disks) > limit:
        parts.append('%d more' % (len(node_disks) - limit))
    return ', '.join(parts)
