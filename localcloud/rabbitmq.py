"""A private, throw-away RabbitMQ broker on 127.0.0.1.

For Mistral in its production topology (separate API, engine and
executor processes whose RPC goes over a message queue). The broker is
Debian's ``rabbitmq-server`` (3.10 on Debian 12) run from
``/usr/lib/rabbitmq/bin`` with its own node name, AMQP port,
distribution port, data and log directories and Erlang cookie, and its
own ``epmd`` (Erlang's port mapper) on a private port, in the
foreground: both are children of ours, stopped with the service, and
nothing of the machine's own RabbitMQ (``/etc/rabbitmq``,
``/var/lib/rabbitmq``, port 5672) is read or touched. No plugins.

The default ``guest`` user works over loopback, which is all we serve.
"""

import logging
import os
import shutil
import socket
import time

from localcloud import exceptions
from localcloud import process

LOG = logging.getLogger(__name__)

#: Where Debian installs the broker's scripts (the ones in /usr/sbin
#: switch to the rabbitmq user and the system's directories).
DEFAULT_BIN_DIR = '/usr/lib/rabbitmq/bin'

#: The Debian package to install when the broker is missing.
PACKAGE = 'rabbitmq-server'


def find_server():
    """The ``rabbitmq-server`` script and ``epmd``; ServiceError if absent.

    :returns: ``(rabbitmq-server path, epmd path)``.
    """
    server = os.path.join(DEFAULT_BIN_DIR, 'rabbitmq-server')
    epmd = shutil.which('epmd') or _erlang_epmd()
    if os.access(server, os.X_OK) and epmd:
        return server, epmd
    raise exceptions.ServiceError(
        'RabbitMQ not found (%s and epmd): install the %s package '
        '(Debian/Ubuntu: apt-get install %s)' % (server, PACKAGE, PACKAGE))


def _erlang_epmd():
    """``epmd`` of the Erlang runtime when it is not on PATH."""
    base = '/usr/lib/erlang/erts-'
    parent = os.path.dirname(base)
    if not os.path.isdir(parent):
        return None
    for name in sorted(os.listdir(parent), reverse=True):
        candidate = os.path.join(parent, name, 'bin', 'epmd')
        if name.startswith('erts-') and os.access(candidate, os.X_OK):
            return candidate
    return None


def available():
    """Whether the broker can be started here (its binaries exist)."""
    try:
        find_server()
    except exceptions.ServiceError:
        return False
    return True


class RabbitService:
    """RabbitMQ in ``base_dir/rabbitmq``, on a free port of 127.0.0.1.

    :param base_dir: an existing directory.
    :param start_timeout: seconds allowed for the broker to accept AMQP
        connections (a crash is reported at once).
    """

    name = 'rabbitmq'

    def __init__(self, base_dir, start_timeout=120):
        self.dir = os.path.join(base_dir, self.name)
        self.start_timeout = start_timeout
        self.port = None
        self.log_file = os.path.join(self.dir, 'console.log')
        self._services = []

    @property
    def transport_url(self):
        """oslo.messaging's URL of this broker."""
        return 'rabbit://guest:guest@%s:%s/' % (process.LOOPBACK, self.port)

    def _env(self, epmd_port, dist_port):
        """The broker's environment: every path and port its own."""
        node = 'tbm%d@localhost' % self.port
        data = os.path.join(self.dir, 'data')
        logs = os.path.join(self.dir, 'log')
        for path in (data, logs):
            os.makedirs(path, exist_ok=True)
        empty = os.path.join(self.dir, 'empty.conf')
        with open(empty, 'w'):
            pass
        plugins = os.path.join(self.dir, 'enabled_plugins')
        with open(plugins, 'w') as stream:
            stream.write('[].\n')
        env = dict(os.environ)
        env.update({
            'HOME': self.dir,                       # the Erlang cookie
            'RABBITMQ_NODENAME': node,
            'RABBITMQ_NODE_IP_ADDRESS': process.LOOPBACK,
            'RABBITMQ_NODE_PORT': str(self.port),
            'RABBITMQ_DIST_PORT': str(dist_port),
            'ERL_EPMD_PORT': str(epmd_port),
            'ERL_EPMD_ADDRESS': process.LOOPBACK,
            'RABBITMQ_CONF_ENV_FILE': empty,
            'RABBITMQ_CONFIG_FILE': os.path.join(self.dir, 'rabbitmq'),
            'RABBITMQ_ADVANCED_CONFIG_FILE': os.path.join(
                self.dir, 'advanced.config'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': plugins,
            'RABBITMQ_MNESIA_BASE': data,
            'RABBITMQ_MNESIA_DIR': os.path.join(data, node),
            'RABBITMQ_LOG_BASE': logs,
            'RABBITMQ_LOGS': os.path.join(logs, 'rabbit.log'),
            'RABBITMQ_PID_FILE': os.path.join(self.dir, 'rabbit.pid'),
        })
        with open(os.path.join(self.dir, 'rabbitmq.conf'), 'w') as stream:
            # Below the default disk limit a test machine's /tmp may be.
            stream.write('disk_free_limit.absolute = 50MB\n')
        return env

    def start(self):
        """Start epmd and the broker; wait until AMQP answers.

        :raises: ServiceError or WaitTimeout with the end of the log.
        """
        server, epmd = find_server()
        started = time.monotonic()
        os.makedirs(self.dir, exist_ok=True)
        self.port = process.free_port()
        epmd_port, dist_port = process.free_port(), process.free_port()
        env = self._env(epmd_port, dist_port)
        self._services.append(process.Service(
            'epmd', [epmd, '-port', str(epmd_port), '-address',
                     process.LOOPBACK],
            os.path.join(self.dir, 'epmd.log'), env=env))
        self._services.append(process.Service(
            'rabbitmq', [server], self.log_file, env=env,
            extra_logs=[env['RABBITMQ_LOGS']], stop_timeout=15.0))
        for service in self._services:
            service.start()
        process.wait_until(self._ready, self.start_timeout, interval=0.2,
                           what='RabbitMQ on port %s' % self.port,
                           details=self.log_tail)
        LOG.info('RabbitMQ ready on 127.0.0.1:%s in %.1f s', self.port,
                 time.monotonic() - started)

    def _ready(self):
        for service in self._services:
            service.check()
        try:
            with socket.create_connection((process.LOOPBACK, self.port),
                                          timeout=2) as sock:
                sock.sendall(b'AMQP\x00\x00\x09\x01')
                # connection.start: a method frame (type 1).
                return sock.recv(1) == b'\x01'
        except OSError:
            return False

    def log_tail(self, lines=process.TAIL_LINES):
        """The last lines of the broker's console and log."""
        return process.format_tails(
            [self.log_file, os.path.join(self.dir, 'log', 'rabbit.log')],
            lines)

    def pids(self):
        """PIDs of the broker's processes (for CPU accounting)."""
        return sorted(pid for service in self._services
                      for pid in service.pids())

    def stop(self):
        """Stop the broker, then epmd; idempotent."""
        for service in reversed(self._services):
            service.stop()
