"""Undeploy against a real (fake-hardware) Ironic: the awkward cases."""

from openstack import exceptions as sdk_exc

from tests.functional import base
from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions
from tripleo_baremetal.picking import reservation
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import sequence
from tripleo_baremetal.provisioning import undeploy
from tripleo_baremetal.request import roles

IMAGE = 'http://images.example.com/overcloud.raw'
PROVISION = 'PUT /v1/nodes/*/states/provision'
WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')


class UndeployTest(base.IronicTestCase):

    # Fake deploy steps take a second each: deploys and undeploys are
    # slow enough to be caught half-way.
    IRONIC_OPTIONS = {'fake': {'deploy_delay': 1}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.conf = baremetal_conf.standalone_conf(
            poll_interval=0.1, poll_interval_max=0.5, undeploy_timeout=60,
            api_retry_delay=0.1)
        # The code under test gets its connection with transport retries,
        # as connection.get_connection makes them.
        cls.core = api.install_retries(cls.ironic.connection(), retries=3,
                                       delay=0.1, timeout=30)

    def instances(self, count=1):
        return roles.expand_roles([{
            'name': 'Compute', 'count': count,
            'defaults': {'profile': 'compute'}}], default_image=IMAGE)[
            'instances']

    def enrol(self, count):
        return self.enrol_nodes([{'name': 'node-%d' % i,
                                  'capabilities': {'profile': 'compute'}}
                                 for i in range(count)])

    def deploy(self, instances):
        return sequence.deploy_instances(self.core, instances, timeout=60,
                                         conf=self.conf)

    def undeploy(self, items):
        return undeploy.undeploy_instances(self.core, items, conf=self.conf)

    def assertReleased(self, node_id):
        node = self.conn.baremetal.get_node(node_id)
        self.assertEqual('available', node.provision_state, node.name)
        self.assertIsNone(node.allocation_id, node.name)
        self.assertIsNone(node.instance_id, node.name)
        self.assertFalse({key: value for key, value
                          in (node.instance_info or {}).items()
                          if key != 'traits'}, node.name)

    def writes(self):
        counts = self.ironic.request_counts()
        return {method: counts[method] for method in WRITES
                if counts.get(method)}

    def test_undeploy_while_deploying(self):
        self.enrol(1)
        instance = self.instances()[0]
        reserved = reservation.pick_nodes(self.core, [instance])[
            'reservations'][0]
        deploy.deploy_node(self.core, instance, reserved, conf=self.conf)
        self.assertEqual('deploying', self.conn.baremetal.get_node(
            reserved.node).provision_state)
        self.ironic.reset_request_counts()
        result = self.undeploy([instance.hostname])
        # Waited for the deploy to end, then one provision request; no
        # VIF call, nothing left to delete.
        counts = self.ironic.request_counts(by_path=True)
        self.assertEqual(1, counts[PROVISION], counts)
        self.assertEqual(1, counts['GET /v1/allocations'], counts)
        self.assertEqual({'PUT': 1}, self.writes())
        self.assertNotIn('GET /v1/nodes/*/vifs', counts)
        self.assertEqual([(instance.hostname, reserved.node,
                           'available')],
                         [(item.hostname, item.node,
                           item.provision_state)
                          for item in result['undeployed']])
        self.assertReleased(reserved.node)
        self.assertEqual([], list(self.conn.baremetal.allocations()))

    def test_leftover_display_name_on_available_node(self):
        node, = self.enrol(1)
        hostname = self.instances()[0].hostname
        self.conn.baremetal.patch_node(node, [
            {'op': 'add', 'path': '/instance_info/display_name',
             'value': hostname},
            {'op': 'add', 'path': '/instance_info/image_source',
             'value': IMAGE}])
        self.ironic.reset_request_counts()
        result = self.undeploy([hostname])
        self.assertEqual({'undeployed': [], 'not_found': [hostname]}, result)
        self.assertReleased(node.id)
        self.assertEqual({'PATCH': 1}, self.writes())

    def test_same_host_twice_is_undeployed_once(self):
        self.enrol(2)
        instances = self.instances(2)
        self.deploy(instances)
        self.ironic.reset_request_counts()
        first = instances[0]
        result = self.undeploy([first, first.hostname, first.to_dict()])
        self.assertEqual([first.hostname],
                         [item.hostname for item in result['undeployed']])
        self.assertEqual({'PUT': 1}, self.writes())
        self.assertReleased(result['undeployed'][0].node)
        self.assertEqual([instances[1].hostname],
                         [a.name for a in self.conn.baremetal.allocations()])

    def test_one_allocation_cannot_be_deleted(self):
        self.enrol(2)
        deployed, reserved = self.instances(2)
        self.deploy([deployed])
        # The second host only got a node: a run died after picking.
        picked = reservation.pick_nodes(self.core, [reserved])[
            'reservations'][0]
        real_delete = self.core.baremetal.delete_allocation

        def delete_allocation(ident, *args, **kwargs):
            if ident == picked.allocation:
                raise sdk_exc.ConflictException('simulated refusal')
            return real_delete(ident, *args, **kwargs)

        self.core.baremetal.delete_allocation = delete_allocation
        try:
            with self.assertRaises(exceptions.UndeployError) as ctx:
                self.undeploy([deployed, reserved])
        finally:
            del self.core.baremetal.delete_allocation
        message = str(ctx.exception)
        self.assertIn('%s: cannot delete allocation %s of node %s (%s): '
                      'simulated refusal' % (
                          reserved.hostname, picked.allocation,
                          picked.node_name, picked.node), message)
        self.assertIn('(undeployed: %s)' % deployed.hostname, message)
        self.assertEqual([reserved.hostname],
                         [a.name for a in self.conn.baremetal.allocations()])
        # The next run with the same input finishes the job.
        result = self.undeploy([deployed, reserved])
        self.assertEqual([reserved.hostname],
                         [item.hostname for item in result['undeployed']])
        self.assertEqual([deployed.hostname], result['not_found'])
        self.assertEqual([], list(self.conn.baremetal.allocations()))
        for node in self.conn.baremetal.nodes():
            self.assertReleased(node.id)

    def test_protected_node_refused(self):
        self.enrol(2)
        protected, other = self.instances(2)
        result = self.deploy([protected, other])
        node_of = {item.hostname: item.node
                   for item in result['instances']}
        self.conn.baremetal.update_node(node_of[protected.hostname],
                                        is_protected=True,
                                        protected_reason='production')
        with self.assertRaises(exceptions.UndeployError) as ctx:
            self.undeploy([protected, other])
        node = self.conn.baremetal.get_node(node_of[protected.hostname])
        self.assertIn('%s: node %s (%s) is protected' % (
            protected.hostname, node.name, node.id), str(ctx.exception))
        self.assertIn('(undeployed: %s)' % other.hostname,
                      str(ctx.exception))
        self.assertEqual('active', node.provision_state)
        self.assertReleased(node_of[other.hostname])
        self.assertEqual([protected.hostname],
                         [a.name for a in self.conn.baremetal.allocations()])
