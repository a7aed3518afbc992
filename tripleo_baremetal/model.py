"""The records that flow through the core, typed and checked once.

An :class:`Instance` is what the roles file asks for, one server; the
later stages compose around it instead of adding keys to it: picking
gives a :class:`Reservation` (the instance's node and allocation),
provisioning a :class:`Deployment` (instance, reservation, provision
state, attached VIFs, error). Every record is a frozen dataclass whose
constructor checks the types, so a record that exists is well formed.

``from_dict`` and ``to_dict`` are the JSON the Mistral actions, the
workbook and the commands exchange (``doc/source/instances.md``); they are
called at those boundaries only, never inside the core. ``from_dict``
rejects keys it does not know, naming them, so a typo in a workflow or a
stale input does not pass silently.
"""

import copy
import dataclasses
import typing

from tripleo_baremetal import exceptions
from tripleo_baremetal import labels


def _reject_unknown(cls, data, where):
    if not isinstance(data, dict):
        raise exceptions.InvalidInput(
            '%s must be a mapping, got %s' % (where, type(data).__name__))
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known - set(getattr(cls, '_DERIVED', ())))
    if unknown:
        raise exceptions.InvalidInput(
            '%s has unknown key(s) %s; known: %s'
            % (where, ', '.join(unknown), ', '.join(sorted(known))))


def _check(where, name, value, types, optional=False):
    """Raise InvalidInput unless ``value`` is one of ``types``.

    A bool is not accepted as an int (``True`` is not an index).
    """
    if optional and value is None:
        return
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, types) and (bool in types
                                     or not isinstance(value, bool)):
        return
    raise exceptions.InvalidInput('%s: %s must be %s%s, got %s' % (
        where, name, ' or '.join(t.__name__ for t in types),
        ' or null' if optional else '', type(value).__name__))


#: The keys of a subnet that the deployed-server stage reads
#: (``DeployedServerPortMap``, ``NodePortMap``).
SUBNET_KEYS = ('cidr', 'gateway_ip', 'host_routes', 'dns_nameservers')


@dataclasses.dataclass(frozen=True)
class Port:
    """A Neutron port as the config drive and the VIF attachment need it.

    ``network`` is ``{'id', 'name'?, 'mtu'?, 'tags'?}`` and ``subnets``
    the subnets of ``fixed_ips`` (``doc/source/instances.md``). Heat's port map
    may lack any of them (None: not given); Neutron fills them in.
    """

    id: str
    mac_address: typing.Optional[str] = None
    fixed_ips: typing.Optional[typing.Tuple[dict, ...]] = None
    network: typing.Optional[dict] = None
    subnets: typing.Optional[typing.Tuple[dict, ...]] = None

    def __post_init__(self):
        _check('port', 'id', self.id, str)
        where = 'port %s' % self.id
        _check(where, 'mac_address', self.mac_address, str, optional=True)
        _check(where, 'network', self.network, dict, optional=True)
        for name in ('fixed_ips', 'subnets'):
            value = getattr(self, name)
            if value is not None:
                _check(where, name, value, (list, tuple))
                object.__setattr__(self, name, tuple(value))

    @classmethod
    def from_neutron(cls, data):
        """The port from a Neutron representation (Heat's port map).

        Keys we do not use (``name``, ``status``, ``binding:*``...) are
        dropped: Heat publishes whole Neutron resources.
        """
        return cls(**{field.name: copy.deepcopy(data[field.name])
                      for field in dataclasses.fields(cls)
                      if data.get(field.name) is not None})

    @classmethod
    def from_dict(cls, data, where='port'):
        _reject_unknown(cls, data, where)
        return cls(**copy.deepcopy(data))

    def to_dict(self):
        return {field.name: _json(getattr(self, field.name))
                for field in dataclasses.fields(self)
                if getattr(self, field.name) is not None}

    def brief(self):
        """This port with only what the environment reads of it.

        The addresses, the network's ``name``/``mtu``/``tags`` and the
        subnets' ``SUBNET_KEYS``: what a deployed host's record keeps
        (``Instance.brief``), a third of a complete port.
        """
        return Port(
            id=self.id,
            fixed_ips=_only(self.fixed_ips, ('ip_address', 'subnet_id')),
            network=None if self.network is None else {
                key: copy.deepcopy(self.network[key])
                for key in ('name', 'mtu', 'tags') if key in self.network},
            subnets=_only(self.subnets, SUBNET_KEYS))


def _only(items, keys):
    """``items`` (mappings, or None) reduced to ``keys``."""
    if items is None:
        return None
    return tuple({key: copy.deepcopy(item[key]) for key in keys
                  if key in item} for item in items)


