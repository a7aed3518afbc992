"""Config drives: what a deployed node reads about itself on first boot.

Ironic writes the config drive we give it to a partition of the node;
cloud-init (or glean, Ignition, cloudbase-init) reads it there. Without
Nova we build it ourselves, client-side, in four steps that each have a
function of their own:

1. contents: ``meta_data.json``, ``user_data`` (a ``#cloud-config`` that
   creates the admin user, or raw user data), ``network_data.json`` and
   ``vendor_data2.json`` (:func:`build_meta_data`, :func:`build_user_data`);
2. the files dict, path on the drive -> bytes, with the same files under
   ``openstack/latest`` and one complete dated version (:func:`build_files`);
3. the ISO 9660 image (:func:`make_iso`), built in memory with pycdlib:
   interchange level 4 (plain names stay lowercase and unshortened, as in
   ``/openstack/latest/network_data.json;1`` which Ironic looks up), Rock
   Ridge 1.09 and Joliet level 3, label ``config-2``, read-only files;
4. the string Ironic takes: gzip (fixed mtime) then base64 (:func:`pack`).

The output is deterministic: the same inputs give the same bytes. pycdlib
stamps the current local time into volume descriptors, directory records
and Rock Ridge ``TF`` entries and offers no option to choose it (only a
Rock Ridge creation time per file), so :func:`pin_timestamps` overwrites
all of them in the written image with :data:`TIMESTAMP`.

Nothing here talks to Ironic: size limits are enforced before any API
call can happen.
"""

import base64
import calendar
import copy
import gzip
import io
import json
import logging
import re
import struct
import time

import pycdlib
import yaml

from tripleo_baremetal import exceptions

LOG = logging.getLogger(__name__)

LABEL = 'config-2'
"""Volume label every config drive reader looks for."""

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

TIMESTAMP = calendar.timegm((1980, 1, 1, 0, 0, 0))
"""Every date in the image (UTC), so that the output is reproducible."""

_FILE_MODE = 0o100444
_DIR_MODE = 0o040555
_GZIP_LEVEL = 9
_SECTOR = 2048
_PEM_CERT = re.compile(
    r'-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----',
    re.DOTALL)


#: Instance keys that may hold secrets (cloud-config passwords, meta
#: data tokens): they feed the config drive and go nowhere else.
SECRET_KEYS = ('config_drive',)


def without_secrets(instance):
    """A copy of ``instance`` without the keys that may hold secrets.

    What every action returns and every workflow output holds: only the
    expansion's result and the input of the action that builds the drive
    carry ``config_drive``.
    """
    return {key: value for key, value in instance.items()
            if key not in SECRET_KEYS}


def split_secrets(instances):
    """``(public instances, {hostname: config_drive})`` of ``instances``.

    Hosts whose ``config_drive`` is empty are left out of the mapping.
    """
    drives = {inst['hostname']: inst['config_drive'] for inst in instances
              if any((inst.get('config_drive') or {}).values())}
    return [without_secrets(inst) for inst in instances], drives


def build_configdrive(instance, node_uuid, ssh_keys=(), user_name=None,
                      network_data=None, user_data=None, vendor_data=None,
                      ca_file=None, stackname=None):
    """Build the packed config drive of ``instance`` on node ``node_uuid``.

    :param instance: the expanded instance dict (``doc/instances.md``).
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
    hostname = instance.get('hostname') or node_uuid
    keys = public_keys(instance, ssh_keys)
    ca_certs = read_ca_file(ca_file) if ca_file else None
    vendor_data = _vendor_data(vendor_data, hostname)
    if user_data is None:
        user_data = render_cloud_config(build_cloud_config(
            instance, keys, user_name=user_name, ca_certs=ca_certs))
    else:
        user_data = _raw_user_data(user_data, hostname)
        if (instance.get('config_drive') or {}).get('cloud_config'):
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
    image = make_iso(files, hostname=hostname)
    packed = pack(image)
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

    A single key given as a string is accepted for either.
    """
    result = []
    for key in _as_list(instance.get('ssh_public_keys')) + _as_list(
            ssh_keys):
        if not isinstance(key, str):
            raise exceptions.InvalidInput(
                '%s: SSH public keys must be strings, got %s'
                % (instance.get('hostname'), type(key).__name__))
        key = key.strip()
        if key and key not in result:
            result.append(key)
    return result


