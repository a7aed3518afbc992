"""The fault-injection proxy, in front of a tiny recording HTTP server."""

import http.server
import json
import threading
import time
import unittest

import requests

from localcloud import faultproxy


class _Upstream(http.server.BaseHTTPRequestHandler):
    """Records each request, answers by path (see do_GET)."""

    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def _record(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        self.server.seen.append({
            'method': self.command, 'path': self.path, 'body': body,
            'headers': {name.lower(): value
                        for name, value in self.headers.items()}})

    def do_GET(self):
        self._record()
        if self.path == '/no-length':
            # No Content-Length: the body ends with the connection.
            self.close_connection = True
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain')
            self.end_headers()
            self.wfile.write(b'until the end')
        elif self.path == '/chunked':
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for chunk in (b'first, ', b'second'):
                self.wfile.write(b'%x\r\n%s\r\n' % (len(chunk), chunk))
            self.wfile.write(b'0\r\n\r\n')
        elif self.path == '/empty':
            self.send_response(204)
            self.end_headers()
        else:
            body = json.dumps({'path': self.path}).encode()
            self.send_response(201 if self.command == 'POST' else 200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Location', 'http://somewhere/v1/nodes/n1')
            self.send_header('X-OpenStack-Ironic-API-Version', '1.80')
            self.send_header('Connection', 'keep-alive, X-Private')
            self.send_header('X-Private', 'for the proxy only')
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(body)

    do_DELETE = do_HEAD = do_PATCH = do_POST = do_PUT = do_GET


class FaultProxyTestCase(unittest.TestCase):

    def setUp(self):
        super().setUp()
        upstream = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                   _Upstream)
        upstream.daemon_threads = True
        upstream.block_on_close = False
        upstream.seen = []
        thread = threading.Thread(target=upstream.serve_forever,
                                  kwargs={'poll_interval': 0.05},
                                  daemon=True)
        thread.start()
        self.addCleanup(upstream.server_close)
        self.addCleanup(upstream.shutdown)
        self.upstream = upstream
        self.upstream_url = 'http://127.0.0.1:%d' % upstream.server_port
        self.session = requests.Session()
        # An http_proxy of the environment must not see these requests.
        self.session.trust_env = False
        self.addCleanup(self.session.close)

    def make_proxy(self, **kwargs):
        kwargs.setdefault('share', 0)
        proxy = faultproxy.FaultProxy(self.upstream_url, **kwargs)
        proxy.start()
        self.addCleanup(proxy.stop)
        return proxy

    def outcome(self, proxy, method='GET', path='/v1/nodes'):
        """The status of a request, or 'dropped'."""
        try:
            return self.session.request(method, proxy.url + path,
                                        timeout=5).status_code
        except requests.ConnectionError:
            return 'dropped'


class TestForwarding(FaultProxyTestCase):

    def test_request_and_answer(self):
        proxy = self.make_proxy()
        response = self.session.post(
            proxy.url + '/v1/nodes?fields=uuid&limit=2', json={'name': 'n'},
            headers={'X-OpenStack-Ironic-API-Version': '1.80',
                     'Connection': 'keep-alive, X-Hop',
                     'X-Hop': 'hop', 'Keep-Alive': 'timeout=5',
                     'Proxy-Authorization': 'secret', 'TE': 'trailers'},
            timeout=5)
        self.assertEqual(201, response.status_code)
        self.assertEqual({'path': '/v1/nodes?fields=uuid&limit=2'},
                         response.json())
        self.assertEqual('application/json',
                         response.headers['Content-Type'])
        self.assertEqual('http://somewhere/v1/nodes/n1',
                         response.headers['Location'])
        self.assertEqual('1.80',
                         response.headers['X-OpenStack-Ironic-API-Version'])
        self.assertNotIn('X-Private', response.headers)
        [seen] = self.upstream.seen
        self.assertEqual('POST', seen['method'])
        self.assertEqual('/v1/nodes?fields=uuid&limit=2', seen['path'])
        self.assertEqual({'name': 'n'}, json.loads(seen['body']))
        headers = seen['headers']
        self.assertEqual('1.80', headers['x-openstack-ironic-api-version'])
        self.assertEqual('application/json', headers['content-type'])
        self.assertEqual(str(len(seen['body'])), headers['content-length'])
        for name in ('x-hop', 'keep-alive', 'proxy-authorization', 'te',
                     'connection'):
            self.assertNotIn(name, headers)
        self.assertEqual('127.0.0.1:%d' % proxy.port, headers['host'])

    def test_recording(self):
        proxy = self.make_proxy()
        self.session.get(proxy.url + '/v1/nodes', timeout=5)
        proxy.recording = True
        self.session.post(proxy.url + '/v1/nodes?x=1', json={'name': 'n'},
                          timeout=5)
        self.session.get(proxy.url + '/v1/nodes', timeout=5)
        self.assertEqual([
            faultproxy.Recorded('POST', '/v1/nodes?x=1', {'name': 'n'}),
            faultproxy.Recorded('GET', '/v1/nodes', None)], proxy.recorded)

    def test_host_rewritten(self):
        proxy = self.make_proxy(preserve_host=False)
        self.session.get(proxy.url + '/v1', timeout=5)
        self.assertEqual('127.0.0.1:%d' % self.upstream.server_port,
                         self.upstream.seen[0]['headers']['host'])

    def test_target_path_prefix(self):
        proxy = faultproxy.FaultProxy(self.upstream_url + '/baremetal/')
        proxy.start()
        self.addCleanup(proxy.stop)
        self.session.get(proxy.url + '/v1/nodes?a=b', timeout=5)
        self.assertEqual('/baremetal/v1/nodes?a=b',
                         self.upstream.seen[0]['path'])

    def test_methods_and_bodiless_answers(self):
        proxy = self.make_proxy()
        for method in ('GET', 'PUT', 'PATCH', 'DELETE'):
            response = self.session.request(method, proxy.url + '/x',
                                            data=b'{}', timeout=5)
            self.assertEqual(200, response.status_code)
        head = self.session.head(proxy.url + '/x', timeout=5)
        self.assertEqual(200, head.status_code)
        self.assertEqual(str(len(json.dumps({'path': '/x'}))),
                         head.headers['Content-Length'])
        self.assertEqual(204, self.session.get(proxy.url + '/empty',
                                               timeout=5).status_code)
        self.assertEqual(['GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'GET'],
                         [seen['method'] for seen in self.upstream.seen])
        self.assertEqual(b'{}', self.upstream.seen[1]['body'])

    def test_answers_without_length_and_chunked(self):
        proxy = self.make_proxy()
        for path, text in (('/no-length', 'until the end'),
                           ('/chunked', 'first, second')):
            response = self.session.get(proxy.url + path, timeout=5)
            self.assertEqual(text, response.text)
            self.assertEqual(str(len(text)),
                             response.headers['Content-Length'])
            self.assertNotIn('Transfer-Encoding', response.headers)

    def test_chunked_request(self):
        proxy = self.make_proxy()
        self.session.put(proxy.url + '/x', data=iter([b'ab', b'cd']),
                         timeout=5)
        self.assertEqual(b'abcd', self.upstream.seen[0]['body'])

    def test_keep_alive(self):
        proxy = self.make_proxy()
        for _ in range(20):
            self.assertEqual(200, self.session.get(proxy.url + '/x',
                                                   timeout=5).status_code)
        self.assertEqual(20, len(self.upstream.seen))
        # All of them on one client connection, still open.
        self.assertEqual(1, len(proxy._handlers))

    def test_upstream_down(self):
        proxy = faultproxy.FaultProxy('http://127.0.0.1:%d'
                                      % self.upstream.server_port)
        self.upstream.server_close()
        proxy.start()
        self.addCleanup(proxy.stop)
        proxy.enabled = False
        response = self.session.get(proxy.url + '/x', timeout=5)
        self.assertEqual(502, response.status_code)
        self.assertIn('faultstring', response.json()['error_message'])
        self.assertEqual(1, proxy.stats()['upstream_errors'])


class TestFaults(FaultProxyTestCase):

    def test_share_zero(self):
        proxy = self.make_proxy(share=0)
        outcomes = [self.outcome(proxy) for _ in range(30)]
        self.assertEqual([200] * 30, outcomes)
        self.assertEqual(30, len(self.upstream.seen))
        self.assertEqual(dict.fromkeys(faultproxy.FAULTS, 0),
                         proxy.stats()['faults'])

    def test_503(self):
        proxy = self.make_proxy(share=1, faults=('503',))
        response = self.session.post(proxy.url + '/v1/nodes', json={},
                                     timeout=5)
        self.assertEqual(503, response.status_code)
        error = json.loads(response.json()['error_message'])
        self.assertEqual('injected fault', error['faultstring'])
        self.assertEqual([], self.upstream.seen)
        # The connection stays usable.
        proxy.enabled = False
        self.assertEqual(200, self.outcome(proxy))

    def test_drop_before(self):
        proxy = self.make_proxy(share=1, faults=('drop_before',))
        self.assertRaises(requests.ConnectionError, self.session.post,
                          proxy.url + '/v1/nodes', json={}, timeout=5)
        self.assertEqual([], self.upstream.seen)

    def test_drop_on_pooled_connection(self):
        proxy = self.make_proxy(share=1, faults=('drop_before',))
        proxy.enabled = False
        self.assertEqual(200, self.outcome(proxy))
        proxy.enabled = True
        self.assertEqual('dropped', self.outcome(proxy))
        proxy.enabled = False
        self.assertEqual(200, self.outcome(proxy))

    def test_drop_after(self):
        proxy = self.make_proxy(share=1, faults=('drop_after',))
        self.assertRaises(requests.ConnectionError, self.session.post,
                          proxy.url + '/v1/nodes', json={'name': 'n'},
                          timeout=5)
        [seen] = self.upstream.seen
        self.assertEqual('POST', seen['method'])
        self.assertEqual({'name': 'n'}, json.loads(seen['body']))

    def test_latency(self):
        proxy = self.make_proxy(share=1, faults=('latency',), latency=0.3)
        started = time.monotonic()
        self.assertEqual(200, self.outcome(proxy))
        self.assertGreaterEqual(time.monotonic() - started, 0.25)
        self.assertEqual(1, len(self.upstream.seen))

    def test_methods(self):
        proxy = self.make_proxy(share=1, faults=('503',),
                                methods={'post', 'PUT'})
        self.assertEqual(200, self.outcome(proxy, 'GET'))
        self.assertEqual(200, self.outcome(proxy, 'DELETE'))
        self.assertEqual(503, self.outcome(proxy, 'POST'))
        self.assertEqual(503, self.outcome(proxy, 'PUT'))

    def test_disabled(self):
        proxy = self.make_proxy(share=1, faults=('503',))
        proxy.enabled = False
        self.assertEqual([200] * 5, [self.outcome(proxy) for _ in range(5)])
        proxy.enabled = True
        self.assertEqual(503, self.outcome(proxy))

    def test_same_seed_same_faults(self):
        faults = ('503', 'drop_before', 'drop_after')
        sequences = []
        for _ in range(2):
            proxy = self.make_proxy(seed=42, share=0.5, faults=faults)
            sequences.append([self.outcome(proxy) for _ in range(30)])
        self.assertEqual(sequences[0], sequences[1])
        self.assertEqual({200, 503, 'dropped'}, set(sequences[0]))
        other = self.make_proxy(seed=43, share=0.5, faults=faults)
        self.assertNotEqual(sequences[0],
                            [self.outcome(other) for _ in range(30)])

    def test_stats(self):
        proxy = self.make_proxy(share=1, faults=('503',), methods={'POST'})
        for method in ('GET', 'GET', 'POST'):
            self.outcome(proxy, method)
        self.assertEqual({
            'requests': 3, 'upstream_errors': 0, 'faults': {'503': 1},
            'by_method': {'GET': {'requests': 2, 'faults': {'503': 0}},
                          'POST': {'requests': 1, 'faults': {'503': 1}}},
        }, proxy.stats())
        proxy.reset_stats()
        self.assertEqual({'requests': 0, 'upstream_errors': 0,
                          'faults': {'503': 0}, 'by_method': {}},
                         proxy.stats())

    def test_reconfigured_between_requests(self):
        proxy = self.make_proxy(share=1, faults=('503',))
        self.assertEqual(503, self.outcome(proxy))
        proxy.faults = ('drop_before',)
        self.assertEqual('dropped', self.outcome(proxy))
        proxy.share = 0
        self.assertEqual(200, self.outcome(proxy))
        self.assertEqual({'503': 1, 'drop_before': 1},
                         proxy.stats()['faults'])
        self.assertRaises(ValueError, setattr, proxy, 'faults', ('500',))
        self.assertRaises(ValueError, setattr, proxy, 'share', -0.1)


class TestLifecycle(FaultProxyTestCase):

    def test_context_manager_and_stop(self):
        with faultproxy.FaultProxy(self.upstream_url, share=0) as proxy:
            url = proxy.url
            # An idle keep-alive connection must not delay stop().
            self.assertEqual(200, self.session.get(url + '/x',
                                                   timeout=5).status_code)
            started = time.monotonic()
        self.assertLess(time.monotonic() - started, 2)
        proxy.stop()
        self.assertRaises(RuntimeError, getattr, proxy, 'url')
        self.assertRaises(requests.ConnectionError, self.session.get,
                          url + '/x', timeout=5)

    def test_invalid_arguments(self):
        for kwargs in ({'share': 1.5}, {'faults': ()},
                       {'faults': ('500',)}):
            self.assertRaises(ValueError, faultproxy.FaultProxy,
                              self.upstream_url, **kwargs)
        self.assertRaises(ValueError, faultproxy.FaultProxy,
                          'https://127.0.0.1:6385')
