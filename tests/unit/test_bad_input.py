"""Bad input: a clear, short error naming field and value, before any API.

Each class covers one kind of malformed input found by probing: huge
counts, huge values, deep nesting, files that are not YAML text or that
explode when their aliases are expanded, ports given twice, assertions
about Heat's ports, unreadable file URLs and hostname formats that only
go wrong at some index.
"""

import copy
import os
import tempfile
import time
import unittest
from unittest import mock

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.provisioning import ports
from tripleo_baremetal.request import limits
from tripleo_baremetal.request import role_expansion
from tripleo_baremetal.request import roles
from tripleo_baremetal.request import roles_file as roles_file_mod
from tripleo_baremetal.request import roles_schema as schema

MB10 = 10 * 1000 * 1000

#: No message about one bad value may be longer than this.
SHORT = 1000


def port(port_id, ip='192.168.24.10', subnet_id='ctlplane-subnet',
         subnets=None):
    result = {'id': port_id,
              'fixed_ips': [{'ip_address': ip, 'subnet_id': subnet_id}]}
    if subnets is not None:
        result['subnets'] = subnets
    return result


def nest(levels, leaf=None):
    """A mapping nested ``levels`` deep: {'a': {'a': ... leaf}}."""
    value = leaf if leaf is not None else {}
    for _ in range(levels - 1):
        value = {'a': value}
    return value


class ErrorTestCase(unittest.TestCase):

    def error(self, roles_file, **kwargs):
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            roles.expand_roles(roles_file, **kwargs)
        return ctx.exception

    def message(self, roles_file, **kwargs):
        return str(self.error(roles_file, **kwargs))

    def assert_short(self, text, limit=SHORT):
        self.assertLess(len(text), limit, text[:2 * limit])


class ShownTest(unittest.TestCase):
    """One helper shows every value: cut, never raising."""

    def test_short_values_as_repr(self):
        self.assertEqual("'abc'", schema.shown('abc'))
        self.assertEqual('42', schema.shown(42))
        self.assertEqual("['a', 1]", schema.shown(['a', 1]))

    def test_long_string_cut_with_its_length(self):
        text = schema.shown('x' * MB10)
        self.assertEqual("'%s'... (%d characters)" % ('x' * 100, MB10),
                         text)

    def test_containers_cut(self):
        text = schema.shown(list(range(100000)))
        self.assertLess(len(text), 150)
        text = schema.shown({'k%d' % i: 'v' * 1000 for i in range(1000)})
        self.assertLess(len(text), 150)
        self.assertIn('(1000 items)', text)

    def test_deep_value(self):
        self.assertLess(len(schema.shown(nest(5000))), 150)

    def test_huge_integer(self):
        self.assertLess(len(schema.shown(10 ** 5000)), 150)

    def test_hidden(self):
        self.assertEqual('<hidden str of length 6>',
                         schema.shown(schema.Hidden('secret')))

    def test_join_cuts_long_keys(self):
        self.assertEqual('a.%s...' % ('k' * 40), schema.join('a', 'k' * MB10))
        self.assertEqual('a[3]', schema.join('a', 3))


class CountTest(ErrorTestCase):
    """Point 1: count is capped and indexes are assigned in linear time."""

    def test_maximum_count_expands(self):
        result = roles.expand_roles([{'name': 'Compute',
                                      'count': roles.MAX_COUNT}])
        self.assertEqual(10000, roles.MAX_COUNT)
        instances = result['instances']
        self.assertEqual(roles.MAX_COUNT, len(instances))
        self.assertEqual(list(range(roles.MAX_COUNT)),
                         [inst.index for inst in instances])
        self.assertEqual('overcloud-novacompute-9999',
                         instances[-1].hostname)

    def test_count_over_maximum(self):
        for label, count in (('max + 1', roles.MAX_COUNT + 1),
                             ('10**9', 10 ** 9), ('10**5000', 10 ** 5000)):
            with self.subTest(count=label):
                text = self.message([{'name': 'Compute', 'count': count}])
                self.assertIn("role 'Compute': count:", text)
                self.assertIn('is more than the maximum of 10000 instances '
                              'per role', text)
                self.assert_short(text)

    def test_total_instances_capped(self):
        text = self.message([{'name': 'R%d' % i, 'count': roles.MAX_COUNT}
                             for i in range(3)])
        self.assertIn('30000 instances in all', text)
        self.assertIn('maximum of %d' % roles.MAX_INSTANCES, text)

    def test_copies_of_large_defaults_capped(self):
        defaults = {'config_drive': {'cloud_config': {
            'write_files': [{'path': '/f%d' % i} for i in range(200)]}}}
        text = self.message([{'name': 'Compute', 'count': roles.MAX_COUNT,
                              'defaults': defaults}])
        self.assertIn("role 'Compute' alone gives", text)
        self.assertIn('maximum of %d' % roles.MAX_EXPANDED_VALUES, text)

    def test_shared_values_count_as_copied(self):
        value = []
        for _ in range(21):
            value = [value, value]     # 2**22 values once copied
        # (Not in config_drive, whose size limit would refuse it first.)
        text = self.message([{'name': 'Compute', 'defaults': {
            'deploy_steps': [{'interface': 'bios', 'step': 'apply',
                              'priority': 150, 'args': {'x': value}}]}}])
        self.assertIn('maximum of %d' % roles.MAX_EXPANDED_VALUES, text)

    def test_indexes_in_linear_time(self):
        lookups = []

        class CountingSet(set):
            def __contains__(self, item):
                lookups.append(item)
                return super().__contains__(item)

        indexes = role_expansion._Indexes(range(0, 20000, 2))
        indexes.taken = CountingSet(indexes.taken)
        taken = [indexes.take() for _ in range(20000)]
        self.assertEqual(list(range(1, 20000, 2)) + list(range(20000, 30000)),
                         taken)
        self.assertLess(len(lookups), 3 * 30000)

    def test_listed_instances_keep_their_indexes(self):
        result = roles.expand_roles([{
            'name': 'Compute', 'count': 4,
            'instances': [{'hostname': 'overcloud-novacompute-1'},
                          {'hostname': 'custom'},
                          {'hostname': 'overcloud-novacompute-5',
                           'provisioned': False}]}])
        self.assertEqual(
            {'overcloud-novacompute-1': 1, 'custom': 0,
             'overcloud-novacompute-2': 2, 'overcloud-novacompute-3': 3},
            {inst.hostname: inst.index for inst in result['instances']})


