"""Offline checks of heat/: the hook's input matches the workflows'."""

import os
import unittest

import yaml

from tests.unit import test_workbooks

HEAT = os.path.join(test_workbooks.TOP, 'heat')


def load(name):
    with open(os.path.join(HEAT, name)) as stream:
        return yaml.safe_load(stream)


class HeatTemplatesTest(unittest.TestCase):

    def test_hook_input_is_every_workflow_input(self):
        hook = load('baremetal-deploy.yaml')
        deploy = hook['resources']['Deploy']['properties']
        given = set(deploy['input'])
        spec = test_workbooks.parse(os.path.join(
            test_workbooks.TOP, 'workbooks', 'baremetal_deploy.yaml'))
        workflows = {wf.get_name(): wf for wf in spec.get_workflows()}
        for action in ('CREATE', 'UPDATE', 'DELETE'):
            name = deploy['actions'][action]['workflow'].rpartition('.')[2]
            inputs = {item if isinstance(item, str) else list(item)[0]
                      for item in workflows[name].get_input()}
            self.assertLessEqual(given, inputs, name)
        self.assertEqual({'get_param': 'Templates'}, deploy['input'][
            'templates'])

    def test_stack_passes_only_hook_parameters(self):
        hook = load('baremetal-deploy.yaml')
        stack = load('overcloud-baremetal.yaml')
        passed = stack['resources']['Baremetal']['properties']
        self.assertLessEqual(set(passed), set(hook['parameters']))
        self.assertEqual(
            '/usr/share/openstack-tripleo-heat-templates',
            stack['parameters']['Templates']['default'])
