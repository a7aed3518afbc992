"""Image references: what Ironic can deploy without Glance.

An image is ``{'href': URL, 'checksum': ..., 'kernel': URL, 'ramdisk':
URL}``. ``href`` is an http(s) or file URL; ``kernel`` and ``ramdisk``
come together and make it a partition image; ``checksum`` is an md5,
sha256 or sha512 hex digest (optionally prefixed ``sha256:`` etc.) or the
URL of a checksums file. Checking all this locally means a typo fails
before any node is touched, not half-way through a deploy.

``file://`` URLs are checked as the Ironic conductor checks them: a path
under ``/boot``, ``/dev``, ``/etc``, ``/proc``, ``/run`` or ``/sys`` is
always refused, and any other must be inside one of the directories of
its ``[conductor] file_url_allowed_paths`` (our ``[tripleo_baremetal]
file_url_allowed_paths`` mirrors it). We also refuse ``..`` in such a
path. Problems never quote a URL's password: values are returned with
it masked (``redacted``).
"""

import os
import posixpath
import re
from urllib import parse

DEFAULT_IMAGE = {'href': 'file:///var/lib/ironic/images/overcloud-full.raw'}

#: Where the undercloud keeps the overcloud images it ships (where
#: tripleo-ansible's provision playbook looks for them).
LOCAL_IMAGES_DIR = '/var/lib/ironic/images'

#: Disk image file endings looked for, in order, for a Glance image name.
LOCAL_DISK_SUFFIXES = ('.raw', '.qcow2')

#: The default of Ironic's ``[conductor] file_url_allowed_paths``.
FILE_URL_ALLOWED_PATHS = ('/var/lib/ironic',)

#: Directories Ironic never reads a ``file://`` image from.
BLOCKED_PATHS = ('/boot', '/dev', '/etc', '/proc', '/run', '/sys')

#: Image keys that may hold a URL, in the order they are checked.
URL_KEYS = ('href', 'kernel', 'ramdisk', 'checksum')

_URL_SCHEMES = ('http', 'https', 'file')
_DIGEST_LENGTHS = {'md5': 32, 'sha256': 64, 'sha512': 128}
_HEX = re.compile(r'^[0-9a-fA-F]+$')
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
_USERINFO = re.compile(r'^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@')


def redacted(url):
    """``url`` with the password of its user info masked."""
    if not isinstance(url, str):
        return url
    return _USERINFO.sub(r'\1:***@', url)


def url_problem(url):
    """Why ``url`` is not a usable image URL, or None."""
    if _CONTROL.search(url):
        return 'contains control characters'
    try:
        parsed = parse.urlparse(url)
    except ValueError:
        return 'is not a valid URL'
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
        return ('has an unknown algorithm prefix before ":" (use md5, '
                'sha256 or sha512)')
    allowed = ([_DIGEST_LENGTHS[algorithm]] if sep
               else sorted(_DIGEST_LENGTHS.values()))
    if not _HEX.match(digest) or len(digest) not in allowed:
        return ('is not an md5, sha256 or sha512 hex digest nor the URL of '
                'a checksums file')
    return None


def _normal_dirs(allowed_paths):
    if allowed_paths is None:
        allowed_paths = FILE_URL_ALLOWED_PATHS
    return [posixpath.normpath(path) for path in allowed_paths
            if path and path.startswith('/')]


def _inside(path, directory):
    return path == directory or path.startswith(directory.rstrip('/') + '/')


def _file_paths(url):
    """The path of a ``file://`` URL as given and percent-decoded."""
    path = parse.urlparse(url).path
    return [path, parse.unquote(path)]


def file_url_problem(url, allowed_paths=None):
    """Why the Ironic conductor will refuse to read a ``file://`` URL.

    :param allowed_paths: the conductor's ``file_url_allowed_paths``
        (None: ``FILE_URL_ALLOWED_PATHS``; empty: no file URL at all).
    :returns: the problem, or None (also for other URLs).
    """
    if url_problem(url) or parse.urlparse(url).scheme != 'file':
        return None
    dirs = _normal_dirs(allowed_paths)
    where = ('([tripleo_baremetal] file_url_allowed_paths, which must match '
             'the conductor\'s [conductor] file_url_allowed_paths)')
    if not dirs:
        return ('is a file URL, but file URLs are disabled: no directory '
                'is allowed %s' % where)
    paths = _file_paths(url)
    for path in paths:
        if '..' in path.split('/'):
            return 'must not contain ".." (Ironic refuses such file URLs)'
        for blocked in BLOCKED_PATHS:
            if _inside(path, blocked):
                return ('is under %s, which Ironic never reads file URLs '
                        'from' % blocked)
    for path in paths:
        if not any(_inside(path, directory) for directory in dirs):
            return ('is not inside the directories the Ironic conductor may '
                    'read file URLs from: %s %s'
                    % (', '.join(dirs), where))
    return None


