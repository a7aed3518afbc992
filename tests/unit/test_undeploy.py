"""Undeploying hosts against a small fake Ironic, counting its requests."""

import collections
import json
import logging
import types
import unittest
from unittest import mock

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from tests.unit import listing_fakes
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal.provisioning import undeploy

DELETABLE = ('active', 'deploy failed', 'error', 'wait call-back')
#: What a node goes through after 'deleted', one state per node listing.
UNDEPLOY_STEPS = ('cleaning', 'available')


class FakeNode(object):

    def __init__(self, name, state, instance_id=None, instance_info=None,
                 protected=False):
        self.id = 'uuid-%s' % name
        self.name = name
        self.provision_state = state
        self.instance_id = instance_id
        self.instance_info = dict(instance_info or {})
        self.is_protected = protected
        self.is_maintenance = False
        self.maintenance_reason = None
        self.last_error = None

    def copy(self):
        node = FakeNode(self.name, self.provision_state)
        node.__dict__.update(self.__dict__)
        node.instance_info = dict(self.instance_info)
        return node


class FakeAllocation(object):

    def __init__(self, id, name, node_id=None, state='active'):
        self.id = id
        self.name = name
        self.node_id = node_id
        self.state = state

    def copy(self):
        return FakeAllocation(self.id, self.name, self.node_id, self.state)


class FakeResponse(object):
    """What the proxy's ``put`` returns: errors are responses too."""

    def __init__(self, status_code, message=None, url=None):
        self.status_code = status_code
        self.url = url or 'http://ironic.test/v1/nodes'
        self.request = types.SimpleNamespace(url=self.url, method='PUT')
        self.reason = 'Error %d' % status_code
        self.headers = {'content-type': 'application/json'}
        self.text = json.dumps({'error_message': json.dumps(
            {'faultstring': message, 'debuginfo': None})})
        self.content = self.text.encode() if message else b''

    def json(self):
        return json.loads(self.text)


def http_error(status, message):
    """The SDK's exception for an Ironic error response."""
    try:
        sdk_exc.raise_from_response(FakeResponse(status, message))
    except sdk_exc.HttpException as exc:
        return exc


