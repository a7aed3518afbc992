"""The workflows' numeric options are refused, named, before any API call."""

import unittest

from tripleo_baremetal import actions
from tripleo_baremetal import exceptions
from tripleo_baremetal.request import run_options


class RunOptionsTest(unittest.TestCase):

    def test_valid_and_absent(self):
        run_options.check_run_options({'concurrency': 20, 'batch_size': 0,
                                       'timeout': 3600,
                                       'max_fail_percentage': 100})
        run_options.check_run_options({'concurrency': None})
        run_options.check_run_options(None)

    def test_each_bad_value_is_named(self):
        with self.assertRaises(exceptions.InvalidInput) as caught:
            run_options.check_run_options({
                'concurrency': 0, 'batch_size': '2', 'timeout': True,
                'max_fail_percentage': 101})
        errors = caught.exception.errors
        self.assertEqual(4, len(errors))
        self.assertIn("batch_size: '2' must be an integer", errors)
        self.assertIn('concurrency: 0 must be at least 1', errors)
        self.assertIn('max_fail_percentage: 101 is more than the maximum of '
                      '100 percent', errors)
        self.assertIn('timeout: True must be an integer', errors)

    def test_long_value_is_cut(self):
        with self.assertRaises(exceptions.InvalidInput) as caught:
            run_options.check_run_options({'timeout': 'x' * 100000})
        self.assertLess(len(str(caught.exception)), 300)
        self.assertIn('(100000 characters)', str(caught.exception))

    def test_unknown_option(self):
        self.assertRaisesRegex(exceptions.InvalidInput,
                               'concurency: 2 is not a known key',
                               run_options.check_run_options,
                               {'concurency': 2})

    def test_expand_roles_refuses_before_expanding(self):
        result = actions.ExpandRoles([{'name': 'Compute'}], options={
            'concurrency': -3}).run(None)
        self.assertIn('concurrency: -3 must be at least 1', result.error)

    def test_the_first_steps_of_the_other_workflows_refuse_them(self):
        # deploy_instances' and undeploy_instances' first steps, before
        # any connection is made (the context is None: no API to call).
        result = actions.CheckExistingInstances(
            [{'hostname': 'h-0'}], options={'timeout': 'soon'}).run(None)
        self.assertIn("timeout: 'soon' must be an integer", result.error)
        result = actions.CheckOptions({'concurrency': 0}).run(None)
        self.assertIn('concurrency: 0 must be at least 1', result.error)
        self.assertEqual({}, actions.CheckOptions(
            {'concurrency': 20, 'timeout': 1800}).run(None))
