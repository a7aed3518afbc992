"""Mistral in its production topology: one process per component.

Sites that outgrow one process run Mistral as separate ``mistral-server
--server api``, ``--server engine`` and several ``--server executor``
processes whose RPC goes over RabbitMQ (``localcloud.rabbitmq``), all
sharing one database (PostgreSQL: ``mistral-db-manage upgrade head``
works there, unlike on SQLite). The executors share the work of a
``with-items`` task: each takes the actions it gets from the queue.

Each process writes its own log, so ``executor_counts`` can tell how many
of our actions each executor ran.
"""

import collections
import logging
import os

from mistralclient.api.v2 import client as mistral_client

from localcloud import exceptions
from localcloud import http
from localcloud import inifile
from localcloud import process

LOG = logging.getLogger(__name__)

#: What our deploy_node action logs once per node it starts deploying.
DEPLOY_LINE = ': deploying on node '


class MistralCluster:
    """API, engine and ``executors`` executor processes on 127.0.0.1.

    :param base_dir: an existing directory; config and logs go to a
        ``mistral-multi`` directory inside.
    :param transport_url: the broker's oslo.messaging URL.
    :param database_url: SQLAlchemy URL of an empty database.
    :param config: extra ``{section: {option: value}}`` for every process
        (e.g. ``[tripleo_baremetal]``).
    :param executors: how many executor processes.
    :param start_timeout: seconds allowed for each start step.
    """

    name = 'mistral-multi'

    def __init__(self, base_dir, transport_url, database_url, config=None,
                 executors=2, start_timeout=180):
        self.dir = os.path.join(base_dir, self.name)
        self.transport_url = transport_url
        self.database_url = database_url
        self.extra_config = config or {}
        self.executors = executors
        self.start_timeout = start_timeout
        self.port = None
        self.config_file = os.path.join(self.dir, 'mistral.conf')
        self._services = {}

    @property
    def url(self):
        return 'http://%s:%s' % (process.LOOPBACK, self.port)

    def config(self):
        """The configuration every process reads, as nested dicts."""
        config = {
            'DEFAULT': {'transport_url': self.transport_url,
                        'use_stderr': False, 'debug': False},
            'api': {'host': process.LOOPBACK, 'port': self.port,
                    'api_workers': 1},
            'pecan': {'auth_enable': False},
            'database': {'connection': self.database_url,
                         'max_pool_size': 20, 'max_overflow': 20},
            'executor': {'type': 'remote'},
            'notifier': {'type': 'local'},
            'legacy_action_provider': {'load_action_plugins': True},
            'cron_trigger': {'enabled': False},
            'oslo_messaging_rabbit': {'heartbeat_timeout_threshold': 0},
            'oslo_concurrency': {'lock_path': os.path.join(self.dir,
                                                           'locks')},
        }
        return inifile.merge(config, self.extra_config)

    def log_file(self, component):
        return os.path.join(self.dir, '%s.log' % component)

    def components(self):
        """``[(component name, --server value)]``, executors last."""
        return ([('engine', 'engine'), ('api', 'api')]
                + [('executor-%d' % index, 'executor')
                   for index in range(self.executors)])

    def start(self):
        """Write the config, create the schema, start every process.

        :raises: ServiceError or WaitTimeout with the end of the logs.
        """
        os.makedirs(os.path.join(self.dir, 'locks'), exist_ok=True)
        self.port = process.free_port()
        inifile.write(self.config_file, self.config())
        manage = process.find_executable('mistral-db-manage')
        for step in (['upgrade', 'head'], ['populate']):
            process.run([manage, '--config-file', self.config_file] + step,
                        os.path.join(self.dir, 'db-manage.log'),
                        timeout=self.start_timeout)
        server = process.find_executable('mistral-server')
        for component, kind in self.components():
            service = process.Service(
                'mistral-%s' % component,
                [server, '--config-file', self.config_file, '--server',
                 kind, '--log-file', self.log_file(component)],
                os.path.join(self.dir, '%s.console.log' % component),
                extra_logs=[self.log_file(component)])
            service.start()
            self._services[component] = service
        process.wait_until(self._ready, self.start_timeout, interval=0.2,
                           what='the Mistral API at %s' % self.url,
                           details=self.log_tail)
        LOG.info('Mistral API, engine and %d executors ready at %s',
                 self.executors, self.url)

    def _ready(self):
        for service in self._services.values():
            service.check()
        return http.get_json(self.url + '/v2/workbooks') is not None

    def log_tail(self, lines=process.TAIL_LINES, console=True):
        """The last lines of every process's log (and console log)."""
        paths = []
        for component, _kind in self.components():
            if console:
                paths.append(os.path.join(self.dir,
                                          '%s.console.log' % component))
            paths.append(self.log_file(component))
        return process.format_tails(paths, lines)

    def action_load_errors(self):
        """Log lines saying an action entry point failed to load."""
        found = []
        for component, _kind in self.components():
            try:
                with open(self.log_file(component), errors='replace') as log:
                    found += [line.rstrip('\n') for line in log
                              if 'Could not load' in line]
            except FileNotFoundError:
                pass
        return found

    def executor_counts(self, line=DEPLOY_LINE):
        """``{executor: lines of its log holding line}`` (nodes deployed)."""
        counts = {}
        for component, kind in self.components():
            if kind != 'executor':
                continue
            try:
                with open(self.log_file(component), errors='replace') as log:
                    counts[component] = sum(1 for text in log
                                            if line in text)
            except FileNotFoundError:
                counts[component] = 0
        return counts

    def client(self):
        """A python-mistralclient v2 client for the API, no auth."""
        if self.port is None:
            raise exceptions.ServiceError('Mistral is not started')
        return mistral_client.Client(mistral_url=self.url + '/v2')

    def pids(self):
        """PIDs of every component's processes (for CPU accounting)."""
        return sorted(pid for service in self._services.values()
                      for pid in service.pids())

    def component_pids(self):
        """``{component: pids}``, in ``components()`` order."""
        return collections.OrderedDict(
            (component, self._services[component].pids())
            for component, _kind in self.components()
            if component in self._services)

    def stop(self):
        """Stop the executors, the API, then the engine; idempotent."""
        for component, _kind in reversed(self.components()):
            service = self._services.pop(component, None)
            if service is not None:
                service.stop()
