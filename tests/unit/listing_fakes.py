"""What ``listing`` reads from a fake baremetal proxy's ``get``.

The Python fakes of the unit tests keep their items under the SDK's
attribute names (``id``, ``node_id``); ``listing`` reads Ironic's JSON
(``uuid``, ``node_uuid``). ``answer`` turns the one into the other with
``listing``'s own name maps, so that the fakes do not each repeat them.
"""

import types

from tripleo_baremetal import listing

#: The version a fake proxy says the listings send (``listing`` then
#: skips version discovery).
MICROVERSION = '1.52'

#: The SDK's attribute names back to Ironic's field names.
_IRONIC_NAMES = {sdk: ironic for ironic, sdk in
                 list(listing.NODE_NAMES.items())
                 + list(listing.ALLOCATION_NAMES.items())}


def answer(key, items):
    """A 200 answer listing ``items`` (objects or Ironic dicts) as ``key``."""
    body = {key: [item if isinstance(item, dict) else
                  {_IRONIC_NAMES.get(name, name): value
                   for name, value in vars(item).items()}
                  for item in items]}
    return types.SimpleNamespace(status_code=200, json=lambda: body)


def fields(params):
    """The field names a listing asked for."""
    return params['fields'].split(',')
