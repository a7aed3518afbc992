"""Deploy one reserved node: instance_info, VIFs, validation, ``active``.

Three Ironic requests for a node without ports: read the node (is it
still ours, out of maintenance, available?), one PATCH for everything in
``instance_info``, and the provision request carrying the config drive
(Ironic validates the node's interfaces before it accepts it: a node that
fails is refused with HTTP 400, and rolled back here). With ports, one
VIF attach per port and two listings of the node's ports and port groups
(for the MACs in the config drive's network data): 6 for one port.

The floor is the writes alone: a caller that has just reserved the node
(``pick_nodes``: Ironic only allocates an available node out of
maintenance) passes what it knows of it as ``node``, and the NICs of
every reserved node, read in one listing (``known.list_nics``), as
``nics``:
2 requests without ports, 3 with one (pinned in
tests/unit/test_http_deploy).
``root_device`` costs an inventory read and ``raid_config`` the target
RAID config's PUT (and, from a snapshot, a read of the node's current
one) (``node_settings``); deploy steps travel with the provision
request. Anything that fails before ``active`` was accepted is undone
(VIFs we attached, ``instance_info`` we set, the root device hint and
RAID config, the allocation) so the node goes back to the pool; a node
that is not reserved for this instance is never written to.
"""

import dataclasses
import logging
import time

from openstack import exceptions as sdk_exc

from tripleo_baremetal import api
from tripleo_baremetal.common import images
from tripleo_baremetal.common import root_device
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal.configdrive import contents as config_drive
from tripleo_baremetal.configdrive import network_data as network_data_mod
from tripleo_baremetal import exceptions
from tripleo_baremetal import labels
from tripleo_baremetal import model
from tripleo_baremetal.provisioning import known
from tripleo_baremetal.provisioning import node_settings
from tripleo_baremetal.request import deploy_steps
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)


def check_image(instance, check_local_files=True, allowed_paths=None):
    """Refuse an unusable image before any write. Raises InvalidInput.

    :param allowed_paths: directories ``file://`` URLs may point into
        (the conductor's ``file_url_allowed_paths``); only files there are
        looked for on this host.
    """
    image = instance.image
    problems = ['image.%s: %r %s' % problem
                for problem in images.image_problems(
                    image, allowed_paths=allowed_paths)]
    if check_local_files and not problems:
        problems = ['image.%s: %r does not exist on this host' % missing
                    for missing in images.missing_local_files(
                        image, allowed_paths=allowed_paths)]
    if problems:
        raise exceptions.InvalidInput(
            ['%s: %s' % (instance.hostname, problem)
             for problem in problems])


def instance_info_for(instance, node, disk=None):
    """The ``instance_info`` keys to set for ``instance`` on ``node``.

    :param disk: the root disk chosen for a ``root_device`` request; a
        partition image without ``root_size_gb`` then fills it (less
        1 GiB) instead of the node's ``local_gb``.
    """
    image = instance.image
    info = {'image_source': image['href'],
            'image_type': images.image_type(image),
            'display_name': instance.hostname}
    if image.get('checksum'):
        info['image_checksum'] = image['checksum']
    capabilities = {'boot_option': 'local'}
    if instance.capabilities.get('boot_mode'):
        capabilities['boot_mode'] = instance.capabilities['boot_mode']
    info['capabilities'] = capabilities
    if not images.is_whole_disk(image):
        info['kernel'] = image['kernel']
        info['ramdisk'] = image['ramdisk']
        root_gb = instance.root_size_gb
        if not root_gb and disk is not None:
            root_gb = int(root_device.size_gib(disk)) - 1
        if not root_gb:
            local_gb = int((node.properties or {}).get('local_gb') or 0)
            if local_gb < 2:
                raise exceptions.InvalidInput(
                    '%s: node %s reports local_gb %r, so the root partition '
                    'size cannot be derived; set root_size_gb'
                    % (instance.hostname, labels.node_label(node),
                       local_gb))
            root_gb = local_gb - 1
        info['root_gb'] = root_gb
    elif instance.root_size_gb:
        info['root_gb'] = instance.root_size_gb
    if instance.swap_size_mb:
        info['swap_mb'] = instance.swap_size_mb
    if instance.traits:
        info['traits'] = list(instance.traits)
    return info


