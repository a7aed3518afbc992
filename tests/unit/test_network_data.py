"""Tests for network_data.json building."""

import copy
import functools
import ipaddress
import json
import os
import unittest

import hypothesis
from hypothesis import strategies as st
import jsonschema

from tripleo_baremetal.configdrive import network_data
from tripleo_baremetal import exceptions
from tripleo_baremetal import model


@functools.lru_cache(maxsize=None)
def nova_schema():
    """Nova's doc/api_schemas/network_data.json (Apache-2.0), as test data.

    A draft-04 schema (``id``), kept in tests/unit/data/.
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data',
                        'nova_network_data.json')
    with open(path) as stream:
        return json.load(stream)


MAC = '52:54:00:aa:bb:cc'


def validate(data):
    """Validate against Nova's schema (a draft-04 schema: ``id``)."""
    jsonschema.Draft4Validator(nova_schema()).validate(data)


def build(ports, ironic_ports=None):
    """build_network_data of Ports made of port dicts.

    The dicts are those of doc/source/instances.md.
    """
    return network_data.build_network_data(
        [model.Port.from_dict(port) for port in ports], ironic_ports)


def v4_port(**overrides):
    port = {
        'id': 'port-ctlplane',
        'mac_address': MAC,
        'fixed_ips': [{'ip_address': '192.168.24.10', 'subnet_id': 'sub4'}],
        'network': {'id': 'net-ctlplane', 'name': 'ctlplane', 'mtu': 1450,
                    'tags': ['192.168.24.0/24']},
        'subnets': [{'id': 'sub4', 'cidr': '192.168.24.0/24',
                     'gateway_ip': '192.168.24.1',
                     'host_routes': [{'destination': '10.0.0.0/8',
                                      'nexthop': '192.168.24.254'}],
                     'dns_nameservers': ['192.168.24.1', '8.8.8.8'],
                     'ip_version': 4, 'enable_dhcp': False}],
    }
    port.update(overrides)
    return port


def v6_port(**overrides):
    port = {
        'id': 'port-v6',
        'mac_address': '52:54:00:00:00:06',
        'fixed_ips': [{'ip_address': 'fd00:24::10', 'subnet_id': 'sub6'}],
        'network': {'id': 'net-v6', 'name': 'storage'},
        'subnets': [{'id': 'sub6', 'cidr': 'fd00:24::/64',
                     'gateway_ip': 'fd00:24::1',
                     'host_routes': [{'destination': 'fd00:99::/48',
                                      'nexthop': 'fd00:24::fe'}],
                     'dns_nameservers': ['fd00:24::53'], 'ip_version': 6}],
    }
    port.update(overrides)
    return port


class NoNetworkTest(unittest.TestCase):

    def test_none_without_ports(self):
        for ports in ([], None, [None]):
            self.assertIsNone(network_data.build_network_data(ports))