class LongValueTest(ErrorTestCase):
    """Point 2: values in messages are cut, wherever they are."""

    def check(self, roles_file, fragments, **kwargs):
        text = self.message(roles_file, **kwargs)
        for fragment in fragments:
            self.assertIn(fragment, text)
        self.assert_short(text, 2 * SHORT)
        return text

    def test_role_name(self):
        self.check([{'name': 'A' * MB10}],
                   ["role 'AAAA", '... (10000000 characters)',
                    'hostname_format'])

    def test_instance_name(self):
        self.check([{'name': 'Compute',
                     'instances': [{'name': 'n' * MB10}]}],
                   ['instances[0].name', '(10000000 characters)',
                    'longer than 255'])

    def test_hostname(self):
        self.check([{'name': 'Compute',
                     'instances': [{'hostname': 'h' * MB10}]}],
                   ['instances[0].hostname', 'longer than 253'])

    def test_hostname_format(self):
        self.check([{'name': 'Compute',
                     'hostname_format': '%x%' * MB10 + '%index%'}],
                   ['hostname_format', 'unknown placeholder(s) %x%'])

    def test_unknown_key_and_value(self):
        self.check([{'name': 'Compute', 'k' * MB10: 'v' * MB10}],
                   ["role 'Compute': " + 'k' * 40 + '...',
                    'not a known key'])

    def test_image_href(self):
        self.check([{'name': 'Compute', 'defaults': {
            'image': {'href': 'ftp://' + 'x' * MB10}}}],
            ['defaults.image.href', 'http, https or file URL'])

    def test_capability(self):
        self.check([{'name': 'Compute', 'defaults': {
            'capabilities': {'cpus': '>= ' + '9x' * MB10}}}],
            ['defaults.capabilities.cpus', 'needs a number'])

    def test_port_maps(self):
        self.check([{'name': 'Compute'}],
                   ['role_ctlplane_port_map.' + 'R' * 40 + '...',
                    'not in the roles file'],
                   role_ctlplane_port_map={'R' * MB10: [port('p')]})
        self.check([{'name': 'Compute'}],
                   ['role_ctlplane_port_map.Compute[0].fixed_ips[0].'
                    'ip_address', 'not an IP address'],
                   role_ctlplane_port_map={'Compute': [
                       port('p', ip='1' * MB10)]})

    def test_stackname(self):
        self.check([{'name': 'Compute'}], ['stackname'],
                   stackname='s' * MB10)

    def test_many_problems_are_counted_not_listed(self):
        error = self.error([{'name': 'R%d' % i, 'count': -1}
                            for i in range(1000)])
        self.assertEqual(roles.MAX_LISTED_PROBLEMS + 1, len(error.errors))
        self.assertIn('950 more problem(s) not listed (1000 in all)',
                      error.errors[-1])


