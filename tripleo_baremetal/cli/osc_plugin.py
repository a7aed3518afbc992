"""The python-openstackclient plugin: ``openstack overcloud node ...``.

OSC loads this module from the ``openstack.cli.extension`` entry point
and the commands from ``openstack.tripleo_baremetal.v1``. The commands
make their own connections from the CLI's session (``clients``), so
there is no client object to build here.
"""

API_NAME = 'tripleo_baremetal'
API_VERSION_OPTION = 'os_tripleo_baremetal_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = {'1': 'tripleo_baremetal.cli.node'}


def make_client(instance):
    """No client object: the commands connect through ``clients``."""
    return None


def build_option_parser(parser):
    """The plugin's global option: its command API version."""
    parser.add_argument(
        '--os-tripleo-baremetal-api-version', metavar='<version>',
        default=DEFAULT_API_VERSION,
        help='tripleo-baremetal commands version (default: 1)')
    return parser
