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

This module is the JSON boundary of the core: inputs become the typed
records of ``tripleo_baremetal.model`` here (``from_dict`` names any key
it does not know) and results become JSON again (``to_dict``); the core
never sees a dict of ours.
"""

import functools
import json
import logging

from mistral_lib import actions

from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import connection
from tripleo_baremetal import exceptions
from tripleo_baremetal import field_size
from tripleo_baremetal import model
from tripleo_baremetal.picking import reservation
from tripleo_baremetal.provisioning import created_ports
from tripleo_baremetal.provisioning import deploy
from tripleo_baremetal.provisioning import existing
from tripleo_baremetal.provisioning import known
from tripleo_baremetal.provisioning import undeploy
from tripleo_baremetal.provisioning import wait
from tripleo_baremetal.request import environment
from tripleo_baremetal.request import footprint
from tripleo_baremetal.request import roles
from tripleo_baremetal.request import run_options

LOG = logging.getLogger(__name__)


def _errors_as_result(run):
    """Turn the core's exceptions into ``Result(error=message)``."""
    @functools.wraps(run)
    def wrapper(self, context):
        try:
            result = run(self, context)
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
        if isinstance(result, (dict, list)):
            too_big = field_size.over_limit(
                '%s result' % type(self).__name__, result)
            if too_big:
                LOG.error('%s', too_big)
                return actions.Result(error=too_big)
        return result
    return wrapper


def _instances(items, with_drives=None):
    """``model.Instance`` list from JSON, with their drives when given.

    ``items`` is a list, or a mapping ``{hostname: instance}`` (its values).
    """
    drives = with_drives or {}
    if isinstance(items, dict):
        items = list(items.values())
    return [model.Instance.from_dict(_with_drive(item, drives.get(
        item.get('hostname') if isinstance(item, dict) else None)))
        for item in items or ()]


def _with_drive(instance, config_drive):
    if config_drive and isinstance(instance, dict):
        return dict(instance, config_drive=config_drive)
    return instance


def _deployments(items):
    return [model.Deployment.from_dict(item) for item in items or ()]


#: Keys of a reservation in the workflow's JSON that are not its own.
_RESERVATION_EXTRAS = ('instance', 'state', 'node_snapshot', 'nics')


def _reservations(items):
    return [model.Reservation.from_dict(
        {key: value for key, value in item.items()
         if key not in _RESERVATION_EXTRAS}, 'reservation')
        for item in items or ()]


def _ctlplane_ips(deployments):
    return environment.ctlplane_ips(item.instance for item in deployments)


def _public(instances):
    """The JSON of ``instances`` without their config drives."""
    return [inst.without_secrets().to_dict() for inst in instances]


def _split_secrets(instances):
    """``(public instances, shared config drives)``.

    The drives are ``{'drives': [config_drive, ...], 'hosts': {hostname:
    index into drives}}``: each distinct drive once (a role's
    ``cloud_config`` is usually every one of its hosts'), so that the
    result stays bounded by Mistral's field size limit however many
    hosts share it (doc/source/scale.md). Hosts whose ``config_drive`` is empty
    are left out.
    """
    drives, index, hosts = [], {}, {}
    for inst in instances:
        if not any((inst.config_drive or {}).values()):
            continue
        key = json.dumps(inst.config_drive, sort_keys=True)
        if key not in index:
            index[key] = len(drives)
            drives.append(inst.config_drive)
        hosts[inst.hostname] = index[key]
    return _public(instances), {'drives': drives, 'hosts': hosts}


def drive_of(config_drives, hostname):
    """``hostname``'s config drive in ``config_drives``, or None.

    ``config_drives`` is as ``expand_roles`` returns it (shared drives)
    or a plain ``{hostname: config_drive}``.
    """
    config_drives = config_drives or {}
    if isinstance(config_drives.get('hosts'), dict) and isinstance(
            config_drives.get('drives'), list):
        at = config_drives['hosts'].get(hostname)
        return None if at is None else config_drives['drives'][at]
    return config_drives.get(hostname)


def _dicts(records):
    return [record.to_dict() for record in records]


def _briefs(deployments):
    """Deployments as the records that travel after the deploy.

    ``Deployment.to_dict(brief=True)``: without the request's fields, so
    that a list of a thousand stays well under Mistral's field size
    limit (doc/source/scale.md).
    """
    return [item.to_dict(brief=True) for item in deployments]


