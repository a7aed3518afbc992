"""Run Heat's engine and API in one process.

Heat 25+ ships no ``heat-all``, and the in-memory ``fake:/`` transport
cannot carry RPC between a ``heat-engine`` and a ``heat-wsgi-api``
process. Here both share one process: the engine service runs on
oslo.service's threading backend, and the API application (Heat's own
``init_application``: config, logging, messaging, paste pipeline) is
served by cheroot on ``[heat_api] bind_host``/``bind_port`` of the
config, options this launcher registers (Heat no longer has them).

Usage: ``python -m localcloud.heat_launcher --config-file heat.conf``.
The process stops on SIGTERM or SIGINT, and when its parent goes away
(see ``launcher``). Nothing here is meant for production.
"""

import logging
import os
import sys
import threading
import time

from localcloud import launcher

LOG = logging.getLogger(__name__)

#: The config section of the address the API is served on.
BIND_GROUP = 'heat_api'

#: Worker threads of the API server (the database is PostgreSQL).
API_THREADS = 8


def _register_bind_options():
    from oslo_config import cfg

    cfg.CONF.register_opts([
        cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                           help='Address the API is served on.'),
        cfg.PortOpt('bind_port', default=8004,
                    help='Port the API is served on.'),
    ], group=BIND_GROUP)


def _load_api(argv):
    """Parse the config (``argv``) and build the API's WSGI application."""
    # The threading backend, as heat-engine selects it; before anything
    # of oslo.service is used.
    from oslo_service import backend
    backend.init_backend(backend.BackendType.THREADING)
    from heat.api.openstack import wsgi

    _register_bind_options()
    # init_application parses sys.argv: give it ours.
    sys.argv[1:] = argv
    return wsgi.init_application()


class ApiServer:
    """The WSGI application served by cheroot in a thread of its own."""

    def __init__(self, app, host, port):
        from cheroot import wsgi

        self.address = (host, port)
        self._server = wsgi.Server(self.address, app, numthreads=API_THREADS,
                                   server_name='heat-test')
        self._thread = None

    def start(self):
        """Bind now (a taken port fails here), then serve in a thread."""
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve,
                                        daemon=True, name='heat-api')
        self._thread.start()

    def stop(self):
        self._server.stop()

    def __str__(self):
        return 'Heat API on %s:%s' % self.address


def _serialise_yaql_parsing():
    """One yaql parse at a time in this process.

    Heat shares one yaql parser (ply, not thread-safe) between all its
    resources. Under eventlet parses never interleave; on the threading
    backend this launcher uses, two stacks' parses at once fail with
    "Bad expression Parse error" at random.
    """
    from heat.engine.hot import functions

    parse_lock = threading.Lock()
    get_parser = functions.Yaql.get_yaql_parser.__func__

    def locked_parser(cls):
        parser = get_parser(cls)

        def parse(expression, *args, **kwargs):
            with parse_lock:
                return parser(expression, *args, **kwargs)
        return parse

    functions.Yaql.get_yaql_parser = classmethod(locked_parser)


def _start_services(app):
    """Start the engine, then the API; return them in stop order."""
    _serialise_yaql_parsing()
    from heat.engine import service as engine_service
    from heat.rpc import api as rpc_api
    from oslo_config import cfg

    engine = engine_service.EngineService(cfg.CONF.host,
                                          rpc_api.ENGINE_TOPIC)
    engine.start()
    # The API last: once it answers, stacks can be created.
    api = ApiServer(app, cfg.CONF[BIND_GROUP].bind_host,
                    cfg.CONF[BIND_GROUP].bind_port)
    api.start()
    return [api, engine]


def main(argv=None):
    """Run until SIGTERM/SIGINT or until the parent process exits."""
    argv = sys.argv[1:] if argv is None else argv
    parent = os.getppid()
    started = time.monotonic()
    services = _start_services(_load_api(argv))
    LOG.info('Heat engine and API started in %.1f s',
             time.monotonic() - started)
    launcher.run_until_stopped(services, 'Heat', parent)


if __name__ == '__main__':
    main()
