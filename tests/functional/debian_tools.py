"""Debian tools for functional tests: cloud-init and isoinfo via apt.

cloud-init is not on PyPI, so the tests use Debian's package the way the
project's reference notes describe: ``apt-get download cloud-init`` and
``dpkg-deb -x`` into a cache directory (under the repository's ``.tox/``,
else a temporary directory), reused by later runs; its
``usr/lib/python3/dist-packages`` then goes on ``sys.path``. Command line
tools (``isoinfo`` from genisoimage) are installed with ``apt-get install``
when missing. ``apt-get update`` runs once, only when a package is not
found.

A lock file serialises the work between concurrent test processes.
"""

import contextlib
import fcntl
import glob
import importlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile

LOG = logging.getLogger(__name__)

CLOUD_INIT_DEPENDENCIES = ('yaml', 'requests', 'configobj')
"""Python modules cloud-init's config drive code imports."""

_FALLBACK_PACKAGES = {'configobj': 'python3-configobj'}
"""Pure-Python dependencies taken from Debian when not installed."""

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_state = {'updated': False}


class Unavailable(Exception):
    """apt cannot be used here; tests needing it should skip."""


def apt_available():
    """Why apt cannot be used here, or None when it can."""
    for command in ('apt-get', 'dpkg-deb'):
        if not shutil.which(command):
            return '%s is not installed (not a Debian system?)' % command
    return None


def cache_dir():
    """The directory holding extracted packages, created when needed."""
    for base in (os.path.join(_REPO, '.tox'), tempfile.gettempdir()):
        path = os.path.join(base, 'debian-tools')
        try:
            os.makedirs(path, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    reason = 'no writable cache directory for Debian packages'
    raise Unavailable(reason)


@contextlib.contextmanager
def _locked(directory):
    with open(os.path.join(directory, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _apt(args, cwd=None):
    """Run an apt command; on "not found" run apt-get update and retry."""
    reason = apt_available()
    if reason:
        raise Unavailable(reason)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for attempt in range(2):
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                              text=True)
        if proc.returncode == 0:
            return
        missing = any(text in proc.stderr for text in (
            'Unable to locate package', 'has no installation candidate',
            'Can\'t select candidate', 'Failed to fetch'))
        if attempt or not missing or _state['updated']:
            break
        LOG.info('%s: package not found, running apt-get update',
                 ' '.join(args))
        subprocess.run(['apt-get', 'update'], env=env, check=True,
                       capture_output=True)
        _state['updated'] = True
    message = '%s failed (%d): %s' % (' '.join(args), proc.returncode,
                                      proc.stderr.strip()[-2000:])
    raise RuntimeError(message)


def extract_package(name):
    """Download a Debian package and unpack it; return the tree's path.

    Reused when already unpacked in :func:`cache_dir`.
    """
    base = cache_dir()
    target = os.path.join(base, name)
    marker = os.path.join(target, '.extracted')
    with _locked(base):
        if os.path.exists(marker):
            return target
        shutil.rmtree(target, ignore_errors=True)
        download = tempfile.mkdtemp(dir=base, prefix='download-')
        try:
            # The _apt user cannot write here; apt then downloads as root
            # with a warning, which is fine.
            _apt(['apt-get', 'download', name], cwd=download)
            debs = glob.glob(os.path.join(download, '%s_*.deb' % name))
            if len(debs) != 1:
                message = 'apt-get download %s gave %s' % (name, debs)
                raise RuntimeError(message)
            subprocess.run(['dpkg-deb', '-x', debs[0], target], check=True,
                           capture_output=True)
        finally:
            shutil.rmtree(download, ignore_errors=True)
        with open(marker, 'w') as stream:
            stream.write(os.path.basename(debs[0]) + '\n')
    return target


def _add_dist_packages(tree):
    path = os.path.join(tree, 'usr', 'lib', 'python3', 'dist-packages')
    if path not in sys.path:
        sys.path.append(path)
    return path


def ensure_python_modules(modules=CLOUD_INIT_DEPENDENCIES):
    """Make ``modules`` importable; return those taken from Debian.

    A missing pure-Python module with a known Debian package is unpacked
    from it (and should be added to functional-requirements.txt); any
    other missing module is an error.
    """
    borrowed = []
    for module in modules:
        try:
            importlib.import_module(module)
            continue
        except ImportError:
            package = _FALLBACK_PACKAGES.get(module)
            if not package:
                message = ('Python module %s is required by cloud-init: '
                           'add it to functional-requirements.txt' % module)
                raise RuntimeError(message)
        LOG.warning('Python module %s is missing, using Debian\'s %s; add '
                    'it to functional-requirements.txt', module, package)
        _add_dist_packages(extract_package(package))
        importlib.import_module(module)
        borrowed.append(module)
    return borrowed


def cloud_init():
    """Make Debian's cloud-init importable; return its dist-packages path.

    :raises: Unavailable when apt cannot be used.
    """
    ensure_python_modules()
    path = _add_dist_packages(extract_package('cloud-init'))
    importlib.invalidate_caches()
    return path


def ensure_command(command, package):
    """Path of ``command``, installing ``package`` with apt when missing.

    :raises: Unavailable when the command is missing and apt cannot be
        used (not Debian, or not root).
    """
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0:
        reason = ('%s is missing and installing %s needs root'
                  % (command, package))
        raise Unavailable(reason)
    with _locked(cache_dir()):
        if not shutil.which(command):
            _apt(['apt-get', 'install', '-y', '--no-install-recommends',
                  package])
    found = shutil.which(command)
    if not found:
        message = '%s installed but %s is still not found' % (
            package, command)
        raise RuntimeError(message)
    return found
