"""Root device hints, RAID and deploy steps, adoption: the workbook's way.

One real Ironic (fake hardware, the ``agent`` inspect interface so that
nodes carry a real inspection inventory, node history on) and a real
Mistral running the installed workbook. The actions reach Ironic
through a recording proxy, so the tests can check what was sent (the
provision request's deploy steps, the RAID config, the absence of any
power request on adoption); the tests read Ironic directly.
"""

import os

from localcloud import process
from tests.functional import base

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WB = 'tripleo.baremetal_deploy.v1.'
WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')
IMAGE = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}
GIB = 1024 ** 3

SMALL_DISK = {'name': '/dev/sda', 'size': 238 * GIB, 'serial': 'S-SMALL',
              'wwn': '0x5000c500aaaa0001', 'rotational': False}
BIG_DISKS = [
    {'name': '/dev/sda', 'size': 238 * GIB, 'serial': 'S-BOOT',
     'wwn': '0x5000c500bbbb0001', 'rotational': False},
    {'name': '/dev/sdb', 'size': 931 * GIB, 'serial': 'S-DATA',
     'wwn': '0x5000c500bbbb0002', 'rotational': True,
     'by_path': '/dev/disk/by-path/pci-0000:00:1f.2-ata-2'},
]
RAID = {'logical_disks': [{'size_gb': 100, 'raid_level': '1',
                           'is_root_volume': True}]}


def role(count=1, instances=(), **defaults):
    return [{'name': 'Controller', 'count': count,
             'defaults': dict({'image': IMAGE}, **defaults),
             'instances': list(instances)}]


