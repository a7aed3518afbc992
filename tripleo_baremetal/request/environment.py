"""The Heat environment handed to the *deployed-server* stage.

After the nodes are provisioned, the overcloud stack is created with
``deployed-server`` resources; this environment tells Heat how many
servers each role has, what they are called, which indexes were scaled
down, and the ctlplane port of each server:

``HostnameMap``
    generated name (``overcloud-controller-0``) -> real hostname.
``<Role>Count``, ``<Role>HostnameFormat``
    provisioned servers (pre-deployed ``managed: false`` ones included).
``<Role>RemovalPolicies``
    ``[{resource_list: [index, ...]}]`` for ``provisioned: false``.
``DeployedServerPortMap``
    ``<hostname>-ctlplane`` -> ``fixed_ips``, ``network`` (``mtu``,
    ``tags``) and ``subnets`` (``cidr``, ``gateway_ip``, ``host_routes``,
    ``dns_nameservers``), with the resource registry entry that makes Heat
    read it instead of creating a port.
``NodePortMap``
    ``{hostname: {network: {ip_address, ip_subnet, ip_address_uri}}}``:
    every port known with its address (those this tool made, and Heat's
    ctlplane port), as tripleo-ansible published it.
``<Role>NetworkConfigTemplate``, ``NeutronPhysicalBridge``, ...
    the roles file's ``network_config``, as ``request.network_config``
    computes them.

That registry entry is an absolute path into the tripleo-heat-templates
root (``templates``): Heat resolves a relative one against the directory
of the environment file it reads, which is wherever the operator wrote
ours.
"""

import copy
import ipaddress
import posixpath

from tripleo_baremetal import exceptions
from tripleo_baremetal import model

CTLPLANE_PORT_RESOURCE = 'OS::TripleO::DeployedServer::ControlPlanePort'
DEPLOYED_PORT_TEMPLATE = 'deployed-server/deployed-neutron-port.yaml'

#: Where tripleo-heat-templates are installed (tripleo-ansible's and
#: tripleoclient's default ``--templates``).
DEFAULT_TEMPLATES = '/usr/share/openstack-tripleo-heat-templates'


def _port_key(hostname):
    """A host's ``DeployedServerPortMap`` key (its ctlplane port)."""
    return '%s-ctlplane' % hostname


def deployed_port_entry(port):
    """The ``DeployedServerPortMap`` entry for one ctlplane port.

    :param port: a ``model.Port``, or None.
    :returns: None when the port does not yet carry its subnets (they are
        read from Neutron later and the entry is added by
        ``populate_environment``).
    """
    if not port or not port.fixed_ips or not port.subnets:
        return None
    subnets = [{key: copy.deepcopy(subnet[key])
                for key in model.SUBNET_KEYS if key in subnet}
               for subnet in port.subnets]
    network = port.network or {}
    network_entry = {'tags': list(network.get('tags')
                                  or [subnet['cidr'] for subnet in subnets])}
    if network.get('mtu'):
        network_entry['mtu'] = network['mtu']
    return {
        'fixed_ips': [{'ip_address': fixed_ip['ip_address']}
                      for fixed_ip in port.fixed_ips],
        'network': network_entry,
        'subnets': subnets,
    }


def ctlplane_ips(instances):
    """``{hostname: address}``: each instance's first ctlplane address.

    Instances without a ctlplane port, or whose port has no address yet,
    are left out. Computed here rather than in the workbook, where a
    YAQL expression would first copy the whole workflow context.

    :param instances: ``model.Instance`` records.
    """
    return {inst.hostname: inst.ctlplane_port.fixed_ips[0]['ip_address']
            for inst in instances
            if inst.ctlplane_port and inst.ctlplane_port.fixed_ips}


def templates_problem(templates):
    """Why ``templates`` is no usable tripleo-heat-templates root, or None."""
    if not isinstance(templates, str) or not templates.strip():
        return 'must be a non-empty string'
    if not templates.startswith('/'):
        return ('must be an absolute path (Heat resolves a relative one '
                'against the directory of the environment file)')
    if '..' in templates.split('/') or any(
            ord(char) < 32 or ord(char) == 127 for char in templates):
        return 'must be a plain absolute path (no "..", no control characters)'
    return None


