"""Processes of the embedded services: start, wait for, stop, read logs.

Every service runs in a session (hence a process group) of its own, and
stopping it also finds whatever it forked (Ironic forks its conductor,
PostgreSQL its backends): its process group and descendants. Stopping
sends the service's own shutdown signal to the leader, waits a few
seconds for all of those to go, then kills what is left. Services still
running when the interpreter exits (a test run interrupted with Ctrl-C, a
forgotten ``stop()``) are stopped by an ``atexit`` hook registered on the
first start. Processes are found through ``/proc``: Linux only.
"""

import atexit
import grp
import logging
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time

from localcloud import exceptions

LOG = logging.getLogger(__name__)
# The directory holding the localcloud package.
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Every service binds to this address only.
LOOPBACK = '127.0.0.1'

#: Lines of a log shown in error messages.
TAIL_LINES = 30

_running = []
_running_lock = threading.Lock()
_atexit_registered = False


def free_port(host=LOOPBACK):
    """A TCP port free on ``host`` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, interval=0.1, what='the condition',
               details=None):
    """Call ``predicate`` until it returns something true, and return that.

    :param timeout: seconds before giving up; the predicate is called once
        more at the deadline.
    :param what: what is waited for, for the error message.
    :param details: optional callable returning text appended to the error
        (a log tail, the states seen last).
    :raises: WaitTimeout. Exceptions of the predicate propagate at once,
        so a predicate can fail fast (e.g. when the service has exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            message = 'Timed out after %.1f s waiting for %s' % (
                timeout, what)
            extra = details() if details is not None else None
            if extra:
                message = '%s\n%s' % (message, extra)
            raise exceptions.WaitTimeout(message)
        time.sleep(min(interval, remaining))


def find_executable(name):
    """The path of console script ``name`` of this interpreter's environment.

    Services must run from the environment the tests run in (a tox env in
    CI, a virtualenv locally), not from whatever ``PATH`` finds first.
    """
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.access(path, os.X_OK):
        raise exceptions.ServiceError(
            '%s not found next to %s: install its package in the '
            'environment running the tests' % (name, sys.executable))
    return path


def tail(path, lines=TAIL_LINES):
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with open(path, 'rb') as stream:
            stream.seek(0, os.SEEK_END)
            size = stream.tell()
            stream.seek(max(0, size - 500 * lines))
            data = stream.read()
    except OSError:
        return ''
    return '\n'.join(data.decode('utf-8', 'replace').splitlines()[-lines:])


def format_tails(paths, lines=TAIL_LINES):
    """Tails of several logs, each under a header naming the file."""
    parts = []
    for path in paths:
        text = tail(path, lines)
        if text:
            parts.append('--- last lines of %s ---\n%s' % (path, text))
    return '\n'.join(parts)


def _user_options(user):
    """Popen arguments running a child as ``user`` (only when root)."""
    if user is None or os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(user)
    return {'user': entry.pw_uid, 'group': entry.pw_gid,
            'extra_groups': [g.gr_gid for g in grp.getgrall()
                             if user in g.gr_mem]}


def run(argv, log_file, timeout, user=None, cwd=None, env=None):
    """Run a one-shot command (initdb, a schema creation) to completion.

    Its output is appended to ``log_file``.

    :param user: run as this user when root (e.g. ``postgres``).
    :raises: ServiceError with the command's output when it fails or
        outlives ``timeout``.
    """
    LOG.debug('Running %s', ' '.join(argv))
    started = time.monotonic()
    with open(log_file, 'ab') as log:
        log.write(('$ %s\n' % ' '.join(argv)).encode())
        log.flush()
        try:
            result = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    cwd=cwd, env=env, timeout=timeout,
                                    check=False, **_user_options(user))
        except subprocess.TimeoutExpired:
            raise exceptions.ServiceError(
                '%s did not finish in %s s\n%s' % (
                    argv[0], timeout, format_tails([log_file])))
        except OSError as exc:
            raise exceptions.ServiceError(
                'cannot run %s: %s' % (argv[0], exc))
    if result.returncode != 0:
        raise exceptions.ServiceError('%s failed with exit code %s\n%s' % (
            ' '.join(argv), result.returncode, format_tails([log_file])))
    LOG.debug('%s finished in %.2f s', argv[0], time.monotonic() - started)


def _process_table():
    """``{pid: (state, ppid, pgid)}`` of every process, from /proc."""
    table = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as stream:
                stat = stream.read()
        except OSError:
            continue    # gone meanwhile
        # The command name may hold spaces and parentheses: the fields
        # state, ppid, pgrp follow its closing parenthesis.
        fields = stat[stat.rfind(')') + 2:].split()
        table[int(entry)] = (fields[0], int(fields[1]), int(fields[2]))
    return table


def process_tree(pid, also=()):
    """Live (not zombie) PIDs belonging to the service led by ``pid``.

    These are the processes of its process group, its descendants
    (PostgreSQL puts each backend in a session of its own) and those of
    ``also`` still alive.
    """
    table = {p: info for p, info in _process_table().items()
             if info[0] not in ('Z', 'X')}
    found = {p for p, (_, _, pgid) in table.items() if pgid == pid}
    found.update(p for p in also if p in table)
    if pid in table:
        found.add(pid)
    children = {}
    for child, (_, ppid, _) in table.items():
        children.setdefault(ppid, []).append(child)
    pending = list(found)
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in found:
                found.add(child)
                pending.append(child)
    return sorted(found)


def _processes_of(item):
    """The Service objects of a stop_all() entry (none for None)."""
    if item is None:
        return []
    if isinstance(item, Service):
        return [item]
    if hasattr(item, 'services'):
        return item.services
    single = getattr(item, 'service', item)
    return [] if single is None else [single]


