"""Build the openstacksdk Connection every Ironic/Neutron call goes through.

In order of preference:

1. the Mistral action context's security data, when it carries a token and
   a service catalog (a Keystone deployment: act as the caller);
2. a ``clouds.yaml`` cloud named by ``[tripleo_baremetal] cloud``;
3. keystoneauth options in ``[tripleo_baremetal]`` (``auth_type`` and its
   options, session options such as ``cafile``/``insecure``), including
   ``auth_type = none`` with ``baremetal_endpoint_override`` for a
   standalone Ironic.

TLS verification is on unless ``insecure`` is set. The SDK's automatic
retries of HTTP 409 are turned off: the callers handle conflicts
themselves (a node lock is waited for, an already attached VIF is
expected), and a blind retry costs ~15 s per conflict. Every connection
gets our own retries of transient failures and a request timeout
(``api.install_retries``, options ``api_retries``, ``api_retry_delay``
and ``api_timeout``), whichever way it was made.
"""

import json
import logging

from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import openstack

from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions

LOG = logging.getLogger(__name__)

_SDK_OPTIONS = {'baremetal_status_code_retries': 0}


def _catalog_endpoint(catalog, service_type, interface, region):
    """The URL of ``service_type`` in a Keystone v3 (or v2) catalog."""
    for service in catalog or ():
        if service.get('type') != service_type:
            continue
        for endpoint in service.get('endpoints', ()):
            if region and endpoint.get('region',
                                       endpoint.get('region_id')) != region:
                continue
            if 'interface' in endpoint:
                if endpoint['interface'] == interface:
                    return endpoint['url']
            elif endpoint.get('%sURL' % interface):   # Keystone v2 format
                return endpoint['%sURL' % interface]
    return None


def _from_security_context(security, options):
    catalog = security.service_catalog
    if isinstance(catalog, str):
        catalog = json.loads(catalog)
    if isinstance(catalog, dict):   # {'catalog': [...]} as Keystone returns
        catalog = catalog.get('catalog', catalog.get('serviceCatalog'))
    region = getattr(security, 'region_name', None) or options.region_name
    overrides = {}
    for service_type, override in (('baremetal',
                                    options.baremetal_endpoint_override),
                                   ('network',
                                    options.network_endpoint_override)):
        url = override or _catalog_endpoint(catalog, service_type,
                                            options.interface, region)
        if url:
            overrides['%s_endpoint_override' % service_type] = url
    if 'baremetal_endpoint_override' not in overrides:
        raise exceptions.InvalidInput(
            'the caller\'s service catalog has no %s baremetal endpoint%s; '
            'set [tripleo_baremetal] baremetal_endpoint_override'
            % (options.interface, ' in region %s' % region if region else ''))
    verify = not getattr(security, 'insecure', False)
    if verify and getattr(security, 'auth_cacert', None):
        verify = security.auth_cacert
    session = ks_session.Session(
        auth=token_endpoint.Token(None, security.auth_token), verify=verify)
    return openstack.connection.Connection(session=session, **overrides,
                                           **_SDK_OPTIONS)


def get_connection(context=None, conf=None):
    """Return an openstacksdk Connection for Ironic (and Neutron).

    :param context: a Mistral action context, or None.
    :param conf: an oslo.config ConfigOpts (default: the global CONF).
    """
    options = baremetal_conf.get_conf(conf)
    return api.install_retries(_connect(context, conf, options),
                               retries=options.api_retries,
                               delay=options.api_retry_delay,
                               timeout=options.api_timeout)


def _connect(context, conf, options):
    security = getattr(context, 'security', None)
    if security is not None and getattr(security, 'auth_token', None) and \
            getattr(security, 'service_catalog', None):
        LOG.debug('Connecting with the caller\'s token and service catalog')
        return _from_security_context(security, options)

    overrides = {key: value for key, value in (
        ('baremetal_endpoint_override', options.baremetal_endpoint_override),
        ('network_endpoint_override', options.network_endpoint_override),
    ) if value}
    if options.cloud:
        LOG.debug('Connecting to cloud %s from clouds.yaml', options.cloud)
        return openstack.connect(cloud=options.cloud, **overrides,
                                 **_SDK_OPTIONS)
    if not options.auth_type:
        raise exceptions.InvalidInput(
            'no credentials: set [tripleo_baremetal] cloud (a clouds.yaml '
            'entry) or auth_type (e.g. "none" with '
            'baremetal_endpoint_override for a standalone Ironic), or call '
            'with a Keystone token')
    conf_obj = conf if conf is not None else baremetal_conf.cfg.CONF
    if options.auth_type == 'none':
        if 'baremetal_endpoint_override' not in overrides:
            raise exceptions.InvalidInput(
                '[tripleo_baremetal] auth_type = none needs '
                'baremetal_endpoint_override (the Ironic API URL)')
        auth = ks_loading.get_plugin_loader('none').load_from_options()
    else:
        auth = ks_loading.load_auth_from_conf_options(
            conf_obj, baremetal_conf.GROUP)
    session = ks_loading.load_session_from_conf_options(
        conf_obj, baremetal_conf.GROUP, auth=auth)
    LOG.debug('Connecting with [%s] auth_type %s', baremetal_conf.GROUP,
              options.auth_type)
    return openstack.connection.Connection(session=session, **overrides,
                                           **_SDK_OPTIONS)
