"""Bulk listings read as JSON: the polls' items as plain records.

openstacksdk turns every item of a listing into a ``Resource``, which
costs far more than reading the item itself: 0.8 s for a 1,000-node
listing, measured. A pick of 1,000 hosts lists every allocation each
time it polls the allocations still being processed, so that cost was
paid again and again, by the Mistral executor, for the whole of the
pick. The listings here send the request the SDK would send (the same
path and ``fields``, the version negotiated as it does, Ironic's
``next`` links followed) and give each item as a ``Record`` with the SDK's
attribute names (``id``, ``node_id``), so callers read a record as they
would read the SDK's resource.
"""

from urllib import parse

from openstack import exceptions as sdk_exc
from openstack import utils as sdk_utils

#: Ironic API version of the allocation listings, if the server has it
#: (the first with allocations; every field asked for here).
ALLOCATIONS_MICROVERSION = '1.52'
#: Ironic's allocation fields whose SDK attribute has another name.
ALLOCATION_NAMES = {'uuid': 'id', 'node_uuid': 'node_id'}


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


def _list(proxy, path, key, fields, names, microversion):
    """Every page of one listing, each item a ``Record``.

    :param microversion: the client's maximum: the version sent is the
        highest both sides have (the SDK's rule, with its cached version
        discovery), or the connection's default if it has one.
    """
    microversion = (proxy.default_microversion
                    or sdk_utils.maximum_supported_microversion(
                        proxy, microversion))
    params = {'fields': ','.join(fields)}
    wanted = [(field, names.get(field, field)) for field in fields]
    records, markers = [], set()
    while True:
        response = proxy.get(path, params=params, microversion=microversion)
        sdk_exc.raise_from_response(response)
        body = response.json()
        records.extend(Record({name: item.get(field)
                               for field, name in wanted})
                       for item in body.get(key) or ())
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
