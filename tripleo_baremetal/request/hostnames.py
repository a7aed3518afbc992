"""Hostname rules: RFC 1123 validation and Heat ``HostnameFormat`` handling.

TripleO names servers from a per-role format such as
``%stackname%-controller-%index%``. Only the two placeholders Heat
substitutes are allowed; the index is what ties a hostname to a Heat
resource, so a format without ``%index%`` cannot name more than one server.
"""

import re

from tripleo_baremetal.request import roles_schema as schema

STACKNAME = '%stackname%'
INDEX = '%index%'

_PLACEHOLDER = re.compile(r'%[^%]*%')
_LABEL = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')
_MAX_LENGTH = 253
_LABEL_RULES = ('labels of 1-63 characters a-z, 0-9 and "-", not starting '
                'or ending with "-"')


def default_format(role_name):
    """The hostname format TripleO uses for a role that sets none."""
    if role_name == 'Compute':
        return '%stackname%-novacompute-%index%'
    return '%%stackname%%-%s-%%index%%' % role_name.lower()


def hostname_problem(hostname):
    """Why ``hostname`` is not a valid RFC 1123 hostname, or None.

    The caller lowercases first: uppercase letters are normalised, not
    rejected.
    """
    if not hostname:
        return 'is empty'
    if len(hostname) > _MAX_LENGTH:
        return 'is longer than %d characters' % _MAX_LENGTH
    for label in hostname.split('.'):
        if not _LABEL.match(label):
            return 'is not a valid RFC 1123 hostname (%s)' % _LABEL_RULES
    return None


def stackname_problem(stackname):
    """Why ``stackname`` cannot be part of hostnames, or None.

    It must be one RFC 1123 label once lowercased: ``%stackname%`` is
    substituted into every hostname of the default formats.
    """
    if not isinstance(stackname, str) or not stackname:
        return 'must be a non-empty string'
    if not _LABEL.match(stackname.lower()):
        return ('is not usable in hostnames: it must be one RFC 1123 label '
                '(%s; upper case is lowered)' % _LABEL_RULES)
    return None


def format_problem(hostname_format):
    """Why ``hostname_format`` cannot be used, or None.

    Besides its placeholders, its own text is checked: a format that
    starts or ends with "-" (``-a``, ``a-%index%-``), has an empty label
    or a character no hostname has gives invalid hostnames whatever the
    stack name and index, so it is refused as written, before any
    hostname is rendered. (The stack name is one label, starting and
    ending with a letter or digit, and the index is digits: a format
    fine with ``a`` and ``0`` for them is fine with any, length aside,
    which ``rendered_problem`` checks at the largest index.)
    """
    unknown = sorted(set(_PLACEHOLDER.findall(hostname_format))
                     - {STACKNAME, INDEX})
    if unknown:
        names = ', '.join(schema.cut(name, 20) for name in unknown[:5])
        if len(unknown) > 5:
            names += ' and %d more' % (len(unknown) - 5)
        return ('uses unknown placeholder(s) %s (only %s and %s are allowed)'
                % (names, STACKNAME, INDEX))
    sample = render(hostname_format, 'a', 0).lower()
    if len(sample) <= _MAX_LENGTH and hostname_problem(sample):
        return ('cannot give a valid RFC 1123 hostname whatever the stack '
                'name and index (%s)' % _LABEL_RULES)
    if INDEX not in hostname_format:
        return 'must contain %s so that every server gets its own name' % INDEX
    return None


def rendered_problem(hostname_format, stackname, index):
    """Why the hostname ``hostname_format`` gives at ``index`` is invalid.

    The caller checks the largest index it uses: a hostname only grows
    with the number of digits of its index, and digits are valid
    anywhere in a label, so a format valid there is valid at every
    smaller index.
    """
    hostname = render(hostname_format, stackname, index).lower()
    problem = hostname_problem(hostname)
    if problem:
        return 'gives hostname %s at index %d, which %s' % (
            schema.shown(hostname), index, problem)
    return None


def render(hostname_format, stackname, index):
    """The hostname a format gives for one index (not validated)."""
    return (hostname_format.replace(STACKNAME, stackname)
            .replace(INDEX, str(index)))


def index_matcher(hostname_format, stackname):
    """A function returning the index a hostname was generated with, or None.

    ``overcloud-controller-2`` gives 2 for the default Controller format;
    ``overcloud-controller-02`` gives None, since the format never writes
    leading zeros. Comparison is case-insensitive.
    """
    number = '(?P<index>0|[1-9][0-9]*)'
    pattern = ''
    seen_index = False
    for part in re.split('(%s|%s)' % (STACKNAME, INDEX), hostname_format):
        if part == STACKNAME:
            pattern += re.escape(stackname.lower())
        elif part == INDEX:
            pattern += '(?P=index)' if seen_index else number
            seen_index = True
        else:
            pattern += re.escape(part.lower())
    regex = re.compile('^%s$' % pattern)

    def match(hostname):
        found = regex.match(hostname.lower())
        return int(found.group('index')) if found else None

    return match
