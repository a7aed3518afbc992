"""Wait for deploys to finish, with one node listing per poll.

The wait returns as soon as every node is ``active``, or as soon as the
failures exceed what ``max_fail_percentage`` tolerates. Failed nodes are
undeployed (which also releases their allocations) so nothing stays
reserved for a server that will not come up. When the run fails, nodes
still deploying are left to finish and are reported: a re-run finds them
as existing instances instead of deploying them twice.
"""

import logging

from openstack import exceptions as sdk_exc

from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal import polling

LOG = logging.getLogger(__name__)

FAILED_STATES = frozenset(['deploy failed', 'error'])


def _describe(instance, node):
    if node is None:
        return '%s: node %s is gone' % (instance['hostname'],
                                        instance['node'])
    return '%s: node %s is %s: %s' % (instance['hostname'],
                                      polling.node_label(node),
                                      node.provision_state,
                                      node.last_error or 'no error recorded')


def _release_failed(conn, failed):
    for instance in failed:
        try:
            conn.baremetal.set_node_provision_state(instance['node'],
                                                    'deleted')
        except sdk_exc.SDKException as exc:
            LOG.warning('%s: could not undeploy failed node %s: %s',
                        instance['hostname'], instance['node'], exc)


def wait_for_deploy(conn, instances, timeout=None, max_fail_percentage=0,
                    conf=None, on_change=None):
    """Wait until ``instances`` (with ``node`` set) are deployed.

    :param max_fail_percentage: share of instances (0-100) allowed to fail
        while the run still counts as a success.
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
    allowed = int(len(instances) * (max_fail_percentage or 0) / 100)
    last_state = {}

    def is_done(nodes):
        states = {}
        for node_id, instance in by_node.items():
            node = nodes.get(node_id)
            state = node.provision_state if node else None
            states[node_id] = state
            if on_change and last_state.get(node_id) != state:
                on_change(instance, node)
        last_state.update(states)
        failed = [n for n, state in states.items()
                  if state in FAILED_STATES or state is None]
        if len(failed) > allowed:
            return True
        return all(state == 'active' or state in FAILED_STATES
                   or state is None for state in states.values())

    nodes, done = polling.poll_nodes(
        conn, list(by_node), is_done, timeout,
        interval=options.poll_interval,
        max_interval=options.poll_interval_max)

    active, failed, pending = [], [], []
    for node_id, instance in by_node.items():
        node = nodes.get(node_id)
        state = node.provision_state if node else None
        entry = dict(instance, provision_state=state)
        if state == 'active':
            active.append(entry)
        elif state in FAILED_STATES or node is None:
            entry['error'] = _describe(instance, node)
            failed.append(entry)
        else:
            pending.append((entry, node))

    _release_failed(conn, [inst for inst in failed if inst['provision_state']])
    if not done:
        raise exceptions.DeployError(
            'timed out after %ss waiting for %d of %d node(s): %s%s'
            % (timeout, len(pending), len(instances),
               '; '.join(_describe(inst, node) for inst, node in pending),
               ''.join('; %s' % inst['error'] for inst in failed)))
    if len(failed) > allowed:
        raise exceptions.DeployError(
            '%d of %d deploy(s) failed (max_fail_percentage %s allows %d); '
            'failed nodes were undeployed and released: %s'
            % (len(failed), len(instances), max_fail_percentage or 0,
               allowed, '; '.join(inst['error'] for inst in failed)))
    for inst in failed:
        LOG.warning('Tolerated failure: %s', inst['error'])
    return {'instances': active, 'failed': failed}
