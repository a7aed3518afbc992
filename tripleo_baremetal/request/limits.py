"""The limits any request is held to, checked before the work they bound.

Any input gives a result or an InvalidInput quickly: nesting is limited
(MAX_DEPTH, checked without recursion before anything else), and so are
``count`` (MAX_COUNT per role), the instances in all (MAX_INSTANCES) and
the values copied into them (MAX_EXPANDED_VALUES).
"""

from tripleo_baremetal.request import roles_schema as schema

#: Largest ``count`` of one role.
MAX_COUNT = schema.MAX_COUNT

#: Most instances a roles file may expand to, all roles together
#: (``count`` plus listed ``provisioned: false`` instances).
MAX_INSTANCES = 2 * MAX_COUNT

#: Most values (list and mapping items, counted recursively) that the
#: instances may carry from ``defaults`` and ``instances`` in all: each
#: instance gets its own copy of its role's defaults.
MAX_EXPANDED_VALUES = 1000000

#: Deepest nesting of lists and mappings in any input.
MAX_DEPTH = schema.MAX_DEPTH


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


def check_depth(inputs, problems):
    """Refuse input nested too deeply, before anything recursive runs."""
    for path, value in inputs:
        schema.depth_report(value, path, problems.reporter(''))
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
