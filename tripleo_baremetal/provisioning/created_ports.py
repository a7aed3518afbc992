"""The Neutron ports a roles file asks for that no one has given.

A ``networks`` entry without a port (none in Heat's maps, no ``port``
key) gets one made here, before any Ironic write, named and tagged as
``port_names`` says: on the entry's ``subnet``, else the network's only
subnet, with its ``fixed_ip`` when it asks for one. Heat's ports always
win: an entry they cover is left alone.

A run costs, for every host at once: one listing of the networks named,
one of their subnets, one of the stack's ports (every port found again
on a re-run, which then writes nothing), and, for ports still missing,
a listing by name (a port whose tags never landed) and one of the fixed
IPs asked for (taken by another port?). Then one bulk create per
``CREATE_CHUNK`` ports, and a listing to re-check (below).

Everything that can be checked is checked before the first create: an
unknown network or subnet, several subnets and none asked for, a fixed
IP outside the subnets or held by another port, and a port found again
whose fixed IP or subnet is not the one the file asks for. A create
Neutron refuses (no address left, say) fails the run naming host,
network and value, after the ports this run created are deleted again.

Neutron has no unique constraint: two runs at once may each create a
port for one host and network. After creating, a run waits until the
clock's second has turned (``created_at`` is to the second) and lists
the stack's ports again: of two ports for one host and network, every
run keeps the oldest (``port_names.winner``) and deletes the other when
it is attached nowhere. A create whose answer was lost is found by that
listing too.

Rule for a failed deploy: the ports stay. A deploy that fails and
releases its node keeps the host's created ports; the next run finds and
reuses them, and undeploying the host (scale-down, stack delete) deletes
them (``delete_host_ports``).
"""

import ipaddress
import json
import logging
import time

from openstack.network.v2 import port as port_resource

from tripleo_baremetal import api
from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.provisioning import port_lookup as lookup
from tripleo_baremetal.provisioning import port_names
from tripleo_baremetal.request import environment

LOG = logging.getLogger(__name__)

#: Ports per bulk create request.
CREATE_CHUNK = 100
QUERY_CHUNK = lookup.QUERY_CHUNK
#: The Neutron extension that takes ``tags`` in a (bulk) create.
BULK_TAGS_EXTENSION = 'tag-ports-during-bulk-creation'
DNS_EXTENSION = 'dns-integration'
#: Seconds a run that created ports waits before listing them again.
SETTLE_SECONDS = 1.0


def _neutron_says(exc):
    """Neutron's own message of an SDK error, else the whole error."""
    details = getattr(exc, 'details', None)
    status = getattr(exc, 'status_code', None)
    if not (details and status):
        return api.describe(exc)
    try:
        details = json.loads(details)['NeutronError']['message']
    except (ValueError, TypeError, KeyError):
        pass
    return 'HTTP %s %s' % (status, ' '.join(str(details).split())[:300])