def is_glance_name(value):
    """Whether ``value`` reads as a Glance image name or id, not a URL.

    Files written for tripleo-ansible before Wallaby name images in
    Glance (``href: overcloud-full``).
    """
    return (isinstance(value, str) and bool(value.strip())
            and not set(value) & set(':/') and not _CONTROL.search(value))


def _file_url(path):
    return 'file://' + parse.quote(path)


def local_image(name, directory=None, exists=os.path.exists):
    """The undercloud's own files of the Glance image ``name``, or None.

    As tripleo-ansible's playbook detects them: ``<name>.raw`` (else
    ``<name>.qcow2``) in ``directory`` (default ``LOCAL_IMAGES_DIR``), a
    partition image when ``<name>.vmlinuz`` and ``<name>.initrd`` are
    there too, else a whole-disk image.

    :returns: an image mapping of ``file://`` URLs, or None when there
        is no such disk image.
    """
    base = posixpath.join(directory or LOCAL_IMAGES_DIR, name)
    disk = next((base + suffix for suffix in LOCAL_DISK_SUFFIXES
                 if exists(base + suffix)), None)
    if disk is None:
        return None
    image = {'href': _file_url(disk)}
    if exists(base + '.vmlinuz') and exists(base + '.initrd'):
        image.update(kernel=_file_url(base + '.vmlinuz'),
                     ramdisk=_file_url(base + '.initrd'))
    return image


def glance_problem(name, key='href', directory=None):
    """What to write instead of a Glance image name at ``key``."""
    if key != 'href':
        return ('is a Glance image name, and there is no Glance here: write '
                'the http(s) or file URL of the %s' % key)
    directory = directory or LOCAL_IMAGES_DIR
    return ('is a Glance image name, and there is no Glance here: write '
            'href: %s (or the http(s) or file URL of another image); no %s '
            'is in %s' % (
                _file_url(posixpath.join(directory, name + '.raw')),
                ' or '.join(name + suffix for suffix in LOCAL_DISK_SUFFIXES),
                directory))


def _url_problems(image, allowed_paths):
    problems = []
    for key in URL_KEYS:
        value = image.get(key)
        if not value:
            continue
        if key == 'checksum':
            problem = checksum_problem(value)
        elif is_glance_name(value):
            problem = glance_problem(value, key)
        else:
            problem = url_problem(value)
        problem = problem or file_url_problem(value, allowed_paths)
        if problem:
            problems.append((key, redacted(value), problem))
    return problems


def image_problems(image, allowed_paths=None):
    """List ``(key, value, problem)`` for everything wrong with ``image``.

    :param allowed_paths: directories ``file://`` URLs may point into
        (None: ``FILE_URL_ALLOWED_PATHS``).
    :returns: values with any URL password masked, for messages.
    """
    problems = []
    href = image.get('href')
    if not href:
        problems.append(('href', href, 'is required'))
    problems.extend(_url_problems(image, allowed_paths))
    if bool(image.get('kernel')) != bool(image.get('ramdisk')):
        missing = 'ramdisk' if image.get('kernel') else 'kernel'
        problems.append((missing, image.get(missing),
                         'is required when %s is set (a partition image '
                         'needs both)' % ('kernel' if missing == 'ramdisk'
                                          else 'ramdisk')))
    return problems


def is_whole_disk(image):
    """A whole-disk image has no separate kernel and ramdisk."""
    return not (image.get('kernel') and image.get('ramdisk'))


#: Ironic's ``instance_info.image_type`` values.
WHOLE_DISK = 'whole-disk'
PARTITION = 'partition'


def image_type(image):
    """``instance_info.image_type`` for ``image``.

    Given explicitly, it spares the conductor working it out itself while
    it handles the provision request: for an HTTP image without kernel
    and ramdisk it sends a HEAD request to the image server first
    (``is_source_a_path``), holding the node's lock and the API request
    until the server answers.
    """
    return WHOLE_DISK if is_whole_disk(image) else PARTITION


def missing_local_files(image, allowed_paths=None):
    """The ``file://`` paths of ``image`` that do not exist on this host.

    Only paths the conductor may read (``file_url_problem`` finds nothing
    wrong with them) are looked at: the answer must not tell whether a
    file exists anywhere else on this host. Only meaningful where the
    Ironic conductor shares this file system (the undercloud), which the
    caller decides.

    :returns: ``[(key, value)]``, values with any password masked.
    """
    missing = []
    for key in URL_KEYS:
        value = image.get(key)
        if (not isinstance(value, str) or url_problem(value)
                or parse.urlparse(value).scheme != 'file'
                or file_url_problem(value, allowed_paths)):
            continue
        path = parse.unquote(parse.urlparse(value).path)
        if not os.path.exists(path):
            missing.append((key, redacted(value)))
    return missing
