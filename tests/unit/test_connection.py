"""How the openstacksdk connection is built, and the options sample."""

import logging
import os
import tempfile
import unittest
from unittest import mock

from keystoneauth1 import noauth
from openstack.config import loader
from oslo_config import generator
import requests_mock

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


CLOUDS_YAML = """
clouds:
  standalone:
    auth_type: none
    baremetal_endpoint_override: http://192.0.2.1:6385
  other:
    auth_type: none
    baremetal_endpoint_override: http://192.0.2.2:6385
"""


class IsolatedTestCase(unittest.TestCase):
    """No OS_* variable nor clouds.yaml of the host reaches the SDK."""

    def setUp(self):
        super().setUp()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        for name in ('CONFIG_FILES', 'SECURE_FILES', 'VENDOR_FILES'):
            patcher = mock.patch.object(loader, name, [
                os.path.join(self.tmp, 'none', name.lower())])
            patcher.start()
            self.addCleanup(patcher.stop)
        self.environ()

    def environ(self, **variables):
        """Replace the whole environment with HOME and ``variables``."""
        patcher = mock.patch.dict(os.environ, dict(variables, HOME=self.tmp),
                                  clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)

    def clouds_yaml(self, text=CLOUDS_YAML):
        """Write a clouds.yaml and return its path."""
        path = os.path.join(self.tmp, 'clouds.yaml')
        with open(path, 'w') as stream:
            stream.write(text)
        return path


@mock.patch('openstack.connection.Connection', autospec=True)
class ConnectionTest(IsolatedTestCase):

    def test_from_context(self, mock_conn):
        connection.get_connection(Context(), conf=make_conf())
        kwargs = mock_conn.call_args.kwargs
        self.assertEqual('https://pub:13385',
                         kwargs['baremetal_endpoint_override'])
        self.assertEqual('https://pub:13696',
                         kwargs['network_endpoint_override'])
        self.assertEqual(0, kwargs['baremetal_status_code_retries'])
        session = kwargs['session']
        self.assertIs(True, session.verify)
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

    def test_from_context_auth_cacert(self, mock_conn):
        context = Context()
        context.security = type('S', (Security,), {
            'auth_cacert': '/etc/pki/context.pem'})()
        connection.get_connection(context, conf=make_conf())
        self.assertEqual('/etc/pki/context.pem',
                         mock_conn.call_args.kwargs['session'].verify)

    def test_from_context_cafile_option(self, mock_conn):
        """Our cafile wins over the context's CA and its insecure."""
        context = Context()
        context.security = type('S', (Security,), {
            'auth_cacert': '/etc/pki/context.pem', 'insecure': True})()
        connection.get_connection(context, conf=make_conf(
            cafile='/etc/pki/ironic.pem'))
        self.assertEqual('/etc/pki/ironic.pem',
                         mock_conn.call_args.kwargs['session'].verify)

    def test_from_context_insecure_option(self, mock_conn):
        context = Context()
        context.security = type('S', (Security,), {
            'auth_cacert': '/etc/pki/context.pem'})()
        connection.get_connection(context, conf=make_conf(insecure=True))
        self.assertIs(False, mock_conn.call_args.kwargs['session'].verify)

    def test_from_context_endpoint_override(self, mock_conn):
        connection.get_connection(Context(), conf=make_conf(
            baremetal_endpoint_override='https://ironic:6385'))
        kwargs = mock_conn.call_args.kwargs
        self.assertEqual('https://ironic:6385',
                         kwargs['baremetal_endpoint_override'])
        self.assertEqual('secret-token', kwargs['session'].auth.token)

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

    def test_options_win_over_context(self, mock_conn):
        """An operator's auth_type is used even when the caller has a token."""
        connection.get_connection(Context(), conf=make_conf(
            auth_type='none',
            baremetal_endpoint_override='http://127.0.0.1:6385'))
        kwargs = mock_conn.call_args.kwargs
        self.assertEqual('http://127.0.0.1:6385',
                         kwargs['baremetal_endpoint_override'])
        self.assertFalse(hasattr(kwargs['session'].auth, 'token'))

    def test_context_wins_over_environment(self, mock_conn):
        self.environ(OS_CLOUD='standalone',
                     OS_CLIENT_CONFIG_FILE=self.clouds_yaml())
        connection.get_connection(Context(), conf=make_conf())
        kwargs = mock_conn.call_args.kwargs
        self.assertEqual('secret-token', kwargs['session'].auth.token)
        self.assertEqual('https://pub:13385',
                         kwargs['baremetal_endpoint_override'])

    def test_noauth_needs_endpoint(self, mock_conn):
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'baremetal_endpoint_override',
                               connection.get_connection,
                               conf=make_conf(auth_type='none'))

    def test_nothing_configured(self, mock_conn):
        self.environ(OS_REGION_NAME='r1')   # a selector configures nothing
        with self.assertRaises(exceptions.InvalidInput) as caught:
            connection.get_connection(conf=make_conf())
        message = str(caught.exception)
        for tried in ('no credentials', '[tripleo_baremetal] cloud and '
                      'auth_type (unset)', 'no Mistral context',
                      'OS_CLOUD unset', 'no clouds.yaml in %s' % os.path.join(
                          self.tmp, 'none'),
                      'variables OS_REGION_NAME', 'OS_CLIENT_CONFIG_FILE',
                      'OS_AUTH_URL', 'OS_AUTH_TYPE=none'):
            self.assertIn(tried, message)
        mock_conn.assert_not_called()

    def test_context_without_token(self, mock_conn):
        context = Context()
        context.security = type('S', (Security,), {'auth_token': None})()
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'no credentials: .*no Mistral context token',
                               connection.get_connection, context,
                               conf=make_conf())

    def test_context_without_catalog(self, mock_conn):
        context = Context()
        context.security = type('S', (Security,), {'service_catalog': []})()
        with self.assertRaises(exceptions.InvalidInput) as caught:
            connection.get_connection(context, conf=make_conf())
        self.assertIn('a Mistral context token but no service catalog',
                      str(caught.exception))
        self.assertNotIn('secret-token', str(caught.exception))


