"""Root device requests, RAID configs and deploy steps, their history."""

import dataclasses
import unittest
from unittest import mock

from tripleo_baremetal.common import root_device
from tripleo_baremetal import exceptions
from tripleo_baremetal import model
from tripleo_baremetal.picking import inventory
from tripleo_baremetal.picking import node_filters
from tripleo_baremetal.provisioning import adopt
from tripleo_baremetal.provisioning import node_settings
from tripleo_baremetal.provisioning import step_history
from tripleo_baremetal.request import deploy_steps
from tripleo_baremetal.request import roles

GIB = 1024 ** 3
SDA = {'name': '/dev/sda', 'size': 238 * GIB + 1000, 'serial': 'S1',
       'wwn': '0x5000a', 'rotational': False, 'model': 'Fast SSD'}
SDB = {'name': '/dev/sdb', 'size': 931 * GIB, 'serial': 'S2',
       'wwn': '0x5000b', 'rotational': True, 'vendor': 'ACME'}
SDC = {'name': '/dev/sdc', 'size': 500 * GIB, 'serial': 'S2'}
DISKS = root_device.disks({'inventory': {'disks': [SDA, SDB]}})
IMAGE = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}


def expand(**defaults):
    return roles.expand_roles([{'name': 'Compute', 'count': 1,
                                'defaults': dict({'image': IMAGE},
                                                 **defaults)}])


def errors(role):
    with unittest.TestCase().assertRaises(exceptions.InvalidInput) as ctx:
        roles.expand_roles([role])
    return ctx.exception.errors


class RootDeviceSpecTest(unittest.TestCase):

    def test_valid_forms(self):
        for value in ('smallest', 'largest',
                      {'policy': 'largest', 'minimum_size_gb': 100},
                      {'size': '>= 100', 'rotational': False},
                      {'size': 200}, {'serial': 's== S1'},
                      {'model': '<in> SSD', 'name': 'sda'},
                      {'wwn': '<or> 0x1 <or> 0x2'}):
            self.assertEqual([], root_device.problems(value), value)

    def test_invalid_forms_name_the_key(self):
        cases = [
            ('biggest', None, 'is not a policy'),
            ([], None, 'must be a policy'),
            ({}, None, 'names no hint and no policy'),
            ({'colour': 'red'}, 'colour', 'is not a root device hint'),
            ({'size': 's== 1'}, 'size', 'string operator'),
            ({'size': 'big'}, 'size', 'number of GiB'),
            ({'size': 0}, 'size', 'at least 1 GiB'),
            ({'size': '>= x'}, 'size', 'needs a number'),
            ({'rotational': 'maybe'}, 'rotational', 'true or false'),
            ({'serial': ['a']}, 'serial', 'must be a string'),
            ({'policy': 'largest', 'size': 5}, 'policy', 'cannot be '
             'combined'),
            ({'policy': 'largest', 'minimum_size_gb': 0},
             'minimum_size_gb', 'at least 1'),
        ]
        for value, key, text in cases:
            [(found_key, _value, problem)] = root_device.problems(value)
            self.assertEqual(key, found_key, value)
            self.assertIn(text, problem, value)

    def test_roles_file_error_has_path_and_value(self):
        found = errors({'name': 'Compute', 'defaults': {
            'root_device': {'size': '>= big'}}})
        self.assertEqual(["role 'Compute': defaults.root_device.size: "
                          "'>= big' operator >= needs a number, got 'big'"],
                         found)

    def test_expanded(self):
        [instance] = expand(root_device='largest')['instances']
        self.assertEqual({'policy': 'largest'}, instance.root_device)


