"""What the ports this tool creates are called and tagged, and finding them.

The names and tags are tripleo-ansible's (``tripleo_overcloud_network_ports``
and metalsmith, which made the ports it attached), so that a re-run of
either tool finds the ports the other made:

* a port attached to the node (``vif: true``, and the ctlplane) is
  ``<hostname>-<network>``, as metalsmith named it, tagged also
  ``tripleo_ironic_vif_port=true``;
* any other port is ``<hostname>_<NetworkNameUpper>``, where the upper
  name is the network's ``tripleo_network_name=`` tag (else its name);
* every port carries ``tripleo_stack_name=<stack>`` and
  ``tripleo_role=<role>``; those on a network of the role's
  ``network_config.default_route_network`` (default ``['ctlplane']``)
  also ``tripleo_default_route=true``; ``dns_name`` is the hostname where
  Neutron has DNS integration.

A host's ports are those tagged with its stack whose ``dns_name`` is the
hostname (Neutron cannot filter on it) or whose name is one of the two
forms above: nothing here depends on an id recorded elsewhere, so a run
killed at any point is found again by the next. Neutron has no unique
constraint on names or tags; when two ports answer for one host and
network (two runs created one each), the oldest wins everywhere
(``winner``), so that every run picks the same one.
"""

import dataclasses
import typing

STACK_TAG = 'tripleo_stack_name='
ROLE_TAG = 'tripleo_role='
NETWORK_NAME_TAG = 'tripleo_network_name='
DEFAULT_ROUTE_TAG = 'tripleo_default_route=true'
VIF_TAG = 'tripleo_ironic_vif_port=true'

#: Longest tag Neutron keeps (``neutron_lib`` ``TAG_MAX_LEN``).
TAG_MAX_LEN = 255

#: tripleo-ansible's default ``default_route_network``.
DEFAULT_ROUTE_NETWORKS = ('ctlplane',)


@dataclasses.dataclass(frozen=True)
class WantedPort:
    """One port a ``networks`` entry asks for that no one has given.

    ``position`` is the entry's place in the instance's ``networks``
    (messages name it); ``default_route`` whether the network is one of
    the role's default route networks.
    """

    hostname: str
    role: typing.Optional[str]
    network: str
    position: int
    subnet: typing.Optional[str] = None
    fixed_ip: typing.Optional[str] = None
    vif: bool = False
    default_route: bool = False

    @property
    def key(self):
        """``(hostname, network)``: one port each."""
        return (self.hostname, self.network)

    @property
    def where(self):
        return '%s: networks[%d] (network %s)' % (
            self.hostname, self.position, self.network)


def stack_tag(stackname):
    return STACK_TAG + stackname


def stack_tag_problem(stackname):
    """Why ``stackname`` cannot be a Neutron tag, or None."""
    tag = stack_tag(stackname)
    if len(tag) > TAG_MAX_LEN:
        return 'gives a tag longer than Neutron\'s %d characters' % (
            TAG_MAX_LEN)
    if ',' in tag:
        return 'has a comma, which Neutron\'s tag filter cannot match'
    return None


def upper_name(network):
    """The network's ``tripleo_network_name`` tag value, else its name.

    :param network: ``{'name', 'tags'}`` as Neutron gives it.
    """
    for tag in network.get('tags') or ():
        if tag.startswith(NETWORK_NAME_TAG):
            return tag[len(NETWORK_NAME_TAG):]
    return network['name']


def port_name(wanted, network):
    """The name of ``wanted``'s port on ``network`` (``{'name', 'tags'}``)."""
    if wanted.vif:
        return '%s-%s' % (wanted.hostname, network['name'])
    return '%s_%s' % (wanted.hostname, upper_name(network))


def port_tags(wanted, stackname):
    """The tags of ``wanted``'s port, sorted."""
    tags = {stack_tag(stackname)}
    if wanted.role:
        tags.add(ROLE_TAG + wanted.role)
    if wanted.default_route:
        tags.add(DEFAULT_ROUTE_TAG)
    if wanted.vif:
        tags.add(VIF_TAG)
    return sorted(tags)


def retagged(tags, wanted, stackname):
    """``tags`` of a found port as they should be, or None if they are.

    Our tags are added; a ``tripleo_role=`` of another role is replaced
    (the host moved role, as tripleo-ansible does it); other tags (e.g.
    tripleo-ansible's ``tripleo_ironic_uuid=``) are kept.
    """
    current = set(tags or ())
    wanted_tags = set(port_tags(wanted, stackname))
    result = {tag for tag in current
              if not (tag.startswith(ROLE_TAG) and tag not in wanted_tags)}
    result |= wanted_tags
    return None if result == current else sorted(result)


def host_of(port, networks):
    """The hostname a stack port belongs to, or None.

    By its ``dns_name``, else by its name, which is one of the two forms
    above for its network (an upper name may itself hold ``_``).

    :param port: ``{'name', 'dns_name', 'network_id'}``.
    :param networks: ``{network id: {'name', 'tags'}}``.
    """
    if port.get('dns_name'):
        return port['dns_name']
    name = port.get('name') or ''
    network = networks.get(port.get('network_id'))
    if not network:
        return None
    for suffix in ('_%s' % upper_name(network), '-%s' % network['name']):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return None


def winner(ports):
    """The port every run keeps among duplicates: the oldest.

    Ordered by ``created_at`` (Neutron's, to the second), then id; a
    port attached to a node (``binding:host_id`` or ``device_id`` set)
    goes first whatever its age: it is in use.
    """
    return min(ports, key=lambda port: (
        not (port.get('binding_host_id') or port.get('device_id')),
        port.get('created_at') or '', port['id']))


def wanted_ports(instances):
    """``[WantedPort]`` of every ``networks`` entry without a port.

    An entry is given a port by the port maps, its ``port`` key, or (for
    ctlplane) Heat's ctlplane port; the others are to be made here.

    :param instances: ``model.Instance`` records (managed, provisioned).
    :returns: ``(wanted, problems)``: problems name an entry that names
        neither a network nor a port.
    """
    wanted, problems = [], []
    for instance in instances:
        routes = (instance.network_config or {}).get(
            'default_route_network') or DEFAULT_ROUTE_NETWORKS
        for position, entry in enumerate(instance.networks):
            if entry.port or instance.network_ports.get(entry.network):
                continue
            if entry.network == 'ctlplane' and instance.ctlplane_port:
                continue
            if not entry.network:
                problems.append(
                    '%s: networks[%d] names neither a network nor a port: '
                    'say which network the port is on'
                    % (instance.hostname, position))
                continue
            wanted.append(WantedPort(
                hostname=instance.hostname, role=instance.role,
                network=entry.network, position=position,
                subnet=entry.subnet, fixed_ip=entry.fixed_ip,
                vif=bool(entry.vif) or entry.network == 'ctlplane',
                default_route=entry.network in routes))
    return wanted, problems
