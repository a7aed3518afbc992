"""Expand a TripleO roles file into instances and a Heat environment.

A roles file (``baremetal_deployment.yaml``) is a YAML list of roles::

    - name: Controller
      count: 3
      defaults:
        profile: control
        image: {href: file:///var/lib/ironic/images/overcloud-full.raw}
      instances:
        - hostname: overcloud-controller-0
          name: node-11              # pin to this Ironic node
        - hostname: overcloud-controller-1
          provisioned: false         # scale this one down

``expand_roles`` validates the whole file first (every problem is reported
at once, with the role, instance, key path and value) and only then builds
the instances (see ``doc/instances.md``) and the environment for the
deployed-server stage. It makes no API call, so it is safe to run on any
input, and the same input always gives the same output.

Run ``python -m tripleo_baremetal.roles FILE --stack NAME`` to print the
expansion as YAML.
"""

import argparse
import copy
import logging
import sys

import yaml

from tripleo_baremetal import capabilities as capabilities_mod
from tripleo_baremetal import environment as heat_env
from tripleo_baremetal import exceptions
from tripleo_baremetal import hostnames
from tripleo_baremetal import images
from tripleo_baremetal import port_maps
from tripleo_baremetal import roles_schema as schema

LOG = logging.getLogger(__name__)

_DEFAULTS = {
    'provisioned': True,
    'managed': True,
    'resource_class': 'baremetal',
}


class _Problems:
    """Collects problems, each prefixed with where in the file it is."""

    def __init__(self):
        self.errors = []
        self.warnings = []

    def reporter(self, where):
        def report(path, value, problem):
            if value is schema.MISSING:
                text = '%s %s' % (path, problem)
            elif path:
                text = '%s: %r %s' % (path, value, problem)
            else:
                text = '%r %s' % (value, problem)
            self.errors.append('%s: %s' % (where, text) if where else text)
        return report

    def warn(self, message):
        LOG.warning('%s', message)
        self.warnings.append(message)


def _role_where(role, position):
    if isinstance(role, dict) and isinstance(role.get('name'), str):
        return 'role %r' % role['name']
    return 'roles[%d]' % position


def _instance_where(role_name, position, raw):
    where = 'role %r instance %d' % (role_name, position)
    if isinstance(raw, dict) and isinstance(raw.get('hostname'), str):
        where += ' (hostname %r)' % raw['hostname']
    return where


def _deep_merge(base, override):
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _normalise_level(level, path, report):
    """``nics`` is the older name of ``networks``; accept either, not both."""
    level = dict(level)
    if 'nics' in level:
        if 'networks' in level:
            report(schema.join(path, 'nics'), schema.MISSING,
                   'and networks are both set; use networks only')
        level.setdefault('networks', level['nics'])
        del level['nics']
    return level


