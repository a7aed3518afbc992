"""Adopt running servers: Ironic takes them over as they run.

An instance with ``adopt: true`` names (``name``) a node enrolled with
its running operating system and left ``manageable``: after a move off
Nova's bare metal driver, or after Ironic's database was rebuilt. Its
server must never be lost, so adoption sets the node's ``instance_info``
(the image it runs, ``display_name``, and our record marking it
adopted) and requests ``adopt`` (``manageable -> adopting -> active``):
the deploy interface takes the node over without a power action,
cleaning or a new image. The caller then backfills its allocation,
named after the hostname, like any active node found without one.

Requests per node: one read (the node's properties, for partition
images), one ``instance_info`` PATCH and the ``adopt`` request; one
node listing per poll for all of them. A failed adoption (``adopt
failed``) is reported with Ironic's ``last_error`` and the node is left
exactly as it is, for the operator: no rollback, which could touch the
running server. A re-run adopts it again (Ironic allows ``adopt`` from
``adopt failed``), e.g. once the operator fixed the image reference.
"""

import logging

from tripleo_baremetal import api
from tripleo_baremetal import exceptions
from tripleo_baremetal import labels
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import node_settings
from tripleo_baremetal.provisioning import polling
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)


def _request(conn, instance, node):
    """Set ``instance_info`` and request ``adopt``.

    :returns: ``(requested, error)``: whether the ``adopt`` request went
        out (its answer may be lost although it took effect: the poll
        tells), and the error text, if any.
    """
    label = labels.node_label(node)
    try:
        full = api.retry(conn.baremetal.get_node, node.id,
                         what='reading node %s' % node.id)
        info = deploy.instance_info_for(instance, full)
        info[node_settings.SAVED_KEY] = {'adopted': True}
        api.retry(conn.baremetal.patch_node, node.id, [
            {'op': 'add', 'path': '/instance_info/%s' % key, 'value': value}
            for key, value in sorted(info.items())],
            what='setting instance_info of %s' % node.id)
    except (exceptions.BaremetalError, *api.ERRORS) as exc:
        return False, '%s: adoption of node %s could not start: %s' % (
            instance.hostname, label, deploy.error_text(exc))
    try:
        api.set_provision_state(conn, node.id, states.ADOPT,
                                what='adoption of node %s' % node.id)
    except api.ERRORS as exc:
        return True, '%s: Ironic refused the adoption of node %s: %s' % (
            instance.hostname, label, api.describe(exc))
    LOG.info('%s: adopting the server running on node %s',
             instance.hostname, label)
    return True, None


def adopt_nodes(conn, items, timeout, options):
    """Adopt each ``(instance, node)`` of ``items`` (SDK nodes).

    Nodes already ``adopting`` are only waited for.

    :returns: ``(adopted, failed)``: ``[(instance, node)]`` of nodes now
        ``active``, and ``[(instance, message)]`` of the others (the node
        left as it is).
    """
    failed, waiting, refused = [], {}, {}
    for instance, node in items:
        if node.provision_state != states.ADOPTING:
            requested, error = _request(conn, instance, node)
            if not requested:
                failed.append((instance, error))
                continue
            if error:
                refused[node.id] = error
        waiting[node.id] = instance
    nodes = {}
    if waiting:
        nodes, _done = polling.poll_nodes(
            conn, list(waiting),
            lambda nodes: all(n.provision_state != states.ADOPTING
                              for n in nodes.values()),
            timeout, interval=options.poll_interval,
            max_interval=options.poll_interval_max)
    adopted = []
    for node_id, instance in waiting.items():
        node = nodes.get(node_id)
        if node is not None and node.provision_state == states.ACTIVE:
            adopted.append((instance, node))
        elif node_id in refused and node is not None and \
                node.provision_state in states.ADOPTABLE:
            # Still where it was: the refusal stands.
            failed.append((instance, refused[node_id] + '; the node is '
                           'left as it is'))
        else:
            failed.append((instance, _failure(instance, node_id, node,
                                              timeout)))
    for _instance, message in failed:
        LOG.error('%s', message)
    return adopted, failed


def _failure(instance, node_id, node, timeout):
    if node is None:
        return '%s: node %s is gone' % (instance.hostname, node_id)
    label = labels.node_label(node)
    if node.provision_state == states.ADOPTING:
        return ('%s: node %s is still adopting after %ss; a re-run waits '
                'for it' % (instance.hostname, label, timeout))
    return ('%s: adoption of node %s failed (%s): %s; the node is left as '
            'it is (its server is not touched): fix the cause, e.g. the '
            'image, and run again' % (
                instance.hostname, label, node.provision_state,
                node.last_error or 'no error recorded'))
