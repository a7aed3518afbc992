"""A loopback HTTP proxy that injects faults into a share of requests.

Put in front of a real API (the embedded Ironic), it lets a functional
test prove that our client code survives what a real undercloud shows
now and then: a 503 from a flooded API, a connection dropped before the
request reached the API, a connection dropped after the request took
effect but before its answer came back (the write whose outcome must be
read back, never blindly repeated), and slow answers. Which requests get
a fault, and which fault, comes from one seeded random sequence, so that
a run can be repeated; with ``enabled`` false every request passes untouched,
e.g. while a test checks its invariants.

Only the standard library is used. Clients are served over HTTP/1.1 with
keep-alive (python-requests pools its connections); each request is
forwarded on a new upstream connection, so that a stale upstream
connection never makes the proxy send a request twice; every answer goes
back whole, with a Content-Length.

The client's ``Host`` header is forwarded as it is by default: Ironic
builds the absolute URLs of its answers from the ``Host`` it sees, the
``next`` link of a paginated listing and the ``Location`` of a creation
among them, and openstacksdk follows ``next`` links as they are. With
``Host`` rewritten to the target's, every page after the first would go
straight to the target, past the proxy.
"""

import collections
import http.client
import http.server
import json
import logging
import random
import socket
import socketserver
import threading
import time
import urllib.parse

LOG = logging.getLogger(__name__)

#: A request the proxy saw (``FaultProxy.recording``).
Recorded = collections.namedtuple('Recorded', ['method', 'path', 'body'])

LOOPBACK = '127.0.0.1'

#: Every fault kind, see FaultProxy.
FAULTS = ('503', 'drop_before', 'drop_after', 'latency')

#: Headers that concern one connection only, never forwarded (any
#: ``Proxy-*`` header too, and those a ``Connection`` header names).
HOP_BY_HOP = frozenset(['connection', 'keep-alive', 'te', 'trailer',
                        'trailers', 'transfer-encoding', 'upgrade'])

#: Seconds an upstream request may take, answer included.
UPSTREAM_TIMEOUT = 120
#: Seconds a client connection may stay idle (or send slowly).
CLIENT_TIMEOUT = 120
#: Seconds stop() waits for the server and its connections to end.
STOP_TIMEOUT = 5
#: Seconds between two checks of the stop flag by the accepting thread.
POLL_INTERVAL = 0.05

_NO_BODY_STATUSES = (204, 304)


def error_body(message, faultcode='Server'):
    """An error body shaped like Ironic's, as bytes.

    Ironic wraps a JSON-encoded ``{"faultcode", "faultstring",
    "debuginfo"}`` in ``{"error_message": ...}``; openstacksdk takes the
    ``faultstring`` as the exception's details.
    """
    fault = {'faultcode': faultcode, 'faultstring': message,
             'debuginfo': None}
    return json.dumps({'error_message': json.dumps(fault)}).encode('utf-8')


def _connection_tokens(headers):
    """Lower-case header names listed by the ``Connection`` headers."""
    return {token.strip().lower()
            for value in headers.get_all('Connection') or ()
            for token in value.split(',')}


def _end_to_end(headers):
    """``(name, value)`` of ``headers`` (a Message) to forward."""
    dropped = _connection_tokens(headers)
    return [(name, value) for name, value in headers.items()
            if not (name.lower() in HOP_BY_HOP or name.lower() in dropped
                    or name.lower().startswith('proxy-'))]


