"""Plan which node hosts which instance, for a whole request at once.

Picking nodes one instance at a time fails requests that have a
solution: if instance A fits nodes 1 and 2 and instance B is pinned to
node 1, giving A node 1 first leaves B nothing. The plan here is a
maximum bipartite matching between instances and nodes over all roles
together, so a complete plan is found whenever one exists.

The matching is computed on a compressed graph. Instances with the same
requirements (usually a whole role) are interchangeable, and so are
nodes that are eligible for the same requirement sets at the same cost;
the graph joins requirement sets (with their instance counts) to node
classes (with their node counts), and a min-cost max-flow on it is a
maximum matching of the instances that, among the maximum ones, uses
nodes with the fewest capabilities and traits nobody asked for, so nodes
with scarce features stay free. A thousand nodes and hundreds of
instances usually compress to a few dozen vertices.

Everything is ordered (instances by hostname, nodes by name then UUID),
so the same input always gives the same plan. When no complete plan
exists, the result's report says, per instance that cannot be placed,
which nodes were rejected and why, which instances compete for too few
nodes, and how many nodes each role needs and has.
"""

import collections
import hashlib
import logging
import re

from tripleo_baremetal.picking import node_filters

LOG = logging.getLogger(__name__)

#: Nodes named per reason in a report before "and N more".
MAX_NAMES = 10

_INFINITE = float('inf')
_DIGITS = re.compile(r'(\d+)')

POWER_STATE_HINT = (
    "Hint: Ironic's Allocation API only uses nodes with a known power "
    "state. Freshly enrolled nodes have none until the conductor's power "
    "sync runs (sync_power_state_interval, 60 s by default); wait for it "
    "or set one, e.g. 'baremetal node power off <node>'.")


def name_list(labels):
    """``a, b, c`` naming at most MAX_NAMES, then ``and N more``."""
    labels = list(labels)
    text = ', '.join(labels[:MAX_NAMES])
    if len(labels) > MAX_NAMES:
        text += ' and %d more' % (len(labels) - MAX_NAMES)
    return text


def natural_key(text):
    """Sort key putting ``node-9`` before ``node-10``."""
    return tuple(int(part) if index % 2 else part
                 for index, part in enumerate(_DIGITS.split(text or '')))


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 's')


def _node_sort_key(node):
    return (natural_key(node.name), node.uuid or '')


def _salted_key(salt):
    def key(node):
        digest = hashlib.sha256(
            ('%s/%s' % (salt, node.uuid)).encode()).hexdigest()
        return (digest, _node_sort_key(node))
    return key


class _Group(object):
    """Instances sharing one set of requirements, and what fits them."""

    def __init__(self, req, instances):
        self.req = req
        self.check = node_filters.checker(req)
        self.instances = instances
        self.eligible = []
        self.unplaced = []

    def rejected(self, nodes):
        """``{reason: [(node, detail)]}`` over ``nodes`` (for reports)."""
        rejected = collections.defaultdict(list)
        for node in nodes:
            reason = self.check(node)
            if reason is not None:
                rejected[reason[0]].append((node, reason[1]))
        return rejected


def _group_instances(instances):
    groups = {}
    for instance in sorted(instances,
                           key=lambda inst: natural_key(inst.hostname)):
        req = node_filters.requirements(instance)
        if req not in groups:
            groups[req] = _Group(req, [])
        groups[req].instances.append(instance)
    return list(groups.values())


def _classify(groups, nodes):
    """Find the eligible nodes of every group; bucket nodes into classes.

    Only the nodes an index leaves possible are checked (those of the
    pinned node, the resource class or an exact capability value), so a
    request with a group per instance (``node:compute-N`` capabilities)
    stays cheap. Rejection reasons are worked out later, for the report,
    and only when the plan fails.

    :returns: ``{class key: [node, ...]}`` where the key is a tuple of
        ``(group index, cost)`` for the groups the node is eligible for;
        in the order of each class's first node, as ``nodes`` are.
    """
    index = node_filters.index_nodes(nodes)
    keys = collections.defaultdict(list)
    for gid, group in enumerate(groups):
        for node in node_filters.candidates(group.req, index):
            if group.check(node) is None:
                group.eligible.append(node)
                keys[node.uuid].append(
                    (gid, node_filters.extra_count(group.req, node)))
    classes = collections.defaultdict(list)
    for node in nodes:
        key = keys.get(node.uuid)
        if key:
            classes[tuple(key)].append(node)
    return classes


