"""``overcloud node provision|unprovision|plan|list|extract provisioned``.

Each command checks its input locally first (the roles file is expanded
with the same code and messages as the ``expand_roles`` action), so a
bad file fails before any workflow starts, then runs the workbook's
workflow on Mistral and follows it (``follow``).
"""

import argparse
import json
import logging
import os
import shutil
import sys

from cliff import command
from cliff import lister
import yaml

from tripleo_baremetal.cli import clients
from tripleo_baremetal.cli import follow
from tripleo_baremetal.cli import playbooks
from tripleo_baremetal import exceptions
from tripleo_baremetal.provisioning import extract
from tripleo_baremetal.request import environment as heat_env
from tripleo_baremetal.request import roles
from tripleo_baremetal import workbooks

LOG = logging.getLogger(__name__)

#: The first line of every environment file we write: a file without it
#: is not overwritten without --force.
MARKER = '# Written by tripleo-baremetal (overcloud node provision).'
DEFAULT_KEY = '~/.ssh/id_rsa.pub'
WORKFLOW = workbooks.DEPLOY_NAME + '.'


class CommandError(exceptions.BaremetalError):
    """A command cannot go on; the message says why, in one line."""


def _load_request(args):
    """The parsed roles file and its expansion, checked locally.

    :raises: CommandError naming the file for a missing or unreadable
        one; InvalidInput with every problem for an invalid one.
    """
    try:
        data = roles.load_roles_file(args.roles_file)
        net_map, ctlplane_map = (roles.load_port_maps(args.port_map)
                                 if getattr(args, 'port_map', None)
                                 else (None, None))
    except OSError as exc:
        raise CommandError('cannot read %s: %s' % (
            exc.filename or args.roles_file, exc.strerror or exc))
    expanded = roles.expand_roles(data, stackname=args.stack,
                                  role_net_port_id_map=net_map,
                                  role_ctlplane_port_map=ctlplane_map,
                                  templates=getattr(args, 'templates', None))
    return data, (net_map or {}), (ctlplane_map or {}), expanded


def _ssh_keys(path, explicit):
    path = os.path.expanduser(path)
    try:
        with open(path) as stream:
            return [line.strip() for line in stream if line.strip()]
    except OSError as exc:
        if explicit:
            raise CommandError('cannot read SSH public key %s: %s'
                               % (path, exc.strerror or exc))
        LOG.warning('No SSH public key at %s: the admin user gets none',
                    path)
        return []


def _check_output(path, force):
    """Refuse to overwrite a file this command did not write."""
    if force or not os.path.exists(path):
        return
    with open(path) as stream:
        first = stream.readline().rstrip('\n')
    if first != MARKER:
        raise CommandError('%s exists and was not written by this command; '
                           'use --force to overwrite it' % path)


def _write_environment(path, environment):
    with open(path, 'w') as stream:
        stream.write(MARKER + '\n')
        yaml.safe_dump(environment, stream, default_flow_style=False)


def _start(client, args, name, inputs):
    try:
        clients.ensure_workbook(client)
        execution = client.executions.create(WORKFLOW + name,
                                             workflow_input=inputs)
    except clients.UNREACHABLE as exc:
        raise clients.unreachable(exc, args, 'mistral')
    return execution


def _follow(client, execution, progress, args, stream, verbose=False):
    try:
        return follow.follow(client, execution, progress=progress,
                             timeout=args.timeout + 60,
                             interval=args.poll_interval,
                             verbose=verbose, stream=stream)
    except follow.Interrupted as exc:
        raise CommandError(str(exc))
    except clients.UNREACHABLE as exc:
        raise clients.unreachable(exc, args, 'mistral')


def _output(execution):
    output = execution.output
    return json.loads(output or '{}') if isinstance(output, str) else (
        output or {})


class _Command(command.Command):
    """Options and plumbing every command shares."""

    #: Connections are made by the command itself (``clients``).
    auth_required = False

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--stack', default='overcloud',
                            help='overcloud stack name (default: overcloud)')
        parser.add_argument('--poll-interval', type=float, default=1.0,
                            help=argparse.SUPPRESS)
        return clients.add_arguments(parser)

    @property
    def verbose(self):
        """``-v`` given: show the execution's task states too."""
        options = getattr(self.app, 'options', None)
        return getattr(options, 'verbose_level', 1) > 1

    @property
    def out(self):
        return getattr(self.app, 'stdout', None) or sys.stdout

    def say(self, text, args):
        if not getattr(args, 'quiet', False):
            print(text, file=self.out, flush=True)

    def progress(self, args, hostnames):
        if getattr(args, 'quiet', False):
            return None
        return follow.Progress(clients.baremetal(self.app, args), hostnames,
                               stream=self.out)