class DepthTest(ErrorTestCase):
    """Point 3: deep nesting is refused, without recursion, with its path."""

    def test_deep_cloud_config(self):
        text = self.message([{'name': 'Compute', 'defaults': {
            'config_drive': {'cloud_config': nest(5000)}}}])
        self.assertIn('roles[0].defaults.config_drive.cloud_config.a.a', text)
        self.assertIn('nested at most 32 levels', text)
        self.assert_short(text)

    def test_deep_anywhere(self):
        deep_list = []
        for _ in range(5000):
            deep_list = [deep_list]
        cases = [
            ([deep_list], {}, 'roles[0][0][0]'),
            ([{'name': 'Compute', 'instances': [{'traits': deep_list}]}], {},
             'roles[0].instances[0].traits[0]'),
            ([], {'role_net_port_id_map': {'Compute': deep_list}},
             'role_net_port_id_map.Compute[0]'),
            ([], {'role_ctlplane_port_map': {'Compute': deep_list}},
             'role_ctlplane_port_map.Compute[0]'),
            ([], {'default_image': {'href': deep_list}},
             'default_image.href[0]'),
        ]
        for roles_file, kwargs, path in cases:
            with self.subTest(path=path):
                text = self.message(roles_file, **kwargs)
                self.assertIn(path, text)
                self.assertIn('nested too deeply', text)
                self.assert_short(text, 2 * SHORT)

    def test_limit(self):
        # The roles list is level 1, a role 2, defaults 3, config_drive 4,
        # cloud_config 5.
        levels = schema.MAX_DEPTH - 4
        roles.expand_roles([{'name': 'Compute', 'defaults': {
            'config_drive': {'cloud_config': nest(levels)}}}])
        text = self.message([{'name': 'Compute', 'defaults': {
            'config_drive': {'cloud_config': nest(levels + 1)}}}])
        self.assertIn('nested too deeply', text)

    def test_cycle(self):
        loop = {}
        loop['a'] = loop
        text = self.message([{'name': 'Compute', 'defaults': {
            'config_drive': {'cloud_config': loop}}}])
        self.assertIn('nested too deeply', text)

    def test_shared_values_walked_once_per_depth(self):
        # 2**30 paths through 30 shared lists: found fine, and fast.
        value = []
        for _ in range(30):
            value = [value, value]
        self.assertIsNone(schema.depth_problem(value, 'x', 32))
        self.assertRegex(schema.depth_problem(value, 'x', 3),
                         r'^x(\[[01]\]){3}$')


class LoadFileTest(unittest.TestCase):
    """Point 4: files that are not YAML text, or too big once expanded."""

    def write(self, data, suffix='.yaml'):
        handle, path = tempfile.mkstemp(suffix=suffix)
        self.addCleanup(os.unlink, path)
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data if isinstance(data, bytes) else data.encode())
        return path

    def error(self, data):
        path = self.write(data)
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            roles.load_roles_file(path)
        text = str(ctx.exception)
        self.assertTrue(text.startswith(path), text)
        self.assertNotIn('\n', text)
        self.assertLess(len(text), SHORT)
        return text

    def test_invalid_utf8(self):
        self.assertIn('is not a UTF-8 text file (byte 0xff at offset 8',
                      self.error(b'- name: \xff\xfe\n'))

    def test_binary(self):
        self.assertIn('not a UTF-8 text file',
                      self.error(bytes(range(256)) * 10))
        self.assertIn('not a text file (it has a NUL byte at offset 3)',
                      self.error(b'abc\0def'))

    def test_too_large(self):
        with mock.patch.object(roles_file_mod, 'MAX_FILE_BYTES', 100):
            text = self.error('- name: Controller\n' * 10)
        self.assertIn('is too large', text)
        self.assertEqual(16 * 1024 * 1024, roles.MAX_FILE_BYTES)

    def test_config_drive_text(self):
        big = 'x' * MB10
        start = time.monotonic()
        text = self.error('- name: Compute\n  defaults:\n    config_drive:\n'
                          '      meta_data: {a: b}\n'
                          '      cloud_config:\n        runcmd:\n' +
                          '          - echo %s\n' % ('y' * 100) * 10 +
                          '          - %s\n' % big)
        self.assertLess(time.monotonic() - start, 2)
        self.assertIn('is too large: line 6, column 9: cloud_config spans '
                      'more than %d characters of the file'
                      % roles_file_mod.MAX_CONFIG_DRIVE_TEXT, text)
        self.assertEqual(4 * 1024 * 1024,
                         roles_file_mod.MAX_CONFIG_DRIVE_TEXT)

    def test_config_drive_text_is_per_part(self):
        # Each part is measured on its own; the rest of the file is not.
        part = 'x' * (3 * 1024 * 1024)
        path = self.write(
            '- name: Compute\n  defaults:\n    config_drive:\n'
            '      cloud_config: {a: %s}\n      meta_data: {b: %s}\n'
            '  instances:\n  - config_drive: {cloud_config: {c: %s}}\n'
            % (part, part, part))
        data = roles.load_roles_file(path)
        self.assertEqual(part, data[0]['instances'][0]['config_drive'][
            'cloud_config']['c'])

    def billion_laughs(self, levels=9):
        lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
        for level in range(1, levels + 1):
            lines.append('a%d: &a%d [%s]' % (level, level, ', '.join(
                ['*a%d' % (level - 1)] * 9)))
        return '\n'.join(lines) + '\n'

    def test_alias_bomb(self):
        text = self.error(self.billion_laughs())
        self.assertIn('is too large', text)
        self.assertIn('more than 1000000 nodes', text)

    def test_alias_bomb_in_a_roles_file(self):
        text = self.error(
            'x: &x [' + ', '.join(['a'] * 1000) + ']\n'
            'y: &y [' + ', '.join(['*x'] * 1000) + ']\n'
            'roles: [{name: Compute, defaults: {config_drive: {cloud_config:'
            ' {z: [*y, *y]}}}}]\n')
        self.assertIn('is too large', text)

    def test_recursive_alias(self):
        self.assertIn('alias inside its own anchor', self.error('&a [*a]\n'))

    def test_deep_document(self):
        text = self.error('[' * 100 + ']' * 100)
        self.assertIn('line 1, column 33: nesting is deeper than 32', text)
        # libyaml refuses 1000 levels itself.
        text = self.error('[' * 100000 + ']' * 100000)
        self.assertIn('is not valid YAML: line 1, column', text)
        text = self.error(''.join('%sa:\n' % (' ' * i) for i in range(5000)))
        self.assertIn('nesting is deeper than 32 levels', text)

    def test_yaml_error_on_one_line(self):
        text = self.error('- name: [Controller\n')
        self.assertIn('is not valid YAML: line 2, column 1:', text)
        self.assertIn('(while parsing a flow sequence at line 1, column 9)',
                      text)
        self.assertIn('is not valid YAML', self.error('a: *nope\n'))
        self.assertIn('expected a single document',
                      self.error('a: 1\n---\nb: 2\n'))

    def test_huge_integer(self):
        self.assertIn('is not valid YAML', self.error('count: %s\n'
                                                      % ('9' * 5000)))

    def test_shared_defaults_keep_working(self):
        path = self.write(
            'x-defaults: &defaults\n'
            '  profile: compute\n'
            '  image: {href: "http://images/overcloud.qcow2"}\n'
            'roles:\n'
            '  - name: Compute\n'
            '    count: 2\n'
            '    defaults: *defaults\n'
            '  - name: ComputeGpu\n'
            '    defaults:\n'
            '      <<: *defaults\n'
            '      traits: [CUSTOM_GPU]\n')
        data = roles.load_roles_file(path)
        result = roles.expand_roles(data['roles'])
        self.assertEqual(['compute'] * 3,
                         [inst.profile for inst in result['instances']])
        self.assertEqual(('CUSTOM_GPU',), result['instances'][2].traits)
        # Below the limit, a big expansion is fine.
        data = roles.load_roles_file(self.write(self.billion_laughs(4)))
        self.assertEqual('lol', data['a4'][8][8][8][8][8])

    def test_empty_and_scalar_files(self):
        self.assertIsNone(roles.load_roles_file(self.write('')))
        self.assertEqual('just text',
                         roles.load_roles_file(self.write('just text\n')))

    def test_command_line(self):
        path = self.write(b'\x89PNG\r\n\x1a\n\0\0\0\rIHDR')
        with mock.patch('sys.stderr', autospec=True) as stderr:
            self.assertEqual(2, roles.main([path]))
        written = ''.join(call.args[0] for call in stderr.write.mock_calls)
        self.assertEqual('error: %s is not a UTF-8 text file (byte 0x89 at '
                         'offset 0 cannot be decoded)\n' % path, written)

    def test_command_line_allowed_paths(self):
        path = self.write("- name: Compute\n  defaults: {image: {href: "
                          "'file:///srv/images/x.raw'}}\n")
        with mock.patch('sys.stderr', autospec=True), \
                mock.patch('sys.stdout', autospec=True):
            self.assertEqual(2, roles.main([path]))
            self.assertEqual(0, roles.main([
                path, '--file-url-allowed-paths', '/data, /srv/images']))

    def test_port_map_file_not_a_mapping(self):
        roles_file = self.write('- name: Compute\n')
        port_map = self.write('- a list\n')
        with mock.patch('sys.stderr', autospec=True) as stderr:
            self.assertEqual(2, roles.main([roles_file, '--port-map',
                                            port_map]))
        written = ''.join(call.args[0] for call in stderr.write.mock_calls)
        self.assertIn('must be a mapping holding RoleNetPortIdMap', written)