def build_meta_data(instance, node_uuid, keys, stackname=None):
    """The ``meta_data.json`` content.

    Both ``hostname`` (read by cloud-init) and ``name`` (read by glean) are
    set. The instance's ``config_drive.meta_data`` is merged on top
    (:func:`merge`), but may not change ``uuid``: cloud-init uses it as
    the instance ID.
    """
    if not node_uuid or not isinstance(node_uuid, str):
        raise exceptions.InvalidInput(
            '%s: a node UUID is required for the config drive, got %r'
            % (instance.get('hostname'), node_uuid))
    hostname = instance.get('hostname') or node_uuid
    meta = {}
    if instance.get('role'):
        meta['role'] = instance['role']
    if stackname:
        meta['stack'] = stackname
    result = {
        'uuid': node_uuid,
        'hostname': hostname,
        'name': hostname,
        'public_keys': {str(i): key for i, key in enumerate(keys)},
        'availability_zone': '',
        'launch_index': instance.get('index') or 0,
        'files': [],
        'meta': meta,
    }
    extra = (instance.get('config_drive') or {}).get('meta_data') or {}
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
    name = user_name or instance.get('user_name') or DEFAULT_USER
    user = {'name': name, 'lock_passwd': True, 'shell': '/bin/bash'}
    if keys:
        user['ssh_authorized_keys'] = list(keys)
    else:
        LOG.warning('%s: no SSH public keys, user %s cannot log in',
                    instance.get('hostname'), name)
    if instance.get('passwordless_sudo') is not False:
        user['sudo'] = 'ALL=(ALL) NOPASSWD:ALL'
    result = {'users': [user]}
    if ca_certs:
        result['ca_certs'] = {'trusted': list(ca_certs)}
    extra = (instance.get('config_drive') or {}).get('cloud_config') or {}
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


def make_iso(files, hostname=None):
    """Build the ISO 9660 image of ``files`` (path -> bytes), in memory.

    Files with the same bytes in several directories are stored once and
    linked from each directory record (ISO 9660 allows several records to
    point at the same extent): the dated copy costs no space, and every
    name is still a regular file for every reader.

    :raises: ConfigDriveError when the image would exceed
        :data:`MAX_SIZE`; checked on the payload before anything is built,
        then on the image.
    """
    unique = {}
    for path, data in sorted(files.items()):
        unique.setdefault(data, path)
    _check_size(sum(len(data) for data in unique), hostname, files)

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge='1.09',
            vol_ident=LABEL, sys_ident='LINUX',
            pub_ident_str='tripleo-baremetal')
    directories = set()
    for path in sorted(files):
        _add_parents(iso, path, directories)
    for path, data in sorted(files.items()):
        name = path.rsplit('/', 1)[-1]
        first = unique[data]
        if first == path:
            iso.add_fp(io.BytesIO(data), len(data),
                       iso_path='/%s;1' % path, rr_name=name,
                       joliet_path='/%s' % path, file_mode=_FILE_MODE)
        else:
            iso.add_hard_link(iso_old_path='/%s;1' % first,
                              iso_new_path='/%s;1' % path, rr_name=name)
            iso.add_hard_link(iso_old_path='/%s;1' % first,
                              joliet_new_path='/%s' % path)
    output = io.BytesIO()
    iso.write_fp(output)
    iso.close()
    size = output.tell()
    _check_size(size, hostname, files)
    with output.getbuffer() as view:
        pin_timestamps(view)
    return output.getvalue()


