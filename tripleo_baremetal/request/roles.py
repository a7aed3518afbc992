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

Any input gives a result or an InvalidInput, quickly: values in messages
are cut (``roles_schema.shown``), nesting is limited (MAX_DEPTH, checked
without recursion before anything else), and so are ``count``
(MAX_COUNT per role), the instances in all (MAX_INSTANCES) and the
values copied into them (MAX_EXPANDED_VALUES). ``load_roles_file`` also
limits the file (MAX_FILE_BYTES, UTF-8 text, MAX_YAML_NODES once YAML
aliases are expanded).

Run ``tripleo-baremetal-expand FILE --stack NAME`` (or ``python -m
tripleo_baremetal.request.roles``) to print the expansion as YAML.
"""

import argparse
import logging
import os
import sys

import yaml

from tripleo_baremetal.common import capabilities as capabilities_mod
from tripleo_baremetal.common import images
from tripleo_baremetal.common import root_device
from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.request import deploy_steps
from tripleo_baremetal.request import environment as heat_env
from tripleo_baremetal.request import hostnames
from tripleo_baremetal.request import network_config
from tripleo_baremetal.request import port_maps
from tripleo_baremetal.request import roles_schema as schema

LOG = logging.getLogger(__name__)

#: Roles-file keys copied to the instance as they are; a key the file
#: does not set keeps the default of ``model.Instance``.
_PLAIN_KEYS = ('provisioned', 'managed', 'name', 'resource_class',
               'conductor_group', 'root_size_gb', 'swap_size_mb',
               'user_name', 'passwordless_sudo', 'adopt', 'network_config',
               'management_ip')

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

#: Largest roles (or port map) file, in bytes.
MAX_FILE_BYTES = 16 * 1024 * 1024

#: Most YAML nodes a file may hold once its aliases are expanded.
MAX_YAML_NODES = 1000000

#: Problems listed in one error; the others are counted.
MAX_LISTED_PROBLEMS = 50


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
                text = '%s: %s %s' % (path, schema.shown(value), problem)
            else:
                text = '%s %s' % (schema.shown(value), problem)
            self.errors.append('%s: %s' % (where, text) if where else text)
        return report

    def warn(self, message):
        LOG.warning('%s', message)
        self.warnings.append(message)

    def raise_errors(self):
        """Raise InvalidInput listing the errors, if there are any.

        At most ``MAX_LISTED_PROBLEMS`` are listed (a mistake in the
        defaults of a large role is the same mistake for every instance);
        a last line counts the others.
        """
        if not self.errors:
            return
        errors = self.errors[:MAX_LISTED_PROBLEMS]
        if len(self.errors) > MAX_LISTED_PROBLEMS:
            errors.append('... and %d more problem(s) not listed (%d in all)'
                          % (len(self.errors) - MAX_LISTED_PROBLEMS,
                             len(self.errors)))
        raise exceptions.InvalidInput(errors)


def _role_where(role, position):
    if isinstance(role, dict) and isinstance(role.get('name'), str):
        return 'role %s' % schema.shown(role['name'])
    return 'roles[%d]' % position


def _instance_where(role_name, position, raw):
    where = 'role %s instance %d' % (schema.shown(role_name), position)
    if isinstance(raw, dict) and isinstance(raw.get('hostname'), str):
        where += ' (hostname %s)' % schema.shown(raw['hostname'])
    return where


def _copy(value):
    """A copy of plain data: new lists and mappings, shared scalars.

    Much cheaper than ``copy.deepcopy`` (no memo), and safe: the input was
    checked to be nested at most MAX_DEPTH deep.
    """
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _size(value, limit=MAX_EXPANDED_VALUES):
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


def _deep_merge(base, override):
    result = _copy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = _copy(value)
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
            result.append(_copy(entry))
        elif id(mine) not in placed:
            result.append(_copy(mine))
            placed.add(id(mine))
    result.extend(_copy(entry) for entry in own if id(entry) not in placed)
    return result


def _merge(defaults, raw):
    merged = _copy(defaults)
    for key, value in raw.items():
        if key == 'config_drive':
            merged[key] = _deep_merge(merged.get(key) or {}, value)
        elif key == 'networks' and merged.get(key):
            merged[key] = _merge_networks(merged[key], value)
        elif key == 'network_config':
            # Key by key, as tripleo-ansible merges it.
            merged[key] = dict(merged.get(key) or {}, **_copy(value))
        else:
            merged[key] = _copy(value)
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


def _build_instance(merged, role, index, hostname, generated, default_image,
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
        image=merged.get('image') or _copy(default_image),
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


class _Indexes(object):
    """Hands out the lowest free indexes, in linear time overall.

    Indexes are only ever taken, never freed, so the lowest free one only
    moves up: one pointer replaces a scan from 0 per index.
    """

    def __init__(self, taken):
        self.taken = set(taken)
        self.next = 0

    def take(self):
        while self.next in self.taken:
            self.next += 1
        self.taken.add(self.next)
        return self.next


def _normal_hostname(hostname, where, problems):
    lowered = hostname.lower()
    if lowered != hostname:
        problems.warn('%s: hostname %s normalised to %s (hostnames are '
                      'lower case)' % (where, schema.shown(hostname),
                                       schema.shown(lowered)))
    return lowered


def _given_hostname(raw, where, path, problems):
    """The hostname an instances entry gives: its own, else its node's name.

    As tripleo-ansible does, an entry pinned to a node (``name``) without
    a ``hostname`` is named after the node, so that a file moved from it
    keeps its hostnames and ``HostnameMap``. A node name that is no valid
    hostname (once lowercased) gives way to the generated hostname, with
    a warning; for ``provisioned: false`` that is an error instead, since
    the hostname is what names the server to remove.

    :returns: the hostname as written (``_normal_hostname`` lowers it),
        or None for a generated one.
    """
    if raw.get('hostname'):
        return raw['hostname']
    name = raw.get('name')
    removing = raw.get('provisioned') is False
    problem = hostnames.hostname_problem(name.lower()) if name else None
    if name and not problem:
        return name
    if removing:
        problems.reporter(where)(
            schema.join(path, 'hostname'), schema.MISSING,
            'is required when provisioned is false (it names the server to '
            'remove)%s' % (' and name %s %s' % (schema.shown(name), problem)
                           if name else ''))
    elif name:
        problems.warn('%s: node name %s %s, so it cannot be the hostname '
                      '(tripleo-ansible would use it): the instance gets the '
                      'generated hostname; set hostname to choose another'
                      % (where, schema.shown(name), problem))
    return None


class _RolePlan(object):
    """One role, checked and with an index for every instance, not built.

    ``slots`` are ``[position in instances or None, raw entry, index,
    hostname the entry gives or None]``; ``weight`` is how many values
    building the instances will copy. A ``tainted`` role had problems
    already: it is planned and its instances built (for the checks of
    hostnames and indexes) from its valid values only, but its ports are
    not checked (they would only repeat its mistakes).
    """

    def __init__(self, role, stackname, problems, tainted=False):
        self.name = role['name']
        self.where = 'role %s' % schema.shown(self.name)
        self.report = problems.reporter(self.where)
        self.tainted = tainted
        self.playbooks = role.get('ansible_playbooks') or []
        self.hostname_format = role.get('hostname_format') or \
            hostnames.default_format(self.name)
        self.stackname = stackname
        self.slots = []
        self.weight = 0
        self.generated = 0
        self.generated_max = None
        self.ok = self._format_ok(0)
        if not self.ok:
            return
        self.defaults = _normalise_level(role.get('defaults') or {},
                                         'defaults', self.report)
        raw_instances = role.get('instances') or []
        self._assign_indexes(raw_instances, problems)
        provisioned = sum(1 for raw in raw_instances
                          if raw is not None and raw.get('provisioned', True))
        count = role.get('count', 1)
        if count is None:
            count = provisioned     # invalid, reported: no extra instances
        if provisioned > count:
            self.report('count', count, 'is less than the %d provisioned '
                        'instance(s) listed under instances; raise count or '
                        'set provisioned: false on the ones to remove'
                        % provisioned)
        self.generated = max(count - provisioned, 0)
        defaults_size = _size(self.defaults)
        self.weight = (defaults_size * (self.generated + len(self.slots))
                       + sum(_size(slot[1]) for slot in self.slots))

    def _format_ok(self, index):
        problem = hostnames.format_problem(self.hostname_format) or \
            hostnames.rendered_problem(self.hostname_format, self.stackname,
                                       index)
        if problem:
            self.report('hostname_format', self.hostname_format, problem)
        return not problem

    def _assign_indexes(self, raw_instances, problems):
        match = hostnames.index_matcher(self.hostname_format, self.stackname)
        taken = []
        for position, raw in enumerate(raw_instances):
            if raw is None:
                continue    # not a mapping (reported)
            hostname = _given_hostname(
                raw, _instance_where(self.name, position, raw),
                'instances[%d]' % position, problems)
            index = match(hostname) if hostname else None
            if index is not None:
                taken.append(index)
            self.slots.append([position, raw, index, hostname])
        self.indexes = _Indexes(taken)
        for slot in self.slots:
            if slot[2] is None:
                slot[2] = self.take_index()

    def take_index(self):
        index = self.indexes.take()
        self.generated_max = max(index, self.generated_max or 0)
        return index

    @property
    def instance_count(self):
        return len(self.slots) + self.generated

    def expand(self, default_image, problems):
        """Build the role's instances, in index order."""
        if not self.ok:
            return []
        slots = self.slots + [[None, {}, self.take_index(), None]
                              for _ in range(self.generated)]
        # Generated names are checked at the largest index handed out, the
        # longest name (custom hostnames take such indexes too, and their
        # generated name is a HostnameMap key).
        if self.generated_max:
            self.ok = self._format_ok(self.generated_max)
            if not self.ok:
                return []
        generated_base = _merge(self.defaults, {})
        result = []
        for position, raw, index, given in slots:
            result.append(self._instance(position, raw, index, given,
                                         generated_base, default_image,
                                         problems))
        result.sort(key=lambda inst: inst.index)
        return result

    def _instance(self, position, raw, index, given, generated_base,
                  default_image, problems):
        if position is None:
            where = '%s generated instance %d' % (self.where, index)
            path = ''
            report = problems.reporter(where)
            merged = _copy(generated_base)
        else:
            where = _instance_where(self.name, position, raw)
            path = 'instances[%d]' % position
            report = problems.reporter(where)
            raw = _normalise_level(raw, path, report)
            merged = _merge(self.defaults, raw)
        generated = hostnames.render(self.hostname_format, self.stackname,
                                     index)
        hostname = _normal_hostname(given or generated, where, problems)
        problem = hostnames.hostname_problem(hostname)
        if problem:
            report(schema.join(path, 'hostname'), hostname, problem)
        inst = _build_instance(merged, self.name, index, hostname, generated,
                               default_image, report)
        if inst.managed and inst.management_ip:
            problems.warn('%s: management_ip is only used for managed: false '
                          'servers; this one is deployed here, so it is '
                          'ignored' % where)
        return inst


