"""Extracting a roles file from what is deployed, against fake Ironics."""

import json
import types
import unittest

import yaml

from tests.unit import http_base as base
from tests.unit.http_base import ironic
from tripleo_baremetal import connection
from tripleo_baremetal import exceptions
from tripleo_baremetal.provisioning import extract
from tripleo_baremetal.request import roles as roles_mod

WHOLE = {'image_source': 'http://images.test/overcloud.raw',
         'image_checksum': 'a' * 32}
PARTITION = {'image_source': 'http://images.test/overcloud.qcow2',
             'kernel': 'http://images.test/vmlinuz',
             'ramdisk': 'http://images.test/initrd', 'root_gb': 49,
             'swap_mb': 512}


class FakeBaremetal(object):
    """The two listings extract makes; any other call fails the test."""

    def __init__(self):
        self.nodes_list = []
        self.allocs = []
        self.calls = []

    def add(self, name, state='active', host=None, display_name=None,
            profile=None, info=None, resource_class='baremetal'):
        """A node; ``host``: an allocation of that name holds it."""
        node = types.SimpleNamespace(
            id='uuid-%s' % name, name=name, provision_state=state,
            resource_class=resource_class,
            properties={'capabilities': 'boot_option:local%s' % (
                ',profile:%s' % profile if profile else '')},
            instance_info=dict(info or {}))
        if display_name or host:
            node.instance_info['display_name'] = display_name or host
        if host:
            self.allocs.append(types.SimpleNamespace(
                id='alloc-%s' % host, name=host, node_id=node.id,
                state='active'))
        self.nodes_list.append(node)
        return node

    def allocations(self, **kwargs):
        self.calls.append(('allocations', kwargs))
        return iter(self.allocs)

    def nodes(self, **kwargs):
        self.calls.append(('nodes', kwargs))
        return iter(self.nodes_list)