def deployed_port_template(templates=None):
    """The absolute path of the deployed-server ctlplane port template."""
    return posixpath.join(templates or DEFAULT_TEMPLATES,
                          DEPLOYED_PORT_TEMPLATE)


def _add_ports(environment, instances, templates=None):
    """Add the complete ctlplane ports of ``instances`` to ``environment``.

    With the registry entry that makes Heat read them (under
    ``templates``; None keeps an entry the environment has, else the
    default root); ``environment`` is changed in place (it is the
    caller's own copy).
    """
    port_map = environment['parameter_defaults'].setdefault(
        'DeployedServerPortMap', {})
    for instance in instances:
        entry = deployed_port_entry(instance.ctlplane_port)
        if entry:
            port_map[_port_key(instance.hostname)] = entry
    if port_map:
        registry = environment.setdefault('resource_registry', {})
        if templates or not registry.get(CTLPLANE_PORT_RESOURCE):
            registry[CTLPLANE_PORT_RESOURCE] = deployed_port_template(
                templates)
    else:
        del environment['parameter_defaults']['DeployedServerPortMap']


def _role_parameters(name, hostname_format, instances, unprovisioned):
    """The parameters of the role ``name``.

    ``<Role>Count``, ``<Role>HostnameFormat`` and, when some servers were
    scaled down, ``<Role>RemovalPolicies``.
    """
    params = {
        '%sCount' % name: sum(1 for inst in instances if inst.role == name),
        '%sHostnameFormat' % name: hostname_format,
    }
    removed = sorted(inst.index for inst in unprovisioned
                     if inst.role == name)
    if removed:
        params['%sRemovalPolicies' % name] = [{'resource_list': removed}]
    return params


def build_environment(roles, instances, unprovisioned, templates=None,
                      parameters=None):
    """Build the environment for the expanded roles.

    :param roles: ``[{'name': ..., 'hostname_format': ...}]`` in file order.
    :param instances: every provisioned instance (managed or not), as
        ``model.Instance``.
    :param unprovisioned: the ``provisioned: false`` instances.
    :param templates: the tripleo-heat-templates root (None: the default).
    :param parameters: other ``parameter_defaults`` (the network config's,
        ``network_config.parameters``).
    :returns: the environment, plain JSON for Heat.
    """
    params = copy.deepcopy(parameters or {})
    params['HostnameMap'] = {}
    for role in roles:
        params.update(_role_parameters(role['name'], role['hostname_format'],
                                       instances, unprovisioned))
    for instance in instances:
        params['HostnameMap'][instance.generated_hostname] = (
            instance.hostname)
    environment = {'parameter_defaults': params}
    _add_ports(environment, instances, templates or DEFAULT_TEMPLATES)
    return environment


def without_port_entries(environment, hostnames):
    """A copy of ``environment`` without the ctlplane ports of ``hostnames``.

    ``expand_roles`` leaves out the ``DeployedServerPortMap`` entries of
    the hosts it deploys: ``populate_environment`` adds them from the
    deployed ports, and the same port twice in the workflow's context is
    what limits how many hosts a run can have (doc/source/scale.md). The
    registry entry stays (the entries come back).
    """
    result = copy.deepcopy(environment or {})
    params = result.get('parameter_defaults') or {}
    port_map = params.get('DeployedServerPortMap')
    if not port_map:
        return result
    for hostname in hostnames:
        port_map.pop(_port_key(hostname), None)
    if not port_map:
        del params['DeployedServerPortMap']
    return result