def vif_ports(instance):
    """Port ids to attach, ctlplane first, then networks marked ``vif``."""
    ports = []
    network_ports = instance.network_ports
    ctlplane = (instance.ctlplane_port.id if instance.ctlplane_port
                else network_ports.get('ctlplane'))
    if ctlplane:
        ports.append(ctlplane)
    for network in instance.networks:
        port_id = network.port or network_ports.get(network.network)
        if network.vif and port_id and port_id not in ports:
            ports.append(port_id)
    return ports


def _check_reserved(instance, node, allocation_id):
    """Raise unless ``node`` is reserved for ``instance``."""
    hostname = instance.hostname
    if not node.allocation_id or (allocation_id
                                  and node.allocation_id != allocation_id):
        raise exceptions.DeployError(
            '%s: node %s is not reserved for this instance (its allocation '
            'is %s, expected %s); refusing to touch it'
            % (hostname, labels.node_label(node), node.allocation_id,
               allocation_id))


def _check_deployable(instance, node):
    """Raise unless our reserved ``node`` can take a deploy now."""
    hostname = instance.hostname
    if node.is_maintenance:
        raise exceptions.DeployError(
            '%s: node %s is in maintenance (reason: %s)'
            % (hostname, labels.node_label(node), node.maintenance_reason or
               'none given'))
    if node.provision_state != states.AVAILABLE:
        raise exceptions.DeployError(
            '%s: node %s is in provision state %r, expected available'
            % (hostname, labels.node_label(node), node.provision_state))


def _deploy_started(node):
    """Whether a deploy of ``node`` was requested and has not failed."""
    return (node.provision_state in states.DEPLOY_IN_PROGRESS
            or node.provision_state == states.ACTIVE
            or (node.provision_state == states.AVAILABLE
                and node.target_provision_state == states.ACTIVE))


def _attach_vifs(conn, node, port_ids, attached):
    for port_id in port_ids:
        try:
            api.retry(conn.baremetal.attach_vif_to_node, node, port_id,
                      retry_on_conflict=False,
                      what='attaching VIF %s to %s' % (port_id, node.id))
        except sdk_exc.ConflictException as exc:
            # Already attached here (a re-run, or a retry of a request
            # whose answer was lost) is fine; elsewhere is not.
            if api.is_locked(exc) or port_id not in api.retry(
                    conn.baremetal.list_node_vifs, node):
                raise
            continue
        attached.append(port_id)


def _undo(conn, node, instance, attached, info_keys, allocation_id):
    """Best-effort rollback of what ``deploy_node`` wrote."""
    hostname = instance.hostname
    for port_id in attached:
        try:
            api.retry(conn.baremetal.detach_vif_from_node, node, port_id,
                      what='detaching VIF %s' % port_id)
        except api.ERRORS as exc:
            LOG.warning('%s: could not detach VIF %s from node %s: %s',
                        hostname, port_id, node.id, api.describe(exc))
    if info_keys:
        try:
            # Key by key, so that what the allocation wrote (traits) stays.
            api.retry(conn.baremetal.patch_node, node.id, [
                {'op': 'remove', 'path': '/instance_info/%s' % key}
                for key in sorted(info_keys)],
                what='clearing instance_info of %s' % node.id)
        except sdk_exc.BadRequestException:
            # A retry of a request whose answer was lost: nothing left.
            LOG.debug('%s: instance_info of node %s already cleared',
                      hostname, node.id)
        except api.ERRORS as exc:
            LOG.warning('%s: could not clear instance_info of node %s: %s',
                        hostname, node.id, api.describe(exc))
    if allocation_id:
        try:
            api.retry(conn.baremetal.delete_allocation, allocation_id,
                      ignore_missing=True,
                      what='deleting allocation %s' % allocation_id)
        except api.ERRORS as exc:
            LOG.warning('%s: could not release allocation %s of node %s: %s',
                        hostname, allocation_id, node.id, api.describe(exc))


