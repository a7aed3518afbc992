"""ensure_ports and delete_ports at the HTTP boundary: requests, not mocks.

A small in-memory Neutron answers the requests a real connection makes
(``http_base``); each test pins how many requests a run costs and what
it leaves in Neutron: a first run lists three times and creates in one
bulk request, a re-run only lists, duplicates resolve to the oldest, a
lost answer is found again, a refused create leaves nothing behind.
"""

import itertools
import json
import re
from unittest import mock
from urllib import parse

from requests import exceptions as requests_exc

from tests.unit import http_base
from tripleo_baremetal import actions
from tripleo_baremetal.provisioning import created_ports

NEUTRON = http_base.NEUTRON + '/v2.0'
STACK_TAG = 'tripleo_stack_name=overcloud'
#: ``/v2.0/ports/<id>`` and ``/v2.0/ports/<id>/tags``.
PORT_PATH = re.compile(re.escape(NEUTRON) + r'/ports/[^/?]+(/tags)?$')

NETWORKS = [
    {'id': 'net-ctl', 'name': 'ctlplane', 'mtu': 1500, 'tags': []},
    {'id': 'net-api', 'name': 'internal_api', 'mtu': 1400,
     'tags': ['tripleo_network_name=InternalApi']},
    # No tripleo_network_name tag: its name is its upper name.
    {'id': 'net-mgmt', 'name': 'storage_mgmt', 'mtu': 1500, 'tags': []},
]
SUBNETS = [
    {'id': 'sub-ctl', 'name': 'ctlplane-subnet', 'network_id': 'net-ctl',
     'cidr': '192.168.24.0/24', 'gateway_ip': '192.168.24.1',
     'host_routes': [], 'dns_nameservers': [], 'ip_version': 4,
     'enable_dhcp': False},
    {'id': 'sub-api', 'name': 'internal_api_subnet', 'network_id': 'net-api',
     'cidr': '172.16.2.0/24', 'gateway_ip': None, 'host_routes': [],
     'dns_nameservers': [], 'ip_version': 4, 'enable_dhcp': False},
    {'id': 'sub-mgmt', 'name': 'storage_mgmt_subnet',
     'network_id': 'net-mgmt', 'cidr': '172.16.4.0/24', 'gateway_ip': None,
     'host_routes': [], 'dns_nameservers': [], 'ip_version': 4,
     'enable_dhcp': False},
]
NETS = [{'network': 'ctlplane', 'vif': True}, {'network': 'internal_api'}]


def ports_of(result):
    """``{hostname: {network: port id}}`` of ensure_ports' instances."""
    return {inst['hostname']: inst['network_ports']
            for inst in result['instances'] if inst.get('network_ports')}


class FakeNeutron:
    """Ports, networks and subnets, answered as Neutron's API does."""

    def __init__(self, bulk_tags=True):
        self.ports = {}
        self.ids = itertools.count(1)
        self.clock = itertools.count(10)
        self.bulk_tags = bulk_tags
        self.lose_next_answer = False
        self.refuse_after = None     # ports allowed before "no more IPs"

    def add(self, name, network_id, ip, tags=(), created_at=None, **fields):
        port = {'id': 'port-%d' % next(self.ids), 'name': name,
                'network_id': network_id, 'mac_address': 'fa:16:3e:00:00:%02d'
                % len(self.ports), 'fixed_ips': [{
                    'ip_address': ip, 'subnet_id': 'sub-' + network_id[4:]}],
                'tags': list(tags), 'device_id': '', 'device_owner': '',
                'binding:host_id': '', 'dns_name': '',
                'created_at': created_at
                or '2026-12-06T10:00:%02dZ' % next(self.clock)}
        port.update(fields)
        self.ports[port['id']] = port
        return port

    def list_ports(self, request, context):
        query = parse.parse_qs(request.query)
        found = list(self.ports.values())
        for tag in query.get('tags', ()):
            found = [port for port in found if tag in port['tags']]
        if 'name' in query:
            found = [port for port in found if port['name'] in query['name']]
        if 'fixed_ips' in query:
            ips = {item.split('=', 1)[1] for item in query['fixed_ips']}
            found = [port for port in found
                     if port['fixed_ips'][0]['ip_address'] in ips]
        return {'ports': found}

    def create(self, request, context):
        bodies = json.loads(request.body)['ports']
        if self.refuse_after is not None and \
                len(self.ports) + len(bodies) > self.refuse_after:
            context.status_code = 409
            return {'NeutronError': {
                'type': 'IpAddressGenerationFailure',
                'message': 'No more IP addresses available on network '
                           'net-api.', 'detail': ''}}
        made = []
        for body in bodies:
            subnet = body['fixed_ips'][0]['subnet_id']
            ip = body['fixed_ips'][0].get('ip_address') or '%s.%d' % (
                {'sub-ctl': '192.168.24', 'sub-api': '172.16.2',
                 'sub-mgmt': '172.16.4'}[subnet],
                100 + len(self.ports))
            made.append(self.add(
                body['name'], body['network_id'], ip,
                tags=body['tags'] if self.bulk_tags else (),
                dns_name=body.get('dns_name', '')))
        context.status_code = 201
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise requests_exc.ConnectionError('connection dropped')
        return {'ports': made}

    def delete(self, request, context):
        self.ports.pop(request.path.rsplit('/', 1)[1], None)
        context.status_code = 204
        return None

    def set_tags(self, request, context):
        port_id = request.path.split('/')[3]
        self.ports[port_id]['tags'] = json.loads(request.body)['tags']
        return {'tags': self.ports[port_id]['tags']}


