"""Heat's ports, completed from Neutron and checked before any node is touched.

Heat's port maps may give a ctlplane port without its ``network``,
``subnets`` or ``mac_address``, and ``RoleNetPortIdMap`` gives only ids.
The data is read here in bulk, a request per kind of resource for the
whole run, never per instance: ``GET /v2.0/ports?id=a&id=b...`` for
every port to attach, then the networks and subnets of the ports Heat's
maps leave incomplete (none when they are complete). The same pass
refuses, naming host, port and node, a port id Neutron does not know and
a port already attached to another Ironic node: both would fail, or
silently take the port from a deployed node, half-way through a deploy
otherwise. Complete Heat ports are checked too: a port deleted since
Heat's outputs were written is as fatal as a mistyped id. Only without
any Neutron endpoint (a standalone Ironic) are complete ports trusted as
given, with a warning.

The same read checks what the roles file asserts about Heat's ports
(``networks[].fixed_ip`` and ``networks[].subnet``) where expansion could
not: a port known only by its id (``RoleNetPortIdMap``) must carry that
fixed IP, on that subnet, in Neutron.
"""

import dataclasses
import itertools
import logging

from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.request import port_maps
from tripleo_baremetal.request import roles_schema as schema

LOG = logging.getLogger(__name__)

_SUBNET_KEYS = ('id', 'name', 'cidr', 'gateway_ip', 'host_routes',
                'dns_nameservers', 'ip_version', 'enable_dhcp',
                'ipv6_address_mode', 'ipv6_ra_mode')


def _needs_neutron(port):
    return not (port.network and port.subnets and port.fixed_ips)


def _vif_port_ids(instance):
    """Port ids to be attached, except a complete Heat ctlplane port."""
    ctlplane = instance.ctlplane_port
    ids = deploy.vif_ports(instance)
    if ctlplane and ctlplane.id in ids and not _needs_neutron(ctlplane):
        ids.remove(ctlplane.id)
    return ids


def subnet_dict(subnet):
    """An SDK subnet as the ports' ``subnets`` carry it (plain data)."""
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


def _port(port, networks, subnets):
    """The ``model.Port`` of an SDK port, its network and its subnets."""
    network = networks.get(port.network_id)
    fixed_ips = [dict(ip) for ip in port.fixed_ips or ()]
    return model.Port(
        id=port.id,
        mac_address=port.mac_address,
        fixed_ips=fixed_ips,
        network={'id': network.id, 'name': network.name,
                 'mtu': network.mtu,
                 'tags': list(getattr(network, 'tags', None) or ())}
        if network else {'id': port.network_id},
        subnets=[subnets[ip['subnet_id']] for ip in fixed_ips
                 if ip.get('subnet_id') in subnets])


def _merged(neutron_port, heat_port):
    """Neutron's port, with what Heat's port map gives overriding it."""
    if heat_port is None:
        return neutron_port
    given = {field.name: getattr(heat_port, field.name)
             for field in dataclasses.fields(heat_port)
             if getattr(heat_port, field.name)}
    return dataclasses.replace(neutron_port, **given)


def attached_vifs(conn):
    """``{vif id: node uuid}`` for every VIF attached in Ironic.

    Ironic records a VIF on the NIC (port) or bond (port group) carrying
    it, and prefers a port group when the node has one: both are listed
    (2 requests, whatever the number of nodes).
    """
    result = {}
    fields = ['uuid', 'node_uuid', 'internal_info']
    for holder in itertools.chain(conn.baremetal.ports(fields=fields),
                                  conn.baremetal.port_groups(fields=fields)):
        vif = (holder.internal_info or {}).get('tenant_vif_port_id')
        if vif:
            result[vif] = holder.node_id
    return result


def _read_ports(conn, port_ids, to_complete):
    """``{port id: model.Port}`` of the ports Neutron knows in ``port_ids``.

    Networks and subnets are read only for the ports in ``to_complete``;
    the others get ``network: {'id': ...}`` and no subnets.
    """
    LOG.debug('Reading %d port(s) from Neutron', len(port_ids))
    ports = list(conn.network.ports(id=sorted(port_ids)))
    incomplete = [port for port in ports if port.id in to_complete]
    network_ids = sorted({port.network_id for port in incomplete})
    networks = {net.id: net for net in conn.network.networks(
        id=network_ids)} if network_ids else {}
    subnet_ids = sorted({ip['subnet_id'] for port in incomplete
                         for ip in port.fixed_ips or ()
                         if ip.get('subnet_id')})
    subnets = {sub.id: subnet_dict(sub) for sub in conn.network.subnets(
        id=subnet_ids)} if subnet_ids else {}
    return {port.id: _port(port, networks, subnets) for port in ports}


