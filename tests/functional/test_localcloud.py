"""Smoke tests of the embedded services the other functional tests use."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from localcloud import cleanup
from localcloud import exceptions
from localcloud import ironic
from localcloud import mistral
from localcloud import postgres
from localcloud import process
from tests.functional import base

ECHO_WORKFLOW = """
version: '2.0'
smoke_echo:
  input:
    - message
  output:
    said: <% $.said %>
  tasks:
    say:
      action: std.echo output=<% $.message %>
      publish:
        said: <% task().result %>
"""

FAILING_WORKFLOW = """
version: '2.0'
smoke_fail:
  tasks:
    break:
      action: std.fail error_data="broken on purpose"
"""


def _stat_fields(pid):
    """The fields of ``/proc/<pid>/stat`` after the command (None: gone).

    The command, in parentheses, may hold spaces: the fields start after
    its last parenthesis, with the state first, then the parent PID.
    """
    try:
        with open('/proc/%d/stat' % pid) as stream:
            stat = stream.read()
    except FileNotFoundError:
        return None
    return stat[stat.rfind(')') + 2:].split()


def alive(pid):
    """Whether a process exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in 'ZX'


def wait_for(predicate, timeout=10):
    return process.wait_until(predicate, timeout, interval=0.1,
                              what=getattr(predicate, '__name__', 'it'))


