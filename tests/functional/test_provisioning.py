"""Deploy, re-run, scale and undeploy against a real (fake-hardware) Ironic."""

import hashlib
import os
import tempfile

from tests.functional import base
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal.picking import reservation
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import sequence
from tripleo_baremetal.provisioning import undeploy
from tripleo_baremetal.request import roles

WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')


def make_conf():
    # The test images live in a temporary directory: let file:// URLs
    # point there, as an operator would set file_url_allowed_paths.
    return baremetal_conf.standalone_conf(
        poll_interval=0.1, poll_interval_max=0.5, undeploy_timeout=120,
        file_url_allowed_paths=['/var/lib/ironic', tempfile.gettempdir()])


class ProvisioningTest(base.IronicTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.images = base.local_images(cls)
        cls.conf = make_conf()

    def url(self, name):
        return 'file://%s' % os.path.join(self.images, name)

    def roles_file(self, compute_count=7, removed=()):
        whole = os.path.join(self.images, 'whole.raw')
        with open(whole, 'rb') as stream:
            checksum = hashlib.sha256(stream.read()).hexdigest()
        compute_instances = [{'hostname': host, 'provisioned': False}
                             for host in removed]
        return [
            {'name': 'Controller', 'count': 3,
             'defaults': {'profile': 'control',
                          'image': {'href': self.url('whole.raw'),
                                    'checksum': checksum}}},
            {'name': 'Compute', 'count': compute_count,
             'defaults': {'profile': 'compute', 'swap_size_mb': 512,
                          'image': {'href': self.url('part.qcow2'),
                                    'kernel': self.url('vmlinuz'),
                                    'ramdisk': self.url('initrd')}},
             'instances': compute_instances},
        ]

    def enrol_pool(self, controllers=4, computes=10):
        specs = [{'name': 'ctl-%02d' % i, 'capabilities': {'profile':
                                                           'control'},
                  'local_gb': 50} for i in range(controllers)]
        specs += [{'name': 'cmp-%02d' % i, 'capabilities': {'profile':
                                                            'compute'},
                   'local_gb': 100} for i in range(computes)]
        return self.enrol_nodes(specs)

    def deploy(self, roles_file):
        expanded = roles.expand_roles(roles_file)
        return expanded, sequence.deploy_instances(
            self.conn, expanded['instances'], concurrency=10, timeout=120,
            conf=self.conf, ssh_keys=['ssh-ed25519 AAAA test'])

    def nodes_by_host(self):
        return {(node.instance_info or {}).get('display_name'): node
                for node in self.conn.baremetal.nodes(details=True)
                if node.provision_state == 'active'}

    def writes(self):
        counts = self.ironic.request_counts()
        return sum(counts.get(method, 0) for method in WRITES)

    def test_lifecycle(self):
        self.enrol_pool()
        expanded, result = self.deploy(self.roles_file())
        self.assertEqual(10, len(result['new_instances']))
        self.assertEqual([], result['existing_instances'])

        deployed = self.nodes_by_host()
        self.assertEqual(sorted(inst.hostname
                                for inst in expanded['instances']),
                         sorted(deployed))
        ctl = deployed['overcloud-controller-0']
        self.assertTrue(ctl.name.startswith('ctl-'))
        self.assertEqual(self.url('whole.raw'),
                         ctl.instance_info['image_source'])
        self.assertEqual(64, len(ctl.instance_info['image_checksum']))
        self.assertNotIn('kernel', ctl.instance_info)
        self.assertNotIn('root_gb', ctl.instance_info)
        self.assertEqual('******', ctl.instance_info['configdrive'])
        cmp = deployed['overcloud-novacompute-0']
        self.assertTrue(cmp.name.startswith('cmp-'))
        self.assertEqual(99, int(cmp.instance_info['root_gb']))
        self.assertEqual(512, int(cmp.instance_info['swap_mb']))
        self.assertEqual(self.url('vmlinuz'), cmp.instance_info['kernel'])
        self.assertEqual({'boot_option': 'local'},
                         cmp.instance_info['capabilities'])
        allocations = {a.name: a for a in self.conn.baremetal.allocations()}
        self.assertEqual(set(deployed), set(allocations))
        self.assertEqual(cmp.id,
                         allocations['overcloud-novacompute-0'].node_id)

        # Re-running the same request writes nothing.
        self.ironic.reset_request_counts()
        _, again = self.deploy(self.roles_file())
        self.assertEqual(0, self.writes(), self.ironic.request_counts())
        self.assertEqual([], again['new_instances'])
        self.assertEqual(10, len(again['existing_instances']))

        # Scale up 7 -> 9 computes deploys exactly two.
        self.ironic.reset_request_counts()
        _, scaled = self.deploy(self.roles_file(compute_count=9))
        self.assertEqual(['overcloud-novacompute-7',
                          'overcloud-novacompute-8'],
                         sorted(i.hostname
                                for i in scaled['new_instances']))
        self.assertEqual(12, len(self.nodes_by_host()))

        # Scale down one named host: exactly its node goes.
        victim = self.nodes_by_host()['overcloud-novacompute-3']
        down = roles.expand_roles(self.roles_file(
            compute_count=8, removed=['overcloud-novacompute-3']))
        self.assertEqual(['overcloud-novacompute-3'],
                         [i.hostname for i in down['unprovisioned']])
        result = undeploy.undeploy_instances(
            self.conn, down['unprovisioned'], conf=self.conf)
        self.assertEqual([victim.id],
                         [u.node for u in result['undeployed']])
        remaining = self.nodes_by_host()
        self.assertEqual(11, len(remaining))
        self.assertNotIn('overcloud-novacompute-3', remaining)
        self.assertEqual('available', self.conn.baremetal.get_node(
            victim.id).provision_state)

        # Undeploying it again, or an unknown host, is only a warning.
        result = undeploy.undeploy_instances(
            self.conn, ['overcloud-novacompute-3', 'no-such-host'],
            conf=self.conf)
        self.assertEqual(['overcloud-novacompute-3', 'no-such-host'],
                         result['not_found'])

        # Undeploy everything: all available, no allocation, no VIF.
        undeploy.undeploy_instances(self.conn, sorted(remaining),
                                    conf=self.conf)
        for node in self.conn.baremetal.nodes(details=True):
            self.assertEqual('available', node.provision_state, node.name)
            self.assertFalse(node.instance_info)
            self.assertEqual([], self.conn.baremetal.list_node_vifs(node))
        self.assertEqual([], list(self.conn.baremetal.allocations()))

    def pick_one(self, profile='compute', **overrides):
        instance = roles.expand_roles([{
            'name': 'Compute', 'defaults': dict(
                {'profile': profile,
                 'image': {'href': self.url('part.qcow2'),
                           'kernel': self.url('vmlinuz'),
                           'ramdisk': self.url('initrd')}}, **overrides)}])[
            'instances'][0]
        picked = reservation.pick_nodes(self.conn, [instance])
        return instance, picked['reservations'][0]

    def assert_released(self, node_id):
        node = self.conn.baremetal.get_node(node_id)
        self.assertIsNone(node.allocation_id)
        self.assertIsNone(node.instance_id)
        self.assertFalse({key: value for key, value
                          in (node.instance_info or {}).items()
                          if key != 'traits'})
        self.assertEqual([], list(self.conn.baremetal.allocations()))

    def test_maintenance_between_picking_and_deploy(self):
        self.enrol_pool(controllers=0, computes=2)
        instance, reserved = self.pick_one()
        self.conn.baremetal.set_node_maintenance(reserved.node,
                                                 reason='disk failure')
        with self.assertRaises(exceptions.DeployError) as ctx:
            deploy.deploy_node(self.conn, instance, reserved, conf=self.conf)
        self.assertIn(reserved.node_name, str(ctx.exception))
        self.assertIn('maintenance', str(ctx.exception))
        self.assertIn('disk failure', str(ctx.exception))
        self.conn.baremetal.unset_node_maintenance(reserved.node)
        self.assert_released(reserved.node)

    def test_bad_checksum_format(self):
        self.enrol_pool(controllers=0, computes=1)
        instance, reserved = self.pick_one()
        instance = instance.replace(image=dict(instance.image,
                                               checksum='not-a-digest'))
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            deploy.deploy_node(self.conn, instance, reserved, conf=self.conf)
        self.assertIn("image.checksum: 'not-a-digest'", str(ctx.exception))
        self.assertIn(instance.hostname, str(ctx.exception))
        self.assert_released(reserved.node)

    def test_missing_local_image(self):
        self.enrol_pool(controllers=0, computes=1)
        instance, reserved = self.pick_one()
        instance = instance.replace(image=dict(
            instance.image, kernel=self.url('no-such-kernel')))
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            deploy.deploy_node(self.conn, instance, reserved, conf=self.conf)
        self.assertIn('no-such-kernel', str(ctx.exception))
        self.assert_released(reserved.node)

    def test_validation_failure(self):
        self.enrol_pool(controllers=0, computes=1)
        instance, reserved = self.pick_one()
        # Instance traits the node lacks fail Ironic's deploy validation.
        instance = instance.replace(traits=['CUSTOM_NOT_ON_NODE'])
        with self.assertRaises(exceptions.DeployError) as ctx:
            deploy.deploy_node(self.conn, instance, reserved, conf=self.conf)
        self.assertIn('failed validation', str(ctx.exception))
        self.assertIn('deploy', str(ctx.exception))
        self.assertIn(reserved.node_name, str(ctx.exception))
        self.assert_released(reserved.node)

    def test_ironic_deploy_failure_tolerated(self):
        self.make_deploys_fail('CUSTOM_BROKEN')
        self.enrol_nodes([
            {'name': 'good', 'capabilities': {'profile': 'compute'}},
            {'name': 'broken', 'capabilities': {'profile': 'compute'},
             'traits': ['CUSTOM_BROKEN']}])
        image = {'href': self.url('whole.raw')}
        instances = roles.expand_roles([
            {'name': 'Compute', 'defaults': {'profile': 'compute',
                                             'image': image}},
            {'name': 'Broken', 'defaults': {'profile': 'compute',
                                            'traits': ['CUSTOM_BROKEN'],
                                            'image': image}}])['instances']
        with self.assertRaises(exceptions.DeployError) as ctx:
            sequence.deploy_instances(self.conn, instances, timeout=60,
                                      conf=self.conf)
        self.assertIn('No deploy steps returned by the driver',
                      str(ctx.exception))
        self.assertIn('broken', str(ctx.exception))
        undeploy.undeploy_instances(self.conn, ['overcloud-novacompute-0'],
                                    conf=self.conf)
        self.wait_for_available('broken')

        # Tolerating one failure in two: the good node ends active.
        result = sequence.deploy_instances(self.conn, instances, timeout=60,
                                           max_fail_percentage=50,
                                           conf=self.conf)
        self.assertEqual(['overcloud-novacompute-0'],
                         [i.hostname for i in result['instances']])
        self.assertEqual(['overcloud-broken-0'],
                         [i.hostname for i in result['failed']])
        self.assertIn('No deploy steps', result['failed'][0].error)
        self.assertEqual('active',
                         self.conn.baremetal.get_node('good').provision_state)
        self.wait_for_available('broken')
        names = [a.name for a in self.conn.baremetal.allocations()]
        self.assertEqual(['overcloud-novacompute-0'], names)

    def test_tolerated_start_failure_is_reported(self):
        self.enrol_pool(controllers=0, computes=2)
        image = {'href': self.url('whole.raw')}
        instances = roles.expand_roles([{
            'name': 'Compute', 'count': 2,
            'defaults': {'profile': 'compute', 'image': image}}])['instances']
        # Its config drive cannot be built: the deploy does not start.
        instances[1] = instances[1].replace(config_drive=dict(
            instances[1].config_drive, meta_data={'uuid': 'not-a-node'}))
        result = sequence.deploy_instances(self.conn, instances, timeout=60,
                                           max_fail_percentage=50,
                                           conf=self.conf)
        self.assertEqual(['overcloud-novacompute-0'],
                         [i.hostname for i in result['new_instances']])
        self.assertEqual(['overcloud-novacompute-1'],
                         [i.hostname for i in result['failed']])
        self.assertIn('may not set uuid', result['failed'][0].error)
        self.assertIsNone(result['failed'][0].instance.config_drive)
        self.assertEqual(['overcloud-novacompute-0'],
                         [a.name for a in self.conn.baremetal.allocations()])

    def wait_for_available(self, name):
        node = self.conn.baremetal.wait_for_nodes_provision_state(
            [name], 'available', timeout=60)[0]
        self.assertIsNone(node.allocation_id)


class ExistingInstancesTest(base.IronicTestCase):
    """Nodes deployed before us, and nodes an operator protects."""

    def deploy_without_allocation(self, node, hostname):
        """Deploy ``node`` the way Nova did: no allocation, a display_name."""
        self.conn.baremetal.patch_node(node, [
            {'op': 'add', 'path': '/instance_info/image_source',
             'value': 'http://x/img.raw'},
            {'op': 'add', 'path': '/instance_info/display_name',
             'value': hostname},
            {'op': 'add', 'path': '/instance_uuid',
             'value': '11111111-2222-4333-8444-555555555555'}])
        self.conn.baremetal.set_node_provision_state(node, 'active',
                                                     wait=True, timeout=60)

    def instances(self, **extra):
        return roles.expand_roles([{'name': 'Controller', 'instances': [
            dict({'hostname': 'overcloud-controller-0'}, **extra)]}],
            default_image='http://images.example.com/overcloud.raw')[
            'instances']

    def writes(self):
        counts = self.ironic.request_counts()
        return sum(counts.get(method, 0) for method in WRITES)

    def test_backfill_instead_of_redeploy(self):
        node, spare = self.enrol_nodes([{'name': 'old'}, {'name': 'spare'}])
        self.deploy_without_allocation(node, 'overcloud-controller-0')
        self.ironic.reset_request_counts()
        result = sequence.deploy_instances(self.conn, self.instances(),
                                           conf=make_conf())
        self.assertEqual([], result['new_instances'])
        self.assertEqual([node.id], [i.node for i in
                                     result['existing_instances']])
        counts = self.ironic.request_counts(by_path=True)
        self.assertEqual(1, counts['POST /v1/allocations'])
        self.assertNotIn('PUT /v1/nodes/*/states/provision', counts)
        allocation = self.conn.baremetal.get_allocation(
            'overcloud-controller-0')
        self.assertEqual(node.id, allocation.node_id)
        self.assertEqual('available', self.conn.baremetal.get_node(
            spare.id).provision_state)
        # From now on the node is found by its allocation: no more writes.
        self.ironic.reset_request_counts()
        sequence.deploy_instances(self.conn, self.instances(),
                                  conf=make_conf())
        self.assertEqual(0, self.writes())

    def test_pinned_node_carrying_another_hostname(self):
        node, _ = self.enrol_nodes([{'name': 'old'}, {'name': 'spare'}])
        self.deploy_without_allocation(node, 'legacy-controller')
        self.ironic.reset_request_counts()
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            sequence.deploy_instances(self.conn,
                                      self.instances(name='old'),
                                      conf=make_conf())
        self.assertIn('overcloud-controller-0', str(ctx.exception))
        self.assertIn('old', str(ctx.exception))
        self.assertIn('legacy-controller', str(ctx.exception))
        self.assertEqual(0, self.writes())

    def test_protected_node_is_not_undeployed(self):
        self.enrol_nodes([{'name': 'prot'}])
        sequence.deploy_instances(self.conn, self.instances(),
                                  conf=make_conf())
        self.conn.baremetal.update_node('prot', is_protected=True,
                                        protected_reason='production')
        with self.assertRaises(exceptions.UndeployError) as ctx:
            undeploy.undeploy_instances(self.conn, ['overcloud-controller-0'],
                                        conf=make_conf())
        self.assertIn('overcloud-controller-0: node prot', str(ctx.exception))
        self.assertIn('protected', str(ctx.exception))
        self.assertEqual('active',
                         self.conn.baremetal.get_node('prot').provision_state)
        self.conn.baremetal.update_node('prot', is_protected=False)
