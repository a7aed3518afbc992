"""Ports the roles file asks for and no port map gives, on a real Neutron.

A roles file written for tripleo-ansible (ctlplane with a subnet and
``vif``, two isolated networks, a ``fixed_ip``) provisions with no port
map, through ``openstack overcloud node provision`` and through
``deploy_roles`` on Mistral: the workflow makes one port per instance and
network, named and tagged as tripleo-ansible's
``tripleo_overcloud_network_ports`` made them, attaches the ctlplane
port, and writes ``NodePortMap``. A re-run writes nothing to Neutron or
Ironic; unprovisioning a host deletes exactly its ports; two runs at
once leave one port per host and network; a run whose Neutron requests
fail now and then (a fault proxy between the actions and Neutron)
converges; what cannot be had fails before any Ironic write and leaves
no port behind.
"""

import os

import yaml

from localcloud import faultproxy
from localcloud import process
from tests.functional import base
from tests.functional import neutron_base
from tests.functional import test_cli
from tests.functional import test_convergence

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
IMAGE = test_cli.IMAGE
WB = 'tripleo.baremetal_deploy.v1.'
WRITES = ('POST', 'PUT', 'PATCH', 'DELETE')

#: The isolated networks: name -> (physical network, tags, subnets).
NETWORKS = {
    'internal_api': ('internal', ['tripleo_network_name=InternalApi'],
                     [('internal_api_subnet', '172.16.2.0/24')]),
    'storage': ('storage', ['tripleo_network_name=Storage'],
                [('storage-a', '172.16.1.0/24'),
                 ('storage-b', '172.16.3.0/24')]),
    # Two addresses: a third port cannot be had.
    'tiny': ('tiny', [], [('tiny-subnet', '172.16.9.0/29')]),
}

FIXED_IP = '172.16.2.50'
TINY_POOL = [{'start': '172.16.9.2', 'end': '172.16.9.3'}]


def roles_file(plan='overcloud', computes=2, compute_instances=None):
    """A tripleo-ansible roles file: Controller x1, Compute x computes."""
    return [
        {'name': 'Controller', 'count': 1, 'defaults': {
            'image': IMAGE, 'networks': [
                {'network': 'ctlplane', 'vif': True},
                {'network': 'internal_api'},
                {'network': 'storage', 'subnet': 'storage-b'}]}},
        {'name': 'Compute', 'count': computes, 'defaults': {
            'image': IMAGE, 'networks': [
                {'network': 'ctlplane', 'subnet': 'ctlplane-subnet',
                 'vif': True},
                {'network': 'internal_api'}]},
         'instances': compute_instances or [
             {'hostname': '%s-novacompute-0' % plan, 'networks': [
                 {'network': 'internal_api', 'fixed_ip': FIXED_IP}]}]}]


def expected(plan='overcloud'):
    """What roles_file(plan) asks for: host -> networks."""
    return {'%s-controller-0' % plan: {'ctlplane', 'internal_api',
                                       'storage'},
            '%s-novacompute-0' % plan: {'ctlplane', 'internal_api'},
            '%s-novacompute-1' % plan: {'ctlplane', 'internal_api'}}


EXPECTED = expected()


