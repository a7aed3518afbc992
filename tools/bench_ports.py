#!/usr/bin/env python3
"""Neutron requests per port the workflow makes, on a real Neutron.

Starts a Neutron on 127.0.0.1 (``localcloud.neutron``: ML2, SQLite, one
worker thread), creates a ctlplane and two isolated networks, and runs
``created_ports.ensure_ports`` (what the workflow's ``ensure_ports``
step runs) for N hosts with three networks each: the first run creates
every port, the re-run finds them all; then ``delete_host_ports``
removes them. Neutron's own request log is counted: the figures are
requests per created port and per run, not times (the one wall time
printed is for orientation; Neutron on SQLite with one thread is not an
undercloud's).

    python tools/bench_ports.py [--hosts 50,200]

It needs the functional environment's packages (neutron,
networking-generic-switch): ``python3 tools/tox -e functional --notest``
then ``.tox/services/bin/python tools/bench_ports.py``.
"""

import argparse
import collections
import datetime
import logging
import sys
import tempfile
import time

from localcloud import neutron
from localcloud import process
from tripleo_baremetal import model
from tripleo_baremetal.provisioning import created_ports

NETWORKS = (('ctlplane', '192.168.0.0/20', 'ctl'),
            ('internal_api', '172.16.0.0/20', 'internal'),
            ('storage', '172.17.0.0/20', 'storage'))
WRITES = ('POST', 'PUT', 'DELETE')


def _setup(conn):
    for name, cidr, physnet in NETWORKS:
        network = conn.network.create_network(
            name=name, provider_network_type='flat',
            provider_physical_network=physnet)
        conn.network.create_subnet(network_id=network.id, name=name + '-sub',
                                   ip_version=4, cidr=cidr,
                                   is_dhcp_enabled=False)


def _instances(count):
    networks = [{'network': 'ctlplane', 'vif': True},
                {'network': 'internal_api'}, {'network': 'storage'}]
    return [model.Instance.from_dict({
        'hostname': 'bench-compute-%d' % index, 'role': 'Compute',
        'index': index, 'networks': networks}) for index in range(count)]


def _counted(service, call):
    service.reset_request_counts()
    started = time.monotonic()
    result = call()
    elapsed = time.monotonic() - started
    counts = service.request_counts()
    return result, sum(counts.values()), sum(
        counts[method] for method in WRITES), elapsed, collections.Counter(
        service.request_counts(by_path=True))


def _row(label, requests, writes, ports, elapsed):
    per = '%.3f' % (requests / ports) if ports else '-'
    print('%-28s %8d %8d %10s %8.1f' % (label, requests, writes, per,
                                        elapsed), flush=True)


def bench(service, conn, count, stack):
    instances = _instances(count)
    ports = count * len(NETWORKS)
    first, requests, writes, elapsed, paths = _counted(
        service, lambda: created_ports.ensure_ports(conn, instances, stack))
    _row('%d hosts: first run' % count, requests, writes, ports, elapsed)
    print('    %s' % ', '.join('%s x%d' % item
                               for item in sorted(paths.items())))
    _again, requests, writes, elapsed, paths = _counted(
        service, lambda: created_ports.ensure_ports(conn, instances, stack))
    _row('%d hosts: re-run' % count, requests, writes, ports, elapsed)
    print('    %s' % ', '.join('%s x%d' % item
                               for item in sorted(paths.items())))
    hosts = [inst.hostname for inst in instances]
    _deleted, requests, writes, elapsed, _paths = _counted(
        service, lambda: created_ports.delete_host_ports(conn, hosts, stack))
    _row('%d hosts: delete' % count, requests, writes, ports, elapsed)
    return first


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', default='50,200',
                        help='comma-separated host counts (3 ports each)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    counts = [int(item) for item in args.hosts.split(',')]
    print('tripleo-baremetal port benchmark, %s' % datetime.date.today())
    with tempfile.TemporaryDirectory(prefix='bench-ports-') as work:
        service = neutron.NeutronService(
            work, port=process.free_port(),
            config={'quotas': {'quota_port': -1}})
        try:
            service.start()
            conn = service.connection()
            _setup(conn)
            print('%-28s %8s %8s %10s %8s' % ('run', 'requests', 'writes',
                                              'per port', 'wall s'))
            for index, count in enumerate(counts):
                bench(service, conn, count, 'bench%d' % index)
        finally:
            service.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
