"""OpenStack ``network_data.json`` for a node, built from its ports.

cloud-init, glean and cloudbase-init configure the network of a deployed
node from ``network_data.json`` on the config drive. Nova normally writes
it; without Nova we build the same document from the Neutron ports of the
instance (:class:`~tripleo_baremetal.model.Port` records, see
``doc/source/instances.md``), in the format of Nova's schema
(``doc/api_schemas/network_data.json`` in openstack/nova):

* ``links``: one ``phy`` link per MAC address. Readers match links to NICs
  by MAC, so the MAC is the one of the Ironic port that carries the VIF
  when known, else the Neutron port's own. Every link has an ``mtu``
  (1500 when the network does not say): nodes without one came up with a
  wrong MTU in the past.
* ``networks``: one entry per fixed IP, ``ipv4``/``ipv6`` with address,
  netmask and routes (the subnet's host routes, plus one default route per
  address family, via the gateway of the first port whose subnet has
  one); ``ipv4_dhcp``/``ipv6_dhcp``/``ipv6_slaac`` for a port without a
  fixed IP.
* ``services``: the DNS servers of all subnets, de-duplicated.

One known gap: Nova's schema has no ``255.255.255.255`` netmask, yet a
``/32`` host route needs one (Nova writes it too); such routes are kept,
since the readers accept them.
"""

import ipaddress
import logging

from tripleo_baremetal import exceptions

LOG = logging.getLogger(__name__)

DEFAULT_MTU = 1500
"""MTU of a link whose network has none."""

_DEFAULT_ROUTE = {4: ('0.0.0.0', '0.0.0.0'), 6: ('::', '::')}


def build_network_data(ports, ironic_ports=None):
    """Build ``network_data.json`` content for a node.

    :param ports: sequence of :class:`~tripleo_baremetal.model.Port`
        (None entries are skipped), ctlplane first: the first port with a
        gateway gets the default route of its address family.
    :param ironic_ports: optional list of the node's Ironic port dicts
        (``address``, ``internal_info``, ``extra``), used to find the MAC
        of the NIC that carries each VIF.
    :returns: the network data dict, or None when there is no network
        information (no ports): an empty document would leave the node
        without any network, so the caller must omit the file instead.
    :raises: InvalidInput when a port cannot be described (no MAC, or a
        fixed IP outside any known subnet).
    """
    ports = [port for port in ports or () if port is not None]
    if not ports:
        return None
    macs = vif_macs(ironic_ports or ())
    links = []
    networks = []
    dns = []
    defaults = set()
    link_ids = {}
    for port in ports:
        mac = port_mac(port, macs)
        link_id = link_ids.get(mac)
        if link_id is None:
            link = _link(port, mac)
            link_id = link_ids[mac] = link['id']
            links.append(link)
        for entry in port_networks(port, defaults):
            entry['id'] = 'network%d' % len(networks)
            entry['link'] = link_id
            networks.append(entry)
        for address in port_dns(port):
            if address not in dns:
                dns.append(address)
    result = {
        'links': links,
        'networks': networks,
        'services': [{'type': 'dns', 'address': address}
                     for address in dns],
    }
    LOG.debug('Network data: %d link(s), %d network(s), %d DNS server(s)',
              len(links), len(networks), len(dns))
    return result


def vif_macs(ironic_ports):
    """Map VIF (Neutron port) IDs to the MAC of the Ironic port carrying it.

    Ironic records the attached VIF in ``internal_info.tenant_vif_port_id``
    (older releases used ``extra.vif_port_id``).
    """
    result = {}
    for ironic_port in ironic_ports:
        address = ironic_port.get('address')
        if not address:
            continue
        for holder, key in (('internal_info', 'tenant_vif_port_id'),
                            ('extra', 'vif_port_id')):
            vif = (ironic_port.get(holder) or {}).get(key)
            if vif:
                result.setdefault(vif, address.lower())
    return result


def port_mac(port, vif_macs=None):
    """The MAC address of the NIC that carries ``port``.

    :raises: InvalidInput when neither an Ironic port nor the port itself
        gives one: readers cannot tell which NIC to configure without it.
    """
    mac = (vif_macs or {}).get(port.id) or port.mac_address
    if not mac:
        raise exceptions.InvalidInput(
            'Port %s (network %s) has no mac_address and no Ironic port '
            'carries it as a VIF; attach the VIF first or pass the Ironic '
            'ports' % (port.id, _network_name(port)))
    return mac.lower()


