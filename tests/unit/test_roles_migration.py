"""Roles files written for tripleo-ansible: what we do the same, and not.

The inputs are shaped like tripleo-ansible's own test cases of its
``baremetal_deploy.expand`` (``tests/plugins/module_utils/
test_baremetal_deploy.py``); the expected hostnames and ``HostnameMap``
entries are what it gives, except where README's "Coming from
tripleo-ansible" table says we differ.
"""

import copy
import os
import shutil
import tempfile
import unittest
from unittest import mock

from tripleo_baremetal.common import images
from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.request import roles


def expand(roles_file, **kwargs):
    return roles.expand_roles(roles_file, **kwargs)


def errors(roles_file, **kwargs):
    with unittest.TestCase().assertRaises(exceptions.InvalidInput) as ctx:
        expand(roles_file, **kwargs)
    return ctx.exception.errors


class PinnedWithoutHostnameTest(unittest.TestCase):
    """Difference 1: an entry with ``name`` only is named after its node."""

    def test_peer_instances_without_hostname(self):
        # tripleo-ansible's test_instances_without_hostname.
        result = expand([
            {'name': 'Compute', 'count': 2,
             'defaults': {'profile': 'compute'},
             'hostname_format': 'compute-%index%.example.com'},
            {'name': 'Controller', 'count': 2,
             'defaults': {'profile': 'control'},
             'instances': [{'profile': 'control-X'},
                           # (its nics: [{subnet: leaf-2}] left out: a
                           # subnet asserts Heat's port, see below)
                           {'name': 'node-0', 'traits': ['CUSTOM_FOO']}]}])
        self.assertEqual(['compute-0.example.com', 'compute-1.example.com',
                          'overcloud-controller-0', 'node-0'],
                         [inst.hostname for inst in result['instances']])
        self.assertEqual('node-0', result['instances'][3].name)
        self.assertEqual({'compute-0.example.com': 'compute-0.example.com',
                          'compute-1.example.com': 'compute-1.example.com',
                          'overcloud-controller-0': 'overcloud-controller-0',
                          'overcloud-controller-1': 'node-0'},
                         result['environment']['parameter_defaults'][
                             'HostnameMap'])
        self.assertEqual([], result['warnings'])

    def test_peer_unprovisioned_no_hostname(self):
        # tripleo-ansible's test_unprovisioned_no_hostname: we accept
        # provisioned: false with only a name, and remove that host.
        result = expand([{
            'name': 'Controller', 'count': 2,
            'defaults': {'profile': 'control'},
            'instances': [{'name': 'node-0'},
                          {'name': 'node-1', 'provisioned': False},
                          {'name': 'node-2', 'provisioned': False},
                          {'name': 'node-3', 'provisioned': True}]}])
        self.assertEqual(['node-0', 'node-3'],
                         [inst.hostname for inst in result['instances']])
        self.assertEqual(['node-1', 'node-2'],
                         [inst.hostname for inst in result['unprovisioned']])
        params = result['environment']['parameter_defaults']
        self.assertEqual(2, params['ControllerCount'])
        self.assertEqual([{'resource_list': [1, 2]}],
                         params['ControllerRemovalPolicies'])
        # Deliberate difference: the removed indexes are not in the map.
        self.assertEqual({'overcloud-controller-0': 'node-0',
                          'overcloud-controller-3': 'node-3'},
                         params['HostnameMap'])

    def test_node_name_is_lowercased_with_a_warning(self):
        result = expand([{'name': 'Compute',
                          'instances': [{'name': 'Node-7'}]}])
        inst = result['instances'][0]
        self.assertEqual(('node-7', 'Node-7'), (inst.hostname, inst.name))
        self.assertEqual(1, len(result['warnings']))
        self.assertIn("'Node-7' normalised to 'node-7'",
                      result['warnings'][0])

    def test_node_name_that_is_no_hostname_gets_the_generated_one(self):
        result = expand([{'name': 'Compute',
                          'instances': [{'name': 'node_7'}]}])
        inst = result['instances'][0]
        self.assertEqual(('overcloud-novacompute-0', 'node_7'),
                         (inst.hostname, inst.name))
        self.assertEqual(1, len(result['warnings']))
        self.assertIn("node name 'node_7' is not a valid RFC 1123 hostname",
                      result['warnings'][0])
        self.assertIn('set hostname', result['warnings'][0])

    def test_node_name_matching_the_format_keeps_its_index(self):
        result = expand([{'name': 'Compute', 'count': 2,
                          'instances': [{'name': 'overcloud-novacompute-1'}]}])
        self.assertEqual({'overcloud-novacompute-1': 1,
                          'overcloud-novacompute-0': 0},
                         {inst.hostname: inst.index
                          for inst in result['instances']})

    def test_two_entries_pinned_to_one_node(self):
        problems = errors([{'name': 'Compute', 'count': 2,
                            'instances': [{'name': 'node-1'},
                                          {'name': 'node-1'}]}])
        self.assertIn("hostname 'node-1' is used twice", '\n'.join(problems))


