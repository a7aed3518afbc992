"""Heat's ports attached for real: Ironic's ``flat`` interface on Neutron.

Ports are created the way Heat creates them (``<generated hostname>-
ctlplane``, fixed IPs on the ctlplane subnet) and handed over through
``RoleCtlplanePortMap``/``RoleNetPortIdMap``. Ironic makes its real
Neutron calls, so a VIF that was not attached, attached to the wrong
node or never detached shows, and so does network data that does not
match the port.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
from unittest import mock
import uuid

import pycdlib

from localcloud import process
from tests.functional import base
from tests.functional import neutron_base
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import sequence
from tripleo_baremetal.provisioning import undeploy
from tripleo_baremetal.request import environment
from tripleo_baremetal.request import roles

WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')
#: A trait whose deploy template disables the only fake deploy step: the
#: deploy fails with "No deploy steps returned by the driver".
FAIL_TRAIT = 'CUSTOM_FAIL_DEPLOY'
NETWORK_DATA = '/openstack/latest/network_data.json'
#: Controller index 0 gets a hostname of its own: its Heat port is still
#: named after the generated one.
CUSTOM_HOSTNAME = 'ctl-special-0'
HEAT_IPS = {
    'overcloud-controller-0': '192.168.24.10',
    'overcloud-controller-1': '192.168.24.11',
    'overcloud-novacompute-0': '192.168.24.20',
    'overcloud-novacompute-1': '192.168.24.21',
}


def make_conf():
    return baremetal_conf.standalone_conf(
        poll_interval=0.1, poll_interval_max=0.5, undeploy_timeout=60,
        file_url_allowed_paths=['/var/lib/ironic', tempfile.gettempdir()])


def read_network_data(packed):
    """``network_data.json`` of a packed config drive, or None."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(gzip.decompress(base64.b64decode(packed))))
    try:
        output = io.BytesIO()
        try:
            iso.get_file_from_iso_fp(output, rr_path=NETWORK_DATA)
        except pycdlib.pycdlibexception.PyCdlibInvalidInput:
            return None
        return json.loads(output.getvalue())
    finally:
        iso.close()