class ExtractTest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.baremetal = FakeBaremetal()
        self.conn = types.SimpleNamespace(baremetal=self.baremetal)

    def extract(self, **kwargs):
        return extract.extract_roles(self.conn, **kwargs)

    def standard(self):
        """Two controllers, two computes (one with another image)."""
        add = self.baremetal.add
        add('cmp-1', host='overcloud-novacompute-1', profile='compute',
            info=dict(PARTITION, traits=['CUSTOM_A']))
        add('ctl-1', host='overcloud-controller-1', profile='control',
            info=WHOLE)
        add('ctl-0', host='overcloud-controller-0', profile='control',
            info=WHOLE)
        add('cmp-0', host='overcloud-novacompute-0', profile='compute',
            info=dict(WHOLE, traits=['CUSTOM_A']))

    def test_roles_inferred_with_shared_defaults(self):
        self.standard()
        result = self.extract()
        self.assertEqual([], result['warnings'])
        self.assertEqual([
            {'name': 'Controller', 'count': 2,
             'defaults': {'profile': 'control',
                          'image': {'href': WHOLE['image_source'],
                                    'checksum': 'a' * 32}},
             'instances': [{'hostname': 'overcloud-controller-0',
                            'name': 'ctl-0'},
                           {'hostname': 'overcloud-controller-1',
                            'name': 'ctl-1'}]},
            {'name': 'Compute', 'count': 2,
             'defaults': {'profile': 'compute', 'traits': ['CUSTOM_A']},
             'instances': [
                 {'hostname': 'overcloud-novacompute-0', 'name': 'cmp-0',
                  'image': {'href': WHOLE['image_source'],
                            'checksum': 'a' * 32}},
                 {'hostname': 'overcloud-novacompute-1', 'name': 'cmp-1',
                  'image': {'href': PARTITION['image_source'],
                            'kernel': PARTITION['kernel'],
                            'ramdisk': PARTITION['ramdisk']},
                  'swap_size_mb': 512}]},
        ], result['roles'])

    def test_two_listings_and_nothing_else(self):
        self.standard()
        self.extract()
        self.assertEqual(['allocations', 'nodes'],
                         [name for name, _ in self.baremetal.calls])
        node_fields = self.baremetal.calls[1][1]['fields']
        self.assertNotIn('allocation_uuid', node_fields)
        self.assertLessEqual({'uuid', 'name', 'provision_state',
                              'instance_info', 'properties'},
                             set(node_fields))
        self.assertIn('node_uuid', self.baremetal.calls[0][1]['fields'])

    def test_result_is_plain_data_and_expands_to_the_same_hosts(self):
        self.standard()
        result = self.extract()
        self.assertEqual(result, json.loads(json.dumps(result)))
        self.assertEqual(result['roles'], yaml.safe_load(
            yaml.safe_dump(result['roles'])))
        expanded = roles_mod.expand_roles(result['roles'])
        self.assertEqual([], expanded['warnings'])
        got = {inst.hostname: inst for inst in expanded['instances']}
        self.assertEqual(['overcloud-controller-0', 'overcloud-controller-1',
                          'overcloud-novacompute-0',
                          'overcloud-novacompute-1'], sorted(got))
        cmp1 = got['overcloud-novacompute-1']
        self.assertEqual(('cmp-1', 'compute', ('CUSTOM_A',), 1, 512),
                         (cmp1.name, cmp1.profile, cmp1.traits, cmp1.index,
                          cmp1.swap_size_mb))
        self.assertEqual(PARTITION['kernel'], cmp1.image['kernel'])
        self.assertEqual({'overcloud-controller-0': 'overcloud-controller-0',
                          'overcloud-novacompute-1':
                          'overcloud-novacompute-1'},
                         {key: value for key, value in expanded[
                             'environment']['parameter_defaults'][
                                 'HostnameMap'].items()
                          if key.endswith(('controller-0', 'compute-1'))})

    def test_order_does_not_depend_on_listing_order(self):
        self.standard()
        first = self.extract()
        self.baremetal.nodes_list.reverse()
        self.baremetal.allocs.reverse()
        self.assertEqual(first, self.extract())

    def test_node_deployed_without_allocation(self):
        self.baremetal.add('old', display_name='overcloud-controller-0',
                           info={'image_source': 'http://x/img.raw'})
        # A free node with a leftover display_name carries nothing.
        self.baremetal.add('free', state='available',
                           display_name='overcloud-controller-1')
        result = self.extract()
        self.assertEqual([], result['warnings'])
        self.assertEqual([{'name': 'Controller', 'count': 1,
                           'defaults': {'image': {
                               'href': 'http://x/img.raw'}},
                           'instances': [{'hostname':
                                          'overcloud-controller-0',
                                          'name': 'old'}]}],
                         result['roles'])

    def test_unnamed_node_is_pinned_by_uuid(self):
        node = self.baremetal.add('x', host='overcloud-controller-0',
                                  info=WHOLE)
        node.name = None
        instance = self.extract()['roles'][0]['instances'][0]
        self.assertEqual('uuid-x', instance['name'])

    def test_nodes_not_active_are_warned_about_and_left_out(self):
        self.baremetal.add('ok', host='overcloud-controller-0', info=WHOLE)
        for index, (name, state) in enumerate((
                ('failed', 'deploy failed'), ('busy', 'wait call-back'),
                ('reserved', 'available'), ('rescued', 'rescue'))):
            self.baremetal.add(name, state=state,
                               host='overcloud-controller-%d' % (index + 1))
        for kwargs in ({}, {'roles': [{'name': 'Controller'}]}):
            result = self.extract(**kwargs)
            self.assertEqual(['overcloud-controller-0'],
                             [i['hostname'] for i in
                              result['roles'][0]['instances']])
            self.assertEqual(1, result['roles'][0]['count'])
            self.assertEqual(4, len(result['warnings']), result['warnings'])
            for warning, state in zip(result['warnings'], (
                    'deploy failed', 'wait call-back', 'available',
                    'rescue')):
                self.assertIn(' is %s, not active; left out' % state,
                              warning)

    def test_state_warnings_name_host_node_and_state(self):
        self.baremetal.add('bad', state='deploy failed',
                           host='overcloud-controller-3')
        self.baremetal.add('old', state='deploying',
                           display_name='overcloud-novacompute-0')
        result = self.extract()
        self.assertEqual([], result['roles'])
        self.assertEqual([
            'overcloud-controller-3: node bad (uuid-bad) is deploy failed, '
            'not active; left out (only deployed instances are extracted)',
            'overcloud-novacompute-0: node old (uuid-old) is deploying, not '
            'active; left out (only deployed instances are extracted)'],
            result['warnings'])

    def test_hostname_on_two_nodes_is_left_out(self):
        self.baremetal.add('a', host='overcloud-controller-0', info=WHOLE)
        self.baremetal.add('b', display_name='overcloud-controller-0',
                           info=WHOLE)
        result = self.extract()
        self.assertEqual([], result['roles'])
        self.assertEqual(['overcloud-controller-0: this hostname is carried '
                          'by nodes a (uuid-a) and b (uuid-b); left out '
                          '(undeploy the wrong one)'], result['warnings'])

    def test_other_stacks_and_strangers_are_ignored(self):
        self.baremetal.add('mine', host='overcloud-controller-0', info=WHOLE)
        self.baremetal.add('theirs', host='other-controller-0', info=WHOLE)
        self.baremetal.add('pet', display_name='webserver', info=WHOLE)
        self.baremetal.add('odd', host='overcloud-controller-01',
                           info=WHOLE)
        result = self.extract()
        self.assertEqual(['Controller'],
                         [role['name'] for role in result['roles']])
        self.assertEqual(1, result['roles'][0]['count'])
        self.assertEqual(1, len(result['warnings']))
        self.assertIn('overcloud-controller-01: node odd (uuid-odd)',
                      result['warnings'][0])
        self.assertIn('matches no role', result['warnings'][0])

        other = self.extract(stackname='other')
        self.assertEqual(['other-controller-0'],
                         [i['hostname'] for i in
                          other['roles'][0]['instances']])

    def test_inferred_custom_and_known_roles(self):
        for host in ('overcloud-compute-leaf1-3', 'overcloud-cephstorage-0',
                     'overcloud-zeta-0', 'overcloud-controller-0'):
            self.baremetal.add(host.split('-', 1)[1], host=host, info=WHOLE)
        result = self.extract()
        self.assertEqual([], result['warnings'])
        self.assertEqual(
            [('Controller', None), ('CephStorage', None),
             ('Compute_leaf1', '%stackname%-compute-leaf1-%index%'),
             ('Zeta', None)],
            [(role['name'], role.get('hostname_format'))
             for role in result['roles']])
        expanded = roles_mod.expand_roles(result['roles'])
        leaf = [i for i in expanded['instances'] if i.role == 'Compute_leaf1']
        self.assertEqual([('overcloud-compute-leaf1-3', 3)],
                         [(i.hostname, i.index) for i in leaf])

    def test_inferred_name_clash_is_left_out(self):
        self.baremetal.add('a', host='overcloud-novacompute-0', info=WHOLE)
        self.baremetal.add('b', host='overcloud-compute-0', info=WHOLE)
        result = self.extract()
        self.assertEqual(['overcloud-novacompute-0'],
                         [i['hostname'] for i in
                          result['roles'][0]['instances']])
        self.assertEqual(1, len(result['warnings']))
        self.assertIn('overcloud-compute-0: role Compute has hostname '
                      'format %stackname%-novacompute-%index%',
                      result['warnings'][0])

    def test_given_roles_and_formats(self):
        self.baremetal.add('a', host='overcloud-compute-0', info=WHOLE)
        self.baremetal.add('b', host='overcloud-ctl-1', info=WHOLE)
        self.baremetal.add('c', host='overcloud-controller-0', info=WHOLE)
        result = self.extract(roles=[
            {'name': 'Controller', 'hostname_format':
             '%stackname%-ctl-%index%', 'count': 7, 'defaults': {}},
            {'name': 'Compute', 'hostname_format':
             '%stackname%-compute-%index%'},
            {'name': 'CephStorage'}])
        self.assertEqual([
            ('Controller', 1, '%stackname%-ctl-%index%',
             ['overcloud-ctl-1']),
            ('Compute', 1, '%stackname%-compute-%index%',
             ['overcloud-compute-0']),
            ('CephStorage', 0, None, [])],
            [(role['name'], role['count'], role.get('hostname_format'),
              [i['hostname'] for i in role['instances']])
             for role in result['roles']])
        self.assertEqual(1, len(result['warnings']))
        self.assertIn('overcloud-controller-0', result['warnings'][0])
        expanded = roles_mod.expand_roles(result['roles'])
        self.assertEqual(1, [i.index for i in expanded['instances']
                             if i.role == 'Controller'][0])

    def test_image_a_roles_file_cannot_hold(self):
        self.baremetal.add('nova', display_name='overcloud-controller-0',
                           info={'image_source':
                                 '9a3e6a5c-0c9b-4b4e-8a8e-1c4b2b1d0e77'})
        result = self.extract()
        self.assertEqual([{'hostname': 'overcloud-controller-0',
                           'name': 'nova'}],
                         result['roles'][0]['instances'])
        self.assertNotIn('defaults', result['roles'][0])
        self.assertEqual(1, len(result['warnings']))
        self.assertIn('overcloud-controller-0: node nova (uuid-nova) was '
                      'deployed with an image', result['warnings'][0])
        self.assertIn('image.href', result['warnings'][0])

    def test_boot_mode_resource_class_and_profile(self):
        info = dict(WHOLE, capabilities={'boot_option': 'local',
                                         'boot_mode': 'uefi'})
        self.baremetal.add('a', host='overcloud-controller-0', info=info,
                           resource_class='large', profile='control')
        role = self.extract()['roles'][0]
        self.assertEqual({'resource_class': 'large', 'profile': 'control',
                          'capabilities': {'boot_mode': 'uefi'},
                          'image': {'href': WHOLE['image_source'],
                                    'checksum': 'a' * 32}},
                         role['defaults'])
        instance = roles_mod.expand_roles([role])['instances'][0]
        self.assertEqual({'boot_mode': 'uefi', 'profile': 'control'},
                         instance.capabilities)

    def test_bad_arguments_fail_before_any_request(self):
        for kwargs in ({'stackname': 'not a label'},
                       {'roles': 'Controller'},
                       {'roles': [{'hostname_format': '%index%'}]},
                       {'roles': [{'name': 'A'}, {'name': 'A'}]},
                       {'roles': [{'name': 'A',
                                   'hostname_format': 'no-index'}]},
                       {'roles': [{'name': 'A',
                                   'hostname_format': '-%index%'}]}):
            with self.assertRaises(exceptions.InvalidInput, msg=kwargs):
                self.extract(**kwargs)
        self.assertEqual([], self.baremetal.calls)


