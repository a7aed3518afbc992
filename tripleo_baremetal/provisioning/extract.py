"""Write a roles file from what a stack has deployed now.

This is the core of ``openstack overcloud node extract provisioned``: it
reads Ironic once (one allocation listing, one node listing, no writes)
and returns the roles file (``baremetal_deployment.yaml`` data) that
describes the stack's active instances, so that an operator who lost the
file, or deployed with Nova, gets one back. The file is built so that
expanding it and running ``deploy_instances`` finds every instance as
existing and writes nothing (nodes deployed without allocations, e.g. by
Nova, get their allocation backfilled once, as ``existing`` always does).

Which nodes carry which hostname follows ``existing``: the name of the
allocation on the node, or, for an active node without an allocation,
its ``instance_info.display_name``. A hostname belongs to the stack when
it matches a role's hostname format:

* with ``roles`` (e.g. the roles of an earlier roles file), the given
  ``hostname_format`` of each role, or its default
  (``hostnames.default_format``); the first matching role wins, and
  every given role is in the result, with ``count: 0`` if nothing
  matches it;
* without, the rule is ``<stack>-<part>-<index>``: a ``<part>`` that a
  standard TripleO role's default format gives names that role
  (``novacompute``: Compute, ``controller``: Controller, ``cephstorage``:
  CephStorage...), any other ``<part>`` names the role ``<Part>`` (its
  ``-`` as ``_``) with ``hostname_format`` ``%stackname%-<part>-%index%``.
  Node capabilities do not name roles (a profile is not a role: several
  roles may share one); the node's ``profile`` capability becomes the
  instance's ``profile``, so replacements are picked from the same kind
  of node.

Each instance carries ``hostname``, ``name`` (the node's name, else its
UUID: the instance stays pinned to its node), and what its node was
deployed with: ``image`` (``instance_info`` ``image_source``,
``image_checksum``, ``kernel``, ``ramdisk``), ``profile``,
``capabilities.boot_mode``, ``traits`` (``instance_info``),
``resource_class`` (when not the default) and ``swap_size_mb``. Values
that every instance of a role shares go to the role's ``defaults``, so
that raising ``count`` deploys alike instances. ``root_size_gb`` is not
extracted: for partition images deploy derives it from the node.

Only ``active`` nodes are extracted: the file describes what is
deployed. A stack hostname on a node in any other state (deploying,
deploy failed, reserved by an interrupted run...), carried by two nodes,
or matching no role, is left out with a warning naming host, node and
state; the next deploy with the extracted file leaves it as it is. An
image that could not be expanded (a Glance UUID left by Nova, a
``file://`` path outside the allowed directories) is left out of its
instance with a warning: the node keeps it, since existing instances
are never redeployed, and replacements get the role's image.
"""

import logging
import re

from tripleo_baremetal.common import capabilities as caps
from tripleo_baremetal.common import images
from tripleo_baremetal import exceptions
from tripleo_baremetal import labels
from tripleo_baremetal.provisioning import polling
from tripleo_baremetal.request import hostnames
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)

#: Node fields the listing asks for. Not ``allocation_uuid`` (Ironic
#: answers HTTP 500): the allocation listing tells which node is whose.
NODE_FIELDS = ('uuid', 'name', 'provision_state', 'instance_info',
               'properties', 'resource_class')

#: Standard TripleO roles, in the order the result lists them; a
#: hostname their default format gives is named after them.
KNOWN_ROLES = ('Controller', 'Compute', 'CephStorage', 'ObjectStorage',
               'BlockStorage', 'Networker', 'ComputeHCI', 'Database',
               'Messaging')

#: Instance keys moved to a role's ``defaults`` when all its instances
#: share the value.
SHARED_KEYS = ('resource_class', 'profile', 'capabilities', 'traits',
               'image', 'swap_size_mb')

#: ``instance_info`` key -> image key.
_IMAGE_KEYS = (('image_source', 'href'), ('image_checksum', 'checksum'),
               ('kernel', 'kernel'), ('ramdisk', 'ramdisk'))

#: Smallest ``swap_size_mb`` a roles file accepts (``roles_schema``).
MIN_SWAP_MB = 64

_PART = r'(?P<part>[a-z](?:[a-z0-9-]*[a-z0-9])?)'
_INDEX = r'(?P<index>0|[1-9][0-9]*)'


