"""Heat's port outputs, checked and handed to the instances they belong to.

Heat creates the Neutron ports before any node is deployed and publishes
them per role, one list entry per provisioned server in index order (the
layout of Heat's ``RoleNetIpMap``):

``RoleNetPortIdMap``
    ``{Role: {network_name: [port_id, ...]}}``
``RoleCtlplanePortMap``
    ``{Role: [port, ...]}``, each the Neutron representation of the
    server's ctlplane port (see ``doc/source/instances.md``). Keys we do
    not use are ignored; ``network`` and ``subnets`` may be missing and are
    then read from Neutron at deploy time.

Once assigned, ``instance_port_problems`` checks the ports of all
instances together: a Neutron port belongs to one server and one
network, and ``networks[].fixed_ip`` and ``networks[].subnet`` are
assertions about Heat's port: checked here when the port map gives the
port's fixed IPs, and by ``ports.resolve_ports`` against Neutron when
only its id is known. A ``networks`` entry that no map or ``port`` gives
a port gets one made by ``provisioning.created_ports`` (with that fixed
IP, on that subnet) before anything is deployed.
"""

import ipaddress
import re

from tripleo_baremetal import model
from tripleo_baremetal.request import roles_schema as schema

CTLPLANE = 'ctlplane'

_MAC = re.compile(r'^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$')


_ip_address = schema.ip_address


def _cidr(value, path, report):
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        report(path, value, 'is not a CIDR')


def _optional(check):
    def optional(value, path, report):
        if value is not None:
            check(value, path, report)
    return optional


def _mac(value, path, report):
    if not isinstance(value, str) or not _MAC.match(value):
        report(path, value, 'is not a MAC address')


def _lenient_mapping(fields, required=()):
    """Like ``schema.mapping`` but ignoring keys we do not use.

    Heat outputs whole Neutron resources; only what we read is checked.
    """
    def check(value, path, report):
        if not isinstance(value, dict):
            report(path, value, 'must be a mapping')
            return
        known = {key: item for key, item in value.items() if key in fields}
        schema.mapping(fields, required=required)(known, path, report)
    return check


_HOST_ROUTE = _lenient_mapping({'destination': _cidr,
                                'nexthop': _ip_address},
                               required=('destination', 'nexthop'))

_SUBNET = _lenient_mapping({
    'id': schema.string,
    'cidr': _cidr,
    'gateway_ip': _optional(_ip_address),
    'host_routes': schema.list_of(_HOST_ROUTE),
    'dns_nameservers': schema.list_of(_ip_address),
    'ip_version': schema.integer(4),
    'enable_dhcp': schema.boolean,
}, required=('cidr',))

_NETWORK = _lenient_mapping({
    'id': schema.string,
    'name': schema.string,
    'mtu': _optional(schema.integer(68)),
    'tags': schema.list_of(schema.string),
})

_FIXED_IP = _lenient_mapping({'ip_address': _ip_address,
                              'subnet_id': schema.string},
                             required=('ip_address',))

port = _lenient_mapping({
    'id': schema.string,
    'mac_address': _optional(_mac),
    'fixed_ips': schema.list_of(_FIXED_IP),
    'network': _NETWORK,
    'subnets': schema.list_of(_SUBNET),
}, required=('id',))


def check_port_maps(net_port_id_map, ctlplane_port_map, report):
    """Check both maps' shapes; report problems as ``(path, value, why)``.

    Role and network names (the keys) must be strings: a YAML port map
    file may have ``5:`` or ``null:`` for a key, and everything after
    this check names roles and networks as text.
    """
    if not isinstance(net_port_id_map, dict):
        report('role_net_port_id_map', net_port_id_map, 'must be a mapping')
    else:
        for role, networks in net_port_id_map.items():
            path = schema.join('role_net_port_id_map', schema.key_text(role))
            if not schema.string_key(role, path, report, 'role names'):
                continue
            if not isinstance(networks, dict):
                report(path, networks, 'must be a mapping of network name '
                       'to a list of port ids')
                continue
            for network, ids in networks.items():
                network_path = schema.join(path, schema.key_text(network))
                if schema.string_key(network, network_path, report,
                                     'network names'):
                    schema.list_of(schema.string)(ids, network_path, report)
    if not isinstance(ctlplane_port_map, dict):
        report('role_ctlplane_port_map', ctlplane_port_map,
               'must be a mapping')
    else:
        for role, ports in ctlplane_port_map.items():
            path = schema.join('role_ctlplane_port_map', schema.key_text(role))
            if schema.string_key(role, path, report, 'role names'):
                schema.list_of(port)(ports, path, report)


def _length_problem(got, role, want):
    return ('has %d port(s) but role %s has %d provisioned instance(s); Heat '
            'lists one port per provisioned instance, in index order'
            % (got, schema.cut(role), want))


