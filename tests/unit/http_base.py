"""HTTP-level test machinery: a fake Ironic and Neutron at the session.

Tests call the Mistral actions with a real openstacksdk connection
(``auth_type = none``, endpoint overrides, our transport retries) whose
requests never leave the process: ``requests-mock`` answers them, and
every request made is kept, so that a test can assert exactly which
requests (method, path, query) an action makes and how many.

Two ways to answer, with the same registrations:

* the default replaces the HTTP adapter of every ``requests`` session
  (what ``requests_mock.Mocker`` does): fast, but the retrying adapter
  that ``api.install_retries`` mounts never runs;
* ``WIRE = True`` keeps that adapter and answers at urllib3's level
  instead (each try of a request, retries included, is one recorded
  request), for tests of the transport's own retries.
"""

import collections
import io
import json
import unittest
from unittest import mock
from urllib import parse

from oslo_config import cfg
from oslo_config import fixture as config_fixture
import requests
import requests_mock
from urllib3 import connectionpool
from urllib3 import response as urllib3_response

from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import connection

IRONIC = 'http://ironic.test'
NEUTRON = 'http://neutron.test'

#: The microversion range our fake Ironic announces.
IRONIC_MIN_VERSION = '1.1'
IRONIC_MAX_VERSION = '1.87'

#: One recorded (or expected) request. ``query`` is a sorted tuple of
#: ``(parameter, values)``, e.g. ``(('fields', ('uuid,name',)),)``;
#: ``host`` tells Ironic from Neutron.
Call = collections.namedtuple('Call', ['method', 'host', 'path', 'query'])


class Fields(object):
    """Matches a ``fields`` query value that names at least ``names``.

    ``Fields()`` matches any ``fields`` value (but not its absence).

    The exact field lists are the core's to tune; a test pins that a
    listing is narrowed (and to what it must at least contain).
    """

    def __init__(self, *names):
        self.names = frozenset(names)

    def __eq__(self, other):
        if not isinstance(other, tuple) or len(other) != 1:
            return False
        return self.names <= set(other[0].split(','))

    def __hash__(self):
        return hash(self.names)

    def __repr__(self):
        return 'Fields(%s)' % ', '.join(sorted(self.names))


def ironic(method, path, **query):
    """An expected Ironic request; ``path`` is below ``/v1``."""
    return _call(method, IRONIC, '/v1/' + path.lstrip('/'), query)


def neutron(method, path, **query):
    """An expected Neutron request; ``path`` is below ``/v2.0``."""
    return _call(method, NEUTRON, '/v2.0/' + path.lstrip('/'), query)


def _call(method, base, path, query):
    normal = []
    for key, value in sorted(query.items()):
        if isinstance(value, (list, tuple)):
            value = tuple(str(item) for item in value)
        elif not isinstance(value, Fields) and value is not mock.ANY:
            value = (str(value),)
        normal.append((key, value))
    return Call(method, parse.urlsplit(base).netloc, path, tuple(normal))


def _recorded(request):
    """A request ``requests-mock`` saw, as a ``Call``."""
    query = parse.parse_qs(request.query, keep_blank_values=True)
    return Call(request.method, request.netloc, request.path,
                tuple((key, tuple(values))
                      for key, values in sorted(query.items())))


def ironic_discovery():
    """What a new connection asks Ironic before its first real request."""
    return [Call('GET', 'ironic.test', '/', ()),
            Call('GET', 'ironic.test', '/v1/', ())]


def neutron_discovery():
    """What a new connection asks Neutron before its first request."""
    return [Call('GET', 'neutron.test', '/', ())]


class in_any_order(tuple):
    """Expected calls that may come in any order (made by a thread pool)."""

    def __new__(cls, *calls):
        return super().__new__(cls, calls)


# Ironic and Neutron resources, as their APIs return them.

def node(uuid, name=None, provision_state='available', allocation=None,
         instance_info=None, **fields):
    """An Ironic node (``allocation``: the UUID of the allocation on it)."""
    result = {
        'uuid': uuid, 'name': name, 'provision_state': provision_state,
        'target_provision_state': None, 'power_state': 'power off',
        'maintenance': False, 'maintenance_reason': None,
        'last_error': None, 'reservation': None, 'protected': False,
        'allocation_uuid': allocation, 'instance_uuid': allocation,
        'instance_info': dict(instance_info or {}),
        'resource_class': 'baremetal', 'traits': [],
        'properties': {'local_gb': 50, 'capabilities': ''},
        'conductor_group': '', 'driver': 'fake-hardware',
        'links': [{'href': '%s/v1/nodes/%s' % (IRONIC, uuid),
                   'rel': 'self'}],
    }
    result.update(fields)
    return result


def allocation(uuid, name, node_uuid=None, state='active', **fields):
    """An Ironic allocation."""
    result = {
        'uuid': uuid, 'name': name, 'state': state, 'node_uuid': node_uuid,
        'last_error': None, 'resource_class': 'baremetal', 'traits': [],
        'candidate_nodes': [node_uuid] if node_uuid else [], 'extra': {},
        'owner': None,
        'links': [{'href': '%s/v1/allocations/%s' % (IRONIC, uuid),
                   'rel': 'self'}],
    }
    result.update(fields)
    return result


