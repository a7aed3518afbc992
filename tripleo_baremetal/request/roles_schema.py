"""The shape of a roles file (``baremetal_deployment.yaml``), as checks.

Each check is a function ``check(value, path, report)`` that calls
``report(path, value, problem)`` for every problem it finds, so that one
pass over a roles file can list every mistake with its exact key path.
The checks here know nothing of roles or indexes; ``roles`` adds that
context to each report.

Values shown in messages go through ``shown``, which cuts them to a
readable length, and the contents of ``config_drive`` (user data,
passwords) are never shown at all (``secret``). The limits the checks
apply, and the check of nesting that runs before them, are ``limits``'.
"""

import ipaddress
import re

from tripleo_baremetal.common import capabilities as caps
from tripleo_baremetal.common import images
from tripleo_baremetal.common import messages
from tripleo_baremetal.common import root_device as root_device_mod
from tripleo_baremetal.request import deploy_steps as steps_mod
from tripleo_baremetal.request import limits

_TRAIT = re.compile(r'^[A-Z0-9_]{1,255}$')

#: Longest Ironic node name (Ironic's own limit), for pinned nodes.
MAX_NODE_NAME = 255

# How values are shown (``common.messages``), under the names every
# check and its callers use.
MAX_SHOWN = messages.MAX_SHOWN
MAX_KEY_SHOWN = messages.MAX_KEY_SHOWN
Hidden = messages.Hidden
cut = messages.cut
shown = messages.shown
key_text = messages.key_text
join = messages.join
MISSING = messages.MISSING

# The limits the checks apply (``limits``), under their older names here.
MAX_DEPTH = limits.MAX_DEPTH
MAX_COUNT = limits.MAX_COUNT
depth_problem = limits.depth_problem
depth_report = limits.depth_report


def secret(check):
    """``check``, with the values it reports hidden (``Hidden``).

    For config drive contents: user data may hold passwords, so problems
    there name the key path and the kind of value only.
    """
    def hidden_check(value, path, report):
        check(value, path, lambda where, item, problem: report(
            where, item if item is MISSING else Hidden(item), problem))
    return hidden_check


def string(value, path, report):
    if not isinstance(value, str):
        report(path, value, 'must be a string')
    elif not value.strip():
        report(path, value, 'must not be empty')


def bounded_string(maximum):
    """A check for a non-empty string of at most ``maximum`` characters."""
    def check(value, path, report):
        if isinstance(value, str) and len(value) > maximum:
            report(path, value, 'is longer than %d characters' % maximum)
        else:
            string(value, path, report)
    return check


def boolean(value, path, report):
    if not isinstance(value, bool):
        report(path, value, 'must be true or false')


def integer(minimum, maximum=None, unit=''):
    """A check for an integer in ``[minimum, maximum]`` (booleans refused).

    :param unit: words after the maximum in the message, e.g.
        ``'instances per role'``.
    """
    def check(value, path, report):
        if isinstance(value, bool) or not isinstance(value, int):
            report(path, value, 'must be an integer')
        elif value < minimum:
            report(path, value, 'must be at least %d' % minimum)
        elif maximum is not None and value > maximum:
            report(path, value, 'is more than the maximum of %d%s'
                   % (maximum, ' %s' % unit if unit else ''))
    return check


def ip_address(value, path, report):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        report(path, value, 'is not an IP address')


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


def string_key(key, path, report, what='keys', note=''):
    """Report a mapping key that is not a string; True if it is one.

    YAML keys may be numbers, booleans, null or dates (``5: x``); every
    mapping of a roles file or a port map has names for keys, and code
    that reads them (sorting, cutting, ``**``) assumes strings.

    :param path: the key path of the key itself (``join(parent, key)``).
    :param what: what the keys of this mapping are, for the message
        (``'network names'``).
    :param note: words added to the message (the known keys).
    """
    if isinstance(key, str):
        return True
    report(path, key, 'is not a string: %s must be strings%s'
           % (what, ' %s' % note if note else ''))
    return False


