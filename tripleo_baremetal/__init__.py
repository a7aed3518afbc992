"""Provision TripleO bare metal nodes with Ironic, without Nova and Glance.

The public Python API is the four steps of a run (see
``doc/architecture.md``); they take and return the records of
``tripleo_baremetal.model``. Everything else is internal to its stage
and may change. The Mistral actions (``tripleo_baremetal.actions``) are
the same steps behind a JSON boundary.
"""

from tripleo_baremetal.picking.reservation import pick_nodes
from tripleo_baremetal.provisioning.sequence import deploy_instances
from tripleo_baremetal.provisioning.undeploy import undeploy_instances
from tripleo_baremetal.request.roles import expand_roles

__all__ = ['expand_roles', 'pick_nodes', 'deploy_instances',
           'undeploy_instances']