class SDKEnvironmentTest(IsolatedTestCase):
    """Real connections (no request made): what each source gives."""

    def connect(self, context=None, **options):
        return connection.get_connection(context, conf=make_conf(**options))

    def assertNoAuthTo(self, url, conn):
        self.assertEqual(url, conn.config.get_endpoint('baremetal'))
        self.assertIsInstance(conn.session.auth, noauth.NoAuth)

    def test_os_cloud(self):
        self.environ(OS_CLOUD='standalone',
                     OS_CLIENT_CONFIG_FILE=self.clouds_yaml())
        conn = self.connect()
        self.assertNoAuthTo('http://192.0.2.1:6385', conn)
        self.assertIs(True, conn.session.verify)
        self.assertEqual(60.0, conn.session.timeout)
        self.assertEqual(0, conn.config.get_status_code_retries('baremetal'))

    def test_only_cloud_of_clouds_yaml(self):
        """Like openstack.connect(): a lone cloud needs no OS_CLOUD."""
        self.environ(OS_CLIENT_CONFIG_FILE=self.clouds_yaml(
            CLOUDS_YAML.split('  other:')[0]))
        self.assertNoAuthTo('http://192.0.2.1:6385', self.connect())

    def test_several_clouds_none_chosen(self):
        self.environ(OS_CLIENT_CONFIG_FILE=self.clouds_yaml())
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'no credentials: .*OS_CLOUD unset; clouds.yaml '
                               '.*clouds.yaml \\(clouds: other, standalone\\)',
                               self.connect)

    def test_os_cloud_not_found(self):
        self.environ(OS_CLOUD='nope')
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'cannot connect with cloud nope: Cloud nope '
                               'was not found.*OS_CLOUD=nope',
                               self.connect)

    def test_os_endpoint(self):
        self.environ(OS_AUTH_TYPE='none', OS_ENDPOINT='http://192.0.2.5:6385')
        self.assertNoAuthTo('http://192.0.2.5:6385', self.connect())

    def test_os_endpoint_override_and_tls(self):
        self.environ(OS_AUTH_TYPE='none', OS_CACERT='/etc/pki/env.pem',
                     OS_BAREMETAL_ENDPOINT_OVERRIDE='https://192.0.2.6:6385')
        conn = self.connect(api_timeout=7)
        self.assertNoAuthTo('https://192.0.2.6:6385', conn)
        self.assertEqual('/etc/pki/env.pem', conn.session.verify)
        self.assertEqual(7.0, conn.session.timeout)

    def test_os_password(self):
        self.environ(OS_AUTH_URL='https://keystone:5000/v3',
                     OS_USERNAME='admin', OS_PASSWORD='hunter2-secret',
                     OS_PROJECT_NAME='admin', OS_USER_DOMAIN_NAME='Default',
                     OS_PROJECT_DOMAIN_NAME='Default', OS_INSECURE='true')
        conn = self.connect()
        self.assertEqual('https://keystone:5000/v3',
                         conn.session.auth.auth_url)
        self.assertIs(False, conn.session.verify)
        self.assertEqual(60.0, conn.session.timeout)

    def test_incomplete_environment(self):
        self.environ(OS_USERNAME='admin', OS_PASSWORD='hunter2-secret')
        with self.assertRaises(exceptions.InvalidInput) as caught:
            self.connect()
        message = str(caught.exception)
        self.assertIn("openstacksdk's environment: missing auth_url", message)
        self.assertIn('variables OS_PASSWORD, OS_USERNAME', message)
        self.assertNotIn('hunter2', message)

    def test_options_override_environment(self):
        self.environ(OS_CLOUD='standalone', OS_CACERT='/etc/pki/env.pem',
                     OS_CLIENT_CONFIG_FILE=self.clouds_yaml())
        conn = self.connect(baremetal_endpoint_override='https://ironic',
                            insecure=True)
        self.assertNoAuthTo('https://ironic', conn)
        self.assertIs(False, conn.session.verify)
        conn = self.connect(cafile='/etc/pki/ironic.pem')
        self.assertEqual('/etc/pki/ironic.pem', conn.session.verify)

    def test_cloud_option_wins_over_os_cloud(self):
        self.environ(OS_CLOUD='other',
                     OS_CLIENT_CONFIG_FILE=self.clouds_yaml())
        self.assertNoAuthTo('http://192.0.2.1:6385',
                            self.connect(cloud='standalone', api_timeout=9))
        self.assertNoAuthTo('http://192.0.2.2:6385', self.connect())

    def test_cloud_option_not_found(self):
        self.environ(OS_CLIENT_CONFIG_FILE=self.clouds_yaml())
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'cannot connect with cloud undercloud: Cloud '
                               'undercloud was not found.*clouds.yaml %s'
                               % self.tmp, self.connect, cloud='undercloud')

    def test_timeout_on_every_path(self):
        self.environ(OS_CLOUD='standalone',
                     OS_CLIENT_CONFIG_FILE=self.clouds_yaml())
        for context, options in (
                (None, {}),
                (None, {'cloud': 'other'}),
                (None, {'auth_type': 'none',
                        'baremetal_endpoint_override': 'http://ironic'}),
                (Context(), {})):
            conn = self.connect(context, api_timeout=3, **options)
            self.assertEqual(3.0, conn.session.timeout, options)

    def test_request_from_context(self):
        """At the HTTP level: token sent, timeout and CA used, not logged."""
        conn = self.connect(Context(), cafile='/etc/pki/ironic.pem')
        with requests_mock.Mocker() as mocker, \
                self.assertLogs(level=logging.DEBUG) as logs:
            mocker.get('https://pub:13385/v1/nodes', json={'nodes': []})
            conn.session.get('https://pub:13385/v1/nodes',
                             headers={'Accept': 'application/json'})
        request = mocker.last_request
        self.assertEqual('secret-token', request.headers['X-Auth-Token'])
        self.assertEqual(60.0, request.timeout)
        self.assertEqual('/etc/pki/ironic.pem', request.verify)
        self.assertTrue(logs.output)
        self.assertNotIn('secret-token', '\n'.join(logs.output))


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