def extract_roles(conn, stackname='overcloud', roles=None):
    """The roles file of what ``stackname`` has deployed now.

    :param conn: an openstacksdk connection (only reads are made).
    :param stackname: the overcloud stack name (``%stackname%``).
    :param roles: optional list of ``{'name', 'hostname_format'?}`` (a
        roles file will do: other keys are ignored) naming the roles to
        look for; without it, roles are inferred from the hostnames
        (module docstring).
    :returns: ``{'roles': [role], 'warnings': [str]}``, plain JSON and
        YAML data; ``roles`` is a roles file: ``name``, ``count``,
        ``hostname_format`` (when not the default), ``defaults`` (when
        shared) and ``instances`` in index order.
    :raises: InvalidInput for a bad ``stackname`` or ``roles``, before
        any request.
    """
    classify = _classifier(stackname, roles)
    allocations = list(conn.baremetal.allocations(
        fields=list(polling.ALLOCATION_FIELDS)))
    nodes = list(conn.baremetal.nodes(fields=list(NODE_FIELDS)))
    warnings = []
    groups = _group(_carriers(allocations, nodes), classify,
                    '%s-' % stackname.lower(), warnings)
    result = [_role(name, groups.get(name), warnings)
              for name in _role_order(groups, roles)]
    LOG.info('Extracted %d instance(s) of stack %s in %d role(s), %d '
             'warning(s)', sum(role['count'] for role in result), stackname,
             len(result), len(warnings))
    return {'roles': result, 'warnings': warnings}


def _warn(warnings, message):
    LOG.warning('%s', message)
    warnings.append(message)


def _check_roles(roles):
    """Problems of the ``roles`` argument, as sentences."""
    if not isinstance(roles, list):
        return ['roles must be a list of {name, hostname_format}']
    problems, names = [], set()
    for position, role in enumerate(roles):
        name = role.get('name') if isinstance(role, dict) else None
        if not isinstance(name, str) or not name:
            problems.append('roles[%d]: name must be a non-empty string'
                            % position)
            continue
        if name in names:
            problems.append('roles[%d]: role %s is given twice'
                            % (position, name))
        names.add(name)
        fmt = role.get('hostname_format') or hostnames.default_format(name)
        problem = (hostnames.format_problem(fmt) if isinstance(fmt, str)
                   else 'must be a string')
        if problem:
            problems.append('role %s: hostname_format %r %s'
                            % (name, fmt, problem))
    return problems


def _classifier(stackname, roles):
    """A function ``hostname -> (role, hostname_format, index) or None``.

    :raises: InvalidInput for a bad stack name or ``roles``.
    """
    problem = hostnames.stackname_problem(stackname)
    problems = ['stackname %r %s' % (stackname, problem)] if problem else []
    if roles is not None:
        problems.extend(_check_roles(roles))
    if problems:
        raise exceptions.InvalidInput(problems)
    if roles is None:
        return _inferred_classifier(stackname)
    return _given_classifier(stackname, roles)


def _given_classifier(stackname, roles):
    """Match hostnames against the given roles' formats, in order."""
    matchers = []
    for role in roles:
        fmt = role.get('hostname_format') or hostnames.default_format(
            role['name'])
        matchers.append((role['name'], fmt,
                         hostnames.index_matcher(fmt, stackname)))

    def classify(hostname):
        for name, fmt, match in matchers:
            index = match(hostname)
            if index is not None:
                return name, fmt, index
        return None
    return classify


def _inferred_classifier(stackname):
    """Match ``<stack>-<part>-<index>`` and name the role after ``part``."""
    regex = re.compile('^%s-%s-%s$' % (re.escape(stackname.lower()), _PART,
                                       _INDEX))
    known = {hostnames.default_format(name): name for name in KNOWN_ROLES}

    def classify(hostname):
        found = regex.match(hostname)
        if not found:
            return None
        fmt = '%s-%s-%s' % (hostnames.STACKNAME, found.group('part'),
                            hostnames.INDEX)
        name = known.get(fmt) or _role_name(found.group('part'))
        return name, fmt, int(found.group('index'))
    return classify


def _role_name(part):
    """``compute-leaf1`` -> ``Compute_leaf1`` (role names have no ``-``)."""
    name = part.replace('-', '_')
    return name[0].upper() + name[1:]


def _carriers(allocations, nodes):
    """``{hostname: [node]}`` of every node that carries a hostname.

    As ``existing`` finds them: the name of the node's allocation, or,
    without an allocation, the ``display_name`` of a node in use (a free
    node's is a leftover, not an instance).
    """
    by_node = {alloc.node_id: alloc.name for alloc in allocations
               if alloc.node_id}
    found = {}
    for node in nodes:
        if node.id in by_node:
            host = by_node[node.id]
        elif node.provision_state != states.AVAILABLE:
            host = (node.instance_info or {}).get('display_name')
        else:
            host = None
        if host:
            found.setdefault(host, []).append(node)
    return found


def _group(carriers, classify, prefix, warnings):
    """``{role: (hostname_format, [(index, hostname, node)])}``.

    Only active nodes of the stack's hostnames; the others are warned
    about (hostnames outside the stack are not, unless they start with
    the stack's ``prefix``).
    """
    groups = {}
    for host in sorted(carriers):
        nodes = carriers[host]
        match = classify(host)
        if match is None:
            if host.startswith(prefix):
                _warn(warnings, '%s: node %s carries this hostname, which '
                      'matches no role\'s hostname format; left out (give '
                      'the role and its hostname_format)'
                      % (host, labels.node_label(nodes[0])))
            continue
        name, fmt, index = match
        if _usable(host, nodes, warnings):
            groups.setdefault((name, fmt), []).append(
                (index, host, nodes[0]))
    return _one_format_per_role(groups, warnings)