def free_mapping(value, path, report):
    """A mapping with string keys and any content (cloud-config etc.)."""
    if not isinstance(value, dict):
        report(path, value, 'must be a mapping')
        return
    for key in value:
        string_key(key, join(path, key_text(key)), report)


def capability_mapping(value, path, report):
    """Capabilities: ``{name: scalar}``, written to Ironic as ``k:v,...``.

    Operator requirements (``>= 8``, ``<or> a <or> b``) are checked here
    too, once per roles-file entry rather than once per instance.
    """
    if not isinstance(value, dict):
        report(path, value, 'must be a mapping')
        return
    for key, item in value.items():
        item_path = join(path, key_text(key))
        if not string_key(key, item_path, report, 'capability names'):
            continue
        if not key or set(key) & set(':,'):
            report(item_path, key, 'is not a capability name (no ":" or ",")')
        elif isinstance(item, (dict, list)) or item is None:
            report(item_path, item, 'must be a string, number or boolean')
        elif ',' in caps.capability_text(item):
            report(item_path, item, 'must not contain ","')
        else:
            problem = caps.validate(caps.capability_text(item))
            if problem:
                report(item_path, item, 'is not a valid requirement: %s'
                       % cut(problem, 2 * MAX_SHOWN))


def valid_items(fields, required=(), forbidden=None):
    """A check for a mapping with known keys that returns its valid items.

    The check reports like ``mapping`` and returns ``{key: value}`` of the
    keys whose own check found nothing (None when the value is not a
    mapping), so that the rest of a role can still be planned and checked
    without them: every problem of a file is reported in one pass.

    :param fields: ``{key: check}`` for every allowed key.
    :param required: keys that must be present.
    :param forbidden: ``{key: reason}`` for keys refused here with a reason.
    """
    forbidden = forbidden or {}
    known = ', '.join(sorted(set(fields) - set(forbidden)))

    def check(value, path, report):
        if not isinstance(value, dict):
            report(path, value, 'must be a mapping')
            return None
        for key in required:
            if key not in value:
                report(join(path, key), MISSING, 'is required')
        valid = {}
        for key, item in value.items():
            item_path = join(path, key_text(key))
            if not string_key(key, item_path, report,
                              note='(known keys: %s)' % known):
                continue
            if key in forbidden:
                report(item_path, item, forbidden[key])
            elif key not in fields:
                report(item_path, item, 'is not a known key (known keys: %s)'
                       % known)
            else:
                found = []
                fields[key](item, item_path,
                            lambda *args: found.append(args))
                for problem in found:
                    report(*problem)
                if not found:
                    valid[key] = item
        return valid
    return check


def mapping(fields, required=(), forbidden=None):
    """A check for a mapping with known keys (``valid_items``)."""
    items = valid_items(fields, required, forbidden)

    def check(value, path, report):
        items(value, path, report)
    return check


IMAGE_FIELDS = {
    'href': string,
    'checksum': string,
    'kernel': string,
    'ramdisk': string,
}


def image_check(allowed_paths=None):
    """A check for an image mapping (``images.image_problems``).

    :param allowed_paths: directories ``file://`` URLs may point into
        (None: ``images.FILE_URL_ALLOWED_PATHS``).
    """
    def check(value, path, report):
        problems = []
        mapping(IMAGE_FIELDS, required=('href',))(
            value, path, lambda *args: problems.append(args))
        if not problems:
            problems = [
                (join(path, key), MISSING if item is None else item, problem)
                for key, item, problem in images.image_problems(
                    value, allowed_paths=allowed_paths)]
        for problem in problems:
            report(*problem)
    return check


NETWORK_FIELDS = {
    'network': string,
    'port': string,
    'subnet': string,
    'fixed_ip': ip_address,
    'vif': boolean,
}