class NeutronTestCase(http_base.HttpTestCase):
    """HttpTestCase with a ``FakeNeutron`` behind the Neutron endpoint."""

    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(created_ports, 'SETTLE_SECONDS', 0)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.neutron = FakeNeutron()
        self.register_neutron()

    def register_neutron(self):
        fake = self.neutron
        self.register('GET', NEUTRON + '/networks',
                      {'networks': NETWORKS})
        self.register('GET', NEUTRON + '/subnets', {'subnets': SUBNETS})
        self.register('GET', NEUTRON + '/extensions', json=lambda r, c: {
            'extensions': [{'alias': 'tag-ports-during-bulk-creation',
                            'name': 'x', 'description': ''}]
            if fake.bulk_tags else []})
        self.register('GET', NEUTRON + '/ports', json=fake.list_ports)
        self.register('POST', NEUTRON + '/ports', json=fake.create)
        self.adapter.register_uri('DELETE', PORT_PATH, json=fake.delete)
        self.adapter.register_uri('PUT', PORT_PATH, json=fake.set_tags)


class EnsurePortsTest(NeutronTestCase):

    def ensure(self, *hosts, networks=NETS, **fields):
        return actions.EnsurePorts(
            instances=[http_base.instance(host, networks=networks, **fields)
                       for host in hosts], stackname='overcloud')

    def reads(self):
        return [(call.method, call.path) for call in self.calls()
                if call.path != '/']

    def test_first_run_creates_in_one_request_then_only_reads(self):
        result = self.run_action(self.ensure('c-0', 'c-1', 'c-2'))
        self.assertEqual(['POST'], [call.method for call in self.writes()])
        self.assertEqual([
            ('GET', '/v2.0/networks'), ('GET', '/v2.0/subnets'),
            ('GET', '/v2.0/ports'),       # the stack's ports
            ('GET', '/v2.0/ports'),       # the missing ones by name
            ('GET', '/v2.0/extensions'), ('POST', '/v2.0/ports'),
            ('GET', '/v2.0/ports')],      # the re-check
            self.reads())
        names = sorted(port['name'] for port in self.neutron.ports.values())
        self.assertEqual(['c-0-ctlplane', 'c-0_InternalApi', 'c-1-ctlplane',
                          'c-1_InternalApi', 'c-2-ctlplane',
                          'c-2_InternalApi'], names)
        for port in self.neutron.ports.values():
            self.assertIn(STACK_TAG, port['tags'])
            self.assertIn('tripleo_role=Compute', port['tags'])
        by_name = {port['name']: port for port in self.neutron.ports.values()}
        self.assertIn('tripleo_ironic_vif_port=true',
                      by_name['c-0-ctlplane']['tags'])
        self.assertIn('tripleo_default_route=true',
                      by_name['c-0-ctlplane']['tags'])
        self.assertEqual({'ctlplane': by_name['c-1-ctlplane']['id'],
                          'internal_api': by_name['c-1_InternalApi']['id']},
                         ports_of(result)['c-1'])
        inst = result['instances'][0]
        self.assertEqual(by_name['c-0-ctlplane']['id'],
                         inst['ctlplane_port']['id'])
        self.assertEqual('192.168.24.0/24',
                         inst['ctlplane_port']['subnets'][0]['cidr'])
        self.assertEqual({'ip_address': '172.16.2.101',
                          'ip_subnet': '172.16.2.101/24',
                          'ip_address_uri': '172.16.2.101'},
                         result['node_port_map']['c-0']['internal_api'])

        self.adapter.reset()
        again = self.run_action(self.ensure('c-0', 'c-1', 'c-2'))
        self.assertEqual([], self.writes())
        self.assertEqual([('GET', '/v2.0/networks'), ('GET', '/v2.0/subnets'),
                          ('GET', '/v2.0/ports')], self.reads())
        self.assertEqual(ports_of(result), ports_of(again))

    def test_network_named_with_underscores_is_found_again(self):
        networks = [{'network': 'storage_mgmt'}]
        first = self.run_action(self.ensure('c-0', networks=networks))
        self.assertEqual(['c-0_storage_mgmt'], sorted(
            port['name'] for port in self.neutron.ports.values()))
        self.adapter.reset()
        again = self.run_action(self.ensure('c-0', networks=networks))
        self.assertEqual([], self.writes())
        self.assertEqual(ports_of(first), ports_of(again))
        deleted = self.run_action(actions.DeletePorts(
            hostnames=['c-0'], stackname='overcloud'))
        self.assertEqual(1, len(deleted['deleted']['c-0']))
        self.assertEqual({}, self.neutron.ports)

    def test_heat_ports_win_and_cost_nothing(self):
        result = self.run_action(self.ensure(
            'c-0', network_ports={'ctlplane': 'heat-1',
                                  'internal_api': 'heat-2'}))
        self.assertEqual([], [call for call in self.calls()
                              if call.host == 'neutron.test'])
        self.assertEqual({'c-0': {'ctlplane': 'heat-1',
                                  'internal_api': 'heat-2'}},
                         ports_of(result))

    def test_without_tags_in_a_create_each_port_is_tagged(self):
        self.neutron.bulk_tags = False
        self.run_action(self.ensure('c-0'))
        self.assertEqual(['POST', 'PUT', 'PUT'],
                         [call.method for call in self.writes()])
        for port in self.neutron.ports.values():
            self.assertIn(STACK_TAG, port['tags'])

    def test_ports_tripleo_ansible_made_are_reused(self):
        ctl = self.neutron.add('c-0-ctlplane', 'net-ctl', '192.168.24.9',
                               tags=[STACK_TAG, 'tripleo_role=Compute',
                                     'tripleo_ironic_vif_port=true',
                                     'tripleo_default_route=true',
                                     'tripleo_ironic_uuid=abc'])
        api = self.neutron.add('c-0_InternalApi', 'net-api', '172.16.2.9',
                               tags=[STACK_TAG, 'tripleo_role=Compute'],
                               dns_name='c-0')
        result = self.run_action(self.ensure('c-0'))
        self.assertEqual([], self.writes())
        self.assertEqual({'ctlplane': ctl['id'], 'internal_api': api['id']},
                         ports_of(result)['c-0'])

    def test_duplicates_keep_the_oldest_and_delete_the_other(self):
        old = self.neutron.add('c-0_InternalApi', 'net-api', '172.16.2.9',
                               tags=[STACK_TAG, 'tripleo_role=Compute'],
                               created_at='2026-12-06T10:00:00Z')
        new = self.neutron.add('c-0_InternalApi', 'net-api', '172.16.2.8',
                               tags=[STACK_TAG, 'tripleo_role=Compute'],
                               created_at='2026-12-06T10:00:05Z')
        self.neutron.add('c-0-ctlplane', 'net-ctl', '192.168.24.9',
                         tags=[STACK_TAG, 'tripleo_role=Compute',
                               'tripleo_ironic_vif_port=true',
                               'tripleo_default_route=true'])
        result = self.run_action(self.ensure('c-0'))
        self.assertEqual(old['id'], ports_of(result)['c-0']['internal_api'])
        self.assertNotIn(new['id'], self.neutron.ports)
        self.assertEqual([('DELETE', '/v2.0/ports/%s' % new['id'])],
                         [(call.method, call.path) for call in self.writes()])

    def test_lost_create_answer_is_found_again_not_repeated(self):
        self.neutron.lose_next_answer = True
        result = self.run_action(self.ensure('c-0'))
        self.assertEqual(['POST'], [call.method for call in self.writes()])
        self.assertEqual(2, len(self.neutron.ports))
        self.assertEqual(sorted(self.neutron.ports),
                         sorted(ports_of(result)['c-0'].values()))

    def test_refused_create_names_host_and_leaves_no_port(self):
        self.neutron.refuse_after = 3
        result = actions.EnsurePorts(instances=[
            http_base.instance(host, networks=NETS)
            for host in ('c-0', 'c-1')], stackname='overcloud').run(None)
        # The fourth port (c-1's internal_api) cannot be had.
        self.assertIn('c-1: networks[1] (network internal_api): Neutron '
                      'refused the port on subnet internal_api_subnet: HTTP '
                      '409 No more IP addresses available on network '
                      'net-api.; the 3 port(s) this run had created were '
                      'deleted', result.error)
        self.assertEqual({}, self.neutron.ports)

    def test_problems_before_any_write(self):
        self.neutron.add('other', 'net-api', '172.16.2.60')
        result = actions.EnsurePorts(instances=[
            http_base.instance('c-0', networks=[
                {'network': 'nowhere'},
                {'network': 'internal_api', 'fixed_ip': '172.16.2.60'},
                {'network': 'ctlplane', 'subnet': 'nope'}])],
            stackname='overcloud').run(None)
        self.assertIn('c-0: networks[0] (network nowhere): network nowhere '
                      'does not exist in Neutron', result.error)
        self.assertIn('c-0: networks[2] (network ctlplane): subnet nope is '
                      'not a subnet of network ctlplane (it has: '
                      'ctlplane-subnet)', result.error)
        self.assertEqual([], self.writes())
        result = actions.EnsurePorts(instances=[
            http_base.instance('c-0', networks=[
                {'network': 'internal_api', 'fixed_ip': '172.16.2.60'}])],
            stackname='overcloud').run(None)
        self.assertIn('c-0: networks[0] (network internal_api): fixed_ip '
                      '172.16.2.60 is held by port other', result.error)
        self.assertEqual([], self.writes())

    def test_found_port_with_another_address_is_refused(self):
        self.neutron.add('c-0_InternalApi', 'net-api', '172.16.2.9',
                         tags=[STACK_TAG, 'tripleo_role=Compute'])
        result = actions.EnsurePorts(instances=[
            http_base.instance('c-0', networks=[
                {'network': 'internal_api', 'fixed_ip': '172.16.2.10'}])],
            stackname='overcloud').run(None)
        self.assertIn('has fixed IP(s) 172.16.2.9, not fixed_ip 172.16.2.10',
                      result.error)
        self.assertEqual([], self.writes())


