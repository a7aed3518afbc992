#!/usr/bin/env python3
"""Count the Ironic requests a deploy costs, per node and per poll.

Starts a private PostgreSQL and a fake-hardware Ironic on 127.0.0.1,
enrols nodes, then deploys N instances (each with a ctlplane port) with
the same code the workflows run (``sequence.deploy_instances``) and
reads Ironic's access log. Goal: the writes alone for each deployed node
(the instance_info PATCH, one VIF attach per port, the provision
request: 3 with one port), the reads in bulk (one port and one port group
listing for all nodes, one node listing per poll whatever the node
count). Prints counts and ratios, not timings to assert on.

    python tools/bench_provisioning.py [--nodes 10 20]
"""

import argparse
import os
import shutil
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TOP)

from localcloud import ironic  # noqa: E402
from localcloud import nodes  # noqa: E402
from localcloud import postgres  # noqa: E402
from tripleo_baremetal import conf as baremetal_conf  # noqa: E402
from tripleo_baremetal.picking import reservation  # noqa: E402
from tripleo_baremetal.provisioning import existing  # noqa: E402
from tripleo_baremetal.provisioning import sequence  # noqa: E402
from tripleo_baremetal.provisioning import wait  # noqa: E402
from tripleo_baremetal.request import roles  # noqa: E402

POLL = 'GET /v1/nodes'


def make_conf():
    return baremetal_conf.standalone_conf(
        poll_interval=0.2, poll_interval_max=1.0, check_local_images=False)


def run(service, count, conf):
    """Deploy ``count`` instances step by step; Counter of each step."""
    conn = service.connection()
    nodes.enrol_nodes(conn, [{'name': 'bench-%d-%03d' % (count, i)}
                             for i in range(count)])
    roles_file = [{'name': 'Compute', 'count': count,
                   'hostname_format': 'bench%d-%%index%%' % count,
                   'defaults': {'image': {'href': 'http://x/img.raw'}}}]
    ports = [nodes.ctlplane_port(i) for i in range(count)]
    instances = roles.expand_roles(roles_file, role_ctlplane_port_map={
        'Compute': ports})['instances']
    steps = {}
    service.reset_request_counts()
    found = existing.check_existing_instances(conn, instances)
    steps['existing'] = service.request_counts(by_path=True)
    service.reset_request_counts()
    picked = reservation.pick_nodes(conn, found['not_found'],
                                    concurrency=10)
    steps['pick'] = service.request_counts(by_path=True)
    service.reset_request_counts()
    deploying, not_started = sequence.start_deploys(
        conn, picked['reservations'], found['not_found'], concurrency=10,
        snapshots=picked['node_snapshots'], conf=conf)
    assert not not_started, not_started
    wait.wait_for_deploy(conn, deploying, timeout=300, conf=conf)
    steps['deploy+wait'] = service.request_counts(by_path=True)
    return steps


def report(count, steps):
    print('\n%d nodes, 1 port each' % count)
    for step, counts in steps.items():
        total = sum(counts.values())
        print('  %-12s %5d requests, %.2f per node' % (step, total,
                                                       total / count))
        for key, value in sorted(counts.items()):
            print('      %-42s %5d' % (key, value))
    deploy = steps['deploy+wait']
    polls = deploy.get(POLL, 0)
    per_node = (sum(deploy.values()) - polls) / count
    print('  deploy: %.2f requests per node (goal: 2 + 1 per port = 3, '
          'plus 2 NIC listings for all); wait: %d bulk listings for %d '
          'nodes' % (per_node, polls, count))
    return per_node, polls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--nodes', type=int, nargs='+', default=[10, 30])
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='tripleo-baremetal-bench-')
    cluster = service = None
    try:
        cluster = postgres.PostgresCluster(work)
        cluster.start()
        service = ironic.IronicService(work,
                                       cluster.create_database('ironic'))
        service.start()
        conf = make_conf()
        results = {count: report(count, run(service, count, conf))
                   for count in args.nodes}
        if len(results) > 1:
            small, large = min(results), max(results)
            print('\n%d vs %d nodes: deploy requests per node ratio %.2f; '
                  'poll listings ratio %.2f for %.1fx the nodes'
                  % (large, small, results[large][0] / results[small][0],
                     results[large][1] / max(results[small][1], 1),
                     large / small))
    finally:
        for item in (service, cluster):
            if item is not None:
                item.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
