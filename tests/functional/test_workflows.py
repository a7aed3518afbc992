"""The workbook on a real Mistral engine driving a real Ironic."""

import os
import shutil
import tempfile

from tests.functional import base

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WB = 'tripleo.baremetal_deploy.v1.'
WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')


def ctlplane_port(index):
    return {'id': '00000000-0000-4000-8000-%012d' % index,
            'fixed_ips': [{'ip_address': '192.168.24.%d' % (10 + index),
                           'subnet_id': 'ctlplane-subnet'}],
            'network': {'name': 'ctlplane', 'mtu': 1450,
                        'tags': ['192.168.24.0/24']},
            'subnets': [{'cidr': '192.168.24.0/24',
                         'gateway_ip': '192.168.24.1', 'host_routes': [],
                         'dns_nameservers': ['192.168.24.254'],
                         'ip_version': 4}]}


class WorkflowTest(base.MistralTestCase):

    WORKBOOKS = [os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml')]
    MISTRAL_OPTIONS = {'tripleo_baremetal': {'check_local_images': False}}

    def roles_file(self, computes=3, removed=()):
        image = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}
        return [
            {'name': 'Controller', 'count': 3,
             'defaults': {'profile': 'control', 'image': image}},
            {'name': 'Compute', 'count': computes,
             'defaults': {'profile': 'compute', 'image': image},
             'instances': [{'hostname': host, 'provisioned': False}
                           for host in removed]},
        ]

    def port_maps(self, roles_file):
        counts = {role['name']: role.get('count', 1) for role in roles_file}
        return {
            'role_ctlplane_port_map': {
                name: [ctlplane_port(20 * position + i)
                       for i in range(max(counts[name], 0))]
                for position, name in enumerate(counts)},
            'role_net_port_id_map': {},
        }

    def deploy_roles(self, roles_file, **inputs):
        inputs = dict(self.port_maps(roles_file), roles=roles_file,
                      ssh_keys=['ssh-ed25519 AAAA demo'], **inputs)
        return self.run_workflow(WB + 'deploy_roles', inputs, timeout=120)

    def writes(self):
        counts = self.ironic.request_counts()
        return sum(counts.get(method, 0) for method in WRITES)

    def test_deploy_rerun_scale_and_undeploy(self):
        self.enrol_nodes(
            [{'name': 'ctl-%d' % i, 'capabilities': {'profile': 'control'}}
             for i in range(3)]
            + [{'name': 'cmp-%d' % i, 'capabilities': {'profile': 'compute'}}
               for i in range(4)])

        execution = self.deploy_roles(self.roles_file(), concurrency=3)
        self.assertExecutionSucceeded(execution)
        output = execution.output
        self.assertEqual(6, len(output['new_instances']))
        self.assertEqual([], output['existing_instances'])
        self.assertEqual(6, len(output['instances']))
        self.assertEqual('192.168.24.10',
                         output['ctlplane_ips']['overcloud-controller-0'])
        params = output['environment']['parameter_defaults']
        self.assertEqual(3, params['ControllerCount'])
        self.assertEqual(3, params['ComputeCount'])
        self.assertEqual('overcloud-novacompute-2',
                         params['HostnameMap']['overcloud-novacompute-2'])
        self.assertEqual(
            [{'ip_address': '192.168.24.32'}],
            params['DeployedServerPortMap'][
                'overcloud-novacompute-2-ctlplane']['fixed_ips'])
        self.assertEqual(6, len(output['ctlplane_ips']))
        deployed = [n for n in self.conn.baremetal.nodes(details=True)
                    if n.provision_state == 'active']
        active = {n.name for n in deployed}
        self.assertEqual(6, len(active))
        self.assertLessEqual({'ctl-0', 'ctl-1', 'ctl-2'}, active)
        # Said, so that the conductor need not ask the image server.
        self.assertEqual({'whole-disk'},
                         {n.instance_info.get('image_type')
                          for n in deployed})

        # Re-run: nothing new, nothing written.
        self.ironic.reset_request_counts()
        execution = self.deploy_roles(self.roles_file())
        self.assertExecutionSucceeded(execution)
        self.assertEqual([], execution.output['new_instances'])
        self.assertEqual(6, len(execution.output['existing_instances']))
        self.assertEqual(0, self.writes(), self.ironic.request_counts())
        # From check_existing_instances alone on this path.
        self.assertEqual(output['ctlplane_ips'],
                         execution.output['ctlplane_ips'])

        # Scale up: one more compute.
        execution = self.deploy_roles(self.roles_file(computes=4))
        self.assertExecutionSucceeded(execution)
        # new_instances: hostnames (doc/source/scale.md).
        self.assertEqual(['overcloud-novacompute-3'],
                         execution.output['new_instances'])

        # Scale down exactly one named host.
        victim = [i for i in execution.output['instances']
                  if i['hostname'] == 'overcloud-novacompute-1'][0]
        smaller = self.roles_file(computes=3,
                                  removed=['overcloud-novacompute-1'])
        execution = self.run_workflow(WB + 'undeploy_roles',
                                      {'roles': smaller}, timeout=120)
        self.assertExecutionSucceeded(execution)
        self.assertEqual(['overcloud-novacompute-1'],
                         [u['hostname']
                          for u in execution.output['undeployed']])
        nodes = {n.name: n for n in self.conn.baremetal.nodes(details=True)}
        self.assertEqual('available',
                         nodes[victim['node_name']].provision_state)
        self.assertEqual(6, sum(1 for n in nodes.values()
                                if n.provision_state == 'active'))
        execution = self.deploy_roles(smaller)
        self.assertExecutionSucceeded(execution)
        params = execution.output['environment']['parameter_defaults']
        self.assertEqual([{'resource_list': [1]}],
                         params['ComputeRemovalPolicies'])
        self.assertEqual([], execution.output['new_instances'])

        # Undeploy everything by hostname.
        hostnames = sorted(i['hostname']
                           for i in execution.output['instances'])
        execution = self.run_workflow(
            WB + 'undeploy_instances', {'hostnames': hostnames},
            timeout=120)
        self.assertExecutionSucceeded(execution)
        self.assertEqual(6, len(execution.output['undeployed']))
        self.assertEqual(
            {'available'},
            {n.provision_state for n in self.conn.baremetal.nodes()})
        self.assertEqual([], list(self.conn.baremetal.allocations()))

    def deploy_five(self, **inputs):
        """Deploy 3 controllers and 2 computes; every node ends active.

        :returns: ``(execution, {name: task})`` of deploy_instances'
            tasks, to see how the deploy step ran.
        """
        self.enrol_nodes(
            [{'name': 'ctl-%d' % i, 'capabilities': {'profile': 'control'}}
             for i in range(3)]
            + [{'name': 'cmp-%d' % i, 'capabilities': {'profile': 'compute'}}
               for i in range(2)])
        execution = self.deploy_roles(self.roles_file(computes=2), **inputs)
        self.assertExecutionSucceeded(execution)
        self.assertEqual(5, len(execution.output['new_instances']))
        self.assertEqual(
            {'active'},
            {n.provision_state for n in self.conn.baremetal.nodes()})
        client = self.mistral_client
        parent = [task for task in client.tasks.list(
            workflow_execution_id=execution.id)
            if task.name == 'deploy_instances'][0]
        child = client.executions.list(task=parent.id)[0]
        return execution, {task.name: task for task in client.tasks.list(
            workflow_execution_id=child.id)}

    def test_batches_deploy_every_node(self):
        # deploy_instances' batch_size: deploy_nodes actions of 2 nodes,
        # the last one of 1; each node still gets its own config drive.
        execution, tasks = self.deploy_five(batch_size=2, concurrency=2)
        self.assertEqual('192.168.24.31',
                         execution.output['ctlplane_ips'][
                             'overcloud-novacompute-1'])
        self.assertIn('deploy_batches', tasks)
        self.assertNotIn('deploy_node', tasks)

    def test_more_nodes_than_concurrency_deploy_in_batches(self):
        # batch_size 0 (the default): 5 nodes at concurrency 2 make 2
        # deploy_nodes actions (of 3 and 2 nodes), not 5 items.
        execution, tasks = self.deploy_five(concurrency=2)
        self.assertNotIn('deploy_node', tasks)
        self.assertEqual(2, len(self.mistral_client.action_executions.list(
            task_execution_id=tasks['deploy_batches'].id)))

    def test_shared_config_drives_stay_under_the_default_limit(self):
        # Mistral's default execution_field_size_limit_kb (1,024 KB).
        # Each host's copy of its role's 64 KB cloud_config made the
        # expand_roles result 20 x 64 KB = 1,280 KB before the drives were
        # shared (doc/source/scale.md): over the limit at N = 20, which deploys
        # in seconds, where a 2 KB cloud_config needs N = 300.
        self.enrol_nodes(
            [{'name': 'ctl-%d' % i, 'capabilities': {'profile': 'control'}}
             for i in range(10)]
            + [{'name': 'cmp-%d' % i, 'capabilities': {'profile': 'compute'}}
               for i in range(10)])
        roles_file = self.roles_file(computes=10)
        roles_file[0]['count'] = 10
        for role in roles_file:
            role['defaults']['config_drive'] = {'cloud_config': {
                'write_files': [{'path': '/etc/%s' % role['name'],
                                 'content': 'x' * 64 * 1024}]}}
        execution = self.deploy_roles(roles_file, concurrency=10)
        self.assertExecutionSucceeded(execution)
        self.assertEqual(20, len(execution.output['instances']))
        self.assertEqual(
            {'active'},
            {n.provision_state for n in self.conn.baremetal.nodes()})
        # No cloud_config in the outputs.
        self.assertNotIn('xxxxxxxx', str(execution.output))

    def test_impossible_request_reports_and_reserves_nothing(self):
        self.enrol_nodes(
            [{'name': 'ctl-%d' % i, 'capabilities': {'profile': 'control'}}
             for i in range(2)]
            + [{'name': 'cmp-0', 'capabilities': {'profile': 'compute'}}])
        execution = self.deploy_roles(self.roles_file(computes=1))
        self.assertEqual('ERROR', execution.state)
        info = execution.state_info
        self.assertIn('overcloud-controller-2', info)
        self.assertIn('Controller needs 3, 2 eligible', info)
        self.assertIn("profile is 'compute'", info)
        self.assertIn('cmp-0', info)
        self.assertEqual([], list(self.conn.baremetal.allocations()))
        self.assertEqual(
            {'available'},
            {n.provision_state for n in self.conn.baremetal.nodes()})

    def test_invalid_roles_file(self):
        execution = self.deploy_roles([{'name': 'Controller', 'count': -1}])
        self.assertEqual('ERROR', execution.state)
        self.assertIn("role 'Controller': count: -1 must be at least 0",
                      execution.state_info)

    def test_undeploy_stack_removes_every_instance(self):
        # What the Heat hook runs on DELETE: provisioned or not, every
        # host of the file goes; after a partial create too.
        self.enrol_nodes(
            [{'name': 'ctl-%d' % i, 'capabilities': {'profile': 'control'}}
             for i in range(3)]
            + [{'name': 'cmp-%d' % i, 'capabilities': {'profile': 'compute'}}
               for i in range(2)])
        roles_file = self.roles_file(computes=2)
        self.assertExecutionSucceeded(self.deploy_roles(roles_file))
        scaled = self.roles_file(computes=2,
                                 removed=['overcloud-novacompute-1'])
        execution = self.run_workflow(WB + 'undeploy_stack',
                                      {'roles': scaled}, timeout=120)
        self.assertExecutionSucceeded(execution)
        self.assertEqual(5, len(execution.output['undeployed']))
        self.assertEqual([], list(self.conn.baremetal.allocations()))
        # Nothing left (or a file that never expanded): still a success.
        for roles_data in (scaled, [{'name': 'Controller', 'count': -1}]):
            execution = self.run_workflow(WB + 'undeploy_stack',
                                          {'roles': roles_data}, timeout=60)
            self.assertExecutionSucceeded(execution)
            self.assertEqual([], execution.output['undeployed'])


