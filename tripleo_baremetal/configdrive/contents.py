"""Config drives: what a deployed node reads about itself on first boot.

Ironic writes the config drive we give it to a partition of the node;
cloud-init (or glean, Ignition, cloudbase-init) reads it there. Without
Nova we build it ourselves, client-side. This module decides what the
drive holds; :mod:`iso` turns that into the image and the packed string
Ironic takes, and :mod:`network_data` builds ``network_data.json``:

1. contents: ``meta_data.json``, ``user_data`` (a ``#cloud-config`` that
   creates the admin user, or raw user data), ``network_data.json`` and
   ``vendor_data2.json`` (:func:`build_meta_data`,
   :func:`build_cloud_config`);
2. the files dict, path on the drive -> bytes, with the same files under
   ``openstack/latest`` and one complete dated version (:func:`build_files`);
3. the ISO image (:func:`build_image`, which refuses an image larger than
   the Ironic deploy agent accepts, :data:`MAX_SIZE`) and its packed
   string (:func:`iso.pack`).

The instance is a :class:`~tripleo_baremetal.model.Instance`, a record
of the core, never its JSON form. The same inputs give the same bytes.
Nothing here talks to Ironic: size limits are enforced before any API
call can happen.
"""

import base64
import copy
import json
import logging
import re

import yaml

from tripleo_baremetal.configdrive import iso
from tripleo_baremetal import exceptions

LOG = logging.getLogger(__name__)

LATEST = 'latest'
DATED_VERSION = '2012-08-10'
"""The dated metadata version we write next to ``latest``.

cloud-init reads the newest dated version it knows (else ``latest``),
the other readers only ``latest``: both copies are complete.
"""

DEFAULT_USER = 'tripleo-admin'

MAX_SIZE = 64 * 1024 * 1024
"""Largest uncompressed image the Ironic deploy agent accepts."""

DATABASE_SIZE = 64 * 1024
"""Packed drives larger than this do not fit in Ironic's database and need
object storage (or an HTTP server) on the Ironic side."""

_PEM_CERT = re.compile(
    r'-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----',
    re.DOTALL)


def build_configdrive(instance, node_uuid, ssh_keys=(), user_name=None,
                      network_data=None, user_data=None, vendor_data=None,
                      ca_file=None, stackname=None):
    """Build the packed config drive of ``instance`` on node ``node_uuid``.

    :param instance: the :class:`~tripleo_baremetal.model.Instance`.
    :param node_uuid: UUID of the Ironic node; it becomes the instance ID
        (``uuid`` in ``meta_data.json``).
    :param ssh_keys: SSH public keys added to the instance's own.
    :param user_name: the admin user to create; default the instance's
        ``user_name``, else ``tripleo-admin``.
    :param network_data: a dict from ``network_data.build_network_data``;
        None or empty writes no ``network_data.json`` (an empty one would
        leave the node without network).
    :param user_data: raw user data, str or bytes (a cloud-config, a
        script, gzip, MIME multipart...), written unchanged instead of the
        generated cloud-config. The instance's ``config_drive.cloud_config``
        and the admin user are then not applied (a warning is logged); the
        SSH keys still reach the distribution's default user through
        ``public_keys``.
    :param vendor_data: a dict written as ``vendor_data2.json``.
    :param ca_file: path to a PEM bundle the node must trust (the
        undercloud's TLS CA), installed through cloud-config ``ca_certs``.
        With raw ``user_data`` the CA goes into vendor data instead, as a
        ``#cloud-config`` under the ``cloud-init`` key which cloud-init
        reads from ``vendor_data2.json``; a ``vendor_data`` that already
        has a ``cloud-init`` key is refused (ConfigDriveError).
    :param stackname: the Heat stack name, recorded in the metadata.
    :returns: ``{'configdrive': <gzip+base64 str>, 'size': <bytes of the
        uncompressed ISO>}``.
    :raises: InvalidInput for unusable arguments, ConfigDriveError when
        the CA file cannot be used or the drive is too large.
    """
    hostname = instance.hostname or node_uuid
    keys = public_keys(instance, ssh_keys)
    ca_certs = read_ca_file(ca_file) if ca_file else None
    vendor_data = _vendor_data(vendor_data, hostname)
    if user_data is None:
        user_data = render_cloud_config(build_cloud_config(
            instance, keys, user_name=user_name, ca_certs=ca_certs))
    else:
        user_data = _raw_user_data(user_data, hostname)
        if _drive_part(instance, 'cloud_config'):
            LOG.warning('%s: raw user data given, the instance\'s '
                        'cloud_config and admin user are not applied',
                        hostname)
        if ca_certs:
            vendor_data = _vendor_data_with_ca(vendor_data, ca_certs,
                                               hostname)
    meta_data = build_meta_data(instance, node_uuid, keys,
                                stackname=stackname)
    files = build_files(meta_data, user_data=user_data,
                        network_data=network_data, vendor_data=vendor_data)
    image = build_image(files, hostname)
    packed = iso.pack(image)
    LOG.debug('%s: config drive of %d bytes (%d packed) for node %s',
              hostname, len(image), len(packed), node_uuid)
    if len(packed) > DATABASE_SIZE:
        LOG.warning('%s: the packed config drive is %d bytes, more than '
                    'the %d Ironic can keep in its database: Ironic must '
                    'be configured to store it in object storage '
                    '([deploy]configdrive_use_object_store)', hostname,
                    len(packed), DATABASE_SIZE)
    return {'configdrive': packed, 'size': len(image)}


