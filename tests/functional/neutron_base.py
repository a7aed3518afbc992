"""Functional test base with a real Neutron behind Ironic's ``flat`` interface.

``IronicTestCase`` runs Ironic with the ``noop`` network interface, which
accepts VIFs and forgets them: port handling cannot be tested there.
``NeutronIronicTestCase`` adds a Neutron (see ``localcloud.neutron``),
starts Ironic with the ``flat`` network interface pointed at it, and
creates the ctlplane network (flat, on the fake switch's physical
network) and its subnet, with a gateway, DNS servers, a host route and
a non-default MTU, so that every one of them can be traced into a config
drive. Nodes are enrolled with an Ironic port on that physical network
and a ``local_link_connection`` to the fake switch, as Ironic needs to
bind Neutron ports to them.

Neutron starts first (it is the slowest) and boots while PostgreSQL and
Ironic start. Ironic is given the ctlplane network by name, so it can be
started before the network exists.
"""

import unittest

from localcloud import inifile
from localcloud import neutron
from localcloud import process
from tests.functional import base

try:
    import networking_generic_switch
    import neutron as neutron_package
except ImportError:   # the functional environment lacks them
    networking_generic_switch = neutron_package = None

#: The User-Agent prefix of the tests' own requests: tells them apart from
#: Ironic's in Neutron's request log.
APP_NAME = 'tripleo-baremetal-functional'


class NeutronIronicTestCase(base.IronicTestCase):
    """Ironic with the ``flat`` network interface, on a real Neutron.

    ``cls.neutron`` is the NeutronService, ``cls.conn`` a Connection
    reaching both Ironic and Neutron (409 not retried; its requests carry
    ``APP_NAME`` in their User-Agent), ``cls.ctlplane_network`` and
    ``cls.ctlplane_subnet`` the ctlplane network and subnet.
    """

    CTLPLANE_NETWORK = {'name': 'ctlplane', 'mtu': 1450}
    CTLPLANE_SUBNET = {
        'name': 'ctlplane-subnet',
        'cidr': '192.168.24.0/24',
        'gateway_ip': '192.168.24.1',
        'dns_nameservers': ['192.168.24.253', '192.168.24.252'],
        'host_routes': [{'destination': '10.20.0.0/16',
                         'nexthop': '192.168.24.254'}],
        'allocation_pools': [{'start': '192.168.24.100',
                              'end': '192.168.24.200'}],
    }

    @classmethod
    def setUpClass(cls):
        if neutron_package is None or networking_generic_switch is None:
            raise unittest.SkipTest(
                'neutron and networking-generic-switch are not installed '
                'in this environment: run the functional tests with '
                'python3 tools/tox -e functional, which installs '
                'functional-requirements.txt')
        super().setUpClass()
        cls.conn = cls.neutron.connection(
            baremetal_endpoint_override=cls.ironic.url,
            baremetal_status_code_retries=0, app_name=APP_NAME)
        cls.ctlplane_network = cls.conn.network.create_network(
            provider_network_type='flat',
            provider_physical_network=neutron.PHYSNET,
            **cls.CTLPLANE_NETWORK)
        cls.ctlplane_subnet = cls.conn.network.create_subnet(
            network_id=cls.ctlplane_network.id, ip_version=4,
            is_dhcp_enabled=False, **cls.CTLPLANE_SUBNET)

    @classmethod
    def _start_services(cls):
        cls.neutron = neutron.NeutronService(cls.base_dir,
                                             port=process.free_port())
        cls.addClassCleanup(cls.neutron.stop)
        # Known before Ironic starts: only the URL is needed, and Ironic
        # resolves the network name when it first uses it.
        cls.ironic.extra_config = inifile.merge(
            cls.neutron.ironic_config(cls.CTLPLANE_NETWORK['name']),
            cls.IRONIC_OPTIONS)
        cls.neutron.start(wait=False)
        super()._start_services()
        cls.neutron.wait_ready()

    @classmethod
    def service_logs(cls, lines=base.FAILURE_LOG_LINES):
        return '%s\n%s' % (super().service_logs(lines),
                           cls.neutron.log_tail(lines))

    def enrol_nodes(self, specs):
        """Enrol nodes wired to the fake switch on the flat network.

        Each spec gets the ``flat`` network interface and an Ironic port
        on ``neutron.PHYSNET`` with a ``local_link_connection`` to switch
        port ``Ethernet<n>`` (unless the spec sets its own ``port``).
        """
        return super().enrol_nodes(neutron.wired(specs))

    def create_heat_port(self, name, ip_address):
        """Create a ctlplane port the way Heat does, with a fixed IP."""
        port = self.conn.network.create_port(
            name=name, network_id=self.ctlplane_network.id,
            fixed_ips=[{'subnet_id': self.ctlplane_subnet.id,
                        'ip_address': ip_address}])
        self.addCleanup(self.conn.network.delete_port, port.id,
                        ignore_missing=True)
        return port

    def heat_port_entry(self, port):
        """``RoleCtlplanePortMap`` entry of ``port``.

        See doc/source/instances.md.
        """
        network, subnet = self.ctlplane_network, self.ctlplane_subnet
        return {
            'id': port.id,
            'name': port.name,
            'mac_address': port.mac_address,
            'fixed_ips': [dict(ip) for ip in port.fixed_ips],
            'network': {'id': network.id, 'name': network.name,
                        'mtu': network.mtu, 'tags': [subnet.cidr]},
            'subnets': [{'id': subnet.id, 'cidr': subnet.cidr,
                         'gateway_ip': subnet.gateway_ip,
                         'host_routes': [dict(route) for route
                                         in subnet.host_routes],
                         'dns_nameservers': list(subnet.dns_nameservers),
                         'ip_version': subnet.ip_version,
                         'enable_dhcp': subnet.is_dhcp_enabled}],
        }

    def neutron_reads(self):
        """This test's own Neutron reads since the last reset.

        :returns: ``{'GET /v2.0/ports': count, ...}`` by collection;
            Ironic's requests are left out.
        """
        counts = self.neutron.request_counts(by_path=True,
                                             user_agent=APP_NAME)
        return {key: count for key, count in counts.items()
                if key.startswith('GET ')}


class NeutronMistralTestCase(NeutronIronicTestCase, base.MistralTestCase):
    """NeutronIronicTestCase with a real Mistral whose actions reach Neutron.

    Each service starts once: Neutron is created first (its URL is then
    known), Mistral's config is written next with
    ``network_endpoint_override`` added to ``[tripleo_baremetal]``, then
    PostgreSQL and Ironic start; all are stopped by class clean-ups.
    """

    @classmethod
    def mistral_options(cls):
        neutron_options = {'tripleo_baremetal': {
            'network_endpoint_override': cls.neutron.url}}
        return inifile.merge(super().mistral_options(), neutron_options)