class ChooseDiskTest(unittest.TestCase):

    def choose(self, spec, disks=DISKS, root_size_gb=None):
        return root_device.choose(root_device.normalise(spec), disks,
                                  root_size_gb)

    def test_hints_match_ironic_semantics(self):
        self.assertEqual('/dev/sdb', self.choose(
            {'size': '>= 500'})[0].name)
        self.assertEqual('/dev/sda', self.choose(
            {'rotational': False})[0].name)
        self.assertEqual('/dev/sda', self.choose({'name': 'sda'})[0].name)
        self.assertEqual('/dev/sda', self.choose(
            {'model': '<in> ssd'})[0].name)          # case-insensitive
        self.assertEqual('/dev/sdb', self.choose({'size': 931})[0].name)
        self.assertEqual('/dev/sdb', self.choose(
            {'vendor': 'acme', 'rotational': 'true'})[0].name)

    def test_first_match_in_inventory_order(self):
        self.assertEqual('/dev/sda', self.choose({'size': '>= 1'})[0].name)

    def test_policies(self):
        self.assertEqual('/dev/sda', self.choose('smallest')[0].name)
        self.assertEqual('/dev/sdb', self.choose('largest')[0].name)
        self.assertEqual('/dev/sdb', self.choose(
            {'policy': 'smallest', 'minimum_size_gb': 300})[0].name)

    def test_policy_skips_tiny_disks(self):
        tiny = root_device.disks({'disks': [
            {'name': '/dev/sdz', 'size': 2 * GIB}, SDB]})
        self.assertEqual('/dev/sdb', self.choose('smallest', tiny)[0].name)

    def test_no_match_reason_and_disks(self):
        disk, reason = self.choose({'size': '>= 2000'})
        self.assertIsNone(disk)
        self.assertEqual(("root_device {size: '>= 2000'}: no matching disk",
                          'sda 238 GiB, sdb 931 GiB rotational'), reason)

    def test_partition_root_size_must_fit(self):
        disk, reason = self.choose({'rotational': False}, root_size_gb=300)
        self.assertIsNone(disk)
        self.assertIn('holding root_size_gb 300', reason[0])
        self.assertEqual('/dev/sdb', self.choose(
            'smallest', root_size_gb=300)[0].name)

    def test_no_disks(self):
        self.assertEqual('the inventory lists no disk',
                         self.choose('largest', ())[1][1])

    def test_stable_hint_prefers_unique_ids(self):
        sda, sdb = DISKS
        self.assertEqual({'wwn': '0x5000b'},
                         root_device.stable_hint(sdb, DISKS))
        shared = root_device.disks({'disks': [
            dict(SDB, wwn=None), dict(SDC, by_path='/dev/disk/by-path/x')]})
        # Both share serial S2: by-path names sdc for good.
        self.assertEqual({'by_path': '/dev/disk/by-path/x'},
                         root_device.stable_hint(shared[1], shared))
        bare = root_device.disks({'disks': [{'name': '/dev/vda',
                                             'size': GIB * 10}]})
        self.assertEqual({'name': '/dev/vda'},
                         root_device.stable_hint(bare[0], bare))


def make_node(uuid='uuid-1', name='node-1', **fields):
    node = {'uuid': uuid, 'name': name, 'provision_state': 'available',
            'power_state': 'power off', 'maintenance': False,
            'resource_class': 'baremetal', 'traits': [],
            'properties': {}, 'conductor_group': '',
            'raid_interface': 'fake'}
    node.update(fields)
    return node_filters.node_view(node)


def make_instance(**fields):
    return model.Instance(hostname='compute-0', image=IMAGE, **fields)


