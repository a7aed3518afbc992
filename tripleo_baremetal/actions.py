"""Mistral actions: thin adapters over the plain-Python core.

Registered under the ``mistral.actions`` entry point namespace as
``tripleo.baremetal_deploy.<name>``. Each action builds a connection (the
caller's Keystone token when the context has one, else the
``[tripleo_baremetal]`` options of the executor's configuration), calls
one core function and returns its result. A failure the core explains
comes back as ``Result(error=message)`` so that the workflow can put the
message in the execution's ``state_info``; nothing else is added to
outputs, so no secret leaves an action unless the caller passed it in.
"""

import functools
import logging

from mistral_lib import actions
from openstack import exceptions as sdk_exc

from tripleo_baremetal import configdrive
from tripleo_baremetal import connection
from tripleo_baremetal import deploy
from tripleo_baremetal import environment
from tripleo_baremetal import exceptions
from tripleo_baremetal import existing
from tripleo_baremetal import reservation
from tripleo_baremetal import roles
from tripleo_baremetal import undeploy
from tripleo_baremetal import wait

LOG = logging.getLogger(__name__)


def _errors_as_result(run):
    """Turn the core's exceptions into ``Result(error=message)``."""
    @functools.wraps(run)
    def wrapper(self, context):
        try:
            return run(self, context)
        except exceptions.BaremetalError as exc:
            LOG.error('%s failed: %s', type(self).__name__, exc)
            return actions.Result(error=str(exc))
        except sdk_exc.SDKException as exc:
            LOG.error('%s failed with an API error: %s',
                      type(self).__name__, exc)
            return actions.Result(error='API error: %s' % exc)
        except Exception as exc:
            # A bug or an unexpected library error: keep the traceback in
            # the executor's log, give the workflow a readable message.
            LOG.exception('%s failed unexpectedly', type(self).__name__)
            return actions.Result(error='%s failed: %s: %s' % (
                type(self).__name__, type(exc).__name__, exc))
    return wrapper


class ExpandRoles(actions.Action):
    """Validate a roles file and expand it into instances + environment."""

    def __init__(self, roles, stackname='overcloud', provisioned=True,
                 role_net_port_id_map=None, role_ctlplane_port_map=None,
                 default_image=None):
        super().__init__()
        self.roles = roles
        self.stackname = stackname
        self.provisioned = provisioned
        self.role_net_port_id_map = role_net_port_id_map
        self.role_ctlplane_port_map = role_ctlplane_port_map
        self.default_image = default_image

    @_errors_as_result
    def run(self, context):
        result = roles.expand_roles(
            self.roles, stackname=self.stackname,
            role_net_port_id_map=self.role_net_port_id_map,
            role_ctlplane_port_map=self.role_ctlplane_port_map,
            default_image=self.default_image)
        if self.provisioned:
            instances = [inst for inst in result['instances']
                         if inst['managed']]
        else:
            instances = [inst for inst in result['unprovisioned']
                         if inst['managed']]
        return {'instances': instances,
                'environment': result['environment'],
                'warnings': result['warnings']}


class CheckExistingInstances(actions.Action):
    """Split instances into existing ones and ones that need a node."""

    def __init__(self, instances):
        super().__init__()
        self.instances = instances

    @_errors_as_result
    def run(self, context):
        return existing.check_existing_instances(
            connection.get_connection(context), self.instances)


class PickNodes(actions.Action):
    """Plan and reserve nodes for all instances at once."""

    def __init__(self, instances, concurrency=20, dry_run=False,
                 timeout=None):
        super().__init__()
        self.instances = instances
        self.concurrency = concurrency
        self.dry_run = dry_run
        self.timeout = timeout

    @_errors_as_result
    def run(self, context):
        result = reservation.pick_nodes(
            connection.get_connection(context), self.instances,
            concurrency=self.concurrency, dry_run=self.dry_run,
            timeout=self.timeout)
        by_host = {inst['hostname']: inst for inst in self.instances}
        for item in result['reservations']:
            item['instance'] = by_host[item['hostname']]
        return result


class BuildConfigDrive(actions.Action):
    """Build one config drive (gzip+base64) for an instance on a node."""

    def __init__(self, instance, node, ssh_keys=None, user_name=None,
                 network_data=None, user_data=None, vendor_data=None,
                 stackname=None):
        super().__init__()
        self.instance = instance
        self.node = node
        self.ssh_keys = ssh_keys or []
        self.user_name = user_name
        self.network_data = network_data
        self.user_data = user_data
        self.vendor_data = vendor_data
        self.stackname = stackname

    @_errors_as_result
    def run(self, context):
        # The node UUID becomes the instance ID: resolve a name first.
        node = connection.get_connection(context).baremetal.get_node(
            self.node, fields=['uuid'])
        return configdrive.build_configdrive(
            self.instance, node.id, ssh_keys=self.ssh_keys,
            user_name=self.user_name, network_data=self.network_data,
            user_data=self.user_data, vendor_data=self.vendor_data,
            stackname=self.stackname)


class DeployNode(actions.Action):
    """Deploy an instance on its reserved node (does not wait)."""

    def __init__(self, instance, node, allocation=None, configdrive=None,
                 ssh_keys=None, user_name=None, stackname=None):
        super().__init__()
        self.instance = instance
        self.node = node
        self.allocation = allocation
        self.configdrive = configdrive
        self.ssh_keys = ssh_keys or []
        self.user_name = user_name
        self.stackname = stackname

    @_errors_as_result
    def run(self, context):
        return deploy.deploy_node(
            connection.get_connection(context), self.instance, self.node,
            allocation=self.allocation, configdrive=self.configdrive,
            ssh_keys=self.ssh_keys, user_name=self.user_name,
            stackname=self.stackname)


class WaitForDeploy(actions.Action):
    """Wait for deploying instances with one node listing per poll."""

    def __init__(self, instances, timeout=None, max_fail_percentage=0):
        super().__init__()
        self.instances = instances
        self.timeout = timeout
        self.max_fail_percentage = max_fail_percentage

    @_errors_as_result
    def run(self, context):
        return wait.wait_for_deploy(
            connection.get_connection(context), self.instances,
            timeout=self.timeout,
            max_fail_percentage=self.max_fail_percentage)


class UndeployInstance(actions.Action):
    """Undeploy one host (given as instance dict or hostname)."""

    def __init__(self, instance=None, hostname=None, timeout=None):
        super().__init__()
        self.instance = instance
        self.hostname = hostname
        self.timeout = timeout

    @_errors_as_result
    def run(self, context):
        target = self.instance or self.hostname
        if not target:
            raise exceptions.InvalidInput(
                'undeploy_instance needs instance or hostname')
        return undeploy.undeploy_instances(
            connection.get_connection(context), [target],
            timeout=self.timeout)


class ReleaseNodes(actions.Action):
    """Release reservations (delete allocations); tolerates gone ones."""

    def __init__(self, reservations):
        super().__init__()
        self.reservations = reservations

    @_errors_as_result
    def run(self, context):
        return reservation.release_nodes(connection.get_connection(context),
                                         self.reservations)


class PopulateEnvironment(actions.Action):
    """Add the deployed instances' ctlplane ports to the environment."""

    def __init__(self, environment, instances):
        super().__init__()
        self.environment = environment
        self.instances = instances

    @_errors_as_result
    def run(self, context):
        return environment.populate_environment(self.environment,
                                                self.instances)
