"""How the commands reach Mistral and Ironic.

Three ways, tried in this order:

1. explicit URLs (``--mistral-url``, ``--ironic-url``): no Keystone,
   ``auth_type none``, as on a standalone undercloud or in the tests;
2. the ``openstack`` CLI's own session (Keystone: ``--os-cloud``,
   ``OS_*`` variables), when run as its plugin;
3. for the standalone script, openstacksdk's standard configuration:
   ``--os-cloud`` / ``OS_CLOUD``, clouds.yaml and ``OS_*`` variables.

Every session has a request timeout, so an API that hangs cannot hang a
command. An unreachable service is reported in one line naming the URL.
"""

import logging
import re

from keystoneauth1 import exceptions as ks_exc
from mistralclient.api.v2 import client as mistral_v2
import openstack
from openstack import exceptions as sdk_exc
import requests

from tripleo_baremetal import exceptions
from tripleo_baremetal import workbooks

LOG = logging.getLogger(__name__)

#: The OS error at the bottom of a urllib3/requests connection error.
_ERRNO = re.compile(r'\[Errno -?\d+\] ([^\'"\)]+)')

#: Seconds a request may take before the command gives up on it.
REQUEST_TIMEOUT = 60

#: Errors meaning a service could not be reached or refused us.
UNREACHABLE = (ks_exc.ConnectFailure, ks_exc.DiscoveryFailure,
               ks_exc.EndpointNotFound, ks_exc.ConnectTimeout,
               ks_exc.MissingAuthPlugin, ks_exc.Unauthorized,
               sdk_exc.SDKException, ConnectionError, OSError)


def add_arguments(parser):
    """The connection options every command takes."""
    group = parser.add_argument_group('connection (without Keystone)')
    group.add_argument('--mistral-url', metavar='URL',
                       help='Mistral API URL, without authentication '
                            '(default: from the Keystone catalog)')
    group.add_argument('--ironic-url', metavar='URL',
                       help='Ironic API URL, without authentication '
                            '(default: from the Keystone catalog)')
    return parser


def _session(app):
    """The ``openstack`` CLI's Keystone session, or None standalone."""
    manager = getattr(app, 'client_manager', None)
    if manager is None or not hasattr(manager, 'setup_auth'):
        return None
    manager.setup_auth()
    return manager.session


def baremetal(app, args):
    """An openstacksdk connection for reading Ironic (and Neutron)."""
    if args.ironic_url:
        return openstack.connect(
            auth_type='none', baremetal_endpoint_override=args.ironic_url,
            load_yaml_config=False, load_envvars=False,
            api_timeout=REQUEST_TIMEOUT)
    session = _session(app)
    if session is not None:
        return openstack.connection.Connection(session=session)
    return openstack.connect(cloud=getattr(app.options, 'os_cloud', None),
                             api_timeout=REQUEST_TIMEOUT)


class _TimedSession(requests.Session):
    """A requests session whose requests all have a timeout."""

    def request(self, *args, **kwargs):
        kwargs.setdefault('timeout', REQUEST_TIMEOUT)
        return super().request(*args, **kwargs)


def mistral(app, args):
    """A python-mistralclient v2 client."""
    if args.mistral_url:
        url = args.mistral_url.rstrip('/')
        if not url.endswith('/v2'):
            url += '/v2'
        return mistral_v2.Client(mistral_url=url, session=_TimedSession())
    session = _session(app)
    if session is None:
        session = baremetal(app, args).session
    session.timeout = session.timeout or REQUEST_TIMEOUT
    url = session.get_endpoint(service_type='workflowv2',
                               interface='public')
    return mistral_v2.Client(mistral_url=url, session=session)


def where(args, service):
    """How a message names the endpoint of ``service`` we tried."""
    url = getattr(args, '%s_url' % service, None)
    return url or '%s from the Keystone catalog' % service.capitalize()


def ensure_workbook(client):
    """Create the installed workbook on Mistral when it is not there.

    An undercloud loads it at install time; a Mistral that lacks it (a
    new one, or a test) gets the installed copy. An existing workbook is
    left as it is: the operator may run a newer one.
    """
    names = {wb.name for wb in client.workbooks.list()}
    if workbooks.DEPLOY_NAME not in names:
        LOG.info('Creating workbook %s on Mistral', workbooks.DEPLOY_NAME)
        client.workbooks.create(workbooks.read())


def unreachable(exc, args, service):
    """A one-line error for a service that could not be reached."""
    text = str(exc)
    reason = _ERRNO.search(text)
    return exceptions.BaremetalError('cannot reach %s: %s' % (
        where(args, service), reason.group(1).strip() if reason
        else (text.splitlines()[0] if text else type(exc).__name__)))
