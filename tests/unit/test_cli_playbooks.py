"""The roles' ansible_playbooks, run by ``overcloud node provision``."""

import argparse
import io
import json
import os
import shutil
import tempfile
import types
import unittest
from unittest import mock

import yaml

from tripleo_baremetal.cli import node
from tripleo_baremetal.cli import playbooks
from tripleo_baremetal import model

OUTPUT = {
    'instances': [{'hostname': 'overcloud-novacompute-0', 'role': 'Compute'},
                  {'hostname': 'overcloud-novacompute-1', 'role': 'Compute'},
                  {'hostname': 'overcloud-controller-0',
                   'role': 'Controller'}],
    'ctlplane_ips': {'overcloud-novacompute-0': '192.168.24.20',
                     'overcloud-novacompute-1': '192.168.24.21',
                     'overcloud-controller-0': '192.168.24.10'},
}


class Recorder:
    """A fake ``subprocess.run`` keeping each command and its files."""

    def __init__(self, codes=()):
        self.calls = []
        self.codes = list(codes)

    def __call__(self, command, check=False):
        files = {}
        for index, arg in enumerate(command):
            if command[index - 1] in ('-i', '-e'):
                with open(arg.lstrip('@')) as stream:
                    files[command[index - 1]] = yaml.safe_load(stream)
                mode = os.stat(os.path.dirname(arg.lstrip('@'))).st_mode
                files['dir_mode'] = mode & 0o777
        self.calls.append((command, files))
        return types.SimpleNamespace(
            returncode=self.codes.pop(0) if self.codes else 0)


class RunPlaybooksTest(unittest.TestCase):

    def setUp(self):
        self.base = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.base)

    def run_playbooks(self, role_playbooks, runner, hosts=None):
        return playbooks.run_playbooks(
            role_playbooks, hosts or playbooks.hosts_by_role(OUTPUT),
            self.base, 'tripleo-admin', '/home/stack/.ssh/id_rsa',
            runner=runner, which=lambda name: '/usr/bin/' + name)

    def test_each_playbook_on_its_role(self):
        runner = Recorder()
        ran = self.run_playbooks({
            'Compute': [{'playbook': 'growvols.yaml',
                         'extra_vars': {'growvols_args': '/=8GB',
                                        'password': 'secret'}},
                        {'playbook': '/usr/share/kernelargs.yaml'}],
            'Controller': [{'playbook': '../b.yaml'}]}, runner)
        self.assertEqual([
            ('Compute', os.path.join(self.base, 'growvols.yaml')),
            ('Compute', '/usr/share/kernelargs.yaml'),
            ('Controller', os.path.join(os.path.dirname(self.base),
                                        'b.yaml'))], ran)
        first, files = runner.calls[0]
        self.assertEqual(['/usr/bin/ansible-playbook', '-i'], first[:2])
        self.assertEqual(['--limit', 'Compute', '-e'], first[3:6])
        self.assertEqual(os.path.join(self.base, 'growvols.yaml'), first[-1])
        # Extra variables in a private file, never on the command line.
        self.assertEqual({'growvols_args': '/=8GB', 'password': 'secret'},
                         files['-e'])
        self.assertNotIn('secret', ' '.join(first))
        self.assertEqual(0o700, files['dir_mode'])
        self.assertEqual({
            'vars': {'ansible_user': 'tripleo-admin',
                     'ansible_ssh_common_args': playbooks.SSH_ARGS,
                     'ansible_ssh_private_key_file':
                         '/home/stack/.ssh/id_rsa'},
            'children': {
                'Compute': {'hosts': {
                    'overcloud-novacompute-0': {
                        'ansible_host': '192.168.24.20'},
                    'overcloud-novacompute-1': {
                        'ansible_host': '192.168.24.21'}}},
                'Controller': {'hosts': {'overcloud-controller-0': {
                    'ansible_host': '192.168.24.10'}}}}},
            files['-i']['all'])
        self.assertNotIn('-e', runner.calls[1][0])

    def test_without_ansible_it_says_so(self):
        with self.assertRaises(playbooks.PlaybookError) as ctx:
            playbooks.run_playbooks(
                {'Compute': [{'playbook': 'a.yaml'}]}, {}, self.base,
                'tripleo-admin', which=lambda name: None)
        text = str(ctx.exception)
        self.assertIn('ansible-playbook is not installed', text)
        self.assertIn('Compute: %s' % os.path.join(self.base, 'a.yaml'),
                      text)
        self.assertIn('the servers are deployed and the environment is '
                      'written', text)

    def test_a_failed_playbook_stops_the_rest(self):
        runner = Recorder(codes=[2])
        with self.assertRaises(playbooks.PlaybookError) as ctx:
            self.run_playbooks({'Compute': [{'playbook': 'a.yaml'},
                                            {'playbook': 'b.yaml'}]}, runner)
        self.assertIn('playbook %s of role Compute failed (ansible-playbook '
                      'exited with 2)' % os.path.join(self.base, 'a.yaml'),
                      str(ctx.exception))
        self.assertEqual(1, len(runner.calls))

    def test_role_without_servers_is_skipped(self):
        runner = Recorder()
        self.assertEqual([], self.run_playbooks(
            {'CephStorage': [{'playbook': 'a.yaml'}]}, runner))
        self.assertEqual([], runner.calls)
        self.assertEqual([], playbooks.run_playbooks({}, {}, self.base, 'u',
                                                     which=lambda name: None))

    def test_predeployed_servers_by_management_ip(self):
        unmanaged = model.Instance(hostname='pre-0', role='Compute',
                                   managed=False,
                                   management_ip='192.168.24.99')
        hosts = playbooks.hosts_by_role(OUTPUT, [unmanaged])
        self.assertEqual('192.168.24.99', hosts['Compute']['pre-0'])

    def test_missing_playbooks(self):
        open(os.path.join(self.base, 'here.yaml'), 'w').close()
        self.assertEqual(
            [('Compute', os.path.join(self.base, 'gone.yaml'))],
            playbooks.missing_playbooks(
                {'Compute': [{'playbook': 'here.yaml'},
                             {'playbook': 'gone.yaml'}]}, self.base))


