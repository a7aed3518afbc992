"""Wait for deploys to finish, with one node listing per poll.

The wait returns as soon as every node is ``active``, or as soon as the
failures exceed what ``max_fail_percentage`` tolerates. Failed nodes are
undeployed (which also releases their allocations) so nothing stays
reserved for a server that will not come up. When the run fails, nodes
still deploying are left to finish and are reported: a re-run finds them
as existing instances instead of deploying them twice.
"""

import logging

from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal.provisioning import polling
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)

FAILED_STATES = states.DEPLOY_FAILED


def _describe(instance, node):
    if node is None:
        return '%s: node %s is gone' % (instance['hostname'],
                                        instance['node'])
    return '%s: node %s is %s: %s' % (instance['hostname'],
                                      polling.node_label(node),
                                      node.provision_state,
                                      node.last_error or 'no error recorded')


def _release_failed(conn, failed):
    """Undeploy failed nodes: tear-down also drops their allocations."""
    for instance in failed:
        try:
            api.set_provision_state(conn, instance['node'], 'deleted')
        except api.ERRORS as exc:
            # A re-run finds the node failed and undeploys it then.
            LOG.warning('%s: could not undeploy failed node %s: %s',
                        instance['hostname'], instance['node'],
                        api.describe(exc))


def wait_for_deploy(conn, instances, timeout=None, max_fail_percentage=0,
                    conf=None, on_change=None, not_started=()):
    """Wait until ``instances`` (with ``node`` set) are deployed.

    :param max_fail_percentage: share of instances (0-100) allowed to fail
        while the run still counts as a success; the share is of
        ``instances`` and ``not_started`` together.
    :param not_started: instances (with ``hostname`` and ``error``) whose
        deploy could not even start; they count as failures and are
        listed in ``failed``.
    :param on_change: optional ``on_change(instance, node)`` called when a
        node's provision state changes (progress display).
    :returns: ``{'instances': [active...], 'failed': [...]}``; each failed
        entry carries ``error`` (Ironic's ``last_error``).
    :raises: DeployError naming every failed node when the failures exceed
        the tolerance, or when the timeout passes.
    """
    options = baremetal_conf.get_conf(conf)
    timeout = timeout or options.deploy_timeout
    by_node = {inst['node']: inst for inst in instances}
    not_started = [dict(inst) for inst in not_started]
    total = len(instances) + len(not_started)
    allowed = int(total * (max_fail_percentage or 0) / 100)
    last_state = {}

    def is_done(nodes):
        seen = {}
        for node_id, instance in by_node.items():
            node = nodes.get(node_id)
            state = node.provision_state if node else None
            seen[node_id] = state
            if on_change and last_state.get(node_id) != state:
                on_change(instance, node)
        last_state.update(seen)
        failed = [n for n, state in seen.items()
                  if state in FAILED_STATES or state is None]
        if len(failed) + len(not_started) > allowed:
            return True
        return all(state == states.ACTIVE or state in FAILED_STATES
                   or state is None for state in seen.values())

    if by_node:
        nodes, done = polling.poll_nodes(
            conn, list(by_node), is_done, timeout,
            interval=options.poll_interval,
            max_interval=options.poll_interval_max)
    else:
        nodes, done = {}, True

    active, failed, pending = [], [], []
    for node_id, instance in by_node.items():
        node = nodes.get(node_id)
        state = node.provision_state if node else None
        entry = dict(instance, provision_state=state)
        if state == states.ACTIVE:
            active.append(entry)
        elif state in FAILED_STATES or node is None:
            entry['error'] = _describe(instance, node)
            failed.append(entry)
        else:
            pending.append((entry, node))

    _release_failed(conn, [inst for inst in failed if inst['provision_state']])
    failed = not_started + failed
    if not done:
        raise exceptions.DeployError(
            'timed out after %ss waiting for %d of %d node(s): %s%s'
            % (timeout, len(pending), total,
               '; '.join(_describe(inst, node) for inst, node in pending),
               ''.join('; %s' % inst['error'] for inst in failed)))
    if len(failed) > allowed:
        raise exceptions.DeployError(
            '%d of %d deploy(s) failed (max_fail_percentage %s allows %d); '
            'failed nodes were undeployed and released: %s'
            % (len(failed), total, max_fail_percentage or 0,
               allowed, '; '.join(inst['error'] for inst in failed)))
    for inst in failed:
        LOG.warning('Tolerated failure: %s', inst['error'])
    return {'instances': active, 'failed': failed}