class PortsTest(neutron_base.NeutronIronicTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base.allow_temp_images(cls)
        images = tempfile.mkdtemp(prefix='tripleo-baremetal-images-')
        cls.addClassCleanup(shutil.rmtree, images, ignore_errors=True)
        path = os.path.join(images, 'overcloud-full.raw')
        with open(path, 'wb') as stream:
            stream.write(b'not really a disk image\n' * 100)
        with open(path, 'rb') as stream:
            checksum = hashlib.sha256(stream.read()).hexdigest()
        cls.image = {'href': 'file://%s' % path, 'checksum': checksum}
        cls.conf = make_conf()

    def setUp(self):
        super().setUp()
        self.drives = {}
        original = deploy._request_active

        def capture(conn, node, configdrive, steps=()):
            # The API shows the drive as '******': keep what was sent.
            self.drives[node.id] = configdrive
            return original(conn, node, configdrive, steps)

        patcher = mock.patch.object(deploy, '_request_active',
                                    side_effect=capture, autospec=True)
        patcher.start()
        self.addCleanup(patcher.stop)

    # Helpers

    def roles_file(self, compute_count, compute_instances=()):
        return [
            {'name': 'Controller', 'count': 2,
             'defaults': {'profile': 'control', 'image': self.image,
                          'networks': [{'network': 'ctlplane',
                                        'vif': True}]},
             'instances': [{'hostname': CUSTOM_HOSTNAME}]},
            {'name': 'Compute', 'count': compute_count,
             'defaults': {'profile': 'compute', 'image': self.image},
             'instances': list(compute_instances)},
        ]

    def enrol_pool(self):
        specs = [{'name': 'ctl-%d' % i,
                  'capabilities': {'profile': 'control'}} for i in range(2)]
        specs += [{'name': 'cmp-%d' % i,
                   'capabilities': {'profile': 'compute'}} for i in range(2)]
        return self.enrol_nodes(specs)

    def create_heat_ports(self):
        """Heat's ctlplane ports, by generated hostname."""
        return {host: self.create_heat_port('%s-ctlplane' % host, ip)
                for host, ip in HEAT_IPS.items()}

    def deploy(self, roles_file, **port_maps):
        expanded = roles.expand_roles(roles_file, default_image=self.image,
                                      **port_maps)
        result = sequence.deploy_instances(
            self.conn, expanded['instances'], concurrency=4, timeout=60,
            conf=self.conf, ssh_keys=['ssh-ed25519 AAAA functional'])
        return expanded, result

    def ironic_writes(self):
        counts = self.ironic.request_counts()
        return {method: counts[method] for method in WRITES
                if counts.get(method)}

    def node_of(self, result, hostname):
        found = [inst.node for inst in result['instances']
                 if inst.hostname == hostname]
        self.assertEqual(1, len(found), 'no single node carries %s: %s'
                         % (hostname, result['instances']))
        return found[0]

    def bond_nics(self, node):
        """Put the NICs of available ``node`` into a port group.

        Ironic only lets a port join a group in maintenance (or before the
        node is manageable).
        """
        nics = list(self.conn.baremetal.ports(node=node.id, details=True))
        group = self.conn.baremetal.create_port_group(
            node_id=node.id, address=nics[0].address, mode='active-backup')
        self.conn.baremetal.set_node_maintenance(node, reason='bonding')
        for nic in nics:
            self.conn.baremetal.patch_port(nic, [
                {'op': 'add', 'path': '/portgroup_uuid', 'value': group.id}])
        self.conn.baremetal.unset_node_maintenance(node)
        return group

    def assertAttached(self, node_id, port, hostname):
        """``port`` is the only VIF of active ``node_id``, bound to it."""
        node = self.conn.baremetal.get_node(node_id)
        self.assertEqual('active', node.provision_state,
                         '%s: %s' % (hostname, node.last_error))
        self.assertEqual(hostname, node.instance_info['display_name'])
        self.assertEqual([port.id],
                         self.conn.baremetal.list_node_vifs(node_id),
                         hostname)
        current = self.conn.network.get_port(port.id)
        self.assertEqual(node_id, current.binding_host_id, hostname)
        nic = list(self.conn.baremetal.ports(node=node_id, details=True))[0]
        self.assertEqual(port.id, nic.internal_info.get('tenant_vif_port_id'))
        # Ironic gives the Neutron port the MAC of the NIC carrying it.
        self.assertEqual(nic.address, current.mac_address)
        return nic

    def assertNetworkData(self, node_id, port, nic, hostname):
        """The drive sent with ``active`` describes ``port`` on ``nic``."""
        self.assertIn(node_id, self.drives, '%s: no deploy request with a '
                      'config drive for node %s' % (hostname, node_id))
        data = read_network_data(self.drives[node_id])
        self.assertIsNotNone(data, '%s: no network_data.json' % hostname)
        subnet = self.ctlplane_subnet
        dns = [{'type': 'dns', 'address': address}
               for address in subnet.dns_nameservers]
        link = 'port-%s' % port.id
        self.assertEqual({
            'links': [{'id': link, 'type': 'phy', 'vif_id': port.id,
                       'ethernet_mac_address': nic.address.lower(),
                       'mtu': self.ctlplane_network.mtu}],
            'networks': [{
                'id': 'network0', 'link': link,
                'network_id': self.ctlplane_network.id, 'type': 'ipv4',
                'ip_address': port.fixed_ips[0]['ip_address'],
                'netmask': '255.255.255.0',
                'routes': [
                    {'network': '0.0.0.0', 'netmask': '0.0.0.0',
                     'gateway': subnet.gateway_ip},
                    {'network': '10.20.0.0', 'netmask': '255.255.0.0',
                     'gateway': '192.168.24.254'}],
                'services': dns}],
            'services': dns,
        }, data, hostname)

    def assertReportedIps(self, expanded, result, ports, hosts):
        """Each host's reported ctlplane IP is its attached port's.

        Both reports: ``DeployedServerPortMap`` for Heat, and the
        workflow's ``ctlplane_ips`` output (the same expression as in
        workbooks/baremetal_deploy.yaml).
        """
        env = environment.populate_environment(
            expanded['environment'],
            [item.instance for item in result['instances']])
        port_map = env['parameter_defaults'].get('DeployedServerPortMap',
                                                 {})
        deployed = [item.instance for item in
                    result['existing_instances'] + result['new_instances']]
        ctlplane_ips = {
            inst.hostname: inst.ctlplane_port.fixed_ips[0]['ip_address']
            for inst in deployed
            if inst.ctlplane_port and inst.ctlplane_port.fixed_ips}
        self.assertEqual(sorted(hosts), sorted(ctlplane_ips))
        for hostname, generated in hosts.items():
            vifs = self.conn.baremetal.list_node_vifs(
                self.node_of(result, hostname))
            attached = self.conn.network.get_port(vifs[0])
            self.assertEqual(ports[generated].id, attached.id, hostname)
            entry = port_map.get('%s-ctlplane' % hostname)
            self.assertIsNotNone(entry, '%s: missing from '
                                 'DeployedServerPortMap %s'
                                 % (hostname, sorted(port_map)))
            self.assertEqual([{'ip_address': ip['ip_address']}
                              for ip in attached.fixed_ips],
                             entry['fixed_ips'], hostname)
            self.assertEqual(self.ctlplane_network.mtu,
                             entry['network'].get('mtu'), hostname)
            self.assertEqual(attached.fixed_ips[0]['ip_address'],
                             ctlplane_ips[hostname], hostname)

    def assertDetached(self, ports):
        """No VIF on any available node; the ports are in Neutron, unbound.

        Heat owns the ports: undeploying must detach them, never delete
        them.
        """
        for node in self.conn.baremetal.nodes(provision_state='available'):
            self.assertEqual([], self.conn.baremetal.list_node_vifs(node.id),
                             node.name)
        for port in ports:
            current = self.conn.network.get_port(port.id)
            self.assertEqual(port.fixed_ips, current.fixed_ips, port.name)
            self.assertFalse(current.binding_host_id, port.name)

    # Tests

    def test_ports_attached_detached_and_reported(self):
        self.enrol_pool()
        ports = self.create_heat_ports()
        full = {'Controller': [
            self.heat_port_entry(ports['overcloud-controller-0']),
            self.heat_port_entry(ports['overcloud-controller-1'])],
            'Compute': [
                self.heat_port_entry(ports['overcloud-novacompute-0'])]}
        hosts = {CUSTOM_HOSTNAME: 'overcloud-controller-0',
                 'overcloud-controller-1': 'overcloud-controller-1',
                 'overcloud-novacompute-0': 'overcloud-novacompute-0'}

        # Complete port maps, as Heat gives them.
        self.neutron.reset_request_counts()
        expanded, result = self.deploy(self.roles_file(1),
                                       role_ctlplane_port_map=full)
        # Complete ports are still looked up (they may have been deleted
        # since), in one request; their networks and subnets are not.
        self.assertEqual({'GET /v2.0/ports': 1}, self.neutron_reads())
        self.assertEqual(sorted(hosts), sorted(
            inst.hostname for inst in result['new_instances']))
        for hostname, generated in hosts.items():
            node_id = self.node_of(result, hostname)
            nic = self.assertAttached(node_id, ports[generated], hostname)
            self.assertNetworkData(node_id, ports[generated], nic, hostname)
        self.assertReportedIps(expanded, result, ports, hosts)

        # Scale up with maps lacking network and subnets: the Controller
        # ports as ids and fixed IPs only, Compute's through
        # RoleNetPortIdMap alone. Existing instances keep their ports.
        hosts['overcloud-novacompute-1'] = 'overcloud-novacompute-1'
        bare = {'Controller': [{'id': entry['id'],
                                'fixed_ips': entry['fixed_ips']}
                               for entry in full['Controller']]}
        net_ids = {'Compute': {'ctlplane': [
            ports['overcloud-novacompute-0'].id,
            ports['overcloud-novacompute-1'].id]}}
        self.drives.clear()
        self.neutron.reset_request_counts()
        expanded, result = self.deploy(self.roles_file(2),
                                       role_ctlplane_port_map=bare,
                                       role_net_port_id_map=net_ids)
        self.assertEqual(['overcloud-novacompute-1'], [
            inst.hostname for inst in result['new_instances']])
        self.assertEqual({'GET /v2.0/ports': 1, 'GET /v2.0/networks': 1,
                          'GET /v2.0/subnets': 1}, self.neutron_reads())
        for hostname, generated in hosts.items():
            self.assertAttached(self.node_of(result, hostname),
                                ports[generated], hostname)
        node_id = self.node_of(result, 'overcloud-novacompute-1')
        nic = self.assertAttached(node_id, ports['overcloud-novacompute-1'],
                                  'overcloud-novacompute-1')
        self.assertNetworkData(node_id, ports['overcloud-novacompute-1'],
                               nic, 'overcloud-novacompute-1')
        self.assertReportedIps(expanded, result, ports, hosts)

        # Scale down: Heat dropped the removed server's port from its maps.
        removed = self.node_of(result, 'overcloud-novacompute-0')
        scaled = self.roles_file(1, [{'hostname': 'overcloud-novacompute-0',
                                      'provisioned': False}])
        net_ids = {'Compute': {'ctlplane': [
            ports['overcloud-novacompute-1'].id]}}
        expanded = roles.expand_roles(scaled, default_image=self.image,
                                      role_ctlplane_port_map=bare,
                                      role_net_port_id_map=net_ids)
        self.assertEqual(['overcloud-novacompute-0'], [
            inst.hostname for inst in expanded['unprovisioned']])
        outcome = undeploy.undeploy_instances(
            self.conn,
            [inst.hostname for inst in expanded['unprovisioned']],
            conf=self.conf)
        self.assertEqual([removed], [item.node
                                     for item in outcome['undeployed']])
        self.assertEqual([], self.conn.baremetal.list_node_vifs(removed))
        self.assertDetached([ports['overcloud-novacompute-0']])
        # What is left is found as is: nothing is written.
        self.ironic.reset_request_counts()
        result = sequence.deploy_instances(
            self.conn, expanded['instances'], timeout=60, conf=self.conf)
        self.assertEqual([], result['new_instances'])
        self.assertEqual({}, self.ironic_writes())

        undeploy.undeploy_instances(
            self.conn, [inst.hostname for inst in expanded['instances']],
            conf=self.conf)
        self.assertEqual(
            {'available'}, {node.provision_state
                            for node in self.conn.baremetal.nodes()})
        self.assertDetached(list(ports.values()))

    def test_wrong_port_fails_before_any_write(self):
        nodes = self.enrol_nodes([
            {'name': 'cmp-%d' % i, 'capabilities': {'profile': 'compute'}}
            for i in range(3)])
        good = self.create_heat_port('overcloud-novacompute-0-ctlplane',
                                     HEAT_IPS['overcloud-novacompute-0'])
        taken = self.create_heat_port('elsewhere-ctlplane', '192.168.24.50')
        self.conn.baremetal.attach_vif_to_node(nodes[1], taken.id,
                                               retry_on_conflict=False)
        # On a node with a bond, Ironic records the VIF on the port group.
        bonded = self.create_heat_port('bonded-ctlplane', '192.168.24.51')
        self.bond_nics(nodes[2])
        self.conn.baremetal.attach_vif_to_node(nodes[2], bonded.id,
                                               retry_on_conflict=False)
        self.assertEqual([bonded.id], [
            group.internal_info.get('tenant_vif_port_id') for group in
            self.conn.baremetal.port_groups(node=nodes[2].id, details=True)])
        unknown = dict(self.heat_port_entry(good), id=str(uuid.uuid4()))
        roles_file = [{'name': 'Compute', 'count': 1,
                       'defaults': {'profile': 'compute',
                                    'image': self.image}}]
        cases = {
            'unknown, complete': (unknown, 'does not exist'),
            'unknown, id only': ({'id': unknown['id']}, 'does not exist'),
            'attached elsewhere, complete': (
                self.heat_port_entry(taken),
                'is already attached to node %s' % nodes[1].id),
            'attached elsewhere, id only': (
                {'id': taken.id},
                'is already attached to node %s' % nodes[1].id),
            'attached to a bond elsewhere': (
                self.heat_port_entry(bonded),
                'is already attached to node %s' % nodes[2].id),
        }
        for case, (entry, problem) in cases.items():
            with self.subTest(case):
                self.ironic.reset_request_counts()
                self.assertRaisesRegex(
                    exceptions.InvalidInput,
                    'overcloud-novacompute-0: port %s %s' % (entry['id'],
                                                             problem),
                    self.deploy, roles_file,
                    role_ctlplane_port_map={'Compute': [entry]})
                self.assertEqual({}, self.ironic_writes())
                self.assertEqual([], list(self.conn.baremetal.allocations()))
                self.assertEqual([taken.id],
                                 self.conn.baremetal.list_node_vifs(nodes[1]))
                self.assertEqual([bonded.id],
                                 self.conn.baremetal.list_node_vifs(nodes[2]))

    def test_failed_deploy_releases_its_port(self):
        # Heat's port must be free again once the failed node is released,
        # or the re-run refuses it as "already attached" to that node.
        template = self.conn.baremetal.create_deploy_template(
            name=FAIL_TRAIT, steps=[{'interface': 'deploy', 'step': 'deploy',
                                     'args': {}, 'priority': 0}])
        self.addCleanup(self.conn.baremetal.delete_deploy_template,
                        template.id, ignore_missing=True)
        node = self.enrol_nodes([{'name': 'cmp-0', 'traits': [FAIL_TRAIT],
                                  'capabilities': {'profile': 'compute'}}])[0]
        port = self.create_heat_port('overcloud-novacompute-0-ctlplane',
                                     HEAT_IPS['overcloud-novacompute-0'])
        roles_file = [{'name': 'Compute', 'count': 1,
                       'defaults': {'profile': 'compute', 'image': self.image,
                                    'traits': [FAIL_TRAIT]}}]
        port_map = {'Compute': [self.heat_port_entry(port)]}
        self.assertRaisesRegex(exceptions.DeployError,
                               'No deploy steps returned by the driver',
                               self.deploy, roles_file,
                               role_ctlplane_port_map=port_map)

        def released():
            current = self.conn.baremetal.get_node(node.id)
            return current.provision_state == 'available' and \
                not current.reservation

        process.wait_until(released, 60, interval=0.2,
                           what='node %s to be available again' % node.id)
        self.assertEqual([], self.conn.baremetal.list_node_vifs(node.id))
        self.assertDetached([port])
        # And the port can be used: the same request without the trait
        # deploys.
        del roles_file[0]['defaults']['traits']
        expanded, result = self.deploy(roles_file,
                                       role_ctlplane_port_map=port_map)
        self.assertAttached(node.id, port, 'overcloud-novacompute-0')

    def test_bonded_node_link_has_the_bond_mac(self):
        # Ironic attaches the VIF to the port group and gives the Neutron
        # port the group's MAC; the config drive must name that MAC, or
        # cloud-init configures no NIC and the node is unreachable.
        node = self.enrol_nodes([{'name': 'cmp-0', 'capabilities': {
            'profile': 'compute'}}])[0]
        group = self.bond_nics(node)
        port = self.create_heat_port('overcloud-novacompute-0-ctlplane',
                                     HEAT_IPS['overcloud-novacompute-0'])
        roles_file = [{'name': 'Compute', 'count': 1,
                       'defaults': {'profile': 'compute',
                                    'image': self.image}}]
        self.deploy(roles_file, role_ctlplane_port_map={
            'Compute': [self.heat_port_entry(port)]})
        self.assertEqual([port.id],
                         self.conn.baremetal.list_node_vifs(node.id))
        self.assertEqual(group.address,
                         self.conn.network.get_port(port.id).mac_address)
        data = read_network_data(self.drives[node.id])
        self.assertEqual([group.address.lower()],
                         [link['ethernet_mac_address']
                          for link in data['links']],
                         'the link must carry the MAC of the port group '
                         'carrying the VIF, not the one Neutron generated')
