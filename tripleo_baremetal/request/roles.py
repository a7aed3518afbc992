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
the instances (see ``doc/source/instances.md``) and the environment for the
deployed-server stage. It makes no API call, so it is safe to run on any
input, and the same input always gives the same output.

Any input gives a result or an InvalidInput, quickly: values in messages
are cut (``roles_schema.shown``), and the input is held to the limits of
``limits`` (nesting, counts, copied values) before the work they bound.
``load_roles_file`` (``roles_file``) also limits the file (size, UTF-8
text, YAML nodes once aliases are expanded). One role's planning and
instances are ``role_expansion``'s job, one instance's values
``instance_build``'s.

Run ``tripleo-baremetal-expand FILE --stack NAME`` (or ``python -m
tripleo_baremetal.request.roles``) to print the expansion as YAML.
"""

import argparse
import logging
import os
import sys

import yaml

from tripleo_baremetal.common import images
from tripleo_baremetal import exceptions
from tripleo_baremetal.request import environment as heat_env
from tripleo_baremetal.request import hostnames
from tripleo_baremetal.request import instance_build
from tripleo_baremetal.request import limits
from tripleo_baremetal.request import network_config
from tripleo_baremetal.request import port_maps
from tripleo_baremetal.request import role_expansion
from tripleo_baremetal.request import roles_file
from tripleo_baremetal.request import roles_schema as schema

LOG = logging.getLogger(__name__)

# The limits, the file readers and the problems' format, under the names
# callers have always used (``roles.MAX_COUNT``, ``roles.load_roles_file``).
MAX_COUNT = limits.MAX_COUNT
MAX_INSTANCES = limits.MAX_INSTANCES
MAX_EXPANDED_VALUES = limits.MAX_EXPANDED_VALUES
MAX_DEPTH = limits.MAX_DEPTH
MAX_CONFIG_DRIVE_BYTES = limits.MAX_CONFIG_DRIVE_BYTES
MAX_FILE_BYTES = roles_file.MAX_FILE_BYTES
MAX_YAML_NODES = roles_file.MAX_YAML_NODES
MAX_LISTED_PROBLEMS = role_expansion.MAX_LISTED_PROBLEMS
load_roles_file = roles_file.load_roles_file
load_port_maps = roles_file.load_port_maps


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
        where = role_expansion.role_where(role, position)
        defaults = role.get('defaults')
        if isinstance(defaults, dict) and 'image' in defaults:
            role['defaults'] = dict(defaults, image=_local_image(
                defaults['image'], where + ' defaults', problems))
        if isinstance(role.get('instances'), list):
            role['instances'] = [
                dict(raw, image=_local_image(
                    raw['image'], role_expansion.instance_where(
                        role.get('name'), index, raw), problems))
                if isinstance(raw, dict) and 'image' in raw else raw
                for index, raw in enumerate(role['instances'])]
        result.append(role)
    return result


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
    problems = role_expansion.Problems()
    net_map = role_net_port_id_map or {}
    ctlplane_map = role_ctlplane_port_map or {}
    roles = [] if roles is None else roles
    limits.check_depth([('roles', roles), ('role_net_port_id_map', net_map),
                        ('role_ctlplane_port_map', ctlplane_map),
                        ('default_image', default_image)], problems)
    _check_arguments(stackname, roles, net_map, ctlplane_map, templates,
                     problems)
    image = _normal_default_image(default_image, problems,
                                  file_url_allowed_paths)
    problems.raise_errors()
    roles = _with_local_images(roles, problems)

    plans = [role_expansion.RolePlan(role, stackname, problems, tainted)
             for role, tainted in role_expansion.check_shapes(
                 roles, problems, file_url_allowed_paths)]
    if not limits.check_sizes(plans, problems):
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
        'ansible_playbooks': {
            plan.name: instance_build.copy_data(plan.playbooks)
            for plan in plans if plan.playbooks},
    }


def _write_yaml(data):
    """Print ``data`` as YAML; a closed pipe (``| head``) is not an error.

    With libyaml's emitter when there is one: PyYAML's own takes seconds
    per megabyte of a long string (a config drive's ``cloud_config``).
    """
    dumper = getattr(yaml, 'CSafeDumper', yaml.SafeDumper)
    try:
        yaml.dump(data, sys.stdout, Dumper=dumper, default_flow_style=False,
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