def pack(image):
    """Gzip (fixed mtime, so reproducible) and base64-encode an image."""
    compressed = gzip.compress(image, compresslevel=_GZIP_LEVEL, mtime=0)
    return base64.b64encode(compressed).decode('ascii')


def pin_timestamps(image, timestamp=TIMESTAMP):
    """Overwrite every date of an ISO 9660 image, in place.

    Covers the creation, modification and effective dates of the primary
    and supplementary (Joliet) volume descriptors, the date of every
    directory record of both trees, and the Rock Ridge ``TF`` timestamps
    (including those in continuation areas). Dates are written in UTC.

    :param image: a writable buffer (bytearray or memoryview) holding the
        whole image.
    """
    short, long_ = _iso_dates(timestamp)
    seen = set()
    sector = 16
    while (sector + 1) * _SECTOR <= len(image):
        start = sector * _SECTOR
        kind = image[start]
        if bytes(image[start + 1:start + 6]) != b'CD001' or kind == 255:
            break
        if kind in (1, 2):
            for offset in (813, 830, 864):
                image[start + offset:start + offset + 17] = long_
            _pin_directory(image, start + 156, short, long_, seen)
        sector += 1


def _pin_directory(image, record, short, long_, seen):
    """Pin the dates of a directory record and, recursively, its contents."""
    extent, size = _extent(image, record)
    image[record + 18:record + 25] = short
    if extent in seen:
        return
    seen.add(extent)
    start = extent * _SECTOR
    end = min(start + size, len(image))
    position = start
    while position < end:
        length = image[position]
        if length == 0:
            # Records never cross a sector: the rest of it is padding.
            position = (position // _SECTOR + 1) * _SECTOR
            continue
        name_length = image[position + 32]
        name = bytes(image[position + 33:position + 33 + name_length])
        is_dir = image[position + 25] & 0x02
        if is_dir and name not in (b'\x00', b'\x01'):
            _pin_directory(image, position, short, long_, seen)
        else:
            image[position + 18:position + 25] = short
        system_use = position + 33 + name_length + (1 - name_length % 2)
        _pin_susp(image, system_use, position + length, short, long_)
        position += length


def _pin_susp(image, start, end, short, long_):
    """Pin the Rock Ridge TF timestamps of a System Use area."""
    areas = [(start, end)]
    visited = set()
    while areas:
        position, end = areas.pop()
        while position + 4 <= end:
            signature = bytes(image[position:position + 2])
            length = image[position + 2]
            if length < 4 or signature == b'ST':
                break
            if signature == b'TF':
                flags = image[position + 4]
                size = 17 if flags & 0x80 else 7
                stamp = long_ if flags & 0x80 else short
                count = bin(flags & 0x7f).count('1')
                for index in range(count):
                    at = position + 5 + index * size
                    if at + size <= position + length:
                        image[at:at + size] = stamp
            elif signature == b'CE':
                block, offset, size = struct.unpack_from(
                    '<I4xI4xI', image, position + 4)
                area = block * _SECTOR + offset
                if area not in visited and area + size <= len(image):
                    visited.add(area)
                    areas.append((area, area + size))
            position += length


def _extent(image, record):
    return struct.unpack_from('<I4xI', image, record + 2)


def _iso_dates(timestamp):
    """The 7-byte (record) and 17-byte (descriptor) forms of a UTC time."""
    tm = time.gmtime(timestamp)
    short = struct.pack('7B', tm.tm_year - 1900, tm.tm_mon, tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec, 0)
    long_ = time.strftime('%Y%m%d%H%M%S00', tm).encode('ascii') + b'\x00'
    return short, long_


def _add_parents(iso, path, directories):
    parts = path.split('/')[:-1]
    for depth in range(1, len(parts) + 1):
        directory = '/'.join(parts[:depth])
        if directory in directories:
            continue
        iso.add_directory(iso_path='/' + directory, rr_name=parts[depth - 1],
                          joliet_path='/' + directory, file_mode=_DIR_MODE)
        directories.add(directory)


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