def parent(pid):
    """The parent PID of a process (None once it is gone)."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


class ProcessTest(unittest.TestCase):
    """The process helpers, without any real service."""

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='tripleo-baremetal-')
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def test_wait_until_times_out_with_details(self):
        started = time.monotonic()
        with self.assertRaisesRegex(exceptions.WaitTimeout,
                                    'waiting for nothing\nsome details'):
            process.wait_until(lambda: False, 0.3, interval=0.05,
                               what='nothing',
                               details=lambda: 'some details')
        self.assertLess(time.monotonic() - started, 2)
        self.assertEqual(42, process.wait_until(lambda: 42, 1))

    def test_exited_service_error_has_log_tail(self):
        service = process.Service(
            'broken', ['sh', '-c', 'echo "cannot frobnicate"; exit 3'],
            os.path.join(self.dir, 'broken.log'))
        service.start()
        self.addCleanup(service.stop)
        with self.assertRaisesRegex(exceptions.ServiceError,
                                    '(?s)broken exited with code 3.*'
                                    'cannot frobnicate'):
            process.wait_until(service.check, 10, what='the crash')

    def test_stop_kills_what_ignores_the_signal(self):
        # A leader that ignores SIGTERM and a child in its group.
        service = process.Service(
            'stubborn', ['sh', '-c', 'trap "" TERM; sleep 60 & wait'],
            os.path.join(self.dir, 'stubborn.log'), stop_timeout=0.5)
        service.start()
        pids = wait_for(lambda: len(service.pids()) == 2 and service.pids())
        service.stop()
        self.assertEqual([], [pid for pid in pids if alive(pid)])

    def test_atexit_stops_forgotten_services(self):
        script = textwrap.dedent("""
            from localcloud import process
            service = process.Service('sleeper', ['sleep', '60'], %r)
            service.start()
            print(service.pid)
        """ % os.path.join(self.dir, 'sleeper.log'))
        result = subprocess.run([sys.executable, '-c', script],
                                capture_output=True, text=True, timeout=30,
                                check=True)
        self.assertFalse(alive(int(result.stdout)))


class ServiceLifecycleTest(unittest.TestCase):
    """Every service stops, leaving no process behind."""

    def test_stop_leaves_no_process(self):
        base_dir = tempfile.mkdtemp(prefix='tripleo-baremetal-')
        self.addCleanup(shutil.rmtree, base_dir, ignore_errors=True)
        cluster = postgres.PostgresCluster(base_dir)
        ironic_service = ironic.IronicService(
            base_dir, 'sqlite:///%s/ironic.sqlite' % base_dir)
        mistral_service = mistral.MistralService(base_dir)
        services = [mistral_service, ironic_service, cluster]
        for service in services:
            self.addCleanup(service.stop)

        started = time.monotonic()
        mistral_service.start(wait=False)
        cluster.start()
        ironic_service.start(wait=False)
        ironic_service.wait_ready()
        mistral_service.wait_ready()
        print('PostgreSQL, Ironic (SQLite), Mistral ready in %.1f s'
              % (time.monotonic() - started))

        pids = {}
        for service in services:
            pids[service.service.name] = service.service.pids()
        # Ironic forks its service worker, PostgreSQL its backends.
        self.assertGreaterEqual(len(pids['ironic']), 2, pids)
        self.assertGreaterEqual(len(pids['postgres']), 3, pids)
        self.assertEqual(1, len(pids['mistral']), pids)

        for service in services:
            started = time.monotonic()
            service.stop()
            print('%s stopped in %.1f s'
                  % (service.service.name, time.monotonic() - started))
        left = {name: [pid for pid in group if alive(pid)]
                for name, group in pids.items()}
        self.assertEqual({'ironic': [], 'mistral': [], 'postgres': []},
                         left)


class IronicSmokeTest(base.IronicTestCase):

    def test_fake_hardware_listed(self):
        drivers = self.conn.baremetal.drivers()
        self.assertIn('fake-hardware', [driver.name for driver in drivers])

    def test_enrol_allocate_and_count_requests(self):
        enrolled = self.enrol_nodes([
            {'name': 'node-%d' % index,
             'capabilities': {'profile': 'control'},
             'traits': ['CUSTOM_GPU'], 'local_gb': 50}
            for index in range(3)])
        self.assertEqual(['node-0', 'node-1', 'node-2'],
                         [node.name for node in enrolled])
        for node in enrolled:
            self.assertEqual('available', node.provision_state)
            self.assertEqual('power off', node.power_state)
            self.assertEqual('baremetal', node.resource_class)
            self.assertEqual('profile:control,boot_option:local',
                             node.properties['capabilities'])
            self.assertEqual(50, node.properties['local_gb'])
            self.assertEqual(['CUSTOM_GPU'], node.traits)
        macs = {port.address for port in self.conn.baremetal.ports()}
        self.assertEqual(3, len(macs))

        self.ironic.reset_request_counts()
        allocation = self.conn.baremetal.create_allocation(
            name='overcloud-controller-0', resource_class='baremetal',
            candidate_nodes=[enrolled[1].id])
        allocation = wait_for(lambda: (
            self.conn.baremetal.get_allocation(allocation.id).state
            == 'active') and self.conn.baremetal.get_allocation(
                allocation.id))
        self.assertEqual(enrolled[1].id, allocation.node_id)

        counts = self.ironic.request_counts()
        self.assertEqual(1, counts['POST'], counts)
        self.assertEqual(0, counts['PATCH'] + counts['PUT']
                         + counts['DELETE'], counts)
        by_path = self.ironic.request_counts(by_path=True)
        self.assertEqual(1, by_path['POST /v1/allocations'], by_path)
        self.assertGreaterEqual(by_path['GET /v1/allocations/*'], 2,
                                by_path)

    def test_cleanup_removes_active_and_orphaned(self):
        node, spare = self.enrol_nodes([{'name': 'active'},
                                        {'name': 'spare'}])
        self.conn.baremetal.create_allocation(name='busy',
                                              candidate_nodes=[node.id],
                                              resource_class='baremetal')
        self.conn.baremetal.set_node_provision_state(node, 'active')
        wait_for(lambda: self.conn.baremetal.get_node(
            node.id).provision_state == 'active')
        # An allocation nobody can satisfy ends in "error", node-less.
        self.conn.baremetal.create_allocation(name='impossible',
                                              resource_class='no-such-rc')

        cleanup.delete_all_nodes(self.conn, timeout=30)
        self.assertEqual([], list(self.conn.baremetal.nodes()))
        self.assertEqual([], list(self.conn.baremetal.allocations()))


class SplitIronicTest(base.IronicTestCase):
    """Ironic as an undercloud runs it: conductor, API with 2 workers.

    The two processes talk JSON-RPC; the API workers share one
    listening socket (localcloud.ironic_api_launcher).
    """

    IRONIC_API_WORKERS = 2

    def test_deploy_over_json_rpc_counted_from_the_api_log(self):
        # manage and provide (enrol_nodes) already go through JSON-RPC.
        node, = self.enrol_nodes([{'name': 'split-0'}])
        self.assertEqual('available', node.provision_state)

        self.ironic.reset_request_counts()
        self.conn.baremetal.set_node_provision_state(node, 'active')
        wait_for(lambda: self.conn.baremetal.get_node(
            node.id).provision_state == 'active', timeout=60)

        by_path = self.ironic.request_counts(by_path=True)
        self.assertEqual(1, by_path['PUT /v1/nodes/*/states/provision'],
                         by_path)
        self.assertGreaterEqual(by_path['GET /v1/nodes/*'], 1, by_path)
        self.assertEqual([], [req for req in self.ironic.requests()
                              if req.status.startswith('5')])
        with open(self.ironic.log_file, errors='replace') as stream:
            conductor_log = stream.read()
        # The conductor deployed; the API, not it, logged the requests.
        self.assertIn('Node %s moved to provision state "active"' % node.id,
                      conductor_log)
        self.assertNotIn(' ironic.api [', conductor_log)

    def test_processes_and_stop(self):
        # An Ironic of its own (on the class's PostgreSQL), to stop.
        base_dir = os.path.join(self.base_dir, 'stopped')
        os.mkdir(base_dir)
        split = ironic.IronicService(
            base_dir, self.postgres.create_database('ironic_stopped'),
            api_workers=2)
        self.addCleanup(split.stop)
        split.start()
        self.assertIsNotNone(split.rpc_port)

        conductor, api = split.services
        self.assertEqual(['ironic-conductor', 'ironic-api'],
                         [conductor.name, api.name])
        pids = split.pids()
        # Conductor (and its service process), API and its workers.
        self.assertGreaterEqual(len(pids), 3, pids)
        self.assertIn(conductor.pid, pids)
        workers = [pid for pid in pids if parent(pid) == api.pid]
        self.assertEqual(2, len(workers), pids)
        self.assertTrue(set(conductor.pids()).isdisjoint(api.pids()))

        split.stop()
        self.assertEqual([], [pid for pid in pids if alive(pid)])
        self.assertEqual([], split.pids())


class MistralSmokeTest(base.MistralTestCase):

    IRONIC_OPTIONS = {'fake': {'deploy_delay': 1}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mistral_client.workflows.create(ECHO_WORKFLOW)
        cls.mistral_client.workflows.create(FAILING_WORKFLOW)

    def test_echo_workflow(self):
        execution = self.run_workflow('smoke_echo', {'message': 'hello'})
        self.assertExecutionSucceeded(execution)
        self.assertEqual({'said': 'hello'}, execution.output)

    def test_failing_workflow(self):
        execution = self.run_workflow('smoke_fail', {})
        self.assertEqual('ERROR', execution.state)
        description = self.describe_execution(execution)
        self.assertIn('task break: ERROR', description)
        self.assertIn('broken on purpose', description)

    def test_ironic_options_and_cleanup_of_a_deploying_node(self):
        node, = self.enrol_nodes([{'name': 'slow'}])
        self.conn.baremetal.set_node_provision_state(node, 'active')
        # deploy_delay keeps the fake deploy (and the node's lock) ~2 s.
        wait_for(lambda: self.conn.baremetal.get_node(
            node.id).provision_state in ('deploying', 'wait call-back'))
        # tearDown has to wait for the lock, then delete the node.
