"""Tests for config drive building, read back the way readers do."""

import base64
import copy
import gzip
import io
import json
import os
import random
import stat
import tempfile
import time
import unittest
from unittest import mock

import pycdlib
import yaml

from tripleo_baremetal.configdrive import contents as configdrive
from tripleo_baremetal.configdrive import iso
from tripleo_baremetal import exceptions
from tripleo_baremetal import model

NODE = '1be26c0b-03f2-4d2e-ae87-c02d7f33c123'
KEY1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 stack@undercloud'
KEY2 = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQKey2 admin@laptop'
# Not a real certificate: only the PEM armour matters to the builder.
CERT = ('-----BEGIN CERTIFICATE-----\n'
        'MIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGUgZm9yIHRlc3Rz\n'
        '-----END CERTIFICATE-----')
NETWORK_DATA = {
    'links': [{'id': 'port-1', 'type': 'phy', 'mtu': 1500,
               'ethernet_mac_address': '52:54:00:aa:bb:cc'}],
    'networks': [{'id': 'network0', 'link': 'port-1', 'network_id': 'n',
                  'type': 'ipv4', 'ip_address': '192.168.24.10',
                  'netmask': '255.255.255.0', 'routes': []}],
    'services': [],
}
VERSIONS = ('latest', '2012-08-10')


def instance(cloud_config=None, meta_data=None, **overrides):
    """An Instance; ``cloud_config``/``meta_data`` go into its config drive."""
    result = {
        'hostname': 'overcloud-controller-0',
        'role': 'Controller',
        'index': 0,
        'ssh_public_keys': [KEY1],
        'user_name': None,
        'passwordless_sudo': None,
        'config_drive': {'cloud_config': cloud_config or {},
                         'meta_data': meta_data or {}},
    }
    result.update(overrides)
    return model.Instance.from_dict(result)


def unpack(result):
    """The ISO bytes of a build_configdrive() result."""
    return gzip.decompress(base64.b64decode(result['configdrive']))


class Drive:
    """A config drive image opened with pycdlib, for the tests."""

    def __init__(self, image):
        self.image = image
        self.iso = pycdlib.PyCdlib()
        self.iso.open_fp(io.BytesIO(image))

    def close(self):
        self.iso.close()

    def paths(self, namespace):
        """Files under each namespace root, as plain relative paths."""
        found = set()
        for root, dirs, files in self.iso.walk(**{namespace: '/'}):
            for name in files:
                found.add(os.path.join(root, name).lstrip('/'))
        return found

    def read(self, path, namespace='rr_path'):
        full = '/' + path + (';1' if namespace == 'iso_path' else '')
        output = io.BytesIO()
        self.iso.get_file_from_iso_fp(output, **{namespace: full})
        return output.getvalue()

    def labels(self):
        """Volume identifiers of the primary and Joliet descriptors."""
        result = {}
        sector = 16
        while True:
            descriptor = self.image[sector * 2048:(sector + 1) * 2048]
            if descriptor[0] == 255:
                return result
            ident = descriptor[40:72]
            if descriptor[0] == 1:
                result['primary'] = ident.decode('ascii').rstrip()
            elif descriptor[0] == 2:
                result['joliet'] = ident.decode('utf-16-be').rstrip()
            sector += 1


class DriveTestCase(unittest.TestCase):

    def build(self, inst=None, **kwargs):
        result = configdrive.build_configdrive(inst or instance(), NODE,
                                               **kwargs)
        image = unpack(result)
        self.assertEqual(len(image), result['size'])
        drive = Drive(image)
        self.addCleanup(drive.close)
        return drive

    def files(self, drive):
        """Check the three namespaces agree and return path -> bytes."""
        rock_ridge = drive.paths('rr_path')
        self.assertEqual(rock_ridge, drive.paths('joliet_path'))
        self.assertEqual({path + ';1' for path in rock_ridge},
                         drive.paths('iso_path'))
        contents = {}
        for path in rock_ridge:
            data = drive.read(path)
            self.assertEqual(data, drive.read(path, 'joliet_path'), path)
            self.assertEqual(data, drive.read(path, 'iso_path'), path)
            contents[path] = data
        for path, data in contents.items():
            version, name = path.split('/')[1:]
            other = VERSIONS[1 - VERSIONS.index(version)]
            self.assertEqual(data, contents['openstack/%s/%s'
                                            % (other, name)])
        return contents

    def meta_data(self, drive):
        return json.loads(drive.read('openstack/latest/meta_data.json'))

    def cloud_config(self, drive):
        text = drive.read('openstack/latest/user_data').decode('utf-8')
        self.assertTrue(text.startswith('#cloud-config\n'), text)
        return yaml.safe_load(text)