def _usable_lists(role, net_port_id_map, ctlplane_port_map, count, report):
    """``(ctlplane ports, {network: port ids})`` of ``role`` that fit.

    A list whose length is not ``count`` (the role's provisioned
    instances) is reported and not used: Heat lists one port per
    provisioned server, so a shorter or longer list cannot be matched.
    """
    ctlplane = ctlplane_port_map.get(role) or []
    if ctlplane and len(ctlplane) != count:
        report(schema.join('role_ctlplane_port_map', role), schema.MISSING,
               _length_problem(len(ctlplane), role, count))
        ctlplane = []
    usable = {}
    for network, ids in (net_port_id_map.get(role) or {}).items():
        if ids and len(ids) != count:
            report(schema.join(schema.join('role_net_port_id_map', role),
                               schema.key_text(network)), schema.MISSING,
                   _length_problem(len(ids), role, count))
        elif ids:
            usable[network] = ids
    return ctlplane, usable


def _with_ports(instance, ctlplane_entry, network_ports):
    """``instance`` with its Heat ctlplane port and network port ids.

    The ctlplane port's id is also its ``ctlplane`` network port unless
    ``RoleNetPortIdMap`` names one; ``networks`` get the implicit
    ctlplane entry (``_with_ctlplane``).
    """
    ctlplane_port = (model.Port.from_neutron(ctlplane_entry)
                     if ctlplane_entry else None)
    if ctlplane_port and CTLPLANE not in network_ports:
        network_ports[CTLPLANE] = ctlplane_port.id
    return instance.replace(ctlplane_port=ctlplane_port,
                            network_ports=network_ports,
                            networks=_with_ctlplane(instance.networks))


def _with_ctlplane(networks):
    """``networks`` with tripleo-ansible's implicit ctlplane network.

    As tripleo-ansible does, a networks list that names no ctlplane gets
    ``{network: ctlplane, vif: true}`` at its end: the server's ctlplane
    port (Heat's, or one ``created_ports`` makes) is attached either way.
    No list is left as it is (Heat's ctlplane port, if any, is still
    attached): a roles file that names no network asks for no port.
    """
    if not networks or any(entry.network == CTLPLANE for entry in networks):
        return networks
    return tuple(networks) + (model.Network(network=CTLPLANE, vif=True),)


def assign_ports(role, instances, net_port_id_map, ctlplane_port_map,
                 report):
    """The provisioned instances of ``role``, each given its ports.

    :param instances: the role's provisioned instances (managed or not,
        ``model.Instance``), in any order; they are matched to list
        entries by index order.
    :param report: called as ``report(path, value, why)`` for a length
        mismatch.
    :returns: new instances, in the order of ``instances`` (the given
        ones are not changed), with ``ctlplane_port`` (a ``model.Port``
        or None) and ``network_ports`` set.
    """
    order = sorted(range(len(instances)),
                   key=lambda position: instances[position].index)
    ctlplane, usable = _usable_lists(role, net_port_id_map,
                                     ctlplane_port_map, len(instances),
                                     report)
    result = list(instances)
    for rank, position in enumerate(order):
        result[position] = _with_ports(
            instances[position], ctlplane[rank] if ctlplane else None,
            {network: ids[rank] for network, ids in usable.items()})
    return result


def _port_sources(instance):
    """``[(port id, network name or None, where it comes from)]``."""
    sources = []
    ctlplane_id = instance.ctlplane_port.id if instance.ctlplane_port \
        else None
    if ctlplane_id:
        sources.append((ctlplane_id, CTLPLANE, 'role_ctlplane_port_map'))
    for network, port_id in sorted(instance.network_ports.items()):
        if network == CTLPLANE and port_id == ctlplane_id:
            continue    # the ctlplane port, under its network name
        sources.append((port_id, network, 'role_net_port_id_map (network '
                        '%s)' % schema.cut(network)))
    for position, entry in enumerate(instance.networks):
        if entry.port:
            sources.append((entry.port, entry.network,
                            'networks[%d].port' % position))
    return sources


def _conflicts(host, sources):
    """Problems with the ports of one instance: one port, one network."""
    problems = []
    network_of, port_of = {}, {}
    for port_id, network, where in sources:
        if port_id in network_of:
            other_network, other_where = network_of[port_id]
            if network and other_network and network != other_network:
                problems.append(
                    '%s: port %s is given for network %s by %s and for '
                    'network %s by %s; a port is on one network only'
                    % (host, schema.shown(port_id), schema.shown(
                        other_network), other_where, schema.shown(network),
                       where))
        else:
            network_of[port_id] = (network, where)
        if not network:
            continue
        if network in port_of and port_of[network][0] != port_id:
            other_id, other_where = port_of[network]
            problems.append(
                '%s: network %s is given two ports: %s by %s and %s by %s'
                % (host, schema.shown(network), schema.shown(other_id),
                   other_where, schema.shown(port_id), where))
        port_of.setdefault(network, (port_id, where))
    return problems


