"""The whole deploy sequence in plain Python.

These are the steps the ``deploy_instances`` workflow runs as Mistral
tasks: find existing instances, reserve nodes for
the rest in one plan, start every deploy concurrently, wait in bulk.
Having them as functions lets the functional tests, the benchmarks and
scripts drive the same core without a Mistral engine.
"""

from concurrent import futures
import logging

from tripleo_baremetal import deploy
from tripleo_baremetal import exceptions
from tripleo_baremetal import existing
from tripleo_baremetal import reservation
from tripleo_baremetal import wait

LOG = logging.getLogger(__name__)


def start_deploys(conn, reservations, instances, concurrency=20, **kwargs):
    """Run ``deploy_node`` for every reservation, ``concurrency`` at once.

    :returns: ``(deploying, failed)``: instance dicts whose deploy started,
        and those whose deploy did not, each with ``error`` (their nodes
        were released).
    """
    by_host = {inst['hostname']: inst for inst in instances}
    deploying, failed = [], []
    with futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        jobs = [(by_host[item['hostname']],
                 pool.submit(deploy.deploy_node, conn,
                             by_host[item['hostname']], item['node'],
                             allocation=item.get('allocation'), **kwargs))
                for item in reservations]
        for instance, job in jobs:
            try:
                deploying.append(job.result())
            except exceptions.BaremetalError as exc:
                failed.append(dict(instance, error=str(exc)))
    return deploying, failed


def deploy_instances(conn, instances, concurrency=20, timeout=None,
                     max_fail_percentage=0, on_change=None, **kwargs):
    """Deploy every instance that does not exist yet and wait for it.

    :param kwargs: passed to ``deploy.deploy_node`` (``ssh_keys``,
        ``user_name``, ``stackname``, ``conf``).
    :returns: ``{'instances', 'new_instances', 'existing_instances',
        'failed'}``; ``failed`` lists, with ``error``, the tolerated
        failures, whether the deploy did not start or Ironic failed it.
    :raises: PlacementError when no complete plan exists (nothing is
        reserved), DeployError when deploys failed beyond the tolerance.
    """
    found = existing.check_existing_instances(conn, instances)
    new, failed = [], []
    if found['not_found']:
        picked = reservation.pick_nodes(conn, found['not_found'],
                                        concurrency=concurrency)
        deploying, not_started = start_deploys(
            conn, picked['reservations'], found['not_found'],
            concurrency=concurrency, **kwargs)
        if not_started and len(not_started) * 100 > max_fail_percentage * len(
                found['not_found']):
            raise exceptions.DeployError(
                '%d of %d deploy(s) could not start: %s'
                % (len(not_started), len(found['not_found']),
                   '; '.join(inst['error'] for inst in not_started)))
        result = wait.wait_for_deploy(
            conn, deploying, timeout=timeout,
            max_fail_percentage=max_fail_percentage,
            conf=kwargs.get('conf'), on_change=on_change)
        new, failed = result['instances'], not_started + result['failed']
    return {'instances': found['instances'] + new,
            'new_instances': new,
            'existing_instances': found['instances'],
            'failed': failed}