class LayoutTest(DriveTestCase):

    def test_label_paths_and_names(self):
        drive = self.build(network_data=NETWORK_DATA)
        self.assertEqual({'primary': 'config-2', 'joliet': 'config-2'},
                         drive.labels())
        expected = {'openstack/%s/%s' % (version, name)
                    for version in VERSIONS
                    for name in ('meta_data.json', 'user_data',
                                 'network_data.json')}
        self.assertEqual(expected, set(self.files(drive)))
        # Interchange level 4: the name Ironic itself looks up.
        with drive.iso.open_file_from_iso(
                iso_path='/openstack/latest/network_data.json;1') as stream:
            self.assertEqual(NETWORK_DATA, json.loads(stream.read()))

    def test_read_only_regular_files(self):
        drive = self.build(vendor_data={'x': 1})
        for path in self.files(drive):
            mode = drive.iso.file_mode(rr_path='/' + path)
            self.assertTrue(stat.S_ISREG(mode), path)
            self.assertEqual(0o444, stat.S_IMODE(mode), path)

    def test_rock_ridge_and_joliet(self):
        drive = self.build()
        self.assertTrue(drive.iso.has_rock_ridge())
        self.assertTrue(drive.iso.has_joliet())
        self.assertFalse(drive.iso.has_udf())

    def test_optional_files_omitted(self):
        for network_data in (None, {}):
            drive = self.build(network_data=network_data)
            names = {path.rsplit('/', 1)[1] for path in self.files(drive)}
            self.assertEqual({'meta_data.json', 'user_data'}, names)

    def test_vendor_data(self):
        drive = self.build(vendor_data={'static': {'answer': 42}})
        files = self.files(drive)
        self.assertEqual({'static': {'answer': 42}}, json.loads(
            files['openstack/2012-08-10/vendor_data2.json']))

    def test_dated_copy_costs_no_space(self):
        payload = random.Random(1).randbytes(200000)
        with self.assertLogs(configdrive.LOG, 'WARNING'):
            drive = self.build(user_data=payload)
        self.assertLess(len(drive.image), 1.5 * len(payload))
        self.assertEqual(payload,
                         drive.read('openstack/2012-08-10/user_data'))


