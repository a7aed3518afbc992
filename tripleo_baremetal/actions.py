"""Mistral actions: thin adapters over the plain-Python core.

Registered under the ``mistral.actions`` entry point namespace as
``tripleo.baremetal_deploy.<name>``. Each action builds a connection (the
caller's Keystone token when the context has one, else the
``[tripleo_baremetal]`` options of the executor's configuration), calls
one core function and returns its result. A failure the core explains
comes back as ``Result(error=message)`` so that the workflow can put the
message in the execution's ``state_info``, except per-node deploy
failures, which ``deploy_node`` returns as a result with ``error`` so
that one failed item does not fail the whole ``with-items`` step (the
wait step applies ``max_fail_percentage`` to them).

Secrets: an instance's ``config_drive`` (cloud-config passwords, meta
data) leaves ``expand_roles`` separately, as ``config_drives``, and is
given to ``deploy_node`` alone (it builds the drive) and
``build_configdrive``; no other action takes or returns it.
"""

import functools
import logging

from mistral_lib import actions

from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal.configdrive import contents as configdrive
from tripleo_baremetal import connection
from tripleo_baremetal import exceptions
from tripleo_baremetal.picking import reservation
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import existing
from tripleo_baremetal.provisioning import undeploy
from tripleo_baremetal.provisioning import wait
from tripleo_baremetal.request import environment
from tripleo_baremetal.request import roles

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
        except api.ERRORS as exc:
            LOG.error('%s failed with an API error: %s',
                      type(self).__name__, api.describe(exc))
            return actions.Result(error='API error: %s' % api.describe(exc))
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
            default_image=self.default_image,
            file_url_allowed_paths=baremetal_conf.get_conf(
            ).file_url_allowed_paths)
        if self.provisioned:
            instances = [inst for inst in result['instances']
                         if inst['managed']]
        else:
            instances = [inst for inst in result['unprovisioned']
                         if inst['managed']]
        instances, drives = configdrive.split_secrets(instances)
        return {'instances': instances,
                'config_drives': drives if self.provisioned else {},
                'environment': result['environment'],
                'warnings': result['warnings']}


class CheckExistingInstances(actions.Action):
    """Split instances into existing ones and ones that need a node."""

    def __init__(self, instances):
        super().__init__()
        self.instances = instances

    @_errors_as_result
    def run(self, context):
        result = existing.check_existing_instances(
            connection.get_connection(context), self.instances)
        result['not_found'] = [configdrive.without_secrets(inst)
                               for inst in result['not_found']]
        for item in result['reserved']:
            item['instance'] = configdrive.without_secrets(item['instance'])
        return result


def _attach_instances(reservations, instances):
    """Give each reservation its instance, as ``deploy_node`` takes it."""
    by_host = {}
    for instance in instances:
        by_host.setdefault(instance['hostname'], instance)
    for item in reservations:
        item['instance'] = by_host[item['hostname']]


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
        _attach_instances(result['reservations'],
                          [configdrive.without_secrets(inst)
                           for inst in self.instances])
        return result


class BuildConfigDrive(actions.Action):
    """Build one config drive (gzip+base64) for an instance on a node.

    The network data comes from the instance's ports, as ``deploy_node``
    builds it, unless ``network_data`` is given.
    """

    def __init__(self, instance, node, ssh_keys=None, user_name=None,
                 network_data=None, user_data=None, vendor_data=None,
                 stackname=None, config_drive=None):
        super().__init__()
        self.instance = _with_drive(instance, config_drive)
        self.node = node
        self.ssh_keys = ssh_keys or []
        self.user_name = user_name
        self.network_data = network_data
        self.user_data = user_data
        self.vendor_data = vendor_data
        self.stackname = stackname

    @_errors_as_result
    def run(self, context):
        conn = connection.get_connection(context)
        # The node UUID becomes the instance ID: resolve a name first.
        node = conn.baremetal.get_node(self.node)
        return deploy.build_drive(
            conn, self.instance, node, ssh_keys=self.ssh_keys,
            user_name=self.user_name, network_data=self.network_data,
            user_data=self.user_data, vendor_data=self.vendor_data,
            stackname=self.stackname)


def _with_drive(instance, config_drive):
    if config_drive:
        return dict(instance, config_drive=config_drive)
    return instance


class DeployNode(actions.Action):
    """Deploy an instance on its reserved node (does not wait).

    A failure of this node is a result with ``error`` (its node was
    released), not an action error: ``wait_for_deploy`` counts it against
    ``max_fail_percentage``.
    """

    def __init__(self, instance, node, allocation=None, configdrive=None,
                 ssh_keys=None, user_name=None, stackname=None,
                 config_drive=None):
        super().__init__()
        self.instance = _with_drive(instance, config_drive)
        self.node = node
        self.allocation = allocation
        self.configdrive = configdrive
        self.ssh_keys = ssh_keys or []
        self.user_name = user_name
        self.stackname = stackname

    def run(self, context):
        try:
            return self._deploy(context)
        except Exception as exc:
            if not isinstance(exc, exceptions.BaremetalError):
                LOG.exception('deploy_node failed unexpectedly')
            message = str(exc) if isinstance(
                exc, exceptions.BaremetalError) else '%s: %s: %s' % (
                    self.instance.get('hostname'), type(exc).__name__, exc)
            LOG.error('%s', message)
            return dict(configdrive.without_secrets(self.instance),
                        error=message)

    def _deploy(self, context):
        return deploy.deploy_node(
            connection.get_connection(context), self.instance, self.node,
            allocation=self.allocation, configdrive=self.configdrive,
            ssh_keys=self.ssh_keys, user_name=self.user_name,
            stackname=self.stackname)


class WaitForDeploy(actions.Action):
    """Wait for deploying instances with one node listing per poll."""

    def __init__(self, instances, timeout=None, max_fail_percentage=0,
                 not_started=None):
        super().__init__()
        self.instances = instances
        self.timeout = timeout
        self.max_fail_percentage = max_fail_percentage
        self.not_started = not_started or []

    @_errors_as_result
    def run(self, context):
        return wait.wait_for_deploy(
            connection.get_connection(context), self.instances,
            timeout=self.timeout,
            max_fail_percentage=self.max_fail_percentage,
            not_started=self.not_started)


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
    """Make the environment list exactly the deployed instances."""

    def __init__(self, environment, instances, failed=None):
        super().__init__()
        self.environment = environment
        self.instances = instances
        self.failed = failed or []

    @_errors_as_result
    def run(self, context):
        return environment.populate_environment(
            self.environment, self.instances, failed=self.failed)