class DuplicatePortTest(ErrorTestCase):
    """Point 5: a Neutron port belongs to one server, on one network."""

    def test_ctlplane_map(self):
        text = self.message([{'name': 'Controller', 'count': 2}],
                            role_ctlplane_port_map={'Controller': [
                                port('p1'), port('p1', ip='192.168.24.11')]})
        self.assertIn("port 'p1' is given to two instances: "
                      'overcloud-controller-0 (role_ctlplane_port_map) and '
                      'overcloud-controller-1 (role_ctlplane_port_map)', text)

    def test_across_roles_and_maps(self):
        text = self.message(
            [{'name': 'Controller'}, {'name': 'Compute'}],
            role_ctlplane_port_map={'Controller': [port('p1')]},
            role_net_port_id_map={'Compute': {'internal_api': ['p1']}})
        self.assertIn("port 'p1' is given to two instances: "
                      'overcloud-controller-0 (role_ctlplane_port_map) and '
                      'overcloud-novacompute-0 (role_net_port_id_map '
                      '(network internal_api))', text)

    def test_port_in_defaults(self):
        error = self.error([{'name': 'Compute', 'count': 3, 'defaults': {
            'networks': [{'network': 'storage', 'port': 'p9'}]}}])
        self.assertEqual(2, len(error.errors))
        self.assertIn("port 'p9' is given to two instances: "
                      'overcloud-novacompute-0 (networks[0].port) and '
                      'overcloud-novacompute-2 (networks[0].port)',
                      error.errors[1])

    def test_two_ports_for_one_network(self):
        text = self.message(
            [{'name': 'Compute', 'defaults': {
                'networks': [{'network': 'storage', 'port': 'mine'}]}}],
            role_net_port_id_map={'Compute': {'storage': ['heat']}})
        self.assertIn("overcloud-novacompute-0: network 'storage' is given "
                      "two ports: 'heat' by role_net_port_id_map (network "
                      "storage) and 'mine' by networks[0].port", text)
        text = self.message(
            [{'name': 'Compute'}],
            role_ctlplane_port_map={'Compute': [port('a')]},
            role_net_port_id_map={'Compute': {'ctlplane': ['b']}})
        self.assertIn("network 'ctlplane' is given two ports: 'a' by "
                      "role_ctlplane_port_map and 'b'", text)

    def test_one_port_for_two_networks(self):
        text = self.message(
            [{'name': 'Compute'}],
            role_net_port_id_map={'Compute': {'storage': ['p'],
                                              'tenant': ['p']}})
        self.assertIn("overcloud-novacompute-0: port 'p' is given for "
                      "network 'storage'", text)
        self.assertIn("and for network 'tenant'", text)

    def test_same_port_named_twice_is_fine(self):
        result = roles.expand_roles(
            [{'name': 'Compute', 'defaults': {'networks': [
                {'network': 'ctlplane', 'port': 'p1', 'vif': True}]}}],
            role_ctlplane_port_map={'Compute': [port('p1')]},
            role_net_port_id_map={'Compute': {'ctlplane': ['p1']}})
        self.assertEqual('p1', result['instances'][0].ctlplane_port.id)