def _usable(host, nodes, warnings):
    """Whether ``host`` is on one node, and that node is active."""
    if len(nodes) > 1:
        _warn(warnings, '%s: this hostname is carried by nodes %s; left out '
              '(undeploy the wrong one)'
              % (host, ' and '.join(labels.node_label(n) for n in nodes)))
        return False
    node = nodes[0]
    if node.provision_state != states.ACTIVE:
        _warn(warnings, '%s: node %s is %s, not %s; left out (only '
              'deployed instances are extracted)'
              % (host, labels.node_label(node), node.provision_state,
                 states.ACTIVE))
        return False
    return True


def _one_format_per_role(groups, warnings):
    """Keep one hostname format per role name; warn about the others.

    Two inferred parts can give one role name (``compute``, and
    ``novacompute`` of the default Compute format); the role's default
    format wins, else the first format in sorted order.
    """
    result = {}
    for name, fmt in sorted(groups, key=lambda key: (
            key[0], key[1] != hostnames.default_format(key[0]), key[1])):
        if name not in result:
            result[name] = (fmt, groups[name, fmt])
            continue
        for _index, host, _node in groups[name, fmt]:
            _warn(warnings, '%s: role %s has hostname format %s, this '
                  'hostname needs %s; left out (give roles with distinct '
                  'names)' % (host, name, result[name][0], fmt))
    return result


def _role_order(groups, roles):
    """Given roles in their order; else known roles first, then by name."""
    if roles is not None:
        return [role['name'] for role in roles]
    rank = {name: position for position, name in enumerate(KNOWN_ROLES)}
    return sorted(groups, key=lambda name: (rank.get(name, len(rank)),
                                            name))


def _role(name, group, warnings):
    """One role of the roles file, shared values in its ``defaults``."""
    fmt, members = group if group else (hostnames.default_format(name), [])
    entries = [_instance(host, node, warnings)
               for _index, host, node in sorted(members,
                                                key=lambda m: m[0])]
    role = {'name': name, 'count': len(entries)}
    if fmt != hostnames.default_format(name):
        role['hostname_format'] = fmt
    defaults = _shared(entries)
    if defaults:
        role['defaults'] = defaults
    role['instances'] = [{key: value for key, value in entry.items()
                          if key not in defaults} for entry in entries]
    return role


def _shared(entries):
    """The ``SHARED_KEYS`` values every entry has, and has alike."""
    shared = {}
    for key in SHARED_KEYS:
        values = [entry.get(key) for entry in entries]
        if values and values[0] is not None and all(
                value == values[0] for value in values):
            shared[key] = values[0]
    return shared


def _instance(host, node, warnings):
    """The roles-file entry of ``host`` deployed on ``node``."""
    entry = {'hostname': host, 'name': node.name or node.id}
    info = node.instance_info or {}
    if node.resource_class and node.resource_class != 'baremetal':
        entry['resource_class'] = node.resource_class
    profile = caps.parse((node.properties or {}).get(
        'capabilities')).get('profile')
    if profile:
        entry['profile'] = profile
    boot_mode = _boot_mode(info)
    if boot_mode:
        entry['capabilities'] = {'boot_mode': boot_mode}
    if info.get('traits'):
        entry['traits'] = [str(trait) for trait in info['traits']]
    image = _image(host, node, info, warnings)
    if image:
        entry['image'] = image
    swap = _swap_mb(info)
    if swap:
        entry['swap_size_mb'] = swap
    return entry


def _boot_mode(info):
    """The boot mode deploy asked for (``instance_info.capabilities``)."""
    capabilities = info.get('capabilities')
    if isinstance(capabilities, dict) and capabilities.get('boot_mode'):
        return str(capabilities['boot_mode'])
    return None


def _image(host, node, info, warnings):
    """The image the node was deployed with, if a roles file can hold it."""
    image = {key: str(info[source]) for source, key in _IMAGE_KEYS
             if info.get(source)}
    problems = images.image_problems(image)
    if problems:
        _warn(warnings, '%s: node %s was deployed with an image the roles '
              'file cannot hold (%s); left out, the role\'s image applies '
              'to replacements' % (host, labels.node_label(node), '; '.join(
                  'image.%s %r %s' % problem for problem in problems)))
        return None
    return image


def _swap_mb(info):
    """The swap partition deploy made, in MiB, if a roles file allows it."""
    try:
        swap = int(info.get('swap_mb') or 0)
    except (TypeError, ValueError):
        return None
    return swap if swap >= MIN_SWAP_MB else None