def stop_all(services, raise_errors=False):
    """Stop several services side by side; log failures.

    :param services: Service objects, or objects with a ``services``
        attribute listing them or a ``service`` attribute holding one
        (IronicService, PostgresCluster...); None entries are skipped.
    :param raise_errors: raise the first failure once every service has
        been stopped (or tried), rather than only log it.
    """
    services = [one for item in services for one in _processes_of(item)]
    for service in services:
        service.terminate()
    failure = None
    for service in services:
        try:
            service.stop()
        except Exception as exc:
            LOG.exception('Could not stop %s', service.name)
            failure = failure or exc
    if failure is not None and raise_errors:
        raise failure


def _stop_all():
    with _running_lock:
        services = list(reversed(_running))
    stop_all(services)


def _register(service):
    global _atexit_registered
    with _running_lock:
        if not _atexit_registered:
            atexit.register(_stop_all)
            _atexit_registered = True
        _running.append(service)


def _unregister(service):
    with _running_lock:
        if service in _running:
            _running.remove(service)


def importable_env(env=None):
    """``env`` (default: ours) with ``localcloud`` importable.

    ``localcloud`` is not installed (it is not part of the package that
    goes into Mistral executors); the launchers it starts with ``python
    -m`` find it, from any working directory, through ``PYTHONPATH``.
    """
    env = dict(os.environ if env is None else env)
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    if SOURCE_ROOT not in paths:
        env['PYTHONPATH'] = os.pathsep.join([SOURCE_ROOT] + paths)
    return env


class Service:
    """A long-running service process with its console log.

    :param name: a short name for messages ("ironic").
    :param argv: the command line.
    :param log_file: file receiving the process's stdout and stderr.
    :param extra_logs: other log files the service writes, shown with the
        console log when something fails.
    :param user: run as this user when root (PostgreSQL refuses root).
    :param stop_signal: the signal asking the service to shut down
        (PostgreSQL: SIGINT, a fast shutdown).
    :param stop_timeout: seconds allowed for a clean shutdown before the
        process group is killed.
    """

    def __init__(self, name, argv, log_file, extra_logs=(), user=None,
                 cwd=None, env=None, stop_signal=signal.SIGTERM,
                 stop_timeout=5.0):
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self.extra_logs = list(extra_logs)
        self.user = user
        self.cwd = cwd
        self.env = importable_env(env)
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self._proc = None
        self._known = set()
        self._terminated_at = None

    def __repr__(self):
        return '<Service %s pid=%s>' % (self.name, self.pid)

    @property
    def pid(self):
        """The PID (and process group ID) of the service, or None."""
        return self._proc.pid if self._proc is not None else None

    def start(self):
        """Start the process; does not wait for it to be ready."""
        if self._proc is not None:
            raise exceptions.ServiceError('%s was already started'
                                          % self.name)
        LOG.debug('Starting %s: %s', self.name, ' '.join(self.argv))
        with open(self.log_file, 'ab') as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, cwd=self.cwd, env=self.env,
                    start_new_session=True, **_user_options(self.user))
            except OSError as exc:
                raise exceptions.ServiceError('cannot start %s (%s): %s' % (
                    self.name, self.argv[0], exc))
        _register(self)
        LOG.debug('%s started with pid %s', self.name, self._proc.pid)

    def running(self):
        """Whether the main process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines=TAIL_LINES):
        """The last lines of each log of the service."""
        return format_tails([self.log_file] + self.extra_logs, lines)

    def check(self):
        """Raise ServiceError, with the logs' tails, if it has exited."""
        if self._proc is None:
            raise exceptions.ServiceError('%s is not started' % self.name)
        code = self._proc.poll()
        if code is not None:
            raise exceptions.ServiceError('%s exited with code %s\n%s' % (
                self.name, code, self.log_tail()))

    def pids(self, also=()):
        """PIDs of the live processes of the service (process_tree)."""
        if self._proc is None:
            return []
        self._proc.poll()   # reap the leader if it has exited
        return process_tree(self._proc.pid, also)

    def terminate(self):
        """Ask the service to shut down (``stop_signal``); do not wait.

        Lets several services shut down side by side before stop() waits
        for each.
        """
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        # Remember the processes now: once the leader is gone, orphans are
        # no longer its descendants.
        self._known.update(self.pids())
        if self._terminated_at is None:
            self._terminated_at = time.monotonic()
            try:
                os.kill(proc.pid, self.stop_signal)
            except ProcessLookupError:
                pass

    def stop(self):
        """Stop the service and everything it forked; idempotent.

        The leader gets ``stop_signal`` (unless terminate() sent it
        already); ``stop_timeout`` seconds after that, whatever is left is
        killed.
        """
        proc = self._proc
        if proc is None:
            return
        self.terminate()
        known = self._known

        def gone():
            return proc.poll() is not None and not self.pids(known)

        try:
            deadline = (self._terminated_at or time.monotonic()) \
                + self.stop_timeout
            try:
                wait_until(gone, max(0, deadline - time.monotonic()),
                           interval=0.05, what='%s to stop' % self.name)
            except exceptions.WaitTimeout:
                remaining = self.pids(known)
                LOG.warning('%s (pid %s) did not stop within %s s, '
                            'killing its processes %s', self.name, proc.pid,
                            self.stop_timeout, remaining)
                for pid in remaining:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                wait_until(gone, 5, interval=0.05,
                           what='%s to die after SIGKILL' % self.name)
        finally:
            _unregister(self)
        if self._terminated_at is not None:
            LOG.debug('%s stopped in %.2f s (exit code %s)', self.name,
                      time.monotonic() - self._terminated_at,
                      proc.returncode)