def populate_environment(environment, instances, failed=(), templates=None,
                         node_port_map=None):
    """Return a copy of ``environment`` for the hosts that are deployed.

    Called after deploy, once every port carries its network and subnets
    (read from Neutron where Heat's output lacked them): adds the
    instances' ctlplane ports (existing entries for other hosts are
    kept) and drops every host of ``failed`` (tolerated failures, see
    ``max_fail_percentage``) from ``HostnameMap``,
    ``DeployedServerPortMap`` and its role's count, so that the
    deployed-server stage never waits for a server that does not exist.
    No removal policy is written for them: Heat never reuses a removed
    index, and a re-run deploys the host at its own index.

    :param instances: the active ``model.Instance`` records, their ports
        resolved (``ctlplane_port`` complete).
    :param failed: the ``model.Instance`` records that failed.
    :param templates: the tripleo-heat-templates root of the registry
        entry (None: the one ``environment`` has, else the default).
    :param node_port_map: ``{hostname: {network: entry}}`` of the ports
        (``created_ports.ensure_ports``): the deployed hosts' entries
        become ``NodePortMap``.
    """
    problem = templates is not None and templates_problem(templates)
    if problem:
        raise exceptions.InvalidInput('templates: %r %s' % (templates,
                                                            problem))
    result = copy.deepcopy(environment or {})
    params = result.setdefault('parameter_defaults', {})
    for hostname in sorted({inst.hostname for inst in failed}):
        instance = next(inst for inst in failed
                        if inst.hostname == hostname)
        _drop_host(params, instance)
    _add_ports(result, instances, templates)
    _add_node_ports(params, instances, failed, node_port_map)
    return result


def _add_node_ports(params, instances, failed, node_port_map):
    """Set ``NodePortMap``: the ports of the deployed hosts only."""
    port_map = dict(params.get('NodePortMap') or {})
    port_map.update(copy.deepcopy(node_port_map or {}))
    deployed = {inst.hostname for inst in instances}
    for inst in instances:
        if inst.hostname not in port_map and inst.ctlplane_port and \
                inst.ctlplane_port.fixed_ips and inst.ctlplane_port.subnets:
            port_map[inst.hostname] = {'ctlplane': node_port_entry(
                inst.ctlplane_port, inst.ctlplane_port.subnets[0])}
    for inst in failed:
        port_map.pop(inst.hostname, None)
    port_map = {host: entries for host, entries in port_map.items()
                if host in deployed and entries}
    if port_map:
        params['NodePortMap'] = port_map
    else:
        params.pop('NodePortMap', None)


def known_port_entries(instance):
    """``NodePortMap`` entries of ``instance``'s ctlplane port, if known.

    ``{'ctlplane': entry}`` when its port (Heat's) already has its
    addresses, else ``{}``.
    """
    port = instance.ctlplane_port
    if port is None or not port.fixed_ips:
        return {}
    entry = node_port_entry(port, (port.subnets or [None])[0])
    return {'ctlplane': entry} if entry else {}


def node_port_entry(port, subnet):
    """``{ip_address, ip_subnet, ip_address_uri}`` of a port's first IP.

    The deployed-server stage's ``NodePortMap`` entry, as tripleo-ansible
    published it; None for a port without an address.

    :param port: a ``model.Port``; ``subnet``: its subnet (``cidr``), or
        None (the address alone, as a host prefix).
    """
    ips = [ip for ip in port.fixed_ips or () if ip.get('ip_address')]
    if not ips:
        return None
    address = ipaddress.ip_address(ips[0]['ip_address'])
    prefix = (ipaddress.ip_network(subnet['cidr'], strict=False).prefixlen
              if subnet and subnet.get('cidr') else address.max_prefixlen)
    return {'ip_address': str(address),
            'ip_subnet': '%s/%d' % (address, prefix),
            'ip_address_uri': '[%s]' % address if address.version == 6
            else str(address)}


def _drop_host(params, instance):
    """Remove a failed ``instance`` from the parameters (changed)."""
    hostname_map = params.get('HostnameMap') or {}
    generated = instance.generated_hostname
    if hostname_map.get(generated) != instance.hostname:
        return   # not in this environment (or already dropped)
    del hostname_map[generated]
    count = '%sCount' % instance.role
    if params.get(count):
        params[count] -= 1
    (params.get('DeployedServerPortMap') or {}).pop(
        _port_key(instance.hostname), None)
