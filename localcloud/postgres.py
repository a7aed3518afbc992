"""A private, throw-away PostgreSQL cluster on 127.0.0.1.

Ironic needs a database that takes concurrent writes: on SQLite a handful
of concurrent clients already get "database is locked" and allocations
stay ``allocating`` for ever. A private cluster in a temporary directory
starts in about two seconds.

The settings trade durability for speed (``fsync``, synchronous commit
and full page writes off): never point this at data you want to keep.
``initdb`` and the server refuse to run as root; when root they run as
the ``postgres`` user, which then owns the data directory.

The server runs in the foreground as a child of ours (not daemonised by
``pg_ctl``), so that it lives and dies in its own process group like the
other services.
"""

import glob
import logging
import os
import pwd
import re
import shutil
import signal
import time

import psycopg2
from psycopg2 import sql

from localcloud import exceptions
from localcloud import process

LOG = logging.getLogger(__name__)

#: Where Debian/Ubuntu install the PostgreSQL 15 server binaries.
DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin'

#: Unsafe but fast settings for a throw-away cluster.
SETTINGS = {
    'fsync': 'off',
    'synchronous_commit': 'off',
    'full_page_writes': 'off',
    'max_connections': '200',
    'shared_buffers': '64MB',
}

SUPERUSER = 'postgres'


def find_bin_dir():
    """The directory of ``initdb`` and ``postgres``.

    PostgreSQL 15 where Debian and Ubuntu put it, else the newest other
    version there, else whatever ``PATH`` finds (Fedora, a source build).
    """
    candidates = [DEFAULT_BIN_DIR]
    candidates += sorted(glob.glob('/usr/lib/postgresql/*/bin'),
                         key=lambda path: [int(part) for part in re.findall(
                             r'\d+', path)], reverse=True)
    on_path = shutil.which('initdb')
    if on_path:
        candidates.append(os.path.dirname(on_path))
    for candidate in candidates:
        if os.access(os.path.join(candidate, 'initdb'), os.X_OK):
            return candidate
    raise exceptions.ServiceError(
        'PostgreSQL server binaries (initdb, postgres) not found in %s or '
        'on PATH: install the PostgreSQL server (Debian/Ubuntu: '
        'postgresql-15) or pass bin_dir' % DEFAULT_BIN_DIR)


class PostgresCluster:
    """A PostgreSQL cluster in ``base_dir/postgres``.

    :param base_dir: an existing directory (the cluster, its socket and
        its log go to a ``postgres`` directory inside).
    :param bin_dir: directory of ``initdb`` and ``postgres`` (default:
        find_bin_dir()).
    :param port: TCP port; a free one by default.
    :param start_timeout: seconds allowed for each start step; a crash
        is reported at once, this only bounds a hang or a very busy host.
    """

    def __init__(self, base_dir, bin_dir=None, port=None, start_timeout=120):
        self.bin_dir = bin_dir
        self.port = port
        self.start_timeout = start_timeout
        self.base_dir = os.path.abspath(base_dir)
        self.dir = os.path.join(base_dir, 'postgres')
        self.data_dir = os.path.join(self.dir, 'data')
        self.socket_dir = os.path.join(self.dir, 'run')
        self.log_file = os.path.join(self.dir, 'postgres.log')
        self.user = SUPERUSER if os.geteuid() == 0 else None
        self._service = None

    @property
    def service(self):
        """The server's Service, None before start()."""
        return self._service

    def _binary(self, name):
        self.bin_dir = self.bin_dir or find_bin_dir()
        path = os.path.join(self.bin_dir, name)
        if not os.access(path, os.X_OK):
            raise exceptions.ServiceError(
                'PostgreSQL server binary %s not found' % path)
        return path

    def _prepare_dirs(self):
        os.makedirs(self.socket_dir)
        os.makedirs(self.data_dir, mode=0o700)
        if self.user is None:
            return
        try:
            entry = pwd.getpwnam(self.user)
        except KeyError:
            raise exceptions.ServiceError(
                'PostgreSQL refuses to run as root and there is no %s user '
                'to run it as: create it or run the tests as another user'
                % self.user)
        for path in (self.dir, self.socket_dir, self.data_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        # The postgres user must reach its directories: let it traverse
        # (not list) base_dir, typically a mkdtemp() directory (0700).
        os.chmod(self.base_dir, os.stat(self.base_dir).st_mode | 0o001)
        parent = os.path.dirname(self.base_dir)
        while parent != os.path.dirname(parent):
            if not os.stat(parent).st_mode & 0o001:
                raise exceptions.ServiceError(
                    'the %s user cannot traverse %s to reach %s: use a '
                    'base directory under /tmp'
                    % (self.user, parent, self.data_dir))
            parent = os.path.dirname(parent)

    def start(self):
        """Create the cluster and start the server; wait until it answers.

        :raises: ServiceError or WaitTimeout with the end of the log.
        """
        started = time.monotonic()
        self._prepare_dirs()
        process.run([self._binary('initdb'), '-D', self.data_dir,
                     '-A', 'trust', '-U', SUPERUSER, '-E', 'UTF8',
                     '--locale=C', '--no-sync', '--no-instructions'],
                    self.log_file, timeout=self.start_timeout,
                    user=self.user, cwd=self.dir)
        self.port = self.port or process.free_port()
        argv = [self._binary('postgres'), '-D', self.data_dir,
                '-c', 'listen_addresses=%s' % process.LOOPBACK,
                '-p', str(self.port), '-k', self.socket_dir]
        for name, value in SETTINGS.items():
            argv += ['-c', '%s=%s' % (name, value)]
        self._service = process.Service(
            'postgres', argv, self.log_file, user=self.user, cwd=self.dir,
            stop_signal=signal.SIGINT)    # a "fast" shutdown
        self._service.start()
        process.wait_until(self._ready, self.start_timeout, interval=0.1,
                           what='PostgreSQL on port %s' % self.port,
                           details=self._service.log_tail)
        LOG.info('PostgreSQL ready on 127.0.0.1:%s in %.1f s', self.port,
                 time.monotonic() - started)

    def _connect(self, dbname='postgres'):
        return psycopg2.connect(host=process.LOOPBACK, port=self.port,
                                user=SUPERUSER, dbname=dbname,
                                connect_timeout=5)

    def _ready(self):
        self._service.check()
        try:
            self._connect().close()
        except psycopg2.OperationalError:
            return False
        return True

    def url(self, name):
        """The SQLAlchemy URL of database ``name``."""
        return 'postgresql+psycopg2://%s@%s:%s/%s' % (
            SUPERUSER, process.LOOPBACK, self.port, name)

    def create_database(self, name):
        """Create database ``name``; return its SQLAlchemy URL."""
        if self._service is None:
            raise exceptions.ServiceError('PostgreSQL is not started')
        self._service.check()
        conn = self._connect()
        try:
            conn.autocommit = True   # CREATE DATABASE refuses transactions
            with conn.cursor() as cursor:
                cursor.execute(sql.SQL('CREATE DATABASE {}').format(
                    sql.Identifier(name)))
        finally:
            conn.close()
        LOG.debug('Created database %s', name)
        return self.url(name)

    def pids(self):
        """PIDs of the server and its backends (for CPU accounting)."""
        return self._service.pids() if self._service is not None else []

    def stop(self):
        """Stop the server (fast shutdown, then kill); idempotent."""
        if self._service is not None:
            self._service.stop()