class MetaDataTest(DriveTestCase):

    def test_meta_data(self):
        inst = instance(ssh_public_keys=[KEY1, KEY2], index=3,
                        meta_data={'meta': {'owner': 'ops'}, 'devices': []})
        drive = self.build(inst, ssh_keys=[KEY2, ' %s\n' % KEY1, KEY1],
                           stackname='overcloud')
        self.assertEqual({
            'uuid': NODE,
            'hostname': 'overcloud-controller-0',
            'name': 'overcloud-controller-0',
            'public_keys': {'0': KEY1, '1': KEY2},
            'availability_zone': '',
            'launch_index': 3,
            'files': [],
            'meta': {'role': 'Controller', 'stack': 'overcloud',
                     'owner': 'ops'},
            'devices': [],
            # The role, as tripleo-ansible wrote it.
            'instance-type': 'Controller',
        }, self.meta_data(drive))

    def test_instance_type_may_be_overridden(self):
        inst = instance(meta_data={'instance-type': 'big'})
        self.assertEqual('big', self.meta_data(self.build(inst))[
            'instance-type'])

    def test_single_key_string(self):
        drive = self.build(ssh_keys=KEY2)
        self.assertEqual({'0': KEY1, '1': KEY2},
                         self.meta_data(drive)['public_keys'])

    def test_unicode_hostname(self):
        name = 'nœud-ünïcode-节点-0'
        drive = self.build(instance(hostname=name))
        meta = self.meta_data(drive)
        self.assertEqual(name, meta['hostname'])
        self.assertEqual(name, meta['name'])

    def test_uuid_cannot_be_overridden(self):
        inst = instance(meta_data={'uuid': 'something-else'})
        self.assertRaisesRegex(exceptions.InvalidInput, 'may not set uuid',
                               configdrive.build_configdrive, inst, NODE)
        inst = instance(meta_data={'uuid': NODE})
        self.assertEqual(NODE, self.meta_data(self.build(inst))['uuid'])

    def test_random_seed_must_be_base64(self):
        inst = instance(meta_data={'random_seed': 'not base64!'})
        self.assertRaisesRegex(exceptions.InvalidInput, 'random_seed',
                               configdrive.build_configdrive, inst, NODE)
        seed = base64.b64encode(b'\x00' * 32).decode()
        inst = instance(meta_data={'random_seed': seed})
        self.assertEqual(seed,
                         self.meta_data(self.build(inst))['random_seed'])

    def test_node_uuid_required(self):
        self.assertRaises(exceptions.InvalidInput,
                          configdrive.build_configdrive, instance(), None)

    def test_instance_not_modified(self):
        inst = instance(cloud_config={'users': [{'name': 'x'}]})
        before = copy.deepcopy(inst)
        self.build(inst, ssh_keys=[KEY2])
        self.assertEqual(before, inst)


class CloudConfigTest(DriveTestCase):

    def test_default_admin_user(self):
        config = self.cloud_config(self.build(ssh_keys=[KEY2]))
        self.assertEqual({'users': [{
            'name': 'tripleo-admin',
            'lock_passwd': True,
            'shell': '/bin/bash',
            'ssh_authorized_keys': [KEY1, KEY2],
            'sudo': 'ALL=(ALL) NOPASSWD:ALL',
        }]}, config)

    def test_user_name(self):
        inst = instance(user_name='heat-admin', passwordless_sudo=False)
        user = self.cloud_config(self.build(inst))['users'][0]
        self.assertEqual('heat-admin', user['name'])
        self.assertNotIn('sudo', user)
        user = self.cloud_config(self.build(inst, user_name='ops'))[
            'users'][0]
        self.assertEqual('ops', user['name'])

    def test_no_keys_warns(self):
        with self.assertLogs(configdrive.LOG, 'WARNING') as logs:
            config = self.cloud_config(self.build(
                instance(ssh_public_keys=[])))
        self.assertNotIn('ssh_authorized_keys', config['users'][0])
        self.assertIn('no SSH public keys', logs.output[0])

    def test_deep_merge(self):
        inst = instance(cloud_config={
            'users': [{'name': 'extra'}],
            'packages': ['vim'],
            'write_files': [{'path': '/etc/motd', 'content': 'hi\nthere\n'}],
            'chpasswd': {'expire': False},
        })
        config = self.cloud_config(self.build(inst))
        self.assertEqual(['tripleo-admin', 'extra'],
                         [user['name'] for user in config['users']])
        self.assertEqual(['vim'], config['packages'])
        self.assertEqual('hi\nthere\n', config['write_files'][0]['content'])
        self.assertEqual({'expire': False}, config['chpasswd'])

    def test_merge(self):
        base = {'a': {'b': 1, 'c': [1, 2]}, 'd': 'x'}
        self.assertEqual(
            {'a': {'b': 2, 'c': [1, 2, 3], 'e': None}, 'd': ['y']},
            configdrive.merge(base, {'a': {'b': 2, 'c': [2, 3], 'e': None},
                                     'd': ['y']}))
        self.assertEqual({'a': {'b': 1, 'c': [1, 2]}, 'd': 'x'}, base)


