"""The ISO 9660 image of a config drive, and the string Ironic takes.

:mod:`contents` decides what the drive holds (path -> bytes); this module
only turns those files into an image every reader can open, and packs it.
It knows nothing of OpenStack metadata or of Ironic's limits.

:func:`make_iso` builds the image in memory with pycdlib: interchange
level 4 (plain names stay lowercase and unshortened, as in
``/openstack/latest/network_data.json;1`` which Ironic looks up), Rock
Ridge 1.09 and Joliet level 3, label :data:`LABEL`, read-only files.
:func:`pack` makes the string Ironic takes: gzip (fixed mtime) then
base64.

The output is deterministic: the same files give the same bytes. pycdlib
stamps the current local time into volume descriptors, directory records
and Rock Ridge ``TF`` entries and offers no option to choose it (only a
Rock Ridge creation time per file), so :func:`pin_timestamps` overwrites
all of them in the written image with :data:`TIMESTAMP`.
"""

import base64
import calendar
import gzip
import io
import struct
import time

import pycdlib

LABEL = 'config-2'
"""Volume label every config drive reader looks for."""

TIMESTAMP = calendar.timegm((1980, 1, 1, 0, 0, 0))
"""Every date in the image (UTC), so that the output is reproducible."""

_FILE_MODE = 0o100444
_DIR_MODE = 0o040555
_GZIP_LEVEL = 9
_SECTOR = 2048


def payload_size(files):
    """Bytes of file data the image of ``files`` holds (see make_iso).

    A lower bound of the image size, known before anything is built.
    """
    return sum(len(data) for data in _first_paths(files))


def make_iso(files):
    """Build the ISO 9660 image of ``files`` (path -> bytes), in memory.

    Files with the same bytes in several directories are stored once and
    linked from each directory record (ISO 9660 allows several records to
    point at the same extent): the dated copy costs no space, and every
    name is still a regular file for every reader.
    """
    unique = _first_paths(files)
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge='1.09',
            vol_ident=LABEL, sys_ident='LINUX',
            pub_ident_str='tripleo-baremetal')
    directories = set()
    for path in sorted(files):
        _add_parents(iso, path, directories)
    for path, data in sorted(files.items()):
        _add_file(iso, path, data, unique[data])
    output = io.BytesIO()
    iso.write_fp(output)
    iso.close()
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


def _first_paths(files):
    """Map each distinct content of ``files`` to its first path."""
    unique = {}
    for path, data in sorted(files.items()):
        unique.setdefault(data, path)
    return unique


def _add_file(iso, path, data, first):
    """Add ``path``: its bytes if it is ``first`` of them, else links."""
    name = path.rsplit('/', 1)[-1]
    if first == path:
        iso.add_fp(io.BytesIO(data), len(data),
                   iso_path='/%s;1' % path, rr_name=name,
                   joliet_path='/%s' % path, file_mode=_FILE_MODE)
    else:
        iso.add_hard_link(iso_old_path='/%s;1' % first,
                          iso_new_path='/%s;1' % path, rr_name=name)
        iso.add_hard_link(iso_old_path='/%s;1' % first,
                          joliet_new_path='/%s' % path)


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
