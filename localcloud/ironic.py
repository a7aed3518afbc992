"""A real Ironic with fake hardware: one process, or conductor and API.

No Keystone (``noauth``), no message queue, no DHCP; every hardware
interface is ``fake``, so deploys, cleaning and power actions succeed in
a fraction of a second (or take ``[fake]`` delays). The database is the
caller's: PostgreSQL when clients write concurrently (see postgres.py),
SQLite otherwise.

By default API and conductor share one process (the ``ironic`` command,
``rpc_transport = none``). With ``api_workers`` Ironic runs as an
undercloud runs it: an ``ironic-conductor`` process and an
``ironic-api`` process with that many WSGI workers (all sharing one
listening socket, see ironic_api_launcher), talking JSON-RPC over
127.0.0.1. Several processes then write the database: PostgreSQL only.

The API's access log (one ``ironic.api`` line per request) lets a test
count requests, e.g. to prove that a re-run writes nothing.
"""

import collections
import datetime
import logging
import os
import re
import sys
import time

import openstack

from localcloud import exceptions
from localcloud import http
from localcloud import inifile
from localcloud import process
from localcloud import service
from tripleo_baremetal import api

LOG = logging.getLogger(__name__)

FAKE_INTERFACES = {
    'enabled_hardware_types': 'fake-hardware',
    'enabled_bios_interfaces': 'fake,no-bios',
    'enabled_boot_interfaces': 'fake',
    'enabled_console_interfaces': 'fake,no-console',
    'enabled_deploy_interfaces': 'fake',
    'enabled_firmware_interfaces': 'fake,no-firmware',
    'enabled_inspect_interfaces': 'fake,no-inspect',
    'enabled_management_interfaces': 'fake',
    'enabled_network_interfaces': 'noop',
    'enabled_power_interfaces': 'fake',
    'enabled_raid_interfaces': 'fake,no-raid',
    'enabled_rescue_interfaces': 'fake,no-rescue',
    'enabled_storage_interfaces': 'noop,fake',
    'enabled_vendor_interfaces': 'fake,no-vendor',
    'default_network_interface': 'noop',
    'default_deploy_interface': 'fake',
}

#: The access log line of a request, e.g.
#: ``... INFO ironic.api [...] 127.0.0.1 - GET /v1/nodes?x=y - 200 (3.1ms)``
_ACCESS_LOG = re.compile(
    r' ironic\.api \[[^]]*\] \S+ - (?P<method>[A-Z]+) (?P<path>\S*) - '
    r'(?P<status>\S+) \(')

#: Logged by Ironic's process manager when its service process dies; it
#: then respawns it for ever, so this is how a broken start shows.
_CHILD_EXITED = re.compile(r'Child \d+ exited with status [1-9]')

Request = collections.namedtuple('Request', ['method', 'path', 'status'])

#: The conductor's ``[DEFAULT] host`` with api_workers: JSON-RPC clients
#: connect to the host name it registers (with the JSON-RPC port).
CONDUCTOR_HOST = process.LOOPBACK

#: The module ``ironic-api`` runs through with api_workers.
API_LAUNCHER = 'localcloud.ironic_api_launcher'


def path_prefix(path):
    """A request path reduced to its collection and sub-resource.

    ``/v1/nodes/<id>/states/provision?x=y`` becomes
    ``/v1/nodes/*/states/provision``, ``/v1/nodes?x=y`` ``/v1/nodes``: a
    key to count requests by what they do rather than by node.
    """
    parts = path.split('?', 1)[0].rstrip('/').split('/')
    if len(parts) > 3:
        parts[3] = '*'
    return '/'.join(parts) or '/'


def topology(api_workers=None):
    """What runs for ``api_workers`` (see IronicService), for reports."""
    if api_workers is None:
        return 'one ironic process'
    return 'ironic-conductor + ironic-api with %d workers (JSON-RPC)' % (
        api_workers)


def _check_topology(database_url, api_workers):
    """Refuse api_workers Ironic cannot run with (see IronicService)."""
    if api_workers is None:
        return
    if api_workers < 1:
        raise exceptions.ServiceError(
            'api_workers must be at least 1, not %s' % api_workers)
    if database_url.startswith('sqlite'):
        raise exceptions.ServiceError(
            'Ironic with api_workers (separate conductor and API '
            'processes) needs PostgreSQL: several processes must not '
            'write one SQLite file (see localcloud.postgres), got %s'
            % database_url)