@dataclasses.dataclass(frozen=True)
class Network:
    """One entry of an instance's ``networks``: a port to attach.

    ``fixed_ip`` and ``subnet`` are assertions about Heat's port (we
    create no port); ``vif`` attaches the network's port.
    """

    network: typing.Optional[str] = None
    port: typing.Optional[str] = None
    subnet: typing.Optional[str] = None
    fixed_ip: typing.Optional[str] = None
    vif: typing.Optional[bool] = None

    def __post_init__(self):
        for name in ('network', 'port', 'subnet', 'fixed_ip'):
            _check('networks entry', name, getattr(self, name), str,
                   optional=True)
        _check('networks entry', 'vif', self.vif, bool, optional=True)

    @classmethod
    def from_dict(cls, data, where='networks entry'):
        _reject_unknown(cls, data, where)
        return cls(**data)

    def to_dict(self):
        return {field.name: getattr(self, field.name)
                for field in dataclasses.fields(self)
                if getattr(self, field.name) is not None}


@dataclasses.dataclass(frozen=True)
class Instance:
    """One server the request asks for (the table in doc/source/instances.md).

    ``config_drive`` may hold secrets; it is None once split off (the
    actions hand it to ``deploy_node`` apart). ``ports`` is None until
    the ports are resolved, then the complete ports to attach, ctlplane
    first.
    """

    hostname: str
    generated_hostname: typing.Optional[str] = None
    role: typing.Optional[str] = None
    index: typing.Optional[int] = None
    provisioned: bool = True
    managed: bool = True
    name: typing.Optional[str] = None
    resource_class: str = 'baremetal'
    profile: typing.Optional[str] = None
    capabilities: dict = dataclasses.field(default_factory=dict)
    traits: typing.Tuple[str, ...] = ()
    forbidden_traits: typing.Tuple[str, ...] = ()
    conductor_group: typing.Optional[str] = None
    image: dict = dataclasses.field(default_factory=dict)
    root_size_gb: typing.Optional[int] = None
    swap_size_mb: typing.Optional[int] = None
    networks: typing.Tuple[Network, ...] = ()
    # Never in a repr: it may hold passwords (it could reach a log).
    config_drive: typing.Optional[dict] = dataclasses.field(default=None,
                                                            repr=False)
    ssh_public_keys: typing.Tuple[str, ...] = ()
    user_name: typing.Optional[str] = None
    passwordless_sudo: typing.Optional[bool] = None
    #: Normalised ``root_device`` (``common.root_device``), or None.
    root_device: typing.Optional[dict] = None
    #: Ironic's target RAID config (levels as strings), or None.
    raid_config: typing.Optional[dict] = None
    #: Ironic deploy steps, each with ``args``.
    deploy_steps: typing.Tuple[dict, ...] = ()
    #: Take over the running server on the pinned ``manageable`` node.
    adopt: bool = False
    #: The roles file's ``network_config`` (os-net-config settings the
    #: deployed-server stage applies; see ``request.network_config``).
    network_config: dict = dataclasses.field(default_factory=dict)
    #: Where a ``managed: false`` server is reached (its ctlplane IP).
    management_ip: typing.Optional[str] = None
    ctlplane_port: typing.Optional[Port] = None
    network_ports: dict = dataclasses.field(default_factory=dict)
    ports: typing.Optional[typing.Tuple[Port, ...]] = None

    def __post_init__(self):
        _check('instance', 'hostname', self.hostname, str)
        where = 'instance %s' % self.hostname
        _check(where, 'index', self.index, int, optional=True)
        _check(where, 'management_ip', self.management_ip, str,
               optional=True)
        for name in ('provisioned', 'managed', 'adopt'):
            _check(where, name, getattr(self, name), bool)
        for name in ('root_device', 'raid_config'):
            _check(where, name, getattr(self, name), dict, optional=True)
        _check(where, 'deploy_steps', self.deploy_steps, (list, tuple))
        object.__setattr__(self, 'deploy_steps', tuple(self.deploy_steps))
        for name in ('capabilities', 'image', 'network_ports',
                     'network_config'):
            _check(where, name, getattr(self, name), dict)
        for name in ('traits', 'forbidden_traits', 'ssh_public_keys'):
            # A lone string would silently become a tuple of characters.
            _check(where, name, getattr(self, name), (list, tuple))
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, 'networks', tuple(
            net if isinstance(net, Network) else Network(**net)
            for net in self.networks))
        if isinstance(self.ctlplane_port, dict):
            object.__setattr__(self, 'ctlplane_port',
                               Port.from_dict(self.ctlplane_port))
        if self.ports is not None:
            object.__setattr__(self, 'ports', tuple(
                port if isinstance(port, Port) else Port.from_dict(port)
                for port in self.ports))

    @property
    def wanted(self):
        """Whether this run deploys (or keeps) it: managed, provisioned."""
        return self.managed and self.provisioned

    def replace(self, **changes):
        """A copy with ``changes`` (records are never changed in place)."""
        return dataclasses.replace(self, **changes)

    def brief(self):
        """This instance with what a deployed host still needs.

        The request's fields that only picking and deploying read
        (image, placement, networks, users, root device...) are dropped,
        and ``ports`` with them (``ctlplane_port`` as ``Port.brief``): the
        record that travels after the deploy, through Mistral's context,
        where every value is bounded by its field size limit (see
        doc/source/scale.md). What is kept: the identity, the ctlplane
        port and ``network_ports`` (the environment's), and what the wait
        checks (``deploy_steps``, ``raid_config``).
        """
        return self.replace(
            config_drive=None, ports=None,
            ctlplane_port=self.ctlplane_port and self.ctlplane_port.brief(),
            **{name: _default_of(name) for name in _REQUEST_ONLY})

    def without_secrets(self):
        """This instance without its config drive (which may hold any)."""
        return self if self.config_drive is None else self.replace(
            config_drive=None)

    @classmethod
    def from_dict(cls, data, where=None):
        where = where or 'instance %s' % (
            data.get('hostname') if isinstance(data, dict) else '?')
        _reject_unknown(cls, data, where)
        data = dict(data)
        if data.get('ports') is not None:
            data['ports'] = [Port.from_dict(port, where + ' ports')
                             for port in data['ports']]
        if isinstance(data.get('ctlplane_port'), str):
            data['ctlplane_port'] = _port_by_id(
                data.get('ports'), data['ctlplane_port'], where)
        elif data.get('ctlplane_port') is not None:
            data['ctlplane_port'] = Port.from_dict(
                data['ctlplane_port'], where + ' ctlplane_port')
        data['networks'] = [Network.from_dict(net, where + ' networks')
                            for net in data.get('networks') or ()]
        for key in ('capabilities', 'image', 'network_ports',
                    'network_config'):
            if data.get(key) is None:
                data.pop(key, None)
        return cls(**copy.deepcopy(data))

    def to_dict(self):
        """The JSON of this instance: a compact record.

        A field at its default is left out (``from_dict`` restores it):
        instances travel through Mistral's context, whose every value is
        bounded by ``[engine] execution_field_size_limit_kb``, and the
        default fields are most of a full record (see doc/source/scale.md).
        ``hostname``, ``role`` and ``index`` are always given. A
        ``ctlplane_port`` that is one of ``ports`` is given as its id.
        """
        result = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name not in _ALWAYS and _is_default(field, value):
                continue
            result[field.name] = _json(value)
        if self.ctlplane_port is not None and self.ctlplane_port in (
                self.ports or ()):
            result['ctlplane_port'] = self.ctlplane_port.id
        return result