class MigratedFileTest(unittest.TestCase):
    """A file that provisioned with tripleo-ansible keeps its names here."""

    def test_hostnames_and_hostname_map_unchanged(self):
        # tripleo-ansible's test_explicit_instances (its hostname in lower
        # case: upper case is lowered here, with a warning), with the
        # ports Heat made for the networks it names.
        roles_file = [
            {'name': 'Compute', 'count': 2,
             'defaults': {'profile': 'compute'},
             'hostname_format': 'compute-%index%.example.com'},
            {'name': 'Controller', 'count': 2,
             'defaults': {'profile': 'control',
                          'networks': [{'network': 'foo',
                                        'subnet': 'foo_subnet'}]},
             'instances': [
                 {'hostname': 'controller-x.example.com',
                  'profile': 'control-X',
                  'networks': [{'network': 'inst_net',
                                'fixed_ip': '10.1.1.1'}],
                  'config_drive': {'meta_data': {'foo': 'bar'}}},
                 {'name': 'node-0', 'traits': ['CUSTOM_FOO'],
                  'networks': [{'network': 'some_net', 'subnet': 'leaf-2',
                                'vif': True}],
                  'config_drive': {
                      'cloud_config': {'bootcmd': ['echo hi']}}}]}]
        result = expand(roles_file, role_net_port_id_map={'Controller': {
            'foo': ['foo-0', 'foo-1'], 'inst_net': ['inst-0', 'inst-1'],
            'some_net': ['some-0', 'some-1']}})
        # What tripleo-ansible gave for this file.
        self.assertEqual({
            'ComputeHostnameFormat': 'compute-%index%.example.com',
            'ComputeCount': 2,
            'ControllerHostnameFormat': '%stackname%-controller-%index%',
            'ControllerCount': 2,
            'HostnameMap': {
                'compute-0.example.com': 'compute-0.example.com',
                'compute-1.example.com': 'compute-1.example.com',
                'overcloud-controller-0': 'controller-x.example.com',
                'overcloud-controller-1': 'node-0'}},
            result['environment']['parameter_defaults'])
        self.assertEqual(['compute-0.example.com', 'compute-1.example.com',
                          'controller-x.example.com', 'node-0'],
                         [inst.hostname for inst in result['instances']])
        x, node0 = result['instances'][2:]
        self.assertEqual(('control-X', None), (x.profile, x.name))
        self.assertEqual(('control', 'node-0', ('CUSTOM_FOO',)),
                         (node0.profile, node0.name, node0.traits))
        # The networks merged as tripleo-ansible merged them, with its
        # implicit ctlplane entry.
        self.assertEqual({'foo', 'inst_net', 'ctlplane'},
                         {net.network for net in x.networks})
        self.assertEqual({'foo', 'some_net', 'ctlplane'},
                         {net.network for net in node0.networks})
        self.assertEqual([], result['warnings'])