class StaticTest(unittest.TestCase):

    def test_static_ipv4(self):
        result = build([v4_port()])
        validate(result)
        self.assertEqual([{'id': 'port-port-ctlplane', 'type': 'phy',
                           'ethernet_mac_address': MAC, 'mtu': 1450,
                           'vif_id': 'port-ctlplane'}], result['links'])
        self.assertEqual([{
            'id': 'network0', 'link': 'port-port-ctlplane',
            'network_id': 'net-ctlplane', 'type': 'ipv4',
            'ip_address': '192.168.24.10', 'netmask': '255.255.255.0',
            'routes': [
                {'network': '0.0.0.0', 'netmask': '0.0.0.0',
                 'gateway': '192.168.24.1'},
                {'network': '10.0.0.0', 'netmask': '255.0.0.0',
                 'gateway': '192.168.24.254'}],
            'services': [{'type': 'dns', 'address': '192.168.24.1'},
                         {'type': 'dns', 'address': '8.8.8.8'}],
        }], result['networks'])
        self.assertEqual([{'type': 'dns', 'address': '192.168.24.1'},
                          {'type': 'dns', 'address': '8.8.8.8'}],
                         result['services'])

    def test_static_ipv6(self):
        result = build([v6_port()])
        validate(result)
        net = result['networks'][0]
        self.assertEqual('ipv6', net['type'])
        self.assertEqual('fd00:24::10', net['ip_address'])
        self.assertEqual('ffff:ffff:ffff:ffff::', net['netmask'])
        self.assertEqual([
            {'network': '::', 'netmask': '::', 'gateway': 'fd00:24::1'},
            {'network': 'fd00:99::', 'netmask': 'ffff:ffff:ffff::',
             'gateway': 'fd00:24::fe'}], net['routes'])
        self.assertEqual([{'type': 'dns', 'address': 'fd00:24::53'}],
                         result['services'])

    def test_default_mtu(self):
        port = v4_port(network={'id': 'n', 'name': 'ctlplane'})
        result = build([port])
        validate(result)
        self.assertEqual(1500, result['links'][0]['mtu'])
        port['network']['mtu'] = None
        self.assertEqual(1500, build([port])['links'][0]['mtu'])

    def test_dual_stack_port(self):
        port = v4_port()
        port['fixed_ips'].append({'ip_address': 'fd00:24::10'})
        port['subnets'].append(v6_port()['subnets'][0])
        result = build([port])
        validate(result)
        self.assertEqual(1, len(result['links']))
        self.assertEqual(['ipv4', 'ipv6'],
                         [net['type'] for net in result['networks']])
        self.assertEqual(['network0', 'network1'],
                         [net['id'] for net in result['networks']])
        self.assertEqual({'port-port-ctlplane'},
                         {net['link'] for net in result['networks']})

    def test_subnet_found_by_cidr_or_network_tag(self):
        port = v4_port(fixed_ips=[{'ip_address': '192.168.24.10'}])
        result = build([port])
        self.assertEqual('255.255.255.0', result['networks'][0]['netmask'])
        port = v4_port(subnets=[])
        result = build([port])
        validate(result)
        net = result['networks'][0]
        self.assertEqual('255.255.255.0', net['netmask'])
        self.assertEqual([], net['routes'])
        self.assertNotIn('services', net)
        self.assertEqual([], result['services'])

    def test_no_subnet_for_ip(self):
        port = v4_port(subnets=[], network={'id': 'n', 'name': 'ctlplane'})
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'port-ctlplane.*ctlplane.*192.168.24.10',
                               build, [port])

    def test_invalid_ip(self):
        port = v4_port(fixed_ips=[{'ip_address': '192.168.24.300'}])
        self.assertRaisesRegex(exceptions.InvalidInput, 'invalid fixed IP',
                               build, [port])


class DhcpTest(unittest.TestCase):

    def test_ipv4_dhcp(self):
        port = v4_port(fixed_ips=[])
        result = build([port])
        validate(result)
        self.assertEqual([{'id': 'network0', 'link': 'port-port-ctlplane',
                           'network_id': 'net-ctlplane',
                           'type': 'ipv4_dhcp'}], result['networks'])
        self.assertEqual(2, len(result['services']))

    def test_no_subnets_means_ipv4_dhcp(self):
        port = {'id': 'p', 'mac_address': MAC}
        result = build([port])
        validate(result)
        self.assertEqual('ipv4_dhcp', result['networks'][0]['type'])
        self.assertEqual('', result['networks'][0]['network_id'])

    def test_ipv6_dhcp_and_slaac(self):
        port = v6_port(fixed_ips=[])
        result = build([port])
        validate(result)
        self.assertEqual(['ipv6_dhcp'],
                         [net['type'] for net in result['networks']])
        port['subnets'][0]['ipv6_address_mode'] = 'slaac'
        result = build([port])
        validate(result)
        self.assertEqual(['ipv6_slaac'],
                         [net['type'] for net in result['networks']])