class _Server(http.server.ThreadingHTTPServer):
    """The listening socket; one daemon thread per client connection."""

    daemon_threads = True
    # stop() closes connections and joins their threads with a deadline;
    # the default would wait for every thread without one.
    block_on_close = False
    timeout = POLL_INTERVAL

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name: not needed here,
        # and a slow resolver would make start() slow.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        LOG.debug('Fault proxy: error serving %s', client_address,
                  exc_info=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves one client connection: each request is proxied or faulted."""

    protocol_version = 'HTTP/1.1'
    timeout = CLIENT_TIMEOUT
    # Headers and body are two writes: without TCP_NODELAY, Nagle's
    # algorithm and the client's delayed ACK add 40 ms to each answer.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.server.proxy._opened(self)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.proxy._closed(self)

    def log_request(self, code='-', size='-'):
        pass

    def log_message(self, fmt, *args):
        LOG.debug('Fault proxy: %s', fmt % args)

    def _proxy(self):
        """Read the request, then fault it or forward it."""
        proxy = self.server.proxy
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send(400, 'Bad Request',
                       [('Content-Type', 'application/json')],
                       error_body(str(exc), faultcode='Client'))
            return
        except OSError:
            self.close_connection = True
            return
        proxy._record(self.command, self.path, body)
        kind = proxy._draw(self.command, self.path)
        if kind == '503':
            self._send(503, 'Service Unavailable',
                       [('Content-Type', 'application/json')],
                       error_body('injected fault'))
            return
        if kind == 'drop_before':
            self._drop()
            return
        if kind == 'latency' and proxy._stopping.wait(proxy.latency):
            self._drop()
            return
        answer = self._forward(body)
        if kind == 'drop_after':
            self._drop()
        else:
            self._send(*answer)

    do_DELETE = do_GET = do_HEAD = do_OPTIONS = _proxy
    do_PATCH = do_POST = do_PUT = _proxy

    def _read_body(self):
        """The request body (bytes), or None when there is none.

        :raises: ValueError for a malformed length, OSError when the client
            goes away first.
        """
        encoding = self.headers.get('Transfer-Encoding', '')
        if 'chunked' in encoding.lower():
            return self._read_chunked()
        length = self.headers.get('Content-Length')
        if length is None:
            return None
        try:
            length = int(length)
        except ValueError:
            length = -1
        if length < 0:
            raise ValueError('invalid Content-Length %r'
                             % self.headers.get('Content-Length'))
        data = self.rfile.read(length)
        if len(data) < length:
            raise ConnectionResetError('client closed during the body')
        return data

    def _read_chunked(self):
        """A chunked request body, decoded."""
        chunks = []
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionResetError('client closed during the body')
            try:
                size = int(line.split(b';', 1)[0].strip(), 16)
            except ValueError:
                raise ValueError('invalid chunk size %r' % line)
            if size == 0:
                break
            data = self.rfile.read(size)
            if len(data) < size:
                raise ConnectionResetError('client closed during the body')
            chunks.append(data)
            self.rfile.readline(65537)
        # Trailers, up to the empty line.
        while self.rfile.readline(65537) not in (b'\r\n', b'\n', b''):
            pass
        return b''.join(chunks)

    def _target(self):
        """The upstream path and query of this request."""
        path = self.path
        if not path.startswith('/'):
            # Absolute form, from a client that treats us as its proxy.
            split = urllib.parse.urlsplit(path)
            path = urllib.parse.urlunsplit(('', '', split.path or '/',
                                            split.query, ''))
        return self.server.proxy._prefix + path

    def _forward(self, body):
        """Send the request upstream; ``(status, reason, headers, body)``.

        An upstream failure is answered 502 (504 for a time-out).
        """
        proxy = self.server.proxy
        headers = [(name, value) for name, value in _end_to_end(self.headers)
                   if name.lower() not in ('content-length', 'expect')
                   and (proxy.preserve_host or name.lower() != 'host')]
        has_host = any(name.lower() == 'host' for name, _ in headers)
        upstream = http.client.HTTPConnection(proxy._host, proxy._port,
                                              timeout=proxy.timeout)
        try:
            upstream.putrequest(self.command, self._target(),
                                skip_host=has_host,
                                skip_accept_encoding=True)
            for name, value in headers:
                upstream.putheader(name, value)
            if body is not None:
                upstream.putheader('Content-Length', str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            # http.client decodes chunked answers and reads those without
            # a length up to the end.
            data = response.read()
            return (response.status, response.reason,
                    _end_to_end(response.msg), data)
        except (OSError, http.client.HTTPException) as exc:
            status = 504 if isinstance(exc, TimeoutError) else 502
            proxy._count_upstream_error()
            LOG.debug('Fault proxy: %s %s upstream failed: %r; answering %d',
                      self.command, self.path, exc, status)
            return (status, http.client.responses[status],
                    [('Content-Type', 'application/json')],
                    error_body('fault proxy: upstream failed: %s' % exc))
        finally:
            upstream.close()

    def _send(self, status, reason, headers, data):
        """Answer the client, with a Content-Length when there is a body."""
        no_body = (self.command == 'HEAD' or status in _NO_BODY_STATUSES
                   or 100 <= status < 200)
        try:
            self.send_response_only(status, reason)
            for name, value in headers:
                if not no_body and name.lower() == 'content-length':
                    continue
                self.send_header(name, value)
            if not no_body:
                self.send_header('Content-Length', str(len(data)))
            if self.close_connection:
                self.send_header('Connection', 'close')
            self.end_headers()
            if not no_body:
                self.wfile.write(data)
        except OSError:
            # The client went away.
            self.close_connection = True

    def _drop(self):
        """Close the client connection at once, answering nothing."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 that faults a seeded share of requests.

    :param target_url: the API proxied to, e.g. ``http://127.0.0.1:6385``
        (a path is a prefix added to every request's path).
    :param seed: seed of the random sequence that decides which requests
        get a fault, and which.
    :param share: probability (0 to 1) that a request gets a fault.
    :param faults: the kinds to choose from, each as likely:

        * ``'503'``: answer 503 with an Ironic-like JSON error, without
          forwarding;
        * ``'drop_before'``: close the client connection without
          forwarding or answering;
        * ``'drop_after'``: forward, read the whole answer (the request
          took effect), then close the client connection without
          answering;
        * ``'latency'``: wait ``latency`` seconds, then forward.
    :param latency: seconds of a ``'latency'`` fault.
    :param methods: HTTP methods that may get faults, e.g. ``{'GET'}``;
        None for all.
    :param port: port to listen on; a free one by default.
    :param preserve_host: forward the client's ``Host`` header (see the
        module's docstring); false sends the target's instead.
    :param timeout: seconds each upstream request may take.

    ``share``, ``faults``, ``latency``, ``methods`` and ``enabled`` may
    be changed at any time; set ``enabled`` false to let every request
    through. With ``recording`` true, every request is also kept in
    ``recorded`` (``Recorded(method, path, body)``, the body parsed as
    JSON when it is), so a test can check what a client sent. Requests
    that cannot get a fault (disabled, or another method) draw nothing
    from the random sequence, so sequential requests of a test get the
    same faults on every run.
    """

    def __init__(self, target_url, seed=0, share=0.15, faults=FAULTS,
                 latency=0.5, methods=None, port=None, preserve_host=True,
                 timeout=UPSTREAM_TIMEOUT):
        split = urllib.parse.urlsplit(target_url)
        if split.scheme != 'http' or not split.hostname:
            raise ValueError('target_url must be an http:// URL, not %r'
                             % target_url)
        self.target_url = target_url
        self._host = split.hostname
        self._port = split.port or 80
        self._prefix = split.path.rstrip('/')
        self._lock = threading.Lock()
        self.share = share
        self.faults = faults
        self.latency = latency
        self.methods = methods
        self.port = port
        self.preserve_host = preserve_host
        self.timeout = timeout
        #: False: every request is forwarded untouched.
        self.enabled = True
        #: True: keep every request in ``recorded``.
        self.recording = False
        self.recorded = []
        self._random = random.Random(seed)
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self._handlers = {}
        self.reset_stats()

    def reseed(self, seed):
        """Start a new random sequence, e.g. for the next scenario."""
        with self._lock:
            self._random = random.Random(seed)

    @property
    def share(self):
        """Probability (0 to 1) that a request gets a fault."""
        return self._share

    @share.setter
    def share(self, share):
        if not 0 <= share <= 1:
            raise ValueError('share must be between 0 and 1, not %r' % share)
        self._share = share

    @property
    def faults(self):
        """The fault kinds chosen from, a tuple."""
        return self._faults

    @faults.setter
    def faults(self, faults):
        faults = (faults,) if isinstance(faults, str) else tuple(faults)
        if not faults or set(faults) - set(FAULTS):
            raise ValueError('faults must be some of %s, not %r'
                             % (', '.join(FAULTS), faults))
        self._faults = faults

    @property
    def methods(self):
        """Upper-case methods that may get faults (a frozenset), or None."""
        return self._methods

    @methods.setter
    def methods(self, methods):
        self._methods = (None if methods is None
                         else frozenset(method.upper() for method in methods))

    @property
    def url(self):
        """The proxy's URL, e.g. ``http://127.0.0.1:43567``."""
        if self._server is None:
            raise RuntimeError('the fault proxy is not started')
        return 'http://%s:%d' % (LOOPBACK, self.port)

    def start(self):
        """Listen on 127.0.0.1 and serve in a daemon thread.

        :returns: self.
        """
        if self._server is not None:
            raise RuntimeError('the fault proxy is already started')
        server = _Server((LOOPBACK, self.port or 0), _Handler)
        server.proxy = self
        self.port = server.server_address[1]
        self._stopping.clear()
        self._server = server
        self._thread = threading.Thread(
            target=self._serve, args=(server,), daemon=True,
            name='fault-proxy-%d' % self.port)
        self._thread.start()
        LOG.debug('Fault proxy %s -> %s started (share %s of %s)',
                  self.url, self.target_url, self.share,
                  ', '.join(self.faults))
        return self

    def _serve(self, server):
        while not self._stopping.is_set():
            server.handle_request()

    def stop(self):
        """Stop serving and close every client connection; idempotent.

        Waits at most STOP_TIMEOUT seconds; requests still waiting for
        their upstream answer are abandoned (their threads are daemons).
        """
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        self._stopping.set()
        self._thread.join(STOP_TIMEOUT)
        server.server_close()
        with self._lock:
            handlers = dict(self._handlers)
        for handler in handlers:
            handler._drop()
        for thread in handlers.values():
            thread.join(max(0, deadline - time.monotonic()))
        left = [thread for thread in handlers.values() if thread.is_alive()]
        if left:
            LOG.debug('Fault proxy: %d connections still busy after stop',
                      len(left))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _opened(self, handler):
        with self._lock:
            self._handlers[handler] = threading.current_thread()
        if self._stopping.is_set():
            handler._drop()

    def _closed(self, handler):
        with self._lock:
            self._handlers.pop(handler, None)

    @staticmethod
    def _new_counts():
        return {'requests': 0, 'faults': collections.Counter()}

    def _draw(self, method, path):
        """Count a request; the fault kind it gets, or None."""
        kind = None
        with self._lock:
            counts = self._by_method.setdefault(method, self._new_counts())
            self._counts['requests'] += 1
            counts['requests'] += 1
            if self.enabled and (self._methods is None
                                 or method in self._methods):
                if self._random.random() < self._share:
                    kind = self._random.choice(self._faults)
                    self._counts['faults'][kind] += 1
                    counts['faults'][kind] += 1
        if kind is not None:
            LOG.debug('Fault proxy: injecting %s into %s %s', kind, method,
                      path)
        return kind

    def _record(self, method, path, body):
        if not self.recording:
            return
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body
        with self._lock:
            self.recorded.append(Recorded(method, path, parsed))

    def _count_upstream_error(self):
        with self._lock:
            self._counts['upstream_errors'] += 1

    def stats(self):
        """Counts since start or reset_stats(), as a new dict.

        ``{'requests': 120, 'upstream_errors': 0, 'faults': {'503': 4,
        ...}, 'by_method': {'GET': {'requests': 100, 'faults': {...}}}}``;
        ``faults`` has every kind configured or counted.
        """
        def faults(counter):
            return {kind: counter[kind] for kind in FAULTS
                    if kind in self._faults or counter[kind]}

        with self._lock:
            return {
                'requests': self._counts['requests'],
                'upstream_errors': self._counts['upstream_errors'],
                'faults': faults(self._counts['faults']),
                'by_method': {
                    method: {'requests': counts['requests'],
                             'faults': faults(counts['faults'])}
                    for method, counts in self._by_method.items()},
            }

    def reset_stats(self):
        """Count from zero again (the random sequence goes on)."""
        with self._lock:
            self._counts = dict(self._new_counts(), upstream_errors=0)
            self._by_method = {}