def ironic_port(uuid, node_uuid, address, vif=None):
    """An Ironic port (a NIC), carrying the VIF ``vif`` if given."""
    return {'uuid': uuid, 'node_uuid': node_uuid, 'address': address,
            'portgroup_uuid': None, 'pxe_enabled': True,
            'physical_network': None, 'local_link_connection': {},
            'extra': {},
            'internal_info': {'tenant_vif_port_id': vif} if vif else {}}


def neutron_port(uuid, network_id, mac, ip, subnet_id):
    """A Neutron port with one fixed IP."""
    return {'id': uuid, 'name': '', 'network_id': network_id,
            'mac_address': mac, 'status': 'DOWN', 'device_id': '',
            'device_owner': '', 'admin_state_up': True,
            'fixed_ips': [{'ip_address': ip, 'subnet_id': subnet_id}]}


def validation(**failures):
    """A node validation result; ``failures`` maps interface to reason."""
    result = {}
    for interface in ('boot', 'console', 'deploy', 'inspect', 'management',
                      'network', 'power', 'raid', 'rescue', 'storage'):
        reason = failures.get(interface)
        result[interface] = {'result': reason is None, 'reason': reason}
    return result


def ironic_error(message, status=400):
    """Ironic's error body (its ``error_message`` is JSON in a string)."""
    return {'error_message': json.dumps(
        {'faultstring': message, 'faultcode': 'Client' if status < 500
         else 'Server', 'debuginfo': None})}


def instance(hostname, **fields):
    """An expanded instance (doc/source/instances.md), whole-disk image."""
    result = {'hostname': hostname, 'role': 'Compute', 'index': 0,
              'provisioned': True, 'managed': True, 'name': None,
              'resource_class': 'baremetal', 'profile': None,
              'capabilities': {}, 'traits': [], 'forbidden_traits': [],
              'conductor_group': None,
              'image': {'href': 'http://images.test/overcloud.qcow2',
                        'checksum': 'a' * 32},
              'root_size_gb': None, 'swap_size_mb': None, 'networks': [],
              'config_drive': {'cloud_config': {}, 'meta_data': {}},
              'ssh_public_keys': [], 'user_name': None,
              'passwordless_sudo': None, 'ctlplane_port': None,
              'network_ports': {}}
    result.update(fields)
    return result


def _version(base, version, min_version=None):
    entry = {'id': version, 'status': 'CURRENT',
             'links': [{'href': '%s/%s/' % (base, version), 'rel': 'self'}]}
    if min_version:
        entry.update(version=IRONIC_MAX_VERSION, min_version=min_version)
    return entry