class PickerTest(unittest.TestCase):

    def reason(self, node, **fields):
        req = node_filters.requirements(make_instance(**fields))
        return node_filters.reject_reason(req, node)

    def test_not_inspected(self):
        self.assertEqual(('not inspected', None), self.reason(
            make_node(), root_device={'policy': 'largest'}))

    def test_no_matching_disk(self):
        node = dataclasses.replace(make_node(), disks=DISKS)
        self.assertEqual(("root_device {size: '>= 2000'}: no matching disk",
                          'sda 238 GiB, sdb 931 GiB rotational'),
                         self.reason(node, root_device={'size': '>= 2000'}))
        self.assertIsNone(self.reason(node, root_device={'size': '>= 500'}))

    def test_state_comes_before_the_inventory(self):
        node = make_node(provision_state='active')
        self.assertEqual('provision state active', self.reason(
            node, root_device={'policy': 'largest'})[0])

    def test_no_raid(self):
        node = make_node(raid_interface='no-raid')
        raid = {'logical_disks': [{'size_gb': 10, 'raid_level': '1'}]}
        self.assertEqual('raid_interface no-raid cannot build a RAID '
                         'configuration', self.reason(
                             node, raid_config=raid)[0])
        self.assertEqual('raid_interface no-raid cannot build a RAID '
                         'configuration', self.reason(node, deploy_steps=[
                             {'interface': 'raid', 'step': 'x', 'args': {},
                              'priority': 1}])[0])
        self.assertIsNone(self.reason(node))

    def test_inventory_read_only_for_candidates_once(self):
        conn = mock.Mock()
        conn.baremetal.get_node_inventory.return_value = {
            'inventory': {'disks': [SDB]}, 'plugin_data': {}}
        nodes = [make_node('u1', 'n1'),
                 make_node('u2', 'n2', resource_class='other'),
                 make_node('u3', 'n3', provision_state='active')]
        cache = inventory.Inventories(conn, concurrency=2)
        instances = [make_instance(root_device={'policy': 'largest'})]
        viewed = cache.with_disks(nodes, instances)
        self.assertEqual(('u1',), tuple(
            call.args[0] for call in
            conn.baremetal.get_node_inventory.call_args_list))
        self.assertEqual('/dev/sdb', viewed[0].disks[0].name)
        self.assertIsNone(viewed[1].disks)
        cache.with_disks(nodes, instances)
        self.assertEqual(1, conn.baremetal.get_node_inventory.call_count)

    def test_no_root_device_reads_nothing(self):
        conn = mock.Mock()
        nodes = [make_node()]
        self.assertIs(nodes, inventory.Inventories(conn).with_disks(
            nodes, [make_instance()]))
        conn.baremetal.get_node_inventory.assert_not_called()


RAID = {'logical_disks': [{'size_gb': 100, 'raid_level': 1,
                           'is_root_volume': True}]}
BIOS_STEP = {'interface': 'bios', 'step': 'apply_configuration',
             'args': {'settings': []}, 'priority': 150}


class RaidAndStepsTest(unittest.TestCase):

    def test_expanded_levels_are_strings_and_args_filled(self):
        [instance] = expand(raid_config=RAID, deploy_steps=[
            {'interface': 'deploy', 'step': 'x', 'priority': 0}])[
                'instances']
        self.assertEqual('1', instance.raid_config['logical_disks'][0][
            'raid_level'])
        self.assertEqual(({'interface': 'deploy', 'step': 'x',
                           'priority': 0, 'args': {}},),
                         instance.deploy_steps)

    def test_bad_input_names_the_path(self):
        found = errors({'name': 'Compute', 'defaults': {
            'raid_config': {'logical_disks': [
                {'size_gb': 0, 'raid_level': '7'},
                {'size_gb': 'MAX', 'raid_level': '1',
                 'is_root_volume': True},
                {'size_gb': 10, 'raid_level': '0', 'is_root_volume': True,
                 'disk_type': 'tape'}], 'extra': 1},
            'deploy_steps': [{'interface': 'nic', 'step': 'x'},
                             dict(BIOS_STEP, args=[])]}})
        self.assertEqual(sorted([
            "role 'Compute': defaults.raid_config.extra: 1 is not a known "
            "key (known keys: logical_disks)",
            "role 'Compute': defaults.raid_config.logical_disks[0].size_gb: "
            "0 must be a number of GiB (at least 1) or MAX",
            "role 'Compute': defaults.raid_config.logical_disks[0]."
            "raid_level: '7' must be one of JBOD, 0, 1, 2, 5, 6, 1+0, 5+0, "
            "6+0",
            "role 'Compute': defaults.raid_config.logical_disks[2]."
            "disk_type: 'tape' must be one of hdd, ssd",
            "role 'Compute': defaults.raid_config.logical_disks has 2 "
            "logical disks with is_root_volume true; at most one may be "
            "the root volume",
            "role 'Compute': defaults.deploy_steps[0].priority is required",
            "role 'Compute': defaults.deploy_steps[0].interface: 'nic' must "
            "be one of vendor, power, management, firmware, deploy, bios, "
            "raid",
            "role 'Compute': defaults.deploy_steps[1].args: <hidden list of "
            "length 0> must be a "
            "mapping"]), sorted(found))

    def test_missing_logical_disks(self):
        self.assertEqual(
            ["role 'Compute': defaults.raid_config.logical_disks is "
             "required"],
            errors({'name': 'Compute', 'defaults': {'raid_config': {}}}))

    def test_raid_step_added_once(self):
        raid = deploy_steps.normal_raid_config(RAID)
        steps = deploy_steps.steps_to_send([BIOS_STEP], raid)
        self.assertEqual([BIOS_STEP, {
            'interface': 'raid', 'step': 'apply_configuration',
            'args': {'raid_config': raid}, 'priority': 90}], steps)
        own = dict(BIOS_STEP, interface='raid')
        self.assertEqual([own], deploy_steps.steps_to_send([own], raid))
        self.assertEqual([], deploy_steps.steps_to_send((), None))

    def test_requested_skips_disabled_steps(self):
        self.assertEqual([('bios', 'apply_configuration'),
                          ('raid', 'apply_configuration')],
                         deploy_steps.requested(
                             [BIOS_STEP, dict(BIOS_STEP, step='off',
                                              priority=0)], RAID))