def _components(group_count, class_keys):
    """Connected components of the group/class graph (union-find).

    :returns: lists of class indices, one list per component that has
        classes, in order of their first class.
    """
    parent = list(range(group_count + len(class_keys)))

    def find(item):
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for class_index, key in enumerate(class_keys):
        for group_index, _cost in key:
            parent[find(group_count + class_index)] = find(group_index)
    components = {}
    for class_index in range(len(class_keys)):
        root = find(group_count + class_index)
        components.setdefault(root, []).append(class_index)
    return list(components.values())


class _Residual(object):
    """The residual graph of a flow network, edges stored in pairs.

    Edge ``2i`` is the ``i``-th edge given, ``2i + 1`` its reverse, whose
    residual capacity is the flow on edge ``i``.
    """

    def __init__(self, vertex_count, edges):
        self.to, self.capacity, self.costs = [], [], []
        self.adjacency = [[] for _ in range(vertex_count)]
        for u, v, cap, cost in edges:
            self._add(u, v, cap, cost)
            self._add(v, u, 0, -cost)

    def _add(self, u, v, cap, cost):
        self.adjacency[u].append(len(self.to))
        self.to.append(v)
        self.capacity.append(cap)
        self.costs.append(cost)

    def cheapest_path(self, source, sink):
        """Edges into each vertex on the cheapest paths (SPFA), or None.

        None when the sink cannot be reached (the flow is maximum).
        """
        dist = [_INFINITE] * len(self.adjacency)
        via = [-1] * len(self.adjacency)
        queued = [False] * len(self.adjacency)
        dist[source] = 0
        queue = collections.deque([source])
        while queue:
            u = queue.popleft()
            queued[u] = False
            for edge in self.adjacency[u]:
                if self.capacity[edge] <= 0:
                    continue
                v = self.to[edge]
                candidate = dist[u] + self.costs[edge]
                if candidate < dist[v]:
                    dist[v] = candidate
                    via[v] = edge
                    if not queued[v]:
                        queued[v] = True
                        queue.append(v)
        return None if dist[sink] == _INFINITE else via

    def _path(self, via, source, sink):
        """The edges of the path ``via`` leads along, sink first."""
        vertex = sink
        while vertex != source:
            edge = via[vertex]
            yield edge
            vertex = self.to[edge ^ 1]

    def augment(self, via, source, sink):
        """Push as much flow as fits along the path ``via``."""
        path = list(self._path(via, source, sink))
        push = min(self.capacity[edge] for edge in path)
        for edge in path:
            self.capacity[edge] -= push
            self.capacity[edge ^ 1] += push

    def flows(self):
        """The flow on each edge given, in their order."""
        return self.capacity[1::2]


def _min_cost_max_flow(vertex_count, edges, source, sink):
    """Successive shortest paths (Bellman-Ford/SPFA) on a small graph.

    :param edges: ``[(u, v, capacity, cost)]`` with non-negative costs.
    :returns: the flow on each edge, in the order given.
    """
    graph = _Residual(vertex_count, edges)
    via = graph.cheapest_path(source, sink)
    while via is not None:
        graph.augment(via, source, sink)
        via = graph.cheapest_path(source, sink)
    return graph.flows()


def _solve(groups, class_keys, class_nodes):
    """Flow per (group, class) pair: ``{(group index, class index): n}``.

    Also returns, per group left short, the contention it is part of:
    ``{group index: (frozenset(groups), frozenset(classes))}``, the
    groups reachable from it in the residual graph and the classes they
    may use: together they need more nodes than those classes hold.
    """
    flows = {}
    contention = {}
    for component in _components(len(groups), class_keys):
        group_ids = sorted({group_index for class_index in component
                            for group_index, _cost in class_keys[class_index]})
        # Vertices: 0 source, 1 sink, then groups, then classes.
        vertex = {('g', gid): 2 + pos for pos, gid in enumerate(group_ids)}
        vertex.update({('c', cid): 2 + len(group_ids) + pos
                       for pos, cid in enumerate(component)})
        edges, pairs = [], []
        for gid in group_ids:
            edges.append((0, vertex['g', gid],
                          len(groups[gid].instances), 0))
        # Cheapest classes first, so ties go to them deterministically
        # (classes are numbered in the order of their first node's name).
        options = sorted((gid, cost, cid) for cid in component
                         for gid, cost in class_keys[cid])
        for gid, cost, cid in options:
            pairs.append((gid, cid))
            edges.append((vertex['g', gid], vertex['c', cid],
                          len(groups[gid].instances), cost))
        for cid in component:
            edges.append((vertex['c', cid], 1, len(class_nodes[cid]), 0))
        flow = _min_cost_max_flow(2 + len(group_ids) + len(component),
                                  edges, 0, 1)
        demand = {gid: 0 for gid in group_ids}
        for (gid, cid), amount in zip(pairs, flow[len(group_ids):]):
            if amount:
                flows[gid, cid] = amount
                demand[gid] += amount
        short = [gid for gid in group_ids
                 if demand[gid] < len(groups[gid].instances)]
        if short:
            contention.update(_contention(short, class_keys, component,
                                          flows))
    return flows, contention


