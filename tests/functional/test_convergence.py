"""Runs converge: faults, killed executors, partial failures, races, secrets.

Each scenario breaks a run the way real runs break, then checks the
invariants with faults switched off (``assert_converged``): no
allocation without a deploying or active node of ours, no node with our
``instance_info`` but no allocation, and a second run with the same
input ends with every instance active and allocation names equal to
hostnames, and a third run writes nothing.
"""

import json
import os
import signal

from localcloud import faultproxy
from localcloud import mistral
from localcloud import process
from tests.functional import base
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import connection
from tripleo_baremetal import exceptions
from tripleo_baremetal.picking import reservation
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import sequence
from tripleo_baremetal.request import roles

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WB = 'tripleo.baremetal_deploy.v1.'
WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')
IMAGE = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}
SECRET = 'S3cret-pa55word-never-logged'
FAULT_SEEDS = (11, 12, 13)


def roles_file(computes=4, stack_role='Compute', **defaults):
    return [{'name': stack_role, 'count': computes,
             'defaults': dict({'image': IMAGE}, **defaults)}]


class InvariantsMixin:
    """Checks shared by the core and the workflow scenarios."""

    def writes(self):
        counts = self.ironic.request_counts()
        return sum(counts.get(method, 0) for method in WRITES)

    def assert_invariants(self, hostnames):
        """No allocation or instance_info of ours is left dangling."""
        nodes = {node.id: node
                 for node in self.conn.baremetal.nodes(details=True)}
        for alloc in self.conn.baremetal.allocations():
            self.assertIn(alloc.name, hostnames, alloc)
            self.assertEqual('active', alloc.state, alloc)
            node = nodes[alloc.node_id]
            self.assertIn(node.provision_state,
                          ('active', 'deploying', 'wait call-back'),
                          '%s: %s' % (alloc.name, node.name))
        for node in nodes.values():
            display = (node.instance_info or {}).get('display_name')
            if display:
                self.assertTrue(node.allocation_id,
                                '%s carries %s without an allocation'
                                % (node.name, display))

    def assert_all_active(self, hostnames):
        nodes = {node.id: node
                 for node in self.conn.baremetal.nodes(details=True)}
        by_host = {alloc.name: nodes[alloc.node_id]
                   for alloc in self.conn.baremetal.allocations()}
        self.assertEqual(sorted(hostnames), sorted(by_host))
        for host, node in by_host.items():
            self.assertEqual('active', node.provision_state, host)
            self.assertEqual(host, node.instance_info['display_name'])