class HttpTestCase(unittest.TestCase):
    """Actions run against ``requests-mock``; requests are recorded."""

    #: Answer at urllib3's level, under our retrying transport.
    WIRE = False

    #: ``[tripleo_baremetal]`` options for the run (the actions read the
    #: global configuration): quick polls, no waiting between retries.
    OPTIONS = {'api_retries': 2, 'api_retry_delay': 0.0,
               'poll_interval': 0.05, 'poll_interval_max': 0.05,
               'check_local_images': False}

    def setUp(self):
        super().setUp()
        self.adapter = requests_mock.Adapter(case_sensitive=True)
        if self.WIRE:
            self._answer_at_urllib3()
        else:
            mocker = requests_mock.Mocker(adapter=self.adapter)
            mocker.start()
            self.addCleanup(mocker.stop)
        self._configure()
        self.register_discovery()

    def _configure(self):
        """Set our options on the global CONF; actions build connections."""
        fixture = config_fixture.Config(cfg.CONF)
        fixture.setUp()
        self.addCleanup(fixture.cleanUp)
        baremetal_conf.get_conf()
        fixture.config(group=baremetal_conf.GROUP, **self.OPTIONS)
        self.conf = baremetal_conf.standalone_conf(
            auth_type='none', baremetal_endpoint_override=IRONIC + '/',
            network_endpoint_override=NEUTRON + '/', **self.OPTIONS)
        real = connection.get_connection
        # Each test starts without a kept connection (its discovery shows).
        connection.clear_cache()
        self.addCleanup(connection.clear_cache)
        # A connection per action, as in a Mistral executor.
        patcher = mock.patch.object(
            connection, 'get_connection',
            autospec=True,
            side_effect=lambda context=None, conf=None: real(conf=self.conf))
        patcher.start()
        self.addCleanup(patcher.stop)

    def _answer_at_urllib3(self):
        """Answer each try urllib3 makes, below the retrying adapter."""
        adapter = self.adapter

        def make_request(pool, conn, method, url, body=None, headers=None,
                         **kwargs):
            netloc = pool.host if pool.port in (None, 80) else '%s:%s' % (
                pool.host, pool.port)
            prepared = requests.Request(
                method, '%s://%s%s' % (pool.scheme, netloc, url),
                headers=dict(headers or {}), data=body).prepare()
            answer = adapter.send(prepared)
            return urllib3_response.HTTPResponse(
                body=io.BytesIO(answer.content), status=answer.status_code,
                headers=dict(answer.headers), request_method=method,
                request_url=url, preload_content=kwargs.get(
                    'preload_content', True),
                decode_content=kwargs.get('decode_content', True))

        patcher = mock.patch.object(connectionpool.HTTPConnectionPool,
                                    '_make_request', autospec=True,
                                    side_effect=make_request)
        patcher.start()
        self.addCleanup(patcher.stop)

    # Registering answers

    def register(self, method, url, json=None, status=200, responses=None,
                 headers=None):
        """Answer ``method url`` (any query) with ``json`` and ``status``.

        :param url: a full URL, or a path below Ironic's ``/v1``.
        :param json: the body, or a callable ``(request, context)``.
        :param responses: instead of one answer, a list of
            ``{'json': ..., 'status_code': ...}`` given in turn (the last
            one repeats).
        """
        if not url.startswith('http'):
            url = '%s/v1/%s' % (IRONIC, url.lstrip('/'))
        if responses is None:
            responses = [{'json': json, 'status_code': status}]
        if headers:
            responses = [dict(answer, headers=headers)
                         for answer in responses]
        self.adapter.register_uri(method, url, responses)

    def register_discovery(self):
        """Ironic's and Neutron's version documents."""
        version = _version(IRONIC, 'v1', IRONIC_MIN_VERSION)
        headers = {'X-OpenStack-Ironic-API-Minimum-Version':
                   IRONIC_MIN_VERSION,
                   'X-OpenStack-Ironic-API-Maximum-Version':
                   IRONIC_MAX_VERSION}
        self.register('GET', IRONIC + '/', {
            'name': 'OpenStack Ironic API', 'versions': [version],
            'default_version': version}, headers=headers)
        self.register('GET', IRONIC + '/v1/', {
            'id': 'v1', 'version': version, 'links': version['links']},
            headers=headers)
        self.register('GET', NEUTRON + '/', {
            'versions': [_version(NEUTRON, 'v2.0')]})

    def register_nodes(self, *listings):
        """``GET /v1/nodes`` answers, one listing (list of nodes) per call.

        The last listing repeats.
        """
        self.register('GET', 'nodes', responses=[
            {'json': {'nodes': list(nodes)}} for nodes in listings])

    def register_allocations(self, *listings):
        """``GET /v1/allocations`` answers, one listing per call."""
        self.register('GET', 'allocations', responses=[
            {'json': {'allocations': list(allocs)}} for allocs in listings])

    def run_action(self, action):
        """Run a Mistral action; fail on ``Result(error=...)``."""
        result = action.run(None)
        error = getattr(result, 'error', None)
        self.assertIsNone(error, 'the action failed: %s; requests made:\n%s'
                          % (error, '\n'.join('  %s %s%s %s' % call
                                              for call in self.calls())))
        return result

    # Inspecting what was asked

    def calls(self):
        """Every request made so far, in order, as ``Call`` tuples."""
        return [_recorded(request) for request in self.adapter.request_history]

    def requests_to(self, method, path):
        """The recorded requests ``method path`` (Ironic ``/v1`` path)."""
        path = '/v1/' + path.lstrip('/')
        return [request for request in self.adapter.request_history
                if request.method == method and request.path == path]

    def assert_calls(self, expected):
        """Assert that exactly ``expected`` requests were made, in order.

        :param expected: ``Call`` tuples (see ``ironic``, ``neutron``,
            ``ironic_discovery``) and ``in_any_order`` groups, whose
            members come next, in whatever order.
        """
        actual = self.calls()
        remaining = list(actual)
        for item in expected:
            if isinstance(item, in_any_order):
                group = list(item)
                taken, remaining = remaining[:len(group)], remaining[
                    len(group):]
                self._assert_same_multiset(group, taken, actual)
            else:
                self.assertTrue(remaining, self._report(
                    'missing %s' % (item,), actual))
                self.assertEqual(item, remaining.pop(0), self._report(
                    'unexpected request', actual))
        self.assertEqual([], remaining, self._report(
            'more requests than expected', actual))

    def _assert_same_multiset(self, group, taken, actual):
        left = list(taken)
        for call in group:
            match = next((index for index, made in enumerate(left)
                          if made == call), None)
            self.assertIsNotNone(match, self._report(
                'missing %s' % (call,), actual))
            left.pop(match)
        self.assertEqual([], left, self._report('unexpected requests',
                                                actual))

    def writes(self):
        """Every request that is not a read."""
        return [call for call in self.calls()
                if call.method not in ('GET', 'HEAD')]

    @staticmethod
    def _report(what, actual):
        return '%s; requests made:\n%s' % (what, '\n'.join(
            '  %s %s%s %s' % call for call in actual))
