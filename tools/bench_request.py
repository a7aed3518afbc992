"""The request and the pool the benchmarks deploy.

Issue 22's request: N instances in two roles (half each), a
``cloud_config`` per role, one ctlplane port each as Heat's port map
gives them; a pool of fake-hardware nodes per run; and the image file
served on 127.0.0.1 as the undercloud serves it. Helpers of
``bench_workflow.py``, not part of the package.
"""

import functools
import http.server
import os
import threading
import time

from localcloud import nodes

CHECKSUM = 'a' * 64
#: Its ``href`` is set by ``serve_image`` once the image server runs.
IMAGE = {'href': None, 'checksum': CHECKSUM}
#: The two roles of the request; the first gets half the instances.
ROLES = ('Controller', 'Compute')
#: Nodes in a workbook run's pool per instance: the plan is of N
#: instances on 1.2 N nodes.
POOL_FACTOR = 1.2


def serve_image(work):
    """Serve a small image file on 127.0.0.1, as the undercloud does.

    The conductor sends the image URL a HEAD request while it handles a
    provision request that does not say ``image_type``; an unreachable
    URL would make every such request wait for a connect timeout.

    :returns: the server (``shutdown()`` stops it) and the image's URL.
    """
    root = os.path.join(work, 'images')
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, 'overcloud-full.raw'), 'wb') as image:
        image.write(b'\0' * 4096)
    handler = functools.partial(_QuietHandler, directory=root)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, 'http://127.0.0.1:%d/overcloud-full.raw' % (
        server.server_address[1])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args):
        pass


def role_counts(count):
    """``[(role, instances)]``: half the instances in each role."""
    return [(ROLES[0], count // 2), (ROLES[1], count - count // 2)]


def cloud_config(role, kib):
    """A ``cloud_config`` of about ``kib`` KiB (one file to write)."""
    if not kib:
        return None
    return {'write_files': [{'path': '/etc/%s.motd' % role.lower(),
                             'content': 'x' * (kib * 1024 - 60)}]}


def roles_file(tag, count, cloud_config_kib=0):
    """The request: ``count`` instances in ``ROLES``, of pool ``tag``."""
    result = []
    for role, instances in role_counts(count):
        defaults = {'image': dict(IMAGE), 'resource_class': tag}
        config = cloud_config(role, cloud_config_kib)
        if config:
            defaults['config_drive'] = {'cloud_config': config}
        result.append({'name': role, 'count': instances,
                       'hostname_format': '%s-%s-%%index%%' % (
                           tag, role.lower()),
                       'defaults': defaults})
    return result


def port_maps(count, ports):
    """Heat's ``RoleCtlplanePortMap``: one ctlplane port per instance."""
    if not ports:
        return {}
    maps, first = {}, 0
    for role, instances in role_counts(count):
        maps[role] = [nodes.ctlplane_port(first + i)
                      for i in range(instances)]
        first += instances
    return {'role_ctlplane_port_map': maps}


def enrol(conn, tag, count):
    """``count`` available nodes of resource class ``tag``."""
    start = time.monotonic()
    nodes.enrol_nodes(conn, [{'name': '%s-n%03d' % (tag, i),
                              'resource_class': tag}
                             for i in range(count)], timeout=900)
    return time.monotonic() - start
