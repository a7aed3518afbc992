"""Run Mistral's API, engine and executor in one process.

``mistral-server --server all`` forks a process per component, and the
in-memory ``fake:/`` transport cannot carry RPC between processes: every
execution would hang. Here all three share one process (and one fake
transport), as in Mistral's own engine tests; the notifier is ``local``.

Usage: ``python -m localcloud.mistral_launcher
--config-file mistral.conf``. The process stops on SIGTERM or SIGINT, and
when its parent goes away (see ``launcher``).
"""

import logging
import os
import sys
import time

from localcloud import launcher

LOG = logging.getLogger(__name__)


def _setup(argv):
    """Parse the config, set up logging, RPC and the SQLite schema."""
    # Selects oslo.service's threading backend, as mistral-server does; it
    # must come before anything else of Mistral.
    import mistral.cmd  # noqa: F401
    from mistral import config
    from mistral.db.v2 import api as db_api
    from mistral.rpc import base as rpc
    from mistral.services import action_manager
    from mistral.services import workflows
    from oslo_config import cfg
    from oslo_log import log as oslo_log

    config.parse_args(argv)
    oslo_log.setup(cfg.CONF, 'mistral')
    rpc.get_transport()
    # A new SQLite file has no schema (mistral-db-manage cannot upgrade
    # SQLite): create it from the models, then the system actions and
    # workflows.
    db_api.setup_db()
    action_manager.sync_db()
    workflows.sync_db()


def _start_services():
    """Start executor, engine, then the API; return them in stop order."""
    from mistral.api import service as api_service
    from mistral.engine import engine_server
    from mistral.executors import executor_server

    executor = executor_server.get_oslo_service(setup_profiler=False)
    executor.start()
    engine = engine_server.get_oslo_service(setup_profiler=False)
    engine.start()
    executor.wait_started()
    engine.wait_started()
    # The API last: once it answers, executions can run.
    api = api_service.WSGIService('mistral_api')
    api.start()
    return [api, engine, executor]


def main(argv=None):
    """Run until SIGTERM/SIGINT or until the parent process exits."""
    argv = sys.argv[1:] if argv is None else argv
    parent = os.getppid()
    started = time.monotonic()
    _setup(argv)
    services = _start_services()
    LOG.info('Mistral API, engine and executor started in %.1f s',
             time.monotonic() - started)
    launcher.run_until_stopped(services, 'Mistral', parent)


if __name__ == '__main__':
    main()
