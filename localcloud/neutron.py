"""A real Neutron API (ML2, fake switch) for Ironic's ``flat`` interface.

Ironic's ``noop`` network interface accepts VIFs and forgets them, so a
test against it cannot tell whether ports were attached at all. This
Neutron lets Ironic's ``flat`` network interface make its real calls:
VIF attach looks the port up and binds it to the node
(``binding:host_id``), detach unbinds it, an unknown port is refused.

No Keystone (``noauth``: every request is an admin's), no message queue
(``fake:/`` transport: there are no agents to talk to), SQLite with a
schema created from the models (Neutron's migrations do not run on
SQLite), ML2 with flat and VLAN types and the networking-generic-switch
mechanism driver talking to a fake switch ``tor1``. The API is served by
cheroot with one worker thread (see ``neutron_launcher``); every request
is recorded so tests can count Neutron reads.

Ironic ports must carry ``physical_network`` (``PHYSNET``) and a
``local_link_connection`` naming the switch (``switch_info`` ``tor1``, or
``switch_id`` ``SWITCH_MAC``, plus a ``port_id``) for the port binding to
succeed; see ``local_link_connection()``.
"""

import collections
import logging
import os
import sys

import openstack

from localcloud import exceptions
from localcloud import http
from localcloud import inifile
from localcloud import ironic
from localcloud import neutron_launcher
from localcloud import process
from localcloud import service

LOG = logging.getLogger(__name__)

#: The physical network of the flat and VLAN networks.
PHYSNET = 'physnet1'
#: The fake switch's name (``switch_info``) and MAC (``switch_id``).
SWITCH = 'tor1'
SWITCH_MAC = '00:11:22:33:44:55'
VLAN_RANGE = '100:200'

#: The one policy change from Neutron's defaults: binding profile updates
#: (Ironic sends them) need the service role, and noauth is only admin.
POLICY = {'service_api': 'role:service or role:admin'}

#: One API request: ``user_agent`` tells a test's own requests from
#: Ironic's (give the test's connection an ``app_name``).
Request = collections.namedtuple('Request', ['method', 'path', 'status',
                                             'user_agent'])


def local_link_connection(port_id, switch=SWITCH):
    """The ``local_link_connection`` of an Ironic port on the fake switch."""
    return {'switch_id': SWITCH_MAC, 'switch_info': switch,
            'port_id': port_id}


def wired(specs):
    """Node specs wired to the fake switch for Ironic's ``flat`` interface.

    Each spec gets the ``flat`` network interface and an Ironic port on
    ``PHYSNET`` with a ``local_link_connection`` to switch port
    ``Ethernet<n>`` (unless the spec sets its own ``port``).
    """
    result = []
    for index, spec in enumerate(specs):
        port = {'physical_network': PHYSNET,
                'local_link_connection': local_link_connection(
                    'Ethernet%d' % index),
                'pxe_enabled': True}
        port.update(spec.get('port') or {})
        result.append(dict(spec, network_interface='flat', port=port))
    return result


def paste_config():
    """The api-paste.ini installed with the neutron package.

    pip installs Neutron's data files under the environment's prefix, so
    the file matching the running Neutron is the one of this interpreter.
    """
    path = os.path.join(sys.prefix, 'etc', 'neutron', 'api-paste.ini')
    if not os.path.exists(path):
        raise exceptions.ServiceError(
            '%s not found: install neutron in the environment running the '
            'tests (%s)' % (path, sys.executable))
    return path