def one_of(choices, convert=None):
    """A check for a value among ``choices`` (after ``convert``)."""
    def check(value, path, report):
        if (convert(value) if convert else value) not in choices:
            report(path, value, 'must be one of %s' % ', '.join(choices))
    return check


def size_gb(value, path, report):
    """A logical disk's size: GiB (at least 1) or ``MAX``."""
    if value != 'MAX':
        integer(1)(value, path, lambda where, item, problem: report(
            where, item, 'must be a number of GiB (at least 1) or MAX'))


def root_device(value, path, report):
    """A root device policy or Ironic root device hints (root_device.py)."""
    for key, item, problem in root_device_mod.problems(value):
        report(path if key is None else join(path, key_text(key)), item,
               problem)


LOGICAL_DISK_FIELDS = {
    'size_gb': size_gb,
    'raid_level': one_of(steps_mod.RAID_LEVELS, steps_mod.raid_level),
    'volume_name': string,
    'is_root_volume': boolean,
    'share_physical_disks': boolean,
    'disk_type': one_of(steps_mod.DISK_TYPES),
    'interface_type': one_of(steps_mod.INTERFACE_TYPES),
    'number_of_physical_disks': integer(1),
    'controller': string,
    'physical_disks': lambda value, path, report: None if (
        isinstance(value, list) and value) else report(
            path, value, 'must be a non-empty list'),
}

_logical_disk = mapping(LOGICAL_DISK_FIELDS,
                        required=('size_gb', 'raid_level'))


def raid_config(value, path, report):
    """Ironic's target RAID config: ``logical_disks``, one root at most."""
    mapping({'logical_disks': lambda *args: None},
            required=('logical_disks',))(value, path, report)
    if not isinstance(value, dict) or 'logical_disks' not in value:
        return
    disks = value['logical_disks']
    disks_path = join(path, 'logical_disks')
    if not isinstance(disks, list) or not disks:
        report(disks_path, disks, 'must be a non-empty list of logical '
               'disks')
        return
    for index, disk in enumerate(disks):
        _logical_disk(disk, join(disks_path, index), report)
    roots = sum(1 for disk in disks
                if isinstance(disk, dict) and disk.get('is_root_volume'))
    if roots > 1:
        report(disks_path, MISSING, 'has %d logical disks with '
               'is_root_volume true; at most one may be the root volume'
               % roots)


DEPLOY_STEP_FIELDS = {
    'interface': one_of(steps_mod.STEP_INTERFACES),
    'step': string,
    # Step arguments may hold credentials (a BIOS password): never shown.
    'args': secret(free_mapping),
    'priority': integer(0),
}

deploy_step = mapping(DEPLOY_STEP_FIELDS,
                      required=('interface', 'step', 'priority'))


def netboot(value, path, report):
    """tripleo-ansible's ``netboot``: only its default, false, is possible."""
    boolean(value, path, report)
    if value is True:
        report(path, value, 'is not supported: Ironic no longer boots '
               'deployed servers from the network; they boot from their '
               'disk (remove netboot)')


def bond_options(value, path, report):
    """OVS or Linux bond options, without balance-tcp (THT refuses it)."""
    string(value, path, report)
    if isinstance(value, str) and 'balance-tcp' in value:
        report(path, value, 'must not use balance-tcp (it is known to lose '
               'packets; tripleo-heat-templates refuses it)')


def lookup_mapping(value, path, report):
    """``net_config_data_lookup``: ``{node or group: {nicN: ...}}``."""
    free_mapping(value, path, report)
    if isinstance(value, dict):
        for key, item in value.items():
            item_path = join(path, key_text(key))
            if not isinstance(item, dict):
                report(item_path, item, 'must be a mapping')
                continue
            for nic in item:
                string_key(nic, join(item_path, key_text(nic)), report,
                           'interface names')