def _check_role_name(name, names, report):
    """Report a duplicate or malformed role name; True if it is usable."""
    if name in names:
        report('name', name, 'is used by another role')
        return False
    names.add(name)
    if not name.replace('_', '').isalnum() or not name[0].isalpha():
        report('name', name, 'is not a role name (letters, digits and "_", '
               'starting with a letter)')
        return False
    return True


def _check_instances(name, raw_instances, instance_items, problems, report):
    """Check a role's instances; their valid items, None for non-mappings.

    Positions are kept (a None stands for an entry that is no mapping), so
    that later messages name the entry the operator wrote.
    """
    if not isinstance(raw_instances, list):
        report('instances', raw_instances, 'must be a list')
        return []
    return [instance_items(raw, 'instances[%d]' % index,
                           problems.reporter(
                               _instance_where(name, index, raw)))
            for index, raw in enumerate(raw_instances)]


def _check_shapes(roles, problems, allowed_paths):
    """Check every role, defaults and instance; return what can be planned.

    A role with shape errors is still planned (its count against its
    instances, its hostnames, their uniqueness), with only the values
    that passed their checks, so that one pass reports every problem of
    the file. Only roles without a usable name are left out.

    :returns: ``[(role, tainted)]``: each plannable role cut down to its
        valid values (``count`` None when it was given but is invalid),
        and whether it had any problem.
    """
    usable = []
    names = set()
    defaults_items = schema.defaults_items(allowed_paths)
    instance_items = schema.instance_items(allowed_paths)
    for position, role in enumerate(roles):
        report = problems.reporter(_role_where(role, position))
        before = len(problems.errors)
        clean = schema.role_items(role, '', report)
        if clean is None:
            continue
        name = clean.get('name')
        plannable = bool(name) and _check_role_name(name, names, report)
        if 'count' in role and 'count' not in clean:
            clean['count'] = None
        if 'defaults' in role:
            clean['defaults'] = defaults_items(role['defaults'], 'defaults',
                                               report) or {}
        clean['instances'] = _check_instances(
            role.get('name'), role.get('instances', []), instance_items,
            problems, report)
        if plannable:
            usable.append((clean, len(problems.errors) != before))
    return usable


