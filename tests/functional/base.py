"""Base classes of the functional tests: real services on 127.0.0.1.

Each test class gets its own PostgreSQL, Ironic (fake hardware) and, for
MistralTestCase, Mistral (for HeatTestCase also Heat), started once in
setUpClass and stopped by class clean-ups, under one temporary directory
removed at the end. Tests in a class share the services; tearDown
deletes every node and allocation so that each test starts from an
empty Ironic.

When a test fails, the last lines of the services' logs are attached to
its error (as exception notes on Python 3.11+); failures to start or
time-outs carry them in their message.
"""

import json
import logging
import os
import shutil
import tempfile
import time
import unittest
from unittest import mock

from heatclient import exc as heat_exceptions

from localcloud import cleanup
from localcloud import exceptions
from localcloud import faultproxy
from localcloud import heat
from localcloud import inifile
from localcloud import ironic
from localcloud import mistral
from localcloud import nodes
from localcloud import postgres
from localcloud import process
from tripleo_baremetal.cli import follow
from tripleo_baremetal.common import images

LOG = logging.getLogger(__name__)

#: Log lines attached to a failed test, per log.
FAILURE_LOG_LINES = 20

FINAL_STATES = ('SUCCESS', 'ERROR', 'CANCELLED')


def allow_temp_images(test_class):
    """Let file:// images in the temporary directory through, for a class.

    The test images live there; an operator would list such a directory
    in file_url_allowed_paths (the expansion's default is Ironic's).
    """
    patcher = mock.patch.object(
        images, 'FILE_URL_ALLOWED_PATHS',
        ('/var/lib/ironic', tempfile.gettempdir()))
    patcher.start()
    test_class.addClassCleanup(patcher.stop)


#: The small files ``local_images`` writes.
IMAGE_FILES = ('whole.raw', 'part.qcow2', 'vmlinuz', 'initrd')


def local_images(test_class):
    """A temporary directory of small image files, for a class.

    Allowed as ``file://`` images (``allow_temp_images``) and removed
    when the class ends. Ironic's fake deploy reads none of them; the
    checks before the deploy (local files exist, checksums) do.
    """
    allow_temp_images(test_class)
    directory = tempfile.mkdtemp(prefix='tripleo-baremetal-images-')
    test_class.addClassCleanup(shutil.rmtree, directory, ignore_errors=True)
    for name in IMAGE_FILES:
        with open(os.path.join(directory, name), 'wb') as stream:
            stream.write(name.encode() * 100)
    return directory


class IronicTestCase(unittest.TestCase):
    """Tests against a real Ironic on PostgreSQL, shared by the class.

    ``cls.ironic`` is the IronicService, ``cls.conn`` an openstacksdk
    Connection to it (HTTP 409 not retried), ``cls.postgres`` the
    PostgresCluster and ``cls.base_dir`` the class's temporary directory.
    """

    #: Extra ironic.conf options, e.g. ``{'fake': {'deploy_delay': 1}}``.
    IRONIC_OPTIONS = {}
    #: None: one Ironic process; N: conductor and API with N workers.
    IRONIC_API_WORKERS = None
    #: Seconds allowed to enrol nodes (None: depends on the count).
    ENROL_TIMEOUT = None
    #: Seconds allowed to delete every node and allocation after a test.
    CLEANUP_TIMEOUT = 60

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base_dir = tempfile.mkdtemp(prefix='tripleo-baremetal-')
        # Registered first, so it runs after the services are stopped.
        cls.addClassCleanup(shutil.rmtree, cls.base_dir, ignore_errors=True)
        # Ports are chosen now, so that every URL is known before anything
        # starts and services can start side by side.
        cls.postgres = postgres.PostgresCluster(cls.base_dir,
                                                port=process.free_port())
        # PostgreSQL stops after its clients; those stop side by side
        # (Ironic takes ~2 s). Both also after a failure in setUpClass.
        cls.addClassCleanup(cls.postgres.stop)
        cls._services = []
        cls.addClassCleanup(process.stop_all, cls._services)
        cls.ironic = ironic.IronicService(
            cls.base_dir, cls.postgres.url('ironic'),
            config=cls.IRONIC_OPTIONS, port=process.free_port(),
            api_workers=cls.IRONIC_API_WORKERS)
        started = time.monotonic()
        cls._start_services()
        LOG.info('Services of %s started in %.1f s', cls.__name__,
                 time.monotonic() - started)
        cls.conn = cls.ironic.connection()

    @classmethod
    def _start_services(cls):
        """Start PostgreSQL and Ironic; subclasses add their services."""
        cls.postgres.start()
        cls.postgres.create_database('ironic')
        cls._services.append(cls.ironic)
        cls.ironic.start()

    @classmethod
    def service_logs(cls, lines=FAILURE_LOG_LINES):
        """The last lines of the logs of the class's services."""
        return cls.ironic.log_tail(lines, console=False)

    def tearDown(self):
        cleanup.delete_all_nodes(self.conn, timeout=self.CLEANUP_TIMEOUT)
        super().tearDown()

    def _callTestMethod(self, method):
        # The only place where a test's own exception can still be
        # annotated before unittest records it: add the services' logs.
        try:
            super()._callTestMethod(method)
        except Exception as exc:
            if hasattr(exc, 'add_note'):
                exc.add_note(self.service_logs())
            raise

    def enrol_nodes(self, specs):
        """Enrol fake nodes (see localcloud.nodes.enrol_nodes).

        :returns: the nodes, available and powered off, in spec order.
        """
        return nodes.enrol_nodes(self.conn, specs,
                                 timeout=self.ENROL_TIMEOUT)

    def make_deploys_fail(self, trait):
        """Make fake deploys of nodes with ``trait`` fail in Ironic.

        A deploy template holding the ``deploy.deploy`` step at priority 0
        leaves the fake driver no deploy step: the node ends ``deploy
        failed`` with last_error "No deploy steps returned by the driver".
        """
        self.conn.baremetal.create_deploy_template(
            name=trait, steps=[{'interface': 'deploy', 'step': 'deploy',
                                'args': {}, 'priority': 0}])
        self.addCleanup(self.conn.baremetal.delete_deploy_template, trait)


