"""Image references: what Ironic can deploy without Glance.

An image is ``{'href': URL, 'checksum': ..., 'kernel': URL, 'ramdisk':
URL}``. ``href`` is an http(s) or file URL; ``kernel`` and ``ramdisk``
come together and make it a partition image; ``checksum`` is an md5,
sha256 or sha512 hex digest (optionally prefixed ``sha256:`` etc.) or the
URL of a checksums file. Checking all this locally means a typo fails
before any node is touched, not half-way through a deploy.
"""

import os
import re
from urllib import parse

DEFAULT_IMAGE = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}

_URL_SCHEMES = ('http', 'https', 'file')
_DIGEST_LENGTHS = {'md5': 32, 'sha256': 64, 'sha512': 128}
_HEX = re.compile(r'^[0-9a-fA-F]+$')


def url_problem(url):
    """Why ``url`` is not a usable image URL, or None."""
    parsed = parse.urlparse(url)
    if parsed.scheme not in _URL_SCHEMES:
        return 'is not an http, https or file URL'
    if parsed.scheme == 'file':
        if parsed.netloc not in ('', 'localhost') or not parsed.path:
            return 'is not a file URL with an absolute path (file:///...)'
    elif not parsed.netloc:
        return 'has no host'
    return None


def checksum_problem(checksum):
    """Why ``checksum`` is neither a known digest nor a URL, or None."""
    if '://' in checksum:
        return url_problem(checksum)
    algorithm, sep, digest = checksum.rpartition(':')
    if sep and algorithm not in _DIGEST_LENGTHS:
        return ('has an unknown algorithm prefix %r (use md5, sha256 or '
                'sha512)' % algorithm)
    allowed = ([_DIGEST_LENGTHS[algorithm]] if sep
               else sorted(_DIGEST_LENGTHS.values()))
    if not _HEX.match(digest) or len(digest) not in allowed:
        return ('is not an md5, sha256 or sha512 hex digest nor the URL of '
                'a checksums file')
    return None


def image_problems(image):
    """List ``(key, value, problem)`` for everything wrong with ``image``."""
    problems = []
    href = image.get('href')
    if not href:
        problems.append(('href', href, 'is required'))
    for key in ('href', 'kernel', 'ramdisk'):
        value = image.get(key)
        if value:
            problem = url_problem(value)
            if problem:
                problems.append((key, value, problem))
    if bool(image.get('kernel')) != bool(image.get('ramdisk')):
        missing = 'ramdisk' if image.get('kernel') else 'kernel'
        problems.append((missing, image.get(missing),
                         'is required when %s is set (a partition image '
                         'needs both)' % ('kernel' if missing == 'ramdisk'
                                          else 'ramdisk')))
    checksum = image.get('checksum')
    if checksum:
        problem = checksum_problem(checksum)
        if problem:
            problems.append(('checksum', checksum, problem))
    return problems


def is_whole_disk(image):
    """A whole-disk image has no separate kernel and ramdisk."""
    return not (image.get('kernel') and image.get('ramdisk'))


def missing_local_files(image):
    """The ``file://`` paths of ``image`` that do not exist on this host.

    Only meaningful where the Ironic conductor shares this file system
    (the undercloud), which the caller decides.
    """
    missing = []
    for key in ('href', 'kernel', 'ramdisk', 'checksum'):
        value = image.get(key) or ''
        if value.startswith('file://'):
            path = parse.unquote(parse.urlparse(value).path)
            if not os.path.exists(path):
                missing.append((key, value))
    return missing
