"""``network_config``: the os-net-config settings of a roles file, as Heat's.

tripleo-ansible's roles files carry, per role (``defaults``) or per
instance, how the deployed servers' networks are configured. We do not
configure them ourselves: the *deployed-server* stage of
tripleo-heat-templates does, from these parameters (names as in its
``overcloud.j2.yaml``), which this module computes for the environment:

=============================  ======================================
``network_config`` key         parameter
=============================  ======================================
``template``                   ``<Role>NetworkConfigTemplate``
``network_config_update``      ``<Role>NetworkDeploymentActions``
                               (``[CREATE, UPDATE]`` or ``[CREATE]``)
``physical_bridge_name``       ``NeutronPhysicalBridge``
``public_interface_name``      ``NeutronPublicInterface``
``net_config_data_lookup``     ``NetConfigDataLookup`` (merged)
``dns_search_domains``         ``DnsSearchDomains`` (a list)
``bond_interface_ovs_options`` ``BondInterfaceOvsOptions``
``num_dpdk_interface_rx_queues`` ``NumDpdkInterfaceRxQueues``
=============================  ======================================

The first two are per role, the others one value for the whole
overcloud: servers that ask for different values are an error naming
both (tripleo-ansible applied them host by host with Ansible; Heat
cannot). ``default_route_network`` and ``networks_skip_config`` are
keys of a role in ``roles_data.yaml`` (``default_route_networks``,
``networks_skip_config``) and ``nmstate`` has no parameter: they are
checked and reported as warnings, since the deployed-server stage would
not see them here.
"""

from tripleo_baremetal.request import roles_schema as schema

#: Keys that become one parameter per role: key -> parameter suffix.
ROLE_KEYS = {
    'template': 'NetworkConfigTemplate',
    'network_config_update': 'NetworkDeploymentActions',
}

#: Keys that become one parameter for the whole overcloud.
GLOBAL_KEYS = {
    'physical_bridge_name': 'NeutronPhysicalBridge',
    'public_interface_name': 'NeutronPublicInterface',
    'net_config_data_lookup': 'NetConfigDataLookup',
    'dns_search_domains': 'DnsSearchDomains',
    'bond_interface_ovs_options': 'BondInterfaceOvsOptions',
    'num_dpdk_interface_rx_queues': 'NumDpdkInterfaceRxQueues',
}

#: Keys no parameter of the deployed-server stage takes: why.
NOT_PARAMETERS = {
    'default_route_network': (
        'is not a parameter of the deployed-server stage: set '
        'default_route_networks of the role in roles_data.yaml'),
    'networks_skip_config': (
        'is not a parameter of the deployed-server stage: set '
        'networks_skip_config of the role in roles_data.yaml'),
    'nmstate': (
        'is not a parameter of the deployed-server stage: choose the '
        'network configuration provider in the overcloud\'s environment'),
}


def _parameter_value(key, value):
    """The value of the parameter for a ``network_config`` value."""
    if key == 'network_config_update':
        return ['CREATE', 'UPDATE'] if value else ['CREATE']
    if key == 'dns_search_domains' and isinstance(value, str):
        return [part.strip() for part in value.split(',') if part.strip()]
    return value


def _lookup_problems(merged, value, owner, owners):
    """Merge one ``net_config_data_lookup`` into ``merged``; conflicts."""
    problems = []
    for node, mapping in value.items():
        if node in merged and merged[node] != mapping:
            problems.append(
                'network_config.net_config_data_lookup.%s: %s (%s) conflicts '
                'with %s (%s): NetConfigDataLookup is one mapping for the '
                'whole overcloud' % (
                    schema.key_text(node), schema.shown(mapping), owner,
                    schema.shown(merged[node]), owners[node]))
        else:
            merged.setdefault(node, mapping)
            owners.setdefault(node, owner)
    return problems


def _one_value(params, owners, name, value, where):
    """Set ``params[name]`` once; a different second value is a problem.

    :param where: ``(owner, key path)`` for the message.
    """
    owner, path = where
    if name in params and params[name] != value:
        return ['%s: %s (%s) conflicts with %s (%s): %s is one value for the '
                'whole overcloud' % (path, schema.shown(value), owner,
                                     schema.shown(params[name]), owners[name],
                                     name)]
    params[name] = value
    owners.setdefault(name, owner)
    return []


def _shown_setting(inst, key):
    if key in inst.network_config:
        return '%s (host %s)' % (schema.shown(inst.network_config[key]),
                                 schema.shown(inst.hostname))
    return 'not set (host %s)' % schema.shown(inst.hostname)


def _role_parameters(instances):
    """``<Role>...`` parameters: every server of a role must agree."""
    by_role = {}
    for inst in instances:
        by_role.setdefault(inst.role, []).append(inst)
    params, problems = {}, []
    for role, members in by_role.items():
        for key, suffix in sorted(ROLE_KEYS.items()):
            setting = [inst for inst in members if key in inst.network_config]
            if not setting:
                continue
            first = setting[0]
            other = next((inst for inst in members
                          if inst.network_config.get(key, schema.MISSING)
                          != first.network_config[key]), None)
            if other is not None:
                problems.append(
                    'role %s: network_config.%s is %s but %s: %s%s is one '
                    'value per role' % (
                        schema.shown(role), key, _shown_setting(first, key),
                        _shown_setting(other, key), role, suffix))
                continue
            params[role + suffix] = _parameter_value(
                key, first.network_config[key])
    return params, problems


def parameters(instances):
    """The environment parameters of the instances' ``network_config``.

    :param instances: the provisioned ``model.Instance`` records (managed
        or not), each with its merged ``network_config``.
    :returns: ``(parameters, problems, warnings)``: ``parameter_defaults``
        entries, and sentences.
    """
    params, problems = _role_parameters(instances)
    owners, warned = {}, set()
    lookup, lookup_owners = {}, {}
    for inst in instances:
        owner = 'role %s host %s' % (schema.shown(inst.role),
                                     schema.shown(inst.hostname))
        for key, value in sorted(inst.network_config.items()):
            path = 'network_config.%s' % key
            if key in NOT_PARAMETERS:
                warned.add('role %s: %s %s' % (
                    schema.shown(inst.role), path, NOT_PARAMETERS[key]))
            elif key == 'net_config_data_lookup':
                problems.extend(_lookup_problems(lookup, value, owner,
                                                 lookup_owners))
            elif key in GLOBAL_KEYS:
                problems.extend(_one_value(
                    params, owners, GLOBAL_KEYS[key],
                    _parameter_value(key, value), (owner, path)))
    if lookup:
        params['NetConfigDataLookup'] = lookup
    return params, problems, sorted(warned)