class _Run:
    """One ``ensure_ports`` run: what was found, made and is wanted."""

    def __init__(self, conn, wanted, stackname):
        self.conn = conn
        self.wanted = wanted
        self.stackname = stackname
        self.networks = lookup.Networks(
            conn, sorted({w.network for w in wanted}))
        self.subnet = {}
        self.found = {}      # wanted key -> port dict
        self.retag = {}      # port id -> tags
        self.created = []    # port ids this run created
        self.listed = []     # the last listing of the stack's ports
        self.writes = 0

    def plan(self):
        """Find what exists; every problem before any write."""
        problems = []
        for wanted in self.wanted:
            subnet, problem = self.networks.subnet_for(wanted)
            problem = problem or (subnet and lookup.ip_problem(wanted, subnet))
            if problem:
                problems.append(problem)
            self.subnet[wanted.key] = subnet
        if problems:
            raise exceptions.InvalidInput(problems)
        self._match(self._stack_ports())
        self._match(self._named_ports())
        problems = [lookup.found_problem(w, self.found[w.key],
                                         self.subnet[w.key])
                    for w in self.wanted if w.key in self.found]
        problems = [problem for problem in problems if problem]
        problems.extend(self._taken_ips())
        if problems:
            raise exceptions.InvalidInput(problems)

    def _stack_ports(self):
        """The stack's ports (also kept as ``listed``, the last listing)."""
        tag = port_names.stack_tag(self.stackname)
        self.listed = lookup.call('listing the ports tagged %s' % tag,
                                  lambda: [lookup.port_dict(port) for port in
                                           self.conn.network.ports(tags=tag)])
        return self.listed

    def _network(self, wanted):
        return self.networks.by_name[wanted.network]

    def _named_ports(self):
        """Missing ports found by name: their tags may never have landed."""
        names = sorted({port_names.port_name(w, self._network(w))
                        for w in self.missing()})
        found = []
        for chunk in lookup.chunks(names, QUERY_CHUNK):
            found.extend(lookup.call('listing ports by name', lambda: [
                lookup.port_dict(port)
                for port in self.conn.network.ports(name=chunk)]))
        # Another stack's port of the same name is that stack's.
        return [port for port in found if not any(
            tag.startswith(port_names.STACK_TAG) for tag in port['tags'])]

    def missing(self):
        return [w for w in self.wanted if w.key not in self.found]

    def _candidates(self, ports):
        """``{(hostname, network): [port]}`` of the stack's ``ports``."""
        result = {}
        for port in ports:
            host = port_names.host_of(port, self.networks.by_id)
            network = self.networks.by_id.get(port['network_id'])
            if host and network:
                result.setdefault((host.lower(), network['name']),
                                  []).append(port)
        return result

    def _match(self, ports):
        """Give each missing wanted port its port among ``ports``.

        Of several for one host and network, the winner (the oldest).
        """
        candidates = self._candidates(ports)
        for wanted in self.missing():
            mine = candidates.get((wanted.hostname.lower(), wanted.network))
            if not mine:
                continue
            port = port_names.winner(mine)
            self.found[wanted.key] = port
            tags = port_names.retagged(port['tags'], wanted, self.stackname)
            if tags:
                self.retag[port['id']] = tags

    def _taken_ips(self):
        """Fixed IPs asked for ports still to make that a port holds."""
        asked = {}
        for wanted in self.missing():
            if wanted.fixed_ip:
                asked.setdefault(str(ipaddress.ip_address(wanted.fixed_ip)),
                                 []).append(wanted)
        problems = []
        for chunk in lookup.chunks(sorted(asked), QUERY_CHUNK):
            holders = lookup.call('listing ports by fixed IP', lambda: list(
                self.conn.network.ports(fixed_ips=[
                    'ip_address=%s' % ip for ip in chunk])))
            for port in holders:
                for ip in port.fixed_ips or ():
                    for wanted in asked.get(ip.get('ip_address'), ()):
                        subnet = self.subnet[wanted.key]
                        if subnet and ip.get('subnet_id') == subnet['id']:
                            problems.append(
                                '%s: fixed_ip %s is held by port %s (%s)'
                                % (wanted.where, wanted.fixed_ip,
                                   port.name or '-', port.id))
        return problems

    def body(self, wanted, dns):
        """The create request of ``wanted``'s port."""
        network = self._network(wanted)
        subnet = self.subnet[wanted.key]
        fixed = {'subnet_id': subnet['id']}
        if wanted.fixed_ip:
            fixed['ip_address'] = wanted.fixed_ip
        body = {'name': port_names.port_name(wanted, network),
                'network_id': network['id'], 'fixed_ips': [fixed],
                'tags': port_names.port_tags(wanted, self.stackname)}
        if dns:
            body['dns_name'] = wanted.hostname
        return body

    def extensions(self):
        """``(dns_name accepted, tags accepted in a create)``."""
        aliases = lookup.call('listing Neutron extensions', lambda: {
            ext.alias for ext in self.conn.network.extensions()})
        return DNS_EXTENSION in aliases, BULK_TAGS_EXTENSION in aliases

    def create(self):
        """Create the missing ports, in bulk; a lost answer is found again.

        :raises: PortError naming host, network and value when Neutron
            refuses one, after deleting the ports this run created.
        """
        if not self.missing():
            return
        dns, tags_in_body = self.extensions()
        for _attempt in range(3):
            missing = self.missing()
            if not missing:
                return
            try:
                for chunk in lookup.chunks(missing, CREATE_CHUNK):
                    self._create_chunk(chunk, dns, tags_in_body)
            except api.ERRORS as exc:
                LOG.warning('Creating %d port(s) failed (%s); reading the '
                            'stack\'s ports again', len(missing),
                            api.describe(exc))
                self._match(self._stack_ports())
                if getattr(exc, 'status_code', None):
                    self._name_refusal(dns, tags_in_body, exc)
        if self.missing():
            self.delete_created()
            raise exceptions.PortError(
                'Neutron did not create the port(s) of %s after 3 tries; '
                'the ports this run created were deleted' % ', '.join(
                    w.where for w in self.missing()[:10]))

    def _create_chunk(self, chunk, dns, tags_in_body):
        bodies = [self.body(wanted, dns) for wanted in chunk]
        made = list(self.conn.network.create_ports(bodies))
        self.writes += 1
        for wanted, port in zip(chunk, made):
            self.created.append(port.id)
            self.found[wanted.key] = lookup.port_dict(port)
            if not tags_in_body:
                self.retag[port.id] = port_names.port_tags(wanted,
                                                           self.stackname)

    def _name_refusal(self, dns, tags_in_body, bulk_error):
        """Create the still missing ports one by one to name the refused.

        :raises: PortError for the first port Neutron refuses, after
            deleting every port this run created.
        """
        for wanted in self.missing():
            try:
                self._create_chunk([wanted], dns, tags_in_body)
            except api.ERRORS as exc:
                made = len(self.created)
                self.delete_created()
                subnet = self.subnet[wanted.key] or {}
                raise exceptions.PortError(
                    '%s: Neutron refused the port on subnet %s%s: %s; the '
                    '%d port(s) this run had created were deleted' % (
                        wanted.where, subnet.get('name') or subnet.get('id'),
                        ' with fixed_ip %s' % wanted.fixed_ip
                        if wanted.fixed_ip else '', _neutron_says(exc),
                        made))
        LOG.info('The ports of a refused bulk create (%s) were created '
                 'one by one', api.describe(bulk_error))

    def delete_created(self):
        """Delete the ports this run created (a failed run leaves none)."""
        for port_id in self.created:
            try:
                self.conn.network.delete_port(port_id, ignore_missing=True)
            except api.ERRORS as exc:
                LOG.error('Could not delete port %s this run created: %s; a '
                          're-run finds and reuses it', port_id,
                          api.describe(exc))
        self.created = []

    def settle(self):
        """After creating: keep the oldest of any duplicates (see above).

        Waits for the second of our creates to pass, so that a port another
        run created in the same second is listed too, then lists the
        stack's ports again (a run that created nothing looks at its one
        listing). Losers attached nowhere are deleted.
        """
        if self.created:
            time.sleep(SETTLE_SECONDS)
            ports = self._stack_ports()
        else:
            ports = self.listed    # duplicates an earlier pair of runs left
        candidates = self._candidates(ports)
        for wanted in self.wanted:
            group = candidates.get((wanted.hostname.lower(), wanted.network))
            if not group:
                continue
            keep = port_names.winner(group)
            self.found[wanted.key] = keep
            for loser in group:
                in_use = loser.get('device_id') or loser.get(
                    'binding_host_id')
                if loser['id'] != keep['id'] and not in_use:
                    LOG.warning('%s: port %s duplicates port %s (two runs at '
                                'once?): deleting it', wanted.where,
                                loser['id'], keep['id'])
                    lookup.call('deleting duplicate port %s' % loser['id'],
                                self.conn.network.delete_port, loser['id'],
                                ignore_missing=True)
                    self.writes += 1
            self.retag.pop(keep['id'], None)
            tags = port_names.retagged(keep['tags'], wanted, self.stackname)
            if tags:
                self.retag[keep['id']] = tags

    def tag(self):
        """Set the tags of ports found without them (one write each)."""
        for port_id, tags in sorted(self.retag.items()):
            lookup.call('tagging port %s' % port_id,
                        self.conn.network.set_tags,
                        port_resource.Port(id=port_id), tags)
            self.writes += 1
        self.retag = {}