def _nic_ports(conn, node, ports, nics=None):
    """The node's NICs (ports and port groups), and ``ports`` with MACs.

    The Ironic port or port group (bond) carrying a VIF gives its MAC
    (``network_data`` prefers it). A port Ironic has no record of (the
    ``noop`` network interface stores no VIF) keeps its MAC only when it
    is one of the node's NICs; otherwise it takes the MAC of a NIC no
    other port uses, in the order Ironic lists them: a MAC Neutron made
    up matches no NIC and cloud-init would configure nothing.
    """
    if nics is None:
        nics = [nic.to_dict() for nic in conn.baremetal.ports(
            node=node.id, details=True)]
        nics += [group.to_dict() for group in
                 conn.baremetal.port_groups(node=node.id, details=True)]
    carried = network_data_mod.vif_macs(nics)
    own = {(port.mac_address or '').lower() for port in ports}
    spare = [nic['address'].lower() for nic in nics if nic.get('address')
             and nic['address'].lower() not in carried.values()
             and nic['address'].lower() not in own]
    result = []
    for port in ports:
        mac = (port.mac_address or '').lower()
        known = any((nic.get('address') or '').lower() == mac
                    for nic in nics)
        if port.id not in carried and not known and spare:
            port = dataclasses.replace(port, mac_address=spare.pop(0))
        result.append(port)
    return nics, result


def _request_active(conn, node, configdrive, steps=()):
    """Ask Ironic to deploy ``node`` with ``configdrive``: one request.

    Ironic validates the node's power, boot and deploy interfaces first
    and refuses an invalid node with HTTP 400 (see ``_refusal``).

    :param steps: deploy steps to run with it (API 1.69).
    """
    extra = {'deploy_steps': list(steps)} if steps else {}
    api.set_provision_state(conn, node.id, states.ACTIVE,
                            what='deploy of node %s' % node.id,
                            configdrive=configdrive, **extra)


#: ``instance_info`` keys Ironic itself writes while it validates a
#: deploy request (kept even when it refuses the request).
DERIVED_INFO_KEYS = frozenset(['image_type', 'image_disk_format',
                               'image_url'])


def _derived(conn, node, info):
    """``info`` plus the derived keys Ironic wrote, to roll them back too.

    Only after a refused provision request: one more read of the node.
    """
    current = _read_back(conn, node.id)
    present = set((current.instance_info or {}) if current else ())
    return dict(info, **{key: None for key in DERIVED_INFO_KEYS & present
                         if key not in info})


def _refusal(instance, node, exc):
    """The error to report when the provision request failed with ``exc``.

    HTTP 400 is Ironic's validation of the node's interfaces (the
    separate ``validate`` request it replaces cost one more request per
    node).
    """
    if isinstance(exc, sdk_exc.BadRequestException):
        return exceptions.DeployError(
            '%s: node %s failed validation for the deploy: %s'
            % (instance.hostname, labels.node_label(node),
               api.describe(exc)))
    return exc


def _started_elsewhere(conn, node, exc):
    """The node read back, if its deploy is under way despite ``exc``.

    A write of ours may fail because the deploy is already under way on
    the same reservation: our provision request arrived but its answer
    was lost, or another run of the same request got there first (its
    deploy makes Ironic refuse our instance_info update with 409). Such a
    node must not be rolled back: that would undo the other run's deploy.
    """
    if not isinstance(exc, api.ERRORS):
        return None
    current = _read_back(conn, node.id)
    if (current is None or current.allocation_id != node.allocation_id
            or not _deploy_started(current)):
        return None
    LOG.info('Deploy of node %s is under way although a request of this '
             'run failed: %s', node.id, api.describe(exc))
    return current


