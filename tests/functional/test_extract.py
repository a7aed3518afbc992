"""Extract a roles file from a real (fake-hardware) Ironic, and deploy it."""

import collections
import hashlib
import os

from tests.functional import base
from tests.functional.test_provisioning import make_conf
from tests.functional.test_provisioning import WRITES
from tripleo_baremetal.provisioning import extract
from tripleo_baremetal.provisioning import sequence
from tripleo_baremetal.request import roles

#: What extract may ask Ironic: the two listings, nothing else.
LISTINGS = collections.Counter({'GET /v1/allocations': 1,
                                'GET /v1/nodes': 1})


class ExtractTest(base.IronicTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.images = base.local_images(cls)
        cls.conf = make_conf()

    def url(self, name):
        return 'file://%s' % os.path.join(self.images, name)

    def whole_image(self):
        with open(os.path.join(self.images, 'whole.raw'), 'rb') as stream:
            checksum = hashlib.sha256(stream.read()).hexdigest()
        return {'href': self.url('whole.raw'), 'checksum': checksum}

    def partition_image(self):
        return {'href': self.url('part.qcow2'), 'kernel': self.url('vmlinuz'),
                'ramdisk': self.url('initrd')}

    def deploy(self, roles_file):
        expanded = roles.expand_roles(roles_file)
        return sequence.deploy_instances(
            self.conn, expanded['instances'], concurrency=10, timeout=120,
            conf=self.conf, ssh_keys=['ssh-ed25519 AAAA test'])

    def extract(self):
        """Extract, pinning the requests: the two listings only."""
        self.ironic.reset_request_counts()
        result = extract.extract_roles(self.conn)
        self.assertEqual(LISTINGS, self.ironic.request_counts(by_path=True))
        return result

    def writes(self):
        counts = self.ironic.request_counts(by_path=True)
        return {key: count for key, count in counts.items()
                if key.split()[0] in WRITES}

    def active_nodes(self):
        """``{display_name: node name}`` of the active nodes."""
        return {node.instance_info.get('display_name'): node.name
                for node in self.conn.baremetal.nodes(details=True)
                if node.provision_state == 'active'}

    def test_round_trip_writes_nothing(self):
        self.enrol_nodes(
            [{'name': 'ctl-%d' % i, 'capabilities': {'profile': 'control'},
              'local_gb': 50} for i in range(2)]
            + [{'name': 'cmp-%d' % i, 'capabilities': {'profile': 'compute'},
                'traits': ['CUSTOM_CMP'], 'local_gb': 100}
               for i in range(2)])
        self.deploy([
            {'name': 'Controller', 'count': 2,
             'defaults': {'profile': 'control', 'image': self.whole_image()}},
            {'name': 'Compute', 'count': 2,
             'defaults': {'profile': 'compute', 'traits': ['CUSTOM_CMP'],
                          'swap_size_mb': 512,
                          'image': self.partition_image()},
             # A hostname of the format: a pinned node without one would
             # be named after the node (cmp-1), as tripleo-ansible does.
             'instances': [{'hostname': 'overcloud-novacompute-0',
                            'name': 'cmp-1'}]}])
        deployed = self.active_nodes()
        self.assertEqual('cmp-1', deployed['overcloud-novacompute-0'])

        result = self.extract()

        self.assertEqual([], result['warnings'])
        self.assertEqual([
            {'name': 'Controller', 'count': 2,
             'defaults': {'profile': 'control', 'image': self.whole_image()},
             'instances': [{'hostname': host, 'name': deployed[host]}
                           for host in ('overcloud-controller-0',
                                        'overcloud-controller-1')]},
            {'name': 'Compute', 'count': 2,
             'defaults': {'profile': 'compute', 'traits': ['CUSTOM_CMP'],
                          'image': self.partition_image(),
                          'swap_size_mb': 512},
             'instances': [{'hostname': 'overcloud-novacompute-0',
                            'name': 'cmp-1'},
                           {'hostname': 'overcloud-novacompute-1',
                            'name': 'cmp-0'}]}], result['roles'])

        self.ironic.reset_request_counts()
        again = self.deploy(result['roles'])
        self.assertEqual({}, self.writes())
        self.assertEqual([], again['new_instances'])
        self.assertEqual(sorted(deployed), sorted(
            item.hostname for item in again['existing_instances']))

    def test_node_deployed_by_nova(self):
        nova, spare = self.enrol_nodes([
            {'name': 'nova', 'capabilities': {'profile': 'control'}},
            {'name': 'spare', 'capabilities': {'profile': 'control'}}])
        # As Nova left it: an instance_uuid, a display_name, no allocation.
        self.conn.baremetal.patch_node(nova, [
            {'op': 'add', 'path': '/instance_info/image_source',
             'value': 'http://images.example.com/overcloud.raw'},
            {'op': 'add', 'path': '/instance_info/display_name',
             'value': 'overcloud-controller-0'},
            {'op': 'add', 'path': '/instance_uuid',
             'value': '11111111-2222-4333-8444-555555555555'}])
        self.conn.baremetal.set_node_provision_state(nova, 'active',
                                                     wait=True, timeout=60)

        result = self.extract()

        self.assertEqual([], result['warnings'])
        self.assertEqual([{
            'name': 'Controller', 'count': 1,
            'defaults': {'profile': 'control', 'image': {
                'href': 'http://images.example.com/overcloud.raw'}},
            'instances': [{'hostname': 'overcloud-controller-0',
                           'name': 'nova'}]}], result['roles'])

        # The first deploy backfills the node's allocation (convergence
        # rule), and that is its only write.
        self.ironic.reset_request_counts()
        first = self.deploy(result['roles'])
        self.assertEqual({'POST /v1/allocations': 1}, self.writes())
        self.assertEqual([nova.id],
                         [item.node for item in first['existing_instances']])
        self.assertEqual('available', self.conn.baremetal.get_node(
            spare.id).provision_state)

        # Now found by its allocation: the same file, and no more writes.
        self.assertEqual(result, self.extract())
        self.ironic.reset_request_counts()
        self.deploy(result['roles'])
        self.assertEqual({}, self.writes())