def _check_unique(instances, problems):
    """Hostnames and pinned node names are unique across all roles."""
    for key, label in (('hostname', 'hostname'), ('name', 'node name')):
        seen = {}
        for inst in instances:
            value = getattr(inst, key)
            if not value:
                continue
            where = 'role %s index %d' % (schema.shown(inst.role),
                                          inst.index)
            if value in seen:
                problems.errors.append(
                    '%s %s is used twice: by %s and by %s'
                    % (label, schema.shown(value), seen[value], where))
            else:
                seen[value] = where


def _normal_default_image(default_image, problems, allowed_paths):
    if default_image is None:
        return dict(images.DEFAULT_IMAGE)
    if isinstance(default_image, str):
        default_image = {'href': default_image}
    default_image = _local_image(default_image, 'default_image', problems)
    schema.image_check(allowed_paths)(default_image, 'default_image',
                                      problems.reporter(''))
    return default_image


def _local_image(image, where, problems):
    """``image``, or the undercloud's files for its Glance image name.

    There is no Glance here: an ``href`` that names a Glance image (a
    file written before Wallaby) becomes the local image the undercloud
    ships, as tripleo-ansible's playbook detects it, with a warning. One
    with no such file is left for the image check to refuse, saying what
    to write instead.
    """
    if not isinstance(image, dict) or not images.is_glance_name(
            image.get('href')):
        return image
    local = images.local_image(image['href'])
    if local is None:
        return image
    dropped = sorted(set(image) - {'href'})
    problems.warn('%s: image.href %s is a Glance image name and there is no '
                  'Glance here: using the undercloud\'s %s%s' % (
                      where, schema.shown(image['href']),
                      ', '.join('%s %s' % (key, local[key])
                                for key in ('href', 'kernel', 'ramdisk')
                                if key in local),
                      ' (ignoring its %s)' % ', '.join(dropped)
                      if dropped else ''))
    return local