class PortAssertionTest(ErrorTestCase):
    """Point 6: fixed_ip and subnet assert what Heat's port has."""

    def expand(self, network, **port_maps):
        return roles.expand_roles(
            [{'name': 'Compute', 'defaults': {'networks': [network]}}],
            **port_maps)

    def test_ctlplane_port_matches(self):
        ctlplane = {'Compute': [port('p1', subnets=[
            {'id': 'ctlplane-subnet', 'name': 'ctlplane-a',
             'cidr': '192.168.24.0/24'}])]}
        for network in ({'network': 'ctlplane', 'fixed_ip': '192.168.24.10'},
                        {'network': 'ctlplane', 'subnet': 'ctlplane-subnet'},
                        {'network': 'ctlplane', 'subnet': 'ctlplane-a',
                         'fixed_ip': '192.168.24.10', 'vif': True}):
            with self.subTest(network=network):
                result = self.expand(network, role_ctlplane_port_map=ctlplane)
                self.assertEqual((model.Network(**network),),
                                 result['instances'][0].networks)

    def test_ctlplane_port_contradicts(self):
        ctlplane = {'Compute': [port('p1')]}
        text = self.message(
            [{'name': 'Compute', 'defaults': {'networks': [
                {'network': 'ctlplane', 'fixed_ip': '192.168.24.99'}]}}],
            role_ctlplane_port_map=ctlplane)
        self.assertIn("overcloud-novacompute-0: networks[0].fixed_ip "
                      "'192.168.24.99' (network 'ctlplane') does not match "
                      "port 'p1' from role_ctlplane_port_map, which has "
                      "fixed IP(s) 192.168.24.10", text)
        text = self.message(
            [{'name': 'Compute', 'defaults': {'networks': [
                {'network': 'ctlplane', 'subnet': 'other'}]}}],
            role_ctlplane_port_map=ctlplane)
        self.assertIn("networks[0].subnet 'other' (network 'ctlplane') does "
                      "not match port 'p1' from role_ctlplane_port_map, "
                      'which has subnet(s) ctlplane-subnet', text)

    def test_fixed_ip_without_port(self):
        # No port: created_ports makes one with that address.
        network = {'network': 'storage', 'fixed_ip': '172.16.1.5'}
        instance = self.expand(network)['instances'][0]
        self.assertEqual(model.Network(**network), instance.networks[0])
        self.assertEqual({}, instance.network_ports)

    def test_fixed_ip_must_be_an_ip(self):
        text = self.message([{'name': 'Compute', 'defaults': {'networks': [
            {'network': 'storage', 'fixed_ip': '172.16.1.500'}]}}])
        self.assertIn("defaults.networks[0].fixed_ip: '172.16.1.500' is not "
                      'an IP address', text)

    def test_port_id_only_is_checked_later(self):
        network = {'network': 'storage', 'fixed_ip': '172.16.1.5',
                   'subnet': 'storage-subnet'}
        result = self.expand(network, role_net_port_id_map={
            'Compute': {'storage': ['s1']}})
        instance = result['instances'][0]
        # tripleo-ansible's implicit ctlplane entry follows.
        self.assertEqual((model.Network(**network),
                          model.Network(network='ctlplane', vif=True)),
                         instance.networks)
        self.assertEqual('s1', instance.network_ports['storage'])


class FakeNeutronPort(object):

    def __init__(self, port_id, ips, network_id='net-1'):
        self.id = port_id
        self.mac_address = 'fa:16:3e:00:00:01'
        self.network_id = network_id
        self.fixed_ips = [{'ip_address': ip, 'subnet_id': subnet}
                          for ip, subnet in ips]


class FakeSubnet(object):

    def __init__(self, subnet_id, name):
        self.id = subnet_id
        self.name = name
        self.cidr = '172.16.1.0/24'
        self.ip_version = 4


