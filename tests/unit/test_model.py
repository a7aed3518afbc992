"""The typed records: checked in their constructors, JSON at the edge."""

import os
import unittest

import yaml

from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.request import roles

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _example():
    with open(os.path.join(TOP, 'examples', 'overcloud.yaml')) as stream:
        roles_file = yaml.safe_load(stream)
    with open(os.path.join(TOP, 'examples', 'port-map.yaml')) as stream:
        port_map = yaml.safe_load(stream)
    return roles.expand_roles(
        roles_file, role_net_port_id_map=port_map['RoleNetPortIdMap'],
        role_ctlplane_port_map=port_map['RoleCtlplanePortMap'])


class InstanceTest(unittest.TestCase):

    def test_round_trip_of_the_example(self):
        for data in _example()['instances']:
            data = data.to_dict() if isinstance(data, model.Instance) \
                else data
            instance = model.Instance.from_dict(data)
            self.assertEqual(data, instance.to_dict())
            self.assertIsInstance(instance.ctlplane_port, model.Port)
            self.assertTrue(all(isinstance(net, model.Network)
                                for net in instance.networks))

    def test_defaults(self):
        instance = model.Instance.from_dict({'hostname': 'host-0'})
        self.assertTrue(instance.wanted)
        self.assertEqual('baremetal', instance.resource_class)
        self.assertNotIn('ports', instance.to_dict())
        self.assertNotIn('config_drive', instance.to_dict())

    def test_unknown_keys_are_named(self):
        with self.assertRaisesRegex(exceptions.InvalidInput,
                                    'instance host-0 has unknown key.s. '
                                    'colour, nodes;'):
            model.Instance.from_dict({'hostname': 'host-0', 'nodes': 1,
                                      'colour': 'red'})

    def test_types_are_checked(self):
        with self.assertRaisesRegex(exceptions.InvalidInput,
                                    'instance host-0: index must be int'):
            model.Instance.from_dict({'hostname': 'host-0', 'index': True})
        with self.assertRaisesRegex(exceptions.InvalidInput,
                                    'vif must be bool'):
            model.Instance.from_dict({'hostname': 'h',
                                      'networks': [{'vif': 'yes'}]})

    def test_frozen(self):
        instance = model.Instance(hostname='host-0')
        with self.assertRaises(AttributeError):
            instance.hostname = 'other'
        self.assertEqual('other', instance.replace(hostname='other')
                         .hostname)

    def test_without_secrets(self):
        instance = model.Instance(hostname='h', config_drive={
            'cloud_config': {'password': 'S3cret'}, 'meta_data': {}})
        self.assertIsNone(instance.without_secrets().config_drive)
        self.assertNotIn('S3cret', repr(instance))


class PortTest(unittest.TestCase):

    def test_from_neutron_drops_what_we_do_not_use(self):
        port = model.Port.from_neutron({'id': 'p', 'name': 'n',
                                        'status': 'DOWN',
                                        'fixed_ips': [{'ip_address': '1'}]})
        self.assertEqual({'id': 'p', 'fixed_ips': [{'ip_address': '1'}]},
                         port.to_dict())

    def test_from_dict_is_strict(self):
        self.assertRaises(exceptions.InvalidInput, model.Port.from_dict,
                          {'id': 'p', 'name': 'n'})


class DeploymentTest(unittest.TestCase):

    def test_flat_json_round_trip(self):
        data = {'hostname': 'h', 'node': 'uuid-1', 'node_name': 'node-1',
                'allocation': 'alloc-1', 'attached_vifs': ['p'],
                'provision_state': 'active', 'ports': []}
        deployment = model.Deployment.from_dict(data)
        self.assertEqual(model.Reservation('h', 'uuid-1', 'node-1',
                                           'alloc-1'),
                         deployment.reservation)
        self.assertEqual('node-1 (uuid-1)',
                         deployment.reservation.node_label)
        self.assertEqual(('p',), deployment.attached_vifs)
        expected = model.Instance(hostname='h', ports=()).to_dict()
        expected.update(data)
        self.assertEqual(expected, deployment.to_dict())

    def test_failure_without_a_node(self):
        deployment = model.Deployment.from_dict({'hostname': 'h',
                                                 'error': 'boom'})
        self.assertIsNone(deployment.node)
        self.assertEqual('boom', deployment.to_dict()['error'])