def _with_local_images(roles, problems):
    """A copy of ``roles`` with Glance image names made local files.

    Only the mappings holding an image are copied; the input is not
    changed.
    """
    if not isinstance(roles, list):
        return roles
    result = []
    for position, role in enumerate(roles):
        if not isinstance(role, dict):
            result.append(role)
            continue
        role = dict(role)
        where = _role_where(role, position)
        defaults = role.get('defaults')
        if isinstance(defaults, dict) and 'image' in defaults:
            role['defaults'] = dict(defaults, image=_local_image(
                defaults['image'], where + ' defaults', problems))
        if isinstance(role.get('instances'), list):
            role['instances'] = [
                dict(raw, image=_local_image(
                    raw['image'], _instance_where(role.get('name'), index,
                                                  raw), problems))
                if isinstance(raw, dict) and 'image' in raw else raw
                for index, raw in enumerate(role['instances'])]
        result.append(role)
    return result


def _check_depth(inputs, problems):
    """Refuse input nested too deeply, before anything recursive runs."""
    for path, value in inputs:
        schema.depth_report(value, path, problems.reporter(''))
    problems.raise_errors()


def _check_sizes(plans, problems):
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


def _check_mapped_roles(net_map, ctlplane_map, plans, problems):
    """Port maps must not give ports to roles the roles file lacks."""
    role_names = {plan.name for plan in plans}
    for mapping, label in ((net_map, 'role_net_port_id_map'),
                           (ctlplane_map, 'role_ctlplane_port_map')):
        for role in sorted(set(mapping) - role_names, key=schema.key_text):
            if mapping[role]:
                problems.errors.append(
                    '%s: role %s is not in the roles file'
                    % (schema.join(label, schema.key_text(role)),
                       schema.shown(role)))


