"""Run ``ironic-api`` with several workers on one listening socket.

Ironic 39 serves its API with cheroot, one ``wsgi.Server`` per worker
process, and each worker binds ``[api] host_ip``/``port`` itself when it
starts: with ``[api] api_workers`` above 1 every worker but the first
fails with "Address already in use" (cheroot sets no SO_REUSEPORT), and
oslo.service respawns them for ever. cheroot also honours systemd socket
activation: when ``LISTEN_PID`` is set, ``Server.prepare()`` takes file
descriptor 3 as its listening socket instead of binding. So this
launcher does what systemd would: it binds and listens once, puts the
socket on descriptor 3 (inheritable), sets ``LISTEN_FDS=1`` and
``LISTEN_PID`` to its own PID, and replaces itself (``exec``, same PID)
with ``ironic-api``. oslo.service forks the workers on Linux, so each
inherits descriptor 3 and accepts connections from the same queue.

Usage, started by ``ironic.IronicService`` with ``api_workers``::

    python -m localcloud.ironic_api_launcher --config-file ironic.conf \\
        [other ironic-api arguments]

The address comes from the first ``--config-file`` (read with
configparser: oslo.config is ironic-api's to parse). Nothing here is
meant for production.
"""

import configparser
import os
import socket
import sys

from localcloud import process

#: The descriptor systemd hands the first socket on (SD_LISTEN_FDS_START),
#: and the one cheroot reads.
LISTEN_FD = 3

#: Connections the kernel queues before a worker accepts them.
BACKLOG = 128


def read_address(argv):
    """``(host_ip, port)`` of ``[api]`` in the ``--config-file`` of argv."""
    try:
        path = argv[argv.index('--config-file') + 1]
    except (ValueError, IndexError):
        sys.exit('usage: python -m %s --config-file FILE [...]'
                 % __spec__.name)
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path):
        sys.exit('cannot read %s' % path)
    try:
        return (parser.get('api', 'host_ip'),
                parser.getint('api', 'port'))
    except (configparser.Error, ValueError) as exc:
        sys.exit('%s: %s' % (path, exc))


def listen(host, port):
    """Bind and listen on ``host:port``, on descriptor LISTEN_FD."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sys.exit('cannot bind %s:%s: %s' % (host, port, exc))
    sock.listen(BACKLOG)
    if sock.fileno() != LISTEN_FD:
        os.dup2(sock.fileno(), LISTEN_FD, inheritable=True)
        sock.close()
    else:
        os.set_inheritable(LISTEN_FD, True)
        sock.detach()


def main(argv=None):
    """Listen, then become ``ironic-api`` with the socket to share."""
    argv = sys.argv[1:] if argv is None else argv
    host, port = read_address(argv)
    executable = process.find_executable('ironic-api')
    listen(host, port)
    env = dict(os.environ, LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(executable, [executable] + argv, env)


if __name__ == '__main__':
    main()
