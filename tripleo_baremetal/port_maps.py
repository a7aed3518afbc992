"""Heat's port outputs, checked and handed to the instances they belong to.

Heat creates the Neutron ports before any node is deployed and publishes
them per role, one list entry per provisioned server in index order (the
layout of Heat's ``RoleNetIpMap``):

``RoleNetPortIdMap``
    ``{Role: {network_name: [port_id, ...]}}``
``RoleCtlplanePortMap``
    ``{Role: [port, ...]}``, each the Neutron representation of the
    server's ctlplane port (see ``doc/instances.md``). Keys we do not use
    are ignored; ``network`` and ``subnets`` may be missing and are then
    read from Neutron at deploy time.
"""

import copy
import ipaddress
import re

from tripleo_baremetal import roles_schema as schema

_MAC = re.compile(r'^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$')


def _ip_address(value, path, report):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        report(path, value, 'is not an IP address')


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
    """Check both maps' shapes; report problems as ``(path, value, why)``."""
    if not isinstance(net_port_id_map, dict):
        report('role_net_port_id_map', net_port_id_map, 'must be a mapping')
    else:
        for role, networks in net_port_id_map.items():
            path = 'role_net_port_id_map.%s' % role
            if not isinstance(networks, dict):
                report(path, networks, 'must be a mapping of network name '
                       'to a list of port ids')
                continue
            for network, ids in networks.items():
                schema.list_of(schema.string)(
                    ids, schema.join(path, network), report)
    if not isinstance(ctlplane_port_map, dict):
        report('role_ctlplane_port_map', ctlplane_port_map,
               'must be a mapping')
    else:
        for role, ports in ctlplane_port_map.items():
            schema.list_of(port)(
                ports, 'role_ctlplane_port_map.%s' % role, report)


def _length_problem(got, role, want):
    return ('has %d port(s) but role %s has %d provisioned instance(s); Heat '
            'lists one port per provisioned instance, in index order'
            % (got, role, want))


def assign_ports(role, instances, net_port_id_map, ctlplane_port_map,
                 report):
    """Give each provisioned instance of ``role`` its ports.

    :param instances: the role's provisioned instances (managed or not),
        in any order; they are matched to list entries by index order.
    :param report: called as ``report(path, value, why)`` for a length
        mismatch.
    """
    ordered = sorted(instances, key=lambda inst: inst['index'])
    ctlplane = ctlplane_port_map.get(role) or []
    networks = net_port_id_map.get(role) or {}
    if ctlplane and len(ctlplane) != len(ordered):
        report('role_ctlplane_port_map.%s' % role, schema.MISSING,
               _length_problem(len(ctlplane), role, len(ordered)))
        ctlplane = []
    usable = {}
    for network, ids in networks.items():
        if ids and len(ids) != len(ordered):
            report('role_net_port_id_map.%s.%s' % (role, network),
                   schema.MISSING,
                   _length_problem(len(ids), role, len(ordered)))
        elif ids:
            usable[network] = ids
    for position, instance in enumerate(ordered):
        instance['ctlplane_port'] = (copy.deepcopy(ctlplane[position])
                                     if ctlplane else None)
        instance['network_ports'] = {network: ids[position]
                                     for network, ids in usable.items()}
        if instance['ctlplane_port'] and 'ctlplane' not in usable:
            instance['network_ports']['ctlplane'] = (
                instance['ctlplane_port']['id'])