def _assign_ports(net_map, ctlplane_map, plans, instances, problems):
    """Give instances their ports and check them, for roles that fit.

    :returns: ``instances`` (in their order) with ports assigned; the
        ports of a role whose port map lists do not fit are not checked
        further (the length problem is reported instead).
    """
    _check_mapped_roles(net_map, ctlplane_map, plans, problems)
    result = list(instances)
    checked = []
    for plan in plans:
        if not plan.ok or plan.tainted:
            # A wrong hostname_format gives no instances; a role with
            # other problems is not checked further for ports.
            continue
        positions = [position for position, inst in enumerate(instances)
                     if inst.role == plan.name]
        before = len(problems.errors)
        mine = port_maps.assign_ports(
            plan.name, [instances[position] for position in positions],
            net_map, ctlplane_map, problems.reporter(''))
        for position, inst in zip(positions, mine):
            result[position] = inst
        if len(problems.errors) == before:
            checked.extend(mine)
    problems.errors.extend(port_maps.instance_port_problems(checked))
    problems.errors.extend(port_maps.management_ip_problems(checked))
    return result


def _check_arguments(stackname, roles, net_map, ctlplane_map, templates,
                     problems):
    problem = hostnames.stackname_problem(stackname)
    if problem:
        problems.reporter('')('stackname', stackname, problem)
    problem = templates is not None and heat_env.templates_problem(templates)
    if problem:
        problems.reporter('')('templates', templates, problem)
    port_maps.check_port_maps(net_map, ctlplane_map, problems.reporter(''))
    if not isinstance(roles, list):
        problems.reporter('')('roles', roles, 'must be a list of roles')


