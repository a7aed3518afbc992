"""The local demo: deploy_roles on a real Mistral driving a real Ironic.

``python -m localcloud.demo`` (the README's first command runs it
through ``tox -e demo``) starts, on 127.0.0.1 only, a private PostgreSQL,
an Ironic with the fake-hardware driver and a dozen nodes with profiles,
and a Mistral engine with our actions; loads the workbook; runs
``tripleo.baremetal_deploy.v1.deploy_roles`` on ``examples/overcloud.yaml``
with ``examples/port-map.yaml``; prints each node's state changes as they
happen, then a table of hostname / node / state / ctlplane IP; writes the
Heat environment to a file; and stops everything it started.

With ``--heat`` a Heat stack of the installed templates drives the same
run (Neutron and Heat are started too: Heat creates the ports, its hook
runs the workflow). With ``--ironic-url`` and ``--mistral-url`` it runs
the same against existing services instead (that Mistral must have our
package installed and its ``[tripleo_baremetal]`` options pointing at
that Ironic).
"""

import argparse
import contextlib
import logging
import os
import shutil
import sys
import tempfile

import yaml

from tripleo_baremetal.cli import follow
from tripleo_baremetal.request import roles
from tripleo_baremetal import workbooks

LOG = logging.getLogger(__name__)

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKBOOK_NAME = workbooks.DEPLOY_NAME

#: The demo pool: node-00..03 are controllers, node-04..11 computes.
NODE_PROFILES = ['control'] * 4 + ['compute'] * 8


def demo_nodes(count=len(NODE_PROFILES)):
    """Node specs for the embedded Ironic (computes carry CUSTOM_COMPUTE)."""
    specs = []
    for index in range(count):
        profile = NODE_PROFILES[index % len(NODE_PROFILES)]
        specs.append({'name': 'node-%02d' % index,
                      'capabilities': {'profile': profile},
                      'traits': (['CUSTOM_COMPUTE'] if profile == 'compute'
                                 else []),
                      'local_gb': 100})
    return specs


def start_local_cloud(stack, work_dir, ironic_url, node_count):
    """Start whatever is not given; return ``(ironic_url, mistral_url)``."""
    # Imported here: only the demo and the tests need the service code.
    from localcloud import ironic
    from localcloud import mistral
    from localcloud import nodes
    from localcloud import postgres

    if not ironic_url:
        print('Starting PostgreSQL and Ironic (fake hardware) on 127.0.0.1',
              flush=True)
        cluster = postgres.PostgresCluster(work_dir)
        stack.callback(cluster.stop)
        cluster.start()
        service = ironic.IronicService(
            work_dir, cluster.create_database('ironic'), fake_deploy_delay=1)
        stack.callback(service.stop)
        service.start()
        ironic_url = service.url
        print('Enrolling %d nodes' % node_count, flush=True)
        nodes.enrol_nodes(service.connection(), demo_nodes(node_count))
    print('Starting Mistral (API, engine and executor in one process)',
          flush=True)
    engine = mistral.MistralService(work_dir, config={
        'tripleo_baremetal': {
            'auth_type': 'none',
            'baremetal_endpoint_override': ironic_url,
            'poll_interval': 0.2,
            'poll_interval_max': 1.0,
            # The fake driver reads no image: nothing to look for here.
            'check_local_images': False,
        }})
    stack.callback(engine.stop)
    engine.start()
    return ironic_url, engine.url


def mistral_client(url):
    """A python-mistralclient v2 client for ``url``, without Keystone."""
    from mistralclient.api.v2 import client
    url = url.rstrip('/')
    return client.Client(mistral_url=url if url.endswith('/v2')
                         else url + '/v2')


def load_workbook(client):
    definition = workbooks.read()
    if any(wb.name == WORKBOOK_NAME for wb in client.workbooks.list()):
        client.workbooks.update(definition)
    else:
        client.workbooks.create(definition)


def run_deploy(client, conn, expanded, roles_file, port_map, stack_name,
               timeout):
    """Start deploy_roles and follow it as the provision command does."""
    inputs = {
        'roles': roles_file,
        'plan': stack_name,
        'role_net_port_id_map': port_map.get('RoleNetPortIdMap') or {},
        'role_ctlplane_port_map': port_map.get('RoleCtlplanePortMap') or {},
        'ssh_keys': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOnly demo'],
        'concurrency': 10,
    }
    execution = client.executions.create(
        WORKBOOK_NAME + '.deploy_roles', workflow_input=inputs)
    print('Execution %s of deploy_roles started; node states:'
          % execution.id, flush=True)
    progress = follow.Progress(conn, [inst.hostname for inst in
                                      expanded['instances'] if inst.wanted])
    try:
        return follow.follow(client, execution, progress=progress,
                             timeout=timeout, interval=0.5)
    except TimeoutError as exc:
        print('deploy_roles did not finish: %s' % exc)
        return client.executions.get(execution.id)