def _contention(short, class_keys, component, flows):
    """The instances and nodes each group left short competes with.

    This is reachability in the flow's residual graph: from a short group
    every eligible class can be tried, and a class leads on to the groups
    that use it (their instances could move elsewhere). Every class
    reached is full, or the flow would not be maximum, so the groups
    reached need more nodes than the classes reached hold (a violation
    of Hall's condition): the smallest honest answer to "who took my
    nodes".
    """
    users = collections.defaultdict(set)
    for (gid, cid), amount in flows.items():
        if amount:
            users[cid].add(gid)
    by_group = collections.defaultdict(list)
    for cid in component:
        for gid, _cost in class_keys[cid]:
            by_group[gid].append(cid)
    return {start: _reachable(start, by_group, users) for start in short}


def _reachable(start, by_group, users):
    """``(groups, classes)`` reachable from group ``start`` (see above).

    :param by_group: ``{group: [classes it is eligible for]}``.
    :param users: ``{class: {groups with flow into it}}``.
    """
    seen_groups, seen_classes = {start}, set()
    todo = [start]
    while todo:
        for cid in by_group[todo.pop()]:
            if cid in seen_classes:
                continue
            seen_classes.add(cid)
            others = users[cid] - seen_groups
            seen_groups.update(others)
            todo.extend(others)
    return frozenset(seen_groups), frozenset(seen_classes)


def _assign(groups, class_keys, class_nodes, flows):
    """Turn per-class flows into ``{hostname: node}``, deterministically.

    A group takes its nodes from its cheapest classes first, so its first
    hostnames get the nodes with the fewest extras; a class shared by
    several groups hands out its nodes in order.
    """
    next_node = collections.Counter()
    assignments = {}
    by_group = collections.defaultdict(list)
    for (gid, cid), amount in flows.items():
        cost = dict(class_keys[cid])[gid]
        by_group[gid].append((cost, cid, amount))
    for gid, group in enumerate(groups):
        chosen = []
        for _cost, cid, amount in sorted(by_group[gid]):
            start = next_node[cid]
            chosen.extend(class_nodes[cid][start:start + amount])
            next_node[cid] += amount
        for instance, node in zip(group.instances, chosen):
            assignments[instance.hostname] = node
        group.unplaced = [inst.hostname
                          for inst in group.instances[len(chosen):]]
    return assignments


def plan(instances, nodes, salt=None):
    """Plan a node for every instance, or explain why that is impossible.

    :param instances: the ``model.Instance`` records to place; every
        one is placed, whatever its ``provisioned``/``managed`` flags.
    :param nodes: ``node_filters.NodeView`` records, e.g. from one
        node listing.
    :param salt: when set, nodes that are equally good are taken in an
        order derived from it instead of by name. Re-plans after a lost
        race use it, so that two clients planning on the same data do
        not pick the same spare nodes again.
    :returns: ``{'assignments': {hostname: NodeView}, 'unplaced':
        [hostname], 'complete': bool, 'report': str}``; the report names
        every rejected node by reason when the plan is incomplete.
    """
    sort_key = _salted_key(salt) if salt is not None else _node_sort_key
    nodes = sorted(nodes, key=_node_sort_key)
    groups = _group_instances(instances)
    classes = _classify(groups, nodes)
    class_keys = list(classes)
    class_nodes = [sorted(classes[key], key=sort_key) for key in class_keys]
    flows, contention = _solve(groups, class_keys, class_nodes)
    assignments = _assign(groups, class_keys, class_nodes, flows)
    unplaced = sorted(host for group in groups for host in group.unplaced)
    report = _report(groups, nodes, assignments, class_nodes, contention)
    LOG.debug('Planned %d of %d instance(s) on %d node(s) (%d class(es))',
              len(assignments), len(instances), len(nodes), len(class_keys))
    return {'assignments': assignments, 'unplaced': unplaced,
            'complete': not unplaced, 'report': report}


