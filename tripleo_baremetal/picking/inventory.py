"""Inspected disks of the nodes a root device request may use.

Only a request that sets ``root_device`` reads inventories, and only of
the nodes that pass every other check for it (``node_filters``): one
``GET /v1/nodes/{node}/inventory`` (API 1.81) per such node, from a
thread pool, each read once per run (``Inventories`` is the run's
cache, re-plans included).
"""

from concurrent import futures
import dataclasses
import logging

from openstack import exceptions as sdk_exc

from tripleo_baremetal import api
from tripleo_baremetal.common import root_device
from tripleo_baremetal.picking import node_filters

LOG = logging.getLogger(__name__)


class Inventories(object):
    """``{node uuid: (disks or None, error or None)}`` read in one run."""

    def __init__(self, conn, concurrency=20):
        self.conn = conn
        self.concurrency = max(1, int(concurrency or 1))
        self.read = {}

    def _fetch(self, uuid):
        try:
            data = api.retry(self.conn.baremetal.get_node_inventory, uuid,
                             what='reading the inventory of node %s' % uuid)
        except sdk_exc.NotFoundException:
            return None, None
        except api.ERRORS as exc:
            LOG.warning('Cannot read the inventory of node %s: %s', uuid,
                        api.describe(exc))
            return None, 'inventory unreadable: %s' % api.describe(exc)
        return root_device.disks(data), None

    def fetch(self, uuids):
        """Read the inventories of ``uuids`` not read yet, concurrently."""
        todo = sorted(set(uuids) - set(self.read))
        if not todo:
            return
        LOG.debug('Reading the inventory of %d node(s)', len(todo))
        workers = min(self.concurrency, len(todo))
        with futures.ThreadPoolExecutor(workers) as pool:
            for uuid, result in zip(todo, pool.map(self._fetch, todo)):
                self.read[uuid] = result

    def with_disks(self, nodes, instances):
        """``nodes`` (NodeViews), with disks where ``instances`` need them.

        :param instances: the ``model.Instance`` records being planned.
        """
        groups = {node_filters.requirements(inst) for inst in instances
                  if inst.root_device}
        if not groups:
            return nodes
        index = node_filters.index_nodes(nodes)
        wanted = set()
        for req in groups:
            # Every check but the root device's, which needs the disks.
            check = node_filters.checker(req._replace(root_device=None))
            wanted.update(node.uuid for node in
                          node_filters.candidates(req, index)
                          if check(node) is None)
        self.fetch(wanted)
        return [self._view(node) for node in nodes]

    def _view(self, node):
        if node.uuid not in self.read:
            return node
        disks, error = self.read[node.uuid]
        return dataclasses.replace(node, disks=disks, inventory_error=error)
