"""``tripleo-baremetal``: the operator's commands, without the openstack CLI.

The same command classes as the ``openstack overcloud node ...`` plugin,
under the same names (``tripleo-baremetal overcloud node provision
...``). Connections: ``--mistral-url``/``--ironic-url`` without Keystone,
else openstacksdk's configuration (``--os-cloud``, ``OS_CLOUD``,
clouds.yaml, ``OS_*`` variables).
"""

import os
import sys

from cliff import app
from cliff import commandmanager

#: Entry point namespace of the standalone script's commands.
NAMESPACE = 'tripleo_baremetal.cli'


class BaremetalApp(app.App):
    """The standalone application."""

    def __init__(self):
        super().__init__(
            description='Provision TripleO bare metal nodes with Ironic, '
                        'without Nova and Glance.',
            version=_version(),
            command_manager=commandmanager.CommandManager(NAMESPACE),
            deferred_help=True)

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version,
                                             argparse_kwargs)
        parser.add_argument('--os-cloud', metavar='NAME',
                            default=os.environ.get('OS_CLOUD'),
                            help='cloud in clouds.yaml (default: $OS_CLOUD)')
        return parser


def _version():
    try:
        from importlib import metadata
        return metadata.version('tripleo-baremetal')
    except Exception:   # not installed: running from a source tree
        return 'unknown'


def main(argv=None):
    return BaremetalApp().run(sys.argv[1:] if argv is None else argv)


if __name__ == '__main__':
    sys.exit(main())