def public_keys(instance, ssh_keys=()):
    """SSH public keys: the instance's then ``ssh_keys``, de-duplicated.

    A single key given as a string is accepted for ``ssh_keys``.
    """
    result = []
    for key in list(instance.ssh_public_keys) + _as_list(ssh_keys):
        if not isinstance(key, str):
            raise exceptions.InvalidInput(
                '%s: SSH public keys must be strings, got %s'
                % (instance.hostname, type(key).__name__))
        key = key.strip()
        if key and key not in result:
            result.append(key)
    return result


def build_meta_data(instance, node_uuid, keys, stackname=None):
    """The ``meta_data.json`` content.

    Both ``hostname`` (read by cloud-init) and ``name`` (read by glean) are
    set, and ``instance-type`` is the role name, as tripleo-ansible set
    it. The instance's ``config_drive.meta_data`` is merged on top
    (:func:`merge`), but may not change ``uuid``: cloud-init uses it as
    the instance ID.
    """
    if not node_uuid or not isinstance(node_uuid, str):
        raise exceptions.InvalidInput(
            '%s: a node UUID is required for the config drive, got %r'
            % (instance.hostname, node_uuid))
    hostname = instance.hostname or node_uuid
    meta = {}
    if instance.role:
        meta['role'] = instance.role
    if stackname:
        meta['stack'] = stackname
    result = {
        'uuid': node_uuid,
        'hostname': hostname,
        'name': hostname,
        'public_keys': {str(i): key for i, key in enumerate(keys)},
        'availability_zone': '',
        'launch_index': instance.index or 0,
        'files': [],
        'meta': meta,
    }
    if instance.role:
        # As tripleo-ansible (metalsmith) wrote it: cloud-init shows it
        # in instance-data.json, which playbooks of migrated files read.
        result['instance-type'] = instance.role
    extra = _drive_part(instance, 'meta_data')
    if extra.get('uuid', node_uuid) != node_uuid:
        raise exceptions.InvalidInput(
            '%s: config_drive.meta_data may not set uuid (%r): it is the '
            'node UUID %s' % (hostname, extra['uuid'], node_uuid))
    if 'random_seed' in extra:
        _check_base64(extra['random_seed'], hostname)
    return merge(result, extra)


def build_cloud_config(instance, keys, user_name=None, ca_certs=None):
    """The generated cloud-config (a dict).

    It creates the admin user (``user_name``, else the instance's, else
    ``tripleo-admin``) with the SSH keys and a locked password; with
    passwordless sudo unless the instance's ``passwordless_sudo`` is
    false (the admin user exists to run Ansible with become). ``ca_certs``
    (PEM strings) become ``ca_certs.trusted``. The instance's
    ``config_drive.cloud_config`` is merged on top (:func:`merge`).
    """
    name = user_name or instance.user_name or DEFAULT_USER
    user = {'name': name, 'lock_passwd': True, 'shell': '/bin/bash'}
    if keys:
        user['ssh_authorized_keys'] = list(keys)
    else:
        LOG.warning('%s: no SSH public keys, user %s cannot log in',
                    instance.hostname, name)
    if instance.passwordless_sudo is not False:
        user['sudo'] = 'ALL=(ALL) NOPASSWD:ALL'
    result = {'users': [user]}
    if ca_certs:
        result['ca_certs'] = {'trusted': list(ca_certs)}
    extra = _drive_part(instance, 'cloud_config')
    return merge(result, extra)


def render_cloud_config(cloud_config):
    """A cloud-config dict as a ``#cloud-config`` YAML document (bytes)."""
    text = yaml.dump(cloud_config, Dumper=_Dumper, default_flow_style=False,
                     allow_unicode=True, sort_keys=True, width=1 << 16)
    return ('#cloud-config\n' + text).encode('utf-8')


def merge(base, extra):
    """Deep-merge ``extra`` into a copy of ``base``.

    Dicts merge key by key, lists are concatenated (``base`` items first,
    items already present are not repeated), anything else in ``extra``
    replaces the value of ``base``. This is how an instance adds users,
    packages or keys without losing the generated ones.
    """
    result = copy.deepcopy(base)
    for key, value in extra.items():
        old = result.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            result[key] = merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            result[key] = old + [copy.deepcopy(item) for item in value
                                 if item not in old]
        else:
            result[key] = copy.deepcopy(value)
    return result


