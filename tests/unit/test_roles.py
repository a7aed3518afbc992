"""Roles file expansion: the rules, the errors and the Heat environment."""

import copy
import io
import os
import tempfile
import unittest
from unittest import mock

import yaml

from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.request import port_maps
from tripleo_baremetal.request import roles

IMAGE = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}


def port(ip, port_id=None, subnets=True, mtu=1500):
    result = {'id': port_id or 'port-%s' % ip,
              'fixed_ips': [{'ip_address': ip, 'subnet_id': 'sub-1'}]}
    if subnets:
        result['network'] = {'name': 'ctlplane', 'mtu': mtu,
                             'tags': ['192.168.24.0/24']}
        result['subnets'] = [{'cidr': '192.168.24.0/24',
                              'gateway_ip': '192.168.24.1',
                              'host_routes': [],
                              'dns_nameservers': ['192.168.24.1'],
                              'ip_version': 4}]
    return result


class ExpandTest(unittest.TestCase):

    def expand(self, roles_file, **kwargs):
        return roles.expand_roles(roles_file, **kwargs)

    def hostnames(self, result, key='instances'):
        return [inst.hostname for inst in result[key]]

    def test_defaults(self):
        result = self.expand([{'name': 'Controller'}, {'name': 'Compute'},
                              {'name': 'CephStorage', 'count': 2}])
        self.assertEqual(['overcloud-controller-0', 'overcloud-novacompute-0',
                          'overcloud-cephstorage-0',
                          'overcloud-cephstorage-1'],
                         self.hostnames(result))
        inst = result['instances'][0]
        self.assertIsInstance(inst, model.Instance)
        self.assertEqual('baremetal', inst.resource_class)
        self.assertTrue(inst.provisioned)
        self.assertTrue(inst.managed)
        self.assertEqual({'href': 'file:///var/lib/ironic/images/'
                                  'overcloud-full.raw'}, inst.image)
        self.assertEqual({'cloud_config': {}, 'meta_data': {}},
                         inst.config_drive)
        params = result['environment']['parameter_defaults']
        self.assertEqual(1, params['ControllerCount'])
        self.assertEqual('%stackname%-novacompute-%index%',
                         params['ComputeHostnameFormat'])
        self.assertEqual(2, params['CephStorageCount'])
        self.assertNotIn('DeployedServerPortMap', params)
        self.assertNotIn('resource_registry', result['environment'])
        self.assertEqual([], result['unprovisioned'])

    def test_stack_name_and_custom_format(self):
        result = self.expand([{'name': 'Controller', 'count': 2,
                               'hostname_format': 'ctl-%stackname%-%index%'}],
                             stackname='prod')
        self.assertEqual(['ctl-prod-0', 'ctl-prod-1'], self.hostnames(result))

    def test_count_zero(self):
        result = self.expand([{'name': 'Compute', 'count': 0}])
        self.assertEqual([], result['instances'])
        self.assertEqual(
            0, result['environment']['parameter_defaults']['ComputeCount'])

    def test_empty_roles_file(self):
        result = self.expand(None)
        self.assertEqual([], result['instances'])

    def test_defaults_and_instance_override(self):
        result = self.expand([{
            'name': 'Compute', 'count': 2,
            'defaults': {'profile': 'compute', 'resource_class': 'compute',
                         'traits': ['CUSTOM_A'], 'image': IMAGE,
                         'root_size_gb': 50, 'ssh_public_keys': 'ssh-rsa A\n'
                                                                'ssh-rsa B',
                         'config_drive': {'cloud_config': {
                             'ntp': {'servers': ['a']}, 'timezone': 'UTC'}}},
            'instances': [{'hostname': 'overcloud-novacompute-0',
                           'traits': ['CUSTOM_B'], 'root_size_gb': 80,
                           'config_drive': {'cloud_config': {
                               'ntp': {'enabled': True}},
                               'meta_data': {'rack': '4'}}}]}])
        first, second = result['instances']
        self.assertEqual(('CUSTOM_B',), first.traits)
        self.assertEqual(80, first.root_size_gb)
        self.assertEqual({'ntp': {'servers': ['a'], 'enabled': True},
                          'timezone': 'UTC'},
                         first.config_drive['cloud_config'])
        self.assertEqual({'rack': '4'}, first.config_drive['meta_data'])
        self.assertEqual(('CUSTOM_A',), second.traits)
        self.assertEqual(50, second.root_size_gb)
        self.assertEqual('compute', second.resource_class)
        self.assertEqual({'profile': 'compute'}, second.capabilities)
        self.assertEqual('compute', second.profile)
        self.assertEqual(('ssh-rsa A', 'ssh-rsa B'),
                         second.ssh_public_keys)

    def test_defaults_are_not_shared_between_instances(self):
        result = self.expand([{'name': 'Compute', 'count': 2, 'defaults': {
            'config_drive': {'cloud_config': {'a': {'b': 1}}}}}])
        first, second = result['instances']
        first.config_drive['cloud_config']['a']['b'] = 2
        self.assertEqual(1, second.config_drive['cloud_config']['a']['b'])

    def test_capabilities_and_profile(self):
        result = self.expand([{'name': 'Controller', 'defaults': {
            'profile': 'control',
            'capabilities': {'boot_mode': 'uefi', 'secure': True,
                             'cpus': 8}}}])
        self.assertEqual({'profile': 'control', 'boot_mode': 'uefi',
                          'secure': 'true', 'cpus': '8'},
                         result['instances'][0].capabilities)

    def test_profile_from_capabilities(self):
        result = self.expand([{'name': 'Controller', 'defaults': {
            'capabilities': {'profile': 'control'}}}])
        self.assertEqual('control', result['instances'][0].profile)

    def test_nics_is_networks(self):
        result = self.expand([{'name': 'Controller', 'defaults': {
            'nics': [{'network': 'ctlplane'}]}}])
        self.assertEqual((model.Network(network='ctlplane'),),
                         result['instances'][0].networks)

    def test_default_image_parameter(self):
        result = self.expand([{'name': 'Controller'}],
                             default_image='https://images/x.qcow2')
        self.assertEqual({'href': 'https://images/x.qcow2'},
                         result['instances'][0].image)

    def test_pinned_and_custom_hostnames(self):
        result = self.expand([{
            'name': 'Controller', 'count': 3,
            'instances': [{'hostname': 'ctrl-a', 'name': 'node-1'},
                          {'name': 'node-2'}]}])
        # A pinned entry without hostname is named after its node, as
        # tripleo-ansible names it.
        self.assertEqual(['ctrl-a', 'node-2',
                          'overcloud-controller-2'], self.hostnames(result))
        self.assertEqual(['node-1', 'node-2', None],
                         [inst.name for inst in result['instances']])
        self.assertEqual({'overcloud-controller-0': 'ctrl-a',
                          'overcloud-controller-1': 'node-2',
                          'overcloud-controller-2': 'overcloud-controller-2'},
                         result['environment']['parameter_defaults'][
                             'HostnameMap'])

    def test_generated_name_keeps_index(self):
        result = self.expand([{
            'name': 'Controller', 'count': 3,
            'instances': [{'hostname': 'overcloud-controller-2'},
                          {'hostname': 'custom'}]}])
        by_host = {inst.hostname: inst.index
                   for inst in result['instances']}
        self.assertEqual({'overcloud-controller-2': 2, 'custom': 0,
                          'overcloud-controller-1': 1}, by_host)

    def test_scale_down(self):
        result = self.expand([{
            'name': 'Compute', 'count': 3,
            'instances': [{'hostname': 'overcloud-novacompute-1',
                           'provisioned': False},
                          {'hostname': 'overcloud-novacompute-4',
                           'provisioned': False}]}])
        self.assertEqual(['overcloud-novacompute-0', 'overcloud-novacompute-2',
                          'overcloud-novacompute-3'], self.hostnames(result))
        self.assertEqual(['overcloud-novacompute-1',
                          'overcloud-novacompute-4'],
                         self.hostnames(result, 'unprovisioned'))
        params = result['environment']['parameter_defaults']
        self.assertEqual(3, params['ComputeCount'])
        self.assertEqual([{'resource_list': [1, 4]}],
                         params['ComputeRemovalPolicies'])
        self.assertNotIn('overcloud-novacompute-1', params['HostnameMap'])

    def test_unmanaged_counts_and_is_in_hostname_map(self):
        result = self.expand([{
            'name': 'Controller', 'count': 2,
            'instances': [{'hostname': 'predeployed-0', 'managed': False}]}])
        params = result['environment']['parameter_defaults']
        self.assertEqual(2, params['ControllerCount'])
        self.assertEqual('predeployed-0',
                         params['HostnameMap']['overcloud-controller-0'])
        self.assertFalse(result['instances'][0].managed)

    def test_uppercase_hostname_normalised_and_reported(self):
        result = self.expand([{'name': 'Controller',
                               'instances': [{'hostname': 'Ctrl-A'}]}])
        self.assertEqual(['ctrl-a'], self.hostnames(result))
        self.assertEqual(1, len(result['warnings']))
        self.assertIn("'Ctrl-A' normalised to 'ctrl-a'",
                      result['warnings'][0])

    def test_uppercase_stack_name(self):
        result = self.expand([{'name': 'Controller'}], stackname='Prod')
        inst = result['instances'][0]
        self.assertEqual('prod-controller-0', inst.hostname)
        self.assertEqual('Prod-controller-0', inst.generated_hostname)

    def test_port_maps(self):
        result = self.expand(
            [{'name': 'Controller', 'count': 2},
             {'name': 'Compute', 'count': 2,
              'instances': [{'hostname': 'overcloud-novacompute-0',
                             'provisioned': False}]}],
            role_ctlplane_port_map={
                'Controller': [port('192.168.24.10'),
                               dict(port('192.168.24.11'), status='DOWN',
                                    name='ctl-1-ctlplane')],
                'Compute': [port('192.168.24.21', subnets=False),
                            port('192.168.24.22')],
                'ObjectStorage': []},
            role_net_port_id_map={'Controller': {'internal_api': ['i0', 'i1'],
                                                 'storage': []}})
        ctl0, ctl1, cmp1, cmp2 = result['instances']
        self.assertEqual(model.Port.from_neutron(port('192.168.24.11')),
                         ctl1.ctlplane_port)
        self.assertEqual({'internal_api': 'i1',
                          'ctlplane': 'port-192.168.24.11'},
                         ctl1.network_ports)
        self.assertEqual(('overcloud-novacompute-1', 'port-192.168.24.21'),
                         (cmp1.hostname, cmp1.ctlplane_port.id))
        self.assertEqual('port-192.168.24.22', cmp2.ctlplane_port.id)
        env = result['environment']
        port_map = env['parameter_defaults']['DeployedServerPortMap']
        # The compute without subnets waits for Neutron data.
        self.assertEqual(['overcloud-controller-0-ctlplane',
                          'overcloud-controller-1-ctlplane',
                          'overcloud-novacompute-2-ctlplane'],
                         sorted(port_map))
        self.assertEqual({
            'fixed_ips': [{'ip_address': '192.168.24.10'}],
            'network': {'tags': ['192.168.24.0/24'], 'mtu': 1500},
            'subnets': [{'cidr': '192.168.24.0/24',
                         'gateway_ip': '192.168.24.1',
                         'host_routes': [],
                         'dns_nameservers': ['192.168.24.1']}],
        }, port_map['overcloud-controller-0-ctlplane'])
        self.assertEqual(
            {'OS::TripleO::DeployedServer::ControlPlanePort':
             '/usr/share/openstack-tripleo-heat-templates/'
             'deployed-server/deployed-neutron-port.yaml'},
            env['resource_registry'])

    def test_port_assignment_makes_new_instances(self):
        instances = self.expand([{'name': 'Controller', 'count': 2}])[
            'instances']
        reported = []
        assigned = port_maps.assign_ports(
            'Controller', list(reversed(instances)), {},
            {'Controller': [port('10.0.0.1'), port('10.0.0.2')]},
            lambda *problem: reported.append(problem))
        self.assertEqual([], reported)
        # Matched by index, returned in the order given.
        self.assertEqual(['port-10.0.0.2', 'port-10.0.0.1'],
                         [inst.ctlplane_port.id for inst in assigned])
        self.assertEqual({'ctlplane': 'port-10.0.0.2'},
                         assigned[0].network_ports)
        self.assertEqual([None, None],
                         [inst.ctlplane_port for inst in instances])
        self.assertEqual([{}, {}],
                         [inst.network_ports for inst in instances])

    def test_deterministic(self):
        roles_file = [{'name': 'Controller', 'count': 3,
                       'instances': [{'hostname': 'x'},
                                     {'hostname': 'overcloud-controller-1'}]},
                      {'name': 'Compute', 'count': 5}]
        self.assertEqual(self.expand(copy.deepcopy(roles_file)),
                         self.expand(copy.deepcopy(roles_file)))

    def test_input_not_modified(self):
        roles_file = [{'name': 'Controller', 'count': 2, 'defaults': {
            'nics': [{'network': 'ctlplane'}]},
            'instances': [{'hostname': 'Upper'}]}]
        original = copy.deepcopy(roles_file)
        self.expand(roles_file)
        self.assertEqual(original, roles_file)


