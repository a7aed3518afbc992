"""The workbook on Mistral's production topology.

Separate ``mistral-server`` API, engine and two executor processes, RPC
over a private RabbitMQ, one PostgreSQL database for Mistral (and one
for Ironic): ``deploy_roles`` must work there, with both executors
running our actions. Behaviour only; bench_workflow.py --rabbit measures.
"""

import unittest

from localcloud import inifile
from localcloud import mistral_multi
from localcloud import rabbitmq
from tests.functional import base
from tests.functional import test_workflows

WB = test_workflows.WB


class RabbitTopologyTest(base.MistralTestCase):
    """Services of their own: PostgreSQL, Ironic, RabbitMQ, 4 Mistrals."""

    WORKBOOKS = test_workflows.WorkflowTest.WORKBOOKS
    MISTRAL_OPTIONS = {'tripleo_baremetal': {'check_local_images': False}}
    EXECUTORS = 2

    @classmethod
    def setUpClass(cls):
        if not rabbitmq.available():
            raise unittest.SkipTest(
                'RabbitMQ is not installed (apt-get install %s; tools/tox '
                'installs it when run as root with apt-get)'
                % rabbitmq.PACKAGE)
        super().setUpClass()

    @classmethod
    def _start_services(cls):
        base.IronicTestCase._start_services.__func__(cls)
        cls.rabbit = rabbitmq.RabbitService(cls.base_dir)
        cls.addClassCleanup(cls.rabbit.stop)
        cls.rabbit.start()
        cls.mistral = mistral_multi.MistralCluster(
            cls.base_dir, cls.rabbit.transport_url,
            cls.postgres.create_database('mistral'),
            config=inifile.merge(cls.mistral_options(), cls.MISTRAL_OPTIONS),
            executors=cls.EXECUTORS)
        cls.addClassCleanup(cls.mistral.stop)
        cls.mistral.start()
        cls.mistral_client = cls.mistral.client()
        for path in cls.WORKBOOKS:
            with open(path) as stream:
                cls.mistral_client.workbooks.create(stream.read())

    @classmethod
    def service_logs(cls, lines=base.FAILURE_LOG_LINES):
        return '%s\n%s\n%s' % (
            cls.ironic.log_tail(lines, console=False),
            cls.mistral.log_tail(lines, console=False),
            cls.rabbit.log_tail(lines))

    def test_deploy_roles_on_two_executors(self):
        count = 8
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(count)])
        roles_file = [{'name': 'Compute', 'count': count,
                       'defaults': {'image': {
                           'href': 'http://192.0.2.1/overcloud.raw'}}}]
        ports = [test_workflows.ctlplane_port(i) for i in range(count)]
        execution = self.run_workflow(WB + 'deploy_roles', {
            'roles': roles_file, 'concurrency': count,
            'role_ctlplane_port_map': {'Compute': ports}}, timeout=240)

        self.assertExecutionSucceeded(execution)
        self.assertEqual(count, len(execution.output['new_instances']))
        self.assertEqual(
            {'active'},
            {n.provision_state for n in self.conn.baremetal.nodes()})
        # The executors shared the with-items items (one line per node).
        counts = self.mistral.executor_counts()
        self.assertEqual(count, sum(counts.values()), counts)
        self.assertTrue(all(counts.values()), counts)

        # A re-run on this topology writes nothing.
        self.ironic.reset_request_counts()
        execution = self.run_workflow(WB + 'deploy_roles', {
            'roles': roles_file,
            'role_ctlplane_port_map': {'Compute': ports}}, timeout=120)
        self.assertExecutionSucceeded(execution)
        self.assertEqual(count, len(execution.output['existing_instances']))
        self.assertEqual(0, sum(self.ironic.request_counts().get(m, 0)
                                for m in test_workflows.WRITES))
