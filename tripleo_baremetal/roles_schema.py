"""The shape of a roles file (``baremetal_deployment.yaml``), as checks.

Each check is a function ``check(value, path, report)`` that calls
``report(path, value, problem)`` for every problem it finds, so that one
pass over a roles file can list every mistake with its exact key path.
The checks here know nothing of roles or indexes; ``roles`` adds that
context to each report.
"""

import re

from tripleo_baremetal import images

_TRAIT = re.compile(r'^[A-Z0-9_]{1,255}$')

#: Passed as the value of a report when there is no value to show.
MISSING = object()


def join(path, key):
    """Extend a key path: ``join('image', 'href') == 'image.href'``."""
    if isinstance(key, int):
        return '%s[%d]' % (path, key)
    return '%s.%s' % (path, key) if path else key


def string(value, path, report):
    if not isinstance(value, str):
        report(path, value, 'must be a string')
    elif not value.strip():
        report(path, value, 'must not be empty')


def boolean(value, path, report):
    if not isinstance(value, bool):
        report(path, value, 'must be true or false')


def integer(minimum):
    """A check for an integer of at least ``minimum`` (booleans refused)."""
    def check(value, path, report):
        if isinstance(value, bool) or not isinstance(value, int):
            report(path, value, 'must be an integer')
        elif value < minimum:
            report(path, value, 'must be at least %d' % minimum)
    return check


def trait(value, path, report):
    if not isinstance(value, str) or not _TRAIT.match(value):
        report(path, value, 'is not a trait name (upper case letters, '
               'digits and "_", e.g. CUSTOM_GPU)')


def list_of(item_check):
    """A check for a list whose items all pass ``item_check``."""
    def check(value, path, report):
        if not isinstance(value, list):
            report(path, value, 'must be a list')
            return
        for index, item in enumerate(value):
            item_check(item, join(path, index), report)
    return check


def string_or_list(value, path, report):
    """SSH keys may be one string (one key per line) or a list of keys."""
    if isinstance(value, str):
        string(value, path, report)
    else:
        list_of(string)(value, path, report)


def free_mapping(value, path, report):
    """A mapping with string keys and any content (cloud-config etc.)."""
    if not isinstance(value, dict):
        report(path, value, 'must be a mapping')
        return
    for key in value:
        if not isinstance(key, str):
            report(join(path, str(key)), key, 'key must be a string')


def capability_mapping(value, path, report):
    """Capabilities: ``{name: scalar}``, written to Ironic as ``k:v,...``."""
    if not isinstance(value, dict):
        report(path, value, 'must be a mapping')
        return
    for key, item in value.items():
        item_path = join(path, str(key))
        if not isinstance(key, str) or not key or set(key) & set(':,'):
            report(item_path, key, 'is not a capability name (no ":" or ",")')
        elif isinstance(item, (dict, list)) or item is None:
            report(item_path, item, 'must be a string, number or boolean')
        elif ',' in str(item):
            report(item_path, item, 'must not contain ","')


def mapping(fields, required=(), forbidden=None):
    """A check for a mapping with known keys.

    :param fields: ``{key: check}`` for every allowed key.
    :param required: keys that must be present.
    :param forbidden: ``{key: reason}`` for keys refused here with a reason.
    """
    forbidden = forbidden or {}

    def check(value, path, report):
        if not isinstance(value, dict):
            report(path, value, 'must be a mapping')
            return
        for key in required:
            if key not in value:
                report(join(path, key), MISSING, 'is required')
        for key, item in value.items():
            item_path = join(path, str(key))
            if key in forbidden:
                report(item_path, item, forbidden[key])
            elif key not in fields:
                report(item_path, item, 'is not a known key (known keys: %s)'
                       % ', '.join(sorted(set(fields) - set(forbidden))))
            else:
                fields[key](item, item_path, report)
    return check


def _image_check(value, path, report):
    problems = []
    mapping(IMAGE_FIELDS, required=('href',))(
        value, path, lambda *args: problems.append(args))
    if not problems:
        problems = [(join(path, key), MISSING if item is None else item,
                     problem)
                    for key, item, problem in images.image_problems(value)]
    for problem in problems:
        report(*problem)


IMAGE_FIELDS = {
    'href': string,
    'checksum': string,
    'kernel': string,
    'ramdisk': string,
}

NETWORK_FIELDS = {
    'network': string,
    'port': string,
    'subnet': string,
    'fixed_ip': string,
    'vif': boolean,
}

CONFIG_DRIVE_FIELDS = {
    'cloud_config': free_mapping,
    'meta_data': free_mapping,
}

INSTANCE_FIELDS = {
    'hostname': string,
    'name': string,
    'provisioned': boolean,
    'managed': boolean,
    'resource_class': string,
    'profile': string,
    'capabilities': capability_mapping,
    'traits': list_of(trait),
    'forbidden_traits': list_of(trait),
    'conductor_group': string,
    'image': _image_check,
    'root_size_gb': integer(4),
    'swap_size_mb': integer(64),
    'nics': list_of(mapping(NETWORK_FIELDS)),
    'networks': list_of(mapping(NETWORK_FIELDS)),
    'config_drive': mapping(CONFIG_DRIVE_FIELDS),
    'ssh_public_keys': string_or_list,
    'user_name': string,
    'passwordless_sudo': boolean,
}

NOT_IN_DEFAULTS = {
    key: 'is not allowed in defaults (it names one instance; set it under '
         'instances)'
    for key in ('hostname', 'name', 'provisioned')
}

instance = mapping(INSTANCE_FIELDS)
defaults = mapping(INSTANCE_FIELDS, forbidden=NOT_IN_DEFAULTS)

ROLE_FIELDS = {
    'name': string,
    'count': integer(0),
    'hostname_format': string,
    'defaults': lambda value, path, report: None,    # checked per role
    'instances': lambda value, path, report: None,   # checked per instance
}

role = mapping(ROLE_FIELDS, required=('name',))
