"""Where the installed Mistral workbooks are.

The package installs its workbooks as data files (``setup.cfg``
``[files] data_files``) under ``<prefix>/share/tripleo-baremetal/
workbooks``, where the TripleO client and the demo load them from; the
source tree is not consulted, so what is loaded is what was installed.
"""

import os
import sysconfig

from tripleo_baremetal import exceptions

#: The workbook holding deploy_roles, undeploy_roles and their steps.
DEPLOY = 'baremetal_deploy.yaml'
#: Its name on Mistral.
DEPLOY_NAME = 'tripleo.baremetal_deploy.v1'


def directory(prefix=None):
    """The directory of the installed workbooks."""
    data = prefix or sysconfig.get_path('data')
    return os.path.join(data, 'share', 'tripleo-baremetal', 'workbooks')


def path(name=DEPLOY, prefix=None):
    """The path of the installed workbook ``name``.

    :raises: BaremetalError when it is not installed (for instance, an
        editable install, which installs no data files).
    """
    found = os.path.join(directory(prefix), name)
    if not os.path.isfile(found):
        raise exceptions.BaremetalError(
            'workbook %s is not installed in %s; install tripleo-baremetal '
            '(not in editable mode, which skips data files)'
            % (name, directory(prefix)))
    return found


def read(name=DEPLOY, prefix=None):
    """The text of the installed workbook ``name``."""
    with open(path(name, prefix)) as stream:
        return stream.read()


def heat_templates(prefix=None):
    """The directory of the installed Heat templates (``heat/``)."""
    data = prefix or sysconfig.get_path('data')
    return os.path.join(data, 'share', 'tripleo-baremetal', 'heat')
