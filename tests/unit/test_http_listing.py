"""Listings read as JSON (``listing``): the SDK's request, plain records."""

from openstack import exceptions as sdk_exc

from tests.unit import http_base as base
from tests.unit.http_base import ironic
from tripleo_baremetal import connection
from tripleo_baremetal import listing

FIELDS = ('uuid', 'name', 'state', 'last_error', 'node_uuid')


class AllocationListingTest(base.HttpTestCase):

    def allocations(self):
        return listing.allocations(connection.get_connection(), FIELDS)

    def test_records_carry_the_sdk_names(self):
        self.register_allocations([
            base.allocation('alloc-0', 'compute-0', 'node-0'),
            base.allocation('alloc-1', 'compute-1', state='error',
                            last_error='no node')])

        first, second = self.allocations()

        self.assertEqual(('alloc-0', 'compute-0', 'active', 'node-0', None),
                         (first.id, first.name, first.state, first.node_id,
                          first.last_error))
        self.assertEqual(('error', 'no node', None),
                         (second.state, second.last_error, second.node_id))
        # Only what was asked for: not the listing's other keys.
        self.assertRaises(AttributeError, getattr, first, 'candidate_nodes')
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=','.join(FIELDS))])
        self.assertEqual(
            'baremetal 1.52', self.requests_to('GET', 'allocations')[0]
            .headers['OpenStack-API-Version'])

    def test_next_links_are_followed_on_our_endpoint(self):
        # Ironic writes its own host into ``next``; only the query is used.
        self.register('GET', 'allocations', responses=[
            {'json': {'allocations': [base.allocation('a0', 'h0')],
                      'next': 'http://elsewhere:6385/v1/allocations?'
                              'limit=1&marker=a0&fields=uuid'}},
            {'json': {'allocations': [base.allocation('a1', 'h1')]}}])

        self.assertEqual(['a0', 'a1'],
                         [alloc.id for alloc in self.allocations()])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=','.join(FIELDS)),
            ironic('GET', 'allocations', limit='1', marker='a0',
                   fields='uuid')])

    def test_same_page_twice_is_an_error_not_a_loop(self):
        self.register('GET', 'allocations', json={
            'allocations': [base.allocation('a0', 'h0')],
            'next': base.IRONIC + '/v1/allocations?marker=a0'})

        self.assertRaisesRegex(sdk_exc.SDKException, 'same next page',
                               self.allocations)

    def test_error_answer_raises_the_sdk_exception(self):
        self.register('GET', 'allocations', status=503,
                      json=base.ironic_error('down', 503))

        self.assertRaises(sdk_exc.HttpException, self.allocations)


class NodeListingTest(base.HttpTestCase):

    def test_records_carry_the_sdk_names(self):
        self.register_nodes([base.node('node-0', 'n0',
                                       provision_state='active')])

        node, = listing.nodes(connection.get_connection(),
                              ('uuid', 'name', 'provision_state',
                               'maintenance', 'instance_uuid', 'protected'),
                              provision_state='active')

        self.assertEqual(('node-0', 'n0', 'active', False, False),
                         (node.id, node.name, node.provision_state,
                          node.is_maintenance, node.is_protected))
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes', provision_state='active',
                   fields='uuid,name,provision_state,maintenance,'
                          'instance_uuid,protected')])
