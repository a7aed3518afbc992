"""Did the deploy steps we asked for run? Ask the node's history.

Ironic drops a requested deploy step that no interface of the node
offers without an error: it logs "not currently known ... delaying its
validation until in-band steps are loaded" at DEBUG and the node still
reaches ``active``, e.g. without the RAID it was meant to build. The
node's history (``GET /v1/nodes/{id}/history``, API 1.78) records each
deploy's steps: its ``deployment_end`` event reads "Deployment completed
successfully with steps=[{...}, ...]". ``missing_steps`` compares that
list with what was requested.

When the history holds no deployment record (``[conductor]
node_history`` or ``record_step_flows_in_history`` off), nothing can be
told: the caller warns and accepts the node.
"""

import ast
import logging

from openstack import exceptions as sdk_exc

from tripleo_baremetal import api
from tripleo_baremetal.request import deploy_steps

LOG = logging.getLogger(__name__)

HISTORY_MICROVERSION = '1.78'

#: Event types of a deploy's step list, the most telling first.
_EVENT_TYPES = ('deployment_end', 'deployment_start')

_MARKER = 'with steps='


def steps_of(history):
    """``{(interface, step)}`` that ran in the latest deploy, or None.

    :param history: the ``history`` list of the API's answer (detailed:
        each entry has ``event_type``, ``event`` and ``created_at``).
    :returns: None when no entry records a deploy's steps.
    """
    for event_type in _EVENT_TYPES:
        entries = sorted((entry for entry in history or ()
                          if entry.get('event_type') == event_type),
                         key=lambda entry: entry.get('created_at') or '')
        for entry in reversed(entries):
            steps = _parse(entry.get('event') or '')
            if steps is not None:
                return {(step.get('interface'), step.get('step'))
                        for step in steps if isinstance(step, dict)}
    return None


def _parse(event):
    """The step list of an event text (a Python repr), or None."""
    start = event.find(_MARKER)
    if start < 0:
        return None
    try:
        steps = ast.literal_eval(event[start + len(_MARKER):].strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return steps if isinstance(steps, list) else None


def read_history(conn, node_id):
    """The node's detailed history entries (one request)."""
    def send():
        response = conn.baremetal.get(
            'nodes/%s/history?detail=True' % node_id,
            microversion=HISTORY_MICROVERSION)
        sdk_exc.raise_from_response(
            response, error_message='reading the history of %s' % node_id)
        return response.json().get('history') or []
    return api.retry(send, what='reading the history of node %s' % node_id)


def missing_steps(conn, instance, node_id):
    """Requested steps of ``instance`` that did not run on ``node_id``.

    :returns: ``[(interface, step)]``, empty when all ran, when nothing
        was requested or when the history cannot tell (warned).
    """
    wanted = deploy_steps.requested(instance.deploy_steps,
                                    instance.raid_config)
    if not wanted:
        return []
    try:
        ran = steps_of(read_history(conn, node_id))
    except api.ERRORS as exc:
        LOG.warning('%s: cannot read the history of node %s to check that '
                    'deploy steps %s ran: %s', instance.hostname, node_id,
                    _names(wanted), api.describe(exc))
        return []
    if ran is None:
        LOG.warning('%s: the history of node %s records no deploy, so '
                    'whether deploy steps %s ran is unknown (enable '
                    '[conductor] node_history and '
                    'record_step_flows_in_history in Ironic)',
                    instance.hostname, node_id, _names(wanted))
        return []
    return [name for name in wanted if name not in ran]


def _names(steps):
    return ', '.join('%s.%s' % name for name in steps)


def describe_missing(hostname, node_label, missing):
    """The failure text of a deploy that skipped requested steps."""
    return ('%s: node %s is active but requested deploy step(s) %s did not '
            'run: no interface of the node offers them (Ironic skips such '
            'steps silently); check the node\'s %s interface(s)'
            % (hostname, node_label, _names(missing),
               ', '.join(sorted({interface for interface, _ in missing}))))
