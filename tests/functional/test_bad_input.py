"""Malformed input through the paths users run: the workflow and the CLI.

The deploy_roles workflow on a real Mistral ends in ERROR with a short
state_info naming the field, and Ironic receives no request at all; so
do deploy_instances and undeploy_instances run on their own, given bad
options. The command line (``tripleo-baremetal-expand FILE``) answers a
file that is not a roles file with one line and exit code 2, no
traceback.
"""

import os
import subprocess
import sys
import tempfile
import time
import unittest

from tests.functional import base

ROLES_MODULE = 'tripleo_baremetal.request.roles'
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WB = 'tripleo.baremetal_deploy.v1.'

#: Longest acceptable state_info for one bad value.
SHORT = 2000

#: Length of the huge value: well above anything a message may echo.
HUGE = 10 * 1000 * 1000


def nest(levels):
    value = {}
    for _ in range(levels - 1):
        value = {'a': value}
    return value


def ctlplane_port(port_id, ip):
    return {'id': port_id,
            'fixed_ips': [{'ip_address': ip, 'subnet_id': 'ctlplane'}]}


class DeployRolesBadInputTest(base.MistralTestCase):

    WORKBOOKS = [os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml')]
    # Room for the 10 MB value in the execution's input (1 MiB by default).
    MISTRAL_OPTIONS = {'engine': {'execution_field_size_limit_kb': 65536}}

    def assert_refused(self, roles_file, fragments, **inputs):
        self.ironic.reset_request_counts()
        execution = self.run_workflow(
            WB + 'deploy_roles', dict(inputs, roles=roles_file), timeout=120)
        self.assertEqual('ERROR', execution.state,
                         self.describe_execution(execution))
        info = execution.state_info or ''
        for fragment in fragments:
            self.assertIn(fragment, info)
        self.assertLess(len(info), SHORT, info[:2 * SHORT])
        self.assertEqual({}, dict(self.ironic.request_counts()))
        return info

    def test_bad_inputs(self):
        cases = [
            ('huge count', [{'name': 'Compute', 'count': 10 ** 9}], {},
             ["role 'Compute': count: 1000000000 is more than the maximum of "
              "10000 instances per role"]),
            ('huge name', [{'name': 'Compute',
                            'instances': [{'name': 'n' * HUGE}]}], {},
             ["role 'Compute' instance 0: instances[0].name: 'nnn",
              "... (%d characters) is longer than 255 characters" % HUGE]),
            ('deep nesting', [{'name': 'Compute', 'defaults': {
                'config_drive': {'cloud_config': nest(200)}}}], {},
             ['roles[0].defaults.config_drive.cloud_config.a.a',
              'is nested too deeply']),
            ('duplicate port', [{'name': 'Compute', 'count': 2}],
             {'role_ctlplane_port_map': {'Compute': [
                 ctlplane_port('p-1', '192.168.24.10'),
                 ctlplane_port('p-1', '192.168.24.11')]}},
             ["port 'p-1' is given to two instances: overcloud-novacompute-0 "
              "(role_ctlplane_port_map) and overcloud-novacompute-1"]),
            ('file url outside', [{'name': 'Compute', 'defaults': {
                'image': {'href': 'file:///etc/shadow'}}}], {},
             ["defaults.image.href: 'file:///etc/shadow' is under /etc"]),
            ('file url not allowed', [{'name': 'Compute', 'defaults': {
                'image': {'href': 'file:///srv/images/x.raw'}}}], {},
             ["defaults.image.href: 'file:///srv/images/x.raw' is not "
              "inside the directories", '/var/lib/ironic']),
            # No port map and no Neutron to make the port in.
            ('vif without port', [{'name': 'Compute', 'defaults': {
                'networks': [{'network': 'ctlplane', 'vif': True}]}}], {},
             ["overcloud-novacompute-0: networks[0] (network ctlplane): no "
              "port is given for it and there is no Neutron (network) "
              "endpoint to create one"]),
            ('format ending with a dash', [{'name': 'Compute',
                                            'hostname_format': 'a-'}], {},
             ["role 'Compute': hostname_format: 'a-' cannot give a valid "
              "RFC 1123 hostname"]),
            ('huge cloud_config', [{'name': 'Compute', 'defaults': {
                'config_drive': {'cloud_config': {'write_files': [
                    {'path': '/big', 'content': 'x' * HUGE}]}}}}], {},
             ["role 'Compute': defaults.config_drive.cloud_config: <hidden "
              "dict of length 1> is larger than the maximum of 1048576 "
              "bytes"]),
            # The workflow's options, as a caller of Mistral's API may
            # type them.
            ('concurrency a string', [{'name': 'Compute'}],
             {'concurrency': 'abc'},
             ["concurrency: 'abc' must be an integer"]),
            ('negative batch_size', [{'name': 'Compute'}],
             {'batch_size': -1},
             ['batch_size: -1 must be at least 0']),
            ('percentage over 100', [{'name': 'Compute'}],
             {'max_fail_percentage': 150},
             ['max_fail_percentage: 150 is more than the maximum of 100 '
              'percent']),
        ]
        for label, roles_file, inputs, fragments in cases:
            with self.subTest(label):
                self.assert_refused(roles_file, fragments, **inputs)

    def test_bad_options_of_the_workflows_run_on_their_own(self):
        # deploy_instances and undeploy_instances have no expand_roles to
        # check their options: their first step does, before any request.
        cases = [
            ('deploy_instances', {'instances': [{'hostname': 'h-0'}],
                                  'concurrency': 'abc'},
             "concurrency: 'abc' must be an integer"),
            ('deploy_instances', {'instances': [{'hostname': 'h-0'}],
                                  'timeout': 0},
             'timeout: 0 must be at least 1'),
            ('undeploy_instances', {'hostnames': ['h-0'], 'timeout': 'x'},
             "timeout: 'x' must be an integer"),
            ('undeploy_instances', {'hostnames': ['h-0'], 'concurrency': -2},
             'concurrency: -2 must be at least 1'),
        ]
        for workflow, inputs, fragment in cases:
            with self.subTest(workflow=workflow, inputs=inputs):
                self.ironic.reset_request_counts()
                execution = self.run_workflow(WB + workflow, inputs,
                                              timeout=120)
                self.assertEqual('ERROR', execution.state,
                                 self.describe_execution(execution))
                info = execution.state_info or ''
                self.assertIn(fragment, info)
                self.assertLess(len(info), SHORT, info[:2 * SHORT])
                self.assertEqual({}, dict(self.ironic.request_counts()))


class CommandLineBadFileTest(unittest.TestCase):
    """``python -m ...request.roles FILE`` on files that are bad."""

    def run_cli(self, data, options=(), names_file=True):
        handle, path = tempfile.mkstemp(suffix='.yaml')
        self.addCleanup(os.unlink, path)
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data)
        result = subprocess.run(
            [sys.executable, '-m', ROLES_MODULE, path] + list(options),
            capture_output=True, text=True, cwd=TOP, timeout=60)
        self.assertEqual(2, result.returncode, result.stderr)
        self.assertEqual('', result.stdout)
        self.assertNotIn('Traceback', result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(1, len(lines), result.stderr)
        self.assertTrue(lines[0].startswith(
            'error: %s ' % path if names_file else 'error: '), lines[0])
        return lines[0]

    def test_huge_cloud_config(self):
        start = time.monotonic()
        line = self.run_cli(
            b"- name: Compute\n  defaults:\n    config_drive:\n"
            b"      cloud_config:\n        write_files:\n"
            b"          - {path: /big, content: '%s'}\n" % (b'x' * HUGE))
        self.assertLess(time.monotonic() - start, 2)
        self.assertIn('is too large: line 5, column 9: cloud_config spans '
                      'more than 4194304 characters of the file (4 MiB; as '
                      'JSON one config drive part may take at most 1048576 '
                      'bytes)', line)

    def test_port_map_key_not_a_string(self):
        handle, port_map = tempfile.mkstemp(suffix='.yaml')
        self.addCleanup(os.unlink, port_map)
        with os.fdopen(handle, 'w') as stream:
            stream.write('RoleNetPortIdMap:\n  Compute:\n    5: [p-1]\n')
        line = self.run_cli(b'- name: Compute\n', ['--port-map', port_map],
                            names_file=False)
        self.assertIn('role_net_port_id_map.Compute.5: 5 is not a string: '
                      'network names must be strings', line)

    def test_binary_file(self):
        line = self.run_cli(bytes(range(256)) * 100)
        self.assertIn('is not a UTF-8 text file', line)

    def test_invalid_utf8(self):
        line = self.run_cli(b'- name: Contr\xf4leur\n')
        self.assertIn('is not a UTF-8 text file (byte 0xf4 at offset 13', line)

    def test_alias_bomb(self):
        lines = [b'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
        for level in range(1, 10):
            lines.append(b'a%d: &a%d [%s]' % (level, level, b', '.join(
                [b'*a%d' % (level - 1)] * 9)))
        line = self.run_cli(b'\n'.join(lines) + b'\n')
        self.assertIn('is too large: more than 1000000 nodes once aliases '
                      'are expanded', line)

    def test_closed_pipe(self):
        # "| head" closes stdout early: no traceback either. The output
        # (about 1 MB) is far more than a pipe holds.
        handle, path = tempfile.mkstemp(suffix='.yaml')
        self.addCleanup(os.unlink, path)
        with os.fdopen(handle, 'w') as stream:
            stream.write('- {name: Compute, count: 2000}\n')
        process = subprocess.Popen(
            [sys.executable, '-m', ROLES_MODULE, path], cwd=TOP,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        process.stdout.read(10)
        process.stdout.close()
        stderr = process.stderr.read().decode()
        process.stderr.close()
        self.assertEqual(1, process.wait(timeout=60))
        self.assertNotIn('Traceback', stderr)

    def test_file_url_allowed_paths(self):
        handle, path = tempfile.mkstemp(suffix='.yaml')
        self.addCleanup(os.unlink, path)
        with os.fdopen(handle, 'w') as stream:
            stream.write("- name: Compute\n  defaults: {image: {href: "
                         "'file:///srv/images/x.raw'}}\n")
        command = [sys.executable, '-m', ROLES_MODULE, path]
        refused = subprocess.run(command, capture_output=True, text=True,
                                 cwd=TOP, timeout=60)
        self.assertEqual(2, refused.returncode)
        self.assertIn('/var/lib/ironic', refused.stderr)
        allowed = subprocess.run(
            command + ['--file-url-allowed-paths', '/data,/srv/images'],
            capture_output=True, text=True, cwd=TOP, timeout=60)
        self.assertEqual(0, allowed.returncode, allowed.stderr)