class InvalidInputTest(unittest.TestCase):
    """Each case: (roles file, expected fragments of the error message)."""

    cases = {
        'not a list': ({'name': 'Controller'}, ['roles', "'name'",
                                                'must be a list']),
        'role not a mapping': (['Controller'],
                               ['roles[0]: \'Controller\' must be a mapping']),
        'missing name': ([{'count': 1}], ['roles[0]', 'name is required']),
        'unknown role key': ([{'name': 'Controller', 'flavor': 'x'}],
                             ["role 'Controller'", 'flavor', "'x'",
                              'not a known key']),
        'count not int': ([{'name': 'Controller', 'count': 'three'}],
                          ["role 'Controller'", 'count', "'three'",
                           'must be an integer']),
        'count bool': ([{'name': 'Controller', 'count': True}],
                       ['count', 'True', 'must be an integer']),
        'count negative': ([{'name': 'Controller', 'count': -1}],
                           ['count', '-1', 'at least 0']),
        'bad role name': ([{'name': 'Control ler'}],
                          ["name: 'Control ler'", 'not a role name']),
        'duplicate role': ([{'name': 'Compute'}, {'name': 'Compute'}],
                           ["role 'Compute'", 'used by another role']),
        'format placeholder': (
            [{'name': 'Controller', 'hostname_format': '%stack%-%index%'}],
            ["role 'Controller'", 'hostname_format', "'%stack%-%index%'",
             'unknown placeholder', '%stack%']),
        'format without index': (
            [{'name': 'Controller', 'hostname_format': '%stackname%-ctl'}],
            ['hostname_format', "'%stackname%-ctl'", '%index%']),
        'format gives bad hostname': (
            [{'name': 'Controller', 'hostname_format': 'ctl_%index%'}],
            ['hostname_format', "'ctl_%index%'",
             'cannot give a valid RFC 1123 hostname whatever']),
        'unknown instance key': (
            [{'name': 'Controller', 'instances': [{'hostnam': 'x'}]}],
            ["role 'Controller' instance 0", 'instances[0].hostnam',
             'not a known key']),
        'instance not a mapping': (
            [{'name': 'Controller', 'instances': ['ctrl-0']}],
            ["role 'Controller' instance 0", "instances[0]: 'ctrl-0'",
             'must be a mapping']),
        'instances not a list': (
            [{'name': 'Controller', 'instances': {'hostname': 'x'}}],
            ['instances', 'must be a list']),
        'hostname in defaults': (
            [{'name': 'Controller', 'defaults': {'hostname': 'x'}}],
            ["role 'Controller'", 'defaults.hostname', "'x'",
             'not allowed in defaults']),
        'name in defaults': (
            [{'name': 'Controller', 'defaults': {'name': 'node-1'}}],
            ['defaults.name', "'node-1'", 'not allowed in defaults']),
        'provisioned in defaults': (
            [{'name': 'Controller', 'defaults': {'provisioned': False}}],
            ['defaults.provisioned', 'False', 'not allowed in defaults']),
        'unknown defaults key': (
            [{'name': 'Controller', 'defaults': {'flavor': 'control'}}],
            ['defaults.flavor', "'control'", 'not a known key']),
        'provisioned not bool': (
            [{'name': 'Controller',
              'instances': [{'hostname': 'a', 'provisioned': 'no'}]}],
            ["instance 0 (hostname 'a')", 'instances[0].provisioned',
             "'no'", 'true or false']),
        'root size too small': (
            [{'name': 'Controller',
              'instances': [{'hostname': 'a', 'root_size_gb': 2}]}],
            ["(hostname 'a')", 'instances[0].root_size_gb', '2',
             'at least 4']),
        'swap too small': (
            [{'name': 'Controller', 'defaults': {'swap_size_mb': 10}}],
            ['defaults.swap_size_mb', '10', 'at least 64']),
        'bad trait': (
            [{'name': 'Controller', 'defaults': {'traits': ['gpu']}}],
            ['defaults.traits[0]', "'gpu'", 'not a trait name']),
        'traits not list': (
            [{'name': 'Controller', 'defaults': {'traits': 'CUSTOM_A'}}],
            ['defaults.traits', "'CUSTOM_A'", 'must be a list']),
        'capabilities not mapping': (
            [{'name': 'Controller',
              'defaults': {'capabilities': 'profile:control'}}],
            ['defaults.capabilities', "'profile:control'",
             'must be a mapping']),
        'capability value list': (
            [{'name': 'Controller',
              'defaults': {'capabilities': {'boot_mode': ['uefi']}}}],
            ['defaults.capabilities.boot_mode', "['uefi']",
             'string, number or boolean']),
        'image without href': (
            [{'name': 'Controller', 'defaults': {'image': {
                'checksum': 'a' * 32}}}],
            ['defaults.image.href', 'is required']),
        'image bad scheme': (
            [{'name': 'Controller', 'defaults': {'image': {
                'href': 'ftp://images/overcloud.qcow2'}}}],
            ['defaults.image.href', "'ftp://images/overcloud.qcow2'",
             'http, https or file URL']),
        'image bad checksum': (
            [{'name': 'Controller', 'defaults': {'image': {
                'href': 'http://x/y.qcow2', 'checksum': 'abc'}}}],
            ['defaults.image.checksum', "'abc'", 'hex digest']),
        'image kernel without ramdisk': (
            [{'name': 'Controller', 'defaults': {'image': {
                'href': 'http://x/y.qcow2', 'kernel': 'http://x/k'}}}],
            ['defaults.image.ramdisk is required when kernel is set']),
        'image unknown key': (
            [{'name': 'Controller', 'defaults': {'image': {
                'href': 'http://x/y.qcow2', 'checksum_url': 'x'}}}],
            ['defaults.image.checksum_url', 'not a known key']),
        'network unknown key': (
            [{'name': 'Controller', 'defaults': {'networks': [
                {'net': 'ctlplane'}]}}],
            ['defaults.networks[0].net', "'ctlplane'", 'not a known key']),
        'nics and networks': (
            [{'name': 'Controller', 'defaults': {
                'nics': [{'network': 'a'}], 'networks': [{'network': 'a'}]}}],
            ['defaults.nics', 'networks are both set']),
        'config drive unknown key': (
            [{'name': 'Controller', 'defaults': {'config_drive': {
                'user_data': 'x'}}}],
            ['defaults.config_drive.user_data', 'not a known key']),
        'cloud config not mapping': (
            [{'name': 'Controller', 'defaults': {'config_drive': {
                'cloud_config': '#cloud-config'}}}],
            ['defaults.config_drive.cloud_config', '<hidden str',
             'must be a mapping']),
        'ssh keys wrong type': (
            [{'name': 'Controller', 'defaults': {'ssh_public_keys': 42}}],
            ['defaults.ssh_public_keys', '42', 'must be a list']),
        'empty hostname': (
            [{'name': 'Controller', 'instances': [{'hostname': ''}]}],
            ['instances[0].hostname', "''", 'must not be empty']),
        'invalid hostname': (
            [{'name': 'Controller', 'instances': [{'hostname': 'ctl_0'}]}],
            ["role 'Controller' instance 0 (hostname 'ctl_0')",
             'instances[0].hostname',
             "'ctl_0'", 'RFC 1123']),
        'hostname label too long': (
            [{'name': 'Controller', 'instances': [{'hostname': 'a' * 64}]}],
            ['a' * 64, 'RFC 1123']),
        'too many provisioned': (
            [{'name': 'Controller', 'count': 1,
              'instances': [{'hostname': 'a'}, {'hostname': 'b'}]}],
            ["role 'Controller'", 'count: 1', '2 provisioned instance']),
        'duplicate hostname across roles': (
            [{'name': 'Controller', 'instances': [{'hostname': 'host-a'}]},
             {'name': 'Compute', 'instances': [{'hostname': 'HOST-A'}]}],
            ["hostname 'host-a' is used twice", "role 'Controller' index 0",
             "role 'Compute' index 0"]),
        'duplicate generated hostname': (
            [{'name': 'Controller', 'count': 2,
              'instances': [{'hostname': 'overcloud-compute-0'}]},
             {'name': 'Compute', 'count': 1,
              'hostname_format': '%stackname%-compute-%index%'}],
            ["hostname 'overcloud-compute-0' is used twice"]),
        'duplicate node name': (
            [{'name': 'Controller', 'instances': [{'name': 'node-1'}]},
             {'name': 'Compute', 'instances': [{'name': 'node-1'}]}],
            ["node name 'node-1' is used twice", "role 'Controller'",
             "role 'Compute'"]),
        'unprovisioned without hostname': (
            [{'name': 'Compute', 'count': 0,
              'instances': [{'provisioned': False}]}],
            ["role 'Compute' instance 0",
             'instances[0].hostname is required when provisioned is false']),
        'unprovisioned node name that is no hostname': (
            [{'name': 'Compute', 'count': 0,
              'instances': [{'name': 'node_1', 'provisioned': False}]}],
            ["role 'Compute' instance 0",
             'instances[0].hostname is required when provisioned is false',
             "name 'node_1' is not a valid RFC 1123 hostname"]),
        'profile conflict': (
            [{'name': 'Controller', 'defaults': {
                'profile': 'control', 'capabilities': {'profile': 'ceph'}}}],
            ['profile', "'control'", "capabilities.profile 'ceph'"]),
        'bad stack name': ([{'name': 'Controller'}], ['stackname', "''"],
                           {'stackname': ''}),
        'ctlplane map length': (
            [{'name': 'Controller', 'count': 2}],
            ['role_ctlplane_port_map.Controller', 'has 1 port(s)',
             'role Controller has 2 provisioned instance(s)'],
            {'role_ctlplane_port_map': {'Controller': [port('10.0.0.1')]}}),
        'net map length': (
            [{'name': 'Controller', 'count': 1}],
            ['role_net_port_id_map.Controller.internal_api', 'has 2 port(s)',
             '1 provisioned instance(s)'],
            {'role_net_port_id_map': {'Controller': {
                'internal_api': ['a', 'b']}}}),
        'port map unknown role': (
            [{'name': 'Controller'}],
            ['role_ctlplane_port_map.Compute', "role 'Compute' is not in "
             'the roles file'],
            {'role_ctlplane_port_map': {'Compute': [port('10.0.0.1')]}}),
        'port without id': (
            [{'name': 'Controller'}],
            ['role_ctlplane_port_map.Controller[0].id is required'],
            {'role_ctlplane_port_map': {'Controller': [
                {'fixed_ips': [{'ip_address': '10.0.0.1'}]}]}}),
        'port bad ip': (
            [{'name': 'Controller'}],
            ['role_ctlplane_port_map.Controller[0].fixed_ips[0].ip_address',
             "'10.0.0.300'", 'not an IP address'],
            {'role_ctlplane_port_map': {'Controller': [
                {'id': 'p', 'fixed_ips': [{'ip_address': '10.0.0.300'}]}]}}),
        'port bad cidr': (
            [{'name': 'Controller'}],
            ['role_ctlplane_port_map.Controller[0].subnets[0].cidr',
             "'10.0.0/33'", 'not a CIDR'],
            {'role_ctlplane_port_map': {'Controller': [
                {'id': 'p', 'subnets': [{'cidr': '10.0.0/33'}]}]}}),
        'port bad mtu': (
            [{'name': 'Controller'}],
            ['role_ctlplane_port_map.Controller[0].network.mtu', "'big'",
             'must be an integer'],
            {'role_ctlplane_port_map': {'Controller': [
                {'id': 'p', 'network': {'mtu': 'big'}}]}}),
        'net map not ids': (
            [{'name': 'Controller'}],
            ['role_net_port_id_map.Controller', "'port-1'",
             'must be a mapping of network name'],
            {'role_net_port_id_map': {'Controller': 'port-1'}}),
        'relative templates root': (
            [{'name': 'Controller'}],
            ["templates: 'tht' must be an absolute path"],
            {'templates': 'tht'}),
        'bad default image': (
            [{'name': 'Controller'}],
            ['default_image.href', "'glance://overcloud-full'",
             'http, https or file URL'],
            {'default_image': 'glance://overcloud-full'}),
    }

    def test_invalid_inputs(self):
        self.assertGreaterEqual(len(self.cases), 25)
        for label, case in sorted(self.cases.items()):
            roles_file, fragments = case[:2]
            kwargs = case[2] if len(case) > 2 else {}
            with self.subTest(label):
                with self.assertRaises(exceptions.InvalidInput) as ctx:
                    roles.expand_roles(roles_file, **kwargs)
                for fragment in fragments:
                    self.assertIn(fragment, str(ctx.exception))

    def test_all_problems_reported_at_once(self):
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            roles.expand_roles([
                {'name': 'Controller', 'count': 'x'},
                {'name': 'Compute', 'defaults': {'root_size_gb': 1}},
            ])
        self.assertEqual(2, len(ctx.exception.errors))
        self.assertIn('2 problems found', str(ctx.exception))

    def test_no_api_is_used(self):
        # Expansion is pure: nothing imports or calls openstacksdk.
        with mock.patch('openstack.connect', autospec=True) as connect:
            self.assertRaises(exceptions.InvalidInput, roles.expand_roles,
                              [{'name': 'Controller', 'count': -1}])
        connect.assert_not_called()


