"""Serve Neutron's API in one process: schema, WSGI app, cheroot.

Neutron 29 ships no ``neutron-server`` script, only the WSGI application
``neutron.wsgi.api:application``, and its migrations do not run on
SQLite. This launcher, started by ``neutron.NeutronService`` as::

    python -m localcloud.neutron_launcher CONFIG_DIR

creates the schema from Neutron's models when the database is empty,
loads the application from ``CONFIG_DIR/neutron.conf`` and
``CONFIG_DIR/ml2_conf.ini`` and serves it with cheroot on the
``bind_host``/``bind_port`` of the config, with a single worker thread
(SQLite locks with more). Each request is appended to
``CONFIG_DIR/requests.log`` as ``METHOD PATH STATUS USER-AGENT`` so
tests can count what a client (and not Ironic) asked of Neutron. SIGTERM
stops the server.

Nothing here is meant for production.
"""

import configparser
import logging
import os
import signal
import sys
import traceback

LOG = logging.getLogger(__name__)

CONFIG_FILES = ('neutron.conf', 'ml2_conf.ini')
REQUEST_LOG = 'requests.log'


def read_settings(config_dir):
    """Database URL, host and port from ``neutron.conf``.

    Read with configparser because oslo.config must be initialised by
    Neutron itself (it parses ``sys.argv`` once, when the app loads).
    """
    parser = configparser.ConfigParser(interpolation=None)
    path = os.path.join(config_dir, CONFIG_FILES[0])
    if not parser.read(path):
        sys.exit('cannot read %s' % path)
    try:
        return (parser.get('database', 'connection'),
                parser.get('DEFAULT', 'bind_host'),
                parser.getint('DEFAULT', 'bind_port'))
    except (configparser.Error, ValueError) as exc:
        sys.exit('%s: %s' % (path, exc))


def create_schema(database_url):
    """Create Neutron's tables from its models, unless they exist.

    ``neutron-db-manage`` runs alembic migrations that SQLite cannot
    (ALTER of constraints); the models give the same head schema.
    """
    import sqlalchemy

    from neutron.db.migration.models import head  # noqa: F401 (models)
    from neutron_lib.db import model_base

    engine = sqlalchemy.create_engine(database_url)
    try:
        if sqlalchemy.inspect(engine).has_table('ports'):
            return
        model_base.BASEV2.metadata.create_all(engine)
    finally:
        engine.dispose()


def counting(app, log_path):
    """Wrap a WSGI app to log ``METHOD PATH?QUERY STATUS AGENT`` lines."""
    log = open(log_path, 'a', buffering=1)

    def counted(environ, start_response):
        # Read now: URL maps further down rewrite PATH_INFO in place.
        path = environ.get('PATH_INFO') or '/'
        if environ.get('QUERY_STRING'):
            path = '%s?%s' % (path, environ['QUERY_STRING'])
        method = environ.get('REQUEST_METHOD')
        agent = ' '.join(environ.get('HTTP_USER_AGENT', '-').split())

        def record(status, headers, exc_info=None):
            log.write('%s %s %s %s\n' % (method, path.replace(' ', '%20'),
                                         status.split(' ', 1)[0], agent))
            return start_response(status, headers, exc_info)
        return app(environ, record)

    return counted


class SeedBindingFilter(logging.Filter):
    """Drop ML2's messages about retrying and failing port bindings.

    On VIF attach Ironic seeds the port with only ``binding:host_id``
    (the local link information comes when the tenant network is
    configured, which the fake deploy interface never does), so ML2 tries
    ten times and logs a failed binding at ERROR each time. Expected
    here, these twenty lines per attach would fill the log tails attached
    to failed tests.
    """

    LOGGERS = ('neutron.plugins.ml2.managers', 'neutron.plugins.ml2.plugin')
    MESSAGES = ('Failed to bind port ', 'Attempt ')

    def filter(self, record):
        return not record.getMessage().startswith(self.MESSAGES)

    @classmethod
    def install(cls):
        for name in cls.LOGGERS:
            logging.getLogger(name).addFilter(cls())


def _interrupted(signum, frame):
    raise SystemExit(0)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m %s CONFIG_DIR' % __spec__.name)
    config_dir = os.path.abspath(argv[0])
    database_url, host, port = read_settings(config_dir)
    create_schema(database_url)

    os.environ['OS_NEUTRON_CONFIG_DIR'] = config_dir
    os.environ['OS_NEUTRON_CONFIG_FILES'] = ';'.join(CONFIG_FILES)
    # Neutron hands sys.argv to oslo.config: leave it nothing to parse.
    del sys.argv[1:]
    from cheroot import wsgi

    from neutron.wsgi import api

    SeedBindingFilter.install()
    app = counting(api.application, os.path.join(config_dir, REQUEST_LOG))
    server = wsgi.Server((host, port), app, numthreads=1, max=1,
                         server_name='neutron-test')
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    code = 0
    try:
        LOG.info('Serving Neutron on http://%s:%s', host, port)
        server.start()
    except SystemExit:
        LOG.info('Neutron stopping')
    except Exception:
        # E.g. the port is taken: say why, and exit non-zero.
        LOG.exception('Neutron could not serve on %s:%s', host, port)
        traceback.print_exc()
        code = 1
    finally:
        server.stop()
    # oslo leaves non-daemon threads behind: do not wait for them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == '__main__':
    main()
