"""The whole deploy sequence in plain Python.

These are the steps the ``deploy_instances`` workflow runs as Mistral
tasks: find what exists (and repair what an earlier run left), reserve
nodes for the rest in one plan, start every deploy concurrently, wait in
bulk.
Having them as functions lets the functional tests, the benchmarks and
scripts drive the same core without a Mistral engine.
"""

from concurrent import futures
import logging

from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.picking import reservation
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import existing
from tripleo_baremetal.provisioning import known
from tripleo_baremetal.provisioning import wait

LOG = logging.getLogger(__name__)


def start_deploys(conn, reservations, instances, concurrency=20,
                  snapshots=None, **kwargs):
    """Run ``deploy_node`` for every reservation, ``concurrency`` at once.

    The NICs of every node whose drive needs them are read first, in one
    listing of ports and one of port groups (``known.list_nics``).

    :param reservations: ``model.Reservation`` of the instances to deploy.
    :param instances: ``model.Instance`` list holding every reserved host.
    :param snapshots: ``{hostname: node snapshot}`` of the nodes
        ``pick_nodes`` has just reserved (they are not read again).
    :returns: ``(deploying, failed)``: ``model.Deployment`` lists, of the
        deploys that started, and of those that did not, each with
        ``error`` (their nodes were released); no instance in them holds
        ``config_drive``.
    """
    by_host = {inst.hostname: inst for inst in instances}
    deploying, failed = [], []
    if not reservations:
        return deploying, failed
    snapshots = snapshots or {}
    nics = known.list_nics(conn, [
        item.node for item in reservations
        if deploy.needs_nics(by_host[item.hostname])])
    with futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        jobs = [(by_host[item.hostname],
                 pool.submit(deploy.deploy_node, conn,
                             by_host[item.hostname], item,
                             node=snapshots.get(item.hostname),
                             nics=nics.get(item.node), **kwargs))
                for item in reservations]
        for instance, job in jobs:
            try:
                deploying.append(job.result())
            except exceptions.BaremetalError as exc:
                failed.append(model.Deployment(
                    instance=instance.without_secrets(), error=str(exc)))
    return deploying, failed


def deploy_instances(conn, instances, concurrency=20, timeout=None,
                     max_fail_percentage=0, on_change=None, **kwargs):
    """Bring every instance to ``active``, whatever an earlier run left.

    Follows the convergence rule (``existing``): deploys that are under
    way are waited for, reservations an interrupted run left are
    deployed, failed nodes are undeployed and replaced, and nodes are
    picked for the rest.

    :param instances: ``model.Instance`` list (with their config drives).
    :param kwargs: passed to ``deploy.deploy_node`` (``ssh_keys``,
        ``user_name``, ``stackname``, ``conf``).
    :returns: ``{'instances', 'new_instances', 'existing_instances',
        'failed', 'repaired'}``: ``model.Deployment`` lists, except
        ``repaired``; ``instances`` are exactly the active ones;
        ``failed`` lists, with ``error``, the tolerated failures, whether
        the deploy did not start or Ironic failed it; ``repaired`` says
        (sentences) what an earlier run left that was cleaned up.
    :raises: PlacementError when no complete plan exists (nothing is
        reserved), DeployError when deploys failed beyond the tolerance,
        InvalidInput or NodeStateError before any write.
    """
    conf = kwargs.get('conf')
    found = existing.check_existing_instances(conn, instances, conf=conf)
    reservations = [item.reservation for item in found['reserved']]
    snapshots = {}
    if found['not_found']:
        picked = reservation.pick_nodes(conn, found['not_found'],
                                        concurrency=concurrency, conf=conf)
        reservations += picked['reservations']
        snapshots = picked['node_snapshots']
    # The instances as check_existing_instances resolved their ports.
    resolved = found['not_found'] + [item.instance
                                     for item in found['reserved']]
    deploying, not_started = start_deploys(
        conn, reservations, resolved, concurrency=concurrency,
        snapshots=snapshots, **kwargs)
    result = wait.wait_for_deploy(
        conn, found['deploying'] + deploying, timeout=timeout,
        max_fail_percentage=max_fail_percentage, conf=conf,
        on_change=on_change, not_started=found['failed'] + not_started,
        existing_count=len(found['instances']))
    return {'instances': found['instances'] + result['instances'],
            'new_instances': result['instances'],
            'existing_instances': found['instances'],
            'failed': result['failed'],
            'repaired': found['repaired']}
