"""The architecture, pinned: what each part of the package may use.

See doc/source/architecture.md. These checks read the source, so that a move
across a boundary fails here, with the file named, instead of in review.
"""

import ast
import os
import unittest

import tripleo_baremetal
from tripleo_baremetal.picking import reservation
from tripleo_baremetal.provisioning import sequence
from tripleo_baremetal.provisioning import undeploy
from tripleo_baremetal.request import roles

PACKAGE = os.path.dirname(os.path.abspath(tripleo_baremetal.__file__))
#: Where records become JSON and back.
BOUNDARIES = ('actions.py', 'model.py')

#: What the modules of each stage must not import: stages depend one
#: way, and what two of them share lives in ``common``, below all three.
FORBIDDEN = {
    'common': ('tripleo_baremetal.request', 'tripleo_baremetal.picking',
               'tripleo_baremetal.provisioning',
               'tripleo_baremetal.configdrive', 'tripleo_baremetal.cli',
               'tripleo_baremetal.actions', 'tripleo_baremetal.api',
               'tripleo_baremetal.connection', 'openstack'),
    'request': ('tripleo_baremetal.picking', 'tripleo_baremetal.provisioning'),
    'picking': ('tripleo_baremetal.request', 'tripleo_baremetal.provisioning'),
}

#: Imports across a stage boundary that predate the rule, each with the
#: module that makes it: picking's reservation polls allocations and
#: puts node settings back with provisioning's helpers. The list may
#: only shrink.
KNOWN_CROSSINGS = {
    ('picking/reservation.py', 'tripleo_baremetal.provisioning'),
    ('picking/reservation.py', 'tripleo_baremetal.provisioning.polling'),
    ('picking/reservation.py',
     'tripleo_baremetal.provisioning.node_settings'),
}


def _modules():
    for directory, _dirs, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith('.py'):
                path = os.path.join(directory, name)
                yield os.path.relpath(path, PACKAGE), path


def _imports(path):
    with open(path) as stream:
        tree = ast.parse(stream.read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update('%s.%s' % (node.module, alias.name)
                         for alias in node.names)
    return found, tree


class LayoutTest(unittest.TestCase):

    def test_public_api(self):
        self.assertEqual(['expand_roles', 'pick_nodes', 'deploy_instances',
                          'undeploy_instances'], tripleo_baremetal.__all__)
        self.assertIs(roles.expand_roles, tripleo_baremetal.expand_roles)
        self.assertIs(reservation.pick_nodes, tripleo_baremetal.pick_nodes)
        self.assertIs(sequence.deploy_instances,
                      tripleo_baremetal.deploy_instances)
        self.assertIs(undeploy.undeploy_instances,
                      tripleo_baremetal.undeploy_instances)

    def test_installed_package_needs_no_test_code(self):
        for name, path in _modules():
            imported, _tree = _imports(path)
            for module in imported:
                self.assertFalse(module.split('.')[0] in ('localcloud',
                                                          'tests'),
                                 '%s imports %s' % (name, module))

    def test_request_stage_calls_no_api(self):
        for name, path in _modules():
            if not name.startswith('request' + os.sep):
                continue
            imported, _tree = _imports(path)
            for module in imported:
                self.assertFalse(
                    module.split('.')[0] == 'openstack'
                    or module in ('tripleo_baremetal.api',
                                  'tripleo_baremetal.connection'),
                    '%s imports %s' % (name, module))

    def test_stages_depend_one_way(self):
        crossings = set()
        for name, path in _modules():
            stage = name.split(os.sep)[0]
            imported, _tree = _imports(path)
            for module in imported:
                if any(module == forbidden or module.startswith(
                        forbidden + '.') for forbidden
                        in FORBIDDEN.get(stage, ())):
                    crossings.add((name.replace(os.sep, '/'), module))
        self.assertEqual(set(), crossings - KNOWN_CROSSINGS)
        self.assertEqual(set(), KNOWN_CROSSINGS - crossings,
                         'a known crossing is gone: drop it from the list')

    def test_json_only_at_the_boundaries(self):
        for name, path in _modules():
            if name in BOUNDARIES:
                continue
            _imported, tree = _imports(path)
            calls = [node for node in ast.walk(tree)
                     if isinstance(node, ast.Call)
                     and isinstance(node.func, ast.Attribute)
                     and node.func.attr == 'from_dict']
            self.assertEqual([], [node.lineno for node in calls],
                             '%s turns JSON into records' % name)