def _model_port(port, network, subnet):
    """The ``model.Port`` of a created or found port (complete)."""
    return model.Port(
        id=port['id'], mac_address=port['mac_address'],
        fixed_ips=[{'ip_address': ip['ip_address'],
                    'subnet_id': ip.get('subnet_id')}
                   for ip in port['fixed_ips']],
        network={'id': network['id'], 'name': network['name'],
                 'mtu': network['mtu'], 'tags': list(network['tags'])},
        subnets=[subnet] if subnet else [])


def _with_found(instance, ports):
    """``instance`` with its ``{network: model.Port}`` in place."""
    network_ports = dict(instance.network_ports)
    ctlplane = instance.ctlplane_port
    for network, port in ports.items():
        network_ports[network] = port.id
        if network == 'ctlplane':
            ctlplane = port
    return instance.replace(network_ports=network_ports,
                            ctlplane_port=ctlplane)


class Ensured:
    """What ``ensure_ports`` returns.

    ``instances`` have their created or found ports as ``network_ports``
    (and ``ctlplane_port``, complete); ``node_port_map`` is
    ``{hostname: {network: entry}}`` (see ``node_port_entry``);
    ``created`` and ``writes`` count this run's Neutron writes.
    """

    def __init__(self, instances, node_port_map, created=0, writes=0):
        self.instances = instances
        self.node_port_map = node_port_map
        self.created = created
        self.writes = writes


