"""The operator's commands, as the real binaries, on real Mistral + Ironic.

``openstack overcloud node ...`` (python-openstackclient with our
plugin) and the standalone ``tripleo-baremetal`` run as subprocesses
against the class's Mistral and Ironic, given by URL (no Keystone).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

from localcloud import process
from tests.functional import base
from tripleo_baremetal import workbooks

BIN = os.path.dirname(sys.executable)
WB = workbooks.DEPLOY_NAME + '.'
WRITES = ('POST', 'PATCH', 'PUT', 'DELETE')
IMAGE = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}


def roles_file(count=2, **instances):
    role = {'name': 'Compute', 'count': count, 'defaults': {'image': IMAGE}}
    if instances:
        role['instances'] = [dict({'hostname': host}, **fields)
                             for host, fields in instances.items()]
    return [role]


class CommandLineMixin:
    """Run the real binaries against a MistralTestCase's services.

    Each test gets a working directory (``self.work``) under the class's
    temporary directory; the commands run there.
    """

    #: The test image is not on this machine: do not check for it.
    MISTRAL_OPTIONS = {'tripleo_baremetal': {'check_local_images': False}}

    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix='cli-', dir=self.base_dir)

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, 'w') as stream:
            if isinstance(data, str):
                stream.write(data)
            else:
                yaml.safe_dump(data, stream)
        return path

    def command(self, binary, *argv, urls=True):
        argv = [os.path.join(BIN, binary)] + list(argv)
        if urls:
            argv += ['--mistral-url', self.mistral.url,
                     '--ironic-url', self.ironic.url]
        return argv

    def env(self):
        # No developer's cloud settings: only what the command line says.
        # The commands run this source tree, as the services do.
        return process.importable_env({
            key: value for key, value in os.environ.items()
            if not key.startswith('OS_')})

    def run_cli(self, binary, *argv, answer=None, urls=True, timeout=240):
        return subprocess.run(self.command(binary, *argv, urls=urls),
                              input=answer, capture_output=True, text=True,
                              timeout=timeout, cwd=self.work, env=self.env())

    def run_following(self, binary, *argv, timeout=240):
        """Run a command; return (exit code, [(line, while running)])."""
        proc = subprocess.Popen(self.command(binary, *argv), text=True,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=self.work,
                                env=self.env(), bufsize=1)
        lines = []
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            lines.append((line.rstrip('\n'), proc.poll() is None))
            self.assertLess(time.monotonic(), deadline, lines)
        return proc.wait(timeout=30), lines

    def writes(self):
        counts = self.ironic.request_counts()
        return {method: counts[method] for method in WRITES
                if counts.get(method)}

    def allocations(self):
        return sorted(alloc.name for alloc in
                      self.conn.baremetal.allocations())

    def last_output(self, workflow):
        executions = [e for e in self.mistral_client.executions.list()
                      if e.workflow_name == WB + workflow]
        latest = max(executions, key=lambda e: e.created_at)
        return json.loads(self.mistral_client.executions.get(
            latest.id).output)


class CommandLineTest(CommandLineMixin, base.MistralTestCase):
    """provision, re-run, list, extract, unprovision; plan; errors."""

    IRONIC_OPTIONS = {'fake': {'deploy_delay': 1}}

    def test_provision_rerun_list_unprovision(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(3)])
        path = self.write('roles.yaml', roles_file(2))
        key = self.write('id.pub', 'ssh-ed25519 AAAAC3Nza test\n')
        code, lines = self.run_following(
            'openstack', 'overcloud', 'node', 'provision', path,
            '--overcloud-ssh-key', key, '-o', 'env.yaml')
        text = '\n'.join(line for line, _running in lines)
        self.assertEqual(0, code, text)
        # Progress while it runs, not only at the end.
        self.assertTrue([line for line, running in lines
                         if 'deploying' in line and running], text)
        self.assertIn('2/2 active, 0 failed', text)
        self.assertIn('overcloud-novacompute-1', text.splitlines()[-2])
        with open(os.path.join(self.work, 'env.yaml')) as stream:
            written = yaml.safe_load(stream)
        self.assertEqual(self.last_output('deploy_roles')['environment'],
                         written)

        # The same command again: nothing to do, and nothing written.
        self.ironic.reset_request_counts()
        done = self.run_cli('openstack', 'overcloud', 'node', 'provision',
                            path, '--overcloud-ssh-key', key, '-o',
                            'env.yaml', '--quiet')
        self.assertEqual(0, done.returncode, done.stderr)
        self.assertIn('Nothing to do', done.stdout)
        self.assertEqual({}, self.writes())

        listed = self.run_cli('openstack', 'overcloud', 'node', 'list',
                              '-f', 'json')
        self.assertEqual(0, listed.returncode, listed.stderr)
        rows = json.loads(listed.stdout)
        self.assertEqual(['overcloud-novacompute-0',
                          'overcloud-novacompute-1'],
                         [row['Hostname'] for row in rows])
        self.assertEqual({'active'}, {row['Provision State'] for row in rows})

        # The deployment, as a roles file; provisioning it writes nothing.
        extracted = self.run_cli('openstack', 'overcloud', 'node', 'extract',
                                 'provisioned', '-o', 'extracted.yaml')
        self.assertEqual(0, extracted.returncode, extracted.stderr)
        with open(os.path.join(self.work, 'extracted.yaml')) as stream:
            data = yaml.safe_load(stream)
        self.assertEqual([('Compute', 2)],
                         [(role['name'], role['count']) for role in data])
        self.ironic.reset_request_counts()
        again = self.run_cli('tripleo-baremetal', 'overcloud', 'node',
                             'provision', 'extracted.yaml',
                             '--overcloud-ssh-key', key, '-o', 'env.yaml')
        self.assertEqual(0, again.returncode, again.stderr)
        self.assertIn('Nothing to do', again.stdout)
        self.assertEqual({}, self.writes())

        # Scale down one host: asked first; "n" changes nothing.
        down = self.write('down.yaml', roles_file(
            2, **{'overcloud-novacompute-1': {'provisioned': False}}))
        refused = self.run_cli('openstack', 'overcloud', 'node',
                               'unprovision', down, answer='n\n')
        self.assertEqual(1, refused.returncode, refused.stdout)
        self.assertIn('overcloud-novacompute-1', refused.stdout)
        self.assertNotIn('overcloud-novacompute-0', refused.stdout)
        self.assertEqual(['overcloud-novacompute-0',
                          'overcloud-novacompute-1'], self.allocations())
        agreed = self.run_cli('openstack', 'overcloud', 'node',
                              'unprovision', down, answer='y\n')
        self.assertEqual(0, agreed.returncode, agreed.stderr)
        self.assertIn('Undeployed: overcloud-novacompute-1', agreed.stdout)
        self.assertEqual(['overcloud-novacompute-0'], self.allocations())

        # --all removes the rest, without asking given --yes.
        gone = self.run_cli('tripleo-baremetal', 'overcloud', 'node',
                            'unprovision', path, '--all', '--yes')
        self.assertEqual(0, gone.returncode, gone.stderr)
        self.assertEqual([], self.allocations())

    def test_plan_and_errors(self):
        self.enrol_nodes([{'name': 'node-%d' % i} for i in range(2)])
        ok = self.write('ok.yaml', roles_file(2))
        self.ironic.reset_request_counts()
        planned = self.run_cli('tripleo-baremetal', 'overcloud', 'node',
                               'plan', ok)
        self.assertEqual(0, planned.returncode, planned.stderr)
        self.assertIn('overcloud-novacompute-1', planned.stdout)
        self.assertIn('planned', planned.stdout)
        too_many = self.write('many.yaml', roles_file(3))
        refused = self.run_cli('tripleo-baremetal', 'overcloud', 'node',
                               'provision', too_many, '--dry-run')
        self.assertNotEqual(0, refused.returncode)
        self.assertIn('overcloud-novacompute-2', refused.stderr)
        self.assertEqual({}, self.writes())
        self.assertEqual([], self.allocations())

        # Without --dry-run the workflow fails: its message, exit code 1.
        failed = self.run_cli('openstack', 'overcloud', 'node', 'provision',
                              too_many, '-o', 'env.yaml')
        self.assertEqual(1, failed.returncode, failed.stdout)
        self.assertIn('deploy_roles ended ERROR', failed.stderr)
        self.assertIn('overcloud-novacompute-2', failed.stderr)
        self.assertNotIn('Traceback', failed.stderr)
        self.assertEqual([], self.allocations())

        started = len(self.mistral_client.executions.list())
        missing = self.run_cli('tripleo-baremetal', 'overcloud', 'node',
                               'provision', 'no-such-file.yaml')
        self.assertEqual(1, missing.returncode)
        self.assertIn('no-such-file.yaml', missing.stderr)
        self.assertNotIn('Traceback', missing.stderr)

        bad = self.write('bad.yaml', [{'name': 'Compute', 'count': -1}])
        invalid = self.run_cli('openstack', 'overcloud', 'node', 'provision',
                               bad)
        self.assertEqual(1, invalid.returncode)
        self.assertIn('count', invalid.stderr)
        self.assertIn('-1', invalid.stderr)
        self.assertNotIn('Traceback', invalid.stderr)
        self.assertEqual(started, len(self.mistral_client.executions.list()))

        # More hosts than Mistral's default field size limit can carry
        # to the end of a deploy: refused at deploy_roles' first step,
        # not after every node is deployed. 3,500 instances: the
        # expansion itself fits the limit, their deployed records do
        # not (tests/unit/test_sizes.py).
        self.ironic.reset_request_counts()
        huge = self.write('huge.yaml', [{'name': 'Compute', 'count': 3500}])
        for argv in (['provision', huge, '-o', 'env.yaml'], ['plan', huge]):
            too_big = self.run_cli('openstack', 'overcloud', 'node', *argv)
            self.assertEqual(1, too_big.returncode, too_big.stdout)
            self.assertIn('roles: deploying 3500 instance(s) would pass at '
                          'least', too_big.stderr)
            self.assertIn('over [engine] execution_field_size_limit_kb = '
                          '1024 KB by', too_big.stderr)
            self.assertNotIn('Traceback', too_big.stderr)
        # The commands' own reads only (what exists, for their report).
        self.assertEqual({}, self.writes())
        self.assertEqual([], self.allocations())
        self.assertFalse(os.path.exists(os.path.join(self.work, 'env.yaml')))

        closed = 'http://127.0.0.1:9'
        unreachable = self.run_cli(
            'tripleo-baremetal', 'overcloud', 'node', 'provision', ok,
            '--mistral-url', closed, '--ironic-url', closed, urls=False)
        self.assertEqual(1, unreachable.returncode)
        last = unreachable.stderr.strip().splitlines()[-1]
        self.assertEqual('cannot reach %s: Connection refused' % closed, last)
        self.assertNotIn('Traceback', unreachable.stderr)
        no_ironic = self.run_cli('openstack', 'overcloud', 'node', 'list',
                                 '--ironic-url', closed, urls=False)
        self.assertEqual(1, no_ironic.returncode)
        self.assertTrue(no_ironic.stderr.strip().splitlines()[-1].startswith(
            'cannot reach %s: ' % closed), no_ironic.stderr)
        self.assertNotIn('Traceback', no_ironic.stderr)
