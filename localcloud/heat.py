"""A real Heat (API and engine in one process) on 127.0.0.1.

No Keystone: the API's ``noauth`` paste flavour makes every request an
admin's and hands the engine a fixed token body (``token_response``)
whose service catalog lists this Heat, our Mistral (``workflowv2``,
which ``OS::Mistral::ExternalResource`` calls) and optionally our
Neutron; Keystone calls of the engine go to Heat's fake Keystone client.
No message queue: the in-memory ``fake:/`` transport, which works
because heat_launcher runs the engine and the API in one process.
PostgreSQL (SQLite needs foreign keys and immediate transactions
switched on, and still locks with parallel resources).

Heat sleeps one second between leaf resources of a stack, so ten
independent resources take about ten seconds whatever they do.
"""

import json
import logging
import os
import sys
import time

from heatclient import client as heat_client

from localcloud import exceptions
from localcloud import heat_launcher
from localcloud import http
from localcloud import inifile
from localcloud import process
from localcloud import service

LOG = logging.getLogger(__name__)

#: The project in the orchestration URL (noauth does not check it).
PROJECT = 'admin'
REGION = 'RegionOne'
#: A far-away expiry: the engine refuses expired tokens.
TOKEN_EXPIRES = '2099-12-31T23:59:59.000000Z'
#: Nothing answers here: no call should need Keystone itself, and one
#: that does fails at once instead of hanging.
IDENTITY_URL = 'http://%s:9/v3' % process.LOOPBACK

#: Policy defaults of older releases: noauth gives only the ``admin``
#: role, and the new defaults want ``reader`` and project scope (403).
POLICY = {'enforce_new_defaults': False, 'enforce_scope': False}


def paste_config():
    """The api-paste.ini installed with the openstack-heat package.

    pip installs Heat's data files under the environment's prefix, so the
    file matching the running Heat is the one of this interpreter.
    """
    path = os.path.join(sys.prefix, 'etc', 'heat', 'api-paste.ini')
    if not os.path.exists(path):
        raise exceptions.ServiceError(
            '%s not found: install openstack-heat in the environment '
            'running the tests (%s)' % (path, sys.executable))
    return path


def catalog_entry(service_type, name, url):
    """A Keystone v3 catalog entry with the same URL on every interface."""
    return {
        'type': service_type,
        'name': name,
        'id': name,
        'endpoints': [{'id': '%s-%s' % (name, interface),
                       'interface': interface,
                       'region': REGION,
                       'region_id': REGION,
                       'url': url}
                      for interface in ('public', 'internal', 'admin')],
    }


def token_body(catalog):
    """A Keystone v3 token body for admin of project admin, never expiring.

    :param catalog: catalog entries (see catalog_entry).
    """
    domain = {'id': 'default', 'name': 'Default'}
    return {'token': {
        'methods': ['password'],
        'issued_at': '2000-01-01T00:00:00.000000Z',
        'expires_at': TOKEN_EXPIRES,
        'roles': [{'id': 'admin', 'name': 'admin'}],
        'project': {'id': PROJECT, 'name': PROJECT, 'domain': domain},
        'user': {'id': 'admin', 'name': 'admin', 'domain': domain},
        'catalog': catalog,
    }}


class HeatService(service.ApiService):
    """Heat's API and engine served on 127.0.0.1, without Keystone.

    :param base_dir: an existing directory; config, token file and logs
        go to a ``heat`` directory inside.
    :param database_url: SQLAlchemy URL of an empty database (PostgreSQL,
        e.g. ``PostgresCluster.create_database('heat')``).
    :param mistral_url: Mistral's API root (``MistralService.url``); the
        catalog lists its ``/v2`` as ``workflowv2``.
    :param neutron_url: Neutron's API root (``NeutronService.url``),
        listed as ``network``; None leaves Neutron out.
    :param config: extra ``{section: {option: value}}`` for heat.conf,
        merged over the defaults (None removes an option).
    :param port: API port; a free one by default.
    :param start_timeout: seconds allowed for each start step; a crash
        is reported at once, this only bounds a hang or a very busy host.
    """

    name = 'heat'
    log_name = 'heat.log'
    ready_what = 'Heat to list stacks'

    def __init__(self, base_dir, database_url, mistral_url,
                 neutron_url=None, config=None, port=None,
                 start_timeout=120):
        super().__init__(base_dir, config=config, port=port,
                         start_timeout=start_timeout)
        self.database_url = database_url
        self.mistral_url = mistral_url.rstrip('/')
        self.neutron_url = neutron_url
        self.config_file = os.path.join(self.dir, 'heat.conf')
        self.token_file = os.path.join(self.dir, 'token.json')

    @property
    def url(self):
        """The orchestration endpoint, ``http://127.0.0.1:<port>/v1/admin``."""
        return '%s/v1/%s' % (super().url, PROJECT)

    def catalog(self):
        """The service catalog the engine sees, as Keystone v3 entries."""
        catalog = [catalog_entry('orchestration', 'heat', self.url),
                   catalog_entry('workflowv2', 'mistral',
                                 self.mistral_url + '/v2'),
                   catalog_entry('identity', 'keystone', IDENTITY_URL)]
        if self.neutron_url:
            catalog.append(catalog_entry('network', 'neutron',
                                         self.neutron_url))
        return catalog

    def config(self):
        """heat.conf as nested dicts."""
        default = {
            'transport_url': 'fake:/',
            'host': 'test-heat',
            'num_engine_workers': 1,
            'convergence_engine': True,
            'deferred_auth_method': 'password',
            'keystone_backend': 'heat.engine.clients.os.keystone.'
                                'fake_keystoneclient.FakeKeystoneClient',
            'region_name_for_services': REGION,
            'log_file': self.log_file,
            'use_stderr': False,
            'debug': False,
        }
        return inifile.merge({
            'DEFAULT': default,
            'database': {'connection': self.database_url},
            heat_launcher.BIND_GROUP: {'bind_host': process.LOOPBACK,
                                       'bind_port': self.port},
            'noauth': {'token_response': self.token_file},
            'paste_deploy': {'flavor': 'noauth',
                             'api_paste_config': paste_config()},
            'oslo_policy': POLICY,
            'oslo_concurrency': {'lock_path': os.path.join(self.dir,
                                                           'locks')},
        }, self.extra_config)

    def prepare(self):
        """Write the config and the token, and create the schema.

        :raises: ServiceError (with the command's output) when the schema
            cannot be created.
        """
        inifile.write(self.config_file, self.config())
        with open(self.token_file, 'w') as stream:
            json.dump(token_body(self.catalog()), stream, indent=1)
        process.run([process.find_executable('heat-manage'),
                     '--config-file', self.config_file, 'db_sync'],
                    self.console_log, timeout=self.start_timeout)
        LOG.debug('Heat schema created in %.1f s',
                  time.monotonic() - self._started_at)

    def command(self):
        return [sys.executable, '-m', heat_launcher.__name__,
                '--config-file', self.config_file]

    def is_ready(self):
        """``GET /v1/admin/stacks`` answers with a list.

        The API asks the engine (an RPC call), so both are up by then.
        """
        body = http.get_json(self.url + '/stacks')
        return isinstance(body, dict) and 'stacks' in body

    def client(self):
        """A python-heatclient v1 client for this Heat (any token works)."""
        return heat_client.Client('1', endpoint=self.url, token='x')