def _by_host(instances):
    """``{hostname: public instance JSON}``: looked up by hostname."""
    return {item['hostname']: item for item in _public(instances)}


class ExpandRoles(actions.Action):
    """Validate a roles file and expand it into instances + environment.

    :param options: the workflow's numeric options (``concurrency``,
        ``batch_size``, ``timeout``, ``max_fail_percentage``), checked
        here, before any API call (``run_options``).
    :param check_fit: refuse, before any API call, a request whose
        deployed hosts' records would not fit Mistral's field size limit
        (``deploy_roles``: see ``footprint``).
    """

    def __init__(self, roles, stackname='overcloud', provisioned=True,
                 role_net_port_id_map=None, role_ctlplane_port_map=None,
                 default_image=None, templates=None, options=None,
                 check_fit=False):
        super().__init__()
        self.options = options
        self.check_fit = check_fit
        self.roles = roles
        self.templates = templates
        self.stackname = stackname
        self.provisioned = provisioned
        self.role_net_port_id_map = role_net_port_id_map
        self.role_ctlplane_port_map = role_ctlplane_port_map
        self.default_image = default_image

    @_errors_as_result
    def run(self, context):
        run_options.check_run_options(self.options)
        result = roles.expand_roles(
            self.roles, stackname=self.stackname,
            role_net_port_id_map=self.role_net_port_id_map,
            role_ctlplane_port_map=self.role_ctlplane_port_map,
            default_image=self.default_image, templates=self.templates,
            file_url_allowed_paths=baremetal_conf.get_conf(
            ).file_url_allowed_paths)
        chosen = result['instances' if self.provisioned else 'unprovisioned']
        managed = [inst for inst in chosen if inst.managed]
        # The deployed hosts' ctlplane ports are added once they are
        # deployed (by the last wait): not carried twice.
        env = environment.without_port_entries(
            result['environment'], [inst.hostname for inst in managed])
        if self.check_fit and self.provisioned:
            _check_fit(managed, env)
        instances, drives = _split_secrets(managed)
        return {'instances': instances,
                'config_drives': drives if self.provisioned else {
                    'drives': [], 'hosts': {}},
                'environment': env,
                'warnings': result['warnings'],
                'ansible_playbooks': result['ansible_playbooks']}


def _check_fit(instances, env):
    """Refuse a deploy whose largest value would be over Mistral's limit.

    The value is ``wait_for_deploy``'s input (``footprint``): Mistral would
    refuse it only after every node is deployed, and on every re-run.
    """
    found = field_size.over(footprint.deployed_bytes(instances, env))
    if found is None:
        return
    size, limit = found
    raise exceptions.InvalidInput(
        'roles: deploying %d instance(s) would pass at least %d KB from '
        'one step to the next (wait_for_deploy\'s input: the deployed '
        'hosts\' records and the environment), over %s = %d KB by %d KB: '
        'raise the option on the Mistral engine and executors to %d or more'
        % (len(instances), size, field_size.OPTION, limit, size - limit,
           _headroom(size)))