class NetworksFromDefaultsTest(unittest.TestCase):
    """Difference 2: instance networks merge with the role's, by name."""

    def networks(self, inst):
        return [net.to_dict() for net in inst.networks]

    def test_fixed_ip_keeps_the_other_networks(self):
        result = expand([{
            'name': 'Controller', 'count': 2,
            'defaults': {'networks': [
                {'network': 'ctlplane', 'vif': True},
                {'network': 'internal_api', 'subnet': 'internal_api_subnet'},
                {'network': 'storage'}]},
            'instances': [{'hostname': 'overcloud-controller-0',
                           'networks': [{'network': 'internal_api',
                                         'fixed_ip': '172.16.2.10'}]}]}],
            role_net_port_id_map={'Controller': {
                net: ['%s-%d' % (net, i) for i in range(2)]
                for net in ('ctlplane', 'internal_api', 'storage')}})
        first, second = result['instances']
        self.assertEqual([{'network': 'ctlplane', 'vif': True},
                          {'network': 'internal_api',
                           'fixed_ip': '172.16.2.10'},
                          {'network': 'storage'}], self.networks(first))
        self.assertEqual([{'network': 'ctlplane', 'vif': True},
                          {'network': 'internal_api',
                           'subnet': 'internal_api_subnet'},
                          {'network': 'storage'}], self.networks(second))

    def test_peer_merge_cases(self):
        # tripleo-ansible's test_merge_networks_defaults: the instance's
        # entry wins for a network it names, the role's others are kept.
        cases = [
            ([{'network': 'role_net'}], [{'network': 'instance_net'}],
             [{'network': 'role_net'}, {'network': 'instance_net'}]),
            ([{'network': 'role_net'}],
             [{'network': 'instance_net'},
              {'network': 'role_net', 'port': 'port_uuid'}],
             [{'network': 'role_net', 'port': 'port_uuid'},
              {'network': 'instance_net'}]),
            ([{'network': 'role_net', 'subnet': 'subnet_name'}],
             [{'network': 'instance_net'}, {'network': 'role_net'}],
             [{'network': 'role_net'}, {'network': 'instance_net'}]),
        ]
        for defaults, own, merged in cases:
            with self.subTest(own=own):
                result = expand([{
                    'name': 'Compute', 'count': 1,
                    'defaults': {'networks': defaults},
                    'instances': [{'hostname': 'cmp-0', 'managed': False,
                                   'networks': own}]}])
                # Order aside (ours keeps the role's), the same entries.
                nets = self.networks(result['instances'][0])
                self.assertEqual(merged, [net for net in nets
                                          if net['network'] != 'ctlplane'])

    def test_nics_in_defaults_merge_with_instance_networks(self):
        result = expand([{
            'name': 'Compute', 'count': 1,
            'defaults': {'nics': [{'network': 'ctlplane'},
                                  {'network': 'tenant'}]},
            'instances': [{'hostname': 'cmp-0', 'managed': False,
                           'networks': [{'network': 'tenant',
                                         'fixed_ip': '172.16.0.5'}]}]}])
        self.assertEqual([{'network': 'ctlplane'},
                          {'network': 'tenant', 'fixed_ip': '172.16.0.5'}],
                         self.networks(result['instances'][0]))

    def test_empty_instance_networks_keep_the_role_networks(self):
        result = expand([{
            'name': 'Compute', 'count': 1,
            'defaults': {'networks': [{'network': 'ctlplane'}]},
            'instances': [{'hostname': 'cmp-0', 'managed': False,
                           'networks': []}]}])
        self.assertEqual((model.Network(network='ctlplane'),),
                         result['instances'][0].networks)


class EveryProblemAtOnceTest(unittest.TestCase):
    """Difference 3: a shape error no longer hides a role's other checks."""

    def test_peer_more_instances_than_count_with_name_in_defaults(self):
        # tripleo-ansible's test_more_instances_than_count: a stray
        # defaults.name and 4 instances for count 3; both are reported.
        problems = errors([{
            'name': 'Compute', 'count': 3,
            'defaults': {'profile': 'compute', 'name': 'compute-0'},
            'instances': [{'name': 'node-0'}, {'name': 'node-1'},
                          {'name': 'node-2'}, {'name': 'node-3'}]}])
        text = '\n'.join(problems)
        self.assertEqual(2, len(problems), text)
        self.assertIn("role 'Compute': defaults.name: 'compute-0' is not "
                      "allowed in defaults", text)
        self.assertIn("role 'Compute': count: 3 is less than the 4 "
                      "provisioned instance(s)", text)

    def test_hostnames_checked_in_a_role_with_a_shape_error(self):
        problems = errors([
            {'name': 'Controller', 'count': 2,
             'defaults': {'root_size_gb': 'big'},
             'instances': [{'hostname': 'ctl_0'}, {'hostname': 'dup'}]},
            {'name': 'Compute', 'instances': [{'hostname': 'dup'}]}])
        text = '\n'.join(problems)
        self.assertEqual(3, len(problems), text)
        self.assertIn("defaults.root_size_gb: 'big' must be an integer", text)
        self.assertIn("'ctl_0' is not a valid RFC 1123 hostname", text)
        self.assertIn("hostname 'dup' is used twice", text)

    def test_invalid_count_does_not_add_a_count_problem(self):
        problems = errors([{'name': 'Compute', 'count': 'three',
                            'instances': [{'hostname': 'a'},
                                          {'hostname': 'b'}]}])
        self.assertEqual(1, len(problems), problems)
        self.assertIn("count: 'three' must be an integer", problems[0])

    def test_instance_that_is_no_mapping_keeps_positions(self):
        problems = errors([{'name': 'Compute', 'count': 1,
                            'instances': ['x', {'hostname': 'bad_name'}]}])
        text = '\n'.join(problems)
        self.assertEqual(2, len(problems), text)
        self.assertIn("instances[0]: 'x' must be a mapping", text)
        self.assertIn("instance 1 (hostname 'bad_name'): instances[1]."
                      "hostname", text)

    def test_duplicate_role_is_not_planned_twice(self):
        problems = errors([{'name': 'Compute'}, {'name': 'Compute'}])
        self.assertEqual(["role 'Compute': name: 'Compute' is used by "
                          "another role"], problems)