def _check_request(conn, wanted, problems, stackname):
    problem = port_names.stack_tag_problem(stackname)
    if problem:
        problems.append('plan (stack name) %r %s: ports are found by the '
                        'tag %s' % (stackname[:60], problem,
                                    port_names.STACK_TAG))
    if wanted and not conn.has_service('network'):
        problems.extend(
            '%s: no port is given for it and there is no Neutron (network) '
            'endpoint to create one; set [tripleo_baremetal] '
            'network_endpoint_override or pass the port' % w.where
            for w in wanted[:20])
    if problems:
        raise exceptions.InvalidInput(problems)


def ensure_ports(conn, instances, stackname):
    """Create or find the ports of every ``networks`` entry without one.

    :param instances: ``model.Instance`` records (managed, provisioned),
        their Heat ports assigned.
    :returns: ``Ensured``.
    :raises: InvalidInput naming host, network and value for anything that
        can be checked before a write; PortError for a create Neutron
        refused (this run's ports are deleted again).
    """
    wanted, problems = port_names.wanted_ports(instances)
    _check_request(conn, wanted, problems, stackname)
    heat = {inst.hostname: environment.known_port_entries(inst)
            for inst in instances}
    if not wanted:
        return Ensured(list(instances),
                       {host: entries for host, entries in heat.items()
                        if entries})
    run = _Run(conn, wanted, stackname)
    run.plan()
    try:
        run.create()
        run.settle()
        run.tag()
    except BaseException:
        run.delete_created()
        raise
    by_host = {}
    for w in wanted:
        network = run.networks.by_name[w.network]
        by_host.setdefault(w.hostname, {})[w.network] = _model_port(
            run.found[w.key], network, run.subnet[w.key])
    port_map = {}
    for host, ports in by_host.items():
        entries = dict(heat.get(host) or {})
        for network, port in ports.items():
            entry = environment.node_port_entry(
                port, (port.subnets or [None])[0])
            if entry:
                entries[network] = entry
        port_map[host] = entries
    for host, entries in heat.items():
        if entries and host not in port_map:
            port_map[host] = entries
    LOG.info('Ports of %d host(s): %d created, %d found, %d Neutron '
             'write(s)', len(by_host), len(run.created),
             len(wanted) - len(run.created), run.writes)
    return Ensured([_with_found(inst, by_host.get(inst.hostname, {}))
                    for inst in instances], port_map,
                   created=len(run.created), writes=run.writes)


def delete_host_ports(conn, hostnames, stackname):
    """Delete the ports this tool (or tripleo-ansible) made for ``hostnames``.

    Those tagged with the stack whose ``dns_name`` or name is the host's
    (``port_names.host_of``); Heat's ports carry no such tag and are
    kept (Ironic's undeploy has unbound them). Run after the hosts'
    nodes were undeployed.

    :returns: ``{hostname: [port id]}`` of the deleted ports.
    """
    hosts = {host.lower(): host for host in hostnames}
    if not hosts or not conn.has_service('network'):
        return {}
    tag = port_names.stack_tag(stackname)
    ports = lookup.call('listing the ports tagged %s' % tag, lambda: [
        lookup.port_dict(port) for port in conn.network.ports(tags=tag)])
    network_ids = sorted({port['network_id'] for port in ports
                          if not port['dns_name']})
    networks = {net.id: {'name': net.name, 'tags': list(net.tags or ())}
                for net in lookup.call('listing networks', lambda: list(
                    conn.network.networks(id=network_ids)))
                } if network_ids else {}
    deleted = {}
    for port in ports:
        host = port_names.host_of(port, networks)
        if host and host.lower() in hosts:
            owner = hosts[host.lower()]
            lookup.call('%s: deleting port %s' % (owner, port['id']),
                        conn.network.delete_port, port['id'],
                        ignore_missing=True)
            deleted.setdefault(hosts[host.lower()], []).append(port['id'])
    LOG.info('Deleted %d port(s) of %d host(s)', sum(
        len(ids) for ids in deleted.values()), len(deleted))
    return deleted
