"""The commands' own logic: progress lines, following, files, messages."""

import io
import os
import tempfile
import types
import unittest

from tests.unit import listing_fakes
from tripleo_baremetal.cli import clients
from tripleo_baremetal.cli import follow
from tripleo_baremetal.cli import node as node_cmd
from tripleo_baremetal import exceptions
from tripleo_baremetal import workbooks


def _node(uuid, name, state, host=None, error=None):
    return types.SimpleNamespace(
        id=uuid, name=name, provision_state=state, last_error=error,
        instance_info={'display_name': host} if host else {})


class FakeBaremetal:

    default_microversion = listing_fakes.MICROVERSION

    def __init__(self):
        self.allocs, self.nodes_ = [], []
        self.calls = 0

    def get(self, path, params=None, microversion=None):
        """A listing as ``listing`` reads it: Ironic's JSON."""
        key = path.strip('/')
        return listing_fakes.answer(key, getattr(self, key)(
            fields=listing_fakes.fields(params)))

    def allocations(self, fields=None):
        self.calls += 1
        return list(self.allocs)

    def nodes(self, fields=None):
        self.calls += 1
        return list(self.nodes_)


class ProgressTest(unittest.TestCase):

    def setUp(self):
        self.ironic = FakeBaremetal()
        self.out = io.StringIO()
        self.progress = follow.Progress(
            types.SimpleNamespace(baremetal=self.ironic), ['h-0', 'h-1'],
            stream=self.out, clock=lambda: 0.0)

    def lines(self):
        return [line.split(None, 1)[1] for line in
                self.out.getvalue().splitlines() if 's  ' in line]

    def test_changes_only_two_listings_per_poll(self):
        self.ironic.allocs = [types.SimpleNamespace(name='h-0',
                                                    node_id='u0')]
        self.ironic.nodes_ = [_node('u0', 'n0', 'available'),
                              _node('u9', 'other', 'active', host='x')]
        self.progress.poll()
        self.assertEqual(['h-0                          n0'
                          '                       reserved'], self.lines())
        self.ironic.nodes_ = [_node('u0', 'n0', 'active', host='h-0'),
                              _node('u1', 'n1', 'deploy failed', host='h-1',
                                    error='boom')]
        self.progress.poll()
        self.progress.poll()
        self.assertEqual(6, self.ironic.calls)
        text = self.out.getvalue()
        self.assertIn('deploy failed: boom', text)
        self.assertIn('1/2 active, 1 failed', text)
        self.assertEqual(1, text.count('1/2 active'))


class FollowTest(unittest.TestCase):

    def client(self, states, status=200):
        executions = iter(states)
        self.urls, self.full_reads = [], 0

        def state_get(url):
            self.urls.append(url)
            state = next(executions)
            if state is KeyboardInterrupt:
                raise KeyboardInterrupt()
            return types.SimpleNamespace(status_code=status,
                                         json=lambda: {'id': 'ex-1',
                                                       'state': state})

        def get(_id):
            self.full_reads += 1
            return types.SimpleNamespace(id='ex-1', state='SUCCESS',
                                         output='{}')

        return types.SimpleNamespace(executions=types.SimpleNamespace(
            get=get, http_client=types.SimpleNamespace(get=state_get)))

    def test_until_final_state(self):
        done = follow.follow(self.client(['RUNNING', 'RUNNING', 'SUCCESS']),
                             types.SimpleNamespace(id='ex-1'),
                             sleep=lambda _s: None)
        self.assertEqual('SUCCESS', done.state)
        # Each poll reads the state alone; the whole execution once.
        self.assertEqual(['/executions/ex-1?fields=state'] * 3, self.urls)
        self.assertEqual(1, self.full_reads)
        self.assertEqual('{}', done.output)

    def test_error_answer_is_left_to_mistralclient(self):
        client = self.client(['RUNNING'], status=404)
        self.assertEqual('SUCCESS', follow.execution_state(client, 'ex-1'))
        self.assertEqual(1, self.full_reads)

    def test_ctrl_c_says_how_to_resume(self):
        with self.assertRaisesRegex(follow.Interrupted,
                                    'ex-1; it keeps running.*again is '
                                    'safe'):
            follow.follow(self.client(['RUNNING', KeyboardInterrupt]),
                          types.SimpleNamespace(id='ex-1'),
                          sleep=lambda _s: None)

    def test_timeout(self):
        ticks = iter([0, 5, 11])
        self.assertRaises(TimeoutError, follow.follow,
                          self.client(['RUNNING'] * 3),
                          types.SimpleNamespace(id='ex-1'), timeout=10,
                          sleep=lambda _s: None, clock=lambda: next(ticks))

    def test_table(self):
        rows = follow.deployed_rows({
            'ctlplane_ips': {'b': '10.0.0.2'},
            'instances': [{'hostname': 'b', 'node_name': 'n-b',
                           'provision_state': 'active', 'role': 'Compute'},
                          {'hostname': 'a', 'node': 'uuid-a'}]})
        self.assertEqual('HOSTNAME  NODE    STATE   CTLPLANE IP  ROLE\n'
                         'a         uuid-a  -       -            -\n'
                         'b         n-b     active  10.0.0.2     Compute',
                         follow.table(rows, follow.DEPLOYED_COLUMNS))


class FilesAndMessagesTest(unittest.TestCase):

    def test_output_file_not_ours_is_kept(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'env.yaml')
            node_cmd._check_output(path, force=False)   # absent: fine
            with open(path, 'w') as stream:
                stream.write('parameter_defaults: {}\n')
            self.assertRaisesRegex(node_cmd.CommandError, 'use --force',
                                   node_cmd._check_output, path, False)
            node_cmd._check_output(path, force=True)
            node_cmd._write_environment(path, {'parameter_defaults': {}})
            node_cmd._check_output(path, force=False)

    def test_summary_of_a_converged_run(self):
        self.assertIn('Nothing to do: all 2 instance(s) were already '
                      'active; nothing was written to Ironic.',
                      node_cmd._summary({'new_instances': [],
                                         'existing_instances': [1, 2]},
                                        'env.yaml'))

    def test_unreachable_is_one_line(self):
        args = types.SimpleNamespace(mistral_url='http://127.0.0.1:9')
        exc = ConnectionError("HTTPConnectionPool(host='127.0.0.1', port=9):"
                              " Max retries exceeded (Caused by "
                              "NewConnectionError('x: Failed to establish "
                              "a new connection: [Errno 111] Connection "
                              "refused'))")
        self.assertEqual('cannot reach http://127.0.0.1:9: Connection '
                         'refused',
                         str(clients.unreachable(exc, args, 'mistral')))

    def test_role_of_hostnames(self):
        self.assertEqual('novacompute', node_cmd._role_of(
            'overcloud-novacompute-3', 'overcloud'))


class WorkbooksTest(unittest.TestCase):

    def test_installed_or_a_clear_error(self):
        with tempfile.TemporaryDirectory() as prefix:
            self.assertRaisesRegex(exceptions.BaremetalError,
                                   'not installed in %s' % prefix,
                                   workbooks.path, prefix=prefix)
            os.makedirs(workbooks.directory(prefix))
            with open(os.path.join(workbooks.directory(prefix),
                                   workbooks.DEPLOY), 'w') as stream:
                stream.write('version: 2.0\n')
            self.assertEqual('version: 2.0\n',
                             workbooks.read(prefix=prefix))
