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
from tripleo_baremetal import labels
from tripleo_baremetal.provisioning import node_settings
from tripleo_baremetal.provisioning import polling
from tripleo_baremetal.provisioning import step_history
from tripleo_baremetal import states

LOG = logging.getLogger(__name__)

FAILED_STATES = states.DEPLOY_FAILED


def _describe(deployment, node):
    if node is None:
        return '%s: node %s is gone' % (deployment.hostname,
                                        deployment.node)
    return '%s: node %s is %s: %s' % (deployment.hostname,
                                      labels.node_label(node),
                                      node.provision_state,
                                      node.last_error or 'no error recorded')


def _release_failed(conn, failed, nodes):
    """Undeploy failed nodes: tear-down also drops their allocations.

    The root device hint and target RAID config the deploy set are put
    back first (tear-down clears the record of what the node had).
    """
    for deployment in failed:
        node = nodes.get(deployment.node)
        if node is not None:
            node_settings.restore_node(conn, node)
        try:
            api.set_provision_state(conn, deployment.node, states.DELETED)
        except api.ERRORS as exc:
            # A re-run finds the node failed and undeploys it then.
            LOG.warning('%s: could not undeploy failed node %s: %s',
                        deployment.hostname, deployment.node,
                        api.describe(exc))


def _tolerance(total, max_fail_percentage):
    """How many of ``total`` deploys may fail."""
    return int(total * (max_fail_percentage or 0) / 100)


class _Progress:
    """What the polls saw: the end condition and ``on_change`` calls."""

    def __init__(self, by_node, allowed, failed_before, on_change):
        self.by_node = by_node
        self.allowed = allowed
        self.failed_before = failed_before
        self.on_change = on_change
        self.last_state = {}

    def is_done(self, nodes):
        """Whether every node ended, or failures exceed the tolerance."""
        seen = {}
        for node_id, deployment in self.by_node.items():
            node = nodes.get(node_id)
            seen[node_id] = node.provision_state if node else None
            if self.on_change and \
                    self.last_state.get(node_id) != seen[node_id]:
                self.on_change(deployment, node)
        self.last_state.update(seen)
        failed = [state for state in seen.values()
                  if state in FAILED_STATES or state is None]
        if len(failed) + self.failed_before > self.allowed:
            return True
        return all(state == states.ACTIVE or state in FAILED_STATES
                   or state is None for state in seen.values())


def _sort(by_node, nodes):
    """``(active, failed, pending)`` deployments after the last poll."""
    active, failed, pending = [], [], []
    for node_id, deployment in by_node.items():
        node = nodes.get(node_id)
        state = node.provision_state if node else None
        deployment = deployment.replace(provision_state=state)
        if state == states.ACTIVE:
            active.append(deployment)
        elif state in FAILED_STATES or node is None:
            failed.append(deployment.replace(
                error=_describe(deployment, node)))
        else:
            pending.append((deployment, node))
    return active, failed, pending


def _check_steps(conn, active, nodes):
    """Split ``active`` into those whose requested steps ran, and not.

    One history read per active node that requested deploy steps.
    """
    good, skipped = [], []
    for deployment in active:
        missing = step_history.missing_steps(conn, deployment.instance,
                                             deployment.node)
        if not missing:
            good.append(deployment)
            continue
        node = nodes.get(deployment.node)
        label = labels.node_label(node) if node else deployment.node
        skipped.append(deployment.replace(error=step_history.describe_missing(
            deployment.hostname, label, missing)))
    return good, skipped


def wait_for_deploy(conn, deployments, timeout=None, max_fail_percentage=0,
                    conf=None, on_change=None, not_started=(),
                    existing_count=0):
    """Wait until ``deployments`` (``model.Deployment``) are ``active``.

    :param max_fail_percentage: share of the request (0-100) allowed to
        fail while the run still counts as a success; the share is of
        ``deployments``, ``not_started`` and ``existing_count`` together,
        so that a re-run judges the same failures as the first run did.
    :param existing_count: instances of the request already active.
    :param not_started: deployments (with ``error``) whose deploy could
        not even start; they count as failures and are listed in
        ``failed``.
    :param on_change: optional ``on_change(deployment, node)`` called
        when a node's provision state changes (progress display).
    :returns: ``{'instances': [active deployments], 'failed': [...]}``;
        each failed deployment carries ``error`` (Ironic's
        ``last_error``) and its last ``provision_state``. A node that is
        ``active`` but did not run a deploy step its instance requested
        (its history says so) is a failed deploy too, and is undeployed.
    :raises: DeployError naming every failed node when the failures
        exceed the tolerance; DeployTimeout when the timeout passes.
    """
    options = baremetal_conf.get_conf(conf)
    timeout = timeout or options.deploy_timeout
    by_node = {deployment.node: deployment for deployment in deployments}
    not_started = list(not_started)
    total = len(deployments) + len(not_started) + existing_count
    allowed = _tolerance(total, max_fail_percentage)
    progress = _Progress(by_node, allowed, len(not_started), on_change)
    nodes, done = {}, True
    if by_node:
        nodes, done = polling.poll_nodes(
            conn, list(by_node), progress.is_done, timeout,
            interval=options.poll_interval,
            max_interval=options.poll_interval_max)

    active, failed, pending = _sort(by_node, nodes)
    active, skipped = _check_steps(conn, active, nodes)
    failed += skipped
    _release_failed(conn, [d for d in failed if d.provision_state], nodes)
    failed = not_started + failed
    if not done:
        raise exceptions.DeployTimeout(
            'timed out after %ss waiting for %d of %d node(s): %s%s'
            % (timeout, len(pending), total,
               '; '.join(_describe(d, node) for d, node in pending),
               ''.join('; %s' % d.error for d in failed)))
    if len(failed) > allowed:
        raise exceptions.DeployError(
            '%d of %d deploy(s) failed (max_fail_percentage %s allows %d); '
            'failed nodes were undeployed and released: %s'
            % (len(failed), total, max_fail_percentage or 0,
               allowed, '; '.join(d.error for d in failed)))
    for deployment in failed:
        LOG.warning('Tolerated failure: %s', deployment.error)
    return {'instances': active, 'failed': failed}
