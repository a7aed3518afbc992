"""One role of a roles file: checked, planned, expanded into instances.

``check_shapes`` checks every role, its ``defaults`` and its
``instances`` against ``roles_schema`` and keeps what can still be
planned; a ``RolePlan`` then gives every instance of a role its index
and hostname (listed entries keep the index their hostname names, the
others take the lowest free ones), checks the role's hostname format at
the largest index it hands out, and builds the role's instances
(``instance_build.build_instance``). ``Problems`` collects what is wrong,
each prefixed with where in the file it is.
"""

import logging

from tripleo_baremetal import exceptions
from tripleo_baremetal.request import hostnames
from tripleo_baremetal.request import instance_build
from tripleo_baremetal.request import limits
from tripleo_baremetal.request import roles_schema as schema

LOG = logging.getLogger(__name__)

#: Problems listed in one error; the others are counted.
MAX_LISTED_PROBLEMS = 50


class Problems:
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


def role_where(role, position):
    if isinstance(role, dict) and isinstance(role.get('name'), str):
        return 'role %s' % schema.shown(role['name'])
    return 'roles[%d]' % position


def instance_where(role_name, position, raw):
    where = 'role %s instance %d' % (schema.shown(role_name), position)
    if isinstance(raw, dict) and isinstance(raw.get('hostname'), str):
        where += ' (hostname %s)' % schema.shown(raw['hostname'])
    return where


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


class RolePlan(object):
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
        self.defaults = instance_build.normalise_level(
            role.get('defaults') or {}, 'defaults', self.report)
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
        defaults_size = limits.size(self.defaults)
        self.weight = (defaults_size * (self.generated + len(self.slots))
                       + sum(limits.size(slot[1]) for slot in self.slots))

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
                raw, instance_where(self.name, position, raw),
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
        generated_base = instance_build.merge(self.defaults, {})
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
            merged = instance_build.copy_data(generated_base)
        else:
            where = instance_where(self.name, position, raw)
            path = 'instances[%d]' % position
            report = problems.reporter(where)
            raw = instance_build.normalise_level(raw, path, report)
            merged = instance_build.merge(self.defaults, raw)
        generated = hostnames.render(self.hostname_format, self.stackname,
                                     index)
        hostname = _normal_hostname(given or generated, where, problems)
        problem = hostnames.hostname_problem(hostname)
        if problem:
            report(schema.join(path, 'hostname'), hostname, problem)
        inst = instance_build.build_instance(
            merged, self.name, index, hostname, generated, default_image,
            report)
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
                               instance_where(name, index, raw)))
            for index, raw in enumerate(raw_instances)]


def check_shapes(roles, problems, allowed_paths):
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
        report = problems.reporter(role_where(role, position))
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
