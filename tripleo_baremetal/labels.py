"""How messages name nodes: one spelling everywhere.

An operator greps logs and errors for a node by its name or its UUID;
both appear, always in the same form: ``name (uuid)``, or the UUID alone
for a node without a name. The picker's reports, which list many nodes
per line, use the short form: the name, else the UUID.
"""


def label(name, uuid):
    """``name (uuid)``, or ``uuid`` when there is no name."""
    return '%s (%s)' % (name, uuid) if name else uuid


def node_label(node):
    """The label of an SDK node (anything with ``name`` and ``id``)."""
    return label(node.name, node.id)


def short(name, uuid):
    """The name, else the UUID (reports listing many nodes)."""
    return name or uuid