def _merge(defaults, raw):
    merged = copy.deepcopy(defaults)
    for key, value in raw.items():
        if key == 'config_drive':
            merged[key] = _deep_merge(merged.get(key) or {}, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _ssh_keys(value):
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return list(value or [])


def _build_instance(merged, role, index, hostname, generated, default_image,
                    report):
    """Turn merged roles-file keys into an instance dict."""
    capabilities = {key: capabilities_mod.capability_text(value)
                    for key, value
                    in (merged.get('capabilities') or {}).items()}
    profile = merged.get('profile')
    if profile and capabilities.get('profile', profile) != profile:
        report('profile', profile, 'conflicts with capabilities.profile %r'
               % capabilities['profile'])
    if profile:
        capabilities['profile'] = profile
    config_drive = merged.get('config_drive') or {}
    return {
        'hostname': hostname,
        'generated_hostname': generated,
        'role': role,
        'index': index,
        'provisioned': merged.get('provisioned', True),
        'managed': merged.get('managed', True),
        'name': merged.get('name'),
        'resource_class': merged.get('resource_class', 'baremetal'),
        'profile': capabilities.get('profile'),
        'capabilities': capabilities,
        'traits': list(merged.get('traits') or []),
        'forbidden_traits': list(merged.get('forbidden_traits') or []),
        'conductor_group': merged.get('conductor_group'),
        'image': copy.deepcopy(merged.get('image') or default_image),
        'root_size_gb': merged.get('root_size_gb'),
        'swap_size_mb': merged.get('swap_size_mb'),
        'networks': copy.deepcopy(merged.get('networks') or []),
        'config_drive': {
            'cloud_config': config_drive.get('cloud_config') or {},
            'meta_data': config_drive.get('meta_data') or {},
        },
        'ssh_public_keys': _ssh_keys(merged.get('ssh_public_keys')),
        'user_name': merged.get('user_name'),
        'passwordless_sudo': merged.get('passwordless_sudo'),
        'ctlplane_port': None,
        'network_ports': {},
    }


def _lowest_free(taken):
    index = 0
    while index in taken:
        index += 1
    taken.add(index)
    return index


def _normal_hostname(hostname, where, problems):
    lowered = hostname.lower()
    if lowered != hostname:
        problems.warn('%s: hostname %r normalised to %r (hostnames are '
                      'lower case)' % (where, hostname, lowered))
    return lowered


def _expand_role(role, stackname, default_image, problems):
    """Expand one already shape-checked role into instances."""
    name = role['name']
    where = 'role %r' % name
    report = problems.reporter(where)
    hostname_format = role.get('hostname_format') or hostnames.default_format(
        name)
    problem = hostnames.format_problem(hostname_format)
    if not problem:
        sample = hostnames.render(hostname_format, stackname, 0).lower()
        problem = hostnames.hostname_problem(sample)
        if problem:
            problem = 'gives hostname %r, which %s' % (sample, problem)
    if problem:
        report('hostname_format', hostname_format, problem)
        return hostname_format, []

    defaults = _normalise_level(role.get('defaults') or {}, 'defaults',
                                report)
    raw_instances = role.get('instances') or []
    match = hostnames.index_matcher(hostname_format, stackname)
    taken = set()
    slots = []   # (position or None, raw, index)
    for position, raw in enumerate(raw_instances):
        hostname = raw.get('hostname')
        index = match(hostname) if hostname else None
        if index is not None:
            taken.add(index)
        if raw.get('provisioned') is False and not hostname:
            problems.reporter(_instance_where(name, position, raw))(
                'instances[%d].hostname' % position, schema.MISSING,
                'is required when provisioned is false (it names the '
                'server to remove)')
        slots.append([position, raw, index])
    for slot in slots:
        if slot[2] is None:
            slot[2] = _lowest_free(taken)

    count = role.get('count', 1)
    provisioned = sum(1 for raw in raw_instances
                      if raw.get('provisioned', True))
    if provisioned > count:
        report('count', count, 'is less than the %d provisioned instance(s) '
               'listed under instances; raise count or set provisioned: '
               'false on the ones to remove' % provisioned)
    for _ in range(count - provisioned):
        slots.append([None, {}, _lowest_free(taken)])

    result = []
    for position, raw, index in slots:
        if position is None:
            where_inst = '%s generated instance %d' % (where, index)
            path = ''
        else:
            where_inst = _instance_where(name, position, raw)
            path = 'instances[%d]' % position
        inst_report = problems.reporter(where_inst)
        raw = _normalise_level(raw, path, inst_report)
        merged = _merge(defaults, raw)
        generated = hostnames.render(hostname_format, stackname, index)
        hostname = _normal_hostname(raw.get('hostname') or generated,
                                    where_inst, problems)
        problem = hostnames.hostname_problem(hostname)
        if problem:
            inst_report(schema.join(path, 'hostname'), hostname, problem)
        result.append(_build_instance(merged, name, index, hostname,
                                      generated, default_image, inst_report))
    result.sort(key=lambda inst: inst['index'])
    return hostname_format, result


def _check_shapes(roles, problems):
    """Check every role, defaults and instance; return usable roles."""
    usable = []
    names = set()
    for position, role in enumerate(roles):
        where = _role_where(role, position)
        report = problems.reporter(where)
        before = len(problems.errors)
        schema.role(role, '', report)
        if not isinstance(role, dict):
            continue
        name = role.get('name')
        if isinstance(name, str):
            if name in names:
                report('name', name, 'is used by another role')
            elif not name.replace('_', '').isalnum() or not name[0].isalpha():
                report('name', name, 'is not a role name (letters, digits '
                       'and "_", starting with a letter)')
            names.add(name)
        if 'defaults' in role:
            schema.defaults(role['defaults'], 'defaults', report)
        raw_instances = role.get('instances', [])
        if not isinstance(raw_instances, list):
            report('instances', raw_instances, 'must be a list')
        else:
            for index, raw in enumerate(raw_instances):
                schema.instance(raw, 'instances[%d]' % index,
                                problems.reporter(
                                    _instance_where(name, index, raw)))
        if len(problems.errors) == before:
            usable.append(role)
    return usable


def _check_unique(instances, problems):
    """Hostnames and pinned node names are unique across all roles."""
    for key, label in (('hostname', 'hostname'), ('name', 'node name')):
        seen = {}
        for inst in instances:
            value = inst[key]
            if not value:
                continue
            where = 'role %r index %d' % (inst['role'], inst['index'])
            if value in seen:
                problems.errors.append(
                    '%s %r is used twice: by %s and by %s'
                    % (label, value, seen[value], where))
            else:
                seen[value] = where


def _normal_default_image(default_image, problems):
    if default_image is None:
        return dict(images.DEFAULT_IMAGE)
    if isinstance(default_image, str):
        default_image = {'href': default_image}
    schema.INSTANCE_FIELDS['image'](default_image, 'default_image',
                                    problems.reporter(''))
    return default_image


def expand_roles(roles, stackname='overcloud', role_net_port_id_map=None,
                 role_ctlplane_port_map=None, default_image=None):
    """Validate a roles file and expand it.

    :param roles: the parsed roles file (a list of role mappings).
    :param stackname: the overcloud stack name (``%stackname%``).
    :param role_net_port_id_map: Heat's ``RoleNetPortIdMap`` output.
    :param role_ctlplane_port_map: Heat's ``RoleCtlplanePortMap`` output.
    :param default_image: image (href string or image mapping) for
        instances that set none.
    :returns: ``{'instances': [...], 'unprovisioned': [...],
        'environment': {...}, 'warnings': [...]}``: ``instances`` are the
        provisioned ones (``managed: false`` included: filter on
        ``managed`` before touching nodes), ``unprovisioned`` the
        ``provisioned: false`` ones to undeploy.
    :raises: InvalidInput listing every problem found.
    """
    problems = _Problems()
    net_map = role_net_port_id_map or {}
    ctlplane_map = role_ctlplane_port_map or {}
    if not isinstance(stackname, str) or not stackname:
        problems.reporter('')('stackname', stackname,
                              'must be a non-empty string')
    image = _normal_default_image(default_image, problems)
    port_maps.check_port_maps(net_map, ctlplane_map, problems.reporter(''))
    if roles is None:
        roles = []
    if not isinstance(roles, list):
        problems.reporter('')('roles', roles, 'must be a list of roles')
        roles = []
    if problems.errors:
        raise exceptions.InvalidInput(problems.errors)

    usable = _check_shapes(roles, problems)
    role_formats = []
    expanded = []
    for role in usable:
        hostname_format, instances = _expand_role(role, stackname, image,
                                                  problems)
        role_formats.append({'name': role['name'],
                             'hostname_format': hostname_format})
        expanded.extend(instances)
    _check_unique(expanded, problems)

    provisioned = [inst for inst in expanded if inst['provisioned']]
    unprovisioned = [inst for inst in expanded if not inst['provisioned']]
    role_names = {role['name'] for role in role_formats}
    for mapping, label in ((net_map, 'role_net_port_id_map'),
                           (ctlplane_map, 'role_ctlplane_port_map')):
        for role in sorted(set(mapping) - role_names):
            if mapping[role]:
                problems.errors.append(
                    '%s.%s: role %r is not in the roles file'
                    % (label, role, role))
    for role in role_formats:
        port_maps.assign_ports(
            role['name'],
            [inst for inst in provisioned if inst['role'] == role['name']],
            net_map, ctlplane_map, problems.reporter(''))
    if problems.errors:
        raise exceptions.InvalidInput(problems.errors)

    return {
        'instances': provisioned,
        'unprovisioned': unprovisioned,
        'environment': heat_env.build_environment(role_formats, provisioned,
                                                  unprovisioned),
        'warnings': problems.warnings,
    }


def load_roles_file(path):
    """Read a roles file; a YAML error names the file and position."""
    with open(path) as stream:
        try:
            return yaml.safe_load(stream)
        except yaml.YAMLError as exc:
            raise exceptions.InvalidInput('%s is not valid YAML: %s'
                                          % (path, exc))


def _port_maps_from_file(path):
    """Read ``RoleNetPortIdMap``/``RoleCtlplanePortMap`` from a YAML file.

    The file may hold the two outputs at its top level or under
    ``parameter_defaults``.
    """
    data = load_roles_file(path) or {}
    data = data.get('parameter_defaults', data)
    return data.get('RoleNetPortIdMap'), data.get('RoleCtlplanePortMap')


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m tripleo_baremetal.roles',
        description='Validate a roles file and print the instances it '
                    'expands to and the Heat environment, as YAML.')
    parser.add_argument('roles_file', help='baremetal_deployment.yaml')
    parser.add_argument('--stack', default='overcloud',
                        help='overcloud stack name (default: overcloud)')
    parser.add_argument('--port-map', metavar='FILE',
                        help='YAML file with RoleNetPortIdMap and/or '
                             'RoleCtlplanePortMap')
    parser.add_argument('--default-image', metavar='HREF',
                        help='image for instances that set none')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='%(message)s')
    try:
        net_map, ctlplane_map = (_port_maps_from_file(args.port_map)
                                 if args.port_map else (None, None))
        result = expand_roles(load_roles_file(args.roles_file),
                              stackname=args.stack,
                              role_net_port_id_map=net_map,
                              role_ctlplane_port_map=ctlplane_map,
                              default_image=args.default_image)
    except (exceptions.InvalidInput, OSError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    yaml.safe_dump(result, sys.stdout, default_flow_style=False,
                   sort_keys=False)
    return 0


if __name__ == '__main__':
    sys.exit(main())
