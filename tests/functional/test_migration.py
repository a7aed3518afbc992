"""A roles file written for tripleo-ansible, deployed by the workbook.

It uses what such files carry and we used to refuse or handle
differently: ``network_config``, ``ansible_playbooks``, an instance
pinned to a node without a hostname, and instance networks merged with
the role's. It deploys on a real Mistral and Ironic; the environment
carries the network config parameters of the deployed-server stage.
"""

import os

from tests.functional import base
from tests.functional import test_workflows

TOP = test_workflows.TOP
WB = test_workflows.WB
TEMPLATES = '/home/stack/tripleo-heat-templates'


class MigratedRolesFileTest(base.MistralTestCase):

    WORKBOOKS = [os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml')]
    MISTRAL_OPTIONS = {'tripleo_baremetal': {'check_local_images': False}}

    def roles_file(self):
        image = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}
        return [
            {'name': 'Controller', 'count': 2,
             'defaults': {
                 'profile': 'control', 'image': image,
                 'networks': [{'network': 'ctlplane', 'vif': True},
                              {'network': 'internal_api'}],
                 'network_config': {
                     'template': 'templates/multiple_nics/'
                                 'multiple_nics_dvr.j2',
                     'physical_bridge_name': 'br-ex',
                     'public_interface_name': 'nic2',
                     'network_config_update': True,
                     'dns_search_domains': ['example.com'],
                     'net_config_data_lookup': {
                         'ctl-7': {'nic1': '52:54:00:00:00:07'}}}},
             'instances': [
                 {'hostname': 'overcloud-controller-0',
                  'networks': [{'network': 'ctlplane', 'vif': True,
                                'fixed_ip': '192.168.24.10'}]},
                 # Pinned, no hostname: named after its node.
                 {'name': 'ctl-7'}],
             'ansible_playbooks': [
                 {'playbook': '/usr/share/ansible/tripleo-playbooks/'
                              'cli-overcloud-node-growvols.yaml',
                  'extra_vars': {'growvols_args': '/=8GB /var=100%'}}]},
            {'name': 'Compute', 'count': 1,
             'defaults': {'profile': 'compute', 'image': image,
                          'network_config': {
                              'template': 'templates/net_config_bridge.j2',
                              'physical_bridge_name': 'br-ex'}}},
        ]

    def test_deploys_with_network_config_and_playbooks(self):
        self.enrol_nodes(
            [{'name': name, 'capabilities': {'profile': 'control'}}
             for name in ('ctl-0', 'ctl-7')]
            + [{'name': 'cmp-0', 'capabilities': {'profile': 'compute'}}])
        ports = {'Controller': [test_workflows.ctlplane_port(0),
                                test_workflows.ctlplane_port(1)],
                 'Compute': [test_workflows.ctlplane_port(20)]}
        # Heat made the internal_api ports (its RoleNetPortIdMap): with
        # them given, no Neutron is needed (without them deploy_roles
        # would make them, see test_created_ports).
        internal_api = {'Controller': {'internal_api': [
            '1a7e0000-0000-4000-8000-00000000000%d' % i for i in (0, 1)]}}
        execution = self.run_workflow(WB + 'deploy_roles', {
            'roles': self.roles_file(), 'role_ctlplane_port_map': ports,
            'role_net_port_id_map': internal_api,
            'ssh_keys': ['ssh-ed25519 AAAA demo'], 'templates': TEMPLATES},
            timeout=120)
        self.assertExecutionSucceeded(execution)
        output = execution.output

        by_host = {item['hostname']: item for item in output['instances']}
        self.assertEqual({'overcloud-controller-0', 'ctl-7',
                          'overcloud-novacompute-0'}, set(by_host))
        self.assertEqual('ctl-7', by_host['ctl-7']['node_name'])
        nodes = {node.name: node for node in self.conn.baremetal.nodes()}
        self.assertEqual('active', nodes['ctl-7'].provision_state)
        # The instance's ctlplane entry replaced the role's (its fixed_ip
        # was checked against Heat's port); the role's internal_api was
        # kept: both hosts have both ports (the summaries in
        # ``instances`` do not repeat the request's networks).
        self.assertEqual('192.168.24.10',
                         output['ctlplane_ips']['overcloud-controller-0'])
        for host in ('overcloud-controller-0', 'ctl-7'):
            self.assertEqual({'ctlplane', 'internal_api'},
                             set(output['ports'][host]), host)
        self.assertEqual('1a7e0000-0000-4000-8000-000000000001',
                         output['ports']['ctl-7']['internal_api'])

        environment = output['environment']
        params = environment['parameter_defaults']
        self.assertEqual({'overcloud-controller-0': 'overcloud-controller-0',
                          'overcloud-controller-1': 'ctl-7',
                          'overcloud-novacompute-0':
                              'overcloud-novacompute-0'},
                         params['HostnameMap'])
        self.assertEqual('templates/multiple_nics/multiple_nics_dvr.j2',
                         params['ControllerNetworkConfigTemplate'])
        self.assertEqual(['CREATE', 'UPDATE'],
                         params['ControllerNetworkDeploymentActions'])
        self.assertEqual('templates/net_config_bridge.j2',
                         params['ComputeNetworkConfigTemplate'])
        self.assertEqual('br-ex', params['NeutronPhysicalBridge'])
        self.assertEqual('nic2', params['NeutronPublicInterface'])
        self.assertEqual(['example.com'], params['DnsSearchDomains'])
        self.assertEqual({'ctl-7': {'nic1': '52:54:00:00:00:07'}},
                         params['NetConfigDataLookup'])
        self.assertEqual({'overcloud-controller-0-ctlplane', 'ctl-7-ctlplane',
                          'overcloud-novacompute-0-ctlplane'},
                         set(params['DeployedServerPortMap']))
        self.assertEqual(
            {'OS::TripleO::DeployedServer::ControlPlanePort':
             TEMPLATES + '/deployed-server/deployed-neutron-port.yaml'},
            environment['resource_registry'])

        self.assertEqual({'Controller': [
            {'playbook': '/usr/share/ansible/tripleo-playbooks/'
                         'cli-overcloud-node-growvols.yaml',
             'extra_vars': {'growvols_args': '/=8GB /var=100%'}}]},
            output['ansible_playbooks'])
