"""``.. workbook:: path``: a Mistral workbook's workflows, inputs, outputs.

A tiny local Sphinx extension, so that the workflows page says what the
workbook says: for each workflow its description, its inputs (with the
defaults) and its outputs, read from the YAML file the argument names
(relative to the repository's top directory).
"""

import json
import os

from docutils import nodes
from docutils.parsers import rst
from docutils import statemachine
from sphinx.util import nodes as sphinx_nodes
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _input_line(item):
    if isinstance(item, str):
        return '``%s`` (required)' % item
    (name, default), = item.items()
    return '``%s`` (default ``%s``)' % (name, json.dumps(default))


def workbook_lines(spec):
    """reStructuredText of a parsed workbook."""
    yield 'Workbook ``%s``: %s' % (spec['name'], spec.get('description', ''))
    yield ''
    for name, workflow in spec['workflows'].items():
        yield name
        yield '-' * len(name)
        yield ''
        yield '``%s.%s``' % (spec['name'], name)
        tags = workflow.get('tags')
        if tags:
            yield '(tags: %s)' % ', '.join('``%s``' % tag for tag in tags)
        yield ''
        yield ' '.join(str(workflow.get('description', '')).split())
        yield ''
        yield 'Inputs:'
        yield ''
        for item in workflow.get('input') or []:
            yield '- ' + _input_line(item)
        yield ''
        yield 'Outputs:'
        yield ''
        for output in workflow.get('output') or {}:
            yield '- ``%s``' % output
        yield ''


class WorkbookDirective(rst.Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        path = os.path.join(TOP, self.arguments[0])
        self.state.document.settings.record_dependencies.add(path)
        with open(path) as stream:
            spec = yaml.safe_load(stream)
        result = statemachine.StringList()
        for line in workbook_lines(spec):
            result.append(line, path)
        container = nodes.section()
        container.document = self.state.document
        sphinx_nodes.nested_parse_with_titles(self.state, result, container)
        return container.children


def setup(app):
    app.add_directive('workbook', WorkbookDirective)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