class ResolvePortsTest(unittest.TestCase):
    """Point 6: assertions about ports known only by id, against Neutron."""

    def setUp(self):
        self.conn = mock.Mock()
        self.conn.has_service.return_value = True
        self.neutron_ports = [
            FakeNeutronPort('s1', [('172.16.1.5', 'sub-1')])]
        self.conn.network.ports.side_effect = lambda id: [
            p for p in self.neutron_ports if p.id in id]
        self.conn.network.networks.return_value = []
        self.conn.network.subnets.return_value = [
            FakeSubnet('sub-1', 'storage-subnet')]
        self.conn.baremetal.ports.return_value = []
        self.conn.baremetal.port_groups.return_value = []

    def instance(self, **network):
        return model.Instance.from_dict({
            'hostname': 'cmp-0', 'ctlplane_port': None,
            'network_ports': {'storage': 's1'},
            'networks': [dict(network, network='storage')]})

    def resolve(self, **network):
        return ports.resolve_ports(self.conn, [self.instance(**network)])

    def error(self, **network):
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            self.resolve(**network)
        return str(ctx.exception)

    def test_matching(self):
        for network in ({'fixed_ip': '172.16.1.5'},
                        {'subnet': 'sub-1'}, {'subnet': 'storage-subnet'},
                        {'fixed_ip': '172.16.1.5', 'subnet': 'sub-1',
                         'vif': True}):
            with self.subTest(network=network):
                self.resolve(**network)
        # A port not to attach is read for the check, in the same request.
        self.conn.network.ports.assert_called_with(id=['s1'])

    def test_fixed_ip_differs(self):
        self.assertEqual(
            "cmp-0: port s1 (network 'storage'): networks[0].fixed_ip "
            "'172.16.1.9' does not match Neutron, where the port has fixed "
            'IP(s) 172.16.1.5', self.error(fixed_ip='172.16.1.9'))
        self.conn.baremetal.ports.assert_not_called()

    def test_subnet_differs(self):
        self.assertIn("networks[0].subnet 'other' does not match Neutron, "
                      'where the port has subnet(s) storage-subnet, sub-1',
                      self.error(subnet='other'))

    def test_port_missing(self):
        self.neutron_ports = []
        self.assertEqual("cmp-0: port s1 (networks[0], network 'storage') "
                         'does not exist in Neutron',
                         self.error(fixed_ip='172.16.1.5'))

    def test_without_neutron_the_check_is_skipped(self):
        self.conn.has_service.return_value = False
        self.resolve(fixed_ip='172.16.1.9')
        self.conn.network.ports.assert_not_called()


class VifWithoutPortTest(ErrorTestCase):
    """Point 7: vif: true without a port is made later, not refused."""

    def test_vif_without_port(self):
        result = roles.expand_roles([{'name': 'Compute', 'defaults': {
            'networks': [{'network': 'ctlplane', 'vif': True}]}}])
        instance = result['instances'][0]
        self.assertEqual({}, instance.network_ports)
        self.assertEqual((model.Network(network='ctlplane', vif=True),),
                         instance.networks)

    def test_vif_with_a_port(self):
        for port_maps in (
                {'role_ctlplane_port_map': {'Compute': [port('p1')]}},
                {'role_net_port_id_map': {'Compute': {'ctlplane': ['p1']}}}):
            with self.subTest(port_maps=port_maps):
                roles.expand_roles([{'name': 'Compute', 'defaults': {
                    'networks': [{'network': 'ctlplane', 'vif': True}]}}],
                    **port_maps)

    def test_unmanaged_and_unprovisioned_are_not_deployed(self):
        roles.expand_roles([{'name': 'Compute', 'count': 1, 'instances': [
            {'hostname': 'pre-0', 'managed': False,
             'networks': [{'network': 'ctlplane', 'vif': True}]},
            {'hostname': 'gone-0', 'provisioned': False,
             'networks': [{'network': 'ctlplane', 'vif': True}]}]}])


class KeyTypeTest(ErrorTestCase):
    """Mapping keys that are no strings (``5:`` in YAML) are named."""

    def test_port_map_keys(self):
        cases = [
            ({'role_net_port_id_map': {'Controller': {5: ['p-1']}}},
             'role_net_port_id_map.Controller.5: 5 is not a string: '
             'network names must be strings'),
            ({'role_net_port_id_map': {'Controller': {None: ['p-1']}}},
             'role_net_port_id_map.Controller.None: None is not a string'),
            ({'role_net_port_id_map': {5: {'ctlplane': ['p-1']}}},
             'role_net_port_id_map.5: 5 is not a string: role names must '
             'be strings'),
            ({'role_ctlplane_port_map': {5: [port('p-1')]}},
             'role_ctlplane_port_map.5: 5 is not a string: role names must '
             'be strings'),
        ]
        for kwargs, fragment in cases:
            with self.subTest(kwargs=kwargs):
                text = self.message([{'name': 'Controller'}], **kwargs)
                self.assertIn(fragment, text)
                self.assertEqual(1, len(text.splitlines()), text)

    def test_roles_file_keys(self):
        cases = [
            ({5: 'x'}, 'defaults.5: 5 is not a string: keys must be '
             'strings (known keys:'),
            ({'capabilities': {5: 'x'}}, 'defaults.capabilities.5: 5 is '
             'not a string: capability names must be strings'),
            ({'network_config': {True: 'x'}}, 'defaults.network_config.True'
             ': True is not a string'),
            ({'network_config': {'net_config_data_lookup': {
                'node-1': {5: 'eth0'}}}},
             'net_config_data_lookup.node-1.5: 5 is not a string: '
             'interface names must be strings'),
            ({'config_drive': {'cloud_config': {5: 'x'}}},
             'defaults.config_drive.cloud_config.5: <hidden int> is not a '
             'string'),
            ({'image': {'href': 'file:///var/lib/ironic/x.raw', 1.5: 'x'}},
             'defaults.image.1.5: 1.5 is not a string'),
        ]
        for defaults, fragment in cases:
            with self.subTest(defaults=defaults):
                text = self.message([{'name': 'Compute',
                                      'defaults': defaults}])
                self.assertIn(fragment, text)

    def test_cut_never_raises(self):
        self.assertEqual('5', schema.cut(5))
        self.assertEqual('None', schema.cut(None))