class MistralTestCase(IronicTestCase):
    """IronicTestCase with a real Mistral, started alongside Ironic.

    ``cls.mistral`` is the MistralService, ``cls.mistral_client`` a
    python-mistralclient v2 client. Mistral's ``[tripleo_baremetal]``
    options point our actions at the class's Ironic without Keystone.
    """

    #: Extra mistral.conf options, merged over the defaults.
    MISTRAL_OPTIONS = {}
    #: Paths of workbooks to create once Mistral is up.
    WORKBOOKS = ()
    #: Seconds between polls of a running execution.
    EXECUTION_POLL_INTERVAL = 0.1

    @classmethod
    def mistral_options(cls):
        """mistral.conf options pointing our actions at the class's services.

        Called before Mistral starts, once every service's URL is known;
        a class adding a service extends it. ``MISTRAL_OPTIONS`` is merged
        over the result.
        """
        return {'tripleo_baremetal': {
            'auth_type': 'none',
            'baremetal_endpoint_override': cls.ironic.url,
            'poll_interval': 0.1,
            'poll_interval_max': 0.5,
        }}

    @classmethod
    def _start_services(cls):
        cls.mistral = mistral.MistralService(
            cls.base_dir,
            config=inifile.merge(cls.mistral_options(), cls.MISTRAL_OPTIONS))
        cls._services.append(cls.mistral)
        # Mistral imports and starts while PostgreSQL and Ironic do.
        cls.mistral.start(wait=False)
        super()._start_services()
        cls.mistral.wait_ready()
        cls.mistral_client = cls.mistral.client()
        for path in cls.WORKBOOKS:
            with open(path) as stream:
                cls.mistral_client.workbooks.create(stream.read())

    @classmethod
    def service_logs(cls, lines=FAILURE_LOG_LINES):
        return '%s\n%s' % (super().service_logs(lines),
                           cls.mistral.log_tail(lines, console=False))

    def describe_execution(self, execution):
        """A workflow execution's state with each task's, for messages."""
        lines = ['workflow %s (%s): %s %s' % (
            execution.workflow_name, execution.id, execution.state,
            execution.state_info or '')]
        for task in self.mistral_client.tasks.list(
                workflow_execution_id=execution.id):
            lines.append('  task %s: %s %s' % (task.name, task.state,
                                               task.state_info or ''))
        errors = self.mistral.action_load_errors()
        if errors:
            lines.append('actions that failed to load:')
            lines.extend('  %s' % line for line in errors)
        return '\n'.join(lines)

    def run_workflow(self, name, inputs, timeout=60):
        """Run workflow ``name`` and wait until it ends.

        :returns: the execution, whether it succeeded or not, with
            ``output`` parsed from JSON (a dict).
        :raises: WaitTimeout, with the task states and Mistral's log,
            when it is still running after ``timeout`` seconds.
        """
        client = self.mistral_client
        execution = client.executions.create(name, workflow_input=inputs)

        def finished():
            # The state alone, as the commands poll (cli/follow.py).
            return (follow.execution_state(client, execution.id)
                    in FINAL_STATES)

        try:
            process.wait_until(
                finished, timeout, interval=self.EXECUTION_POLL_INTERVAL,
                what='execution %s of %s to end' % (execution.id, name))
        except exceptions.WaitTimeout as exc:
            raise exceptions.WaitTimeout('%s\n%s\n%s' % (
                exc, self.describe_execution(
                    client.executions.get(execution.id)),
                self.mistral.log_tail()))
        execution = client.executions.get(execution.id)
        if isinstance(execution.output, str):
            execution.output = json.loads(execution.output or '{}')
        return execution

    def assertExecutionSucceeded(self, execution):
        """Fail with every task's state unless ``execution`` succeeded."""
        if execution.state != 'SUCCESS':
            self.fail(self.describe_execution(execution))