class FakeBaremetal(object):
    """Just enough of the baremetal proxy, with Ironic's undeploy rules.

    A node moves on by one state at each node listing (``steps``), as
    Ironic's conductor does in the background. Leaving ``deleting`` drops
    the node's instance_info, instance_uuid and allocation, unless
    ``keep_allocations`` is set (as if that part had failed).

    ``fail_next[call]`` is a list of exceptions raised by the next calls;
    ``fail_for[call]`` maps an id (node or allocation) to an exception
    raised at every call for it.
    """

    def __init__(self):
        self.by_id = collections.OrderedDict()
        self.allocs = collections.OrderedDict()
        self.steps = {}
        self.calls = collections.Counter()
        self.fail_next = collections.defaultdict(list)
        self.fail_for = collections.defaultdict(dict)
        self.keep_allocations = False
        self.lose_answer = False
        self.when_free = None
        self.serial = 0

    # Test helpers

    def add(self, name, state='active', host=None, display_name=None,
            steps=(), **kwargs):
        """Add a node; ``host``: an allocation of that name holds it."""
        node = FakeNode(name, state, **kwargs)
        self.by_id[node.id] = node
        if host is not None:
            self.allocate(host, node)
        if display_name or host:
            node.instance_info.setdefault('display_name',
                                          display_name or host)
            node.instance_info.setdefault('image_source', 'http://x/img')
        self.steps[node.id] = list(steps)
        return node

    def allocate(self, name, node=None, state='active'):
        self.serial += 1
        alloc = FakeAllocation('alloc-%d' % self.serial, name,
                               node.id if node else None, state)
        self.allocs[alloc.id] = alloc
        if node is not None:
            node.instance_id = alloc.id
        return alloc

    def node(self, name):
        return self.by_id['uuid-%s' % name]

    def alloc_names(self):
        return sorted(a.name for a in self.allocs.values())

    def _fail(self, call, ident=None):
        self.calls[call] += 1
        if self.fail_next[call]:
            raise self.fail_next[call].pop(0)
        if ident in self.fail_for[call]:
            raise self.fail_for[call][ident]

    def _enter(self, node, state):
        if node.provision_state == 'deleting' and state != 'deleting':
            node.instance_info = {}
            if not self.keep_allocations:
                self.allocs.pop(node.instance_id, None)
                node.instance_id = None
        node.provision_state = state
        if state in undeploy.DONE_STATES and self.when_free:
            self.when_free(node)

    # The proxy

    default_microversion = listing_fakes.MICROVERSION

    def get(self, path, params=None, microversion=None):
        """``GET /nodes`` as ``listing`` reads it: Ironic's JSON."""
        assert path == '/nodes', path
        return listing_fakes.answer('nodes', self.nodes(
            fields=listing_fakes.fields(params)))

    def allocations(self, fields=None):
        self._fail('allocations')
        assert 'name' in fields and 'node_uuid' in fields
        return [alloc.copy() for alloc in self.allocs.values()]

    def nodes(self, fields=None, **filters):
        self._fail('nodes')
        assert 'instance_info' in fields and 'protected' in fields
        for node_id, steps in self.steps.items():
            if steps:
                self._enter(self.by_id[node_id], steps.pop(0))
        return [node.copy() for node in self.by_id.values()]

    def get_node(self, ident, fields=None):
        self._fail('get_node', ident)
        return self.by_id[ident].copy()

    def put(self, path, json=None, microversion=None):
        """The raw provision request: an error is a response, not raised."""
        node_id = path.split('/')[1]
        url = 'http://ironic.test/v1/' + path
        self.calls['put'] += 1
        failure = (self.fail_next['put'].pop(0) if self.fail_next['put']
                   else self.fail_for['put'].get(node_id))
        if isinstance(failure, FakeResponse):
            failure.url = failure.request.url = url
            return failure
        if failure is not None:
            raise failure
        assert path == 'nodes/%s/states/provision' % node_id, path
        assert json == {'target': 'deleted'}, json
        node = self.by_id[node_id]
        if node.provision_state not in DELETABLE:
            return FakeResponse(
                400, 'The requested action "deleted" can not be performed '
                'on node "%s" while it is in state "%s".'
                % (node_id, node.provision_state), url)
        node.provision_state = 'deleting'
        self.steps[node_id] = list(UNDEPLOY_STEPS)
        if self.lose_answer:
            self.lose_answer = False
            raise ks_exc.ConnectFailure('Connection reset by peer')
        return FakeResponse(202, url=url)

    def delete_allocation(self, ident, ignore_missing=True):
        self._fail('delete_allocation', ident)
        assert ignore_missing
        alloc = self.allocs.get(ident)
        if alloc is None:
            return None
        node = self.by_id.get(alloc.node_id)
        if node is not None:
            if node.provision_state not in undeploy.DONE_STATES:
                raise sdk_exc.ConflictException(
                    'node %s is %s' % (node.id, node.provision_state))
            node.instance_id = None
        del self.allocs[ident]
        return alloc

    def patch_node(self, node_id, patch, retry_on_conflict=True):
        self._fail('patch_node', node_id)
        assert patch == [{'op': 'replace', 'path': '/instance_info',
                          'value': {}}], patch
        self.by_id[node_id].instance_info = {}
        return self.by_id[node_id].copy()


def locked(node_id):
    return FakeResponse(
        409, 'Node %s is locked by host conductor-1, please retry after the '
        'current operation is completed.' % node_id)


