"""Hostname rules: RFC 1123 validation and Heat ``HostnameFormat`` handling.

TripleO names servers from a per-role format such as
``%stackname%-controller-%index%``. Only the two placeholders Heat
substitutes are allowed; the index is what ties a hostname to a Heat
resource, so a format without ``%index%`` cannot name more than one server.
"""

import re

STACKNAME = '%stackname%'
INDEX = '%index%'

_PLACEHOLDER = re.compile(r'%[^%]*%')
_LABEL = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')
_MAX_LENGTH = 253


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
            return ('is not a valid RFC 1123 hostname (labels of 1-63 '
                    'characters a-z, 0-9 and "-", not starting or ending '
                    'with "-")')
    return None


def format_problem(hostname_format):
    """Why ``hostname_format`` cannot be used, or None."""
    unknown = sorted(set(_PLACEHOLDER.findall(hostname_format))
                     - {STACKNAME, INDEX})
    if unknown:
        return ('uses unknown placeholder(s) %s (only %s and %s are allowed)'
                % (', '.join(unknown), STACKNAME, INDEX))
    if INDEX not in hostname_format:
        return 'must contain %s so that every server gets its own name' % INDEX
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
