"""Neutron reads and checks behind ``created_ports``, before any write.

The networks a roles file names, with their subnets (one listing each for
the whole run), the subnet each wanted port goes on, and the sentences
that refuse what cannot be had: an unknown network or subnet, several
subnets and none asked for, a fixed IP outside the subnet, a found port
that is not what the file asks for. SDK errors of these reads become
``PortError`` here, once.
"""

import ipaddress

from tripleo_baremetal import api
from tripleo_baremetal import exceptions
from tripleo_baremetal.provisioning import ports

#: Names or addresses per filtered listing (keeps URLs short).
QUERY_CHUNK = 50


def chunks(items, size):
    items = list(items)
    return [items[start:start + size] for start in range(0, len(items),
                                                         size)]


def call(what, call, *args, **kwargs):
    """Run one Neutron call; its SDK errors become PortError."""
    try:
        return call(*args, **kwargs)
    except api.ERRORS as exc:
        raise exceptions.PortError('%s: %s' % (what, api.describe(exc)))


def port_dict(port):
    """The keys of an SDK port this module reads, as plain data."""
    return {'id': port.id, 'name': port.name, 'network_id': port.network_id,
            'dns_name': getattr(port, 'dns_name', None),
            'mac_address': port.mac_address,
            'fixed_ips': [dict(ip) for ip in port.fixed_ips or ()],
            'tags': list(port.tags or ()),
            'created_at': port.created_at,
            'device_id': port.device_id,
            'binding_host_id': getattr(port, 'binding_host_id', None)}


class Networks:
    """The networks named by the wanted ports, with their subnets."""

    def __init__(self, conn, names):
        self.by_name, self.by_id, self.subnets = {}, {}, {}
        found = call('listing networks %s' % ', '.join(names),
                     lambda: list(conn.network.networks(name=names)))
        for net in found:
            if net.name in self.by_name:
                continue    # names are not unique in Neutron either
            self.by_name[net.name] = {
                'id': net.id, 'name': net.name, 'mtu': net.mtu,
                'tags': list(net.tags or ())}
            self.by_id[net.id] = self.by_name[net.name]
        ids = sorted(self.by_id)
        subnets = call('listing subnets', lambda: list(
            conn.network.subnets(network_id=ids))) if ids else []
        for subnet in subnets:
            self.subnets.setdefault(subnet.network_id, []).append(
                ports.subnet_dict(subnet))

    def subnet_for(self, wanted):
        """``(subnet dict, problem)`` of ``wanted``'s port."""
        network = self.by_name.get(wanted.network)
        if network is None:
            return None, ('%s: network %s does not exist in Neutron'
                          % (wanted.where, wanted.network))
        subnets = self.subnets.get(network['id']) or []
        if wanted.subnet:
            for subnet in subnets:
                if wanted.subnet in (subnet.get('name'), subnet['id']):
                    return subnet, None
            return None, ('%s: subnet %s is not a subnet of network %s '
                          '(it has: %s)' % (
                              wanted.where, wanted.subnet, wanted.network,
                              _names(subnets)))
        if wanted.fixed_ip:
            return _subnet_of_ip(wanted, subnets)
        if len(subnets) == 1:
            return subnets[0], None
        if not subnets:
            return None, '%s: network %s has no subnet' % (
                wanted.where, wanted.network)
        return None, ('%s: network %s has %d subnets (%s): say which, '
                      'with subnet (or fixed_ip)' % (
                          wanted.where, wanted.network, len(subnets),
                          _names(subnets)))


def _names(subnets):
    """The subnets' names, sorted: Neutron lists them in no set order."""
    return ', '.join(sorted(subnet.get('name') or subnet['id']
                            for subnet in subnets)) or 'none'


def _subnet_of_ip(wanted, subnets):
    address = ipaddress.ip_address(wanted.fixed_ip)
    for subnet in subnets:
        if address in ipaddress.ip_network(subnet['cidr'], strict=False):
            return subnet, None
    return None, ('%s: fixed_ip %s is in no subnet of network %s (%s)' % (
        wanted.where, wanted.fixed_ip, wanted.network, ', '.join(
            '%s %s' % (subnet.get('name') or subnet['id'], subnet['cidr'])
            for subnet in subnets) or 'no subnet'))


def ip_problem(wanted, subnet):
    """Why ``wanted.fixed_ip`` cannot be had on ``subnet``, or None."""
    if not wanted.fixed_ip:
        return None
    network = ipaddress.ip_network(subnet['cidr'], strict=False)
    if ipaddress.ip_address(wanted.fixed_ip) not in network:
        return '%s: fixed_ip %s is not in subnet %s (%s)' % (
            wanted.where, wanted.fixed_ip, subnet.get('name') or subnet['id'],
            subnet['cidr'])
    return None


def found_problem(wanted, port, subnet):
    """Why a found port is not what the file asks for, or None."""
    ips = port['fixed_ips']
    if wanted.fixed_ip and not any(
            ipaddress.ip_address(ip['ip_address'])
            == ipaddress.ip_address(wanted.fixed_ip) for ip in ips):
        return ('%s: port %s (%s) has fixed IP(s) %s, not fixed_ip %s as '
                'the roles file asks; delete the port or change the file'
                % (wanted.where, port['name'], port['id'], ', '.join(
                    ip['ip_address'] for ip in ips) or 'none',
                   wanted.fixed_ip))
    if subnet and wanted.subnet and not any(
            ip.get('subnet_id') == subnet['id'] for ip in ips):
        return ('%s: port %s (%s) is not on subnet %s as the roles file '
                'asks; delete the port or change the file'
                % (wanted.where, port['name'], port['id'], wanted.subnet))
    return None
