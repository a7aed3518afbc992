"""What every embedded API service shares: directory, port, processes, waits.

A service lives in ``<base_dir>/<name>``, listens on a free port of
127.0.0.1, runs as one ``process.Service`` (or several: ``processes``)
and is ready when its own check says so, within ``start_timeout``.
Subclasses write their configuration (``prepare``), give their command
line (``command``) and their readiness check (``is_ready``); nothing
else differs. A service made of several processes (Ironic's conductor
and API) lists them in ``processes`` and their logs in ``log_files`` and
``console_logs``; starting, checking, ``pids`` and stopping then cover
all of them.
"""

import collections
import logging
import os
import time

from localcloud import exceptions
from localcloud import process

LOG = logging.getLogger(__name__)

#: One process of a service: its name, command line, console log (stdout
#: and stderr) and the log it writes itself.
Process = collections.namedtuple('Process',
                                 ['name', 'argv', 'console_log', 'log_file'])


def read_complete_lines(path, offset):
    """The bytes of ``path`` from ``offset`` up to its last full line.

    A line still being written is left for the next read, so counting
    requests from a growing log never sees half a line.
    """
    try:
        with open(path, 'rb') as stream:
            stream.seek(offset)
            data = stream.read()
    except FileNotFoundError:
        return b''
    return data[:data.rfind(b'\n') + 1]


class ApiService:
    """Base class of the embedded services (Ironic, Mistral, Neutron).

    :param base_dir: an existing directory; the service's files go to a
        ``name`` directory inside.
    :param config: extra ``{section: {option: value}}`` merged over the
        service's defaults (None removes an option).
    :param port: API port; a free one by default.
    :param start_timeout: seconds allowed for each start step; a crash
        is reported at once, this only bounds a hang or a very busy host.
    """

    #: Directory and process name, e.g. ``'ironic'``.
    name = None
    #: Log file name inside the directory.
    log_name = None
    #: What ``is_ready`` waits for, for the timeout message.
    ready_what = 'the API'

    def __init__(self, base_dir, config=None, port=None, start_timeout=120):
        self.dir = os.path.join(base_dir, self.name)
        self.extra_config = config or {}
        self.port = port
        self.start_timeout = start_timeout
        self.log_file = os.path.join(self.dir, self.log_name)
        self.console_log = os.path.join(self.dir, 'console.log')
        self._services = []
        self._started_at = None

    @property
    def url(self):
        """The API root, e.g. ``http://127.0.0.1:34567``."""
        return 'http://%s:%s' % (process.LOOPBACK, self.port)

    @property
    def service(self):
        """The main (first) process's Service, None before start()."""
        return self._services[0] if self._services else None

    @property
    def services(self):
        """The Service of each started process, in start order."""
        return list(self._services)

    def prepare(self):
        """Write configuration files (and anything else) before start."""

    def command(self):
        """The service's command line."""
        raise NotImplementedError

    def is_ready(self):
        """Whether the API answers as expected."""
        raise NotImplementedError

    def process_options(self):
        """Extra ``process.Service`` arguments (``cwd``, ``env``...)."""
        return {}

    def processes(self):
        """The processes to start, in order: ``[Process]``.

        One by default, ``name`` running ``command()``; called by start()
        once ``prepare()`` has run.
        """
        return [Process(self.name, self.command(), self.console_log,
                        self.log_file)]

    def log_files(self):
        """The logs the service's processes write (not the console's)."""
        return [self.log_file]

    def console_logs(self):
        """The console logs (stdout and stderr) of the processes."""
        return [self.console_log]

    def start(self, wait=True):
        """Prepare and start the service.

        :param wait: wait until it is ready (see wait_ready()); with False,
            other services can start meanwhile.
        """
        if self._services:
            raise exceptions.ServiceError('%s was already started'
                                          % self.name)
        self._started_at = time.monotonic()
        os.makedirs(os.path.join(self.dir, 'locks'), exist_ok=True)
        self.port = self.port or process.free_port()
        self.prepare()
        for spec in self.processes():
            started = process.Service(
                spec.name, spec.argv, spec.console_log,
                extra_logs=[spec.log_file], **self.process_options())
            # Listed first: stop() also stops a process whose sibling
            # failed to start.
            self._services.append(started)
            started.start()
        if wait:
            self.wait_ready()

    def wait_ready(self):
        """Wait until ``is_ready()``.

        :raises: ServiceError or WaitTimeout with the end of the logs.
        """
        if not self._services:
            raise exceptions.ServiceError('%s is not started' % self.name)
        process.wait_until(self._ready, self.start_timeout, interval=0.1,
                           what='%s at %s' % (self.ready_what, self.url),
                           details=self.log_tail)
        LOG.info('%s ready at %s in %.1f s', self.name, self.url,
                 time.monotonic() - self._started_at)

    def _ready(self):
        for started in self._services:
            started.check()
        return self.is_ready()

    def log_tail(self, lines=process.TAIL_LINES, console=True):
        """The last lines of the console logs and of the service's logs.

        :param console: include the console logs (stdout and stderr:
            start errors).
        """
        logs = self.console_logs() if console else []
        return process.format_tails(logs + self.log_files(), lines)

    def pids(self):
        """PIDs of the live processes of every process of the service.

        Each process's own and those it forked (workers), for CPU
        accounting.
        """
        return sorted({pid for started in self._services
                       for pid in started.pids()})

    def stop(self):
        """Stop every process and its child processes; idempotent.

        The processes shut down side by side, the last started first.
        """
        process.stop_all(reversed(self._services), raise_errors=True)
