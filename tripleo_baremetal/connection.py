"""Build the openstacksdk Connection every Ironic/Neutron call goes through.

The first of these that is configured is used:

1. explicit ``[tripleo_baremetal]`` connection options: ``cloud`` (an
   entry of ``clouds.yaml``), else ``auth_type`` and its keystoneauth
   options, including ``auth_type = none`` with
   ``baremetal_endpoint_override`` for a standalone Ironic. The operator
   chose them on purpose, so they win over what a call happens to carry;
2. the Mistral action context's security data, when it carries a token and
   a service catalog (a Keystone deployment: act as the caller);
3. openstacksdk's own environment, as ``openstack.connect()`` reads it:
   ``OS_CLOUD`` with ``clouds.yaml`` (``OS_CLIENT_CONFIG_FILE``, ``.``,
   ``~/.config/openstack``, ``/etc/openstack``), or ``OS_*`` variables
   (``OS_AUTH_URL``, ``OS_USERNAME``..., or ``OS_AUTH_TYPE=none`` with
   ``OS_ENDPOINT`` or ``OS_BAREMETAL_ENDPOINT_OVERRIDE``).

When none is, the error names every option and variable looked at, never
a value. Whichever way is used, ``[tripleo_baremetal]``
``baremetal_endpoint_override``/``network_endpoint_override`` and the TLS
options ``cafile``/``insecure`` (``certfile``/``keyfile`` too, with
``auth_type`` and on the context path) override what the other sources
say; on the context path,
without them, the context's own ``auth_cacert``/``insecure`` apply. TLS
verification is on unless ``insecure`` is set.

The SDK's automatic retries of HTTP 409 are turned off: the callers handle
conflicts themselves (a node lock is waited for, an already attached VIF
is expected), and a blind retry costs ~15 s per conflict. Every connection
gets our own retries of transient failures and a request timeout
(``api.install_retries``, options ``api_retries``, ``api_retry_delay``
and ``api_timeout``), whichever way it was made.

Connections are reused: a Mistral executor runs thousands of actions,
and a new connection first asks Ironic for its versions (``GET /`` and
``GET /v1/``), two requests per action. ``get_connection`` keeps each
connection it made, keyed by a digest of everything it was made from (our
options, the caller's token and catalog, the SDK's ``OS_*`` variables), in
a small per-process cache (``CACHE_SIZE``; ``clear_cache`` empties it).

Tokens and passwords appear in no log message and no error.
"""

import collections
import hashlib
import json
import logging
import os
import threading

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import token_endpoint
import openstack
from openstack import config as sdk_config
from openstack.config import loader as sdk_loader
from openstack import exceptions as sdk_exc

from tripleo_baremetal import api
from tripleo_baremetal import conf as baremetal_conf
from tripleo_baremetal import exceptions

LOG = logging.getLogger(__name__)

_SDK_OPTIONS = {'baremetal_status_code_retries': 0}

#: How many connections ``get_connection`` keeps (least recently used go).
CACHE_SIZE = 16

#: Prefixes of test runners' variables, which the SDK ignores too.
_NOT_SDK_PREFIXES = ('OS_TEST', 'OS_STD', 'OS_LOG')


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


def _endpoint_overrides(options):
    """``*_endpoint_override`` arguments from our options that are set."""
    return {key: value for key, value in (
        ('baremetal_endpoint_override', options.baremetal_endpoint_override),
        ('network_endpoint_override', options.network_endpoint_override),
    ) if value}


def _catalog_overrides(security, options):
    """Ironic and Neutron URLs: our overrides, else the caller's catalog."""
    catalog = security.service_catalog
    if isinstance(catalog, str):
        catalog = json.loads(catalog)
    if isinstance(catalog, dict):   # {'catalog': [...]} as Keystone returns
        catalog = catalog.get('catalog', catalog.get('serviceCatalog'))
    region = getattr(security, 'region_name', None) or options.region_name
    overrides = _endpoint_overrides(options)
    for service_type in ('baremetal', 'network'):
        key = '%s_endpoint_override' % service_type
        url = overrides.get(key) or _catalog_endpoint(
            catalog, service_type, options.interface, region)
        if url:
            overrides[key] = url
    if 'baremetal_endpoint_override' not in overrides:
        raise exceptions.InvalidInput(
            'the caller\'s service catalog has no %s baremetal endpoint%s; '
            'set [tripleo_baremetal] baremetal_endpoint_override'
            % (options.interface, ' in region %s' % region if region else ''))
    return overrides


