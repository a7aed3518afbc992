"""What a run already knows of its reserved nodes, so as not to read it again.

The deploy of a node needs the node (is it ours, available, out of
maintenance?) and, for the network data of its config drive, its NICs.
Read per node, that is three requests per node; here the NICs of every
node of a run come from one listing of ports and one of port groups,
and the node from what ``pick_nodes`` knew when it reserved it (a
snapshot: Ironic only allocates an available node out of maintenance).
"""

from openstack.baremetal.v1 import node as sdk_node

#: Fields of the bulk port and port group listings (``list_nics``).
NIC_FIELDS = ('uuid', 'address', 'node_uuid', 'internal_info', 'extra')


def list_nics(conn, node_ids):
    """``{node uuid: [NIC dicts]}`` of ``node_ids``: two listings in all.

    The ports and port groups of every node, read once for a whole run
    instead of twice per node (``build_drive``'s ``nics``).
    """
    wanted = set(node_ids)
    found = {node_id: [] for node_id in wanted}
    if not wanted:
        return found
    for listing in (conn.baremetal.ports, conn.baremetal.port_groups):
        for nic in listing(fields=list(NIC_FIELDS)):
            if nic.node_id in wanted:
                found[nic.node_id].append(
                    {key: value for key, value in nic.to_dict().items()
                     if key in ('address', 'internal_info', 'extra')})
    return found


def node(snapshot):
    """An SDK node from what a caller knows of it (``deploy_node``'s ``node``).

    :param snapshot: ``{'uuid', 'name', 'provision_state', 'maintenance',
        'allocation_uuid', 'properties'}`` (Ironic's field names).
    """
    return sdk_node.Node.existing(
        id=snapshot['uuid'], name=snapshot.get('name'),
        provision_state=snapshot.get('provision_state'),
        is_maintenance=bool(snapshot.get('maintenance')),
        allocation_id=snapshot.get('allocation_uuid'),
        properties=dict(snapshot.get('properties') or {}))
