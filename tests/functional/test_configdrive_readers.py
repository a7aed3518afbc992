"""Config drives read by independent readers: blkid, isoinfo, cloud-init.

The unit tests read drives back with pycdlib, the library that wrote
them; here the readers are the ones a node or an operator really uses.
cloud-init and isoinfo come from Debian (see ``debian_tools``); the tests
skip, saying why, only where apt is unavailable.
"""

import base64
import gzip
import os
import shutil
import subprocess
import tempfile
import unittest
import warnings

import yaml

from tests.functional import debian_tools
from tripleo_baremetal.configdrive import contents as configdrive
from tripleo_baremetal.configdrive import network_data
from tripleo_baremetal import model

NODE = '5d3b1a8e-8f0c-4a53-9d5e-0b8c2f6a1e77'
HOSTNAME = 'overcloud-controller-0'
MAC = '52:54:00:12:34:56'
KEYS = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFunctionalKey1 stack@uc',
        'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQFunctionalKey2 ops@laptop']
# Not a real certificate: readers only see PEM armour.
CERT = ('-----BEGIN CERTIFICATE-----\n'
        'MIIBszCCAVmgAwIBAgIUZnVuY3Rpb25hbCB0ZXN0IENB\n'
        '-----END CERTIFICATE-----')

PORT = {
    'id': '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
    'mac_address': MAC,
    'fixed_ips': [{'ip_address': '192.168.24.10', 'subnet_id': 'sub-4'},
                  {'ip_address': 'fd00:24::10', 'subnet_id': 'sub-6'}],
    'network': {'id': 'net-ctlplane', 'name': 'ctlplane', 'mtu': 1450},
    'subnets': [
        {'id': 'sub-4', 'cidr': '192.168.24.0/24',
         'gateway_ip': '192.168.24.1', 'ip_version': 4,
         'host_routes': [{'destination': '10.0.0.0/8',
                          'nexthop': '192.168.24.254'}],
         'dns_nameservers': ['192.168.24.1']},
        {'id': 'sub-6', 'cidr': 'fd00:24::/64', 'gateway_ip': 'fd00:24::1',
         'ip_version': 6, 'dns_nameservers': []},
    ],
}


def _instance():
    return model.Instance.from_dict({
        'hostname': HOSTNAME, 'role': 'Controller', 'index': 0,
        'ssh_public_keys': [KEYS[0]], 'user_name': None,
        'passwordless_sudo': True,
        'config_drive': {'cloud_config': {'packages': ['tmux']},
                         'meta_data': {}},
    })


def _write_image(result, directory, name):
    path = os.path.join(directory, name)
    with open(path, 'wb') as stream:
        stream.write(gzip.decompress(base64.b64decode(
            result['configdrive'])))
    return path


def _run(*args):
    return subprocess.run(args, check=True, capture_output=True,
                          text=True).stdout


class ReadersTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = debian_tools.apt_available()
        if reason:
            raise unittest.SkipTest(
                'apt is unavailable: %s; these tests read config drives '
                'with Debian\'s cloud-init and isoinfo: run them on Debian '
                'or Ubuntu' % reason)
        try:
            cls.isoinfo = debian_tools.ensure_command('isoinfo',
                                                      'genisoimage')
        except debian_tools.Unavailable as exc:
            raise unittest.SkipTest(str(exc))
        cls.workdir = tempfile.mkdtemp(prefix='configdrive-readers-')
        cls.ca_file = os.path.join(cls.workdir, 'ca.pem')
        with open(cls.ca_file, 'w') as stream:
            stream.write(CERT + '\n')
        cls.network_data = network_data.build_network_data(
            [model.Port.from_dict(PORT)])
        result = configdrive.build_configdrive(
            _instance(), NODE, ssh_keys=[KEYS[1]],
            network_data=cls.network_data, ca_file=cls.ca_file,
            stackname='overcloud')
        cls.image = _write_image(result, cls.workdir, 'drive.iso')

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, 'workdir', None):
            shutil.rmtree(cls.workdir, ignore_errors=True)
        super().tearDownClass()

    def extract(self, image, namespace='-R'):
        """Copy the tree of ``image`` out with isoinfo (no mount)."""
        target = tempfile.mkdtemp(dir=self.workdir)
        paths = _run(self.isoinfo, namespace, '-f', '-i', image).split()
        directories = {os.path.dirname(path) for path in paths}
        for path in paths:
            if path in directories:
                continue
            destination = os.path.join(target, path.lstrip('/'))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            with open(destination, 'wb') as stream:
                subprocess.run([self.isoinfo, namespace, '-i', image, '-x',
                                path], check=True, stdout=stream)
        return target


class BlockDeviceToolsTest(ReadersTestCase):

    def test_blkid(self):
        blkid = debian_tools.ensure_command('blkid', 'util-linux')
        output = _run(blkid, '-p', '-o', 'export', self.image)
        fields = dict(line.split('=', 1) for line in output.splitlines()
                      if '=' in line)
        self.assertEqual('iso9660', fields['TYPE'])
        self.assertEqual('config-2', fields['LABEL'])

    def test_isoinfo_descriptors(self):
        output = _run(self.isoinfo, '-d', '-i', self.image)
        self.assertIn('Volume id: config-2', output)
        self.assertIn('Rock Ridge signatures version 1 found', output)
        self.assertIn('Joliet with UCS level 3 found', output)

    def test_isoinfo_trees_agree(self):
        rock_ridge = self.extract(self.image, '-R')
        joliet = self.extract(self.image, '-J')
        found = []
        for root, _dirs, files in os.walk(rock_ridge):
            for name in files:
                path = os.path.relpath(os.path.join(root, name), rock_ridge)
                found.append(path)
                with open(os.path.join(rock_ridge, path), 'rb') as one, \
                        open(os.path.join(joliet, path), 'rb') as other:
                    self.assertEqual(one.read(), other.read(), path)
        self.assertEqual(sorted(
            'openstack/%s/%s' % (version, name)
            for version in ('2012-08-10', 'latest')
            for name in ('meta_data.json', 'network_data.json',
                         'user_data')), sorted(found))