class WorkflowFailureTest(base.MistralTestCase):
    """Failures on the real engine: readable state_info, nothing reserved.

    Mistral here checks ``file://`` images (the default), as on an
    undercloud where the conductor shares the file system; the test
    images live in the temporary directory, listed as allowed.
    """

    WORKBOOKS = WorkflowTest.WORKBOOKS
    MISTRAL_OPTIONS = {'tripleo_baremetal': {
        'file_url_allowed_paths': tempfile.gettempdir()}}

    def setUp(self):
        super().setUp()
        self.image_dir = tempfile.mkdtemp(prefix='tripleo-baremetal-img-')
        self.addCleanup(shutil.rmtree, self.image_dir, ignore_errors=True)
        self.image = os.path.join(self.image_dir, 'overcloud.raw')
        with open(self.image, 'wb') as stream:
            stream.write(b'image')

    def run_deploy(self, roles_file):
        return self.run_workflow(WB + 'deploy_roles', {'roles': roles_file},
                                 timeout=120)

    def assert_nothing_reserved(self):
        self.assertEqual([], list(self.conn.baremetal.allocations()))
        for node in self.conn.baremetal.nodes(details=True):
            self.assertIn(node.provision_state, ('available', 'cleaning',
                                                 'deleting', 'clean wait'))
            self.assertFalse({key: value for key, value
                              in (node.instance_info or {}).items()
                              if key != 'traits'}, node.name)

    def test_deploy_node_failure_releases_every_node(self):
        self.enrol_nodes([{'name': 'cmp-%d' % i} for i in range(2)])
        missing = 'file://%s/no-such.raw' % self.image_dir
        execution = self.run_deploy([{'name': 'Compute', 'count': 2,
                                      'defaults': {'image': {
                                          'href': missing}}}])
        self.assertEqual('ERROR', execution.state)
        self.assertIn('overcloud-novacompute-0', execution.state_info)
        self.assertIn('overcloud-novacompute-1', execution.state_info)
        self.assertIn('no-such.raw', execution.state_info)
        self.assertIn('does not exist on this host', execution.state_info)
        self.assert_nothing_reserved()

    def test_ironic_deploy_failure_reports_last_error(self):
        self.make_deploys_fail('CUSTOM_BROKEN')
        self.enrol_nodes([{'name': 'broken', 'traits': ['CUSTOM_BROKEN']}])
        execution = self.run_deploy([{'name': 'Compute', 'defaults': {
            'traits': ['CUSTOM_BROKEN'],
            'image': {'href': 'file://%s' % self.image}}}])
        self.assertEqual('ERROR', execution.state)
        self.assertIn('overcloud-novacompute-0: node broken',
                      execution.state_info)
        self.assertIn('No deploy steps returned by the driver',
                      execution.state_info)
        self.conn.baremetal.wait_for_nodes_provision_state(
            ['broken'], 'available', timeout=60)
        self.assert_nothing_reserved()