def _link(port, mac):
    network = port.network or {}
    link = {
        'id': 'port-%s' % (port.id or mac.replace(':', '')),
        'type': 'phy',
        'ethernet_mac_address': mac,
        'mtu': network.get('mtu') or DEFAULT_MTU,
    }
    if port.id:
        link['vif_id'] = port.id
    return link


def port_networks(port, defaults):
    """The ``networks`` entries of one port, without ``id`` and ``link``.

    :param defaults: set of IP versions that already have a default
        route; updated when this port adds one.
    """
    network_id = _network_id(port)
    subnets = port.subnets or ()
    fixed_ips = [ip for ip in port.fixed_ips or ()
                 if ip.get('ip_address')]
    if not fixed_ips:
        return [{'network_id': network_id, 'type': kind}
                for kind in _dhcp_types(subnets)]
    result = []
    for fixed_ip in fixed_ips:
        address = _ip(fixed_ip['ip_address'], port)
        subnet = _subnet_for(address, fixed_ip.get('subnet_id'), port)
        cidr = ipaddress.ip_network(subnet['cidr'], strict=False)
        entry = {
            'network_id': network_id,
            'type': 'ipv%d' % address.version,
            'ip_address': str(address),
            'netmask': str(cidr.netmask),
            'routes': _routes(subnet, address.version, defaults),
        }
        dns = [{'type': 'dns', 'address': server}
               for server in subnet.get('dns_nameservers') or ()]
        if dns:
            entry['services'] = dns
        result.append(entry)
    return result


def port_dns(port):
    """DNS servers of all subnets of a port, in order."""
    result = []
    for subnet in port.subnets or ():
        for server in subnet.get('dns_nameservers') or ():
            if server not in result:
                result.append(server)
    return result


def _dhcp_types(subnets):
    kinds = []
    for subnet in subnets:
        version = subnet.get('ip_version') or 4
        if version == 6:
            mode = subnet.get('ipv6_address_mode')
            kind = 'ipv6_slaac' if mode == 'slaac' else 'ipv6_dhcp'
        else:
            kind = 'ipv4_dhcp'
        if kind not in kinds:
            kinds.append(kind)
    return kinds or ['ipv4_dhcp']


def _routes(subnet, version, defaults):
    routes = []
    gateway = subnet.get('gateway_ip')
    if gateway and version not in defaults:
        network, netmask = _DEFAULT_ROUTE[version]
        routes.append({'network': network, 'netmask': netmask,
                       'gateway': gateway})
        defaults.add(version)
    for route in subnet.get('host_routes') or ():
        try:
            destination = ipaddress.ip_network(route['destination'],
                                               strict=False)
            nexthop = ipaddress.ip_address(route['nexthop'])
        except (KeyError, TypeError, ValueError) as exc:
            raise exceptions.InvalidInput(
                'Subnet %s has an invalid host route %r: %s'
                % (subnet.get('id') or subnet.get('cidr'), route, exc))
        if destination.version != version or nexthop.version != version:
            continue
        if destination.prefixlen == 0:
            # A host route to everywhere is a default route: keep the rule
            # of one default route per address family.
            if version in defaults:
                LOG.debug('Ignoring default host route via %s of subnet %s: '
                          'a default route exists already', nexthop,
                          subnet.get('cidr'))
                continue
            defaults.add(version)
        routes.append({'network': str(destination.network_address),
                       'netmask': str(destination.netmask),
                       'gateway': str(nexthop)})
    return routes


def _subnet_for(address, subnet_id, port):
    """The subnet dict holding ``address``; its ``cidr`` is required.

    Heat's port maps sometimes carry no subnets but the network's CIDRs as
    tags; those are used as a last resort.
    """
    subnets = port.subnets or ()
    for subnet in subnets:
        if subnet_id and subnet.get('id') == subnet_id and subnet.get('cidr'):
            return subnet
    for subnet in subnets:
        if subnet.get('cidr') and _contains(subnet['cidr'], address):
            return subnet
    for tag in (port.network or {}).get('tags') or ():
        if _contains(tag, address):
            return {'cidr': tag}
    raise exceptions.InvalidInput(
        'Port %s (network %s): no subnet with a CIDR holds its fixed IP %s'
        % (port.id, _network_name(port), address))


def _contains(cidr, address):
    try:
        return address in ipaddress.ip_network(cidr, strict=False)
    except (TypeError, ValueError):
        return False


def _ip(value, port):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise exceptions.InvalidInput(
            'Port %s (network %s) has an invalid fixed IP %r'
            % (port.id, _network_name(port), value))


def _network_id(port):
    network = port.network or {}
    return network.get('id') or network.get('name') or ''


def _network_name(port):
    network = port.network or {}
    return network.get('name') or network.get('id') or 'unknown'