class ConfigDriveSizeTest(ErrorTestCase):
    """A config drive part over MAX_CONFIG_DRIVE_BYTES, refused quickly."""

    def assert_quick_refusal(self, roles_file, path):
        start = time.monotonic()
        text = self.message(roles_file)
        self.assertLess(time.monotonic() - start, 2)
        self.assertIn('%s: <hidden dict of length 1> is larger than the '
                      'maximum of 1048576 bytes (1 MiB) for one ' % path,
                      text)
        self.assertNotIn('xxxx', text)
        self.assert_short(text)
        return text

    def test_huge_cloud_config(self):
        text = self.assert_quick_refusal(
            [{'name': 'Compute', 'count': 100, 'defaults': {'config_drive': {
                'cloud_config': {'write_files': [
                    {'path': '/big', 'content': 'x' * MB10}]}}}}],
            "role 'Compute': defaults.config_drive.cloud_config")
        self.assertIn('it takes at least 100000', text)
        self.assertEqual(1024 * 1024, roles.MAX_CONFIG_DRIVE_BYTES)

    def test_huge_meta_data_of_an_instance(self):
        self.assert_quick_refusal(
            [{'name': 'Compute', 'instances': [{'config_drive': {
                'meta_data': {'big': 'x' * MB10}}}]}],
            'instances[0].config_drive.meta_data')

    def test_many_small_values(self):
        self.assert_quick_refusal(
            [{'name': 'Compute', 'defaults': {'config_drive': {
                'cloud_config': {'runcmd': ['echo %d' % i
                                            for i in range(200000)]}}}}],
            'defaults.config_drive.cloud_config')

    def test_shared_values_measured_within_the_limit(self):
        value = ['x' * 100]
        for _ in range(40):
            value = [value, value]      # 2**40 strings once written out
        start = time.monotonic()
        size = limits.json_size(value)
        self.assertLess(time.monotonic() - start, 2)
        self.assertGreater(size, roles.MAX_CONFIG_DRIVE_BYTES)

    def test_below_the_limit(self):
        result = roles.expand_roles([{'name': 'Compute', 'defaults': {
            'config_drive': {'cloud_config': {'x': 'y' * 1000000}}}}])
        self.assertEqual(1000000, len(
            result['instances'][0].config_drive['cloud_config']['x']))


class FileUrlTest(ErrorTestCase):
    """Point 9: file:// images the conductor may not read."""

    def test_outside_default_directories(self):
        text = self.message([{'name': 'Compute', 'defaults': {'image': {
            'href': 'file:///srv/images/overcloud.raw'}}}])
        self.assertIn("role 'Compute': defaults.image.href: "
                      "'file:///srv/images/overcloud.raw' is not inside the "
                      'directories the Ironic conductor may read file URLs '
                      'from: /var/lib/ironic', text)

    def test_configured_directories(self):
        roles_file = [{'name': 'Compute', 'instances': [{'image': {
            'href': 'file:///srv/images/overcloud.raw',
            'checksum': 'file:///srv/images/SHA256SUMS'}}]}]
        roles.expand_roles(roles_file, file_url_allowed_paths=['/srv/images'])
        text = self.message(roles_file, file_url_allowed_paths=['/data'])
        self.assertIn('instances[0].image.href', text)
        self.assertIn('instances[0].image.checksum', text)
        self.assertIn('from: /data', text)

    def test_blocked_and_default_image(self):
        text = self.message([{'name': 'Compute'}],
                            default_image='file:///etc/shadow',
                            file_url_allowed_paths=['/'])
        self.assertIn("default_image.href: 'file:///etc/shadow' is under "
                      '/etc, which Ironic never reads file URLs from', text)