class NetworkConfigTest(unittest.TestCase):
    """Keys 5: network_config is checked and becomes Heat's parameters."""

    NETWORK_CONFIG = {
        'template': 'templates/multiple_nics/multiple_nics_dvr.j2',
        'physical_bridge_name': 'br-ex',
        'public_interface_name': 'nic1',
        'network_config_update': True,
        'net_config_data_lookup': {'node1': {'nic1': '00:c8:7c:e6:f0:2e'}},
        'dns_search_domains': 'example.com,example.net',
        'bond_interface_ovs_options': 'bond_mode=active-backup',
        'num_dpdk_interface_rx_queues': 2,
    }

    def test_parameters_of_the_deployed_server_stage(self):
        result = expand([
            {'name': 'Controller', 'count': 2,
             'defaults': {'network_config': self.NETWORK_CONFIG}},
            {'name': 'Compute',
             'defaults': {'network_config': {
                 'template': 'templates/net_config_bridge.j2',
                 'physical_bridge_name': 'br-ex'}}},
            {'name': 'CephStorage'}])
        params = result['environment']['parameter_defaults']
        self.assertEqual('templates/multiple_nics/multiple_nics_dvr.j2',
                         params['ControllerNetworkConfigTemplate'])
        self.assertEqual(['CREATE', 'UPDATE'],
                         params['ControllerNetworkDeploymentActions'])
        self.assertEqual('templates/net_config_bridge.j2',
                         params['ComputeNetworkConfigTemplate'])
        self.assertNotIn('ComputeNetworkDeploymentActions', params)
        self.assertNotIn('CephStorageNetworkConfigTemplate', params)
        self.assertEqual('br-ex', params['NeutronPhysicalBridge'])
        self.assertEqual('nic1', params['NeutronPublicInterface'])
        self.assertEqual({'node1': {'nic1': '00:c8:7c:e6:f0:2e'}},
                         params['NetConfigDataLookup'])
        self.assertEqual(['example.com', 'example.net'],
                         params['DnsSearchDomains'])
        self.assertEqual('bond_mode=active-backup',
                         params['BondInterfaceOvsOptions'])
        self.assertEqual(2, params['NumDpdkInterfaceRxQueues'])
        self.assertEqual(self.NETWORK_CONFIG,
                         result['instances'][0].network_config)
        self.assertEqual([], result['warnings'])

    def test_update_false_is_create_only(self):
        result = expand([{'name': 'Compute', 'defaults': {
            'network_config': {'network_config_update': False}}}])
        self.assertEqual(['CREATE'], result['environment'][
            'parameter_defaults']['ComputeNetworkDeploymentActions'])

    def test_peer_merge_of_instance_and_defaults(self):
        # tripleo-ansible's test_merge_network_config_defaults: key by
        # key, the instance's value preferred.
        result = expand([{
            'name': 'Compute', 'count': 2,
            'defaults': {'network_config': {'template': 'a.j2',
                                            'dns_search_domains': ['x.com']}},
            'instances': [{'hostname': 'overcloud-novacompute-0',
                           'network_config': {
                               'dns_search_domains': ['x.com'],
                               'physical_bridge_name': 'br-ex'}}]}])
        self.assertEqual({'template': 'a.j2', 'dns_search_domains': ['x.com'],
                          'physical_bridge_name': 'br-ex'},
                         result['instances'][0].network_config)
        self.assertEqual({'template': 'a.j2', 'dns_search_domains': ['x.com']},
                         result['instances'][1].network_config)

    def test_servers_of_a_role_agree_on_its_parameters(self):
        problems = errors([{
            'name': 'Compute', 'count': 3,
            'defaults': {'network_config': {'template': 'a.j2'}},
            'instances': [{'hostname': 'overcloud-novacompute-1',
                           'network_config': {'template': 'b.j2'}},
                          {'hostname': 'overcloud-novacompute-2',
                           'network_config': {
                               'network_config_update': True}}]}])
        text = '\n'.join(problems)
        self.assertEqual(2, len(problems), text)
        self.assertIn("role 'Compute': network_config.template is 'a.j2' "
                      "(host 'overcloud-novacompute-0') but 'b.j2' (host "
                      "'overcloud-novacompute-1'): "
                      "ComputeNetworkConfigTemplate is one value per role",
                      text)
        self.assertIn("network_config.network_config_update is True (host "
                      "'overcloud-novacompute-2') but not set (host "
                      "'overcloud-novacompute-0')", text)

    def test_global_parameters_conflict_between_roles(self):
        problems = errors([
            {'name': 'Controller', 'defaults': {'network_config': {
                'public_interface_name': 'nic1',
                'net_config_data_lookup': {'n1': {'nic1': 'em1'}}}}},
            {'name': 'Compute', 'defaults': {'network_config': {
                'public_interface_name': 'nic2',
                'net_config_data_lookup': {'n1': {'nic1': 'em2'},
                                           'n2': {'nic1': 'em3'}}}}}])
        text = '\n'.join(problems)
        self.assertEqual(2, len(problems), text)
        self.assertIn('NeutronPublicInterface is one value for the whole '
                      'overcloud', text)
        self.assertIn('network_config.net_config_data_lookup.n1', text)

    def test_keys_the_stage_does_not_take_are_warnings(self):
        result = expand([{'name': 'Controller', 'count': 2, 'defaults': {
            'network_config': {'default_route_network': ['External'],
                               'networks_skip_config': ['Tenant'],
                               'nmstate': True}}}])
        self.assertEqual(3, len(result['warnings']), result['warnings'])
        self.assertIn("role 'Controller': network_config."
                      "default_route_network is not a parameter of the "
                      "deployed-server stage: set default_route_networks",
                      result['warnings'][0])

    def test_invalid_values(self):
        problems = errors([{'name': 'Controller', 'defaults': {
            'network_config': {
                'template': 5, 'network_config_update': 'yes',
                'bond_interface_ovs_options': 'bond_mode=balance-tcp',
                'num_dpdk_interface_rx_queues': 0,
                'net_config_data_lookup': {'node1': 'em1'},
                'default_route_network': 'External',
                'network_deployment_actions': ['CREATE']}}}])
        text = '\n'.join(problems)
        self.assertEqual(7, len(problems), text)
        for fragment in (
                'defaults.network_config.template: 5 must be a string',
                "network_config_update: 'yes' must be true or false",
                'must not use balance-tcp',
                'num_dpdk_interface_rx_queues: 0 must be at least 1',
                "net_config_data_lookup.node1: 'em1' must be a mapping",
                "default_route_network: 'External' must be a list",
                'network_deployment_actions: [...] is the older form of '
                'network_config_update: write network_config_update: true'):
            self.assertIn(fragment, text.replace("['CREATE']", '[...]'))