class CloudInitTest(ReadersTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        debian_tools.cloud_init()

    def read(self, image):
        from cloudinit.sources import DataSourceConfigDrive
        return DataSourceConfigDrive.read_config_drive(self.extract(image))

    def test_read_config_drive(self):
        from cloudinit import sources
        from cloudinit.sources.helpers import openstack

        tree = self.extract(self.image)
        reader = openstack.ConfigDriveReader(tree)
        self.assertEqual('2012-08-10', reader._find_working_version())
        results = self.read(self.image)
        metadata = results['metadata']
        self.assertEqual(NODE, metadata['instance-id'])
        self.assertEqual(HOSTNAME, metadata['local-hostname'])
        self.assertEqual(KEYS, sources.normalize_pubkey_data(
            metadata['public_keys']))
        self.assertEqual({'role': 'Controller', 'stack': 'overcloud'},
                         metadata['meta'])
        self.assertEqual(self.network_data, results['networkdata'])
        self.assertNotIn('vendordata2', results)

        config = yaml.safe_load(results['userdata'])
        self.assertTrue(results['userdata'].startswith(b'#cloud-config\n'))
        self.assertEqual(['tmux'], config['packages'])
        self.assertEqual([CERT], config['ca_certs']['trusted'])
        user = config['users'][0]
        self.assertEqual('tripleo-admin', user['name'])
        self.assertEqual(KEYS, user['ssh_authorized_keys'])
        self.assertEqual('ALL=(ALL) NOPASSWD:ALL', user['sudo'])

    def test_cloud_config_matches_cloud_init_schema(self):
        from cloudinit.config import schema

        config = yaml.safe_load(self.read(self.image)['userdata'])
        with warnings.catch_warnings():
            # cloud-init 22.4 uses an API newer jsonschema deprecates.
            warnings.simplefilter('ignore', DeprecationWarning)
            schema.validate_cloudconfig_schema(config, schema.get_schema(),
                                               strict=True)

    def test_network_config(self):
        from cloudinit.sources.helpers import openstack

        results = self.read(self.image)
        converted = openstack.convert_net_json(results['networkdata'],
                                               known_macs={MAC: 'eth0'})
        self.assertEqual(1, converted['version'])
        config = converted['config']
        physical = [item for item in config if item['type'] == 'physical']
        self.assertEqual(1, len(physical))
        nic = physical[0]
        self.assertEqual(('eth0', MAC, 1450),
                         (nic['name'], nic['mac_address'], nic['mtu']))
        static = {subnet['type']: subnet for subnet in nic['subnets']}
        self.assertEqual('192.168.24.10', static['static']['address'])
        self.assertEqual('255.255.255.0', static['static']['netmask'])
        self.assertIn({'network': '0.0.0.0', 'netmask': '0.0.0.0',
                       'gateway': '192.168.24.1'},
                      static['static']['routes'])
        self.assertIn({'network': '10.0.0.0', 'netmask': '255.0.0.0',
                       'gateway': '192.168.24.254'},
                      static['static']['routes'])
        self.assertEqual('fd00:24::10', static['static6']['address'])
        self.assertIn({'network': '::', 'netmask': '::',
                       'gateway': 'fd00:24::1'},
                      static['static6']['routes'])
        nameservers = [item['address'] for item in config
                       if item['type'] == 'nameserver']
        self.assertEqual(['192.168.24.1'], nameservers)

    def test_network_state(self):
        from cloudinit.net import network_state
        from cloudinit.sources.helpers import openstack

        results = self.read(self.image)
        state = network_state.parse_net_config_data(
            openstack.convert_net_json(results['networkdata'],
                                       known_macs={MAC: 'eth0'}))
        interfaces = list(state.iter_interfaces())
        self.assertEqual(['eth0'], [nic['name'] for nic in interfaces])
        subnets = interfaces[0]['subnets']
        self.assertEqual([('192.168.24.10', 24), ('fd00:24::10', 64)],
                         [(net['address'], net['prefix'])
                          for net in subnets])
        defaults = [(route['network'], route['gateway'])
                    for net in subnets for route in net['routes']
                    if route['prefix'] == 0]
        self.assertEqual([('0.0.0.0', '192.168.24.1'),
                          ('::', 'fd00:24::1')], defaults)
        self.assertEqual(['192.168.24.1'], state.dns_nameservers)

    def test_raw_user_data_and_ca_in_vendor_data(self):
        from cloudinit import sources

        user_data = b'#!/bin/sh\necho raw\n'
        result = configdrive.build_configdrive(
            _instance(), NODE, user_data=user_data, ca_file=self.ca_file,
            vendor_data={'static': {'x': 1}})
        image = _write_image(result, self.workdir, 'raw.iso')
        results = self.read(image)
        self.assertEqual(user_data, results['userdata'])
        self.assertNotIn('networkdata', results)
        vendor = sources.convert_vendordata(results['vendordata2'])
        self.assertTrue(vendor.startswith('#cloud-config\n'))
        self.assertEqual({'ca_certs': {'trusted': [CERT]}},
                         yaml.safe_load(vendor))