class CoreFaultsTest(InvariantsMixin, base.IronicTestCase):
    """The core, through a proxy answering 503, dropping and delaying."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.proxy = faultproxy.FaultProxy(cls.ironic.url, share=0).start()
        cls.addClassCleanup(cls.proxy.stop)
        cls.conf = baremetal_conf.standalone_conf(
            auth_type='none', baremetal_endpoint_override=cls.proxy.url,
            poll_interval=0.1, poll_interval_max=0.5, api_retry_delay=0.05,
            check_local_images=False, allocation_timeout=60)

    def deploy(self, instances):
        conn = connection.get_connection(conf=self.conf)
        return sequence.deploy_instances(
            conn, instances, concurrency=4, timeout=120, conf=self.conf,
            ssh_keys=['ssh-ed25519 AAAA test'])

    def test_faults_on_reads_and_writes(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(5)])
        instances = roles.expand_roles(roles_file(4))['instances']
        hosts = [inst.hostname for inst in instances]
        outcomes = []
        for seed in FAULT_SEEDS:
            self.proxy.reseed(seed)
            self.proxy.share = 0.15
            self.proxy.enabled = True
            try:
                result = self.deploy(instances)
                outcomes.append(len(result['instances']))
            except exceptions.BaremetalError as exc:
                outcomes.append(str(exc))
            self.proxy.enabled = False
            self.assert_invariants(hosts)
        faults = self.proxy.stats()['faults']
        self.assertGreater(sum(faults.values()), 0, self.proxy.stats())
        # Faults off: the job is finished, then nothing is written.
        result = self.deploy(instances)
        self.assertEqual(sorted(hosts), sorted(
            inst.hostname for inst in result['instances']))
        self.assert_all_active(hosts)
        self.ironic.reset_request_counts()
        result = self.deploy(instances)
        self.assertEqual([], result['new_instances'])
        self.assertEqual(0, self.writes(), self.ironic.request_counts())

    def test_a_deploy_another_run_started_is_not_rolled_back(self):
        # Two runs of one request reserve the same node; the slower one
        # read the node while it was still available, then its first
        # write meets the faster run's deploy (409). It must report the
        # deploy as started, not undo it.
        self.enrol_nodes([{'name': 'race-0'}])
        instances = roles.expand_roles(roles_file(1))['instances']
        conn = connection.get_connection(conf=self.conf)
        picked = reservation.pick_nodes(conn, instances, conf=self.conf)
        reserved = picked['reservations'][0]
        node_id = reserved.node
        stale = conn.baremetal.get_node(node_id)
        deploy.deploy_node(conn, instances[0], reserved, conf=self.conf,
                           ssh_keys=['ssh-ed25519 AAAA test'])
        slower = deploy.deploy_node(_StaleFirstRead(conn, stale),
                                    instances[0], reserved, conf=self.conf,
                                    ssh_keys=['ssh-ed25519 AAAA test'])
        self.assertEqual(node_id, slower.node)
        node = self.conn.baremetal.get_node(node_id)
        self.assertTrue(node.allocation_id)
        self.assertIn(node.provision_state,
                      ('deploying', 'wait call-back', 'active'))
        self.conn.baremetal.wait_for_nodes_provision_state([node_id],
                                                           'active')


class _StaleFirstRead:
    """A connection whose first node read returns an older copy."""

    def __init__(self, conn, stale):
        self._conn = conn
        self.baremetal = _StaleBaremetal(conn.baremetal, stale)

    def __getattr__(self, name):
        return getattr(self._conn, name)


class _StaleBaremetal:

    def __init__(self, proxy, stale):
        self._proxy = proxy
        self._stale = [stale]

    def get_node(self, *args, **kwargs):
        if self._stale:
            return self._stale.pop()
        return self._proxy.get_node(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._proxy, name)


class WorkflowConvergenceTest(InvariantsMixin, base.ProxiedMistralTestCase):
    """deploy_roles on the real Mistral, broken in every way we know."""

    WORKBOOKS = [os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml')]
    MISTRAL_OPTIONS = {'tripleo_baremetal': {'check_local_images': False,
                                             'api_retry_delay': 0.05}}
    IRONIC_OPTIONS = {'fake': {'deploy_delay': 1}}

    def deploy_roles(self, roles, timeout=180, **inputs):
        return self.run_workflow(WB + 'deploy_roles',
                                 dict(roles=roles, **inputs),
                                 timeout=timeout)

    def converge(self, roles, hosts, **inputs):
        """Second and third runs: everything active, then no writes."""
        self.proxy.enabled = False
        execution = self.deploy_roles(roles, **inputs)
        self.assertExecutionSucceeded(execution)
        self.assertEqual(sorted(hosts), sorted(
            inst['hostname'] for inst in execution.output['instances']))
        self.assert_all_active(hosts)
        self.assert_invariants(hosts)
        self.ironic.reset_request_counts()
        execution = self.deploy_roles(roles, **inputs)
        self.assertExecutionSucceeded(execution)
        self.assertEqual([], execution.output['new_instances'])
        self.assertEqual(0, self.writes(), self.ironic.request_counts())
        return execution

    def hosts(self, roles, plan='overcloud'):
        return expanded_hosts(roles, plan)

    def test_faults_through_the_workbook(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(5)])
        roles = roles_file(4)
        hosts = self.hosts(roles)
        for seed in FAULT_SEEDS:
            self.proxy.reseed(seed)
            self.proxy.share = 0.15
            self.proxy.enabled = True
            execution = self.deploy_roles(roles)
            self.proxy.enabled = False
            if execution.state == 'SUCCESS':
                # Success means deployed: every host listed is active.
                self.assert_all_active(
                    [i['hostname'] for i in execution.output['instances']])
            self.assert_invariants(hosts)
        self.assertGreater(sum(self.proxy.stats()['faults'].values()), 0)
        self.converge(roles, hosts)

    def _kill_mistral_when(self, execution, task_name, state):
        """SIGKILL Mistral once ``task_name`` reaches ``state``."""
        client = self.mistral_client

        def reached():
            return any(task.name == task_name and task.state == state
                       for task in _all_tasks(client, execution.id))

        process.wait_until(reached, 120, interval=0.05,
                           what='%s to be %s' % (task_name, state))
        os.killpg(self.mistral.service.pid, signal.SIGKILL)
        self.mistral.service._proc.wait(timeout=30)

    def _fresh_mistral(self, name):
        """A new Mistral (own database) in place of the killed one."""
        old = self.mistral
        fresh = mistral.MistralService(
            self.base_dir, config=old.extra_config, start_timeout=120)
        fresh.dir = os.path.join(self.base_dir, name)
        fresh.config_file = os.path.join(fresh.dir, 'mistral.conf')
        fresh.log_file = os.path.join(fresh.dir, fresh.log_name)
        fresh.console_log = os.path.join(fresh.dir, 'console.log')
        os.makedirs(fresh.dir, exist_ok=True)
        fresh.start()
        type(self)._services.append(fresh)
        type(self).mistral = fresh
        type(self).mistral_client = fresh.client()
        for path in self.WORKBOOKS:
            with open(path) as stream:
                self.mistral_client.workbooks.create(stream.read())

    def test_mistral_killed_after_reserving_and_while_waiting(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(4)])
        roles = roles_file(3)
        hosts = self.hosts(roles)
        execution = self.mistral_client.executions.create(
            WB + 'deploy_roles', workflow_input={'roles': roles})
        self._kill_mistral_when(execution, 'pick_nodes', 'SUCCESS')
        self.assertEqual(3, len(list(self.conn.baremetal.allocations())))
        self._fresh_mistral('mistral-2')

        # Killed again while waiting for the (slow, fake) deploys.
        execution = self.mistral_client.executions.create(
            WB + 'deploy_roles', workflow_input={'roles': roles})
        self._kill_mistral_when(execution, 'wait_for_deploy', 'RUNNING')
        self._fresh_mistral('mistral-3')
        execution = self.converge(roles, hosts)
        # Nothing was deployed twice: three allocations, three nodes.
        self.assertEqual(3, len(list(self.conn.baremetal.allocations())))

    def _failing_roles(self):
        # The drive of one instance cannot be built: its meta data sets a
        # uuid that is not its node's, so deploy_node fails for it alone.
        roles = roles_file(3)
        roles[0]['instances'] = [{'hostname': 'overcloud-novacompute-3',
                                  'config_drive': {'meta_data': {
                                      'uuid': 'not-the-node'}}}]
        roles[0]['count'] = 4
        return roles

    def test_one_of_four_deploy_node_items_fails(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(4)])
        roles = self._failing_roles()
        hosts = self.hosts(roles)
        execution = self.deploy_roles(roles)
        self.assertEqual('ERROR', execution.state)
        self.assertIn('overcloud-novacompute-3', execution.state_info)
        self.assertIn('may not set uuid', execution.state_info)
        self.assert_invariants(hosts)
        self.assertNotIn('overcloud-novacompute-3', [
            alloc.name for alloc in self.conn.baremetal.allocations()])

        # Tolerated: the run succeeds and the environment lists only the
        # deployed hosts.
        execution = self.deploy_roles(roles, max_fail_percentage=25)
        self.assertExecutionSucceeded(execution)
        output = execution.output
        self.assertEqual(['overcloud-novacompute-3'],
                         [i['hostname'] for i in output['failed_instances']])
        self.assertIn('may not set uuid',
                      output['failed_instances'][0]['error'])
        params = output['environment']['parameter_defaults']
        self.assertEqual(3, params['ComputeCount'])
        self.assertNotIn('overcloud-novacompute-3',
                         params['HostnameMap'].values())
        self.assert_all_active([h for h in hosts
                                if h != 'overcloud-novacompute-3'])
        self.assert_invariants(hosts)

        # Fixed: the next run deploys exactly the missing host.
        del roles[0]['instances']
        execution = self.converge(roles, hosts)
        self.assertEqual(4, execution.output['environment'][
            'parameter_defaults']['ComputeCount'])

    def _run_at_once(self, inputs):
        client = self.mistral_client
        executions = [client.executions.create(WB + 'deploy_roles',
                                               workflow_input=given)
                      for given in inputs]
        ended = []
        for execution in executions:
            current = {}

            def finished(execution=execution, current=current):
                current['e'] = client.executions.get(execution.id)
                return current['e'].state in base.FINAL_STATES

            process.wait_until(finished, 180, interval=0.2,
                               what='concurrent execution to end')
            execution = current['e']
            execution.output = json.loads(execution.output or '{}')
            ended.append(execution)
        return ended

    def test_two_runs_at_once(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(6)])
        roles = roles_file(3)
        a, b = self._run_at_once([{'roles': roles, 'plan': 'stack-a'},
                                  {'roles': roles, 'plan': 'stack-b'}])
        self.assertExecutionSucceeded(a)
        self.assertExecutionSucceeded(b)
        hosts = self.hosts(roles, 'stack-a') + self.hosts(roles, 'stack-b')
        self.assert_all_active(hosts)

    def test_two_runs_at_once_with_too_few_nodes(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(4)])
        roles = roles_file(3)
        ended = self._run_at_once([{'roles': roles, 'plan': 'stack-a'},
                                   {'roles': roles, 'plan': 'stack-b'}])
        failed = [e for e in ended if e.state != 'SUCCESS']
        self.assertTrue(failed, [e.state for e in ended])
        for execution in failed:
            self.assertIn('node', execution.state_info)
        hosts = self.hosts(roles, 'stack-a') + self.hosts(roles, 'stack-b')
        self.assert_invariants(hosts)
        for execution in ended:
            if execution.state == 'SUCCESS':
                self.assert_all_active([i['hostname'] for i in
                                        execution.output['instances']])

    def test_the_same_run_twice_at_once(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(4)])
        roles = roles_file(3)
        ended = self._run_at_once([{'roles': roles}, {'roles': roles}])
        for execution in ended:
            self.assertExecutionSucceeded(execution)
        hosts = self.hosts(roles)
        self.assert_all_active(hosts)
        self.assert_invariants(hosts)

    def test_secrets_stay_out_of_outputs_and_actions(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(2)])
        roles = roles_file(2, config_drive={
            'cloud_config': {'chpasswd': {'list': 'root:%s' % SECRET}},
            'meta_data': {'token': SECRET}})
        execution = self.deploy_roles(roles)
        self.assertExecutionSucceeded(execution)
        self.assertNotIn(SECRET, json.dumps(execution.output))
        client = self.mistral_client
        for wf_execution in client.executions.list():
            wf_execution = client.executions.get(wf_execution.id)
            self.assertNotIn(SECRET, str(wf_execution.output),
                             wf_execution.workflow_name)
        # The expansion reads the roles file the caller passed and returns
        # the drives apart; deploy_node builds the drive from them.
        allowed = {('tripleo.baremetal_deploy.expand_roles', 'input'),
                   ('tripleo.baremetal_deploy.expand_roles', 'output'),
                   ('tripleo.baremetal_deploy.deploy_node', 'input'),
                   ('tripleo.baremetal_deploy.build_configdrive', 'input')}
        checked = 0
        for action in client.action_executions.list():
            action = client.action_executions.get(action.id)
            for field in ('input', 'output'):
                if (action.name, field) in allowed:
                    continue
                checked += 1
                self.assertNotIn(SECRET, str(getattr(action, field)),
                                 '%s %s' % (action.name, field))
        self.assertGreater(checked, 6)
        for task in _all_tasks(client, execution.id):
            task = client.tasks.get(task.id)
            self.assertNotIn(SECRET, str(task.published), task.name)


def expanded_hosts(roles_data, plan='overcloud'):
    return [inst.hostname for inst in
            roles.expand_roles(roles_data, stackname=plan)['instances']]


def _all_tasks(client, execution_id):
    """Tasks of an execution and of its sub-workflows."""
    tasks = list(client.tasks.list(workflow_execution_id=execution_id))
    for execution in client.executions.list():
        if getattr(execution, 'task_execution_id', None) in {
                task.id for task in tasks}:
            tasks += _all_tasks(client, execution.id)
    return tasks