def _shared_ports(instances):
    """Problems for Neutron ports given to more than one instance."""
    problems = []
    owner = {}
    for instance in instances:
        host = instance.hostname
        sources = _port_sources(instance)
        problems.extend(_conflicts(host, sources))
        for port_id, _network, where in sources:
            if port_id not in owner:
                owner[port_id] = (host, where)
            elif owner[port_id][0] != host:
                problems.append(
                    'port %s is given to two instances: %s (%s) and %s (%s); '
                    'a Neutron port belongs to one server'
                    % (schema.shown(port_id), owner[port_id][0],
                       owner[port_id][1], host, where))
    return problems


def network_port_id(instance, entry):
    """The port id of one ``networks`` entry of ``instance``, or None.

    :param instance: a ``model.Instance``.
    :param entry: one of its ``networks`` (a ``model.Network``).
    """
    return entry.port or instance.network_ports.get(entry.network)


def has_assertions(entry):
    """Whether a ``networks`` entry asserts a fixed IP or subnet.

    :param entry: a ``model.Network``.
    """
    return bool(entry.fixed_ip or entry.subnet)


def _same_ip(one, two):
    try:
        return ipaddress.ip_address(one) == ipaddress.ip_address(two)
    except ValueError:
        return one == two


def _subnet_names(port, fixed_ips):
    """Ids and names of the subnets of ``fixed_ips`` (of ``port``)."""
    ids = {ip.get('subnet_id') for ip in fixed_ips if ip.get('subnet_id')}
    names = set(ids)
    for subnet in port.subnets or ():
        if subnet.get('id') in ids or not subnet.get('id'):
            names.update(subnet.get(key) for key in ('id', 'name')
                         if subnet.get(key))
    return names


def assertion_problems(entry, port):
    """How ``port`` differs from what a ``networks`` entry asserts.

    :param entry: a ``model.Network``.
    :param port: a ``model.Port``.
    :returns: ``[(key, asked, what the port has)]``; a subnet is not
        compared when the port gives no subnet id or name to compare with.
    """
    fixed_ips = [ip for ip in port.fixed_ips or ()
                 if isinstance(ip, dict)]
    problems = []
    matching = fixed_ips
    asked_ip = entry.fixed_ip
    if asked_ip:
        matching = [ip for ip in fixed_ips
                    if _same_ip(ip.get('ip_address'), asked_ip)]
        if not matching:
            problems.append(('fixed_ip', asked_ip, 'fixed IP(s) %s' % (
                ', '.join(str(ip.get('ip_address')) for ip in fixed_ips)
                or 'none')))
    subnet = entry.subnet
    names = _subnet_names(port, matching)
    if subnet and matching and names and subnet not in names:
        problems.append(('subnet', subnet, 'subnet(s) %s' % ', '.join(
            sorted(schema.cut(str(name), 40) for name in names))))
    return problems


def _entry_problems(instance, position, entry):
    """Problems of one ``networks`` entry of a managed instance.

    Assertions about the ctlplane port are checked against Heat's port
    map here; those about other ports, known by id only, against
    Neutron later.
    """
    host = instance.hostname
    port_id = network_port_id(instance, entry)
    if port_id is None:
        return []   # created_ports makes it, as the entry asks
    ctlplane = instance.ctlplane_port
    if not has_assertions(entry) or ctlplane is None or \
            ctlplane.id != port_id:
        return []   # only a port id: checked against Neutron later
    return ['%s: networks[%d].%s %s (network %s) does not match port %s '
            'from role_ctlplane_port_map, which has %s'
            % (host, position, key, schema.shown(asked),
               schema.shown(entry.network), schema.shown(port_id),
               has)
            for key, asked, has in assertion_problems(entry, ctlplane)]


def management_ip_problems(instances):
    """``management_ip`` of ``managed: false`` servers against their port.

    The address a pre-deployed server is reached on is its ctlplane IP:
    when Heat's ctlplane port map gives the port's fixed IPs, it must be
    one of them.
    """
    problems = []
    for inst in instances:
        port = inst.ctlplane_port
        if inst.managed or not inst.management_ip or not port or \
                not port.fixed_ips:
            continue
        ips = [fixed.get('ip_address') for fixed in port.fixed_ips]
        if not any(_same_ip(inst.management_ip, ip) for ip in ips if ip):
            problems.append(
                '%s: management_ip %s is not an address of its ctlplane port '
                '%s from role_ctlplane_port_map, which has %s'
                % (inst.hostname, schema.shown(inst.management_ip),
                   schema.shown(port.id), ', '.join(
                       schema.shown(ip) for ip in ips)))
    return problems


def instance_port_problems(instances):
    """Problems with the ports of provisioned ``instances``, as sentences.

    A port given to two instances, or to two networks of one, or two ports
    for one network; for managed instances also assertions that the
    ctlplane port map contradicts.

    :param instances: ``model.Instance`` records with ports assigned.
    """
    problems = _shared_ports(instances)
    for instance in instances:
        if not instance.managed:
            continue
        for position, entry in enumerate(instance.networks):
            problems.extend(_entry_problems(instance, position, entry))
    return problems