class AnsiblePlaybooksTest(unittest.TestCase):
    """Keys 5: a role's ansible_playbooks are checked and handed back."""

    def test_returned_per_role(self):
        playbooks = [
            {'playbook': '/usr/share/ansible/tripleo-playbooks/'
                         'cli-overcloud-node-growvols.yaml',
             'extra_vars': {'growvols_args': '/=8GB /var=100%'}},
            {'playbook': 'kernelargs.yaml'}]
        result = expand([{'name': 'Compute', 'count': 2,
                          'ansible_playbooks': playbooks},
                         {'name': 'Controller'}])
        self.assertEqual({'Compute': playbooks}, result['ansible_playbooks'])
        self.assertIsNot(playbooks, result['ansible_playbooks']['Compute'])

    def test_invalid(self):
        problems = errors([{'name': 'Compute', 'ansible_playbooks': [
            {'extra_vars': []}, {'playbook': 'a.yaml', 'pre_network': True},
            'b.yaml']}])
        text = '\n'.join(problems)
        self.assertEqual(4, len(problems), text)
        for fragment in ('ansible_playbooks[0].playbook is required',
                         'ansible_playbooks[0].extra_vars: [] must be a '
                         'mapping',
                         'ansible_playbooks[1].pre_network: True is not '
                         'supported (tripleo-ansible dropped it too)',
                         "ansible_playbooks[2]: 'b.yaml' must be a mapping"):
            self.assertIn(fragment, text)