class ProvisionCommandTest(unittest.TestCase):
    """The command checks the playbooks first and runs them at the end."""

    def setUp(self):
        self.base = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.base)
        self.roles_file = os.path.join(self.base, 'baremetal.yaml')
        self.playbook = os.path.join(self.base, 'site.yaml')
        open(self.playbook, 'w').close()
        self.write_roles('site.yaml')

    def write_roles(self, playbook):
        with open(self.roles_file, 'w') as stream:
            yaml.safe_dump([{'name': 'Compute', 'count': 2,
                             'ansible_playbooks': [{'playbook': playbook}]}],
                           stream)

    def command(self):
        out = io.StringIO()
        app = types.SimpleNamespace(stdout=out, options=None)
        return node.Provision(app, None), out

    def args(self, **extra):
        return argparse.Namespace(**dict(
            roles_file=self.roles_file, stack='overcloud', port_map=None,
            dry_run=False, output=os.path.join(self.base, 'env.yaml'),
            force=False, overcloud_ssh_key=None,
            overcloud_ssh_user='tripleo-admin', concurrency=20, timeout=60,
            max_fail_percentage=0, quiet=True, poll_interval=0,
            templates='/usr/share/openstack-tripleo-heat-templates',
            **extra))

    def test_missing_playbook_fails_before_any_workflow(self):
        self.write_roles('gone.yaml')
        cmd, _out = self.command()
        with mock.patch.object(node.clients, 'mistral',
                               autospec=True) as mistral:
            with self.assertRaises(node.CommandError) as ctx:
                cmd.take_action(self.args())
        mistral.assert_not_called()
        self.assertIn('ansible_playbooks not found', str(ctx.exception))
        self.assertIn('Compute: %s' % os.path.join(self.base, 'gone.yaml'),
                      str(ctx.exception))

    def provision(self, which):
        output = dict(OUTPUT, environment={'parameter_defaults': {}},
                      new_instances=[], existing_instances=[],
                      ansible_playbooks={'Compute': [
                          {'playbook': 'site.yaml'}]})
        execution = types.SimpleNamespace(id='e1', state='SUCCESS',
                                          output=json.dumps(output))
        cmd, out = self.command()
        runner = Recorder()
        with mock.patch.object(node.clients, 'mistral', autospec=True), \
                mock.patch.object(node, '_start', autospec=True,
                                  return_value=execution) as start, \
                mock.patch.object(node, '_follow', autospec=True,
                                  return_value=execution), \
                mock.patch.object(node, '_ssh_keys', autospec=True,
                                  return_value=[]), \
                mock.patch.object(node.follow, 'deployed_rows',
                                  autospec=True, return_value=[]), \
                mock.patch('shutil.which', which), \
                mock.patch('subprocess.run', runner):
            cmd.take_action(self.args())
        return start.call_args[0][3], runner, out

    def test_runs_them_after_provisioning(self):
        inputs, runner, _out = self.provision(
            lambda name: '/usr/bin/' + name)
        self.assertEqual('/usr/share/openstack-tripleo-heat-templates',
                         inputs['templates'])
        self.assertEqual(1, len(runner.calls))
        self.assertEqual(self.playbook, runner.calls[0][0][-1])
        self.assertEqual(['--limit', 'Compute'], runner.calls[0][0][3:5])
        self.assertTrue(os.path.exists(os.path.join(self.base, 'env.yaml')))

    def test_without_ansible_the_environment_is_written_and_it_fails(self):
        with self.assertLogs(node.LOG, 'WARNING') as logs:
            with self.assertRaises(node.CommandError) as ctx:
                self.provision(lambda name: None)
        self.assertIn('ansible-playbook is not installed: the nodes will be '
                      'provisioned', logs.output[0])
        self.assertIn('ansible-playbook is not installed, so the roles\' '
                      'ansible_playbooks were not run', str(ctx.exception))
        self.assertTrue(os.path.exists(os.path.join(self.base, 'env.yaml')))