#: What Ironic 39 records (conductor/utils.log_step_flow_history).
RAN = [{'interface': 'deploy', 'step': 'deploy', 'priority': 100,
        'argsinfo': None, 'args': {}},
       {'interface': 'bios', 'step': 'apply_configuration',
        'priority': 150, 'args': {'settings': []}}]


def entry(event_type, steps, when, verb='completed successfully'):
    return {'event_type': event_type, 'created_at': when,
            'event': 'Deployment %s with steps=%r' % (verb, steps)}


class StepHistoryTest(unittest.TestCase):

    def test_steps_that_ran(self):
        history = [{'event_type': 'provisioning', 'event': 'x',
                    'created_at': '2026-01-01T00:00:00'},
                   entry('deployment_end', RAN, '2026-01-01T00:00:02')]
        self.assertEqual({('deploy', 'deploy'),
                          ('bios', 'apply_configuration')},
                         step_history.steps_of(history))

    def test_latest_deploy_wins(self):
        history = [entry('deployment_end', RAN, '2026-01-02T00:00:00'),
                   entry('deployment_end', RAN[:1], '2026-01-01T00:00:00')]
        self.assertIn(('bios', 'apply_configuration'),
                      step_history.steps_of(history))

    def test_start_event_when_no_end(self):
        history = [entry('deployment_start', RAN[:1], '2026-01-01')]
        self.assertEqual({('deploy', 'deploy')},
                         step_history.steps_of(history))

    def test_nothing_recorded(self):
        self.assertIsNone(step_history.steps_of([]))
        self.assertIsNone(step_history.steps_of([{
            'event_type': 'deployment_end', 'event': 'with steps=[oops',
            'created_at': 'x'}]))

    def missing(self, history, **fields):
        conn = mock.Mock()
        with mock.patch.object(step_history, 'read_history', autospec=True,
                               return_value=history):
            return step_history.missing_steps(
                conn, make_instance(**fields), 'uuid-1')

    def test_missing_steps(self):
        history = [entry('deployment_end', RAN, '2026-01-01')]
        self.assertEqual([], self.missing(history,
                                          deploy_steps=[BIOS_STEP]))
        self.assertEqual([('raid', 'apply_configuration')], self.missing(
            history, deploy_steps=[BIOS_STEP],
            raid_config=deploy_steps.normal_raid_config(RAID)))

    def test_unknown_history_accepts_with_a_warning(self):
        with self.assertLogs(step_history.LOG, 'WARNING'):
            self.assertEqual([], self.missing([], deploy_steps=[BIOS_STEP]))

    def test_nothing_requested_reads_nothing(self):
        with mock.patch.object(step_history, 'read_history',
                               autospec=True) as read:
            step_history.missing_steps(mock.Mock(), make_instance(), 'u')
        read.assert_not_called()


class RestoreTest(unittest.TestCase):

    def test_restore_previous_and_absent(self):
        conn = mock.Mock()
        with mock.patch.object(node_settings, 'set_raid',
                               autospec=True) as set_raid:
            self.assertEqual([], node_settings.restore(conn, 'u1', {
                'saved': {'root_device': None, 'target_raid_config': {}}}))
        conn.baremetal.patch_node.assert_called_once_with(
            'u1', [{'op': 'remove', 'path': '/properties/root_device'}])
        set_raid.assert_called_once_with(
            conn, 'u1', {}, what=mock.ANY)
        conn = mock.Mock()
        node_settings.restore(conn, 'u1', {'saved': {
            'root_device': {'name': '/dev/sda'}}})
        conn.baremetal.patch_node.assert_called_once_with(
            'u1', [{'op': 'add', 'path': '/properties/root_device',
                    'value': {'name': '/dev/sda'}}])

    def test_nothing_saved_nothing_sent(self):
        conn = mock.Mock()
        self.assertEqual([], node_settings.restore(conn, 'u1', {}))
        self.assertEqual([], conn.method_calls)

    def test_adopted_mark(self):
        node = mock.Mock(instance_info={node_settings.SAVED_KEY: {
            'adopted': True}})
        self.assertTrue(node_settings.is_adopted(node))
        self.assertFalse(node_settings.is_adopted(mock.Mock(
            instance_info={})))


