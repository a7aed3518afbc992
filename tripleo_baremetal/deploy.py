"""Deploy one reserved node: instance_info, VIFs, validation, ``active``.

Six Ironic requests plus one per port for a node: read the node (is it
still ours, out of maintenance, available?), one PATCH for everything in
``instance_info``, a VIF attach per Heat port, one validate, the node's
ports and port groups (for the MACs in the config drive's network data)
and the provision request carrying the config drive. Anything that fails before
``active`` was accepted is undone (VIFs we attached, ``instance_info`` we
set, the allocation) so the node goes back to the pool; a node that is
not reserved for this instance is never written to.
"""

import logging

from openstack import exceptions as sdk_exc

from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import configdrive as config_drive
from tripleo_baremetal import exceptions
from tripleo_baremetal import images
from tripleo_baremetal import network_data
from tripleo_baremetal import polling

LOG = logging.getLogger(__name__)

#: Ironic API version of the provision request: a config drive given
#: as a string or a dict (Stein and later).
PROVISION_MICROVERSION = '1.56'

#: Interfaces that must validate before a deploy is requested.
REQUIRED_INTERFACES = ('boot', 'deploy', 'power', 'management')


def check_image(instance, check_local_files=True):
    """Refuse an unusable image before any write. Raises InvalidInput."""
    image = instance.get('image') or {}
    problems = ['image.%s: %r %s' % problem
                for problem in images.image_problems(image)]
    if check_local_files and not problems:
        problems = ['image.%s: %r does not exist on this host' % missing
                    for missing in images.missing_local_files(image)]
    if problems:
        raise exceptions.InvalidInput(
            ['%s: %s' % (instance['hostname'], problem)
             for problem in problems])


def instance_info_for(instance, node):
    """The ``instance_info`` keys to set for ``instance`` on ``node``."""
    image = instance['image']
    info = {'image_source': image['href'],
            'display_name': instance['hostname']}
    if image.get('checksum'):
        info['image_checksum'] = image['checksum']
    capabilities = {'boot_option': 'local'}
    if instance.get('capabilities', {}).get('boot_mode'):
        capabilities['boot_mode'] = instance['capabilities']['boot_mode']
    info['capabilities'] = capabilities
    if not images.is_whole_disk(image):
        info['kernel'] = image['kernel']
        info['ramdisk'] = image['ramdisk']
        root_gb = instance.get('root_size_gb')
        if not root_gb:
            local_gb = int((node.properties or {}).get('local_gb') or 0)
            if local_gb < 2:
                raise exceptions.InvalidInput(
                    '%s: node %s reports local_gb %r, so the root partition '
                    'size cannot be derived; set root_size_gb'
                    % (instance['hostname'], polling.node_label(node),
                       local_gb))
            root_gb = local_gb - 1
        info['root_gb'] = root_gb
    elif instance.get('root_size_gb'):
        info['root_gb'] = instance['root_size_gb']
    if instance.get('swap_size_mb'):
        info['swap_mb'] = instance['swap_size_mb']
    if instance.get('traits'):
        info['traits'] = list(instance['traits'])
    return info


def vif_ports(instance):
    """Port ids to attach, ctlplane first, then networks marked ``vif``."""
    ports = []
    network_ports = instance.get('network_ports') or {}
    ctlplane = (instance.get('ctlplane_port') or {}).get('id') or \
        network_ports.get('ctlplane')
    if ctlplane:
        ports.append(ctlplane)
    for network in instance.get('networks') or ():
        port_id = network.get('port') or network_ports.get(
            network.get('network'))
        if network.get('vif') and port_id and port_id not in ports:
            ports.append(port_id)
    return ports


def _check_reserved(instance, node, allocation_id):
    """Raise unless ``node`` is reserved for ``instance`` and deployable."""
    hostname = instance['hostname']
    if not node.allocation_id or (allocation_id
                                  and node.allocation_id != allocation_id):
        raise exceptions.DeployError(
            '%s: node %s is not reserved for this instance (its allocation '
            'is %s, expected %s); refusing to touch it'
            % (hostname, polling.node_label(node), node.allocation_id,
               allocation_id))
    if node.is_maintenance:
        raise exceptions.DeployError(
            '%s: node %s is in maintenance (reason: %s)'
            % (hostname, polling.node_label(node), node.maintenance_reason or
               'none given'))
    if node.provision_state != 'available':
        raise exceptions.DeployError(
            '%s: node %s is in provision state %r, expected available'
            % (hostname, polling.node_label(node), node.provision_state))


def _attach_vifs(conn, node, port_ids, attached):
    for port_id in port_ids:
        try:
            conn.baremetal.attach_vif_to_node(node, port_id,
                                              retry_on_conflict=False)
        except sdk_exc.ConflictException:
            # Already attached here (a re-run) is fine; elsewhere is not.
            if port_id not in conn.baremetal.list_node_vifs(node):
                raise
            continue
        attached.append(port_id)


def _undo(conn, node, instance, attached, info_keys, allocation_id):
    """Best-effort rollback of what ``deploy_node`` wrote."""
    hostname = instance['hostname']
    for port_id in attached:
        try:
            conn.baremetal.detach_vif_from_node(node, port_id)
        except sdk_exc.SDKException as exc:
            LOG.warning('%s: could not detach VIF %s from node %s: %s',
                        hostname, port_id, node.id, exc)
    if info_keys:
        try:
            conn.baremetal.patch_node(node, [
                {'op': 'remove', 'path': '/instance_info/%s' % key}
                for key in sorted(info_keys)])
        except sdk_exc.SDKException as exc:
            LOG.warning('%s: could not clear instance_info of node %s: %s',
                        hostname, node.id, exc)
    if allocation_id:
        try:
            conn.baremetal.delete_allocation(allocation_id,
                                             ignore_missing=True)
        except sdk_exc.SDKException as exc:
            LOG.warning('%s: could not release allocation %s of node %s: %s',
                        hostname, allocation_id, node.id, exc)