class CreatedPortsTest(test_cli.CommandLineMixin,
                       neutron_base.NeutronMistralTestCase):
    """One class, one set of services: each test its own stack name."""

    WORKBOOKS = [os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml')]

    @classmethod
    def mistral_options(cls):
        # The actions reach Neutron through a fault proxy (faults off but
        # in test_faults_converge); Ironic's own Neutron calls do not.
        cls.neutron_proxy = faultproxy.FaultProxy(
            cls.neutron.url, share=0, port=process.free_port())
        cls.neutron_proxy.start()
        cls.addClassCleanup(cls.neutron_proxy.stop)
        options = super().mistral_options()
        options['tripleo_baremetal']['network_endpoint_override'] = (
            cls.neutron_proxy.url)
        return options

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.networks, cls.subnets = {}, {}
        for name, (physnet, tags, subnets) in NETWORKS.items():
            network = cls.conn.network.create_network(
                name=name, provider_network_type='flat',
                provider_physical_network=physnet)
            cls.conn.network.set_tags(network, tags)
            cls.networks[name] = network
            for subnet_name, cidr in subnets:
                pools = TINY_POOL if name == 'tiny' else None
                cls.subnets[subnet_name] = cls.conn.network.create_subnet(
                    network_id=network.id, name=subnet_name, ip_version=4,
                    cidr=cidr, is_dhcp_enabled=False,
                    **({'allocation_pools': pools} if pools else {}))

    def setUp(self):
        super().setUp()
        self.neutron_proxy.enabled = False
        self.addCleanup(self.delete_stack_ports)
        self.plans = []

    def delete_stack_ports(self):
        for plan in self.plans:
            for port in self.stack_ports(plan):
                self.conn.network.delete_port(port.id, ignore_missing=True)

    def stack_ports(self, plan):
        return list(self.conn.network.ports(
            tags='tripleo_stack_name=%s' % plan))

    def by_host(self, plan):
        """``{hostname: {network name: [port]}}`` of the stack's ports."""
        names = {net.id: net.name for net in self.conn.network.networks()}
        result = {}
        for port in self.stack_ports(plan):
            host = port.name.rpartition('_')[0] or port.name.rpartition(
                '-ctlplane')[0]
            result.setdefault(host, {}).setdefault(
                names[port.network_id], []).append(port)
        return result

    def neutron_writes(self):
        """Every write Neutron served since the last reset (Ironic's too)."""
        counts = self.neutron.request_counts()
        return {method: counts[method] for method in WRITES
                if counts.get(method)}

    def deploy_roles(self, roles, plan, timeout=180):
        self.plans.append(plan)
        return self.run_workflow(WB + 'deploy_roles',
                                 {'roles': roles, 'plan': plan},
                                 timeout=timeout)

    def assertPortsAsAsked(self, plan, expected):
        ports = self.by_host(plan)
        self.assertEqual(sorted(expected), sorted(ports))
        for host, networks in expected.items():
            self.assertEqual(networks, set(ports[host]), host)
            for network, found in ports[host].items():
                self.assertEqual(1, len(found), (host, network, found))
                port = found[0]
                self.assertIn('tripleo_stack_name=%s' % plan, port.tags)
                role = 'Controller' if 'controller' in host else 'Compute'
                self.assertIn('tripleo_role=%s' % role, port.tags)
                if network == 'ctlplane':
                    self.assertEqual('%s-ctlplane' % host, port.name)
                    self.assertIn('tripleo_ironic_vif_port=true', port.tags)
                    self.assertIn('tripleo_default_route=true', port.tags)
                else:
                    upper = {'internal_api': 'InternalApi',
                             'storage': 'Storage'}[network]
                    self.assertEqual('%s_%s' % (host, upper), port.name)
        return ports

    def assertAttachedCtlplane(self, ports):
        """Each host's node has exactly its ctlplane port, bound to it."""
        for host, networks in ports.items():
            node = self.conn.baremetal.get_allocation(host).node_id
            ctlplane = networks['ctlplane'][0]
            self.assertEqual([ctlplane.id],
                             self.conn.baremetal.list_node_vifs(node), host)
            self.assertEqual(node, self.conn.network.get_port(
                ctlplane.id).binding_host_id, host)

    def test_command_makes_reuses_and_removes_ports(self):
        self.plans.append('overcloud')
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(3)])
        roles_path = self.write('roles.yaml', roles_file())
        key = self.write('id.pub', 'ssh-ed25519 AAAAC3Nza test\n')
        provision = ('openstack', 'overcloud', 'node', 'provision',
                     roles_path, '--overcloud-ssh-key', key, '-o',
                     'env.yaml', '--force', '--poll-interval', '0.2')
        done = self.run_cli(*provision, timeout=180)
        self.assertEqual(0, done.returncode, done.stdout + done.stderr)

        ports = self.assertPortsAsAsked('overcloud', EXPECTED)
        self.assertAttachedCtlplane(ports)
        fixed = ports['overcloud-novacompute-0']['internal_api'][0]
        self.assertEqual(FIXED_IP, fixed.fixed_ips[0]['ip_address'])
        storage = ports['overcloud-controller-0']['storage'][0]
        self.assertEqual(self.subnets['storage-b'].id,
                         storage.fixed_ips[0]['subnet_id'])
        with open(os.path.join(self.work, 'env.yaml')) as stream:
            params = yaml.safe_load(stream)['parameter_defaults']
        self.assertEqual(sorted('%s-ctlplane' % host for host in EXPECTED),
                         sorted(params['DeployedServerPortMap']))
        node_ports = params['NodePortMap']
        self.assertEqual(sorted(EXPECTED), sorted(node_ports))
        for host, networks in EXPECTED.items():
            self.assertEqual(networks, set(node_ports[host]), host)
            for network, entry in node_ports[host].items():
                address = ports[host][network][0].fixed_ips[0]['ip_address']
                self.assertEqual(address, entry['ip_address'])
                self.assertEqual(address, entry['ip_address_uri'])
        self.assertEqual('%s/24' % FIXED_IP, node_ports[
            'overcloud-novacompute-0']['internal_api']['ip_subnet'])

        # A re-run finds every port again: nothing written anywhere.
        self.ironic.reset_request_counts()
        self.neutron.reset_request_counts()
        done = self.run_cli(*provision, timeout=180)
        self.assertEqual(0, done.returncode, done.stdout + done.stderr)
        self.assertEqual({}, self.writes())
        self.assertEqual({}, self.neutron_writes())
        self.assertEqual({port.id for networks in ports.values()
                          for found in networks.values() for port in found},
                         {port.id for port in self.stack_ports('overcloud')})

        # Scale down: exactly the removed host's ports go.
        scaled = roles_file(compute_instances=[
            {'hostname': 'overcloud-novacompute-0', 'networks': [
                {'network': 'internal_api', 'fixed_ip': FIXED_IP}]},
            {'hostname': 'overcloud-novacompute-1', 'provisioned': False}])
        scaled[1]['count'] = 1
        done = self.run_cli('openstack', 'overcloud', 'node', 'unprovision',
                            self.write('scaled.yaml', scaled), '-y',
                            timeout=180)
        self.assertEqual(0, done.returncode, done.stdout + done.stderr)
        kept = {host: networks for host, networks in ports.items()
                if host != 'overcloud-novacompute-1'}
        self.assertEqual({port.id for networks in kept.values()
                          for found in networks.values() for port in found},
                         {port.id for port in self.stack_ports('overcloud')})

    def test_two_runs_at_once_make_each_port_once(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(3)])
        self.plans.append('twice')
        client = self.mistral_client
        given = {'roles': roles_file('twice'), 'plan': 'twice'}
        started = [client.executions.create(WB + 'deploy_roles',
                                            workflow_input=given)
                   for _ in range(2)]
        for execution in started:
            process.wait_until(
                lambda e=execution: client.executions.get(e.id).state
                in base.FINAL_STATES, 180, interval=0.2,
                what='concurrent execution to end')
        # Whichever run lost a race on a node, the ports exist once each,
        # and the next run finishes the job writing no port.
        self.neutron.reset_request_counts()
        execution = self.deploy_roles(roles_file('twice'), 'twice')
        self.assertExecutionSucceeded(execution)
        ports = self.assertPortsAsAsked('twice', expected('twice'))
        self.assertAttachedCtlplane(ports)
        self.assertEqual(0, self.neutron.request_counts(
            by_path=True).get('POST /v2.0/ports', 0))

    def test_faults_converge(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(3)])
        for seed in test_convergence.FAULT_SEEDS:
            self.neutron_proxy.reseed(seed)
            self.neutron_proxy.share = 0.3
            self.neutron_proxy.enabled = True
            self.deploy_roles(roles_file('faulty'), 'faulty')
        self.neutron_proxy.enabled = False
        self.assertGreater(sum(self.neutron_proxy.stats()['faults'].values()),
                           0, self.neutron_proxy.stats())
        execution = self.deploy_roles(roles_file('faulty'), 'faulty')
        self.assertExecutionSucceeded(execution)
        ports = self.assertPortsAsAsked('faulty', expected('faulty'))
        self.assertAttachedCtlplane(ports)
        self.assertEqual(sorted(ports), sorted(execution.output['ports']))
        for host, networks in ports.items():
            self.assertEqual({network: found[0].id
                              for network, found in networks.items()},
                             execution.output['ports'][host])

    def assertRefusedUnwritten(self, roles, plan, *texts):
        """deploy_roles fails naming ``texts``; no write, no port left."""
        self.ironic.reset_request_counts()
        execution = self.deploy_roles(roles, plan)
        self.assertEqual('ERROR', execution.state)
        for text in texts:
            self.assertIn(text, execution.state_info)
        self.assertNotIn('Traceback', execution.state_info)
        self.assertEqual({}, self.writes())
        self.assertEqual([], self.stack_ports(plan))

    def test_what_cannot_be_had_fails_before_any_write(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(3)])
        holder = self.conn.network.create_port(
            name='someone-else', network_id=self.networks['internal_api'].id,
            fixed_ips=[{'ip_address': '172.16.2.60'}])
        self.addCleanup(self.conn.network.delete_port, holder.id)

        def compute(*networks, count=1):
            return [{'name': 'Compute', 'count': count, 'defaults': {
                'image': IMAGE, 'networks': list(networks)}}]

        host = 'refused-novacompute-0'
        self.neutron.reset_request_counts()
        self.assertRefusedUnwritten(
            compute({'network': 'nowhere'}), 'refused',
            '%s: networks[0] (network nowhere): network nowhere does not '
            'exist in Neutron' % host)
        self.assertRefusedUnwritten(
            compute({'network': 'storage'}), 'refused',
            'network storage has 2 subnets (storage-a, storage-b): say '
            'which')
        self.assertRefusedUnwritten(
            compute({'network': 'storage', 'subnet': 'nope'}), 'refused',
            'subnet nope is not a subnet of network storage')
        self.assertRefusedUnwritten(
            compute({'network': 'internal_api', 'fixed_ip': '10.9.9.9'}),
            'refused', 'fixed_ip 10.9.9.9 is in no subnet of network '
            'internal_api')
        self.assertRefusedUnwritten(
            compute({'network': 'internal_api', 'fixed_ip': '172.16.2.60'}),
            'refused', '%s: networks[0] (network internal_api): fixed_ip '
            '172.16.2.60 is held by port someone-else' % host)
        self.assertEqual({}, self.neutron_writes())
        # Two addresses for three ports: Neutron refuses the third, the
        # two made are deleted again, Ironic is never written.
        self.assertRefusedUnwritten(
            compute({'network': 'tiny'}, count=3), 'refused',
            'network tiny)', 'No more IP addresses available',
            'were deleted')
        self.assertEqual(0, len([port for port in self.conn.network.ports(
            network_id=self.networks['tiny'].id) if port.name]))
