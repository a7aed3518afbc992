"""Configuration options, in the ``[tripleo_baremetal]`` group.

Mistral actions read them from the Mistral executor's configuration file
(``mistral.conf``); the options are registered on first use, never at
import time. ``oslo-config-generator --namespace tripleo_baremetal``
writes the sample (``etc/tripleo-baremetal.conf.sample``).
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = 'tripleo_baremetal'

_opts = [
    cfg.StrOpt('cloud',
               help='Name of a cloud in clouds.yaml to connect with. When '
                    'unset, the auth_type options of this group are used; '
                    'when those are unset too, the caller\'s Keystone '
                    'token and service catalog (Mistral actions), else '
                    'openstacksdk\'s environment (OS_CLOUD, '
                    'OS_CLIENT_CONFIG_FILE, OS_* variables). The endpoint '
                    'overrides and cafile/insecure of this group apply '
                    'whichever is used.'),
    cfg.StrOpt('baremetal_endpoint_override',
               help='Ironic API URL, e.g. http://192.168.24.1:6385. '
                    'Required with auth_type = none.'),
    cfg.StrOpt('network_endpoint_override',
               help='Neutron API URL, used to read ports and subnets that '
                    'Heat\'s port maps leave out.'),
    cfg.StrOpt('interface', default='public',
               choices=['public', 'internal', 'admin'],
               help='Endpoint interface to pick from a Keystone service '
                    'catalog.'),
    cfg.StrOpt('region_name',
               help='Region to pick from a Keystone service catalog.'),
    cfg.FloatOpt('poll_interval', default=0.5, min=0.05,
                 help='Shortest interval (seconds) between two bulk state '
                      'polls; it doubles up to poll_interval_max while no '
                      'node changes state, and is this short again after '
                      'a poll that saw a change.'),
    cfg.FloatOpt('poll_interval_max', default=10.0, min=0.05,
                 help='Longest interval (seconds) between two polls.'),
    cfg.IntOpt('deploy_timeout', default=3600, min=1,
               help='Seconds to wait for a whole deploy run.'),
    cfg.IntOpt('undeploy_timeout', default=1800, min=1,
               help='Seconds to wait for nodes to be cleaned and '
                    'available again.'),
    cfg.IntOpt('allocation_timeout', default=300, min=1,
               help='Seconds Ironic may take without processing any of '
                    'the allocations a run waits for (each one it '
                    'processes restarts the wait, so a long run of many '
                    'allocations is not cut off while it progresses).'),
    cfg.BoolOpt('check_local_images', default=True,
                help='Check that file:// image URLs exist on this host '
                     'before deploying. Right on an undercloud, where the '
                     'Ironic conductor shares the file system; turn off '
                     'when the conductor runs elsewhere.'),
    cfg.ListOpt('file_url_allowed_paths', default=['/var/lib/ironic'],
                help='Directories file:// image URLs may point into. Keep '
                     'it equal to the Ironic conductor\'s own [conductor] '
                     'file_url_allowed_paths (same default): Ironic '
                     'refuses any other file:// URL, but only after the '
                     'node was reserved.'),
    cfg.FloatOpt('api_timeout', default=60.0, min=1,
                 help='Seconds one API request may take before it is '
                      'abandoned (and retried when that is safe), so that '
                      'a hung API cannot hang an action. Applies to every '
                      'connection, whichever way it is made, instead of '
                      'the timeout option and OS_API_TIMEOUT.'),
    cfg.IntOpt('api_retries', default=5, min=0,
               help='How many times a request that met a transient error '
                    '(HTTP 5xx, a dropped connection, a timeout, a node '
                    'locked by its conductor) is retried, with back-off. '
                    'Reads and idempotent writes are retried as such; a '
                    'create whose answer was lost is read back instead.'),
    cfg.FloatOpt('api_retry_delay', default=0.5, min=0,
                 help='First pause (seconds) before a retry; it doubles '
                      'with each retry of the same request, up to 10 s.'),
    cfg.StrOpt('config_drive_ca_file',
               help='PEM bundle written into every config drive so that '
                    'deployed nodes trust it (e.g. the undercloud CA).'),
]


def register_opts(conf):
    """Register our options and keystoneauth's auth/session options."""
    conf.register_opts(_opts, group=GROUP)
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)


def list_opts():
    """Options for oslo-config-generator (entry point oslo.config.opts)."""
    return [(GROUP, _opts
             + ks_loading.get_session_conf_options()
             + ks_loading.get_auth_common_conf_options())]


def get_conf(conf=None):
    """Return ``conf`` (default: the global CONF) with our options."""
    conf = conf if conf is not None else cfg.CONF
    try:
        conf[GROUP].poll_interval
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        register_opts(conf)
    return conf[GROUP]


def standalone_conf(**overrides):
    """A private ConfigOpts with our options, read from no file.

    For scripts, benchmarks and tests that call the core directly:
    ``standalone_conf(poll_interval=0.1)``.
    """
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf([], default_config_files=[])
    for name, value in overrides.items():
        conf.set_override(name, value, GROUP)
    return conf
