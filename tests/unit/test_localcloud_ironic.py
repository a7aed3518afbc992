"""IronicService's two topologies, without starting Ironic."""

import os
import tempfile
import unittest
from unittest import mock

from localcloud import exceptions
from localcloud import ironic
from localcloud import process

POSTGRES = 'postgresql+psycopg2://postgres@127.0.0.1:5432/ironic'


class TopologyTest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.base_dir = tempfile.gettempdir()

    def test_api_workers_refuse_sqlite(self):
        with self.assertRaisesRegex(exceptions.ServiceError,
                                    'needs PostgreSQL'):
            ironic.IronicService(self.base_dir, 'sqlite:///ironic.sqlite',
                                 api_workers=2)

    def test_api_workers_at_least_one(self):
        with self.assertRaisesRegex(exceptions.ServiceError, 'at least 1'):
            ironic.IronicService(self.base_dir, POSTGRES, api_workers=0)

    def test_one_process_by_default(self):
        service = ironic.IronicService(self.base_dir, POSTGRES, port=6385)
        config = service.config()
        self.assertEqual('none', config['DEFAULT']['rpc_transport'])
        self.assertNotIn('json_rpc', config)
        self.assertNotIn('api_workers', config['api'])
        self.assertEqual(service.log_file, service.access_log)
        self.assertEqual([service.log_file], service.log_files())
        with mock.patch.object(process, 'find_executable',
                               lambda name: '/bin/%s' % name):
            processes = service.processes()
        self.assertEqual([('ironic', ['/bin/ironic', '--config-file',
                                      service.config_file])],
                         [(proc.name, proc.argv) for proc in processes])

    def test_split_config_and_processes(self):
        service = ironic.IronicService(self.base_dir, POSTGRES, port=6385,
                                       api_workers=3)
        service.rpc_port = 8091
        config = service.config()
        self.assertEqual('json-rpc', config['DEFAULT']['rpc_transport'])
        self.assertEqual('127.0.0.1', config['DEFAULT']['host'])
        self.assertEqual({'auth_strategy': 'noauth', 'host_ip': '127.0.0.1',
                          'port': 8091}, config['json_rpc'])
        self.assertEqual(3, config['api']['api_workers'])
        self.assertEqual(service.log_file, config['DEFAULT']['log_file'])
        self.assertEqual(service.api_log_file, service.access_log)
        self.assertNotEqual(service.log_file, service.api_log_file)
        self.assertEqual([service.log_file, service.api_log_file],
                         service.log_files())

        with mock.patch.object(process, 'find_executable',
                               lambda name: '/bin/%s' % name):
            conductor, api = service.processes()
        self.assertEqual('ironic-conductor', conductor.name)
        self.assertEqual('/bin/ironic-conductor', conductor.argv[0])
        self.assertEqual(service.log_file, conductor.log_file)
        self.assertEqual('ironic-api', api.name)
        self.assertEqual(['-m', ironic.API_LAUNCHER], api.argv[1:3])
        self.assertEqual(['--log-file', service.api_log_file],
                         api.argv[-2:])
        self.assertEqual(service.api_log_file, api.log_file)
        self.assertEqual(os.path.dirname(service.log_file),
                         os.path.dirname(api.console_log))