class MultiplePortsTest(unittest.TestCase):

    def test_one_default_route_per_family(self):
        second = v4_port(
            id='port-external', mac_address='52:54:00:00:00:02',
            fixed_ips=[{'ip_address': '10.0.0.5', 'subnet_id': 'ext'}],
            network={'id': 'net-ext', 'name': 'external', 'mtu': 9000},
            subnets=[{'id': 'ext', 'cidr': '10.0.0.0/24',
                      'gateway_ip': '10.0.0.1', 'ip_version': 4,
                      'dns_nameservers': ['8.8.8.8', '1.1.1.1']}])
        ports = [v4_port(), second, v6_port(), v6_port(
            id='port-v6b', mac_address='52:54:00:00:00:07',
            fixed_ips=[{'ip_address': 'fd00:25::10', 'subnet_id': 's'}],
            subnets=[{'id': 's', 'cidr': 'fd00:25::/64',
                      'gateway_ip': 'fd00:25::1', 'ip_version': 6}])]
        result = build(ports)
        validate(result)
        self.assertEqual(4, len(result['links']))
        self.assertEqual([1450, 9000, 1500, 1500],
                         [link['mtu'] for link in result['links']])
        defaults = [(net['id'], route['gateway'])
                    for net in result['networks']
                    for route in net['routes']
                    if route['netmask'] in ('0.0.0.0', '::')]
        self.assertEqual([('network0', '192.168.24.1'),
                          ('network2', 'fd00:24::1')], defaults)
        self.assertEqual(['192.168.24.1', '8.8.8.8', '1.1.1.1',
                          'fd00:24::53'],
                         [svc['address'] for svc in result['services']])

    def test_ctlplane_without_gateway(self):
        first = v4_port()
        first['subnets'][0]['gateway_ip'] = None
        second = v4_port(
            id='port-external', mac_address='52:54:00:00:00:02',
            fixed_ips=[{'ip_address': '10.0.0.5'}],
            subnets=[{'cidr': '10.0.0.0/24', 'gateway_ip': '10.0.0.1'}])
        result = build([first, second])
        validate(result)
        self.assertEqual(
            [{'network': '10.0.0.0', 'netmask': '255.0.0.0',
              'gateway': '192.168.24.254'}],
            result['networks'][0]['routes'])
        self.assertEqual('10.0.0.1',
                         result['networks'][1]['routes'][0]['gateway'])

    def test_ports_sharing_a_mac_share_a_link(self):
        second = v4_port(
            id='port-2', fixed_ips=[{'ip_address': '172.16.0.4'}],
            subnets=[{'cidr': '172.16.0.0/16'}])
        result = build([v4_port(), second])
        validate(result)
        self.assertEqual(1, len(result['links']))
        self.assertEqual(2, len(result['networks']))


class HostRoutesTest(unittest.TestCase):

    def test_host_routes(self):
        port = v4_port()
        port['subnets'][0]['host_routes'] = [
            {'destination': '172.16.0.0/12', 'nexthop': '192.168.24.253'},
            {'destination': '10.1.2.0/30', 'nexthop': '192.168.24.252'},
            {'destination': 'fd00::/8', 'nexthop': 'fd00::1'},
        ]
        result = build([port])
        validate(result)
        self.assertEqual([
            {'network': '0.0.0.0', 'netmask': '0.0.0.0',
             'gateway': '192.168.24.1'},
            {'network': '172.16.0.0', 'netmask': '255.240.0.0',
             'gateway': '192.168.24.253'},
            {'network': '10.1.2.0', 'netmask': '255.255.255.252',
             'gateway': '192.168.24.252'},
        ], result['networks'][0]['routes'])

    def test_host_route_to_one_address_is_kept(self):
        # Nova's schema pattern has no 255.255.255.255 netmask, although
        # Nova's metadata service writes one for a /32 host route too
        # (e.g. to 169.254.169.254). cloud-init and glean accept it, so
        # the route is kept rather than silently dropped.
        port = v4_port()
        port['subnets'][0]['host_routes'] = [
            {'destination': '169.254.169.254/32',
             'nexthop': '192.168.24.252'}]
        result = build([port])
        self.assertEqual({'network': '169.254.169.254',
                          'netmask': '255.255.255.255',
                          'gateway': '192.168.24.252'},
                         result['networks'][0]['routes'][1])
        errors = list(jsonschema.Draft4Validator(
            nova_schema()).iter_errors(result))
        self.assertEqual(1, len(errors))
        del result['networks'][0]['routes'][1]
        validate(result)

    def test_default_host_route_counts_as_default_route(self):
        port = v4_port()
        port['subnets'][0]['host_routes'] = [
            {'destination': '0.0.0.0/0', 'nexthop': '192.168.24.2'}]
        result = build([port])
        self.assertEqual(1, len(result['networks'][0]['routes']))
        port['subnets'][0]['gateway_ip'] = None
        result = build([port])
        validate(result)
        self.assertEqual([{'network': '0.0.0.0', 'netmask': '0.0.0.0',
                           'gateway': '192.168.24.2'}],
                         result['networks'][0]['routes'])

    def test_invalid_host_route(self):
        port = v4_port()
        port['subnets'][0]['host_routes'] = [{'destination': 'nowhere',
                                              'nexthop': '192.168.24.2'}]
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'invalid host route',
                               build, [port])


