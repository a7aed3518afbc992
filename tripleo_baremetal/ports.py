"""Heat's ports, completed from Neutron and checked before any node is touched.

Heat's port maps may give a ctlplane port without its ``network``,
``subnets`` or ``mac_address``, and ``RoleNetPortIdMap`` gives only ids.
The data is read here in bulk, a request per kind of resource for the
whole run (``GET /v2.0/ports?id=a&id=b...``, then networks, then
subnets), never per instance. The same pass refuses, naming host, port
and node, a port id Neutron does not know and a port already attached to
another Ironic node: both would fail half-way through a deploy otherwise.
"""

import copy
import logging

from tripleo_baremetal import deploy
from tripleo_baremetal import exceptions

LOG = logging.getLogger(__name__)

_SUBNET_KEYS = ('id', 'name', 'cidr', 'gateway_ip', 'host_routes',
                'dns_nameservers', 'ip_version', 'enable_dhcp',
                'ipv6_address_mode', 'ipv6_ra_mode')


def _needs_neutron(port):
    return not (port.get('network') and port.get('subnets')
                and port.get('fixed_ips'))


def _vif_port_ids(instance):
    """Port ids to be attached, except a complete Heat ctlplane port."""
    ctlplane = instance.get('ctlplane_port') or {}
    ids = deploy.vif_ports(instance)
    if ctlplane.get('id') in ids and not _needs_neutron(ctlplane):
        ids.remove(ctlplane['id'])
    return ids


def _subnet_dict(subnet):
    result = {}
    for key in _SUBNET_KEYS:
        value = getattr(subnet, key, None)
        if value is not None:
            result[key] = value
    result['host_routes'] = [dict(route) for route in
                             result.get('host_routes') or ()]
    result['dns_nameservers'] = list(result.get('dns_nameservers') or ())
    if 'enable_dhcp' not in result:
        result['enable_dhcp'] = bool(getattr(subnet, 'is_dhcp_enabled',
                                             False))
    return result


def _port_dict(port, networks, subnets):
    network = networks.get(port.network_id)
    fixed_ips = [dict(ip) for ip in port.fixed_ips or ()]
    return {
        'id': port.id,
        'mac_address': port.mac_address,
        'fixed_ips': fixed_ips,
        'network': {'id': network.id, 'name': network.name,
                    'mtu': network.mtu,
                    'tags': list(getattr(network, 'tags', None) or ())}
        if network else {'id': port.network_id},
        'subnets': [subnets[ip['subnet_id']] for ip in fixed_ips
                    if ip.get('subnet_id') in subnets],
    }


def attached_vifs(conn):
    """``{vif id: node uuid}`` for every VIF attached in Ironic (1 request)."""
    result = {}
    for port in conn.baremetal.ports(fields=['uuid', 'node_uuid',
                                             'internal_info']):
        vif = (port.internal_info or {}).get('tenant_vif_port_id')
        if vif:
            result[vif] = port.node_id
    return result


def resolve_ports(conn, instances, node_for_host=None):
    """Complete the instances' ports from Neutron and check attachments.

    :param instances: expanded instances; not modified.
    :param node_for_host: ``{hostname: node uuid}`` of instances that
        already have a node (a port attached there is expected).
    :returns: copies of the instances with ``ctlplane_port`` completed and
        ``ports``: the full port dicts to attach, ctlplane first (the
        config drive's network data is built from them).
    :raises: InvalidInput naming host, port and node.
    """
    node_for_host = node_for_host or {}
    wanted = set()
    for instance in instances:
        wanted.update(_vif_port_ids(instance))
    found = {}
    if wanted:
        LOG.debug('Reading %d port(s) from Neutron', len(wanted))
        ports = list(conn.network.ports(id=sorted(wanted)))
        networks = {net.id: net for net in conn.network.networks(
            id=sorted({port.network_id for port in ports}))}
        subnet_ids = {ip['subnet_id'] for port in ports
                      for ip in port.fixed_ips or () if ip.get('subnet_id')}
        subnets = {sub.id: _subnet_dict(sub) for sub in conn.network.subnets(
            id=sorted(subnet_ids))} if subnet_ids else {}
        found = {port.id: _port_dict(port, networks, subnets)
                 for port in ports}
    vifs = attached_vifs(conn) if wanted else {}

    errors, result = [], []
    for instance in instances:
        host = instance['hostname']
        instance = copy.deepcopy(instance)
        for port_id in _vif_port_ids(instance):
            if port_id not in found:
                errors.append('%s: port %s does not exist in Neutron'
                              % (host, port_id))
            elif vifs.get(port_id) and vifs[port_id] != node_for_host.get(
                    host):
                errors.append('%s: port %s is already attached to node %s'
                              % (host, port_id, vifs[port_id]))
        ctlplane = instance.get('ctlplane_port')
        if ctlplane and ctlplane['id'] in found:
            merged = dict(found[ctlplane['id']])
            merged.update({key: value for key, value in ctlplane.items()
                           if value})
            instance['ctlplane_port'] = merged
        instance['ports'] = [
            instance['ctlplane_port'] if ctlplane and port_id == ctlplane['id']
            else found[port_id]
            for port_id in deploy.vif_ports(instance)
            if port_id in found or (ctlplane and port_id == ctlplane['id'])]
        result.append(instance)
    if errors:
        raise exceptions.InvalidInput(errors)
    return result