class RawUserDataTest(DriveTestCase):

    def assertPassesThrough(self, user_data, expected=None):
        drive = self.build(user_data=user_data)
        files = self.files(drive)
        if expected is None:
            expected = user_data
        self.assertEqual(expected, files['openstack/latest/user_data'])
        return drive

    def test_str_and_bytes(self):
        self.assertPassesThrough('#!/bin/sh\necho héllo\n',
                                 '#!/bin/sh\necho héllo\n'.encode('utf-8'))
        self.assertPassesThrough(b'#cloud-config\nruncmd: [true]\n')

    def test_binary_and_gzip(self):
        self.assertPassesThrough(bytes(range(256)) * 16)
        self.assertPassesThrough(gzip.compress(b'#cloud-config\n{}\n',
                                               mtime=0))

    def test_mime_multipart(self):
        mime = (b'Content-Type: multipart/mixed; boundary="XX"\n'
                b'MIME-Version: 1.0\n\n--XX\n'
                b'Content-Type: text/x-shellscript\n\n#!/bin/sh\ntrue\n'
                b'--XX--\n')
        self.assertPassesThrough(mime)

    def test_one_mebibyte(self):
        payload = random.Random(4).randbytes(1024 * 1024)
        with self.assertLogs(configdrive.LOG, 'WARNING'):
            drive = self.assertPassesThrough(payload)
        self.assertEqual(payload, drive.read('openstack/2012-08-10/user_data',
                                             'iso_path'))

    def test_empty_user_data_writes_no_file(self):
        drive = self.build(user_data=b'')
        self.assertNotIn('openstack/latest/user_data', self.files(drive))

    def test_cloud_config_ignored_with_warning(self):
        inst = instance(cloud_config={'packages': ['vim']})
        with self.assertLogs(configdrive.LOG, 'WARNING') as logs:
            self.build(inst, user_data='#!/bin/sh\n')
        self.assertIn('raw user data', logs.output[0])
        self.assertNotIn('#!/bin/sh', logs.output[0])

    def test_wrong_type(self):
        self.assertRaisesRegex(exceptions.InvalidInput, 'str or bytes',
                               configdrive.build_configdrive, instance(),
                               NODE, user_data={'packages': []})


class CaFileTest(DriveTestCase):

    def ca_file(self, text):
        handle, path = tempfile.mkstemp(suffix='.pem')
        self.addCleanup(os.unlink, path)
        with os.fdopen(handle, 'w') as stream:
            stream.write(text)
        return path

    def test_ca_in_cloud_config(self):
        path = self.ca_file('junk before\n%s\n%s\n' % (CERT, CERT.replace(
            'Q2Vy', 'T3Ro')))
        drive = self.build(ca_file=path)
        config = self.cloud_config(drive)
        self.assertEqual([CERT, CERT.replace('Q2Vy', 'T3Ro')],
                         config['ca_certs']['trusted'])
        self.assertEqual('tripleo-admin', config['users'][0]['name'])
        self.assertNotIn('openstack/latest/vendor_data2.json',
                         self.files(drive))

    def test_ca_with_raw_user_data_goes_to_vendor_data(self):
        path = self.ca_file(CERT + '\n')
        drive = self.build(ca_file=path, user_data=b'#!/bin/sh\n',
                           vendor_data={'static': {}})
        files = self.files(drive)
        self.assertEqual(b'#!/bin/sh\n', files['openstack/latest/user_data'])
        vendor = json.loads(files['openstack/latest/vendor_data2.json'])
        self.assertEqual({}, vendor['static'])
        self.assertTrue(vendor['cloud-init'].startswith('#cloud-config\n'))
        self.assertEqual({'ca_certs': {'trusted': [CERT]}},
                         yaml.safe_load(vendor['cloud-init']))

    def test_ca_with_raw_user_data_and_cloud_init_vendor_data(self):
        path = self.ca_file(CERT)
        self.assertRaisesRegex(exceptions.ConfigDriveError,
                               'cloud-init entry of the vendor data',
                               configdrive.build_configdrive, instance(),
                               NODE, user_data='x', ca_file=path,
                               vendor_data={'cloud-init': '#cloud-config'})

    def test_bad_ca_files(self):
        for path, message in [
                ('/nonexistent/ca.pem', 'Cannot read'),
                (self.ca_file('no certificate here'), 'no PEM certificate')]:
            with self.subTest(path=path):
                self.assertRaisesRegex(exceptions.ConfigDriveError, message,
                                       configdrive.build_configdrive,
                                       instance(), NODE, ca_file=path)