class MacTest(unittest.TestCase):

    def test_ironic_port_carrying_the_vif_wins(self):
        ironic_ports = [
            {'address': '52:54:00:00:00:01', 'internal_info': {},
             'extra': {}},
            {'address': '52:54:00:00:00:AB',
             'internal_info': {'tenant_vif_port_id': 'port-ctlplane'},
             'extra': {}},
        ]
        result = build([v4_port()], ironic_ports)
        validate(result)
        self.assertEqual('52:54:00:00:00:ab',
                         result['links'][0]['ethernet_mac_address'])

    def test_legacy_extra_vif_port_id(self):
        ironic_ports = [{'address': '52:54:00:00:00:cd',
                         'extra': {'vif_port_id': 'port-ctlplane'}}]
        result = build(
            [v4_port(mac_address=None)], ironic_ports)
        self.assertEqual('52:54:00:00:00:cd',
                         result['links'][0]['ethernet_mac_address'])

    def test_port_mac_when_no_ironic_port_matches(self):
        ironic_ports = [{'address': '52:54:00:00:00:01',
                         'internal_info': {'tenant_vif_port_id': 'other'}}]
        result = build([v4_port()], ironic_ports)
        self.assertEqual(MAC, result['links'][0]['ethernet_mac_address'])

    def test_no_mac_at_all(self):
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'port-ctlplane.*no mac_address',
                               build,
                               [v4_port(mac_address=None)])


class InputUntouchedTest(unittest.TestCase):

    def test_ports_not_modified(self):
        ports = [model.Port.from_dict(v4_port()),
                 model.Port.from_dict(v6_port())]
        before = copy.deepcopy(ports)
        network_data.build_network_data(ports)
        self.assertEqual(before, ports)


@st.composite
def _ports(draw):
    ports = []
    for index in range(draw(st.integers(1, 4))):
        version = draw(st.sampled_from([4, 6]))
        if version == 4:
            prefix = draw(st.integers(8, 30))
            base = ipaddress.IPv4Network(
                ('10.%d.0.0' % index, 16)).supernet(new_prefix=min(prefix,
                                                                   16))
        else:
            prefix = draw(st.integers(48, 126))
            base = ipaddress.IPv6Network(('fd00:%x::' % index, 32))
        cidr = ipaddress.ip_network(
            (base.network_address, prefix), strict=False)
        hosts = [cidr.network_address + 1, cidr.network_address + 2]
        subnet = {'id': 's%d' % index, 'cidr': str(cidr),
                  'ip_version': version,
                  'gateway_ip': (str(hosts[0])
                                 if draw(st.booleans()) else None),
                  'dns_nameservers': [str(hosts[0])]}
        fixed = ([{'ip_address': str(hosts[1]), 'subnet_id': subnet['id']}]
                 if draw(st.booleans()) else [])
        ports.append({
            'id': 'p%d' % index, 'mac_address': '52:54:00:00:00:%02x' % index,
            'fixed_ips': fixed, 'subnets': [subnet],
            'network': {'id': 'n%d' % index,
                        'mtu': draw(st.sampled_from([None, 1400, 9000]))}})
    return ports


class PropertyTest(unittest.TestCase):

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(_ports())
    def test_always_valid(self, ports):
        result = build(ports)
        validate(result)
        self.assertEqual(len(ports), len(result['links']))
        for version in (4, 6):
            defaults = [route for net in result['networks']
                        for route in net.get('routes', ())
                        if route['netmask'] in ('0.0.0.0', '::')
                        and ipaddress.ip_address(
                            route['gateway']).version == version]
            self.assertLessEqual(len(defaults), 1)