#: tripleo-ansible's ``network_config`` keys (``network_config``).
NETWORK_CONFIG_FIELDS = {
    'template': string,
    'physical_bridge_name': string,
    'public_interface_name': string,
    'network_config_update': boolean,
    'net_config_data_lookup': lookup_mapping,
    'default_route_network': list_of(string),
    'networks_skip_config': list_of(string),
    'dns_search_domains': string_or_list,
    'bond_interface_ovs_options': bond_options,
    'num_dpdk_interface_rx_queues': integer(1),
    'nmstate': boolean,
}

CONFIG_DRIVE_FIELDS = {
    'cloud_config': limits.config_drive_part(free_mapping),
    'meta_data': limits.config_drive_part(free_mapping),
}

INSTANCE_FIELDS = {
    'hostname': string,
    'name': bounded_string(MAX_NODE_NAME),
    'provisioned': boolean,
    'managed': boolean,
    'resource_class': string,
    'profile': string,
    'capabilities': capability_mapping,
    'traits': list_of(trait),
    'forbidden_traits': list_of(trait),
    'conductor_group': string,
    'image': image_check(),
    'root_size_gb': integer(4),
    'swap_size_mb': integer(64),
    'nics': list_of(mapping(NETWORK_FIELDS)),
    'networks': list_of(mapping(NETWORK_FIELDS)),
    'config_drive': secret(mapping(CONFIG_DRIVE_FIELDS)),
    'ssh_public_keys': string_or_list,
    'user_name': string,
    'passwordless_sudo': boolean,
    'root_device': root_device,
    'raid_config': raid_config,
    'deploy_steps': list_of(deploy_step),
    'adopt': boolean,
    'network_config': mapping(NETWORK_CONFIG_FIELDS, forbidden={
        'network_deployment_actions': (
            'is the older form of network_config_update: write '
            'network_config_update: true for [CREATE, UPDATE], false for '
            '[CREATE]')}),
    'netboot': netboot,
    'management_ip': ip_address,
}

NOT_IN_DEFAULTS = {
    key: 'is not allowed in defaults (it names one instance; set it under '
         'instances)'
    for key in ('hostname', 'name', 'provisioned')
}


def instance_fields(allowed_paths=None):
    """``INSTANCE_FIELDS`` with images checked against ``allowed_paths``."""
    return dict(INSTANCE_FIELDS, image=image_check(allowed_paths))


def instance_check(allowed_paths=None):
    """The check of one entry of a role's ``instances``."""
    return mapping(instance_fields(allowed_paths))


def defaults_check(allowed_paths=None):
    """The check of a role's ``defaults``."""
    return mapping(instance_fields(allowed_paths), forbidden=NOT_IN_DEFAULTS)


def instance_items(allowed_paths=None):
    """``instance_check`` returning the entry's valid items."""
    return valid_items(instance_fields(allowed_paths))


def defaults_items(allowed_paths=None):
    """``defaults_check`` returning the valid items of the defaults."""
    return valid_items(instance_fields(allowed_paths),
                       forbidden=NOT_IN_DEFAULTS)


instance = instance_check()
defaults = defaults_check()

#: A role's ``ansible_playbooks`` entry: run on its servers once deployed.
PLAYBOOK_FIELDS = {
    'playbook': string,
    'extra_vars': free_mapping,
}

ROLE_FIELDS = {
    'name': string,
    'count': integer(0, MAX_COUNT, 'instances per role'),
    'hostname_format': string,
    'defaults': lambda value, path, report: None,    # checked per role
    'instances': lambda value, path, report: None,   # checked per instance
    'ansible_playbooks': list_of(mapping(
        PLAYBOOK_FIELDS, required=('playbook',), forbidden={
            'pre_network': 'is not supported (tripleo-ansible dropped it '
                           'too): playbooks run once the servers are '
                           'deployed'})),
}

role = mapping(ROLE_FIELDS, required=('name',))
role_items = valid_items(ROLE_FIELDS, required=('name',))