class HttpExtractTest(base.HttpTestCase):
    """The requests extract makes, at the HTTP level: two listings."""

    def test_two_listings_no_writes(self):
        self.register_allocations([
            base.allocation('alloc-0', 'overcloud-controller-0', 'node-0')])
        self.register_nodes([
            base.node('node-0', 'ctl-0', 'active', allocation='alloc-0',
                      instance_info=dict(
                          WHOLE, display_name='overcloud-controller-0'),
                      properties={'capabilities': 'profile:control'}),
            base.node('node-1', None, 'active', instance_info=dict(
                WHOLE, display_name='overcloud-novacompute-0',
                traits=['CUSTOM_X']), resource_class='compute'),
            base.node('node-2', 'spare')])

        result = extract.extract_roles(connection.get_connection())

        self.assertEqual([], result['warnings'])
        self.assertEqual([('Controller', ['ctl-0'], 'control', None),
                          ('Compute', ['node-1'], None, 'compute')],
                         [(role['name'],
                           [i['name'] for i in role['instances']],
                           role['defaults'].get('profile'),
                           role['defaults'].get('resource_class'))
                          for role in result['roles']])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations',
                   fields=base.Fields('uuid', 'name', 'node_uuid')),
            ironic('GET', 'nodes', fields=base.Fields(
                'uuid', 'name', 'provision_state', 'instance_info',
                'properties', 'resource_class')),
        ])
        self.assertEqual([], self.writes())
        self.assertNotIn('allocation_uuid',
                         self.requests_to('GET', 'nodes')[0].qs['fields'][0])
