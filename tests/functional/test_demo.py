"""The README's main job: the demo runs deploy_roles end to end."""

import contextlib
import io
import os
import tempfile
import unittest

import yaml

from localcloud import demo
from tests.functional import base


class DemoTest(unittest.TestCase):

    def test_demo(self):
        with tempfile.TemporaryDirectory() as tmp:
            output = os.path.join(tmp, 'env.yaml')
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = demo.main(['--output', output])
            text = out.getvalue()
            self.assertEqual(0, code, text)
            with open(output) as stream:
                env = yaml.safe_load(stream)
        params = env['parameter_defaults']
        self.assertEqual(3, params['ControllerCount'])
        self.assertEqual([{'resource_list': [1]}],
                         params['ComputeRemovalPolicies'])
        self.assertIn('overcloud-controller-0-ctlplane',
                      params['DeployedServerPortMap'])
        # Progress lines, then the table: node-00 is pinned to controller-0.
        # (the provision command's progress lines and table).
        self.assertRegex(text, r'overcloud-controller-0\s+node-00\s+'
                               r'deploying')
        self.assertIn('6/6 active, 0 failed', text)
        self.assertRegex(text, r'overcloud-controller-0\s+node-00\s+active'
                               r'\s+192\.168\.24\.10\s+Controller')
        self.assertIn('6 new, 0 existing instances', text)

    def test_demo_with_heat(self):
        # The same run driven by a Heat stack: Heat creates the ports.
        with tempfile.TemporaryDirectory() as tmp:
            output = os.path.join(tmp, 'env.yaml')
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = demo.main(['--heat', '--output', output])
            text = out.getvalue()
            self.assertEqual(0, code, text)
            with open(output) as stream:
                env = yaml.safe_load(stream)
        params = env['parameter_defaults']
        self.assertEqual(3, params['ComputeCount'])
        self.assertEqual({'overcloud-controller-%d-ctlplane' % i
                          for i in range(3)} | {
                              'overcloud-novacompute-%d-ctlplane' % i
                              for i in (0, 2, 3)},
                         set(params['DeployedServerPortMap']))
        self.assertIn('6/6 active, 0 failed', text)
        self.assertRegex(text, r'overcloud-controller-0\s+node-00\s+active'
                               r'\s+192\.168\.24\.\d+\s+Controller')
        self.assertIn('stack overcloud-baremetal: 6 instances', text)


class DemoOnExistingServicesTest(base.MistralTestCase):
    """``--ironic-url``/``--mistral-url``: the same run, on given services."""

    MISTRAL_OPTIONS = {'tripleo_baremetal': {'check_local_images': False}}

    def test_demo_with_urls(self):
        self.enrol_nodes(demo.demo_nodes())
        with tempfile.TemporaryDirectory() as tmp:
            output = os.path.join(tmp, 'env.yaml')
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = demo.main(['--output', output,
                                  '--ironic-url', self.ironic.url,
                                  '--mistral-url', self.mistral.url])
            self.assertEqual(0, code, out.getvalue())
            self.assertTrue(os.path.exists(output))
        self.assertNotIn('Starting', out.getvalue())
        self.assertEqual(6, sum(1 for node in self.conn.baremetal.nodes()
                                if node.provision_state == 'active'))
