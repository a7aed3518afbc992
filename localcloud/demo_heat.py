"""The demo's ``--heat`` path: a Heat stack makes the ports and provisions.

Besides PostgreSQL, Ironic and Mistral, it starts a Neutron (Ironic's
``flat`` network interface, nodes wired to a fake switch) and a Heat
whose catalog lists both, then creates a stack of the installed
``heat/overcloud-baremetal.yaml`` with only the roles file: its hook runs
the workflow, which makes each instance's ctlplane port and provisions
the nodes, and the demo follows them with the provision command's
progress lines until the stack is complete.
"""

import os
import time

from heatclient.common import template_utils

from localcloud import heat
from localcloud import ironic
from localcloud import mistral
from localcloud import neutron
from localcloud import nodes
from localcloud import postgres
from localcloud import process
from tripleo_baremetal.cli import follow
from tripleo_baremetal import workbooks

#: The ctlplane network and subnet the demo's ports are on.
CTLPLANE = {'name': 'ctlplane', 'mtu': 1500}
CTLPLANE_SUBNET = {'name': 'ctlplane-subnet', 'cidr': '192.168.24.0/24',
                   'gateway_ip': '192.168.24.1', 'ip_version': 4,
                   'is_dhcp_enabled': False,
                   'dns_nameservers': ['192.168.24.1'],
                   'allocation_pools': [{'start': '192.168.24.10',
                                         'end': '192.168.24.99'}]}
STACK = 'overcloud-baremetal'


def start_cloud(stack, work_dir, node_specs):
    """Start every service; return ``(ironic_url, mistral_url, heat)``."""
    cluster = postgres.PostgresCluster(work_dir)
    stack.callback(cluster.stop)
    network = neutron.NeutronService(work_dir, port=process.free_port())
    stack.callback(network.stop)
    print('Starting PostgreSQL, Neutron and Ironic (fake hardware, flat '
          'network) on 127.0.0.1', flush=True)
    network.start(wait=False)
    cluster.start()
    service = ironic.IronicService(
        work_dir, cluster.create_database('ironic'), fake_deploy_delay=1,
        config=network.ironic_config(CTLPLANE['name']))
    stack.callback(service.stop)
    service.start()
    network.wait_ready()
    conn = network.connection()
    created = conn.network.create_network(
        provider_network_type='flat',
        provider_physical_network=neutron.PHYSNET, **CTLPLANE)
    conn.network.create_subnet(network_id=created.id, **CTLPLANE_SUBNET)
    print('Enrolling %d nodes' % len(node_specs), flush=True)
    nodes.enrol_nodes(service.connection(), neutron.wired(node_specs))
    print('Starting Mistral and Heat', flush=True)
    engine = mistral.MistralService(work_dir, config={'tripleo_baremetal': {
        'auth_type': 'none', 'baremetal_endpoint_override': service.url,
        'network_endpoint_override': network.url, 'poll_interval': 0.2,
        'poll_interval_max': 1.0, 'check_local_images': False}})
    stack.callback(engine.stop)
    engine.start()
    orchestration = heat.HeatService(
        work_dir, cluster.create_database('heat'), mistral_url=engine.url,
        neutron_url=network.url)
    stack.callback(orchestration.stop)
    orchestration.start()
    return service.url, engine.url, orchestration


def stack_arguments(directory, roles_file, stack_name, ssh_keys):
    """``stacks.create``/``update`` arguments for ``overcloud-baremetal``.

    The roles file is the only description of the request: the workflow
    makes the ports its networks ask for.

    :param directory: where the templates are (installed, or a source
        tree's ``heat/``).
    """
    files, template = template_utils.get_template_contents(
        template_file=os.path.join(directory, 'overcloud-baremetal.yaml'))
    env_files, env = template_utils.process_multiple_environments_and_files(
        [os.path.join(directory, 'environments', 'baremetal-deploy.yaml')])
    return dict(template=template, environment=env,
                files=dict(files, **env_files), parameters={
                    'RolesFile': roles_file,
                    'StackName': stack_name, 'SshKeys': list(ssh_keys)})


def run_stack(client, conn, roles_file, expanded, stack_name, timeout):
    """Create the stack and follow its nodes; ``(status, reason, outputs)``."""
    created = client.stacks.create(
        stack_name=STACK, **stack_arguments(
            workbooks.heat_templates(), roles_file, stack_name,
            ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOnly demo']))
    print('Stack %s created; node states:' % STACK, flush=True)
    progress = follow.Progress(conn, [inst.hostname for inst in
                                      expanded['instances'] if inst.wanted])
    deadline = time.monotonic() + timeout
    while True:
        progress.poll()
        current = client.stacks.get(created['stack']['id'])
        if not current.stack_status.endswith('IN_PROGRESS') or \
                time.monotonic() > deadline:
            break
        time.sleep(0.5)
    outputs = {item['output_key']: item['output_value']
               for item in (current.outputs or ())}
    return current.stack_status, current.stack_status_reason, outputs