def expand_roles(roles, stackname='overcloud', role_net_port_id_map=None,
                 role_ctlplane_port_map=None, default_image=None,
                 file_url_allowed_paths=None, templates=None):
    """Validate a roles file and expand it.

    :param roles: the parsed roles file (a list of role mappings).
    :param stackname: the overcloud stack name (``%stackname%``).
    :param role_net_port_id_map: Heat's ``RoleNetPortIdMap`` output.
    :param role_ctlplane_port_map: Heat's ``RoleCtlplanePortMap`` output.
    :param default_image: image (href string or image mapping) for
        instances that set none.
    :param file_url_allowed_paths: directories ``file://`` image URLs may
        point into, as the Ironic conductor's option of that name (None:
        its default, ``images.FILE_URL_ALLOWED_PATHS``).
    :param templates: the tripleo-heat-templates root, an absolute path,
        for the environment's resource registry (None:
        ``environment.DEFAULT_TEMPLATES``).
    :returns: ``{'instances': [...], 'unprovisioned': [...],
        'environment': {...}, 'warnings': [...]}``: ``instances`` are the
        provisioned ones (``managed: false`` included: filter on
        ``managed`` before touching nodes), ``unprovisioned`` the
        ``provisioned: false`` ones to undeploy, both lists of
        ``model.Instance`` (``config_drive`` set; ports assigned to the
        provisioned ones); ``environment`` is plain JSON for Heat;
        ``ansible_playbooks`` is ``{role: [{playbook, extra_vars?}]}``
        for the roles that list playbooks to run on their servers once
        deployed (the caller runs them).
    :raises: InvalidInput listing every problem found (at most
        MAX_LISTED_PROBLEMS of them, and how many more there are).
    """
    problems = _Problems()
    net_map = role_net_port_id_map or {}
    ctlplane_map = role_ctlplane_port_map or {}
    roles = [] if roles is None else roles
    _check_depth([('roles', roles), ('role_net_port_id_map', net_map),
                  ('role_ctlplane_port_map', ctlplane_map),
                  ('default_image', default_image)], problems)
    _check_arguments(stackname, roles, net_map, ctlplane_map, templates,
                     problems)
    image = _normal_default_image(default_image, problems,
                                  file_url_allowed_paths)
    problems.raise_errors()
    roles = _with_local_images(roles, problems)

    plans = [_RolePlan(role, stackname, problems, tainted)
             for role, tainted in _check_shapes(roles, problems,
                                                file_url_allowed_paths)]
    if not _check_sizes(plans, problems):
        problems.raise_errors()
    expanded = []
    for plan in plans:
        expanded.extend(plan.expand(image, problems))
    _check_unique(expanded, problems)
    provisioned = _assign_ports(
        net_map, ctlplane_map, plans,
        [inst for inst in expanded if inst.provisioned], problems)
    unprovisioned = [inst for inst in expanded if not inst.provisioned]
    net_params, net_problems, net_warnings = network_config.parameters(
        provisioned)
    problems.errors.extend(net_problems)
    for warning in net_warnings:
        problems.warn(warning)
    problems.raise_errors()

    role_formats = [{'name': plan.name,
                     'hostname_format': plan.hostname_format}
                    for plan in plans]
    return {
        'instances': provisioned,
        'unprovisioned': unprovisioned,
        'environment': heat_env.build_environment(
            role_formats, provisioned, unprovisioned, templates=templates,
            parameters=net_params),
        'warnings': problems.warnings,
        'ansible_playbooks': {plan.name: _copy(plan.playbooks)
                              for plan in plans if plan.playbooks},
    }


class _YamlTooBig(Exception):
    """A YAML document over a limit; the message says which."""


def _yaml_loader(text):
    """A safe loader for ``text``, with libyaml's parser when available."""
    loader_class = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    return loader_class(text)


def _mark(mark):
    return 'line %d, column %d' % (mark.line + 1, mark.column + 1)


def _compose_events(loader):
    """Compose one YAML document from its events, without recursion.

    The same node graph PyYAML's composer builds (aliases are shared
    nodes), but checked as it is built: nesting deeper than MAX_DEPTH
    and more than MAX_YAML_NODES nodes once aliases are expanded (each
    node's expanded size is known when it ends, so a "billion laughs"
    bomb is counted in linear time, never expanded) raise _YamlTooBig;
    an alias inside its own anchor raises a ComposerError.
    """
    loader.get_event()                              # StreamStart
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()                              # DocumentStart
    anchors, sizes = {}, {}
    # Open collections: [node, mapping key node or None, size so far].
    stack = []
    root = None
    while True:
        event = loader.get_event()
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            node, _key, size = stack.pop()
            node.end_mark = event.end_mark
            sizes[id(node)] = size
            _add_child(stack, node, size)
            if not stack:
                root = node
                break
            continue
        node, size = _event_node(loader, event, anchors, sizes)
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and \
                size is None:
            if len(stack) >= MAX_DEPTH:
                raise _YamlTooBig('%s: nesting is deeper than %d levels'
                                  % (_mark(event.start_mark), MAX_DEPTH))
            stack.append([node, None, 1])
            continue
        if size > MAX_YAML_NODES:
            raise _YamlTooBig('%s: an alias expands to more than %d nodes'
                              % (_mark(event.start_mark), MAX_YAML_NODES))
        if not stack:
            root = node
            break
        _add_child(stack, node, size)
    loader.get_event()                              # DocumentEnd
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.get_event()
        raise yaml.composer.ComposerError(
            'expected a single document in the stream', None,
            'but found another document', event.start_mark)
    return root


