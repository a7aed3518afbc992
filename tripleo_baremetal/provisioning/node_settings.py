"""Node settings a deploy changes beyond ``instance_info``, and their undo.

An instance with ``root_device`` gets the hint naming its chosen disk in
the node's ``properties/root_device``; one with ``raid_config`` gets the
node's target RAID configuration (``PUT /v1/nodes/{id}/states/raid``,
API 1.12: it cannot be PATCHed). Both outlive the deploy in Ironic, so
what the node had before is saved in its ``instance_info`` under
``SAVED_KEY`` (written in the same PATCH as the rest of
``instance_info``) and put back before the node is undeployed or rolled
back: tear-down clears ``instance_info``, so the restore must come
first. The same record marks an adopted server (``adopted``), which an
undeploy only touches when asked explicitly.
"""

import copy
import dataclasses
import logging
import typing

from openstack import exceptions as sdk_exc

from tripleo_baremetal import api
from tripleo_baremetal.common import images
from tripleo_baremetal.common import root_device as root_device_mod
from tripleo_baremetal import exceptions
from tripleo_baremetal import labels

LOG = logging.getLogger(__name__)

#: The ``instance_info`` key of our record.
SAVED_KEY = 'tripleo_baremetal'

#: Ironic API version of the RAID call.
RAID_MICROVERSION = '1.12'


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a deploy sets on a node besides instance_info.

    ``ops`` are JSON patch operations (``properties/root_device``),
    ``raid_config`` the target RAID config to PUT (or None), ``disk`` the
    chosen root disk (or None) and ``record`` the ``SAVED_KEY`` value
    (None when nothing needs saving).
    """

    ops: typing.Tuple[dict, ...] = ()
    raid_config: typing.Optional[dict] = None
    disk: typing.Optional[root_device_mod.Disk] = None
    record: typing.Optional[dict] = None


def read_disks(conn, hostname, node):
    """The inspected disks of ``node``; DeployError when there are none."""
    try:
        data = api.retry(conn.baremetal.get_node_inventory, node.id,
                         what='reading the inventory of node %s' % node.id)
    except sdk_exc.NotFoundException:
        raise exceptions.DeployError(
            '%s: node %s has no inspection inventory, so root_device cannot '
            'be resolved; inspect the node first'
            % (hostname, labels.node_label(node)))
    except api.ERRORS as exc:
        raise exceptions.DeployError(
            '%s: cannot read the inventory of node %s: %s'
            % (hostname, labels.node_label(node), api.describe(exc)))
    return root_device_mod.disks(data)


def root_size_needed(instance):
    """The root partition size the chosen disk must hold, or None."""
    if images.is_whole_disk(instance.image):
        return None
    return instance.root_size_gb or 1


def plan(conn, instance, node):
    """The ``Settings`` of ``instance`` on ``node`` (an SDK node).

    Reads the node's inventory (one request) only when the instance sets
    ``root_device``.

    :raises: DeployError when no disk of the node matches (the picker
        checked it; the inventory may have changed since).
    """
    saved, ops, disk = {}, [], None
    if instance.root_device:
        disks = read_disks(conn, instance.hostname, node)
        disk, reason = root_device_mod.choose(
            instance.root_device, disks, root_size_needed(instance))
        if disk is None:
            raise exceptions.DeployError('%s: node %s: %s (%s)' % (
                instance.hostname, labels.node_label(node), reason[0],
                reason[1]))
        hint = root_device_mod.stable_hint(disk, disks)
        if 'name' in hint:
            LOG.warning('%s: disk %s of node %s has no WWN, serial or '
                        'by-path id; its device name is used as the root '
                        'device hint, which may change between boots',
                        instance.hostname, disk.name,
                        labels.node_label(node))
        properties = node.properties or {}
        saved['root_device'] = copy.deepcopy(properties.get('root_device'))
        ops.append({'op': 'add', 'path': '/properties/root_device',
                    'value': hint})
    if instance.raid_config:
        saved['target_raid_config'] = copy.deepcopy(
            _target_raid_config(conn, node))
    record = {'saved': saved} if saved else None
    return Settings(ops=tuple(ops), raid_config=instance.raid_config,
                    disk=disk, record=record)


def _target_raid_config(conn, node):
    """The node's current target RAID config (``{}``: none).

    A full node carries it; a snapshot (``known.node``) does not: one
    read then.
    """
    current = getattr(node, 'target_raid_config', None)
    if current is None:
        current = api.retry(
            conn.baremetal.get_node, node.id, fields=['target_raid_config'],
            what='reading the target RAID config of %s' % node.id,
        ).target_raid_config
    return current or {}


def set_raid(conn, node_id, raid_config, what=None):
    """Set ``node_id``'s target RAID config: one PUT (no SDK call)."""
    what = what or 'setting the target RAID config of node %s' % node_id

    def send():
        response = conn.baremetal.put(
            'nodes/%s/states/raid' % node_id, json=raid_config,
            microversion=RAID_MICROVERSION)
        sdk_exc.raise_from_response(response, error_message=what)
    api.retry(send, what=what)


def record_of(node):
    """Our ``SAVED_KEY`` record on an SDK node (``{}`` when none)."""
    record = (getattr(node, 'instance_info', None) or {}).get(SAVED_KEY)
    return record if isinstance(record, dict) else {}


def is_adopted(node):
    """Whether ``node`` runs a server this tool adopted, never deployed."""
    return bool(record_of(node).get('adopted'))


def restore_node(conn, node):
    """``restore`` what the record in ``node``'s instance_info says.

    For every path that tears a node down or clears its instance_info:
    afterwards, the record of what to put back is gone.
    """
    return restore(conn, node.id, record_of(node))


def restore(conn, node_id, record):
    """Put back what ``record['saved']`` says the node had (best effort).

    :returns: the problems, as sentences (empty when all went back).
    """
    saved = (record or {}).get('saved') or {}
    problems = []
    if 'root_device' in saved:
        previous = saved['root_device']
        op = ({'op': 'remove', 'path': '/properties/root_device'}
              if previous is None else
              {'op': 'add', 'path': '/properties/root_device',
               'value': previous})
        try:
            api.retry(conn.baremetal.patch_node, node_id, [op],
                      what='restoring the root device of %s' % node_id)
        except sdk_exc.BadRequestException:
            # Removing a hint that is already gone: nothing to restore.
            LOG.debug('Node %s has no root device hint left', node_id)
        except api.ERRORS as exc:
            problems.append('cannot restore properties/root_device of node '
                            '%s: %s' % (node_id, api.describe(exc)))
    if 'target_raid_config' in saved:
        try:
            set_raid(conn, node_id, saved['target_raid_config'] or {},
                     what='restoring the target RAID config of %s'
                     % node_id)
        except api.ERRORS as exc:
            problems.append('cannot restore the target RAID config of node '
                            '%s: %s' % (node_id, api.describe(exc)))
    for problem in problems:
        LOG.warning('%s', problem)
    return problems
