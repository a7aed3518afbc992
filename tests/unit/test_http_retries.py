"""Which layer retries what: the transport (reads) and the caller (writes)."""

from tests.unit import http_base as base
from tests.unit.http_base import ironic
from tripleo_baremetal import actions

LOCKED = base.ironic_error('Node node-0 is locked by host conductor-1, '
                           'please retry after the current operation is '
                           'completed.', 409)
UNAVAILABLE = base.ironic_error('Service Unavailable', 503)


def converged():
    """One active host with its allocation."""
    return ([base.node('node-0', 'n0', 'active', allocation='alloc-0',
                       instance_info={'display_name': 'compute-0'})],
            [base.allocation('alloc-0', 'compute-0', 'node-0')])


class TransportRetryTest(base.HttpTestCase):
    """Through the retrying adapter ``api.install_retries`` mounts."""

    WIRE = True

    def setUp(self):
        super().setUp()
        nodes, self.allocs = converged()
        self.register_nodes(nodes)

    def test_transient_503_on_a_get_is_retried_by_the_transport(self):
        # api.py: "every read (GET, HEAD) and every DELETE is retried with
        # back-off on HTTP 500/502/503/504 [...] by urllib3's Retry".
        self.register('GET', 'allocations', responses=[
            {'json': UNAVAILABLE, 'status_code': 503},
            {'json': {'allocations': self.allocs}}])

        result = self.run_action(actions.CheckExistingInstances(
            [base.instance('compute-0')]))

        self.assertEqual(['compute-0'], [inst['hostname']
                                         for inst in result['instances']])
        listing = ironic('GET', 'allocations', fields=base.Fields('name'))
        self.assert_calls(base.ironic_discovery() + [
            listing, listing,
            ironic('GET', 'nodes', fields=base.Fields('uuid')),
        ])

    def test_retries_are_bounded_by_api_retries(self):
        # conf.py api_retries: "How many times a request that met a
        # transient error [...] is retried" (2 in these tests).
        self.register('GET', 'allocations', json=UNAVAILABLE, status=503)

        result = actions.CheckExistingInstances(
            [base.instance('compute-0')]).run(None)

        self.assertIn('503', result.error)
        listing = ironic('GET', 'allocations', fields=base.Fields())
        self.assert_calls(base.ironic_discovery() + [listing] * 3)

    def test_503_on_a_provision_request_is_not_retried_by_the_transport(
            self):
        # api.py: writes are not the transport's to repeat (only
        # IDEMPOTENT_METHODS are); the caller decides.
        self.register_allocations(self.allocs)
        self.register('PUT', 'nodes/node-0/states/provision', responses=[
            {'json': UNAVAILABLE, 'status_code': 503},
            {'status_code': 202}])
        self.register_nodes(
            [base.node('node-0', 'n0', 'active', allocation='alloc-0')],
            [base.node('node-0', 'n0', 'available')])

        self.run_action(actions.UndeployInstance(hostname='compute-0',
                                                 timeout=30))

        # One PUT per try of the caller (api.retry), none by urllib3.
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields()),
            ironic('GET', 'nodes', fields=base.Fields()),
            ironic('PUT', 'nodes/node-0/states/provision'),
            ironic('PUT', 'nodes/node-0/states/provision'),
            ironic('GET', 'nodes', fields=base.Fields()),
        ])


class CallerRetryTest(base.HttpTestCase):
    """HTTP 409 "node is locked" on a write: waited out by the caller."""

    def test_locked_node_on_instance_info_patch_is_retried(self):
        # api.py: "the call (retry): writes whose repetition is harmless
        # (a JSON patch that sets keys [...]) are retried by the caller,
        # which also waits out HTTP 409 'node is locked'". The SDK's own
        # 409 retries are off (connection.py): one PATCH per try.
        node = base.node('node-0', 'n0', allocation='alloc-0')
        self.register('GET', 'nodes/node-0', node)
        self.register('PATCH', 'nodes/node-0', responses=[
            {'json': LOCKED, 'status_code': 409}, {'json': node}])
        self.register('PUT', 'nodes/node-0/states/provision', status=202)

        result = self.run_action(actions.DeployNode(
            base.instance('compute-0'), 'node-0', allocation='alloc-0'))

        self.assertNotIn('error', result)
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'nodes/node-0'),
            ironic('PATCH', 'nodes/node-0'),
            ironic('PATCH', 'nodes/node-0'),
            ironic('PUT', 'nodes/node-0/states/provision'),
        ])

    def test_locked_node_on_undeploy_request_is_retried(self):
        self.register_allocations([base.allocation('alloc-0', 'compute-0',
                                                   'node-0')])
        self.register_nodes(
            [base.node('node-0', 'n0', 'active', allocation='alloc-0')],
            [base.node('node-0', 'n0', 'available')])
        self.register('PUT', 'nodes/node-0/states/provision', responses=[
            {'json': LOCKED, 'status_code': 409}, {'status_code': 202}])

        result = self.run_action(actions.UndeployInstance(
            hostname='compute-0', timeout=30))

        self.assertEqual(['compute-0'], [item['hostname']
                                         for item in result['undeployed']])
        self.assert_calls(base.ironic_discovery() + [
            ironic('GET', 'allocations', fields=base.Fields()),
            ironic('GET', 'nodes', fields=base.Fields()),
            ironic('PUT', 'nodes/node-0/states/provision'),
            ironic('PUT', 'nodes/node-0/states/provision'),
            ironic('GET', 'nodes', fields=base.Fields()),
        ])