class NeutronService(service.ApiService):
    """Neutron's API with ML2 and a fake switch, served on 127.0.0.1.

    :param base_dir: an existing directory; config, database and logs go
        to a ``neutron`` directory inside.
    :param port: API port; a free one by default.
    :param config: extra ``{section: {option: value}}`` for neutron.conf,
        merged over the defaults (None removes an option).
    :param start_timeout: seconds allowed for the API to answer.
    """

    name = 'neutron'
    log_name = 'neutron.log'
    ready_what = 'Neutron to list networks'

    def __init__(self, base_dir, port=None, config=None, start_timeout=60):
        super().__init__(base_dir, config=config, port=port,
                         start_timeout=start_timeout)
        self.config_file = os.path.join(self.dir, 'neutron.conf')
        self.ml2_config_file = os.path.join(self.dir, 'ml2_conf.ini')
        self.policy_file = os.path.join(self.dir, 'policy.yaml')
        self.request_log = os.path.join(self.dir,
                                        neutron_launcher.REQUEST_LOG)
        self._log_offset = 0

    def config(self):
        """neutron.conf as nested dicts."""
        default = {
            'core_plugin': 'ml2',
            'service_plugins': '',
            'auth_strategy': 'noauth',
            # Without a transport, port creation hangs on AMQP.
            'transport_url': 'fake:/',
            'notify_nova_on_port_status_changes': False,
            'notify_nova_on_port_data_changes': False,
            'dhcp_agent_notification': False,
            'bind_host': process.LOOPBACK,
            'bind_port': self.port,
            'api_paste_config': paste_config(),
            'host': 'test-neutron',
            'log_file': self.log_file,
            'use_stderr': False,
            'debug': False,
        }
        return inifile.merge({
            'DEFAULT': default,
            'database': {'connection': 'sqlite:///%s' % os.path.join(
                self.dir, 'neutron.sqlite'),
                'sqlite_synchronous': False},
            'oslo_concurrency': {'lock_path': os.path.join(self.dir,
                                                           'locks')},
            'oslo_policy': {'policy_file': self.policy_file},
        }, self.extra_config)

    def ml2_config(self):
        """ml2_conf.ini as nested dicts: flat/VLAN on PHYSNET, fake switch."""
        return {
            'ml2': {'type_drivers': 'flat,vlan',
                    'project_network_types': '',
                    'mechanism_drivers': 'genericswitch',
                    # Tags in a (bulk) port create, as on an undercloud
                    # that makes ports tripleo-ansible's way.
                    'extension_drivers': 'port_security,'
                                         'tag_ports_during_bulk_creation'},
            'ml2_type_flat': {'flat_networks': '*'},
            'ml2_type_vlan': {'network_vlan_ranges': '%s:%s' % (
                PHYSNET, VLAN_RANGE)},
            'genericswitch:%s' % SWITCH: {'device_type': 'netmiko_fake',
                                          'ngs_mac_address': SWITCH_MAC},
        }

    def prepare(self):
        """Write the configuration (the launcher creates the schema)."""
        inifile.write(self.config_file, self.config())
        inifile.write(self.ml2_config_file, self.ml2_config())
        with open(self.policy_file, 'w') as stream:
            for rule, check in POLICY.items():
                stream.write('"%s": "%s"\n' % (rule, check))

    def command(self):
        return [sys.executable, '-m', neutron_launcher.__name__, self.dir]

    def process_options(self):
        return {'cwd': self.dir}

    def is_ready(self):
        """``GET /v2.0/networks`` answers."""
        body = http.get_json(self.url + '/v2.0/networks')
        return isinstance(body, dict) and 'networks' in body

    def connection(self, **kwargs):
        """An openstacksdk Connection to this Neutron, without Keystone.

        :param kwargs: more ``openstack.connect`` arguments, e.g.
            ``baremetal_endpoint_override`` for a connection reaching
            Ironic too.
        """
        kwargs.setdefault('network_endpoint_override', self.url)
        return openstack.connect(auth_type='none', load_yaml_config=False,
                                 load_envvars=False, **kwargs)

    def ironic_config(self, provisioning_network_id):
        """Extra Ironic config for the ``flat`` interface using this Neutron.

        :param provisioning_network_id: UUID or name of a flat network on
            PHYSNET, used as Ironic's provisioning and cleaning network.
            Ironic resolves a name when it first needs the network, so it
            may be started before the network is created.
        :returns: ``{section: {option: value}}`` for ``IronicService``.
        """
        return {
            'DEFAULT': {'enabled_network_interfaces': 'flat,noop',
                        'default_network_interface': 'flat'},
            'neutron': {'auth_type': 'none',
                        'endpoint_override': self.url,
                        'cleaning_network': provisioning_network_id,
                        'provisioning_network': provisioning_network_id},
        }

    def requests(self, user_agent=None):
        """API requests served since start or reset_request_counts().

        :param user_agent: only requests whose User-Agent contains this
            text (e.g. the ``app_name`` of a connection).
        :returns: a list of ``Request(method, path, status, user_agent)``,
            oldest first; ``path`` includes the query string.
        """
        found = []
        text = service.read_complete_lines(self.request_log,
                                           self._log_offset)
        for line in text.decode('utf-8', 'replace').splitlines():
            parts = line.split(' ', 3)
            if len(parts) == 4 and (user_agent is None
                                    or user_agent in parts[3]):
                found.append(Request(*parts))
        return found

    def request_counts(self, by_path=False, user_agent=None):
        """A Counter of the requests served since the last reset.

        :param by_path: count by ``'METHOD prefix'``, e.g.
            ``'GET /v2.0/ports'`` (see ``ironic.path_prefix``), instead of
            by method alone.
        :param user_agent: count only requests whose User-Agent contains
            this text.
        """
        requests = self.requests(user_agent=user_agent)
        if by_path:
            return collections.Counter(
                '%s %s' % (req.method, ironic.path_prefix(req.path))
                for req in requests)
        return collections.Counter(req.method for req in requests)

    def reset_request_counts(self):
        """Count requests from now on only."""
        self._log_offset += len(service.read_complete_lines(
            self.request_log, self._log_offset))
