"""Node eligibility checks and their reasons."""

import unittest

from openstack.baremetal.v1 import node as sdk_node

from tripleo_baremetal import model
from tripleo_baremetal.picking import node_filters


def make_node(**fields):
    node = {'uuid': 'uuid-1', 'name': 'node-1',
            'provision_state': 'available', 'power_state': 'power off',
            'maintenance': False, 'maintenance_reason': None,
            'instance_uuid': None, 'allocation_uuid': None,
            'resource_class': 'baremetal', 'traits': [],
            'properties': {'capabilities': 'profile:compute,'
                                           'boot_option:local'},
            'conductor_group': ''}
    node.update(fields)
    return node_filters.node_view(node)


PARTITION_IMAGE = {'href': 'http://x/img.qcow2', 'kernel': 'http://x/k',
                   'ramdisk': 'http://x/r'}


def disk(local_gb):
    return {'capabilities': 'profile:compute', 'local_gb': local_gb}


def make_req(**fields):
    instance = {'hostname': 'compute-0', 'resource_class': 'baremetal',
                'capabilities': {'profile': 'compute'}, 'traits': [],
                'forbidden_traits': [], 'conductor_group': None,
                'name': None}
    instance.update(fields)
    return node_filters.requirements(model.Instance.from_dict(instance))


class NodeViewTest(unittest.TestCase):

    def test_from_dict(self):
        view = make_node(traits=['CUSTOM_A'], conductor_group=None)
        self.assertEqual('uuid-1', view.uuid)
        self.assertEqual(frozenset(['CUSTOM_A']), view.traits)
        self.assertEqual({'profile': 'compute', 'boot_option': 'local'},
                         view.capabilities)
        self.assertEqual('', view.conductor_group)

    def test_from_sdk_node(self):
        node = sdk_node.Node(
            id='u1', name='n1', provision_state='available',
            power_state='power on', is_maintenance=True,
            maintenance_reason='fan', instance_id='i1', allocation_id='a1',
            resource_class='gpu', traits=['CUSTOM_GPU'],
            properties={'capabilities': 'profile:control'},
            conductor_group='rack1')
        view = node_filters.node_view(node)
        self.assertEqual(
            node_filters.NodeView(
                uuid='u1', name='n1', provision_state='available',
                power_state='power on', maintenance=True,
                maintenance_reason='fan', instance_uuid='i1',
                allocation_uuid='a1', resource_class='gpu',
                traits=frozenset(['CUSTOM_GPU']),
                capabilities={'profile': 'control'},
                conductor_group='rack1', local_gb=0), view)

    def test_sdk_dict_names(self):
        view = node_filters.node_view({'id': 'u', 'is_maintenance': True,
                                       'instance_id': 'i',
                                       'allocation_id': 'a'})
        self.assertEqual(('u', True, 'i', 'a'),
                         (view.uuid, view.maintenance,
                          view.instance_uuid, view.allocation_uuid))

    def test_local_gb(self):
        for value, expected in ((40, 40), ('40', 40), (None, 0), ('x', 0),
                                (-1, 0), ([], 0)):
            with self.subTest(value=value):
                self.assertEqual(expected, make_node(properties={
                    'local_gb': value}).local_gb)
        self.assertEqual(0, make_node(properties=None).local_gb)

    def test_label(self):
        self.assertEqual('node-1', make_node().label)
        self.assertEqual('uuid-1', make_node(name=None).label)