class Provision(_Command):
    """Provision the overcloud's bare metal nodes from a roles file.

    Picks nodes, deploys them and writes the Heat environment of the
    deployed-server stage. Re-running it with the same file is safe: it
    finishes what an earlier run left and changes nothing otherwise.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('roles_file', metavar='ROLES_FILE',
                            help='baremetal_deployment.yaml')
        parser.add_argument('-o', '--output',
                            default='baremetal_environment.yaml',
                            help='where to write the Heat environment')
        parser.add_argument('--force', action='store_true',
                            help='overwrite --output even if this command '
                                 'did not write it')
        parser.add_argument('--overcloud-ssh-key', metavar='PATH',
                            help='SSH public key for the admin user '
                                 '(default: %s)' % DEFAULT_KEY)
        parser.add_argument('--overcloud-ssh-user', default='tripleo-admin',
                            help='admin user created by cloud-init')
        parser.add_argument('--port-map', metavar='FILE',
                            help='YAML with Heat\'s RoleNetPortIdMap and '
                                 'RoleCtlplanePortMap, when Heat made the '
                                 'ports; without it, the ports the roles '
                                 'file\'s networks ask for are created')
        parser.add_argument('--templates', metavar='DIR',
                            default=heat_env.DEFAULT_TEMPLATES,
                            help='the tripleo-heat-templates root: the '
                                 'environment\'s resource registry points '
                                 'into it (default: %(default)s)')
        parser.add_argument('--concurrency', type=int, default=20)
        parser.add_argument('--timeout', type=int, default=3600,
                            help='seconds the deploys may take')
        parser.add_argument('--max-fail-percentage', type=int, default=0)
        parser.add_argument('--dry-run', action='store_true',
                            help='print the placement plan; write nothing')
        parser.add_argument('--quiet', action='store_true',
                            help='print only the result')
        return parser

    def take_action(self, args):
        _data, net_map, ctlplane_map, expanded = _load_request(args)
        if args.dry_run:
            return _plan(self, args, expanded)
        _check_output(args.output, args.force)
        _check_playbooks(expanded['ansible_playbooks'], args)
        keys = _ssh_keys(args.overcloud_ssh_key or DEFAULT_KEY,
                         bool(args.overcloud_ssh_key))
        client = clients.mistral(self.app, args)
        execution = _start(client, args, 'deploy_roles', {
            'roles': _data, 'plan': args.stack,
            'role_net_port_id_map': net_map,
            'role_ctlplane_port_map': ctlplane_map,
            'ssh_keys': keys, 'ssh_user_name': args.overcloud_ssh_user,
            'timeout': args.timeout, 'concurrency': args.concurrency,
            'max_fail_percentage': args.max_fail_percentage,
            'templates': args.templates})
        self.say('Started execution %s of deploy_roles' % execution.id,
                 args)
        hosts = [inst.hostname for inst in expanded['instances']
                 if inst.wanted]
        execution = _follow(client, execution,
                            self.progress(args, hosts), args, self.out,
                            verbose=self.verbose)
        if execution.state != 'SUCCESS':
            raise CommandError('deploy_roles ended %s: %s' % (
                execution.state, execution.state_info))
        output = _output(execution)
        _write_environment(args.output, output['environment'])
        print(follow.table(follow.deployed_rows(output),
                           follow.DEPLOYED_COLUMNS), file=self.out)
        self.say(_summary(output, args.output), args)
        _run_playbooks(self, args, output, expanded)
        return 0


def _base_dir(args):
    return os.path.dirname(os.path.abspath(args.roles_file))


def _check_playbooks(role_playbooks, args):
    """Before anything runs: the roles' playbooks exist; say if no Ansible.

    :raises: CommandError naming every missing playbook.
    """
    missing = playbooks.missing_playbooks(role_playbooks, _base_dir(args))
    if missing:
        raise CommandError('ansible_playbooks not found (paths are relative '
                           'to the roles file): %s' % ', '.join(
                               '%s: %s' % item for item in missing))
    if role_playbooks and not shutil.which(playbooks.ANSIBLE_PLAYBOOK):
        LOG.warning('ansible-playbook is not installed: the nodes will be '
                    'provisioned, but the roles\' ansible_playbooks (%s) '
                    'cannot be run', playbooks.listing(role_playbooks,
                                                       _base_dir(args)))


def _private_key(args):
    """The private key beside the admin user's public key, or None."""
    public = os.path.expanduser(args.overcloud_ssh_key or DEFAULT_KEY)
    private = public[:-len('.pub')] if public.endswith('.pub') else None
    return private if private and os.path.isfile(private) else None


