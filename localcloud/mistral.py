"""A real Mistral (API, engine and executor in one process) on 127.0.0.1.

No Keystone (``[pecan] auth_enable = False``), no message queue (the
in-memory ``fake:/`` transport, which works because mistral_launcher runs
every component in one process), SQLite. The executor is ``remote`` so
that actions of a ``with-items`` task really run concurrently (the
``local`` executor runs them one after another).

Actions registered under the ``mistral.actions`` entry points of the
environment (ours: ``tripleo.baremetal_deploy.*``) are loaded at start.
Options of other projects read by those actions, e.g. a
``[tripleo_baremetal]`` section, can be passed in ``config``.
"""

import logging
import os
import sys

from mistralclient.api.v2 import client as mistral_client

from localcloud import http
from localcloud import inifile
from localcloud import process
from localcloud import service

LOG = logging.getLogger(__name__)

LAUNCHER = 'localcloud.mistral_launcher'


class MistralService(service.ApiService):
    """Mistral served on 127.0.0.1 from this interpreter's environment.

    :param base_dir: an existing directory; config, logs and the SQLite
        database go to a ``mistral`` directory inside.
    :param config: extra ``{section: {option: value}}`` merged over the
        defaults (None removes an option).
    :param port: API port; a free one by default.
    :param start_timeout: seconds allowed for each start step; a crash
        is reported at once, this only bounds a hang or a very busy host.
    """

    name = 'mistral'
    log_name = 'mistral.log'
    ready_what = 'the Mistral API'

    def __init__(self, base_dir, config=None, port=None, start_timeout=120):
        super().__init__(base_dir, config=config, port=port,
                         start_timeout=start_timeout)
        self.config_file = os.path.join(self.dir, 'mistral.conf')

    @property
    def database_url(self):
        """The SQLAlchemy URL of Mistral's SQLite database."""
        return 'sqlite:///%s' % os.path.join(self.dir, 'mistral.sqlite')

    def component_pids(self):
        """``{'mistral': pids}``: API, engine and executor are one."""
        return {'mistral': self.pids()}

    def config(self):
        """The configuration written to mistral.conf, as nested dicts."""
        config = {
            'DEFAULT': {'transport_url': 'fake:/',
                        'log_file': self.log_file,
                        'use_stderr': False,
                        'debug': False},
            'api': {'host': process.LOOPBACK, 'port': self.port},
            'pecan': {'auth_enable': False},
            'database': {'connection': self.database_url,
                         'sqlite_synchronous': False},
            'executor': {'type': 'remote'},
            'notifier': {'type': 'local'},
            'legacy_action_provider': {'load_action_plugins': True},
            # Cron triggers would start a periodic thread in the API.
            'cron_trigger': {'enabled': False},
            'oslo_concurrency': {'lock_path': os.path.join(self.dir,
                                                           'locks')},
        }
        return inifile.merge(config, self.extra_config)

    def prepare(self):
        inifile.write(self.config_file, self.config())

    def command(self):
        return [sys.executable, '-m', LAUNCHER, '--config-file',
                self.config_file]

    def is_ready(self):
        """The API answers (the engine and executor run by then)."""
        return http.get_json(self.url + '/v2/workbooks') is not None

    def action_load_errors(self):
        """Lines of the log saying an action entry point failed to load.

        A broken ``mistral.actions`` entry point only logs an error at
        start; a workflow using it fails later with "Failed to find
        action". Showing these lines with a failed execution saves a hunt.
        """
        try:
            with open(self.log_file, errors='replace') as stream:
                return [line.rstrip('\n') for line in stream
                        if 'Could not load' in line]
        except FileNotFoundError:
            return []

    def client(self):
        """A python-mistralclient v2 client for this Mistral, no auth."""
        return mistral_client.Client(mistral_url=self.url + '/v2')
