"""Node capabilities: parse Ironic's string and match requested values.

A node advertises capabilities in ``properties.capabilities`` as
``'profile:control,boot_option:local'`` (older clients stored a dict).
An instance requests capabilities as ``{key: requirement}`` where the
requirement is either an exact value or an operator expression, with the
semantics of Nova's ``ComputeCapabilitiesFilter`` that TripleO operators
already use in flavors:

=============  =========================================================
``v``          the node's value equals ``v`` (no operator)
``= n``        numerically at least ``n`` (Nova's historic meaning)
``== n``       numerically equal; also ``!=``, ``>=``, ``<=``
``s== v``      string comparison; also ``s!=``, ``s<``, ``s<=``, ``s>``,
               ``s>=``
``<in> v``     ``v`` occurs in the node's value (substring)
``<all-in>``   every following word occurs in the node's value
``<or> a <or> b``  the node's value equals one of ``a``, ``b``, ...
=============  =========================================================

Unlike Nova, a malformed requirement (a numeric operator with a
non-numeric operand, an operator without operand) is refused up front by
``validate`` instead of silently never matching, and a node value that is
not a number fails a numeric comparison with a reason instead of an
exception.
"""

import operator

_NUMERIC = {
    '=': operator.ge,
    '==': operator.eq,
    '!=': operator.ne,
    '>=': operator.ge,
    '<=': operator.le,
}

_STRING = {
    's==': operator.eq,
    's!=': operator.ne,
    's<': operator.lt,
    's<=': operator.le,
    's>': operator.gt,
    's>=': operator.ge,
}

OPERATORS = frozenset(list(_NUMERIC) + list(_STRING)
                      + ['<in>', '<all-in>', '<or>'])


def parse(value):
    """Return a node's capabilities as a ``{key: value}`` dict of strings.

    Accepts Ironic's ``'k1:v1,k2:v2'`` string, a dict, or None. A value may
    itself contain ``:`` (only the first one separates); entries without a
    ``:`` carry no value and are ignored, as Ironic's own parser does.
    """
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(key): capability_text(val)
                for key, val in value.items()}
    result = {}
    for item in str(value).split(','):
        key, sep, val = item.partition(':')
        key = key.strip()
        if sep and key:
            result[key] = val.strip()
    return result


def capability_text(value):
    """A capability value as Ironic stores it (``True`` -> ``'true'``)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _split(requirement):
    """``(operator or None, operands)`` of a requirement string."""
    words = str(requirement).split()
    if words and words[0] in OPERATORS:
        if words[0] == '<or>':
            return '<or>', [word for word in words[1:] if word != '<or>']
        return words[0], words[1:]
    return None, [str(requirement)]


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def validate(requirement):
    """Return a problem description for a malformed requirement, or None."""
    op, operands = _split(requirement)
    if op is None:
        return None
    if not operands:
        return 'operator %s needs a value' % op
    if op == '<or>':
        words = str(requirement).split()
        # Strictly alternating: <or> a <or> b ...
        if any((word == '<or>') != (index % 2 == 0)
               for index, word in enumerate(words)) or words[-1] == '<or>':
            return 'expected "<or> a <or> b ...", got %r' % requirement
        return None
    if op != '<all-in>' and len(operands) > 1:
        return 'operator %s takes one value, got %r' % (op, requirement)
    if op in _NUMERIC and _float(operands[0]) is None:
        return 'operator %s needs a number, got %r' % (op, operands[0])
    return None


def is_exact(requirement):
    """Whether a requirement is a plain value (no operator)."""
    return _split(requirement)[0] is None


def matcher(requirement):
    """A function ``value -> bool`` for one requirement, parsed once.

    ``requirement`` is assumed valid (see ``validate``); a malformed one
    simply never matches. A missing value (None) never matches.
    """
    op, operands = _split(requirement)
    if op is None:
        wanted = operands[0]
        return lambda value: value == wanted
    if not operands:
        return lambda value: False
    first = operands[0]
    if op == '<or>':
        choices = frozenset(operands)
        return lambda value: value in choices
    if op == '<in>':
        return lambda value: value is not None and first in value
    if op == '<all-in>':
        return lambda value: value is not None and all(
            word in value for word in operands)
    if op in _STRING:
        compare = _STRING[op]
        return lambda value: value is not None and compare(value, first)
    compare, want = _NUMERIC[op], _float(first)
    if want is None:
        return lambda value: False

    def numeric(value):
        have = _float(value)
        return have is not None and compare(have, want)
    return numeric


def matches(requirement, value):
    """Whether a node's capability ``value`` (str or None) meets it."""
    return matcher(requirement)(value)


def compile_checks(requested):
    """Prepare ``{key: requirement}`` for ``first_mismatch`` (once)."""
    return tuple((key, requested[key], matcher(requested[key]),
                  _split(requested[key])[0] in _NUMERIC)
                 for key in sorted(requested))


def first_mismatch(checks, node_capabilities):
    """Like ``mismatch``, with checks from ``compile_checks``."""
    for key, requirement, match, numeric in checks:
        value = node_capabilities.get(key)
        if match(value):
            continue
        if value is None:
            return 'capability %s missing (want %r)' % (key, requirement)
        if numeric and _float(value) is None:
            return ('capability %s is %r, not a number (want %r)'
                    % (key, value, requirement))
        return 'capability %s is %r (want %r)' % (key, value, requirement)
    return None


def mismatch(requested, node_capabilities):
    """The first unmet requested capability, as text, or None.

    :param requested: ``{key: requirement}`` of an instance.
    :param node_capabilities: a node's parsed capabilities (``parse``).
    :returns: e.g. ``"capability profile is 'compute' (want 'control')"``,
        ``"capability profile missing (want 'control')"`` or None when
        every requested capability matches. Keys are checked in sorted
        order so the same node always gives the same reason.
    """
    return first_mismatch(compile_checks(requested), node_capabilities)