class IronicService(service.ApiService):
    """Ironic with the fake-hardware type, served on 127.0.0.1.

    :param base_dir: an existing directory; config, logs and locks go to an
        ``ironic`` directory inside.
    :param database_url: SQLAlchemy URL of an empty database.
    :param fake_deploy_delay: seconds each fake deploy step sleeps
        (``[fake] deploy_delay``), to let a test observe ``deploying``.
    :param config: extra ``{section: {option: value}}`` merged over the
        defaults (None removes an option), e.g. a ``[neutron]`` section and
        the ``flat`` network interface.
    :param port: API port; a free one by default.
    :param start_timeout: seconds allowed for each start step; a crash
        is reported at once, this only bounds a hang or a very busy host.
    :param api_workers: None for one ``ironic`` process; a number for an
        ``ironic-conductor`` process and an ``ironic-api`` one with that
        many workers (``log_file`` is then the conductor's log,
        ``api_log_file`` the API's, and ``rpc_port`` the conductor's
        JSON-RPC port once started).
    :raises: ServiceError with api_workers on SQLite.
    """

    name = 'ironic'
    log_name = 'ironic.log'
    ready_what = 'Ironic to list fake-hardware'

    def __init__(self, base_dir, database_url, fake_deploy_delay=None,
                 config=None, port=None, start_timeout=120,
                 api_workers=None):
        super().__init__(base_dir, config=config, port=port,
                         start_timeout=start_timeout)
        _check_topology(database_url, api_workers)
        self.database_url = database_url
        self.fake_deploy_delay = fake_deploy_delay
        self.api_workers = api_workers
        self.rpc_port = None
        self.config_file = os.path.join(self.dir, 'ironic.conf')
        self.api_log_file = os.path.join(self.dir, 'ironic-api.log')
        self.api_console_log = os.path.join(self.dir, 'api-console.log')
        self._log_offset = 0

    @property
    def split(self):
        """Whether conductor and API run as processes of their own."""
        return self.api_workers is not None

    @property
    def topology(self):
        """What runs, for reports: one process, or conductor and API."""
        return topology(self.api_workers)

    @property
    def access_log(self):
        """The log holding the API's access lines (the API process's)."""
        return self.api_log_file if self.split else self.log_file

    def config(self):
        """The configuration written to ironic.conf, as nested dicts."""
        default = dict(FAKE_INTERFACES,
                       auth_strategy='noauth',
                       rpc_transport='json-rpc' if self.split else 'none',
                       host=CONDUCTOR_HOST if self.split else 'test-conductor',
                       my_ip=process.LOOPBACK,
                       log_file=self.log_file,
                       use_stderr=False,
                       debug=False)
        database = {'connection': self.database_url}
        if self.database_url.startswith('sqlite'):
            database['sqlite_synchronous'] = False
        config = {
            'DEFAULT': default,
            'api': {'host_ip': process.LOOPBACK, 'port': self.port},
            # Seconds a stopping conductor waits for locked nodes.
            'conductor': {'node_history': False, 'automated_clean': True,
                          'graceful_shutdown_timeout': 2},
            'database': database,
            'dhcp': {'dhcp_provider': 'none'},
            'oslo_concurrency': {'lock_path': os.path.join(self.dir,
                                                           'locks')},
        }
        if self.fake_deploy_delay is not None:
            config['fake'] = {'deploy_delay': self.fake_deploy_delay}
        if self.split:
            config['api']['api_workers'] = self.api_workers
            config['json_rpc'] = {'auth_strategy': 'noauth',
                                  'host_ip': process.LOOPBACK,
                                  'port': self.rpc_port}
        return inifile.merge(config, self.extra_config)

    def prepare(self):
        """Write the config and create the schema.

        :raises: ServiceError (with the command's output) when the schema
            cannot be created.
        """
        if self.split:
            self.rpc_port = self.rpc_port or process.free_port()
        inifile.write(self.config_file, self.config())
        process.run([process.find_executable('ironic-dbsync'),
                     '--config-file', self.config_file, 'create_schema'],
                    self.console_log, timeout=self.start_timeout)
        LOG.debug('Ironic schema created in %.1f s',
                  time.monotonic() - self._started_at)

    def command(self):
        return [process.find_executable('ironic'), '--config-file',
                self.config_file]

    def processes(self):
        """One ``ironic``, or the conductor then the API (api_workers).

        Both read ironic.conf; the API logs to ``api_log_file`` instead
        of the conductor's ``log_file``.
        """
        if not self.split:
            return super().processes()
        conductor = [process.find_executable('ironic-conductor'),
                     '--config-file', self.config_file]
        api = [sys.executable, '-m', API_LAUNCHER,
               '--config-file', self.config_file,
               '--log-file', self.api_log_file]
        return [
            service.Process('ironic-conductor', conductor, self.console_log,
                            self.log_file),
            service.Process('ironic-api', api, self.api_console_log,
                            self.api_log_file),
        ]

    def log_files(self):
        return [self.log_file, self.api_log_file] if self.split \
            else [self.log_file]

    def console_logs(self):
        return [self.console_log, self.api_console_log] if self.split \
            else [self.console_log]

    def is_ready(self):
        """``GET /v1/drivers`` lists fake-hardware.

        Only a registered conductor's hardware types are listed, so with
        api_workers this also says the API reaches the database the
        conductor registered in.
        """
        for path in self.log_files():
            log = service.read_complete_lines(path, 0).decode(
                'utf-8', 'replace')
            if _CHILD_EXITED.search(log):
                raise exceptions.ServiceError(
                    'An Ironic service process exited during start\n%s'
                    % self.log_tail())
        body = http.get_json(self.url + '/v1/drivers')
        return bool(body) and any(driver.get('name') == 'fake-hardware'
                                  for driver in body.get('drivers', ()))

    def connection(self):
        """An openstacksdk Connection to this Ironic, without Keystone.

        HTTP 409 is not retried (the SDK's default is five retries, ~15 s
        per conflict), dropped connections are, and neither clouds.yaml
        nor ``OS_*`` variables are read, so a developer's own cloud
        settings cannot leak in.
        """
        # Reads and deletes are retried after a dropped connection (the
        # embedded server closes idle keep-alive connections), as the
        # connections of our actions are.
        return api.install_retries(openstack.connect(
            auth_type='none', baremetal_endpoint_override=self.url,
            baremetal_status_code_retries=0,
            load_yaml_config=False, load_envvars=False),
            retries=3, delay=0.1)

    def _access_lines(self):
        """``(line, Request)`` of each access line since the last reset."""
        text = service.read_complete_lines(self.access_log,
                                           self._log_offset)
        for line in text.decode('utf-8', 'replace').splitlines():
            match = _ACCESS_LOG.search(line)
            if match:
                yield line, Request(match.group('method'),
                                    match.group('path'),
                                    match.group('status'))

    def requests(self):
        """API requests served since start or reset_request_counts().

        :returns: a list of ``Request(method, path, status)``, oldest
            first; ``path`` includes the query string.
        """
        return [request for _line, request in self._access_lines()]

    def requests_with_times(self):
        """``(epoch seconds, Request)`` of the requests requests() gives.

        The time is the access log line's (when Ironic answered).
        """
        return [(datetime.datetime.strptime(
            line[:23], '%Y-%m-%d %H:%M:%S.%f').timestamp(), request)
            for line, request in self._access_lines()]

    def request_counts(self, by_path=False):
        """A Counter of the requests served since the last reset.

        :param by_path: count by ``'METHOD prefix'`` (see path_prefix),
            e.g. ``'PUT /v1/nodes/*/states/provision'``, instead of by
            method alone.
        """
        if by_path:
            return collections.Counter(
                '%s %s' % (req.method, path_prefix(req.path))
                for req in self.requests())
        return collections.Counter(req.method for req in self.requests())

    def reset_request_counts(self):
        """Count requests from now on only."""
        self._log_offset += len(service.read_complete_lines(
            self.access_log, self._log_offset))