#: Instance fields that only picking and deploying read (see ``brief``).
_REQUEST_ONLY = (
    'image', 'resource_class', 'profile', 'capabilities', 'traits',
    'forbidden_traits', 'conductor_group', 'root_size_gb', 'swap_size_mb',
    'networks', 'ssh_public_keys', 'user_name', 'passwordless_sudo',
    'root_device', 'network_config', 'management_ip')


def _default_of(name):
    field = Instance.__dataclass_fields__[name]
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _port_by_id(ports, port_id, where):
    """The port of ``ports`` whose id ``ctlplane_port`` gives."""
    for port in ports or ():
        if port.id == port_id:
            return port
    raise exceptions.InvalidInput(
        '%s: ctlplane_port %s is none of its ports' % (where, port_id))


#: Instance fields its JSON always gives, even at their default.
_ALWAYS = ('hostname', 'role', 'index')


def _is_default(field, value):
    """Whether ``value`` is the dataclass ``field``'s default."""
    if field.default is not dataclasses.MISSING:
        return value == field.default
    if field.default_factory is not dataclasses.MISSING:
        return value == field.default_factory()
    return False


def _json(value):
    if isinstance(value, (Port, Network)):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_json(item) for item in value]
    return copy.deepcopy(value)


@dataclasses.dataclass(frozen=True)
class Reservation:
    """An instance's node, held by the allocation named after it."""

    hostname: str
    #: None only for a reservation known by its allocation (release).
    node: typing.Optional[str] = None
    node_name: typing.Optional[str] = None
    allocation: typing.Optional[str] = None

    def __post_init__(self):
        _check('reservation', 'hostname', self.hostname, str)
        where = 'reservation of %s' % self.hostname
        _check(where, 'node', self.node, str, optional=True)
        _check(where, 'node_name', self.node_name, str, optional=True)
        _check(where, 'allocation', self.allocation, str, optional=True)

    @property
    def node_label(self):
        """How messages name the node: ``name (uuid)`` or the UUID."""
        return labels.label(self.node_name, self.node)

    @classmethod
    def from_node(cls, hostname, node, allocation=None):
        """The reservation of ``hostname`` on an SDK ``node``."""
        return cls(hostname=hostname, node=node.id, node_name=node.name,
                   allocation=allocation or node.allocation_id)

    @classmethod
    def from_dict(cls, data, where='reservation'):
        _reject_unknown(cls, data, where)
        return cls(**data)

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Deployment:
    """An instance on its reserved node, and how far its deploy got.

    ``provision_state`` is the node's last known state; ``error`` says
    why the deploy failed (None while it has not).
    """

    instance: Instance
    reservation: typing.Optional[Reservation] = None
    provision_state: typing.Optional[str] = None
    attached_vifs: typing.Optional[typing.Tuple[str, ...]] = None
    error: typing.Optional[str] = None

    #: Keys of the flat JSON form that belong to the reservation.
    _DERIVED = ('hostname', 'node', 'node_name', 'allocation')

    def __post_init__(self):
        if not isinstance(self.instance, Instance):
            raise exceptions.InvalidInput('deployment: instance must be an '
                                          'Instance')
        if self.attached_vifs is not None:
            object.__setattr__(self, 'attached_vifs',
                               tuple(self.attached_vifs))

    @property
    def hostname(self):
        return self.instance.hostname

    @property
    def node(self):
        """The node UUID, or None when the deploy never got a node."""
        return self.reservation.node if self.reservation else None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data, where=None):
        """Split the flat JSON form into instance and reservation."""
        where = where or 'deployment of %s' % (
            data.get('hostname') if isinstance(data, dict) else '?')
        if not isinstance(data, dict):
            raise exceptions.InvalidInput('%s must be a mapping' % where)
        data = dict(data)
        reservation = None
        if data.get('node'):
            reservation = Reservation(
                hostname=data.get('hostname'), node=data.pop('node'),
                node_name=data.pop('node_name', None),
                allocation=data.pop('allocation', None))
        else:
            for key in ('node', 'node_name', 'allocation'):
                data.pop(key, None)
        own = {key: data.pop(key) for key in
               ('provision_state', 'attached_vifs', 'error') if key in data}
        return cls(instance=Instance.from_dict(data, where),
                   reservation=reservation, **own)

    def summary(self):
        """The few keys an operator reads: host, role, node and state.

        What workflow outputs list per host (``instances``), so that they
        stay small at a thousand hosts (doc/source/scale.md).
        """
        result = {'hostname': self.hostname, 'role': self.instance.role,
                  'index': self.instance.index}
        if self.reservation is not None:
            result.update(node=self.reservation.node,
                          node_name=self.reservation.node_name)
        if self.provision_state is not None:
            result['provision_state'] = self.provision_state
        if self.error is not None:
            result['error'] = self.error
        return result

    def to_dict(self, brief=False):
        """The flat JSON form: the instance's keys and the node's.

        ``brief``: the instance as ``Instance.brief`` gives it, for the
        records that travel after the deploy.
        """
        instance = self.instance.brief() if brief else self.instance
        result = instance.without_secrets().to_dict()
        if self.reservation is not None:
            result.update(node=self.reservation.node,
                          node_name=self.reservation.node_name,
                          allocation=self.reservation.allocation)
        if self.attached_vifs is not None:
            result['attached_vifs'] = list(self.attached_vifs)
        if self.provision_state is not None:
            result['provision_state'] = self.provision_state
        if self.error is not None:
            result['error'] = self.error
        return result


@dataclasses.dataclass(frozen=True)
class Undeployed:
    """A host whose node was undeployed, and the state it ended in."""

    hostname: str
    node: str
    node_name: typing.Optional[str] = None
    provision_state: typing.Optional[str] = None

    @classmethod
    def from_dict(cls, data, where='undeployed host'):
        _reject_unknown(cls, data, where)
        return cls(**data)

    def to_dict(self):
        return dataclasses.asdict(self)
