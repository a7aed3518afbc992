"""Provision TripleO bare metal nodes with Ironic, without Nova and Glance.

The public Python API is the four steps of a run (see
``doc/source/architecture.md``); they take and return the records of
``tripleo_baremetal.model``. Everything else is internal to its stage
and may change. The Mistral actions (``tripleo_baremetal.actions``) are
the same steps behind a JSON boundary.

The four names are imported on first use, so that importing one module
of the package (a Mistral action, ``python -m ...request.roles``) does
not import every stage.
"""

import importlib

#: Public name -> the module defining it.
_PUBLIC = {
    'expand_roles': 'tripleo_baremetal.request.roles',
    'pick_nodes': 'tripleo_baremetal.picking.reservation',
    'deploy_instances': 'tripleo_baremetal.provisioning.sequence',
    'undeploy_instances': 'tripleo_baremetal.provisioning.undeploy',
}

__all__ = list(_PUBLIC)


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError('module %r has no attribute %r'
                             % (__name__, name))
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__():
    return sorted(list(globals()) + __all__)
