"""Bulk listings read as JSON: the polls' items as plain records.

openstacksdk turns every item of a listing into a ``Resource``, which
costs far more than reading the item itself: 0.8 s for a 1,000-node
listing, measured. A pick of 1,000 hosts lists every allocation each
time it polls the allocations still being processed, and each poll of
the wait lists every node, so that cost was paid again and again by the
Mistral executor, and at the end of the run.

The listings here, for those polls, send the request the SDK would send
(the same path and ``fields``, the version negotiated as it does,
Ironic's ``next`` links followed) and give each item as a ``Record``
with the SDK's attribute names (``id``, ``node_id``), so that callers
read a record as they would read the SDK's resource.
"""

from urllib import parse

from openstack import exceptions as sdk_exc
from openstack import utils as sdk_utils

#: Ironic API version of the allocation listings, if the server has it
#: (the first with allocations; every field asked for here).
ALLOCATIONS_MICROVERSION = '1.52'
#: Ironic API version of the node listings, if the server has it: the
#: first with every field the polls ask for (``protected``: 1.48).
NODES_MICROVERSION = '1.52'

#: Ironic's allocation fields whose SDK attribute has another name.
ALLOCATION_NAMES = {'uuid': 'id', 'node_uuid': 'node_id'}
#: Ironic's node fields whose SDK attribute has another name.
NODE_NAMES = {'uuid': 'id', 'maintenance': 'is_maintenance',
              'instance_uuid': 'instance_id', 'protected': 'is_protected',
              'allocation_uuid': 'allocation_id',
              'console_enabled': 'is_console_enabled',
              'retired': 'is_retired', 'chassis_uuid': 'chassis_id'}


class Record:
    """One listed item: the fields asked for, under the SDK's names.

    A field Ironic left out of its answer reads as None, as it does on
    an SDK resource.
    """

    __slots__ = ('_values',)

    def __init__(self, values):
        self._values = values

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return 'Record(%r)' % (self._values,)


def allocations(conn, fields):
    """Every allocation, as ``Record`` objects with ``fields``.

    :param fields: Ironic's field names (``uuid``, ``node_uuid``): read
        as ``id`` and ``node_id``.
    :raises: openstacksdk's exception for an error answer (``api.ERRORS``).
    """
    return _list(conn.baremetal, '/allocations', 'allocations', fields,
                 ALLOCATION_NAMES, ALLOCATIONS_MICROVERSION)


def nodes(conn, fields, **filters):
    """Every node (that ``filters`` keep), as ``Record`` objects.

    :param fields: Ironic's field names (``uuid``, ``maintenance``,
        ``instance_uuid``, ``protected``): read as ``id``,
        ``is_maintenance``, ``instance_id`` and ``is_protected``.
    :param filters: query parameters, under Ironic's names.
    :raises: openstacksdk's exception for an error answer (``api.ERRORS``).
    """
    return _list(conn.baremetal, '/nodes', 'nodes', fields, NODE_NAMES,
                 NODES_MICROVERSION, filters)


def _list(proxy, path, key, fields, names, microversion, filters=None):
    """Every page of one listing, each item a ``Record``.

    :param microversion: the client's maximum: the version sent is the
        highest both sides have (the SDK's rule, with its cached version
        discovery), or the connection's default if it has one.
    """
    microversion = (proxy.default_microversion
                    or sdk_utils.maximum_supported_microversion(
                        proxy, microversion))
    params = dict(filters or {}, fields=','.join(fields))
    wanted = [(field, names.get(field, field)) for field in fields]
    records, markers = [], set()
    while True:
        response = proxy.get(path, params=params, microversion=microversion)
        sdk_exc.raise_from_response(response)
        body = response.json()
        records.extend(Record({name: item.get(field)
                               for field, name in wanted})
                       for item in body.get(key) or ())
        # The next link repeats the filters and the fields.
        params = _next_page(body.get('next'))
        if params is None:
            return records
        if params.get('marker') in markers:
            raise sdk_exc.SDKException(
                'Ironic gave the same next page twice while listing %s'
                % key)
        markers.add(params.get('marker'))


def _next_page(link):
    """The query of Ironic's ``next`` link, or None on the last page.

    Only the query is taken: the path stays the one of the endpoint in
    use, whatever host Ironic writes into its links.
    """
    if not link:
        return None
    return {name: values[-1] for name, values in
            parse.parse_qs(parse.urlsplit(link).query).items()}
