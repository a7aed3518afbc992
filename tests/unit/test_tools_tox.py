"""tools/tox: when it installs the servers the functional tests need."""

import contextlib
import importlib.machinery
import importlib.util
import io
import os
import unittest
from unittest import mock

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def load_tools_tox():
    path = os.path.join(TOP, 'tools', 'tox')
    loader = importlib.machinery.SourceFileLoader('tools_tox', path)
    spec = importlib.util.spec_from_loader('tools_tox', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


tools_tox = load_tools_tox()

PG_BIN = '/usr/lib/postgresql/15/bin'


def fake_access(present):
    """os.access finding exactly the paths in ``present``."""
    return lambda path, mode: path in present


def which_apt(name):
    return '/usr/bin/apt-get' if name == 'apt-get' else None


ALL_PRESENT = {os.path.join(PG_BIN, 'initdb'),
               os.path.join(PG_BIN, 'postgres'),
               tools_tox.RABBITMQ_SERVER}


class RequestedEnvsTest(unittest.TestCase):

    def test_forms(self):
        for args, expected in [
                ([], None),
                (['-e', 'pep8,py3'], {'pep8', 'py3'}),
                (['-epep8'], {'pep8'}),
                (['--env', 'demo'], {'demo'}),
                (['--env=docs'], {'docs'}),
                (['-e', 'ALL'], None),
                (['-e', 'py3', '--', '-e', 'functional'], {'py3'}),
                (['-e', 'py3', '-e', 'functional'], {'functional'})]:
            self.assertEqual(expected, tools_tox.requested_envs(args), args)

    def test_needs_services(self):
        self.assertTrue(tools_tox.needs_services([]))
        self.assertTrue(tools_tox.needs_services(['-e', 'pep8,functional']))
        self.assertTrue(tools_tox.needs_services(['-e', 'demo']))
        self.assertFalse(tools_tox.needs_services(['-e', 'pep8,py3,docs']))


@mock.patch.object(tools_tox.glob, 'glob', lambda pattern: [PG_BIN])
class EnsureServersTest(unittest.TestCase):

    def ensure(self, args=(), present=ALL_PRESENT, which=which_apt,
               euid=0, returncodes=(0,)):
        run = mock.Mock(side_effect=list(returncodes))
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(err):
            left = tools_tox.ensure_servers(
                list(args), which=which, access=fake_access(present),
                geteuid=lambda: euid, run=run)
        return left, run, err.getvalue()

    def test_nothing_missing_installs_nothing(self):
        left, run, err = self.ensure()
        self.assertEqual([], left)
        run.assert_not_called()

    def test_unit_envs_install_nothing(self):
        left, run, err = self.ensure(['-e', 'pep8,py3,docs'], present=set())
        self.assertEqual([], left)
        run.assert_not_called()

    def test_root_with_apt_installs_both(self):
        left, run, err = self.ensure(present=set())
        self.assertEqual([], left)
        argv = run.call_args.args[0]
        self.assertEqual(['apt-get', 'install', '-y', '-q',
                          'postgresql-15', 'rabbitmq-server'], argv)
        self.assertEqual('noninteractive',
                         run.call_args.kwargs['env']['DEBIAN_FRONTEND'])

    def test_only_rabbitmq(self):
        present = ALL_PRESENT - {tools_tox.RABBITMQ_SERVER}
        left, run, err = self.ensure(['-e', 'functional'], present=present)
        self.assertEqual(['apt-get', 'install', '-y', '-q',
                          'rabbitmq-server'], run.call_args.args[0])

    def test_postgres_on_path(self):
        present = {'/usr/local/bin/initdb', '/usr/local/bin/postgres',
                   tools_tox.RABBITMQ_SERVER}

        def which(name):
            return {'initdb': '/usr/local/bin/initdb'}.get(name)
        left, run, err = self.ensure(present=present, which=which)
        self.assertEqual([], left)
        run.assert_not_called()

    def test_update_then_retry(self):
        left, run, err = self.ensure(present=set(), returncodes=(100, 0, 0))
        self.assertEqual([], left)
        self.assertEqual(['apt-get', 'update', '-q'],
                         run.call_args_list[1].args[0])
        self.assertEqual(3, run.call_count)

    def test_install_failure_warns(self):
        left, run, err = self.ensure(present=set(), returncodes=(100, 100))
        self.assertEqual(['postgresql-15', 'rabbitmq-server'], left)
        self.assertIn('apt-get install failed', err)
        self.assertIn('apt-get install postgresql-15 rabbitmq-server', err)

    def test_not_root_warns_without_running(self):
        left, run, err = self.ensure(present=set(), euid=1000)
        self.assertEqual(['postgresql-15', 'rabbitmq-server'], left)
        run.assert_not_called()
        self.assertIn('not running as root', err)

    def test_no_apt_warns_without_running(self):
        left, run, err = self.ensure(present=set(), which=lambda name: None)
        run.assert_not_called()
        self.assertIn('apt-get is not available', err)


class FailureLinesTest(unittest.TestCase):
    REPORT = '\n'.join([
        '=' * 70,
        'FAIL: tests.functional.test_a.ATest.test_one',
        'tags: worker-0',
        '-' * 70,
        'Traceback (most recent call last):',
        '  File "x.py", line 1, in test_one',
        '    self.assertIn(text, info)',
        "AssertionError: 'a' not found in 'b'",
        '--- last lines of /tmp/x/ironic/ironic.log ---',
        'ERROR: not an exception line, a log line',
        '=' * 70,
        'ERROR: tests.unit.test_b.BTest.test_two',
        '-' * 70,
        'Traceback (most recent call last):',
        'ValueError: ' + 'x' * 900,
        '',
        'FAILED (id=7, failures=2)',
    ])

    def test_one_line_per_failed_test_without_the_log_tails(self):
        lines = tools_tox.failure_lines(self.REPORT)
        self.assertEqual(2, len(lines), lines)
        self.assertEqual("tests.functional.test_a.ATest.test_one: "
                         "AssertionError: 'a' not found in 'b'", lines[0])
        self.assertTrue(lines[1].startswith(
            'tests.unit.test_b.BTest.test_two: ValueError: xxx'))
        self.assertLessEqual(len(lines[1]), len(
            'tests.unit.test_b.BTest.test_two: ') +
            tools_tox.FAILURE_LINE_LIMIT)

    def test_nothing_failed(self):
        self.assertEqual([], tools_tox.failure_lines(''))
