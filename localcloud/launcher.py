"""The life of a one-process launcher once its services run.

The Mistral and Heat launchers start several oslo services in one
process (so that the in-memory ``fake:/`` transport carries their RPC);
both then wait the same way: until SIGTERM or SIGINT, or until the
parent process (the test run) is gone. Some oslo threads are not
daemons: after stopping the services, bounded in time, the process
leaves with ``os._exit``.
"""

import logging
import os
import signal
import threading
import time

LOG = logging.getLogger(__name__)

#: Seconds allowed to stop the services before the process just exits.
STOP_TIMEOUT = 5

#: How often the parent process is checked for.
PARENT_CHECK_INTERVAL = 1


def shutdown(services, code, name):
    """Stop ``services`` in order (bounded in time) and leave the process.

    :param services: objects with a ``stop()`` method.
    :param name: what stopped, for the log ("Mistral").
    """
    watchdog = threading.Timer(STOP_TIMEOUT, os._exit, (code or 1,))
    watchdog.daemon = True
    watchdog.start()
    for service in services:
        try:
            service.stop()
        except Exception:
            LOG.exception('Could not stop %s', service)
    LOG.info('%s stopped', name)
    logging.shutdown()
    os._exit(code)


def _watch_parent(parent, services, name):
    while True:
        time.sleep(PARENT_CHECK_INTERVAL)
        if os.getppid() != parent:
            LOG.warning('Parent process %s is gone, stopping', parent)
            shutdown(services, 0, name)


def run_until_stopped(services, name, parent):
    """Block until a signal or the parent's exit, then shutdown().

    :param parent: the parent's PID, read when the process started (a
        later os.getppid() may already be init's).
    """
    def on_signal(signum, frame):
        LOG.info('Signal %s received, stopping', signum)
        shutdown(services, 0, name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=_watch_parent, args=(parent, services, name),
                     daemon=True, name='parent-watch').start()
    while True:
        signal.pause()
