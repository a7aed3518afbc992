"""Sphinx configuration of tripleo-baremetal's documentation.

Built by ``tox -e docs`` (``sphinx-build -W``: warnings are errors).
Pages are reStructuredText or Markdown (MyST); the CLI page is generated
from the cliff commands, the configuration page from the oslo.config
options and the workflow page from ``workbooks/baremetal_deploy.yaml``.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.abspath(os.path.dirname(__file__)),
                                '_ext'))

project = 'tripleo-baremetal'
copyright = 'tripleo-baremetal developers'
author = 'tripleo-baremetal developers'

extensions = [
    'myst_parser',
    'cliff.sphinxext',
    'oslo_config.sphinxext',
    'reno.sphinxext',
    'workbook',
]

source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
master_doc = 'index'
exclude_patterns = ['_build']
# Headings of Markdown pages become link targets (page.md#heading).
myst_heading_anchors = 3
# Markdown links name pages and headings, never oslo.config's objects.
myst_ref_domains = ['std']

html_theme = 'alabaster'
html_static_path = []