class CommandLineTest(unittest.TestCase):

    def run_main(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with mock.patch('sys.stdout', out), mock.patch('sys.stderr', err):
            code = roles.main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def test_example(self):
        top = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        code, out, _ = self.run_main(
            os.path.join(top, 'examples', 'overcloud.yaml'), '--stack',
            'overcloud', '--port-map',
            os.path.join(top, 'examples', 'port-map.yaml'))
        self.assertEqual(0, code)
        result = yaml.safe_load(out)
        params = result['environment']['parameter_defaults']
        self.assertEqual(3, params['ControllerCount'])
        self.assertEqual([{'resource_list': [1]}],
                         params['ComputeRemovalPolicies'])
        self.assertEqual(6, len(result['instances']))
        self.assertEqual('overcloud-controller-0',
                         result['instances'][0]['hostname'])
        self.assertEqual(
            result['instances'][0],
            model.Instance.from_dict(result['instances'][0]).to_dict())

    def test_invalid_file(self):
        with tempfile.NamedTemporaryFile('w', suffix='.yaml') as roles_file:
            roles_file.write('- name: Controller\n  count: -2\n')
            roles_file.flush()
            code, out, err = self.run_main(roles_file.name)
        self.assertEqual(2, code)
        self.assertEqual('', out)
        self.assertIn("role 'Controller': count: -2 must be at least 0", err)

    def test_yaml_error(self):
        with tempfile.NamedTemporaryFile('w', suffix='.yaml') as roles_file:
            roles_file.write('- name: [Controller\n')
            roles_file.flush()
            code, _, err = self.run_main(roles_file.name)
        self.assertEqual(2, code)
        self.assertIn('is not valid YAML', err)