class DeterminismTest(unittest.TestCase):

    def build(self):
        return configdrive.build_configdrive(
            instance(), NODE, ssh_keys=[KEY2], network_data=NETWORK_DATA,
            vendor_data={'a': 1}, stackname='overcloud')

    def test_same_inputs_same_bytes(self):
        first = self.build()
        later = time.time() + 400 * 86400 + 3723.5
        with mock.patch('time.time', return_value=later, autospec=True):
            second = self.build()
        self.assertEqual(first, second)

    def test_timezone_does_not_matter(self):
        first = self.build()
        old = os.environ.get('TZ')
        self.addCleanup(time.tzset)
        if old is None:
            self.addCleanup(os.environ.pop, 'TZ', None)
        else:
            self.addCleanup(os.environ.__setitem__, 'TZ', old)
        os.environ['TZ'] = 'Asia/Kathmandu'
        time.tzset()
        self.assertEqual(first, self.build())

    def test_dates_pinned(self):
        image = unpack(self.build())
        for sector in (16, 17):
            descriptor = image[sector * 2048:(sector + 1) * 2048]
            for offset in (813, 830, 864):
                self.assertEqual(b'1980010100000000\x00',
                                 descriptor[offset:offset + 17])

    def test_pin_timestamps_covers_every_date(self):
        files = configdrive.build_files({'uuid': NODE}, user_data=b'x')
        with mock.patch.object(iso, 'pin_timestamps', autospec=True):
            first = bytearray(iso.make_iso(files))
            with mock.patch('time.time', autospec=True,
                            return_value=time.time() + 99999):
                second = bytearray(iso.make_iso(files))
        self.assertNotEqual(first, second)
        iso.pin_timestamps(first)
        iso.pin_timestamps(second)
        self.assertEqual(first, second)


class SizeTest(unittest.TestCase):

    def test_oversize_refused_before_building(self):
        payload = b'\0' * (configdrive.MAX_SIZE + 1)
        with mock.patch.object(pycdlib, 'PyCdlib', autospec=True) as iso:
            self.assertRaisesRegex(
                exceptions.ConfigDriveError,
                'overcloud-controller-0.*%d.*user_data' % configdrive.MAX_SIZE,
                configdrive.build_configdrive, instance(), NODE,
                user_data=payload)
        iso.assert_not_called()

    def test_oversize_image_refused(self):
        # The payload fits but the image with its metadata does not.
        with mock.patch.object(configdrive, 'MAX_SIZE', 64 * 1024):
            self.assertRaisesRegex(
                exceptions.ConfigDriveError, 'the config drive would be',
                configdrive.build_configdrive, instance(), NODE,
                user_data=b'x' * 60000)

    def test_large_drive_warns(self):
        payload = random.Random(2).randbytes(100 * 1024)
        with self.assertLogs(configdrive.LOG, 'WARNING') as logs:
            result = configdrive.build_configdrive(instance(), NODE,
                                                   user_data=payload)
        self.assertGreater(len(result['configdrive']),
                           configdrive.DATABASE_SIZE)
        self.assertIn('object storage', logs.output[0])

    def test_small_drive_does_not_warn(self):
        with mock.patch.object(configdrive.LOG, 'warning',
                               autospec=True) as warning:
            result = configdrive.build_configdrive(instance(), NODE)
        warning.assert_not_called()
        self.assertLess(len(result['configdrive']), 4096)


class SecretsTest(unittest.TestCase):

    def test_user_data_never_logged(self):
        inst = instance(cloud_config={'packages': ['x']})
        secret = 'password: hunter2-secret'
        with self.assertLogs(configdrive.LOG, 'DEBUG') as logs:
            configdrive.build_configdrive(inst, NODE, user_data=secret)
            configdrive.build_configdrive(
                instance(cloud_config={'x': secret}), NODE)
        self.assertNotIn('hunter2', '\n'.join(logs.output))
