"""The limits any request is held to, checked before the work they bound.

Any input gives a result or an InvalidInput quickly: nesting is limited
(MAX_DEPTH, checked without recursion before anything else), and so are
``count`` (MAX_COUNT per role), the instances in all (MAX_INSTANCES) and
the values copied into them (MAX_EXPANDED_VALUES), and each part of a
config drive (MAX_CONFIG_DRIVE_BYTES, checked with the shape of the
roles file, before any instance is built or copied).
"""

from tripleo_baremetal.common import messages

#: Largest ``count`` of one role.
MAX_COUNT = 10000

#: Most instances a roles file may expand to, all roles together
#: (``count`` plus listed ``provisioned: false`` instances).
MAX_INSTANCES = 2 * MAX_COUNT

#: Most values (list and mapping items, counted recursively) that the
#: instances may carry from ``defaults`` and ``instances`` in all: each
#: instance gets its own copy of its role's defaults.
MAX_EXPANDED_VALUES = 1000000

#: Deepest nesting of lists and mappings accepted in any input, counted
#: from the top (the roles list itself is level 1).
MAX_DEPTH = 32

#: Largest ``cloud_config``, and largest ``meta_data``, of one
#: ``config_drive`` in a roles file (in ``defaults`` or an instance), as
#: compact JSON text in UTF-8, the form it travels in to Mistral and
#: onto the config drive. Nova allows 64 KiB of user data; Mistral's
#: default field size limit (1 MiB) holds the whole roles file.
MAX_CONFIG_DRIVE_BYTES = 1024 * 1024


def _children(value):
    if isinstance(value, dict):
        return ((messages.key_text(key), item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return enumerate(value)
    return None


def depth_problem(value, path, limit=MAX_DEPTH):
    """The key path of a list or mapping nested deeper than ``limit``.

    Iterative (the input may be nested far deeper than Python's recursion
    limit) and linear even when parts of the input are shared (YAML
    aliases): a container is walked again only when reached deeper than
    before. A cycle is nested infinitely deep, so it is found too.

    :returns: the key path (``join`` syntax, starting at ``path``) of the
        first container found at depth ``limit + 1``, or None.
    """
    if _children(value) is None:
        return None
    deepest = {}
    # Entries: (container, depth, parent entry, key in parent).
    stack = [(value, 1, None, None)]
    while stack:
        entry = stack.pop()
        container, depth = entry[0], entry[1]
        if depth > limit:
            return _entry_path(entry, path)
        if deepest.get(id(container), 0) >= depth:
            continue
        deepest[id(container)] = depth
        for key, child in _children(container):
            if isinstance(child, (dict, list, tuple)):
                stack.append((child, depth + 1, entry, key))
    return None


def _entry_path(entry, path):
    keys = []
    while entry[2] is not None:
        keys.append(entry[3])
        entry = entry[2]
    for key in reversed(keys):
        path = messages.join(path, key)
    return path or '(top level)'


def depth_report(value, path, report, limit=MAX_DEPTH):
    """Report ``value`` nested deeper than ``limit``; True if it is."""
    where = depth_problem(value, path, limit)
    if where is None:
        return False
    report(where, messages.MISSING, 'is nested too deeply: lists and '
           'mappings may be nested at most %d levels deep, counted from the '
           'top of the input' % limit)
    return True


def size(value, limit=MAX_EXPANDED_VALUES):
    """How many values ``value`` holds, itself included (for budgets).

    Values shared in the input (the same list twice) count each time, as
    they will be copied each time; counting stops past ``limit``.
    """
    count = 0
    stack = [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def json_size(value, limit=MAX_CONFIG_DRIVE_BYTES):
    """At least how many bytes ``value`` takes as compact JSON (UTF-8).

    A lower bound (escapes and the digits of numbers are not counted),
    found in one walk that stops once it passes ``limit``, so that a
    value shared many times over (YAML aliases) costs no more than the
    limit: every value counts at least one byte.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item.encode('utf-8', 'surrogatepass')) + 2
        elif isinstance(item, dict):
            total += 2 * len(item) + 1      # {} and a ":" and "," per item
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            total += len(item) + 1          # [] and a "," per item
            stack.extend(item)
        else:
            total += 1
    return total


def config_drive_part(check):
    """``check`` for a config drive part, first held to its size limit.

    The limit is checked first: a part over it is reported, with its
    size and the limit, without walking it any further.
    """
    def sized_check(value, path, report):
        found = json_size(value)
        if found > MAX_CONFIG_DRIVE_BYTES:
            report(path, value, 'is larger than the maximum of %d bytes (%d '
                   'MiB) for one %s: it takes at least %d bytes as JSON'
                   % (MAX_CONFIG_DRIVE_BYTES,
                      MAX_CONFIG_DRIVE_BYTES // (1024 * 1024),
                      path.rpartition('.')[2], found))
            return
        check(value, path, report)
    return sized_check


def check_depth(inputs, problems):
    """Refuse input nested too deeply, before anything recursive runs."""
    for path, value in inputs:
        depth_report(value, path, problems.reporter(''))
    problems.raise_errors()


def check_sizes(plans, problems):
    """Refuse a request that would expand to too much, before building."""
    total = sum(plan.instance_count for plan in plans)
    if total > MAX_INSTANCES:
        problems.errors.append(
            'roles: %d instances in all (count plus provisioned: false '
            'instances, all roles together) is more than the maximum of %d'
            % (total, MAX_INSTANCES))
        return False
    weight = sum(plan.weight for plan in plans)
    if weight > MAX_EXPANDED_VALUES:
        biggest = max(plans, key=lambda plan: plan.weight)
        problems.errors.append(
            'roles: the instances would carry %d values in all (each '
            'instance gets its own copy of its role\'s defaults), more than '
            'the maximum of %d; %s alone gives %d: make its defaults (e.g. '
            'config_drive) smaller or its count lower'
            % (weight, MAX_EXPANDED_VALUES, biggest.where, biggest.weight))
        return False
    return True