class RejectReasonTest(unittest.TestCase):

    def reason(self, req=None, **node):
        return node_filters.reject_reason(req or make_req(),
                                          make_node(**node))

    def test_eligible(self):
        self.assertIsNone(self.reason())

    def test_provision_state(self):
        self.assertEqual(('provision state active', None),
                         self.reason(provision_state='active'))

    def test_maintenance(self):
        self.assertEqual(('in maintenance', 'reason: disk failure'),
                         self.reason(maintenance=True,
                                     maintenance_reason='disk failure'))
        self.assertEqual(('in maintenance', None),
                         self.reason(maintenance=True))

    def test_allocated(self):
        self.assertEqual(('already reserved', 'allocation a1'),
                         self.reason(allocation_uuid='a1',
                                     instance_uuid='a1'))

    def test_instance(self):
        self.assertEqual(('already reserved', 'instance_uuid i1'),
                         self.reason(instance_uuid='i1'))

    def test_listing_fields_exclude_allocation_uuid(self):
        # Ironic 39 fails node listings asking for it (HTTP 500).
        self.assertNotIn('allocation_uuid', node_filters.NODE_FIELDS)
        self.assertIn('instance_uuid', node_filters.NODE_FIELDS)

    def test_no_power_state(self):
        self.assertEqual((node_filters.NO_POWER_STATE, None),
                         self.reason(power_state=None))

    def test_resource_class(self):
        self.assertEqual(("resource_class is 'compute' (want 'baremetal')",
                          None), self.reason(resource_class='compute'))

    def test_missing_trait(self):
        req = make_req(traits=['CUSTOM_B', 'CUSTOM_A'])
        self.assertEqual(('missing trait CUSTOM_A', None),
                         self.reason(req, traits=['CUSTOM_B']))
        self.assertIsNone(self.reason(req, traits=['CUSTOM_A', 'CUSTOM_B',
                                                   'CUSTOM_C']))

    def test_forbidden_trait(self):
        req = make_req(forbidden_traits=['CUSTOM_GPU'])
        self.assertEqual(('has forbidden trait CUSTOM_GPU', None),
                         self.reason(req, traits=['CUSTOM_GPU']))
        self.assertIsNone(self.reason(req, traits=['CUSTOM_OTHER']))

    def test_capability(self):
        req = make_req(capabilities={'profile': 'control'})
        self.assertEqual(("capability profile is 'compute' "
                          "(want 'control')", None), self.reason(req))

    def test_capability_operator(self):
        req = make_req(capabilities={'profile': '<or> control <or> compute',
                                     'cpus': '>= 8'})
        self.assertIsNone(self.reason(req, properties={
            'capabilities': 'profile:compute,cpus:16'}))
        self.assertEqual(("capability cpus is '4' (want '>= 8')", None),
                         self.reason(req, properties={
                             'capabilities': 'profile:compute,cpus:4'}))

    def test_conductor_group(self):
        req = make_req(conductor_group='Rack1')
        self.assertIsNone(self.reason(req, conductor_group='rack1'))
        self.assertEqual(("conductor_group is '' (want 'Rack1')", None),
                         self.reason(req))
        # Not given: any group.
        self.assertIsNone(self.reason(conductor_group='rack2'))

    def test_pinned(self):
        by_name = make_req(name='node-1')
        by_uuid = make_req(name='uuid-1')
        self.assertIsNone(self.reason(by_name))
        self.assertIsNone(self.reason(by_uuid))
        self.assertEqual((node_filters.NOT_PINNED_NODE, None),
                         self.reason(make_req(name='node-2')))

    def test_partition_image_without_root_size_needs_local_gb(self):
        req = make_req(image=PARTITION_IMAGE)
        reason = 'local_gb too small for a partition image without ' \
            'root_size_gb (at least 2 needed)'
        self.assertEqual((reason, 'no local_gb'), self.reason(req))
        self.assertEqual((reason, 'local_gb 1'), self.reason(
            req, properties=disk(1)))
        self.assertIsNone(self.reason(req, properties=disk(2)))
        # Whole-disk images need nothing of local_gb.
        self.assertIsNone(self.reason(make_req(image={'href': 'http://x/y'})))

    def test_root_size_larger_than_local_gb(self):
        for image in (PARTITION_IMAGE, {'href': 'http://x/y'}):
            req = make_req(image=image, root_size_gb=50)
            with self.subTest(image=image):
                self.assertEqual(
                    ('local_gb smaller than root_size_gb 50', 'local_gb 40'),
                    self.reason(req, properties=disk(40)))
                self.assertIsNone(self.reason(req, properties=disk(50)))
                # Unknown local_gb: root_gb is given to Ironic anyway.
                self.assertIsNone(self.reason(req))

    def test_disk_before_state(self):
        req = make_req(image=PARTITION_IMAGE)
        self.assertEqual('local_gb too small', self.reason(
            req, maintenance=True)[0][:18])
        self.assertEqual("capability profile is 'compute' (want 'x')",
                         self.reason(make_req(image=PARTITION_IMAGE,
                                              capabilities={'profile': 'x'})
                                     )[0])

    def test_requirements_before_state(self):
        # A node that does not fit anyway is reported for that, so that
        # state reasons name only nodes that would otherwise fit.
        self.assertEqual(("resource_class is 'x' (want 'baremetal')", None),
                         self.reason(resource_class='x', maintenance=True,
                                     provision_state='active'))
        req = make_req(traits=['CUSTOM_A'])
        self.assertEqual(('missing trait CUSTOM_A', None),
                         self.reason(req, maintenance=True))

    def test_state_order(self):
        self.assertEqual('provision state active', self.reason(
            provision_state='active', maintenance=True,
            instance_uuid='x')[0])
        self.assertEqual('in maintenance', self.reason(
            maintenance=True, instance_uuid='x', power_state=None)[0])