def _rejections(rejected):
    """``"7 resource_class is ...: node-1, ...; 2 in maintenance: ..."``.

    Largest groups first; nodes in name order, at most MAX_NAMES each.
    """
    parts = []
    items = [(reason, entries) for reason, entries in rejected.items()
             if reason != node_filters.NOT_PINNED_NODE]
    items.sort(key=lambda item: (-len(item[1]), item[0]))
    for reason, entries in items:
        labels = [node.label + (' (%s)' % detail if detail else '')
                  for node, detail in entries]
        parts.append('%d %s: %s' % (len(entries), reason, name_list(labels)))
    return '; '.join(parts)


def _considered(group, nodes):
    """How many nodes an instance of the group was compared with."""
    if group.req.name is None:
        return len(nodes)
    return sum(1 for node in nodes
               if node_filters.is_pinned_node(group.req, node))


def _group_line(group, hosts, nodes, rejected):
    """The report line for instances of one group that were not placed."""
    total = len(nodes)
    considered = _considered(group, nodes)
    who = name_list(hosts)
    if group.req.name is not None:
        if not considered:
            return ('%s: pinned to node %r, which is not among the %s '
                    'listed' % (who, group.req.name, _plural(total, 'node')))
        who += ' (pinned to %s)' % group.req.name
    fit = len(group.eligible)
    line = '%s: %d of %s fit' % (who, fit, _plural(considered, 'node'))
    if fit:
        fitting = name_list(node.label for node in group.eligible)
        line += (' (%s), but other instances of this request need %s (see '
                 'Contention)' % (fitting, 'it' if fit == 1 else 'them'))
    text = _rejections(rejected)
    if text:
        line += ': ' + text
    return line


def _contention_lines(groups, class_nodes, contention):
    lines, seen = [], set()
    for index in sorted(contention):
        gids, cids = contention[index]
        if (gids, cids) in seen:
            continue
        seen.add((gids, cids))
        hosts = sorted((inst.hostname for gid in gids
                        for inst in groups[gid].instances), key=natural_key)
        labels = [node.label for node in sorted(
            (node for cid in cids for node in class_nodes[cid]),
            key=_node_sort_key)]
        lines.append('Contention: %s (%s) compete for %s (%s)'
                     % (_plural(len(hosts), 'instance'), name_list(hosts),
                        _plural(len(labels), 'node'), name_list(labels)))
    return lines


def _report(groups, nodes, assignments, class_nodes, contention):
    lines = []
    total = len(nodes)
    unplaced = [group for group in groups if group.unplaced]
    no_power = False
    if unplaced:
        count = sum(len(group.unplaced) for group in unplaced)
        lines.append('Cannot place %d of %s on %s:'
                     % (count, _plural(sum(len(g.instances) for g in groups),
                                       'instance'), _plural(total, 'node')))
        for group in unplaced:
            rejected = group.rejected(nodes)
            no_power |= node_filters.NO_POWER_STATE in rejected
            lines.append('- ' + _group_line(group, group.unplaced, nodes,
                                            rejected))
        lines.extend(_contention_lines(groups, class_nodes, contention))
    else:
        lines.append('Placed %s on %s:'
                     % (_plural(len(assignments), 'instance'),
                        _plural(total, 'node')))
        for group in groups:
            for instance in group.instances:
                lines.append('- %s -> %s (%d of %s fit)'
                             % (instance.hostname,
                                assignments[instance.hostname].label,
                                len(group.eligible),
                                _plural(_considered(group, nodes), 'node')))
    lines.append('Capacity: ' + _capacity(groups))
    if no_power:
        lines.append(POWER_STATE_HINT)
    return '\n'.join(lines)


def _capacity(groups):
    """``"Controller needs 3, 2 eligible; Compute needs 5, 9 eligible"``.

    Eligible counts distinct nodes that fit at least one instance of the
    role (a node may count for several roles).
    """
    needs = {}
    for group in groups:
        roles = collections.Counter(
            inst.role or 'instances without a role'
            for inst in group.instances)
        for role, count in roles.items():
            total, eligible = needs.setdefault(role, [0, set()])
            needs[role][0] = total + count
            eligible.update(node.uuid for node in group.eligible)
    return '; '.join('%s needs %d, %d eligible' % (role, count, len(elig))
                     for role, (count, elig) in sorted(needs.items()))