class DeletePortsTest(NeutronTestCase):
    """Only the named hosts' tagged ports go; Heat's are kept."""

    def test_exactly_the_hosts_ports(self):
        mine = [self.neutron.add('c-1-ctlplane', 'net-ctl', '192.168.24.9',
                                 tags=[STACK_TAG]),
                self.neutron.add('c-1_InternalApi', 'net-api', '172.16.2.9',
                                 tags=[STACK_TAG])]
        kept = [self.neutron.add('c-10_InternalApi', 'net-api', '172.16.2.7',
                                 tags=[STACK_TAG]),
                self.neutron.add('c-1-ctlplane', 'net-ctl', '192.168.24.8'),
                self.neutron.add('c-0-ctlplane', 'net-ctl', '192.168.24.7',
                                 tags=[STACK_TAG])]
        result = self.run_action(actions.DeletePorts(
            hostnames=['c-1', 'gone-0'], stackname='overcloud'))
        self.assertEqual({'c-1': sorted(port['id'] for port in mine)},
                         {host: sorted(ids) for host, ids
                          in result['deleted'].items()})
        self.assertEqual(sorted(port['id'] for port in kept),
                         sorted(self.neutron.ports))

    def test_no_host_no_request(self):
        self.run_action(actions.DeletePorts(hostnames=[],
                                            stackname='overcloud'))
        self.assertEqual([], [call for call in self.calls()
                              if call.host == 'neutron.test'])
