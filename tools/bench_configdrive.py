#!/usr/bin/env python3
"""Compare our config drive builder with openstacksdk's.

openstacksdk's ``openstack.baremetal.configdrive.build`` writes the files
to a temporary directory and runs genisoimage (or mkisofs/xorrisofs) on
it; ours builds the ISO in memory with pycdlib. Both get the same
metadata, network data and user data; the table shows the best build
time of each, the ratio (above 1 means ours is faster) and the packed
sizes. Payloads are user data: the generated cloud-config, then 1 MiB
and 20 MiB of text (base64 of random bytes) and of random bytes.

This script installs nothing: without genisoimage/mkisofs/xorrisofs it
says so and prints our times only.

    python tools/bench_configdrive.py [--repeat N] [--quick]
"""

import argparse
import base64
import logging
import random
import shutil
import sys
import time

from openstack.baremetal import configdrive as sdk_configdrive

from tripleo_baremetal.configdrive import contents as configdrive
from tripleo_baremetal.configdrive import network_data
from tripleo_baremetal import model

NODE = '8a1c2f7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b'
MIB = 1024 * 1024
ISO_TOOLS = ('genisoimage', 'mkisofs', 'xorrisofs')


def _instance():
    return model.Instance.from_dict({
        'hostname': 'overcloud-controller-0', 'role': 'Controller',
        'index': 0, 'user_name': None, 'passwordless_sudo': True,
        'ssh_public_keys': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench '
                            'stack@undercloud'],
        'config_drive': {'cloud_config': {}, 'meta_data': {}},
    })


def _network_data():
    return network_data.build_network_data([model.Port.from_dict({
        'id': 'port-ctlplane', 'mac_address': '52:54:00:aa:bb:cc',
        'fixed_ips': [{'ip_address': '192.168.24.10', 'subnet_id': 's'}],
        'network': {'id': 'net', 'name': 'ctlplane', 'mtu': 1500},
        'subnets': [{'id': 's', 'cidr': '192.168.24.0/24',
                     'gateway_ip': '192.168.24.1',
                     'dns_nameservers': ['192.168.24.1']}],
    })])


def payloads(quick=False):
    """(label, user data bytes) pairs; the first is the generated one."""
    inst = _instance()
    keys = configdrive.public_keys(inst)
    generated = configdrive.render_cloud_config(
        configdrive.build_cloud_config(inst, keys))
    rng = random.Random(42)
    result = [('small (cloud-config, %d B)' % len(generated), generated)]
    for size in ((1,) if quick else (1, 20)):
        raw = rng.randbytes(size * MIB)
        result.append(('%d MiB text' % size,
                       base64.b64encode(raw)[:size * MIB]))
        result.append(('%d MiB binary' % size, raw))
    return result


def ours(inst, user_data, net_data):
    return configdrive.build_configdrive(inst, NODE, user_data=user_data,
                                         network_data=net_data)['configdrive']


def theirs(inst, user_data, net_data):
    meta_data = configdrive.build_meta_data(
        inst, NODE, configdrive.public_keys(inst))
    return sdk_configdrive.build(
        meta_data, user_data=user_data, network_data=net_data,
        versions=(configdrive.DATED_VERSION, configdrive.LATEST))


def best_time(function, repeat, *args):
    """Best wall time of ``repeat`` calls, and the last result."""
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeat', type=int, default=3,
                        help='runs per builder and payload, best is kept '
                             '(default 3; 1 for 20 MiB)')
    parser.add_argument('--quick', action='store_true',
                        help='skip the 20 MiB payloads')
    args = parser.parse_args(argv)
    # Large drives make our builder warn about Ironic's database limit.
    logging.basicConfig(level=logging.ERROR)

    tool = next((name for name in ISO_TOOLS if shutil.which(name)), None)
    if tool is None:
        print('NOTE: none of %s is installed, so openstacksdk\'s builder '
              'cannot run; showing our times only. Install genisoimage '
              '(apt-get install genisoimage) to compare.'
              % ', '.join(ISO_TOOLS))
    else:
        print('openstacksdk builds with %s' % shutil.which(tool))
    inst = _instance()
    net_data = _network_data()
    header = '%-26s %10s %14s %7s %12s %12s' % (
        'payload', 'ours (s)', 'openstacksdk', 'ratio', 'ours (B)',
        'sdk (B)')
    print(header)
    print('-' * len(header))
    slower = []
    for label, user_data in payloads(args.quick):
        repeat = 1 if len(user_data) >= 10 * MIB else args.repeat
        our_time, our_drive = best_time(ours, repeat, inst, user_data,
                                        net_data)
        if tool is None:
            print('%-26s %10.3f %14s %7s %12d %12s' % (
                label, our_time, '-', '-', len(our_drive), '-'))
            continue
        sdk_time, sdk_drive = best_time(theirs, repeat, inst, user_data,
                                        net_data)
        ratio = sdk_time / our_time
        if ratio < 1:
            slower.append(label)
        print('%-26s %10.3f %14.3f %6.2fx %12d %12d' % (
            label, our_time, sdk_time, ratio, len(our_drive),
            len(sdk_drive)))
    print('ratio = openstacksdk time / our time (above 1: ours is faster); '
          'sizes are of the packed gzip+base64 strings')
    if slower:
        print('SLOWER than openstacksdk for: %s' % ', '.join(slower))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