def read_ca_file(path):
    """The PEM certificates of the bundle at ``path``, as a list of str.

    :raises: ConfigDriveError when the file cannot be read or holds no
        certificate.
    """
    try:
        with open(path, 'rb') as stream:
            text = stream.read().decode('ascii')
    except (OSError, UnicodeDecodeError) as exc:
        raise exceptions.ConfigDriveError(
            'Cannot read the CA bundle %s: %s' % (path, exc))
    certs = [cert.replace('\r\n', '\n') for cert in _PEM_CERT.findall(text)]
    if not certs:
        raise exceptions.ConfigDriveError(
            'The CA bundle %s holds no PEM certificate (-----BEGIN '
            'CERTIFICATE-----)' % path)
    return certs


def build_files(meta_data, user_data=None, network_data=None,
                vendor_data=None):
    """Map paths on the drive (no leading slash) to their bytes.

    Every file is present under ``openstack/latest`` and under the dated
    version. ``network_data.json`` and ``vendor_data2.json`` are only
    written when there is something in them, ``user_data`` when not empty.
    """
    contents = {'meta_data.json': _json(meta_data)}
    if user_data:
        contents['user_data'] = user_data
    if network_data:
        if not isinstance(network_data, dict):
            raise exceptions.InvalidInput(
                'network_data must be a dict, got %s'
                % type(network_data).__name__)
        contents['network_data.json'] = _json(network_data)
    if vendor_data:
        contents['vendor_data2.json'] = _json(vendor_data)
    return {'openstack/%s/%s' % (version, name): data
            for version in (LATEST, DATED_VERSION)
            for name, data in sorted(contents.items())}


def build_image(files, hostname=None):
    """The ISO image of ``files`` (:func:`iso.make_iso`), size-checked.

    :raises: ConfigDriveError when the image would exceed
        :data:`MAX_SIZE`; checked on the payload before anything is built,
        then on the image.
    """
    _check_size(iso.payload_size(files), hostname, files)
    image = iso.make_iso(files)
    _check_size(len(image), hostname, files)
    return image


def _check_size(size, hostname, files):
    if size <= MAX_SIZE:
        return
    biggest = sorted(files, key=lambda path: len(files[path]),
                     reverse=True)[:3]
    raise exceptions.ConfigDriveError(
        '%s: the config drive would be %d bytes, more than the %d the '
        'Ironic deploy agent accepts; largest files: %s'
        % (hostname, size, MAX_SIZE, ', '.join(
            '%s (%d bytes)' % (path, len(files[path])) for path in biggest)))


def _drive_part(instance, key):
    """The instance's ``config_drive[key]``, or {} when not given."""
    return (instance.config_drive or {}).get(key) or {}


def _as_list(value):
    if isinstance(value, str):
        return [value]
    return list(value or ())


def _raw_user_data(user_data, hostname):
    if isinstance(user_data, str):
        return user_data.encode('utf-8')
    if isinstance(user_data, (bytes, bytearray)):
        return bytes(user_data)
    raise exceptions.InvalidInput(
        '%s: user_data must be str or bytes, got %s; put cloud-config '
        'settings into the instance\'s config_drive.cloud_config'
        % (hostname, type(user_data).__name__))


def _vendor_data(vendor_data, hostname):
    if vendor_data is None:
        return None
    if not isinstance(vendor_data, dict):
        raise exceptions.InvalidInput(
            '%s: vendor_data must be a dict, got %s'
            % (hostname, type(vendor_data).__name__))
    return vendor_data


def _vendor_data_with_ca(vendor_data, ca_certs, hostname):
    vendor_data = dict(vendor_data or {})
    if 'cloud-init' in vendor_data:
        raise exceptions.ConfigDriveError(
            '%s: cannot install the CA bundle: with raw user data it goes '
            'into the cloud-init entry of the vendor data, which is given '
            'already; add ca_certs to that entry instead of ca_file'
            % hostname)
    vendor_data['cloud-init'] = render_cloud_config(
        {'ca_certs': {'trusted': list(ca_certs)}}).decode('utf-8')
    return vendor_data


def _check_base64(value, hostname):
    try:
        base64.b64decode(value, validate=True)
    except (TypeError, ValueError):
        raise exceptions.InvalidInput(
            '%s: config_drive.meta_data random_seed is not valid base64'
            % hostname)


def _json(data):
    return json.dumps(data, sort_keys=True, indent=2).encode('ascii')


class _Dumper(yaml.SafeDumper):
    """Safe YAML dumper writing multi-line strings (PEM) as blocks."""

    def represent_str(self, data):
        style = '|' if '\n' in data else None
        return self.represent_scalar('tag:yaml.org,2002:str', data,
                                     style=style)


_Dumper.add_representer(str, _Dumper.represent_str)
