"""How the openstacksdk connection is built, and the options sample."""

import os
import tempfile
import unittest
from unittest import mock

from openstack.config import loader
from oslo_config import generator

from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import connection
from tripleo_baremetal import exceptions

CATALOG = [
    {'type': 'baremetal', 'endpoints': [
        {'interface': 'internal', 'region': 'r1', 'url': 'http://int:6385'},
        {'interface': 'public', 'region': 'r1', 'url': 'https://pub:13385'},
        {'interface': 'public', 'region': 'r2', 'url': 'https://r2:13385'}]},
    {'type': 'network', 'endpoints': [
        {'interface': 'public', 'region': 'r1', 'url': 'https://pub:13696'}]},
]


class Security:
    auth_token = 'secret-token'
    service_catalog = CATALOG
    insecure = False
    auth_cacert = None
    region_name = 'r1'


class Context:
    security = Security()


def make_conf(**overrides):
    return baremetal_conf.standalone_conf(**overrides)


@mock.patch('openstack.connection.Connection', autospec=True)
class ConnectionTest(unittest.TestCase):

    def test_from_context(self, mock_conn):
        connection.get_connection(Context(), conf=make_conf())
        kwargs = mock_conn.call_args.kwargs
        self.assertEqual('https://pub:13385',
                         kwargs['baremetal_endpoint_override'])
        self.assertEqual('https://pub:13696',
                         kwargs['network_endpoint_override'])
        self.assertEqual(0, kwargs['baremetal_status_code_retries'])
        session = kwargs['session']
        self.assertTrue(session.verify)
        self.assertEqual('secret-token', session.auth.token)

    def test_from_context_interface_and_insecure(self, mock_conn):
        context = Context()
        context.security = type('S', (Security,), {'insecure': True})()
        connection.get_connection(context, conf=make_conf(
            interface='internal'))
        kwargs = mock_conn.call_args.kwargs
        self.assertEqual('http://int:6385',
                         kwargs['baremetal_endpoint_override'])
        self.assertNotIn('network_endpoint_override', kwargs)
        self.assertFalse(kwargs['session'].verify)

    def test_from_context_catalog_as_json(self, mock_conn):
        context = Context()
        context.security = type('S', (Security,), {
            'service_catalog': '{"catalog": %s}' % str(CATALOG).replace(
                "'", '"')})()
        connection.get_connection(context, conf=make_conf())
        self.assertEqual('https://pub:13385', mock_conn.call_args.kwargs[
            'baremetal_endpoint_override'])

    def test_from_context_without_baremetal(self, mock_conn):
        context = Context()
        context.security = type('S', (Security,), {
            'service_catalog': CATALOG[1:]})()
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'no public baremetal endpoint in region r1',
                               connection.get_connection, context,
                               conf=make_conf())

    def test_noauth(self, mock_conn):
        connection.get_connection(conf=make_conf(
            auth_type='none',
            baremetal_endpoint_override='http://127.0.0.1:6385'))
        kwargs = mock_conn.call_args.kwargs
        self.assertEqual('http://127.0.0.1:6385',
                         kwargs['baremetal_endpoint_override'])
        self.assertTrue(kwargs['session'].verify)

    def test_noauth_needs_endpoint(self, mock_conn):
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'baremetal_endpoint_override',
                               connection.get_connection,
                               conf=make_conf(auth_type='none'))

    def test_nothing_configured(self, mock_conn):
        self.assertRaisesRegex(exceptions.InvalidInput, 'no credentials',
                               connection.get_connection, conf=make_conf())

    @mock.patch('openstack.connect', autospec=True)
    def test_cloud(self, mock_connect, mock_conn):
        connection.get_connection(conf=make_conf(cloud='undercloud'))
        mock_connect.assert_called_once_with(
            cloud='undercloud', baremetal_status_code_retries=0)

    def test_context_without_token_uses_conf(self, mock_conn):
        context = Context()
        context.security = type('S', (Security,), {'auth_token': None})()
        self.assertRaisesRegex(exceptions.InvalidInput, 'no credentials',
                               connection.get_connection, context,
                               conf=make_conf())


CLOUDS_YAML = """
clouds:
  standalone:
    auth_type: none
    baremetal_endpoint_override: http://192.0.2.1:6385
"""


class SDKEnvironmentTest(unittest.TestCase):
    """The SDK's own environment: OS_CLOUD, clouds.yaml, OS_* variables."""

    def setUp(self):
        super().setUp()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        # Only the files and variables a test gives: none of the host's.
        for name in ('CONFIG_FILES', 'SECURE_FILES', 'VENDOR_FILES'):
            patcher = mock.patch.object(loader, name, [])
            patcher.start()
            self.addCleanup(patcher.stop)
        self.environ(HOME=self.tmp)

    def environ(self, **variables):
        """Replace the whole environment with ``variables``."""
        patcher = mock.patch.dict(os.environ, variables, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)

    def clouds_yaml(self, text=CLOUDS_YAML):
        """Write a clouds.yaml and return its path."""
        path = os.path.join(self.tmp, 'clouds.yaml')
        with open(path, 'w') as stream:
            stream.write(text)
        return path

    @unittest.expectedFailure   # every action says "no credentials"
    def test_os_cloud(self):
        self.environ(HOME=self.tmp, OS_CLOUD='standalone',
                     OS_CLIENT_CONFIG_FILE=self.clouds_yaml())
        conn = connection.get_connection(conf=make_conf())
        self.assertEqual('http://192.0.2.1:6385',
                         conn.baremetal.get_endpoint())


class OptionsTest(unittest.TestCase):

    def test_list_opts(self):
        (group, opts), = baremetal_conf.list_opts()
        names = {opt.name for opt in opts}
        self.assertEqual('tripleo_baremetal', group)
        self.assertLessEqual({'cloud', 'baremetal_endpoint_override',
                              'poll_interval', 'auth_type', 'cafile',
                              'insecure'}, names)


class SampleTest(unittest.TestCase):

    def test_sample_is_up_to_date(self):
        """etc/tripleo-baremetal.conf.sample is what the generator writes."""
        top = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        sample = os.path.join(top, 'etc', 'tripleo-baremetal.conf.sample')
        with tempfile.TemporaryDirectory() as tmp:
            output = os.path.join(tmp, 'sample.conf')
            generator.main(['--namespace', 'tripleo_baremetal',
                            '--wrap-width', '79', '--output-file', output])
            with open(output) as new, open(sample) as committed:
                self.assertEqual(committed.read(), new.read(),
                                 'regenerate with tox -e genconfig')