def _add_child(stack, node, size):
    """Add a complete node to the innermost open collection."""
    if not stack:
        return
    parent = stack[-1]
    parent[2] += size
    if parent[2] > MAX_YAML_NODES:
        raise _YamlTooBig('more than %d nodes once aliases are expanded '
                          '(%s)' % (MAX_YAML_NODES, _mark(node.start_mark)))
    if isinstance(parent[0], yaml.SequenceNode):
        parent[0].value.append(node)
    elif parent[1] is None:
        parent[1] = node
    else:
        parent[0].value.append((parent[1], node))
        parent[1] = None


def _event_node(loader, event, anchors, sizes):
    """``(node, expanded size or None while open)`` for one event."""
    if isinstance(event, yaml.AliasEvent):
        node = anchors.get(event.anchor)
        if node is None:
            raise yaml.composer.ComposerError(
                None, None, 'found undefined alias %s'
                % schema.shown(event.anchor), event.start_mark)
        if id(node) not in sizes:
            raise yaml.composer.ComposerError(
                None, None, 'found an alias inside its own anchor %s'
                % schema.shown(event.anchor), event.start_mark)
        return node, sizes[id(node)]
    if event.anchor is not None and event.anchor in anchors:
        raise yaml.composer.ComposerError(
            'found duplicate anchor %s; first occurrence'
            % schema.shown(event.anchor), anchors[event.anchor].start_mark,
            'second occurrence', event.start_mark)
    tag = event.tag
    if isinstance(event, yaml.ScalarEvent):
        if tag is None or tag == '!':
            tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        node = yaml.ScalarNode(tag, event.value, event.start_mark,
                               event.end_mark, style=event.style)
        size = 1
    else:
        kind = (yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent)
                else yaml.MappingNode)
        if tag is None or tag == '!':
            tag = loader.resolve(kind, None, event.implicit)
        node = kind(tag, [], event.start_mark, None,
                    flow_style=event.flow_style)
        size = None
    if event.anchor is not None:
        anchors[event.anchor] = node
        if size is not None:
            sizes[id(node)] = size
    return node, size


def _yaml_error_text(exc):
    """A YAML error on one line: position, problem and context."""
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = []
        if exc.problem_mark is not None:
            parts.append(_mark(exc.problem_mark) + ':')
        parts.append(exc.problem or 'error')
        if exc.context:
            parts.append('(%s%s)' % (exc.context, ' at %s' % _mark(
                exc.context_mark) if exc.context_mark is not None else ''))
        text = ' '.join(parts)
    else:
        text = str(exc)
    return schema.cut(' '.join(text.split()), 3 * schema.MAX_SHOWN)