def _run_playbooks(cmd, args, output, expanded):
    """Run the roles' ansible_playbooks (the workflow's output) on them."""
    role_playbooks = output.get('ansible_playbooks') or {}
    if not role_playbooks:
        return
    hosts = playbooks.hosts_by_role(
        output, [inst for inst in expanded['instances'] if not inst.managed])
    try:
        ran = playbooks.run_playbooks(
            role_playbooks, hosts, _base_dir(args),
            args.overcloud_ssh_user, _private_key(args))
    except playbooks.PlaybookError as exc:
        raise CommandError(str(exc))
    cmd.say('Ran %d playbook(s): %s' % (len(ran), ', '.join(
        '%s on %s' % (path, role) for role, path in ran)), args)


def _summary(output, path):
    new, existing = output.get('new_instances'), output.get(
        'existing_instances')
    failed = output.get('failed_instances') or ()
    if not new and not failed and not output.get('repaired'):
        head = ('Nothing to do: all %d instance(s) were already active; '
                'nothing was written to Ironic.' % len(existing or ()))
    else:
        head = '%d deployed, %d already active, %d failed (tolerated).' % (
            len(new or ()), len(existing or ()), len(failed))
    return '%s Heat environment written to %s.' % (head, path)


def _run_action(client, args, name, inputs):
    """Run one of the workbook's actions on Mistral; return its result."""
    try:
        done = client.action_executions.create(
            'tripleo.baremetal_deploy.' + name, inputs, run_sync=True,
            save_result=True)
    except clients.UNREACHABLE as exc:
        raise clients.unreachable(exc, args, 'mistral')
    result = json.loads(done.output or '{}').get('result')
    if done.state != 'SUCCESS':
        raise CommandError(result if isinstance(result, str) else
                           '%s ended %s' % (name, done.state))
    return result


def _plan(cmd, args, expanded):
    """Print the placement plan, computed by the actions on Mistral."""
    client = clients.mistral(cmd.app, args)
    instances = _run_action(client, args, 'expand_roles', {
        'roles': roles.load_roles_file(args.roles_file),
        'stackname': args.stack,
        # The plan of a deploy that would be refused is refused too.
        'check_fit': True})['instances']
    picked = _run_action(client, args, 'pick_nodes', {
        'instances': instances, 'dry_run': True})
    rows = [(host, node, 'planned') for host, node
            in sorted(picked['plan'].items())]
    rows += [(entry['hostname'], entry.get('node_name') or entry['node'],
              'existing') for entry in picked['existing']]
    print(follow.table(sorted(rows), ('HOSTNAME', 'NODE', 'PLAN')),
          file=cmd.out)
    print(picked['report'], file=cmd.out)
    return 0


class Plan(Provision):
    """Print the placement plan of a roles file; write nothing.

    The same as ``overcloud node provision --dry-run``: which node each
    instance would get or, when the request cannot be met, why each
    node was rejected for each instance.
    """

    def take_action(self, args):
        args.dry_run = True
        return super().take_action(args)


