"""The Heat environment and hostname helpers."""

import unittest

from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.request import environment
from tripleo_baremetal.request import hostnames


def instance(hostname, port=None):
    return model.Instance(
        hostname=hostname, generated_hostname=hostname, role='Controller',
        index=0, ctlplane_port=port,
        ports=(port,) if port else ())


PORT = model.Port.from_dict({
    'id': 'p1', 'fixed_ips': [{'ip_address': '10.0.0.5'}],
    'network': {'name': 'ctlplane', 'mtu': 9000},
    'subnets': [{'cidr': '10.0.0.0/24', 'gateway_ip': '10.0.0.1',
                 'host_routes': [], 'dns_nameservers': [],
                 'ip_version': 4, 'id': 's1'}]})


class PopulateTest(unittest.TestCase):

    def test_adds_ports_and_registry(self):
        env = {'parameter_defaults': {'ControllerCount': 1,
                                      'DeployedServerPortMap': {
                                          'old-ctlplane': {'x': 1}}}}
        result = environment.populate_environment(
            env, [instance('ctl-0', PORT), instance('ctl-1')])
        port_map = result['parameter_defaults']['DeployedServerPortMap']
        self.assertEqual({'old-ctlplane', 'ctl-0-ctlplane'}, set(port_map))
        self.assertEqual({'tags': ['10.0.0.0/24'], 'mtu': 9000},
                         port_map['ctl-0-ctlplane']['network'])
        self.assertNotIn('id', port_map['ctl-0-ctlplane']['subnets'][0])
        # An absolute path: Heat resolves a relative one against the
        # environment file's directory.
        self.assertEqual('/usr/share/openstack-tripleo-heat-templates/'
                         'deployed-server/deployed-neutron-port.yaml',
                         result['resource_registry'][
                             environment.CTLPLANE_PORT_RESOURCE])
        # The input is not changed.
        self.assertEqual({'old-ctlplane'},
                         set(env['parameter_defaults'][
                             'DeployedServerPortMap']))

    def test_templates_root(self):
        env = environment.build_environment(
            [{'name': 'Controller', 'hostname_format': '%index%'}],
            [instance('ctl-0', PORT)], [], templates='/home/stack/tht/')
        registry = env['resource_registry']
        self.assertEqual('/home/stack/tht/deployed-server/'
                         'deployed-neutron-port.yaml',
                         registry[environment.CTLPLANE_PORT_RESOURCE])
        # Kept by populate unless it is given another root.
        kept = environment.populate_environment(env, [instance('ctl-0',
                                                               PORT)])
        self.assertEqual(registry, kept['resource_registry'])
        other = environment.populate_environment(
            env, [instance('ctl-0', PORT)], templates='/srv/tht')
        self.assertEqual('/srv/tht/deployed-server/deployed-neutron-port.yaml',
                         other['resource_registry'][
                             environment.CTLPLANE_PORT_RESOURCE])

    def test_bad_templates_root(self):
        for bad in ('tht', '', '/a/../b', 5):
            with self.subTest(bad):
                self.assertIsNotNone(environment.templates_problem(bad))
                self.assertRaises(exceptions.InvalidInput,
                                  environment.populate_environment, {}, [],
                                  templates=bad)

    def test_no_ports(self):
        result = environment.populate_environment(
            {}, [instance('ctl-0')])
        self.assertEqual({'parameter_defaults': {}}, result)

    def test_failed_hosts_are_dropped(self):
        env = environment.build_environment(
            [{'name': 'Controller', 'hostname_format': '%index%'}],
            [instance('ctl-0', PORT)], [])
        self.assertEqual(['ctl-0-ctlplane'], list(
            env['parameter_defaults']['DeployedServerPortMap']))
        result = environment.populate_environment(
            env, [], failed=[instance('ctl-0'), instance('ctl-0')])
        params = result['parameter_defaults']
        self.assertEqual({}, params['HostnameMap'])
        self.assertEqual(0, params['ControllerCount'])
        self.assertNotIn('DeployedServerPortMap', params)

    def test_port_without_subnets_waits(self):
        self.assertIsNone(environment.deployed_port_entry(
            model.Port(id='p', fixed_ips=[{'ip_address': '10.0.0.5'}])))
        self.assertIsNone(environment.deployed_port_entry(None))


class CtlplaneIpsTest(unittest.TestCase):

    def test_first_address_of_each_port(self):
        two = model.Port.from_dict({
            'id': 'p2', 'fixed_ips': [{'ip_address': '10.0.0.6'},
                                      {'ip_address': 'fd00::6'}]})
        no_address = model.Port.from_dict({'id': 'p3'})
        self.assertEqual(
            {'ctl-0': '10.0.0.5', 'ctl-1': '10.0.0.6'},
            environment.ctlplane_ips([
                instance('ctl-0', PORT), instance('ctl-1', two),
                instance('ctl-2', no_address), instance('ctl-3')]))


class HostnamesTest(unittest.TestCase):

    def test_index_matcher(self):
        match = hostnames.index_matcher('%stackname%-ctl-%index%', 'Over')
        self.assertEqual(12, match('over-ctl-12'))
        self.assertEqual(0, match('OVER-CTL-0'))
        self.assertIsNone(match('over-ctl-012'))
        self.assertIsNone(match('over-ctl-x'))
        self.assertIsNone(match('xover-ctl-1'))

    def test_index_twice(self):
        match = hostnames.index_matcher('n%index%-%index%', 's')
        self.assertEqual(3, match('n3-3'))
        self.assertIsNone(match('n3-4'))

    def test_hostname_problem(self):
        for good in ('a', 'a-b', 'a.b.c', 'x' * 63, '0ab'):
            self.assertIsNone(hostnames.hostname_problem(good), good)
        for bad in ('', '-a', 'a-', 'a_b', 'a..b', 'x' * 64,
                    '.'.join(['x' * 60] * 5), 'ü'):
            self.assertIsNotNone(hostnames.hostname_problem(bad), bad)