class AdoptInputTest(unittest.TestCase):

    def test_adopt_needs_a_node_and_no_deploy_settings(self):
        found = errors({'name': 'Compute', 'instances': [
            {'hostname': 'c-0', 'adopt': True},
            {'hostname': 'c-1', 'adopt': True, 'name': 'n1',
             'managed': False},
            {'hostname': 'c-2', 'adopt': True, 'name': 'n2',
             'raid_config': RAID}], 'count': 3,
            'defaults': {'image': IMAGE}})
        self.assertEqual(3, len(found), found)
        self.assertIn('adopt: True needs name', found[0])
        self.assertIn('contradicts managed: false', found[1])
        self.assertIn('raid_config', found[2])
        self.assertIn('cannot apply to an adopted server', found[2])

    def test_adopt_expanded(self):
        [instance] = roles.expand_roles([{'name': 'Compute', 'instances': [
            {'hostname': 'c-0', 'name': 'n0', 'adopt': True}],
            'defaults': {'image': IMAGE}}])['instances']
        self.assertTrue(instance.adopt)


class AdoptNodesTest(unittest.TestCase):

    def test_failed_adoption_reports_last_error_and_touches_nothing(self):
        conn = mock.Mock()
        node = mock.Mock(id='u1', provision_state='manageable')
        node.name = 'n1'
        failed_node = mock.Mock(id='u1', provision_state='adopt failed',
                                last_error='Validation of image href x '
                                'failed')
        failed_node.name = 'n1'
        options = mock.Mock(poll_interval=0.01, poll_interval_max=0.01)
        with mock.patch.object(adopt.api, 'set_provision_state',
                               autospec=True) as put, \
                mock.patch.object(adopt.polling, 'poll_nodes', autospec=True,
                                  return_value=({'u1': failed_node}, True)), \
                mock.patch.object(adopt.deploy, 'instance_info_for',
                                  autospec=True,
                                  return_value={'image_source': 'x'}):
            adopted, failed = adopt.adopt_nodes(
                conn, [(make_instance(name='n1', adopt=True), node)], 10,
                options)
        self.assertEqual([], adopted)
        [(_instance, message)] = failed
        self.assertIn('adoption of node n1 (u1) failed (adopt failed): '
                      'Validation of image href x failed', message)
        put.assert_called_once_with(conn, 'u1', 'adopt', what=mock.ANY)
        # One instance_info PATCH; no undeploy, no power action.
        self.assertEqual(1, conn.baremetal.patch_node.call_count)
        patch = conn.baremetal.patch_node.call_args.args[1]
        self.assertIn({'op': 'add', 'path': '/instance_info/'
                       'tripleo_baremetal', 'value': {'adopted': True}},
                      patch)


class ReleaseRestoresTest(unittest.TestCase):

    def test_half_done_deploy_released_with_its_hint_put_back(self):
        from tripleo_baremetal.picking import reservation
        conn = mock.Mock()
        node = mock.Mock(id='u1', provision_state='available',
                         instance_info={
                             'display_name': 'c-0',
                             node_settings.SAVED_KEY: {'saved': {
                                 'root_device': None}}})
        done, error = reservation._release_one(
            conn, model.Reservation(hostname='c-0', node='u1',
                                    allocation='a1'), node)
        self.assertEqual((True, None), (done, error))
        self.assertEqual([
            mock.call('u1', [{'op': 'remove',
                              'path': '/properties/root_device'}]),
            mock.call('u1', [{'op': 'replace', 'path': '/instance_info',
                              'value': {}}])],
            [mock.call(*c.args) for c in
             conn.baremetal.patch_node.call_args_list])