def ctlplane_port(ip):
    return {'id': 'port-%s' % ip,
            'fixed_ips': [{'ip_address': ip, 'subnet_id': 'sub-1'}]}


class NetbootTest(unittest.TestCase):

    def test_only_false(self):
        result = expand([{'name': 'Compute', 'defaults': {'netboot': False}}])
        self.assertEqual(1, len(result['instances']))
        problems = errors([{'name': 'Compute', 'instances': [
            {'hostname': 'c', 'netboot': True}]}])
        self.assertIn("instances[0].netboot: True is not supported: Ironic no "
                      "longer boots deployed servers from the network",
                      problems[0])


class ManagementIpAndImplicitCtlplaneTest(unittest.TestCase):
    """Keys 5: management_ip, and tripleo-ansible's implicit ctlplane."""

    def test_management_ip_of_a_predeployed_server(self):
        result = expand(
            [{'name': 'Controller', 'instances': [
                {'hostname': 'ctl-0', 'managed': False,
                 'management_ip': '192.168.24.10'}]}],
            role_ctlplane_port_map={'Controller': [
                ctlplane_port('192.168.24.10')]})
        inst = result['instances'][0]
        self.assertEqual('192.168.24.10', inst.management_ip)
        self.assertEqual('192.168.24.10',
                         inst.to_dict()['management_ip'])
        self.assertEqual(inst, model.Instance.from_dict(inst.to_dict()))

    def test_management_ip_must_be_the_ctlplane_address(self):
        problems = errors(
            [{'name': 'Controller', 'instances': [
                {'hostname': 'ctl-0', 'managed': False,
                 'management_ip': '192.168.24.99'}]}],
            role_ctlplane_port_map={'Controller': [
                ctlplane_port('192.168.24.10')]})
        self.assertEqual(["ctl-0: management_ip '192.168.24.99' is not an "
                          "address of its ctlplane port 'port-192.168.24.10' "
                          "from role_ctlplane_port_map, which has "
                          "'192.168.24.10'"], problems)
        problems = errors([{'name': 'Controller', 'instances': [
            {'hostname': 'ctl-0', 'managed': False,
             'management_ip': 'ctl-0.example.com'}]}])
        self.assertIn("management_ip: 'ctl-0.example.com' is not an IP "
                      "address", problems[0])

    def test_management_ip_of_a_managed_server_is_a_warning(self):
        result = expand([{'name': 'Controller', 'instances': [
            {'hostname': 'ctl-0', 'management_ip': '192.168.24.10'}]}])
        self.assertIn('management_ip is only used for managed: false',
                      result['warnings'][0])

    def test_implicit_ctlplane(self):
        # tripleo-ansible's test_networks_set_default_appended.
        result = expand(
            [{'name': 'Compute', 'defaults': {'networks': [
                {'network': 'foo', 'subnet': 'foo_subnet'}]}},
             {'name': 'Controller', 'defaults': {'networks': [
                 {'network': 'foo', 'subnet': 'foo_subnet', 'vif': True}]}}],
            role_net_port_id_map={'Compute': {'foo': ['f0']},
                                  'Controller': {'foo': ['f1']}},
            role_ctlplane_port_map={'Compute': [ctlplane_port('10.0.0.1')],
                                    'Controller': [ctlplane_port('10.0.0.2')]})
        compute, controller = result['instances']
        self.assertEqual([{'network': 'foo', 'subnet': 'foo_subnet'},
                          {'network': 'ctlplane', 'vif': True}],
                         [net.to_dict() for net in compute.networks])
        self.assertEqual([{'network': 'foo', 'subnet': 'foo_subnet',
                           'vif': True},
                          {'network': 'ctlplane', 'vif': True}],
                         [net.to_dict() for net in controller.networks])

    def test_no_implicit_ctlplane_when_named_or_without_networks(self):
        result = expand(
            [{'name': 'Compute', 'defaults': {'networks': [
                {'network': 'ctlplane'}]}},
             {'name': 'Controller'}],
            role_ctlplane_port_map={'Compute': [ctlplane_port('10.0.0.1')],
                                    'Controller': [ctlplane_port('10.0.0.2')]})
        self.assertEqual([(model.Network(network='ctlplane'),), ()],
                         [inst.networks for inst in result['instances']])