def _context_verify(security):
    """TLS verification the Mistral context asks for (default: on)."""
    if getattr(security, 'insecure', False):
        return False
    return getattr(security, 'auth_cacert', None) or True


def _from_security_context(security, conf_obj, options):
    """Act as the caller: its token, its catalog's endpoints.

    The session comes from our session options (``cafile``, ``insecure``,
    ``certfile``, ``keyfile``), as on the options path: the operator who
    set them knows the endpoints' CA. Without ``cafile``/``insecure`` the
    context's own ``auth_cacert``/``insecure`` decide.
    """
    overrides = _catalog_overrides(security, options)
    session = ks_loading.load_session_from_conf_options(
        conf_obj, baremetal_conf.GROUP,
        auth=token_endpoint.Token(None, security.auth_token))
    if not options.insecure and not options.cafile:
        session.verify = _context_verify(security)
    return openstack.connection.Connection(session=session, **overrides,
                                           **_SDK_OPTIONS)


def _from_options(conf_obj, options):
    """Connect with the ``auth_type`` options of ``[tripleo_baremetal]``."""
    overrides = _endpoint_overrides(options)
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


def _tls_overrides(options):
    """SDK configuration arguments for our ``cafile``/``insecure``."""
    if options.insecure:
        return {'insecure': True, 'verify': False}
    if options.cafile:
        return {'insecure': False, 'verify': True, 'cacert': options.cafile}
    return {}


def _sdk_variables():
    """Names (never values) of the OS_* variables the SDK reads."""
    return sorted(name for name in os.environ if name.startswith('OS_')
                  and not name.startswith(_NOT_SDK_PREFIXES))


def _clouds_yaml_places():
    """Where the SDK looks for clouds.yaml, for error messages."""
    places = []
    if os.environ.get('OS_CLIENT_CONFIG_FILE'):
        places.append(os.environ['OS_CLIENT_CONFIG_FILE'])
    for path in sdk_loader.CONFIG_FILES:
        if os.path.dirname(path) not in places:
            places.append(os.path.dirname(path))
    return places


def _clouds_yaml_summary(sdk_conf):
    """The clouds.yaml the SDK read and its clouds' names, or where not."""
    if not sdk_conf.config_filename:
        return 'no clouds.yaml in %s' % (
            ', '.join(_clouds_yaml_places()) or 'no place')
    return 'clouds.yaml %s (clouds: %s)' % (
        sdk_conf.config_filename,
        ', '.join(sorted(sdk_conf.cloud_config['clouds'])))


def _sdk_summary(sdk_conf):
    """What of the SDK's environment was found: names, never values."""
    cloud = os.environ.get('OS_CLOUD')
    variables = _sdk_variables()
    return '%s; %s; %s' % (
        'OS_CLOUD=%s' % cloud if cloud else 'OS_CLOUD unset',
        _clouds_yaml_summary(sdk_conf),
        'variables %s' % ', '.join(variables) if variables
        else 'no OS_* variable')


def _sdk_configured(sdk_conf):
    """Whether the SDK has a cloud to connect with, as connect() would.

    ``OS_CLOUD``, the only cloud of a clouds.yaml, or the cloud the SDK
    makes of ``OS_*`` variables (selectors such as ``OS_REGION_NAME``
    alone make none). Otherwise the SDK would fall back to an empty
    "defaults" cloud, or (several clouds, none named) to no cloud at all.
    """
    return bool(os.environ.get('OS_CLOUD')
                or sdk_conf.default_cloud not in (None, 'defaults'))


def _describe_sdk_error(exc):
    """The SDK's complaint about its configuration, without any value.

    A missing auth option is named; the SDK's configuration errors name
    clouds, regions and files only.
    """
    if isinstance(exc, ks_exc.MissingRequiredOptions):
        return 'missing %s' % ', '.join(
            option.dest for option in exc.options)
    if isinstance(exc, sdk_exc.ConfigException):
        return str(exc)
    return type(exc).__name__