class UndeployTest(unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.logged = []
        handler = logging.Handler(logging.INFO)
        handler.emit = lambda record: self.logged.append(
            '%s %s' % (record.levelname, record.getMessage()))
        logger = logging.getLogger('tripleo_baremetal')
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        self.ironic = FakeBaremetal()
        self.conn = mock.Mock(baremetal=self.ironic)
        self.conf = baremetal_conf.standalone_conf(
            poll_interval=0.05, poll_interval_max=0.05, api_retry_delay=0,
            api_retries=2, undeploy_timeout=5)

    def undeploy(self, items, **kwargs):
        return undeploy.undeploy_instances(self.conn, items, conf=self.conf,
                                           **kwargs)

    def assertFailed(self, items, *texts, **kwargs):
        with self.assertRaises(exceptions.UndeployError) as ctx:
            self.undeploy(items, **kwargs)
        for text in texts:
            self.assertIn(text, str(ctx.exception))
        return str(ctx.exception)

    def assertReleased(self, *names):
        for name in names:
            node = self.ironic.node(name)
            self.assertEqual('available', node.provision_state, name)
            self.assertIsNone(node.instance_id, name)
            self.assertEqual({}, node.instance_info, name)

    def undeployed(self, result):
        return [(item.hostname, item.node_name)
                for item in result['undeployed']]

    # The normal case

    def test_active_hosts_with_few_requests(self):
        for i in range(3):
            self.ironic.add('node-%d' % i, host='host-%d' % i)
        self.ironic.add('spare', state='available')
        result = self.undeploy(['host-0', 'host-1', 'host-2'])
        self.assertEqual([('host-%d' % i, 'node-%d' % i) for i in range(3)],
                         self.undeployed(result))
        self.assertEqual('available', result['undeployed'][0]
                         .provision_state)
        self.assertEqual('uuid-node-0', result['undeployed'][0].node)
        self.assertEqual([], result['not_found'])
        self.assertReleased('node-0', 'node-1', 'node-2')
        self.assertEqual([], self.ironic.alloc_names())
        # One allocation listing, one node listing to find the hosts, one
        # provision request each, two bulk polls (cleaning, available);
        # nothing left behind to delete, no VIF call.
        self.assertEqual({'allocations': 1, 'nodes': 3, 'put': 3},
                         dict(self.ironic.calls))

    def test_unknown_host_is_not_found(self):
        self.ironic.add('node-0', host='host-0')
        result = self.undeploy(['nobody', 'host-0'])
        self.assertEqual(['nobody'], result['not_found'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))

    def test_already_free_node_is_released_without_request(self):
        # Reserved for host-0, never deployed (a run died after picking).
        self.ironic.add('node-0', state='available', host='host-0')
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertReleased('node-0')
        self.assertEqual([], self.ironic.alloc_names())
        self.assertEqual({'allocations': 1, 'nodes': 1,
                          'delete_allocation': 1, 'patch_node': 1},
                         dict(self.ironic.calls))

    def test_no_host_no_request(self):
        self.assertEqual({'undeployed': [], 'not_found': []},
                         self.undeploy([]))
        self.assertEqual({}, dict(self.ironic.calls))

    def test_item_without_hostname(self):
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            self.undeploy(['host-0', {'name': 'node-0'}])
        self.assertIn('item 1', str(ctx.exception))
        self.assertEqual({}, dict(self.ironic.calls))

    # Defect 1: nodes caught in the middle of a deploy or undeploy

    def test_deleting_node_settles_available(self):
        self.ironic.add('node-0', state='deleting', host='host-0',
                        steps=['deleting', 'cleaning', 'available'])
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertReleased('node-0')
        self.assertEqual(0, self.ironic.calls['put'])

    def test_deleting_node_settles_but_leaves_its_allocation(self):
        self.ironic.keep_allocations = True
        self.ironic.add('node-0', state='deleting', host='host-0',
                        steps=['deleting', 'available'])
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertReleased('node-0')
        self.assertEqual([], self.ironic.alloc_names())
        self.assertEqual(1, self.ironic.calls['delete_allocation'])
        self.assertEqual(0, self.ironic.calls['put'])

    def test_deploying_node_settles_active_and_is_undeployed(self):
        self.ironic.add('node-0', state='deploying', host='host-0',
                        steps=['deploying', 'deploying', 'active'])
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertReleased('node-0')
        self.assertEqual(1, self.ironic.calls['put'])

    def test_rebuilding_node_settles_in_failure_and_is_undeployed(self):
        for state in ('deploy failed', 'error', 'wait call-back'):
            name = state.replace(' ', '-')
            self.ironic.add(name, state='rebuilding', host='host-' + name,
                            steps=['rebuilding', state])
        result = self.undeploy(['host-deploy-failed', 'host-error',
                                'host-wait-call-back'])
        self.assertEqual(['host-deploy-failed', 'host-error',
                          'host-wait-call-back'],
                         [item.hostname for item in result['undeployed']])
        self.assertEqual(3, self.ironic.calls['put'])
        self.assertReleased('deploy-failed', 'error', 'wait-call-back')

    def test_still_deploying_at_the_timeout(self):
        self.ironic.add('stuck', state='deploying', host='host-0',
                        steps=['deploying'] * 1000)
        self.ironic.add('node-1', host='host-1')
        message = self.assertFailed(
            ['host-0', 'host-1'],
            'host-0: node stuck (uuid-stuck) is still deploying after 0.3s',
            '(undeployed: host-1)', timeout=0.3)
        self.assertNotIn('host-1:', message)
        self.assertEqual('deploying', self.ironic.node('stuck')
                         .provision_state)
        self.assertReleased('node-1')
        self.assertEqual(['host-0'], self.ironic.alloc_names())

    def test_settling_nodes_are_polled_in_bulk(self):
        for i in range(5):
            self.ironic.add('node-%d' % i, state='deploying',
                            host='host-%d' % i,
                            steps=['deploying'] * (i + 1) + ['active'])
        result = self.undeploy(['host-%d' % i for i in range(5)])
        self.assertEqual(5, len(result['undeployed']))
        # find, 5 polls until the last one settles, 2 until all are free.
        self.assertEqual(1 + 5 + 2, self.ironic.calls['nodes'])
        self.assertEqual(5, self.ironic.calls['put'])

    def test_cleaning_node_is_waited_for(self):
        self.ironic.add('node-0', state='clean wait',
                        steps=['clean wait', 'cleaning', 'available'])
        self.ironic.allocate('host-0', self.ironic.node('node-0'))
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertEqual(0, self.ironic.calls['put'])
        self.assertEqual([], self.ironic.alloc_names())

    def test_clean_failed_after_undeploy(self):
        node = self.ironic.add('node-0', host='host-0')
        self.ironic.steps[node.id] = []

        def fail_cleaning(*args, **kwargs):
            response = FakeBaremetal.put(self.ironic, *args, **kwargs)
            self.ironic.steps[node.id] = ['cleaning', 'clean failed']
            node.last_error = 'Disk erase failed'
            return response

        self.ironic.put = fail_cleaning
        self.assertFailed(['host-0'], 'host-0: node node-0 (uuid-node-0) '
                          'is clean failed after undeploy: Disk erase failed')

    # Defect 2: the display_name fallback

    def test_display_name_on_available_node_is_cleared_not_undeployed(self):
        self.ironic.add('free', state='available', display_name='host-0')
        result = self.undeploy(['host-0'])
        self.assertEqual({'undeployed': [], 'not_found': ['host-0']}, result)
        self.assertEqual({}, self.ironic.node('free').instance_info)
        self.assertEqual({'allocations': 1, 'nodes': 1, 'patch_node': 1},
                         dict(self.ironic.calls))
        self.assertIn('WARNING host-0: free node free (uuid-free) still '
                      'carries this hostname in its instance_info; clearing '
                      'it', self.logged)

    def test_leftover_display_name_next_to_the_real_node(self):
        self.ironic.add('free', state='available', display_name='host-0')
        self.ironic.add('node-0', host='host-0')
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertEqual({}, self.ironic.node('free').instance_info)
        self.assertEqual('available', self.ironic.node('free')
                         .provision_state)

    def test_display_name_fallback_finds_a_nova_node(self):
        self.ironic.add('nova', display_name='host-0',
                        instance_id='11111111-2222-4333-8444-555555555555')
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'nova')], self.undeployed(result))
        self.assertReleased('nova')

    def test_display_name_on_a_node_of_another_host_is_ignored(self):
        node = self.ironic.add('other', host='other-host',
                               display_name='host-0')
        result = self.undeploy(['host-0'])
        self.assertEqual({'undeployed': [], 'not_found': ['host-0']}, result)
        self.assertEqual('active', node.provision_state)
        self.assertEqual('host-0', node.instance_info['display_name'])
        self.assertEqual({'allocations': 1, 'nodes': 1},
                         dict(self.ironic.calls))

    def test_reserved_free_node_with_the_display_name_is_left_alone(self):
        # Another run reserved it and wrote instance_info; not a leak.
        node = self.ironic.add('taken', state='available',
                               host='other-host', display_name='host-0')
        result = self.undeploy(['host-0'])
        self.assertEqual(['host-0'], result['not_found'])
        self.assertEqual('host-0', node.instance_info['display_name'])
        self.assertEqual(['other-host'], self.ironic.alloc_names())

    def test_several_nodes_carry_the_hostname(self):
        for name in ('a', 'b'):
            self.ironic.add(name, display_name='host-0',
                            instance_id='nova-%s' % name)
        self.ironic.add('node-1', host='host-1')
        self.assertFailed(['host-0', 'host-1'],
                          'host-0: hostname carried by several nodes: '
                          'a (uuid-a), b (uuid-b)', '(undeployed: host-1)')
        self.assertEqual('active', self.ironic.node('a').provision_state)
        self.assertEqual('active', self.ironic.node('b').provision_state)
        self.assertReleased('node-1')

    # Defect 3: only the host's own allocation is ever deleted

    def test_node_taken_by_another_host_meanwhile(self):
        self.ironic.add('node-0', host='host-0')
        taken = []

        def take(node):
            # A deploy of another host reserves the node as soon as it is
            # free, and writes its instance_info.
            if not taken:
                taken.append(self.ironic.allocate('new-host', node))
                node.instance_info = {'display_name': 'new-host'}

        self.ironic.when_free = take
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        node = self.ironic.node('node-0')
        self.assertEqual(['new-host'], self.ironic.alloc_names())
        self.assertEqual(taken[0].id, node.instance_id)
        self.assertEqual({'display_name': 'new-host'}, node.instance_info)
        self.assertEqual(0, self.ironic.calls['delete_allocation'])
        self.assertEqual(0, self.ironic.calls['patch_node'])

    def test_allocation_without_node_is_deleted(self):
        self.ironic.allocate('host-0', state='error')
        self.ironic.allocate('other-host', state='error')
        result = self.undeploy(['host-0'])
        self.assertEqual(['host-0'], result['not_found'])
        self.assertEqual(['other-host'], self.ironic.alloc_names())

    def test_allocation_still_allocating_is_not_deleted(self):
        self.ironic.allocate('host-0', state='allocating')
        self.assertFailed(['host-0'], 'host-0: allocation alloc-1 is still '
                          'being processed')
        self.assertEqual(['host-0'], self.ironic.alloc_names())

    # Defect 4: one host's failure does not stop the others

    def test_allocation_delete_failure_for_one_host(self):
        self.ironic.keep_allocations = True
        first = self.ironic.add('node-0', host='host-0')
        self.ironic.add('node-1', host='host-1')
        self.ironic.add('node-2', host='host-2')
        self.ironic.fail_for['delete_allocation'][first.instance_id] = (
            sdk_exc.ConflictException('allocation is busy'))
        message = self.assertFailed(
            ['host-0', 'host-1', 'host-2'],
            'host-0: cannot delete allocation %s of node node-0 '
            '(uuid-node-0): allocation is busy' % first.instance_id,
            '(undeployed: host-1, host-2)')
        self.assertNotIn('host-1:', message)
        self.assertEqual(['host-0'], self.ironic.alloc_names())
        self.assertReleased('node-1', 'node-2')
        # The next run with the same input finishes the job.
        self.ironic.fail_for.clear()
        result = self.undeploy(['host-0', 'host-1', 'host-2'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertEqual(['host-1', 'host-2'], result['not_found'])
        self.assertEqual([], self.ironic.alloc_names())
        self.assertReleased('node-0')

    def test_instance_info_patch_failure_for_one_host(self):
        self.ironic.add('node-0', state='available', host='host-0')
        self.ironic.add('node-1', state='available', host='host-1')
        self.ironic.fail_for['patch_node']['uuid-node-1'] = (
            ks_exc.ConnectFailure('refused'))
        self.assertFailed(['host-0', 'host-1'],
                          'host-1: cannot clear instance_info of node '
                          'node-1 (uuid-node-1): no answer from the API',
                          '(undeployed: host-0)')
        self.assertReleased('node-0')
        # Tried three times: the patch is safe to repeat.
        self.assertEqual(1 + 3, self.ironic.calls['patch_node'])

    def test_protected_node_refused_others_undeployed(self):
        self.ironic.add('prot', host='host-0', protected=True)
        self.ironic.add('node-1', host='host-1')
        self.assertFailed(['host-0', 'host-1'],
                          'host-0: node prot (uuid-prot) is protected',
                          '(undeployed: host-1)')
        self.assertEqual('active', self.ironic.node('prot').provision_state)
        self.assertReleased('node-1')

    # Defect 5: each host once

    def test_duplicates_are_undeployed_once_in_first_seen_order(self):
        self.ironic.add('node-0', host='host-0')
        self.ironic.add('node-1', host='host-1')
        result = self.undeploy([{'hostname': 'host-1'}, 'host-0', 'host-1',
                                {'hostname': 'host-0', 'role': 'Compute'}])
        self.assertEqual([('host-1', 'node-1'), ('host-0', 'node-0')],
                         self.undeployed(result))
        self.assertEqual(2, self.ironic.calls['put'])

    def test_duplicate_unknown_host_reported_once(self):
        result = self.undeploy(['nobody', {'hostname': 'nobody'}])
        self.assertEqual(['nobody'], result['not_found'])

    # Defect 6: transient errors

    def test_locked_node_is_waited_for(self):
        node = self.ironic.add('node-0', host='host-0')
        self.ironic.fail_next['put'] = [locked(node.id), locked(node.id)]
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertEqual(3, self.ironic.calls['put'])
        self.assertEqual(0, self.ironic.calls['get_node'])

    def test_transient_error_then_accepted(self):
        self.ironic.add('node-0', host='host-0')
        self.ironic.fail_next['put'] = [FakeResponse(503, 'Unavailable')]
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertEqual(2, self.ironic.calls['put'])

    def test_lost_answer_is_read_back(self):
        self.ironic.add('node-0', host='host-0')
        self.ironic.lose_answer = True
        result = self.undeploy(['host-0'])
        self.assertEqual([('host-0', 'node-0')], self.undeployed(result))
        self.assertReleased('node-0')
        # Sent again, refused (the node is deleting already), read back.
        self.assertEqual(2, self.ironic.calls['put'])
        self.assertEqual(1, self.ironic.calls['get_node'])

    def test_request_keeps_failing(self):
        self.ironic.add('node-0', host='host-0')
        self.ironic.add('node-1', host='host-1')
        self.ironic.fail_for['put']['uuid-node-0'] = ks_exc.ConnectFailure(
            'Connection refused')
        self.assertFailed(['host-0', 'host-1'],
                          'host-0: undeploy of node node-0 (uuid-node-0) '
                          '(active) failed: no answer from the API '
                          '(ConnectFailure): Connection refused',
                          '(undeployed: host-1)')
        self.assertEqual(1 + 2 + 1, self.ironic.calls['put'])
        self.assertEqual(1, self.ironic.calls['get_node'])
        self.assertEqual('active', self.ironic.node('node-0')
                         .provision_state)
        self.assertReleased('node-1')

    def test_request_refused_in_a_state_ironic_cannot_undeploy(self):
        self.ironic.add('node-0', state='clean failed', host='host-0')
        self.assertFailed(['host-0'], 'host-0: undeploy of node node-0 '
                          '(uuid-node-0) (clean failed) failed: undeploy of '
                          'node uuid-node-0: Client Error'
                          ' for url: http://ironic.test/v1/nodes/uuid-node-0/'
                          'states/provision, The requested action "deleted" '
                          'can not be performed')
        self.assertEqual(1, self.ironic.calls['put'])

    def test_read_back_fails_too(self):
        node = self.ironic.add('node-0', host='host-0')
        self.ironic.fail_next['put'] = [FakeResponse(400, 'nope')]
        self.ironic.fail_for['get_node'][node.id] = ks_exc.ConnectFailure(
            'refused')
        self.assertFailed(['host-0'], 'host-0: undeploy of node node-0 '
                          '(uuid-node-0) (active) failed: ', ', nope')

    def test_listing_failures_name_the_hosts(self):
        for call in ('allocations', 'nodes'):
            self.ironic.fail_next[call] = [ks_exc.ConnectFailure('refused')]
            self.assertFailed(['host-0', 'host-1'],
                              'cannot undeploy host-0, host-1: listing %s '
                              'failed: no answer from the API' % call)

    def test_poll_failure_names_the_hosts(self):
        self.ironic.add('node-0', host='host-0')
        self.ironic.add('node-1', state='available', host='host-1')
        errors = [None, sdk_exc.ForbiddenException('Token expired')]

        def nodes(fields=None, **filters):
            error = errors.pop(0) if errors else None
            if error is not None:
                self.ironic.calls['nodes'] += 1
                raise error
            return FakeBaremetal.nodes(self.ironic, fields, **filters)

        self.ironic.nodes = nodes
        self.assertFailed(['host-0', 'host-1'],
                          'host-0: cannot read the state of node node-0 '
                          '(uuid-node-0): Token expired',
                          '(undeployed: host-1)')
        # Started: the next run finds it undeployed.
        self.assertEqual('deleting', self.ironic.node('node-0')
                         .provision_state)
        self.assertReleased('node-1')

    def test_keystoneauth_error_on_delete_becomes_undeploy_error(self):
        self.ironic.allocate('host-0', state='error')
        self.ironic.fail_next['delete_allocation'] = [
            ks_exc.ConnectFailure('refused')] * 3
        self.assertFailed(['host-0'],
                          'host-0: cannot delete allocation alloc-1: no '
                          'answer from the API')
        self.assertEqual(3, self.ironic.calls['delete_allocation'])


class UniqueHostnamesTest(unittest.TestCase):

    def test_order_and_duplicates(self):
        self.assertEqual(['b', 'a', 'c'], undeploy.unique_hostnames(
            ['b', {'hostname': 'a'}, 'b', 'c', {'hostname': 'a'}]))

    def test_missing_hostnames(self):
        with self.assertRaises(exceptions.InvalidInput) as ctx:
            undeploy.unique_hostnames(['a', '', {'hostname': None}])
        self.assertEqual(["item 1 ('') has no hostname",
                          "item 2 ({'hostname': None}) has no hostname"],
                         ctx.exception.errors)


if __name__ == '__main__':
    unittest.main()
