"""Smoke test of the embedded Heat: a stack driving Mistral workflows.

An ``OS::Mistral::ExternalResource`` runs one workflow on CREATE and
another on DELETE, on the class's real Mistral, which Heat finds in the
catalog of its noauth token.
"""

import json
import logging
import time

from heatclient import exc as heat_exceptions

from tests.functional import base

LOG = logging.getLogger(__name__)

WORKFLOWS = """
version: '2.0'
heat_smoke_create:
  input:
    - greeting
  output:
    resource_id: <% 'thing-' + $.greeting %>
    said: <% $.said %>
  tasks:
    say:
      action: std.echo
      input:
        output: <% $.greeting %>
      publish:
        said: <% task().result %>
heat_smoke_delete:
  input:
    - greeting
  output:
    forgot: <% $.forgot %>
  tasks:
    forget:
      action: std.echo
      input:
        output: <% env().heat_extresource_data.resource_id %>
      publish:
        forgot: <% task().result %>
"""

#: Heat's yaql has no JSON parser (neither yaql's standard library nor
#: Heat adds one, unlike Mistral's ``json_parse``): a regular expression
#: picks a string value out of the JSON text of ``output``.
SAID_EXPRESSION = (
    """regex('"said": "([^"]*)"').search($.data.output, $2.value)""")

TEMPLATE = {
    'heat_template_version': '2021-04-16',
    'resources': {'thing': {
        'type': 'OS::Mistral::ExternalResource',
        'properties': {
            'actions': {'CREATE': {'workflow': 'heat_smoke_create'},
                        'DELETE': {'workflow': 'heat_smoke_delete'}},
            'input': {'greeting': 'hello'},
        },
    }},
    'outputs': {
        'raw': {'value': {'get_attr': ['thing', 'output']}},
        'said': {'value': {'yaql': {
            'expression': SAID_EXPRESSION,
            'data': {'output': {'get_attr': ['thing', 'output']}}}}},
        # The attribute is declared a map but holds a JSON string: a path
        # into it finds nothing.
        'by_path': {'value': {'get_attr': ['thing', 'output', 'said']}},
    },
}


class HeatServiceTest(base.HeatTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mistral_client.workflows.create(WORKFLOWS)

    def delete_stack(self, stack_id):
        """Clean-up: delete the stack unless the test did."""
        try:
            self.heat_client.stacks.delete(stack_id)
        except heat_exceptions.HTTPNotFound:
            return
        self.wait_for_stack(stack_id)

    def outputs(self, stack_id):
        return {item['output_key']: item.get('output_value')
                for item in self.heat_client.stacks.get(stack_id).outputs}

    def test_external_resource_runs_workflows_on_create_and_delete(self):
        started = time.monotonic()
        stack_id = self.heat_client.stacks.create(
            stack_name='smoke', template=TEMPLATE)['stack']['id']
        self.addCleanup(self.delete_stack, stack_id)

        stack = self.wait_for_stack(stack_id)
        self.assertEqual('CREATE_COMPLETE', stack.stack_status,
                         stack.stack_status_reason)
        created = time.monotonic()
        resource = self.heat_client.resources.get(stack_id, 'thing')
        self.assertEqual('thing-hello', resource.physical_resource_id)
        outputs = self.outputs(stack_id)
        self.assertIsInstance(outputs['raw'], str)
        self.assertEqual({'resource_id': 'thing-hello', 'said': 'hello'},
                         json.loads(outputs['raw']))
        self.assertEqual('hello', outputs['said'])
        self.assertIsNone(outputs['by_path'])

        self.heat_client.stacks.delete(stack_id)
        stack = self.wait_for_stack(stack_id)
        if stack is not None:
            self.assertEqual('DELETE_COMPLETE', stack.stack_status,
                             stack.stack_status_reason)
        deleted = time.monotonic()
        executions = [execution for execution
                      in self.mistral_client.executions.list()
                      if execution.workflow_name == 'heat_smoke_delete']
        self.assertEqual(['SUCCESS'], [e.state for e in executions])
        # DELETE saw what CREATE returned (env().heat_extresource_data).
        execution = self.mistral_client.executions.get(executions[0].id)
        self.assertEqual({'forgot': 'thing-hello'},
                         json.loads(execution.output))
        LOG.info('Stack created in %.1f s, deleted in %.1f s',
                 created - started, deleted - created)