def _nic_ports(conn, node, ports):
    """The node's NICs (ports and port groups), and ``ports`` with MACs.

    The Ironic port or port group (bond) carrying a VIF gives its MAC
    (``network_data`` prefers it). A port Ironic has no record of (the
    ``noop`` network interface stores no VIF) keeps its MAC only when it
    is one of the node's NICs; otherwise it takes the MAC of a NIC no
    other port uses, in the order Ironic lists them: a MAC Neutron made
    up matches no NIC and cloud-init would configure nothing.
    """
    nics = [nic.to_dict() for nic in conn.baremetal.ports(node=node.id,
                                                          details=True)]
    nics += [group.to_dict() for group in
             conn.baremetal.port_groups(node=node.id, details=True)]
    carried = network_data.vif_macs(nics)
    own = {(port.get('mac_address') or '').lower() for port in ports}
    spare = [nic['address'].lower() for nic in nics if nic.get('address')
             and nic['address'].lower() not in carried.values()
             and nic['address'].lower() not in own]
    result = []
    for port in ports:
        mac = (port.get('mac_address') or '').lower()
        known = any((nic.get('address') or '').lower() == mac
                    for nic in nics)
        if port['id'] not in carried and not known and spare:
            port = dict(port, mac_address=spare.pop(0))
        result.append(port)
    return nics, result


def _request_active(conn, node, configdrive):
    """Ask Ironic to deploy ``node`` with ``configdrive``: one request.

    The SDK's ``set_node_provision_state`` reads the whole node again
    after the PUT; the wait polls in bulk anyway, so that GET is waste.
    """
    response = conn.baremetal.put(
        'nodes/%s/states/provision' % node.id,
        json={'target': 'active', 'configdrive': configdrive},
        microversion=PROVISION_MICROVERSION)
    sdk_exc.raise_from_response(
        response, error_message='Failed to request deploy of node %s'
        % node.id)


def _build_drive(conn, instance, node, ssh_keys, user_name, stackname,
                 options):
    ports = instance.get('ports')
    ctlplane = instance.get('ctlplane_port') or {}
    if not ports and ctlplane.get('fixed_ips') and ctlplane.get('subnets'):
        ports = [ctlplane]
    net_data = None
    if ports:
        nics, ports = _nic_ports(conn, node, ports)
        net_data = network_data.build_network_data(ports, ironic_ports=nics)
    return config_drive.build_configdrive(
        instance, node.id, ssh_keys=ssh_keys, user_name=user_name,
        network_data=net_data, stackname=stackname,
        ca_file=options.config_drive_ca_file)['configdrive']


def deploy_node(conn, instance, node, allocation=None, configdrive=None,
                ssh_keys=(), user_name=None, stackname=None, conf=None):
    """Start deploying ``instance`` on its reserved ``node``.

    :param node: node UUID or name (from the reservation).
    :param allocation: the reservation's allocation UUID; when given the
        node must carry exactly this allocation.
    :param configdrive: a packed config drive; built here when None.
    :returns: the instance dict with ``node``, ``node_name``,
        ``allocation`` and ``attached_vifs`` added.
    :raises: InvalidInput or DeployError; the node is released first.
    """
    options = baremetal_conf.get_conf(conf)
    hostname = instance['hostname']
    node_obj = conn.baremetal.get_node(node)
    try:
        check_image(instance, options.check_local_images)
        _check_reserved(instance, node_obj, allocation)
    except exceptions.BaremetalError:
        ours = node_obj.allocation_id and (
            not allocation or node_obj.allocation_id == allocation)
        if ours:
            _undo(conn, node_obj, instance, [], (), node_obj.allocation_id)
        raise

    attached = []
    info = {}
    try:
        info = instance_info_for(instance, node_obj)
        conn.baremetal.patch_node(node_obj, [
            {'op': 'add', 'path': '/instance_info/%s' % key, 'value': value}
            for key, value in sorted(info.items())])
        _attach_vifs(conn, node_obj, vif_ports(instance), attached)
        try:
            conn.baremetal.validate_node(node_obj,
                                         required=REQUIRED_INTERFACES)
        except sdk_exc.ValidationException as exc:
            raise exceptions.DeployError(
                '%s: node %s failed validation: %s'
                % (hostname, polling.node_label(node_obj), exc))
        if configdrive is None:
            configdrive = _build_drive(conn, instance, node_obj, ssh_keys,
                                       user_name, stackname, options)
        _request_active(conn, node_obj, configdrive)
    except Exception as exc:
        LOG.error('%s: deploy of node %s failed, releasing it: %s',
                  hostname, polling.node_label(node_obj), exc)
        keys = set(info) - {'traits'} if info else set()
        _undo(conn, node_obj, instance, attached, keys,
              node_obj.allocation_id)
        if isinstance(exc, exceptions.BaremetalError):
            raise
        raise exceptions.DeployError(
            '%s: deploy of node %s failed: %s'
            % (hostname, polling.node_label(node_obj), exc))
    LOG.info('%s: deploying on node %s', hostname,
             polling.node_label(node_obj))
    result = dict(instance)
    result.update(node=node_obj.id, node_name=node_obj.name,
                  allocation=node_obj.allocation_id, attached_vifs=attached)
    return result