def _headroom(size_kb):
    """A limit that holds ``size_kb`` and what the estimate leaves out."""
    return -(-size_kb * 5 // 4 // 256) * 256


class CheckExistingInstances(actions.Action):
    """Split instances into existing ones and ones that need a node.

    Existing and deploying hosts come back as brief records; the ones
    still to deploy (reserved by an earlier run or not found) once, in
    ``to_deploy`` (``{hostname: instance}``, which ``deploy_node`` looks
    up), with ``not_found`` their hostnames (doc/source/scale.md).

    :param options: the workflow's numeric options, checked before any API
        call (``deploy_instances`` run on its own has no ``expand_roles``
        to check them; see ``ExpandRoles``).
    """

    def __init__(self, instances, options=None):
        super().__init__()
        self.instances = instances
        self.options = options

    @_errors_as_result
    def run(self, context):
        run_options.check_run_options(self.options)
        result = existing.check_existing_instances(
            connection.get_connection(context), _instances(self.instances))
        return {'instances': _briefs(result['instances']),
                'deploying': _briefs(result['deploying']),
                'reserved': [item.reservation.to_dict()
                             for item in result['reserved']],
                'not_found': [inst.hostname for inst in result['not_found']],
                'to_deploy': _by_host(
                    [item.instance for item in result['reserved']]
                    + list(result['not_found'])),
                'repaired': result['repaired'],
                'failed': _briefs(result['failed']),
                'ctlplane_ips': _ctlplane_ips(result['instances'])}


class PickNodes(actions.Action):
    """Plan and reserve nodes for all instances at once.

    :param instances: a list, or ``{hostname: instance}``.
    :param hostnames: only these of ``instances`` (all when None).

    The reservations do not repeat the instance: ``deploy_node`` looks it
    up by hostname (doc/source/scale.md).
    """

    def __init__(self, instances, concurrency=20, dry_run=False,
                 timeout=None, hostnames=None):
        super().__init__()
        self.instances = instances
        self.concurrency = concurrency
        self.dry_run = dry_run
        self.timeout = timeout
        self.hostnames = hostnames

    @_errors_as_result
    def run(self, context):
        instances = _instances(self.instances)
        if self.hostnames is not None:
            wanted = set(self.hostnames)
            instances = [inst for inst in instances
                         if inst.hostname in wanted]
        conn = connection.get_connection(context)
        result = reservation.pick_nodes(
            conn, instances,
            concurrency=self.concurrency, dry_run=self.dry_run,
            timeout=self.timeout)
        by_host = {}
        for instance in instances:
            by_host.setdefault(instance.hostname, instance)
        states = result.get('existing_states', {})
        snapshots = result.get('node_snapshots', {})
        nics = {} if self.dry_run else known.list_nics(conn, [
            item.node for item in result['reservations']
            if deploy.needs_nics(by_host[item.hostname])])
        # What deploy_node would read again: the node this run has just
        # reserved, the NICs of all reserved nodes (two listings).
        reservations = [
            dict(item.to_dict(),
                 node_snapshot=snapshots.get(item.hostname),
                 nics=nics.get(item.node))
            for item in result['reservations']]
        return {'reservations': reservations,
                'existing': [dict(item.to_dict(),
                                  state=states.get(item.hostname))
                             for item in result['existing']],
                'plan': result['plan'],
                'report': result['report']}


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
        instance = model.Instance.from_dict(self.instance)
        conn = connection.get_connection(context)
        # The node UUID becomes the instance ID: resolve a name first.
        node = conn.baremetal.get_node(self.node)
        return deploy.build_drive(
            conn, instance, node, ssh_keys=self.ssh_keys,
            user_name=self.user_name, network_data=self.network_data,
            user_data=self.user_data, vendor_data=self.vendor_data,
            stackname=self.stackname)


class DeployNode(actions.Action):
    """Deploy an instance on its reserved node (does not wait).

    A failure of this node is a result with ``error`` (its node was
    released), not an action error: ``wait_for_deploy`` counts it against
    ``max_fail_percentage``.
    """

    def __init__(self, instance, node, allocation=None, configdrive=None,
                 ssh_keys=None, user_name=None, stackname=None,
                 config_drive=None, node_snapshot=None, nics=None):
        super().__init__()
        self.instance = _with_drive(instance, config_drive)
        #: What pick_nodes knew of the node it has just reserved, and the
        #: node's NICs: neither is read again.
        self.node_snapshot = node_snapshot
        self.nics = nics
        self.node = node
        self.allocation = allocation
        self.configdrive = configdrive
        self.ssh_keys = ssh_keys or []
        self.user_name = user_name
        self.stackname = stackname

    def run(self, context):
        try:
            return self._deploy(context).to_dict(brief=True)
        except Exception as exc:
            if not isinstance(exc, exceptions.BaremetalError):
                LOG.exception('deploy_node failed unexpectedly')
            hostname = (self.instance.get('hostname')
                        if isinstance(self.instance, dict) else None)
            message = str(exc) if isinstance(
                exc, exceptions.BaremetalError) else '%s: %s: %s' % (
                    hostname, type(exc).__name__, exc)
            LOG.error('%s', message)
            return dict(_brief_of(self.instance), error=message)

    def _deploy(self, context):
        instance = model.Instance.from_dict(self.instance)
        return deploy.deploy_node(
            connection.get_connection(context), instance,
            model.Reservation(hostname=instance.hostname, node=self.node,
                              allocation=self.allocation),
            configdrive=self.configdrive, ssh_keys=self.ssh_keys,
            user_name=self.user_name, stackname=self.stackname,
            node=self.node_snapshot, nics=self.nics)


def _brief_of(instance):
    """The brief JSON of an instance given as JSON (maybe a bad one)."""
    try:
        return model.Instance.from_dict(instance).brief().to_dict()
    except Exception:
        return ({key: instance[key] for key in ('hostname', 'role', 'index')
                 if key in instance} if isinstance(instance, dict) else {})


class DeployNodes(actions.Action):
    """``deploy_node`` for a batch of reservations, one after the other.

    For the workbook's ``batch_size``: fewer ``with-items`` items, each
    costing the engine its own overhead. The result lists each node's
    deployment or error, as ``deploy_node`` returns them.

    :param reservations: reservations as ``pick_nodes`` returns them
        (with ``instance``, ``node_snapshot`` and ``nics``).
    :param config_drives: the batch's drives, shared as ``expand_roles``
        returns them or ``{hostname: config_drive}``.
    :param instances: ``{hostname: instance}`` of the batch, for the
        reservations without ``instance``.
    """

    def __init__(self, reservations, config_drives=None, ssh_keys=None,
                 user_name=None, stackname=None, instances=None):
        super().__init__()
        self.reservations = reservations or []
        self.instances = instances or {}
        self.config_drives = config_drives or {}
        self.ssh_keys = ssh_keys
        self.user_name = user_name
        self.stackname = stackname

    def run(self, context):
        return [DeployNode(
            item.get('instance') or self.instances.get(item.get('hostname')),
            item.get('node'),
            allocation=item.get('allocation'), ssh_keys=self.ssh_keys,
            user_name=self.user_name, stackname=self.stackname,
            config_drive=drive_of(self.config_drives, item.get('hostname')),
            node_snapshot=item.get('node_snapshot'),
            nics=item.get('nics')).run(context)
            for item in self.reservations]


class WaitForDeploy(actions.Action):
    """Wait for deploying instances with one node listing per poll.

    ``instances`` may hold deploy results whose deploy could not start
    (with ``error``): they count as ``not_started``.

    Given ``environment`` (``deploy_roles``), the wait is also the run's
    last step: it returns ``finished``, what ``finish_deploy`` would
    return for ``existing`` and the newly active hosts together, and its
    own ``instances`` as ``{hostname}`` records, so that no later step
    carries the deployed records again (doc/source/scale.md).
    """

    def __init__(self, instances, timeout=None, max_fail_percentage=0,
                 not_started=None, existing_count=0, existing=None,
                 environment=None, templates=None, node_port_map=None):
        super().__init__()
        self.instances = instances or []
        self.timeout = timeout
        self.max_fail_percentage = max_fail_percentage
        self.not_started = not_started or []
        self.existing_count = existing_count or 0
        self.existing = existing or []
        self.environment = environment
        self.templates = templates
        self.node_port_map = node_port_map

    @_errors_as_result
    def run(self, context):
        # The workbook passes the deploy step's result as it is (read
        # once: each task() call costs Mistral a query per item); a
        # deploy that could not start carries its error.
        results = _deployments(self.instances)
        result = wait.wait_for_deploy(
            connection.get_connection(context),
            [item for item in results if not isinstance(item.error, str)],
            timeout=self.timeout,
            max_fail_percentage=self.max_fail_percentage,
            not_started=[item for item in results
                         if isinstance(item.error, str)]
            + _deployments(self.not_started),
            existing_count=self.existing_count)
        active = result['instances']
        if self.environment is None:
            return {'instances': _briefs(active),
                    'failed': _briefs(result['failed']),
                    'ctlplane_ips': _ctlplane_ips(active)}
        # The hosts' summaries are in finished: instances only name them.
        return {'instances': [{'hostname': item.hostname} for item in active],
                'failed': _briefs(result['failed']),
                'ctlplane_ips': _ctlplane_ips(active),
                'finished': _finish(
                    _deployments(self.existing) + active, result['failed'],
                    self.environment, self.templates, self.node_port_map)}


class CheckOptions(actions.Action):
    """Check a workflow's numeric options, before its first API call.

    The first step of a workflow whose first API call is made by a
    ``with-items`` step (``undeploy_instances``): one error naming the
    option and its value, instead of one per item, each after Mistral
    has started the items.
    """

    def __init__(self, options=None):
        super().__init__()
        self.options = options

    @_errors_as_result
    def run(self, context):
        run_options.check_run_options(self.options)
        return {}


class UndeployInstance(actions.Action):
    """Undeploy one host (given as instance dict or hostname)."""

    def __init__(self, instance=None, hostname=None, timeout=None,
                 undeploy_adopted=False):
        super().__init__()
        self.instance = instance
        self.hostname = hostname
        self.timeout = timeout
        self.undeploy_adopted = undeploy_adopted

    @_errors_as_result
    def run(self, context):
        target = self.instance or self.hostname
        if not target:
            raise exceptions.InvalidInput(
                'undeploy_instance needs instance or hostname')
        result = undeploy.undeploy_instances(
            connection.get_connection(context), [target],
            timeout=self.timeout, undeploy_adopted=bool(self.undeploy_adopted))
        return {'undeployed': _dicts(result['undeployed']),
                'not_found': result['not_found']}


class ReleaseNodes(actions.Action):
    """Release reservations (delete allocations); tolerates gone ones."""

    def __init__(self, reservations):
        super().__init__()
        self.reservations = reservations

    @_errors_as_result
    def run(self, context):
        result = reservation.release_nodes(
            connection.get_connection(context),
            _reservations(self.reservations))
        return {'released': [item.hostname for item in result['released']],
                'left': [item.hostname for item in result['left']]}


def _populate(env, deployed, failed, templates, node_port_map):
    return environment.populate_environment(
        env, [item.instance for item in deployed],
        failed=[item.instance for item in failed], templates=templates,
        node_port_map=node_port_map)


def _finish(deployed, failed, env, templates, node_port_map):
    """The environment of ``deployed``, their summaries and port ids.

    ``deploy_roles``' per-host outputs made small: ``instances`` as
    summaries (host, role, node, state) and ``ports`` (``{hostname:
    {network: port id}}``) of the deployed hosts.
    """
    return {'environment': _populate(env, deployed, failed, templates,
                                     node_port_map),
            'instances': [item.summary() for item in deployed],
            'ports': {item.hostname: dict(item.instance.network_ports)
                      for item in deployed if item.instance.network_ports}}


class PopulateEnvironment(actions.Action):
    """Make the environment list exactly the deployed instances."""

    def __init__(self, environment, instances, failed=None, templates=None,
                 node_port_map=None):
        super().__init__()
        self.environment = environment
        self.instances = instances
        self.failed = failed or []
        self.templates = templates
        self.node_port_map = node_port_map

    @_errors_as_result
    def run(self, context):
        return _populate(self.environment, _deployments(self.instances),
                         _deployments(self.failed), self.templates,
                         self.node_port_map)


class FinishDeploy(PopulateEnvironment):
    """``populate_environment``'s work, with summaries and port ids.

    What ``wait_for_deploy`` returns as ``finished`` when it ends a
    ``deploy_roles`` run (see ``_finish``), for the deployed records
    given.
    """

    @_errors_as_result
    def run(self, context):
        return _finish(_deployments(self.instances),
                       _deployments(self.failed), self.environment,
                       self.templates, self.node_port_map)


class EnsurePorts(actions.Action):
    """Create or find the Neutron ports no port map gives (before Ironic)."""

    def __init__(self, instances, stackname='overcloud'):
        super().__init__()
        self.instances = instances
        self.stackname = stackname

    @_errors_as_result
    def run(self, context):
        result = created_ports.ensure_ports(
            connection.get_connection(context), _instances(self.instances),
            self.stackname)
        # The ports per host are the instances' network_ports: not
        # repeated (the last wait lists the deployed hosts').
        return {'instances': _public(result.instances),
                'node_port_map': result.node_port_map,
                'created': result.created, 'writes': result.writes}


class DeletePorts(actions.Action):
    """Delete the ports made for undeployed hosts (Heat's are kept)."""

    def __init__(self, hostnames, stackname='overcloud'):
        super().__init__()
        self.hostnames = hostnames
        self.stackname = stackname

    @_errors_as_result
    def run(self, context):
        return {'deleted': created_ports.delete_host_ports(
            connection.get_connection(context), self.hostnames or [],
            self.stackname)}