class RequirementsTest(unittest.TestCase):

    def test_hashable_and_shared(self):
        one = make_req(traits=['B', 'A'], capabilities={'b': '1', 'a': '2'})
        two = make_req(traits=['A', 'B'], capabilities={'a': '2', 'b': '1'})
        self.assertEqual(one, two)
        self.assertEqual(1, len({one, two}))

    def test_defaults(self):
        req = node_filters.requirements(model.Instance(hostname='x'))
        self.assertEqual(('baremetal', None, None, (), frozenset()),
                         (req.resource_class, req.name, req.conductor_group,
                          req.capabilities, req.traits))

    def test_disk_requirements(self):
        req = make_req(image=PARTITION_IMAGE, root_size_gb=40)
        self.assertEqual((40, True), (req.root_size_gb, req.partition))
        req = node_filters.requirements(model.Instance(hostname='x'))
        self.assertEqual((None, False), (req.root_size_gb, req.partition))

    def test_validate_cuts_long_values(self):
        problems = node_filters.validate(model.Instance(
            hostname='ctl-0', capabilities={'cpus': '>= ' + 'x' * 10**6}))
        self.assertEqual(1, len(problems))
        self.assertLess(len(problems[0]), 400)

    def test_validate(self):
        problems = node_filters.validate(model.Instance(
            hostname='ctl-0', capabilities={'cpus': '>= many'},
            traits=['CUSTOM_A'], forbidden_traits=['CUSTOM_A']))
        self.assertEqual(
            ["ctl-0: capability cpus: operator >= needs a number, got "
             "'many'",
             'ctl-0: traits CUSTOM_A are both required and forbidden'],
            problems)


class ExtraCountTest(unittest.TestCase):

    def test_counts_unrequested_capabilities_and_traits(self):
        node = make_node(traits=['CUSTOM_GPU', 'CUSTOM_A'],
                         properties={'capabilities': 'profile:compute,'
                                                     'boot_option:local,'
                                                     'node:compute-0'})
        self.assertEqual(4, node_filters.extra_count(make_req(), node))
        self.assertEqual(2, node_filters.extra_count(
            make_req(traits=['CUSTOM_A'],
                     capabilities={'profile': 'compute',
                                   'node': 'compute-0'}), node))


class CandidatesTest(unittest.TestCase):

    def setUp(self):
        self.nodes = [
            make_node(uuid='u1', name='n1'),
            make_node(uuid='u2', name='n2', resource_class='other'),
            make_node(uuid='u3', name='n3', properties={
                'capabilities': 'profile:control,node:ctl-0'}),
            make_node(uuid='u4', name=None)]
        self.index = node_filters.index_nodes(self.nodes)

    def uuids(self, **fields):
        return [node.uuid for node in node_filters.candidates(
            make_req(**fields), self.index)]

    def test_pinned(self):
        self.assertEqual(['u2'], self.uuids(name='n2'))
        self.assertEqual(['u4'], self.uuids(name='u4'))
        self.assertEqual([], self.uuids(name='ghost'))

    def test_smallest_exact_bucket(self):
        self.assertEqual(['u3'], self.uuids(capabilities={
            'profile': 'control', 'node': 'ctl-0'}))
        self.assertEqual(['u1', 'u3', 'u4'], self.uuids())
        self.assertEqual([], self.uuids(capabilities={'node': 'ctl-9'}))

    def test_operators_do_not_narrow(self):
        self.assertEqual(['u1', 'u3', 'u4'], self.uuids(
            capabilities={'profile': '<or> control <or> compute'}))

    def test_superset_of_eligible(self):
        for fields in ({}, {'capabilities': {'profile': 'control'}},
                       {'resource_class': 'other'}, {'name': 'n3'},
                       {'capabilities': {'node': 's>= ctl'}}):
            req = make_req(**fields)
            eligible = {n.uuid for n in self.nodes
                        if node_filters.reject_reason(req, n) is None}
            with self.subTest(fields=fields):
                self.assertLessEqual(eligible, set(self.uuids(**fields)))