class HardwareWorkflowTest(base.ProxiedMistralTestCase):

    WORKBOOKS = [os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml')]
    MISTRAL_OPTIONS = {'tripleo_baremetal': {'check_local_images': False,
                                             'api_retries': 1,
                                             'api_retry_delay': 0.05}}
    IRONIC_OPTIONS = {
        'DEFAULT': {'enabled_inspect_interfaces': 'fake,agent,no-inspect'},
        'inspector': {'require_managed_boot': False},
        'conductor': {'node_history': True},
    }

    def run_wb(self, name, timeout=120, **inputs):
        return self.run_workflow(WB + name, inputs, timeout=timeout)

    def record(self):
        self.ironic.reset_request_counts()
        self.proxy.recorded = []
        self.proxy.recording = True

    def sent(self, method, suffix):
        return [item for item in self.proxy.recorded
                if item.method == method
                and item.path.split('?')[0].endswith(suffix)]

    def writes(self):
        counts = self.ironic.request_counts()
        return sum(counts.get(method, 0) for method in WRITES)

    def node(self, name):
        return self.conn.baremetal.get_node(name)

    # Root device

    def test_root_device_from_inspection_data(self):
        self.enrol_nodes([
            {'name': 'small', 'disks': [SMALL_DISK]},
            {'name': 'big', 'disks': BIG_DISKS,
             'properties': {'root_device': {'name': '/dev/sda'}}},
            {'name': 'plain'},
        ])
        self.record()
        execution = self.run_wb('deploy_roles', roles=role(
            root_device={'size': '>= 500'}))
        self.assertExecutionSucceeded(execution)
        [instance] = execution.output['instances']
        self.assertEqual('big', instance['node_name'])
        big = self.node('big')
        self.assertEqual('active', big.provision_state)
        # The chosen disk's WWN, not /dev/sdb (which may change).
        self.assertEqual({'wwn': '0x5000c500bbbb0002'},
                         big.properties['root_device'])
        # One inventory read per candidate, one by the deploy.
        counts = self.ironic.request_counts(by_path=True)
        self.assertEqual(4, counts['GET /v1/nodes/*/inventory'])

        execution = self.run_wb('undeploy_instances',
                                hostnames=['overcloud-controller-0'])
        self.assertExecutionSucceeded(execution)
        self.assertEqual({'name': '/dev/sda'},
                         self.node('big').properties['root_device'])

    def test_root_device_policy_and_impossible_request(self):
        self.enrol_nodes([
            {'name': 'small', 'disks': [SMALL_DISK]},
            {'name': 'big', 'disks': BIG_DISKS},
            {'name': 'plain'},
        ])
        execution = self.run_wb('deploy_roles', roles=role(
            count=2, root_device={'size': '>= 500'}))
        self.assertEqual('ERROR', execution.state)
        info = execution.state_info
        self.assertIn("root_device {size: '>= 500'}: no matching disk: "
                      'small (sda 238 GiB)', info)
        self.assertIn('not inspected: plain', info)
        self.assertEqual([], list(self.conn.baremetal.allocations()))

        execution = self.run_wb('deploy_roles', roles=role(
            count=2, root_device='largest'))
        self.assertExecutionSucceeded(execution)
        self.assertEqual({'wwn': '0x5000c500aaaa0001'},
                         self.node('small').properties['root_device'])
        self.assertEqual({'wwn': '0x5000c500bbbb0002'},
                         self.node('big').properties['root_device'])
        self.assertEqual('plain', self.node('plain').name)
        self.assertNotIn('root_device', self.node('plain').properties)

    # RAID and deploy steps

    def test_raid_config_set_and_dropped_step_caught(self):
        self.enrol_nodes([
            {'name': 'raid-0', 'raid_interface': 'fake'},
            {'name': 'noraid', 'raid_interface': 'no-raid'},
        ])
        execution = self.run_wb('deploy_roles', roles=role(
            count=2, raid_config=RAID))
        self.assertEqual('ERROR', execution.state)
        self.assertIn('raid_interface no-raid cannot build a RAID '
                      'configuration: noraid', execution.state_info)
        self.assertEqual([], list(self.conn.baremetal.allocations()))

        self.record()
        execution = self.run_wb('deploy_roles', roles=role(
            raid_config=RAID, deploy_steps=[
                {'interface': 'bios', 'step': 'apply_configuration',
                 'args': {'settings': [{'name': 'LogicalProc',
                                        'value': 'Enabled'}]},
                 'priority': 150}]))
        # The fake RAID and BIOS interfaces have no deploy steps: Ironic
        # drops both and the node reaches active; the run catches it.
        self.assertEqual('ERROR', execution.state)
        info = execution.state_info
        self.assertIn('node raid-0', info)
        self.assertIn('bios.apply_configuration, raid.apply_configuration '
                      'did not run', info)
        # Set, then put back ({}: it had none) when the deploy failed.
        self.assertEqual([RAID, {}], [item.body for item in
                                      self.sent('PUT', '/states/raid')])
        [provision] = [item for item in self.sent('PUT', '/states/provision')
                       if item.body['target'] == 'active']
        steps = {(step['interface'], step['step']): step
                 for step in provision.body['deploy_steps']}
        self.assertEqual({'raid_config': RAID},
                         steps['raid', 'apply_configuration']['args'])
        self.assertEqual(150, steps['bios', 'apply_configuration']
                         ['priority'])
        # Failed: undeployed, and its target RAID config put back.
        node = self.wait_for_state('raid-0', 'available')
        self.assertEqual({}, node.target_raid_config)
        self.assertIsNone(node.allocation_id)

    def wait_for_state(self, name, state, timeout=60):
        found = {}

        def reached():
            found['node'] = self.node(name)
            return found['node'].provision_state == state
        process.wait_until(reached, timeout, interval=0.2,
                           what='node %s to be %s' % (name, state))
        return found['node']

    # Adoption

    def test_adopt_running_server(self):
        self.enrol_nodes([{'name': 'running-0', 'manageable': True}])
        roles = role(instances=[{'hostname': 'overcloud-controller-0',
                                 'name': 'running-0', 'adopt': True}])
        self.record()
        execution = self.run_wb('deploy_roles', roles=roles)
        self.assertExecutionSucceeded(execution)
        node = self.node('running-0')
        self.assertEqual('active', node.provision_state)
        self.assertEqual('power off', node.power_state)   # as enrolled
        alloc = self.conn.baremetal.get_allocation('overcloud-controller-0')
        self.assertEqual(node.id, alloc.node_id)
        self.assertEqual(
            {'overcloud-controller-0'},
            set(execution.output['environment']['parameter_defaults']
                ['HostnameMap'].values()))
        # No power action, no deploy: one provision request, "adopt".
        self.assertEqual([], self.sent('PUT', '/states/power'))
        self.assertEqual(['adopt'], [item.body['target'] for item in
                                     self.sent('PUT', '/states/provision')])

        self.record()
        execution = self.run_wb('deploy_roles', roles=roles)
        self.assertExecutionSucceeded(execution)
        self.assertEqual(0, self.writes())

        execution = self.run_wb('undeploy_instances',
                                hostnames=['overcloud-controller-0'])
        self.assertEqual('ERROR', execution.state)
        self.assertIn('adopted', execution.state_info)
        self.assertIn('undeploy_adopted', execution.state_info)
        self.assertEqual('active', self.node('running-0').provision_state)

        execution = self.run_wb('undeploy_instances',
                                hostnames=['overcloud-controller-0'],
                                undeploy_adopted=True)
        self.assertExecutionSucceeded(execution)
        self.assertEqual('available',
                         self.node('running-0').provision_state)

    def test_failed_adoptions_reported_left_and_resumed(self):
        self.enrol_nodes([{'name': 'running-1', 'manageable': True},
                          {'name': 'running-2', 'manageable': True}])
        # An earlier attempt (by hand, with an image Ironic cannot use)
        # left running-2 "adopt failed".
        self.conn.baremetal.patch_node('running-2', [
            {'op': 'add', 'path': '/instance_info/image_source',
             'value': 'not-an-image'}])
        self.conn.baremetal.set_node_provision_state('running-2', 'adopt')
        self.wait_for_state('running-2', 'adopt failed')
        roles = role(count=2, instances=[
            {'hostname': 'overcloud-controller-%d' % index,
             'name': 'running-%d' % (index + 1), 'adopt': True}
            for index in range(2)])

        # Ironic refuses every adoption request (503, retried first).
        self.proxy.enabled = True
        self.proxy.share = 1
        self.proxy.methods = {'PUT'}
        self.proxy.faults = ('503',)
        execution = self.run_wb('deploy_roles', roles=roles)
        self.assertEqual('ERROR', execution.state)
        info = execution.state_info
        self.assertIn('Ironic refused the adoption of node running-1', info)
        self.assertIn('Ironic refused the adoption of node running-2', info)
        self.assertEqual('manageable', self.node('running-1').provision_state)
        self.assertEqual('adopt failed',
                         self.node('running-2').provision_state)
        self.assertEqual([], list(self.conn.baremetal.allocations()))

        # The same input again, Ironic willing: both adopted.
        self.proxy.enabled = False
        execution = self.run_wb('deploy_roles', roles=roles)
        self.assertExecutionSucceeded(execution)
        for name in ('running-1', 'running-2'):
            self.assertEqual('active', self.node(name).provision_state)
        self.assertEqual(2, len(list(self.conn.baremetal.allocations())))
