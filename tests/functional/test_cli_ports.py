"""``openstack overcloud node provision --port-map``, on a real Neutron.

The real ``openstack`` binary runs against Mistral, Ironic (``flat``
network interface) and Neutron. Heat's ctlplane ports are created in
Neutron the way Heat does and handed over in the port map file; the
actions on Mistral read Neutron through ``network_endpoint_override``.
"""

import os

import yaml

from tests.functional import neutron_base
from tests.functional import test_cli

HEAT_IPS = {'overcloud-novacompute-0': '192.168.24.20',
            'overcloud-novacompute-1': '192.168.24.21'}


class CommandLinePortsTest(test_cli.CommandLineMixin,
                           neutron_base.NeutronMistralTestCase):

    def port_map(self, ports):
        """The port map file's data for the ``Compute`` role.

        Index 0's port is complete, as Heat gives it; index 1's has only
        its id and fixed IPs: the actions read its network and subnets
        from Neutron.
        """
        complete = self.heat_port_entry(ports['overcloud-novacompute-0'])
        bare = self.heat_port_entry(ports['overcloud-novacompute-1'])
        return {'RoleCtlplanePortMap': {'Compute': [
            complete, {'id': bare['id'], 'fixed_ips': bare['fixed_ips']}]}}

    def table_ips(self, stdout):
        """``{hostname: CTLPLANE IP}`` from the command's final table."""
        lines = stdout.splitlines()
        header = [index for index, line in enumerate(lines)
                  if line.startswith('HOSTNAME')]
        self.assertTrue(header, stdout)
        column = lines[header[-1]].split().index('CTLPLANE')
        return {line.split()[0]: line.split()[column]
                for line in lines[header[-1] + 1:]
                if line.split() and line.split()[0] in HEAT_IPS}

    def node_of(self, hostname):
        """The id of the node holding ``hostname``'s allocation."""
        return self.conn.baremetal.get_allocation(hostname).node_id

    def assertAttached(self, port, hostname):
        """``port`` is the only VIF of ``hostname``'s node, bound to it."""
        node_id = self.node_of(hostname)
        self.assertEqual([port.id],
                         self.conn.baremetal.list_node_vifs(node_id),
                         hostname)
        self.assertEqual(node_id,
                         self.conn.network.get_port(port.id).binding_host_id,
                         hostname)

    def test_provision_with_port_map(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(2)])
        ports = {host: self.create_heat_port('%s-ctlplane' % host, ip)
                 for host, ip in HEAT_IPS.items()}
        roles_path = self.write('roles.yaml', test_cli.roles_file(2))
        ports_path = self.write('ports.yaml', self.port_map(ports))
        key = self.write('id.pub', 'ssh-ed25519 AAAAC3Nza test\n')
        done = self.run_cli('openstack', 'overcloud', 'node', 'provision',
                            roles_path, '--port-map', ports_path,
                            '--overcloud-ssh-key', key, '-o', 'env.yaml',
                            '--poll-interval', '0.2', timeout=120)
        self.assertEqual(0, done.returncode, done.stdout + done.stderr)

        for hostname, port in ports.items():
            self.assertAttached(port, hostname)
        self.assertEqual(HEAT_IPS, self.table_ips(done.stdout))
        with open(os.path.join(self.work, 'env.yaml')) as stream:
            written = yaml.safe_load(stream)
        port_map = written['parameter_defaults']['DeployedServerPortMap']
        self.assertEqual(sorted('%s-ctlplane' % host for host in HEAT_IPS),
                         sorted(port_map))
        for hostname, ip in HEAT_IPS.items():
            entry = port_map['%s-ctlplane' % hostname]
            self.assertEqual([{'ip_address': ip}], entry['fixed_ips'])
            # Read from Neutron for index 1: the MTU is not the default.
            self.assertEqual(self.ctlplane_network.mtu,
                             entry['network']['mtu'], hostname)
            self.assertEqual([self.ctlplane_subnet.cidr],
                             [subnet['cidr'] for subnet in entry['subnets']],
                             hostname)
        self.assertIn('OS::TripleO::DeployedServer::ControlPlanePort',
                      written['resource_registry'])