def _read_text(path):
    """The text of a file, refused with a reason when it is not text."""
    with open(path, 'rb') as stream:
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise exceptions.InvalidInput(
            '%s is too large: a roles or port map file may have at most %d '
            'bytes (%d MiB)' % (path, MAX_FILE_BYTES,
                                MAX_FILE_BYTES // (1024 * 1024)))
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise exceptions.InvalidInput(
            '%s is not a UTF-8 text file (byte 0x%02x at offset %d cannot be '
            'decoded)' % (path, data[exc.start], exc.start))
    if '\0' in text:
        raise exceptions.InvalidInput(
            '%s is not a text file (it has a NUL byte at offset %d)'
            % (path, text.index('\0')))
    return text


def load_roles_file(path):
    """Read a YAML file (a roles or port map file) safely.

    Every problem is an InvalidInput naming the file, on one line: a
    file larger than MAX_FILE_BYTES, not UTF-8 text, not valid YAML (with
    the position), nested deeper than MAX_DEPTH, or holding more than
    MAX_YAML_NODES nodes once its aliases are expanded. Those limits are
    checked while the YAML is composed, before any Python object is
    constructed. Anchors and aliases that share defaults work as usual.

    :raises: InvalidInput, or OSError when the file cannot be read.
    """
    loader = _yaml_loader(_read_text(path))
    try:
        node = _compose_events(loader)
        return None if node is None else loader.construct_document(node)
    except _YamlTooBig as exc:
        raise exceptions.InvalidInput('%s is too large: %s' % (path, exc))
    except yaml.YAMLError as exc:
        raise exceptions.InvalidInput('%s is not valid YAML: %s'
                                      % (path, _yaml_error_text(exc)))
    except ValueError as exc:
        # e.g. an integer of more digits than Python converts.
        raise exceptions.InvalidInput('%s is not valid YAML: %s' % (
            path, schema.cut(' '.join(str(exc).split()))))
    finally:
        loader.dispose()


def load_port_maps(path):
    """Read ``RoleNetPortIdMap``/``RoleCtlplanePortMap`` from a YAML file.

    The file may hold the two outputs at its top level or under
    ``parameter_defaults``.
    """
    data = load_roles_file(path) or {}
    if isinstance(data, dict) and isinstance(
            data.get('parameter_defaults'), dict):
        data = data['parameter_defaults']
    if not isinstance(data, dict):
        raise exceptions.InvalidInput(
            '%s: must be a mapping holding RoleNetPortIdMap and/or '
            'RoleCtlplanePortMap (at the top or under parameter_defaults)'
            % path)
    return data.get('RoleNetPortIdMap'), data.get('RoleCtlplanePortMap')


def _write_yaml(data):
    """Print ``data`` as YAML; a closed pipe (``| head``) is not an error."""
    try:
        yaml.safe_dump(data, sys.stdout, default_flow_style=False,
                       sort_keys=False)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m tripleo_baremetal.request.roles',
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
    parser.add_argument('--templates', metavar='DIR',
                        default=heat_env.DEFAULT_TEMPLATES,
                        help='the tripleo-heat-templates root, for the '
                             'environment\'s resource registry (default: '
                             '%(default)s)')
    parser.add_argument('--file-url-allowed-paths', metavar='DIR[,DIR]',
                        help='directories file:// images may be in, as '
                             'the Ironic conductor\'s option (default: %s)'
                             % ','.join(images.FILE_URL_ALLOWED_PATHS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='%(message)s')
    allowed = args.file_url_allowed_paths
    try:
        net_map, ctlplane_map = (load_port_maps(args.port_map)
                                 if args.port_map else (None, None))
        result = expand_roles(
            load_roles_file(args.roles_file), stackname=args.stack,
            role_net_port_id_map=net_map,
            role_ctlplane_port_map=ctlplane_map,
            default_image=args.default_image, templates=args.templates,
            file_url_allowed_paths=None if allowed is None else [
                path.strip() for path in allowed.split(',') if path.strip()])
    except (exceptions.InvalidInput, OSError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 2
    return _write_yaml(_as_json(result))


def _as_json(result):
    """``expand_roles``' result with its instances as plain data."""
    return dict(result, **{key: [inst.to_dict() for inst in result[key]]
                           for key in ('instances', 'unprovisioned')})


if __name__ == '__main__':
    sys.exit(main())
