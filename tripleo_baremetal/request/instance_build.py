"""One instance from its role's defaults and its own roles-file entry.

The checked roles-file values of an instance are merged over its role's
``defaults`` the way tripleo-ansible merges them (``merge``), then turned
into a ``model.Instance`` (``build_instance``): capabilities with the
profile among them, the config drive, SSH keys, root device, RAID config
and deploy steps in their normal forms. Ports are assigned later, for a
whole role at once (``port_maps.assign_ports``).
"""

from tripleo_baremetal.common import capabilities as capabilities_mod
from tripleo_baremetal.common import root_device
from tripleo_baremetal import model
from tripleo_baremetal.request import deploy_steps
from tripleo_baremetal.request import roles_schema as schema

#: Roles-file keys copied to the instance as they are; a key the file
#: does not set keeps the default of ``model.Instance``.
_PLAIN_KEYS = ('provisioned', 'managed', 'name', 'resource_class',
               'conductor_group', 'root_size_gb', 'swap_size_mb',
               'user_name', 'passwordless_sudo', 'adopt', 'network_config',
               'management_ip')


def copy_data(value):
    """A copy of plain data: new lists and mappings, shared scalars.

    Much cheaper than ``copy.deepcopy`` (no memo), and safe: the input was
    checked to be nested at most MAX_DEPTH deep.
    """
    if isinstance(value, dict):
        return {key: copy_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_data(item) for item in value]
    return value


def _deep_merge(base, override):
    result = copy_data(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = copy_data(value)
    return result


def normalise_level(level, path, report):
    """``nics`` is the older name of ``networks``; accept either, not both."""
    level = dict(level)
    if 'nics' in level:
        if 'networks' in level:
            report(schema.join(path, 'nics'), schema.MISSING,
                   'and networks are both set; use networks only')
        level.setdefault('networks', level['nics'])
        del level['nics']
    return level


def _merge_networks(defaults, own):
    """An instance's ``networks`` over its role's, network by network.

    As tripleo-ansible merges them: an instance entry replaces the
    role's entry for the network it names, and the role's other networks
    are kept, so that an instance adding a ``fixed_ip`` keeps the rest.
    The role's order is kept; the instance's other entries (new networks,
    entries naming no network) follow.
    """
    named = {}
    for entry in own:
        if entry.get('network') is not None:
            named.setdefault(entry['network'], entry)
    result, placed = [], set()
    for entry in defaults:
        mine = named.get(entry.get('network'))
        if mine is None:
            result.append(copy_data(entry))
        elif id(mine) not in placed:
            result.append(copy_data(mine))
            placed.add(id(mine))
    result.extend(copy_data(entry) for entry in own if id(entry) not in placed)
    return result


def merge(defaults, raw):
    merged = copy_data(defaults)
    for key, value in raw.items():
        if key == 'config_drive':
            merged[key] = _deep_merge(merged.get(key) or {}, value)
        elif key == 'networks' and merged.get(key):
            merged[key] = _merge_networks(merged[key], value)
        elif key == 'network_config':
            # Key by key, as tripleo-ansible merges it.
            merged[key] = dict(merged.get(key) or {}, **copy_data(value))
        else:
            merged[key] = copy_data(value)
    return merged


def _ssh_keys(value):
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return list(value or [])


def _capabilities(merged, report):
    """The instance's capabilities, ``profile`` among them when set.

    Values become the strings Ironic compares; a ``profile`` that
    contradicts ``capabilities.profile`` is reported.
    """
    capabilities = {key: capabilities_mod.capability_text(value)
                    for key, value
                    in (merged.get('capabilities') or {}).items()}
    profile = merged.get('profile')
    if profile and capabilities.get('profile', profile) != profile:
        report('profile', profile, 'conflicts with capabilities.profile %s'
               % schema.shown(capabilities['profile']))
    if profile:
        capabilities['profile'] = profile
    return capabilities


def _config_drive(merged):
    """Both parts of the config drive, empty when the file sets none."""
    config_drive = merged.get('config_drive') or {}
    return {
        'cloud_config': config_drive.get('cloud_config') or {},
        'meta_data': config_drive.get('meta_data') or {},
    }


def build_instance(merged, role, index, hostname, generated, default_image,
                   report):
    """Turn merged roles-file keys (a private copy) into a model.Instance.

    Its ports are assigned later, for the whole role at once
    (``port_maps.assign_ports``).
    """
    capabilities = _capabilities(merged, report)
    _check_adopt(merged, report)
    return model.Instance(
        hostname=hostname,
        generated_hostname=generated,
        role=role,
        index=index,
        profile=capabilities.get('profile'),
        capabilities=capabilities,
        traits=merged.get('traits') or (),
        forbidden_traits=merged.get('forbidden_traits') or (),
        image=merged.get('image') or copy_data(default_image),
        networks=tuple(model.Network(**entry)
                       for entry in merged.get('networks') or ()),
        config_drive=_config_drive(merged),
        ssh_public_keys=_ssh_keys(merged.get('ssh_public_keys')),
        root_device=root_device.normalise(merged.get('root_device')),
        raid_config=deploy_steps.normal_raid_config(
            merged.get('raid_config')),
        deploy_steps=deploy_steps.normal_steps(merged.get('deploy_steps')),
        **{key: merged[key] for key in _PLAIN_KEYS if key in merged})


def _check_adopt(merged, report):
    """``adopt`` takes over one named, running server: check it can."""
    if not merged.get('adopt'):
        return
    if not merged.get('name'):
        report('adopt', True, 'needs name: the node (name or UUID) that '
               'runs the server to adopt')
    if merged.get('managed') is False:
        report('adopt', True, 'contradicts managed: false (an unmanaged '
               'server is never touched, so it is not adopted either)')
    for key in ('raid_config', 'deploy_steps', 'root_device'):
        if merged.get(key):
            report(key, merged[key], 'cannot apply to an adopted server '
                   '(it is taken over as it runs, never deployed)')