def _read_back(conn, node_id, timeout=30.0):
    """The node once its conductor lock is released (None if unreadable).

    A request whose answer was lost may still be running in the
    conductor, which holds the node's lock until it is done.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            node = api.retry(conn.baremetal.get_node, node_id,
                             what='reading node %s' % node_id)
        except api.ERRORS as exc:
            LOG.warning('Cannot read node %s back: %s', node_id,
                        api.describe(exc))
            return None
        if not node.reservation or time.monotonic() >= deadline:
            return node
        time.sleep(0.2)


def _drive_ports(instance):
    """The ports whose network data goes on ``instance``'s config drive."""
    ctlplane = instance.ctlplane_port
    if not instance.ports and ctlplane and ctlplane.fixed_ips and \
            ctlplane.subnets:
        return [ctlplane]
    return list(instance.ports or ())


def needs_nics(instance):
    """Whether building ``instance``'s drive reads its node's NICs."""
    return bool(_drive_ports(instance))


def build_drive(conn, instance, node, ssh_keys=(), user_name=None,
                stackname=None, options=None, network_data=None,
                user_data=None, vendor_data=None, nics=None):
    """Build the config drive of ``instance`` for ``node`` (an SDK node).

    The network data comes from the instance's ports (complete ports, or
    Heat's ctlplane port when it carries fixed IPs and subnets) and the
    node's NICs (``nics``, as ``known.list_nics`` gives them, else read
    here),
    unless ``network_data`` is given.

    :returns: ``configdrive.build_configdrive``'s result.
    """
    options = options or baremetal_conf.get_conf()
    if network_data is None:
        ports = _drive_ports(instance)
        if ports:
            nics, ports = _nic_ports(conn, node, ports, nics)
            network_data = network_data_mod.build_network_data(
                ports, ironic_ports=nics)
    return config_drive.build_configdrive(
        instance, node.id, ssh_keys=ssh_keys, user_name=user_name,
        network_data=network_data, user_data=user_data,
        vendor_data=vendor_data, stackname=stackname,
        ca_file=options.config_drive_ca_file)


def deploy_node(conn, instance, reservation, configdrive=None,
                ssh_keys=(), user_name=None, stackname=None, conf=None,
                node=None, nics=None):
    """Start deploying ``instance`` on its reserved node.

    Safe to run again for the same reservation: a node whose deploy is
    already under way or done is returned as it is, without a write (an
    interrupted run resumed, or two runs of one request at once).

    :param instance: a ``model.Instance``, with ``config_drive`` (which
        only this function reads, to build the drive) unless
        ``configdrive`` is given.
    :param reservation: its ``model.Reservation``; when it names an
        allocation, the node must carry exactly that allocation.
    :param configdrive: a packed config drive; built here when None.
    :param node: what the caller knows of the node (a ``known.node``
        snapshot), when it has just reserved it: the node is not read.
    :param nics: the node's NICs (``known.list_nics``), not read again.
    :returns: a ``model.Deployment`` (instance without ``config_drive``,
        reservation as Ironic holds it, ``attached_vifs``).
    :raises: InvalidInput or DeployError; the node is released first.
    """
    options = baremetal_conf.get_conf(conf)
    if node is not None:
        node = known.node(node)
        _check_reserved(instance, node, reservation.allocation)
    else:
        node = _read_reserved(conn, instance, reservation)
    if _deploy_started(node):
        LOG.info('%s: node %s is already %s', instance.hostname,
                 labels.node_label(node), node.provision_state)
        return _deploying(instance, node, [])
    if node.provision_state in states.DEPLOY_FAILED:
        _fail_earlier_deploy(conn, instance, node)
    try:
        check_image(instance, options.check_local_images,
                    allowed_paths=options.file_url_allowed_paths)
        _check_deployable(instance, node)
    except exceptions.BaremetalError:
        _undo(conn, node, instance, [], (), node.allocation_id)
        raise
    return _start(conn, instance, node, configdrive, options,
                  dict(ssh_keys=ssh_keys, user_name=user_name,
                       stackname=stackname, nics=nics))