class HostnameFormatTest(ErrorTestCase):
    """Point 10: every generated hostname of a role is valid."""

    def test_valid_at_index_0_only(self):
        fmt = 'c' * 62 + '%index%'
        roles.expand_roles([{'name': 'Compute', 'count': 10,
                             'hostname_format': fmt}])
        text = self.message([{'name': 'Compute', 'count': 11,
                              'hostname_format': fmt}])
        self.assertIn("hostname_format: '%s' gives hostname '%s10' at index "
                      '10, which is not a valid RFC 1123 hostname'
                      % (fmt, 'c' * 62), text)

    def test_generated_names_of_custom_hostnames(self):
        # The generated name is a HostnameMap key even when unused.
        fmt = 'c' * 62 + '%index%'
        text = self.message([{'name': 'Compute', 'count': 11,
                              'hostname_format': fmt,
                              'instances': [{'hostname': 'host-%d' % i}
                                            for i in range(11)]}])
        self.assertIn('at index 10', text)

    def test_leading_and_trailing_dashes(self):
        for fmt in ('-a%index%', '%index%a-', 'a.-%index%'):
            with self.subTest(fmt=fmt):
                self.assertIn('hostname_format', self.message(
                    [{'name': 'Compute', 'hostname_format': fmt}]))

    def test_invalid_whatever_the_index(self):
        # Refused for the text they are made of, not for a missing %index%.
        for fmt in ('-a', 'a-', '-%index%', '%index%-', 'a_%index%',
                    'a..%index%', '-' * 100 + '%index%'):
            with self.subTest(fmt=fmt[:20]):
                start = time.monotonic()
                text = self.message([{'name': 'Compute',
                                      'hostname_format': fmt}])
                self.assertLess(time.monotonic() - start, 2)
                self.assertIn("role 'Compute': hostname_format: %s"
                              % schema.shown(fmt), text)
                self.assertIn('valid RFC 1123 hostname', text)
                self.assertEqual(1, len(text.splitlines()), text)
                self.assert_short(text)

    def test_given_hostnames_with_dashes(self):
        for hostname in ('-a', 'a-', 'a.-b', '-'):
            with self.subTest(hostname=hostname):
                text = self.message([{'name': 'Compute', 'instances': [
                    {'hostname': hostname}]}])
                self.assertIn("instances[0].hostname: '%s' is not a valid "
                              'RFC 1123 hostname' % hostname, text)

    def test_stackname(self):
        for stackname in ('-a', 'a-', 'over_cloud', 'a.b', 'x' * 64, '',
                          None, 5):
            with self.subTest(stackname=stackname):
                text = self.message([{'name': 'Compute'}],
                                    stackname=stackname)
                self.assertIn('stackname:', text)
        # Upper case is lowered, not refused; a stack name is not needed by
        # a format without it, but it is still checked.
        result = roles.expand_roles([{'name': 'Compute'}], stackname='Prod-1')
        self.assertEqual('prod-1-novacompute-0',
                         result['instances'][0].hostname)
        self.assertIn('stackname', self.message(
            [{'name': 'Compute', 'hostname_format': 'c-%index%'}],
            stackname='-x'))


class SecretTest(ErrorTestCase):
    """Config drive contents and URL passwords never reach a message."""

    def test_config_drive_contents_hidden(self):
        secret = 'hunter2-password'
        cases = [
            {'config_drive': {'cloud_config': 'password: %s' % secret}},
            {'config_drive': {'user_data': secret}},
            {'config_drive': secret},
            {'config_drive': {'meta_data': [secret]}},
        ]
        for defaults in cases:
            with self.subTest(defaults=defaults):
                text = self.message([{'name': 'Compute',
                                      'defaults': defaults}])
                self.assertIn('defaults.config_drive', text)
                self.assertNotIn(secret, text)

    def test_deep_config_drive_names_keys_only(self):
        text = self.message([{'name': 'Compute', 'defaults': {
            'config_drive': {'cloud_config': {'users': nest(
                40, {'passwd': 'hunter2-password'})}}}}])
        self.assertNotIn('hunter2', text)

    def test_url_password_masked(self):
        text = self.message([{'name': 'Compute', 'defaults': {'image': {
            'href': 'ftp://admin:hunter2@images/x.qcow2'}}}])
        self.assertIn("'ftp://admin:***@images/x.qcow2'", text)
        self.assertNotIn('hunter2', text)


def _junk():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                        st.floats(allow_nan=False), st.text(max_size=8),
                        st.sampled_from(['Compute', 'overcloud-compute-0',
                                         'file:///etc/x', '%index%',
                                         'ctlplane', '10.0.0.1', '']))
    # Keys a YAML file may have that are no strings are drawn too.
    keys = st.one_of(st.sampled_from(
        ['name', 'count', 'hostname_format', 'defaults', 'instances',
         'hostname', 'image', 'href', 'networks', 'network', 'port', 'vif',
         'fixed_ip', 'subnet', 'config_drive', 'cloud_config', 'traits',
         'capabilities', 'root_size_gb', 'provisioned', 'managed', 'nics',
         'kernel', 'ramdisk', 'checksum', 'Compute', 'ctlplane', 'x']),
        st.sampled_from([5, None, True, 1.5]))
    return st.recursive(
        scalars, lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=5)), max_leaves=30)


class AnyInputTest(unittest.TestCase):
    """Whatever the input, the answer is a result or an InvalidInput."""

    @settings(max_examples=300, deadline=None)
    @given(_junk(), _junk(), _junk())
    def test_only_invalid_input(self, roles_file, net_map, ctlplane_map):
        original = copy.deepcopy((roles_file, net_map, ctlplane_map))
        try:
            roles.expand_roles(roles_file, role_net_port_id_map=net_map,
                               role_ctlplane_port_map=ctlplane_map)
        except exceptions.InvalidInput as exc:
            self.assertTrue(exc.errors)
        self.assertEqual(original, (roles_file, net_map, ctlplane_map))