def print_table(output, stream=None):
    """The provision command's table."""
    print(follow.table(follow.deployed_rows(output),
                       follow.DEPLOYED_COLUMNS), file=stream or sys.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m localcloud.demo', description=__doc__.split(
            '\n\n')[0])
    parser.add_argument('--roles', default=os.path.join(
        TOP, 'examples', 'overcloud.yaml'), help='roles file')
    parser.add_argument('--port-map', default=os.path.join(
        TOP, 'examples', 'port-map.yaml'),
        help='YAML with RoleNetPortIdMap / RoleCtlplanePortMap')
    parser.add_argument('--stack', default='overcloud')
    parser.add_argument('--output', default='deployed-environment.yaml',
                        help='where to write the Heat environment')
    parser.add_argument('--nodes', type=int, default=len(NODE_PROFILES),
                        help='nodes to enrol in the embedded Ironic')
    parser.add_argument('--ironic-url', help='use this Ironic')
    parser.add_argument('--mistral-url', help='use this Mistral')
    parser.add_argument('--timeout', type=int, default=600)
    parser.add_argument('--heat', action='store_true',
                        help='drive it by a Heat stack (heat/): Heat creates '
                             'the ports and its hook runs the workflow; '
                             'also starts Neutron and Heat')
    args = parser.parse_args(argv)
    if args.heat and (args.ironic_url or args.mistral_url):
        parser.error('--heat starts its own services: no --*-url with it')
    logging.basicConfig(level=logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')

    roles_file = roles.load_roles_file(args.roles)
    with open(args.port_map) as stream:
        port_map = yaml.safe_load(stream) or {}
    # Fail on a bad roles file before starting anything.
    expanded = roles.expand_roles(
        roles_file, stackname=args.stack,
        role_net_port_id_map=port_map.get('RoleNetPortIdMap'),
        role_ctlplane_port_map=port_map.get('RoleCtlplanePortMap'))

    work_dir = tempfile.mkdtemp(prefix='tripleo-baremetal-demo-')
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work_dir, ignore_errors=True)
        ironic_url, mistral_url = args.ironic_url, args.mistral_url
        if args.heat:
            return _demo_with_heat(stack, work_dir, args, roles_file,
                                   expanded)
        if not mistral_url:
            ironic_url, mistral_url = start_local_cloud(
                stack, work_dir, ironic_url, args.nodes)
        elif not ironic_url:
            parser.error('--mistral-url needs --ironic-url too')
        conn = _ironic(ironic_url)
        client = mistral_client(mistral_url)
        load_workbook(client)
        execution = run_deploy(client, conn, expanded, roles_file, port_map,
                               args.stack, args.timeout)
        if execution.state != 'SUCCESS':
            print('\ndeploy_roles ended %s:\n%s'
                  % (execution.state, execution.state_info))
            return 1
        output = yaml.safe_load(execution.output)
        _report(output, args.output, '%d new, %d existing instances' % (
            len(output['new_instances']), len(output['existing_instances'])))
    return 0


def _report(output, path, summary):
    """The table, the environment file, and what was done."""
    print()
    print_table(output)
    with open(path, 'w') as stream:
        yaml.safe_dump(output['environment'], stream,
                       default_flow_style=False)
    print('\nHeat environment written to %s (%s)' % (path, summary))
    print('Stopping the services the demo started', flush=True)


def _ironic(url):
    """An openstacksdk connection to ``url``, no Keystone, no clouds.yaml."""
    import openstack
    return openstack.connect(auth_type='none',
                             baremetal_endpoint_override=url,
                             load_yaml_config=False, load_envvars=False)


def _demo_with_heat(stack, work_dir, args, roles_file, expanded):
    """The same run, driven by a stack of the installed templates."""
    from localcloud import demo_heat
    ironic_url, mistral_url, heat = demo_heat.start_cloud(
        stack, work_dir, demo_nodes(args.nodes))
    conn = _ironic(ironic_url)
    load_workbook(mistral_client(mistral_url))
    status, reason, outputs = demo_heat.run_stack(
        heat.client(), conn, roles_file, expanded, args.stack, args.timeout)
    if status != 'CREATE_COMPLETE':
        print('\nstack %s ended %s:\n%s'
              % (demo_heat.STACK, status, reason))
        return 1
    _report(outputs, args.output, 'stack %s: %d instances' % (
        demo_heat.STACK, len(outputs['instances'])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
