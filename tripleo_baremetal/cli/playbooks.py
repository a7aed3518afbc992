"""Run the roles' ``ansible_playbooks`` on their servers, once deployed.

A tripleo-ansible roles file may list, per role, playbooks to run on
that role's servers after provisioning (``playbook``, a path relative to
the roles file, and ``extra_vars``); tripleoclient ran them at the end of
``overcloud node provision``. The workflow runs no Ansible: it returns
them per role (``deploy_roles``' ``ansible_playbooks``) and this module
runs each with ``ansible-playbook`` on an inventory of the deployed
servers (one group per role, reached on their ctlplane IP as the admin
user), limited to the role's group, in file order.

Extra variables may hold secrets: they go to ``ansible-playbook`` in a
file of a private temporary directory (``-e @file``), never on its
command line, and are never logged.
"""

import json
import logging
import os
import shutil
import subprocess
import tempfile

import yaml

from tripleo_baremetal import exceptions

LOG = logging.getLogger(__name__)

ANSIBLE_PLAYBOOK = 'ansible-playbook'

#: SSH options of the inventory: a freshly deployed server's host key is
#: new, a changed one is still refused.
SSH_ARGS = '-o StrictHostKeyChecking=accept-new'


class PlaybookError(exceptions.BaremetalError):
    """A playbook could not run or failed; the message says which."""


def playbook_path(playbook, base_dir):
    """The path of ``playbook``: absolute, or relative to ``base_dir``."""
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(
        playbook)))


def missing_playbooks(playbooks, base_dir):
    """``[(role, path)]`` of the playbooks that are not files here."""
    return [(role, playbook_path(entry['playbook'], base_dir))
            for role, entries in playbooks.items() for entry in entries
            if not os.path.isfile(playbook_path(entry['playbook'],
                                                base_dir))]


def listing(playbooks, base_dir):
    """The playbooks as one line: ``Role: path, path; Role: path``."""
    return '; '.join('%s: %s' % (role, ', '.join(
        playbook_path(entry['playbook'], base_dir) for entry in entries))
        for role, entries in playbooks.items())


def hosts_by_role(output, unmanaged=()):
    """``{role: {hostname: address}}`` of the servers playbooks run on.

    :param output: ``deploy_roles``' output: its ``instances`` (the
        active hosts) and their ``ctlplane_ips``.
    :param unmanaged: the roles file's ``managed: false`` instances
        (``model.Instance``), reached on their ``management_ip``.
    """
    addresses = output.get('ctlplane_ips') or {}
    hosts = {}
    for item in output.get('instances') or ():
        hosts.setdefault(item.get('role'), {})[item['hostname']] = (
            addresses.get(item['hostname']) or item['hostname'])
    for inst in unmanaged:
        port = inst.ctlplane_port
        address = inst.management_ip or (
            port.fixed_ips[0].get('ip_address')
            if port and port.fixed_ips else None)
        hosts.setdefault(inst.role, {})[inst.hostname] = (
            address or inst.hostname)
    return hosts


def inventory(hosts, user, private_key=None):
    """An Ansible YAML inventory: a group per role, the admin user."""
    variables = {'ansible_user': user, 'ansible_ssh_common_args': SSH_ARGS}
    if private_key:
        variables['ansible_ssh_private_key_file'] = private_key
    return {'all': {
        'vars': variables,
        'children': {role: {'hosts': {host: {'ansible_host': address}
                                      for host, address in
                                      sorted(members.items())}}
                     for role, members in hosts.items() if role}}}


def _run_one(command, role, path, runner):
    LOG.info('Running playbook %s on role %s', path, role)
    done = runner(command, check=False)
    if done.returncode:
        raise PlaybookError(
            'playbook %s of role %s failed (ansible-playbook exited with '
            '%d); the servers are deployed and the environment is written: '
            'fix it and provision again (nothing is redeployed)'
            % (path, role, done.returncode))


def run_playbooks(playbooks, hosts, base_dir, user, private_key=None,
                  runner=None, which=None):
    """Run every role's playbooks on its servers, in order.

    :param playbooks: ``{role: [{playbook, extra_vars?}]}``.
    :param hosts: ``hosts_by_role``' result.
    :param base_dir: the roles file's directory (relative paths).
    :param runner: ``subprocess.run`` (None) or a stand-in.
    :param which: ``shutil.which`` (None) or a stand-in.
    :returns: ``[(role, playbook path)]`` run; roles without servers are
        skipped.
    :raises: PlaybookError when ``ansible-playbook`` is not installed or
        a playbook fails (the later ones are not run).
    """
    if not playbooks:
        return []
    runner = runner or subprocess.run
    program = (which or shutil.which)(ANSIBLE_PLAYBOOK)
    if not program:
        raise PlaybookError(
            'ansible-playbook is not installed, so the roles\' '
            'ansible_playbooks were not run (%s); the servers are deployed '
            'and the environment is written: install Ansible (ansible-core) '
            'and provision again, or run them on the roles\' servers '
            'yourself' % listing(playbooks, base_dir))
    ran = []
    with tempfile.TemporaryDirectory(prefix='tripleo-baremetal-') as tmp:
        inventory_file = os.path.join(tmp, 'inventory.yaml')
        with open(inventory_file, 'w') as stream:
            yaml.safe_dump(inventory(hosts, user, private_key), stream)
        for role, entries in playbooks.items():
            if not hosts.get(role):
                LOG.warning('Role %s has no deployed server: its playbooks '
                            'are not run', role)
                continue
            for number, entry in enumerate(entries):
                path = playbook_path(entry['playbook'], base_dir)
                command = [program, '-i', inventory_file, '--limit', role]
                if entry.get('extra_vars'):
                    variables = os.path.join(tmp, '%s-%d.json'
                                             % (role, number))
                    with open(variables, 'w') as stream:
                        json.dump(entry['extra_vars'], stream)
                    command += ['-e', '@' + variables]
                _run_one(command + [path], role, path, runner)
                ran.append((role, path))
    return ran