class Unprovision(_Command):
    """Undeploy the hosts a roles file marks ``provisioned: false``.

    Lists exactly the hosts it will undeploy and asks first.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('roles_file', metavar='ROLES_FILE',
                            help='baremetal_deployment.yaml')
        parser.add_argument('--all', action='store_true',
                            help='undeploy every instance of the file')
        parser.add_argument('--port-map', metavar='FILE',
                            help='Heat\'s port maps, when Heat made the '
                                 'ports (their ports are kept)')
        parser.add_argument('-y', '--yes', action='store_true',
                            help='do not ask for confirmation')
        parser.add_argument('--timeout', type=int, default=1800)
        parser.add_argument('--undeploy-adopted', action='store_true',
                            help='also undeploy servers that were adopted '
                            '(adopt: true); undeploying wipes them')
        parser.add_argument('--quiet', action='store_true')
        return parser

    def take_action(self, args):
        _data, _net, _ctl, expanded = _load_request(args)
        chosen = expanded['unprovisioned'] + (
            expanded['instances'] if args.all else [])
        targets = [inst for inst in chosen if inst.managed]
        if not targets:
            print('Nothing to unprovision.', file=self.out)
            return 0
        conn = clients.baremetal(self.app, args)
        print(follow.table(_targets(conn, targets, args),
                           ('HOSTNAME', 'NODE', 'ROLE')), file=self.out)
        if not args.yes and not _confirm(
                'Undeploy these %d host(s)? [y/N] ' % len(targets)):
            raise CommandError('Not confirmed: nothing was undeployed.')
        client = clients.mistral(self.app, args)
        hosts = [inst.hostname for inst in targets]
        execution = _start(client, args, 'undeploy_instances', {
            'hostnames': hosts, 'plan': args.stack, 'timeout': args.timeout,
            'undeploy_adopted': args.undeploy_adopted})
        self.say('Started execution %s of undeploy_instances'
                 % execution.id, args)
        execution = _follow(client, execution,
                            self.progress(args, hosts), args, self.out,
                            verbose=self.verbose)
        if execution.state != 'SUCCESS':
            raise CommandError('undeploy_instances ended %s: %s' % (
                execution.state, execution.state_info))
        output = _output(execution)
        print('Undeployed: %s' % (', '.join(
            item['hostname'] for item in output.get('undeployed') or ())
            or 'none'), file=self.out)
        if output.get('not_found'):
            print('Not deployed: %s' % ', '.join(output['not_found']),
                  file=self.out)
        return 0


def _targets(conn, instances, args):
    """Rows (hostname, node, role) of the hosts to undeploy."""
    try:
        by_name = {alloc.name: alloc.node_id
                   for alloc in conn.baremetal.allocations(
                       fields=['name', 'node_uuid'])}
        names = {node.id: node.name for node in conn.baremetal.nodes(
            fields=['uuid', 'name'])}
    except clients.UNREACHABLE as exc:
        raise clients.unreachable(exc, args, 'ironic')
    rows = []
    for inst in instances:
        node = by_name.get(inst.hostname)
        rows.append((inst.hostname, (names.get(node) or node)
                     if node else '(not deployed)', inst.role or '-'))
    return rows


def _confirm(question):
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ('y', 'yes')


class NodeList(lister.Lister, _Command):
    """List the stack's instances with their node and state."""

    COLUMNS = ('Hostname', 'Role', 'Node', 'Provision State',
               'Power State', 'Last Error', 'Allocation')

    def take_action(self, args):
        conn = clients.baremetal(self.app, args)
        try:
            rows = _instances_of(conn, args.stack)
        except clients.UNREACHABLE as exc:
            raise clients.unreachable(exc, args, 'ironic')
        return self.COLUMNS, rows


def _instances_of(conn, stack):
    """One row per host of ``stack``: by allocation, else display_name."""
    allocations = {alloc.node_id: alloc for alloc in conn.baremetal
                   .allocations(fields=['uuid', 'name', 'node_uuid'])
                   if alloc.node_id}
    prefix = stack + '-'
    rows = []
    for node in conn.baremetal.nodes(fields=[
            'uuid', 'name', 'provision_state', 'power_state', 'last_error',
            'instance_info']):
        alloc = allocations.get(node.id)
        host = alloc.name if alloc else (
            node.instance_info or {}).get('display_name')
        if not host or not host.startswith(prefix):
            continue
        rows.append((host, _role_of(host, stack), node.name or node.id,
                     node.provision_state, node.power_state,
                     node.last_error or '', alloc.id if alloc else ''))
    return sorted(rows)


def _role_of(hostname, stack):
    """The role word of ``<stack>-<role>-<index>`` hostnames, else '-'."""
    middle = hostname[len(stack) + 1:].rpartition('-')[0]
    return middle or '-'


class ExtractProvisioned(_Command):
    """Write a roles file from what the stack has deployed now.

    Every active instance of the stack (found by allocation, or by the
    ``display_name`` Nova left), pinned to its node with the image,
    profile and traits it was deployed with: provisioning the file
    changes nothing. Reads Ironic only.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('-o', '--output', metavar='FILE',
                            help='write the roles file here (default: '
                                 'standard output)')
        parser.add_argument('-y', '--yes', action='store_true',
                            help='overwrite --output if it exists')
        parser.add_argument('--roles-file', metavar='FILE',
                            help='take the role names and hostname formats '
                                 'from this roles file')
        return parser

    def take_action(self, args):
        if args.output and os.path.exists(args.output) and not args.yes:
            raise CommandError('%s exists; use --yes to overwrite it'
                               % args.output)
        known = (roles.load_roles_file(args.roles_file)
                 if args.roles_file else None)
        conn = clients.baremetal(self.app, args)
        try:
            result = extract.extract_roles(conn, args.stack, roles=known)
        except clients.UNREACHABLE as exc:
            raise clients.unreachable(exc, args, 'ironic')
        for warning in result['warnings']:
            LOG.warning('%s', warning)
        text = yaml.safe_dump(result['roles'], default_flow_style=False,
                              sort_keys=False)
        if args.output:
            with open(args.output, 'w') as stream:
                stream.write(text)
        else:
            self.out.write(text)
        return 0