def _without_neutron(instances, wanted, to_complete):
    """Heat's complete ctlplane ports, by id, when there is no Neutron.

    A connection without a network endpoint (a standalone Ironic with the
    ``noop`` network interface) cannot check that ports exist; Heat's
    complete ports are then used as given, with a warning. A port that
    needs completing cannot be: that is an error, not a bare
    AssertionError from the SDK.

    :raises: InvalidInput naming each host and port that needs Neutron.
    """
    errors = ['%s: port %s has no network, subnets or fixed IPs in Heat\'s '
              'port maps and there is no Neutron (network) endpoint to read '
              'them from; set [tripleo_baremetal] network_endpoint_override '
              'or pass complete ports' % (instance.hostname, port_id)
              for instance in instances
              for port_id in deploy.vif_ports(instance)
              if port_id in to_complete]
    if errors:
        raise exceptions.InvalidInput(errors)
    LOG.warning('No Neutron (network) endpoint: %d port(s) from Heat\'s '
                'port maps are used without checking that they exist',
                len(wanted))
    return {instance.ctlplane_port.id: instance.ctlplane_port
            for instance in instances if instance.ctlplane_port}


def _asserted(instance):
    """``[(position, networks entry, port id)]`` asserting IP or subnet."""
    result = []
    for position, entry in enumerate(instance.networks):
        port_id = port_maps.network_port_id(instance, entry)
        if port_id and port_maps.has_assertions(entry):
            result.append((position, entry, port_id))
    return result


def _assertion_errors(instance, found, neutron):
    """Where Neutron's port differs from the roles file's assertions."""
    host = instance.hostname
    errors = []
    for position, entry, port_id in _asserted(instance):
        port = found.get(port_id)
        if port is None:
            if neutron and port_id not in deploy.vif_ports(instance):
                errors.append('%s: port %s (networks[%d], network %s) does '
                              'not exist in Neutron' % (
                                  host, port_id, position,
                                  schema.shown(entry.network)))
            elif not neutron:
                LOG.warning('%s: cannot check networks[%d] against port %s '
                            'without Neutron', host, position, port_id)
            continue
        errors.extend(
            '%s: port %s (network %s): networks[%d].%s %s does not match '
            'Neutron, where the port has %s' % (
                host, port_id, schema.shown(entry.network), position,
                key, schema.shown(asked), has)
            for key, asked, has in port_maps.assertion_problems(entry, port))
    return errors


def _read_all(conn, instances):
    """``(ports by id, attached VIFs, whether Neutron was read)``.

    One bulk read of every port to attach or asserted about (see
    ``_read_ports``), and of the VIFs attached in Ironic when any port is
    to be attached.
    """
    wanted, to_complete, asserted = set(), set(), set()
    for instance in instances:
        wanted.update(deploy.vif_ports(instance))
        to_complete.update(_vif_port_ids(instance))
        for _position, entry, port_id in _asserted(instance):
            asserted.add(port_id)
            if entry.subnet:
                to_complete.add(port_id)    # subnet names are read too
    found, vifs = {}, {}
    neutron = bool(wanted or asserted) and conn.has_service('network')
    if neutron:
        found = _read_ports(conn, wanted | asserted, to_complete)
    elif wanted:
        found = _without_neutron(instances, wanted, to_complete)
    if wanted:
        vifs = attached_vifs(conn)
    return found, vifs, neutron


def resolve_ports(conn, instances, node_for_host=None):
    """Complete the instances' ports from Neutron and check attachments.

    :param instances: ``model.Instance`` list.
    :param node_for_host: ``{hostname: node uuid}`` of instances that
        already have a node (a port attached there is expected).
    :returns: the instances with ``ctlplane_port`` completed (set from
        Neutron when only ``RoleNetPortIdMap`` names the ctlplane port, so
        that its IP can be reported) and ``ports``: the ``model.Port``
        list to attach, ctlplane first (the config drive's network data
        is built from them).
    :raises: InvalidInput naming host, port and node, or host, port,
        network and both values for a ``networks`` entry whose
        ``fixed_ip`` or ``subnet`` the port in Neutron does not have.
    """
    node_for_host = node_for_host or {}
    found, vifs, neutron = _read_all(conn, instances)
    errors, result = [], []
    for instance in instances:
        errors.extend(_attachment_errors(
            instance, found, vifs, node_for_host.get(instance.hostname)))
        instance = _with_ports(instance, found)
        errors.extend(_assertion_errors(instance, found, neutron))
        result.append(instance)
    if errors:
        raise exceptions.InvalidInput(errors)
    return result


def _attachment_errors(instance, found, vifs, node_id):
    """Ports of ``instance`` that do not exist or are attached elsewhere."""
    errors = []
    for port_id in deploy.vif_ports(instance):
        if port_id not in found:
            errors.append('%s: port %s does not exist in Neutron'
                          % (instance.hostname, port_id))
        elif vifs.get(port_id) and vifs[port_id] != node_id:
            errors.append('%s: port %s is already attached to node %s'
                          % (instance.hostname, port_id, vifs[port_id]))
    return errors


def _with_ports(instance, found):
    """``instance`` with its ctlplane port completed and ``ports`` set."""
    port_ids = deploy.vif_ports(instance)
    ctlplane = instance.ctlplane_port
    ctlplane_id = port_ids[0] if port_ids and (
        ctlplane or instance.network_ports.get('ctlplane')) else None
    if ctlplane_id in found:
        ctlplane = _merged(found[ctlplane_id], ctlplane)
    ports = [ctlplane if port_id == ctlplane_id else found[port_id]
             for port_id in port_ids if port_id in found]
    return instance.replace(ctlplane_port=ctlplane, ports=ports)