class ProxiedMistralTestCase(MistralTestCase):
    """MistralTestCase whose actions reach Ironic through a fault proxy.

    ``cls.proxy`` (a ``localcloud.faultproxy.FaultProxy``, faults off
    at the start of every test) can fault or record what the actions
    send; the tests themselves reach Ironic directly (``cls.conn``).
    """

    @classmethod
    def _start_services(cls):
        cls.proxy = faultproxy.FaultProxy(cls.ironic.url, share=0,
                                          port=process.free_port())
        cls.proxy.start()
        cls.addClassCleanup(cls.proxy.stop)
        cls.MISTRAL_OPTIONS = inifile.merge(
            cls.MISTRAL_OPTIONS, {'tripleo_baremetal': {
                'baremetal_endpoint_override': cls.proxy.url}})
        super()._start_services()

    def setUp(self):
        super().setUp()
        self.proxy.enabled = False
        self.proxy.recording = False
        self.proxy.recorded = []


class HeatTestCase(MistralTestCase):
    """MistralTestCase with a real Heat whose catalog lists that Mistral.

    ``cls.heat`` is the HeatService (its database on the class's
    PostgreSQL), ``cls.heat_client`` a python-heatclient v1 client.
    Stacks are the tests' to delete.
    """

    #: Extra heat.conf options, merged over the defaults.
    HEAT_OPTIONS = {}
    #: Seconds between polls of a stack in progress.
    STACK_POLL_INTERVAL = 0.2

    @classmethod
    def _start_services(cls):
        super()._start_services()
        # With a Neutron (NeutronIronicTestCase first in the MRO), Heat's
        # catalog lists it and stacks can create ports.
        neutron = getattr(cls, 'neutron', None)
        cls.heat = heat.HeatService(
            cls.base_dir, cls.postgres.create_database('heat'),
            mistral_url=cls.mistral.url, config=cls.HEAT_OPTIONS,
            neutron_url=neutron.url if neutron is not None else None)
        cls._services.append(cls.heat)
        cls.heat.start()
        cls.heat_client = cls.heat.client()

    @classmethod
    def service_logs(cls, lines=FAILURE_LOG_LINES):
        return '%s\n%s' % (super().service_logs(lines),
                           cls.heat.log_tail(lines, console=False))

    def wait_for_stack(self, stack_id, timeout=30):
        """Wait until the stack's action is no longer IN_PROGRESS.

        :returns: the stack, or None once it is gone (deleted).
        :raises: WaitTimeout with the stack's last status and Heat's log.
        """
        current = {}

        def settled():
            try:
                stack = self.heat_client.stacks.get(stack_id)
            except heat_exceptions.HTTPNotFound:
                current['stack'] = None
                return True
            current['stack'] = stack
            return stack.stack_status != '%s_IN_PROGRESS' % stack.action

        try:
            process.wait_until(
                settled, timeout, interval=self.STACK_POLL_INTERVAL,
                what='stack %s to settle' % stack_id)
        except exceptions.WaitTimeout as exc:
            stack = current.get('stack')
            raise exceptions.WaitTimeout('%s\nlast status: %s %s\n%s' % (
                exc, getattr(stack, 'stack_status', None),
                getattr(stack, 'stack_status_reason', None),
                self.heat.log_tail()))
        return current['stack']