def _read_reserved(conn, instance, reservation):
    """The SDK node of ``reservation``, checked to be reserved for us."""
    try:
        node = api.retry(conn.baremetal.get_node, reservation.node,
                         what='reading node %s' % reservation.node)
    except api.ERRORS as exc:
        raise exceptions.DeployError('%s: cannot read node %s: %s' % (
            instance.hostname, reservation.node_label, api.describe(exc)))
    _check_reserved(instance, node, reservation.allocation)
    return node


def _start(conn, instance, node, configdrive, options, drive_args):
    """The writes of a deploy, rolled back when one of them fails."""
    attached = []
    info = {}
    settings = node_settings.Settings()
    requested = False
    try:
        settings = node_settings.plan(conn, instance, node)
        info = instance_info_for(instance, node, settings.disk)
        if settings.record:
            info[node_settings.SAVED_KEY] = settings.record
        api.retry(conn.baremetal.patch_node, node.id, [
            {'op': 'add', 'path': '/instance_info/%s' % key, 'value': value}
            for key, value in sorted(info.items())] + list(settings.ops),
            what='setting instance_info of %s' % node.id)
        if settings.raid_config:
            node_settings.set_raid(conn, node.id, settings.raid_config)
        _attach_vifs(conn, node, vif_ports(instance), attached)
        if configdrive is None:
            configdrive = build_drive(conn, instance, node, options=options,
                                      **drive_args)['configdrive']
        requested = True
        _request_active(conn, node, configdrive, deploy_steps.steps_to_send(
            instance.deploy_steps, instance.raid_config))
    except Exception as exc:
        current = _started_elsewhere(conn, node, exc)
        if current is not None:
            return _deploying(instance, current, attached)
        if requested:
            info, exc = _derived(conn, node, info), _refusal(instance, node,
                                                             exc)
        if info:
            node_settings.restore(conn, node.id, settings.record)
        _roll_back(conn, instance, node, attached, info, exc)
    LOG.info('%s: deploying on node %s', instance.hostname,
             labels.node_label(node))
    return _deploying(instance, node, attached)


def _roll_back(conn, instance, node, attached, info, exc):
    """Undo a failed deploy's writes; raise the reason as DeployError."""
    label = labels.node_label(node)
    LOG.error('%s: deploy of node %s failed, releasing it: %s',
              instance.hostname, label, error_text(exc))
    keys = set(info) - {'traits'} if info else set()
    _undo(conn, node, instance, attached, keys, node.allocation_id)
    if isinstance(exc, exceptions.BaremetalError):
        raise exc
    raise exceptions.DeployError('%s: deploy of node %s failed: %s'
                                 % (instance.hostname, label, error_text(exc)))


def error_text(exc):
    """An API error as ``api.describe`` has it, any other one as it reads."""
    return api.describe(exc) if isinstance(exc, api.ERRORS) else str(exc)


def _fail_earlier_deploy(conn, instance, node):
    """Our reserved node failed a deploy: undeploy it, which releases it."""
    message = ('%s: node %s failed an earlier deploy (%s): %s; it is being '
               'undeployed, a re-run picks another node'
               % (instance.hostname, labels.node_label(node),
                  node.provision_state, node.last_error or 'no error'))
    node_settings.restore_node(conn, node)
    try:
        api.set_provision_state(conn, node.id, states.DELETED)
    except api.ERRORS as exc:
        message += ' (undeploy refused: %s)' % api.describe(exc)
    raise exceptions.DeployError(message)


def _deploying(instance, node, attached):
    """The deployment of ``instance`` started on ``node``."""
    return model.Deployment(
        instance=instance.without_secrets(),
        reservation=model.Reservation.from_node(instance.hostname, node),
        attached_vifs=attached)