def _from_sdk(options, cloud=None, tried=None):
    """Connect from clouds.yaml and OS_* variables, as openstack.connect().

    :param cloud: the clouds.yaml entry to use; None: the SDK's default
        (``OS_CLOUD``, the ``OS_*`` variables, the only cloud of a
        clouds.yaml), which must exist.
    :param tried: what was looked at before, for the "no credentials"
        error.
    :raises InvalidInput: nothing configured, or the SDK found its
        configuration incomplete.
    """
    sdk_conf = sdk_config.OpenStackConfig()
    if cloud is None and not _sdk_configured(sdk_conf):
        raise exceptions.InvalidInput(
            'no credentials: tried %s and openstacksdk\'s environment (%s). '
            'Set [tripleo_baremetal] cloud or auth_type (e.g. "none" with '
            'baremetal_endpoint_override for a standalone Ironic), call '
            'with a Keystone token, or set OS_CLOUD with a clouds.yaml '
            '(OS_CLIENT_CONFIG_FILE) or OS_AUTH_URL, OS_USERNAME... '
            '(OS_AUTH_TYPE=none with OS_ENDPOINT)'
            % (tried or 'nothing else', _sdk_summary(sdk_conf)))
    # OS_CLOUD by name: the SDK would quietly ignore one naming no cloud
    # when no clouds.yaml exists, and then complain about auth_url.
    cloud = cloud or os.environ.get('OS_CLOUD') or None
    try:
        region = sdk_conf.get_one(cloud, **_endpoint_overrides(options),
                                  **_tls_overrides(options), **_SDK_OPTIONS)
    except (sdk_exc.ConfigException, ks_exc.ClientException) as exc:
        raise exceptions.InvalidInput(
            'cannot connect with %s: %s (%s)' % (
                'cloud %s' % cloud if cloud else 'openstacksdk\'s environment',
                _describe_sdk_error(exc), _sdk_summary(sdk_conf)))
    LOG.debug('Connecting to cloud %s (auth_type %s) from %s',
              region.name or '(environment)', region.config.get('auth_type'),
              sdk_conf.config_filename or 'OS_* variables')
    return openstack.connection.Connection(config=region)


def _caller_security(context):
    """The context's security data if it carries a token and a catalog."""
    security = getattr(context, 'security', None)
    if security is not None and getattr(security, 'auth_token', None) and \
            getattr(security, 'service_catalog', None):
        return security
    return None


def _context_summary(context):
    """What a context without usable credentials lacked (no values)."""
    security = getattr(context, 'security', None)
    if security is None:
        return 'no Mistral context security data'
    if getattr(security, 'auth_token', None):
        return 'a Mistral context token but no service catalog'
    return 'no Mistral context token'


class _Cache:
    """Connections by the digest of what they were made from (an LRU)."""

    def __init__(self, size):
        self.size = size
        self.lock = threading.Lock()
        self.items = collections.OrderedDict()

    def get(self, key, make):
        """The connection of ``key``, made by ``make()`` when missing."""
        with self.lock:
            conn = self.items.get(key)
            if conn is not None:
                self.items.move_to_end(key)
                return conn
        conn = make()
        with self.lock:
            conn = self.items.setdefault(key, conn)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return conn

    def clear(self):
        with self.lock:
            self.items.clear()


_CACHE = _Cache(CACHE_SIZE)


def clear_cache():
    """Forget every kept connection (the next call makes a new one)."""
    _CACHE.clear()


def _cache_key(context, conf_obj, options):
    """A digest of every input of a connection (never logged)."""
    security = _caller_security(context)
    parts = [id(conf_obj), sorted((name, repr(value))
                                  for name, value in options.items()),
             sorted((name, os.environ[name]) for name in _sdk_variables())]
    if security is not None:
        parts += [security.auth_token, repr(security.service_catalog),
                  getattr(security, 'region_name', None),
                  getattr(security, 'insecure', None),
                  getattr(security, 'auth_cacert', None)]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def get_connection(context=None, conf=None):
    """Return an openstacksdk Connection for Ironic (and Neutron).

    The same inputs give the same (kept) connection: see the module
    docstring.

    :param context: a Mistral action context, or None.
    :param conf: an oslo.config ConfigOpts (default: the global CONF).
    """
    options = baremetal_conf.get_conf(conf)
    conf_obj = conf if conf is not None else baremetal_conf.cfg.CONF
    return _CACHE.get(
        _cache_key(context, conf_obj, options),
        lambda: api.install_retries(_connect(context, conf, options),
                                    retries=options.api_retries,
                                    delay=options.api_retry_delay,
                                    timeout=options.api_timeout))


def _connect(context, conf, options):
    """The connection of the first configured source (module docstring)."""
    conf_obj = conf if conf is not None else baremetal_conf.cfg.CONF
    if options.cloud:
        return _from_sdk(options, cloud=options.cloud)
    if options.auth_type:
        return _from_options(conf_obj, options)
    security = _caller_security(context)
    if security is not None:
        LOG.debug('Connecting with the caller\'s token and service catalog')
        return _from_security_context(security, conf_obj, options)
    return _from_sdk(options, tried='[tripleo_baremetal] cloud and '
                     'auth_type (unset), %s' % _context_summary(context))
