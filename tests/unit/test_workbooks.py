"""Offline checks of every workbook: schema, actions and their parameters.

Mistral validates a workbook's YAML, schema and YAQL when it is loaded,
but not that the actions exist or take the parameters a task passes:
those mistakes only show when an execution reaches the task. Here every
``tripleo.baremetal_deploy.*`` task is checked against our entry points.
"""

import glob
from importlib import metadata
import inspect
import os
import re
import unittest

from mistral.lang import parser
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WORKBOOKS = sorted(glob.glob(os.path.join(TOP, 'workbooks', '*.yaml')))
PREFIX = 'tripleo.baremetal_deploy.'
#: How a task passes its workflow's concurrency on (YAQL or Jinja).
CONCURRENCY = ('<% $.concurrency %>', '{{ _.concurrency }}')


def our_actions():
    return {ep.name: ep.load()
            for ep in metadata.entry_points(group='mistral.actions')
            if ep.name.startswith(PREFIX)}


def parse(path):
    with open(path) as stream:
        return parser.get_workbook_spec_from_yaml(stream.read(),
                                                  validate=True)


class WorkbookTest(unittest.TestCase):

    def test_there_are_workbooks(self):
        self.assertIn(os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml'),
                      WORKBOOKS)

    def test_actions_and_parameters(self):
        actions = our_actions()
        self.assertEqual(14, len(actions), sorted(actions))
        for path in WORKBOOKS:
            spec = parse(path)
            for workflow in spec.get_workflows():
                for task in workflow.get_tasks():
                    name = task.get_action_name()
                    if not name or not name.startswith(PREFIX):
                        continue
                    where = '%s: %s.%s' % (os.path.basename(path),
                                           workflow.get_name(),
                                           task.get_name())
                    self.assertIn(name, actions, where)
                    signature = inspect.signature(actions[name].__init__)
                    params = [p for p in signature.parameters.values()
                              if p.name != 'self']
                    given = set(task.get_input())
                    self.assertLessEqual(
                        given, {p.name for p in params},
                        '%s passes unknown parameters' % where)
                    required = {p.name for p in params
                                if p.default is inspect.Parameter.empty}
                    self.assertLessEqual(required, given,
                                         '%s misses parameters' % where)

    def test_concurrency_reaches_every_parallel_step(self):
        spec = parse(os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml'))
        self.assertEqual('tripleo.baremetal_deploy.v1', spec.get_name())
        for workflow in spec.get_workflows():
            for task in workflow.get_tasks():
                where = '%s.%s' % (workflow.get_name(), task.get_name())
                if task.get_with_items():
                    self.assertIn(task.get_policies().get_concurrency(),
                                  CONCURRENCY, where)
                if task.get_action_name() == PREFIX + 'pick_nodes':
                    self.assertIn(task.get_input()['concurrency'],
                                  CONCURRENCY, where)
                if task.get_workflow_name():
                    self.assertIn(task.get_input().get('concurrency'),
                                  CONCURRENCY, where)

    def test_no_yaql_in_per_item_expressions(self):
        # Mistral's YAQL copies the whole context before each evaluation,
        # and a with-items task evaluates its items' input once per item:
        # in YAQL, each item would cost more the more nodes a run has.
        # deploy_batches builds its drives and instances in YAQL, once per
        # batch (Jinja cannot build a dict).
        spec = parse(os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml'))
        checked = 0
        for workflow in spec.get_workflows():
            for task in workflow.get_tasks():
                if not task.get_with_items():
                    continue
                where = '%s.%s' % (workflow.get_name(), task.get_name())
                for var, expression in task.get_with_items().items():
                    self.assertNotIn('<%', str(expression), where)
                for name, value in task.get_input().items():
                    if task.get_name() == 'deploy_batches' and name in (
                            'config_drives', 'instances'):
                        continue
                    self.assertNotIn('<%', str(value),
                                     '%s input %s' % (where, name))
                checked += 1
        self.assertEqual(3, checked)

    def test_values_dropped_from_the_context_are_not_read_later(self):
        # Every task execution stores its workflow's context, and Mistral
        # loads it again on each action completion: the big published
        # values no later step reads are published again empty (a
        # workflow's input is kept apart, in the execution, whatever is
        # published; doc/source/scale.md).
        # Here: each is read only by the steps before it is dropped.
        workflows = self.workflows()
        dropped = {
            ('deploy_instances', 'in_progress'): (('wait_for_deploy',), {
                'check_existing_instances', 'wait_for_deploy'}),
        }
        for (workflow, name), (droppers, readers) in dropped.items():
            tasks = workflows[workflow]['tasks']
            for task in droppers:
                self.assertIn(tasks[task]['publish'][name], ([], {}),
                              (workflow, task, name))
            read = re.compile(r'[_$]\.%s\b' % name)
            reading = {task for task, body in tasks.items()
                       if read.search(yaml.safe_dump(body))}
            self.assertLessEqual(reading, readers, (workflow, name))
            self.assertFalse(read.search(yaml.safe_dump(
                workflows[workflow].get('output'))), (workflow, name))

    def test_records_are_read_from_results_not_published(self):
        # The instances to deploy and the reservations, the values that
        # grow with the number of hosts before the deploy, never enter a
        # context: the steps that need them read them from the task that
        # returned them (task("name").result), once per step
        # (doc/source/scale.md).
        workflows = self.workflows()
        never_published = {
            'deploy_roles': {'expand_roles': {'instances'},
                             'ensure_ports': {'instances',
                                              'node_port_map'}},
            'deploy_instances': {
                'check_existing_instances': {'to_deploy'},
                'pick_nodes': {'reservations'}},
        }
        for workflow, producers in never_published.items():
            tasks = workflows[workflow]['tasks']
            for producer, keys in producers.items():
                published = yaml.safe_dump(tasks[producer].get('publish'))
                for key in keys:
                    self.assertFalse(
                        re.search(r'result\.%s\b' % key, published),
                        (workflow, producer, key))
                    lookup = re.compile(r'''task\(["']%s["']\)\.result\.%s\b'''
                                        % (producer, key))
                    readers = [task for task, body in tasks.items()
                               if lookup.search(yaml.safe_dump(
                                   body, width=1000))]
                    self.assertTrue(readers, (workflow, producer, key))
        # Nothing publishes them under another name either, nor the
        # deploy step's result (the wait reads it).
        for workflow in never_published:
            for task, body in workflows[workflow]['tasks'].items():
                published = body.get('publish') or {}
                for name in ('to_deploy', 'node_port_map', 'deploying'):
                    self.assertNotIn(name, published, (workflow, task))
        wait = yaml.safe_dump(workflows['deploy_instances']['tasks'][
            'wait_for_deploy']['input'], width=1000)
        for step in ('deploy_node', 'deploy_batches'):
            self.assertIn('task("%s").result' % step, wait)
        # Not in an output: Mistral evaluates the output in the final
        # context, where task() fails (KeyError '__task_execution').
        for workflow, body in workflows.items():
            self.assertNotIn('task(', yaml.safe_dump(body.get('output')),
                             workflow)

    def workflows(self):
        with open(os.path.join(TOP, 'workbooks',
                               'baremetal_deploy.yaml')) as stream:
            return yaml.safe_load(stream)['workflows']

    def test_templates_reach_the_environment_steps(self):
        spec = parse(os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml'))
        workflows = {wf.get_name(): wf for wf in spec.get_workflows()}
        tasks = {task.get_name(): task
                 for task in workflows['deploy_roles'].get_tasks()}
        for name in ('expand_roles', 'deploy_instances'):
            self.assertEqual('{{ _.templates }}',
                             tasks[name].get_input()['templates'], name)
        waits = {task.get_name(): task
                 for task in workflows['deploy_instances'].get_tasks()}
        self.assertEqual('{{ _.templates }}',
                         waits['wait_for_deploy'].get_input()['templates'])
        for name in ('provision_stack', 'undeploy_stack'):
            self.assertEqual('/usr/share/openstack-tripleo-heat-templates',
                             dict(workflows[name].get_input())['templates'])

    def test_workflow_inputs(self):
        spec = parse(os.path.join(TOP, 'workbooks', 'baremetal_deploy.yaml'))
        workflows = {wf.get_name(): wf for wf in spec.get_workflows()}
        self.assertEqual({'deploy_roles', 'deploy_instances',
                          'undeploy_roles', 'undeploy_instances',
                          'undeploy_stack', 'provision_stack'},
                         set(workflows))
        inputs = dict(workflows['deploy_roles'].get_input())
        self.assertIn('roles', inputs)
        del inputs['roles']
        self.assertEqual(
            {'plan': 'overcloud', 'role_net_port_id_map': {},
             'role_ctlplane_port_map': {}, 'ssh_keys': [],
             'ssh_user_name': 'tripleo-admin', 'timeout': 3600,
             'concurrency': 20, 'max_fail_percentage': 0,
             'templates': '/usr/share/openstack-tripleo-heat-templates',
             'batch_size': 0}, inputs)
        self.assertEqual({'environment', 'instances', 'new_instances',
                          'existing_instances', 'failed_instances',
                          'repaired', 'ctlplane_ips', 'ports',
                          'ansible_playbooks'},
                         set(workflows['deploy_roles'].get_output()))