class GlanceImageNamesTest(unittest.TestCase):
    """Keys 5: pre-Wallaby Glance names become the undercloud's files."""

    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        patcher = mock.patch.object(images, 'LOCAL_IMAGES_DIR',
                                    self.directory)
        patcher.start()
        self.addCleanup(patcher.stop)
        allowed = mock.patch.object(images, 'FILE_URL_ALLOWED_PATHS',
                                    (self.directory,))
        allowed.start()
        self.addCleanup(allowed.stop)

    def touch(self, *names):
        for name in names:
            with open(os.path.join(self.directory, name), 'w'):
                pass

    def url(self, name):
        return 'file://%s/%s' % (self.directory, name)

    def image_of(self, roles_file, **kwargs):
        result = expand(roles_file, **kwargs)
        return result['instances'][0].image, result['warnings']

    def test_whole_disk_raw(self):
        self.touch('overcloud-full.raw')
        image, warnings = self.image_of([{'name': 'Controller', 'defaults': {
            'image': {'href': 'overcloud-full'}}}])
        self.assertEqual({'href': self.url('overcloud-full.raw')}, image)
        self.assertIn("role 'Controller' defaults: image.href "
                      "'overcloud-full' is a Glance image name", warnings[0])

    def test_partition_set(self):
        self.touch('overcloud-full.raw', 'overcloud-full.vmlinuz',
                   'overcloud-full.initrd')
        image, _warnings = self.image_of([{'name': 'Controller', 'instances': [
            {'hostname': 'ctl-0', 'image': {'href': 'overcloud-full',
                                            'checksum': 'a' * 32}}]}])
        self.assertEqual({'href': self.url('overcloud-full.raw'),
                          'kernel': self.url('overcloud-full.vmlinuz'),
                          'ramdisk': self.url('overcloud-full.initrd')},
                         image)

    def test_qcow2_and_the_default_image(self):
        self.touch('overcloud-hardened-uefi-full.qcow2')
        image, _warnings = self.image_of(
            [{'name': 'Controller'}],
            default_image='overcloud-hardened-uefi-full')
        self.assertEqual(
            {'href': self.url('overcloud-hardened-uefi-full.qcow2')}, image)

    def test_refused_without_the_file(self):
        problems = errors([{'name': 'Controller', 'defaults': {
            'image': {'href': 'overcloud-full'}}}])
        self.assertEqual(1, len(problems), problems)
        self.assertIn("defaults.image.href: 'overcloud-full' is a Glance "
                      "image name, and there is no Glance here: write href: "
                      "%s" % self.url('overcloud-full.raw'), problems[0])
        self.assertIn('no overcloud-full.raw or overcloud-full.qcow2 is in '
                      '%s' % self.directory, problems[0])

    def test_input_not_changed(self):
        self.touch('overcloud-full.raw')
        roles_file = [{'name': 'Controller',
                       'defaults': {'image': {'href': 'overcloud-full'}},
                       'instances': [{'hostname': 'ctl-0', 'image': {
                           'href': 'overcloud-full'}}]}]
        original = copy.deepcopy(roles_file)
        expand(roles_file)
        self.assertEqual(original, roles_file)

    def test_glance_kernel_without_href_mapping(self):
        problems = errors([{'name': 'Controller', 'defaults': {'image': {
            'href': 'https://images/x.qcow2', 'kernel': 'bm-deploy-kernel',
            'ramdisk': 'https://images/x.initrd'}}}])
        self.assertEqual(["role 'Controller': defaults.image.kernel: "
                          "'bm-deploy-kernel' is a Glance image name, and "
                          "there is no Glance here: write the http(s) or file "
                          "URL of the kernel"], problems)
