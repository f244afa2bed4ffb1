"""Graph passes; each takes a Graph and returns a new one, noting what it did in
``graph.report`` (shown by ``graph_summary``).

- ``eliminate_dead_code``: drop nodes nothing reads (effectful ops, e.g. running-statistic
  updates, stay).
- ``eliminate_common_subexpressions``: one node for identical op, arguments and parameters
  (not effectful or seeded ops).
- ``fuse_elementwise``: chains of elementwise table ops (broadcasting included) become one
  FusedNode, which the executor runs with fewer temporaries on the CPU and as one generated
  kernel on a GPU.
- ``plan_memory``: buffers for the outputs of ``out=``-capable steps assigned once by
  liveness, for ``static_alloc``.
"""
import math

from .ir import FusedNode, OpNode, Ref

__all__ = ["PASSES", "optimize", "eliminate_dead_code", "eliminate_common_subexpressions",
           "fuse_elementwise", "plan_memory", "MemoryPlan"]


def eliminate_dead_code(graph):
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if node.op.effectful or any(o in live for o in node.outs):
            kept.append(node)
            live.update(node.reads)
    kept.reverse()
    out = graph.copy()
    out.nodes = kept
    used = live | set(graph.inputs)
    out.params = [(v, n) for v, n in graph.params if v in used]
    out.constants = [(v, a) for v, a in graph.constants if v in used]
    out.report["dce"] = f"removed {len(graph.nodes) - len(kept)} of {len(graph.nodes)} nodes"
    return out


def _frozen(value):
    """A hashable stand-in for a node argument or parameter (arrays by identity)."""
    if value.__class__ is Ref:
        return ("ref", value.vid)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, _frozen(v)) for k, v in sorted(value.items()))
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return (type(value).__name__, value)
    if isinstance(value, slice):
        return ("slice", _frozen(value.start), _frozen(value.stop), _frozen(value.step))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    if hasattr(value, "shape"):  # a numpy scalar or array: by identity
        return ("id", id(value))
    return (type(value).__name__, value)


def eliminate_common_subexpressions(graph):
    seen = {}
    rename = {}
    nodes = []
    merged = 0
    for node in graph.nodes:
        node = _renamed(node, rename)
        op = node.op
        if op.effectful or op.seed_arg is not None:
            nodes.append(node)
            continue
        key = (id(op), _frozen(node.args), _frozen(node.params))
        twin = seen.get(key)
        if twin is None:
            seen[key] = node
            nodes.append(node)
        else:
            rename.update(zip(node.outs, twin.outs))
            merged += 1
    out = graph.copy()
    out.nodes = nodes
    out.outputs = [rename.get(v, v) for v in graph.outputs]
    out.report["cse"] = f"merged {merged} duplicate nodes"
    return out


def _renamed(node, rename):
    if not rename or not any(a.__class__ is Ref and a.vid in rename for a in node.args):
        return node
    args = [Ref(rename.get(a.vid, a.vid)) if a.__class__ is Ref else a for a in node.args]
    return OpNode(node.op, args, node.params, node.outs)


def fuse_elementwise(graph):
    """Group elementwise nodes: a node joins the group of the latest group it reads from
    when all its other inputs were made before that group began (so the group, run where it
    began, has every input and makes no cycle). A node that reads no group's output (a
    chain starting from graph inputs) joins, on the same terms, the latest group whose last
    output has its output's shape and dtype, so independent chains over one shape are one
    group.
    No group moves a node across an effectful one (which may write what it reads)."""
    producer = {}  # value id -> index of the node that made it
    group_of = {}  # value id -> group (list of [start index, steps])
    groups = []
    order = []  # per original node: a group or the node itself
    barrier = -1  # index of the latest effectful node
    for idx, node in enumerate(graph.nodes):
        for o in node.outs:
            producer[o] = idx
        if node.__class__ is not OpNode or node.op.elementwise is None:
            if node.op.effectful:
                barrier = idx
            order.append(node)
            continue
        candidates = [group_of[v] for v in node.reads if v in group_of]
        if candidates:
            group = max(candidates, key=lambda g: g[0])
        else:
            meta = graph.meta[node.outs[0]]
            group = next((g for g in reversed(groups) if g[0] >= barrier
                          and graph.meta[g[1][-1].outs[0]] == meta), None)
        if group is not None:
            made = {o for s in group[1] for o in s.outs}
            if group[0] < barrier or not all(v in made or producer.get(v, -1) < group[0]
                                             for v in node.reads):
                group = None
        if group is None:
            group = [idx, []]
            groups.append(group)
            order.append(group)
        group[1].append(node)
        for o in node.outs:
            group_of[o] = group
    # values read outside their group (or returned) are the fused node's outputs
    outside = {}
    for item in order:
        steps = item[1] if isinstance(item, list) else [item]
        made = {o for s in steps for o in s.outs}
        for s in steps:
            for v in s.reads:
                if v not in made:
                    outside[v] = True
    outside.update(dict.fromkeys(graph.outputs, True))
    nodes, fused = [], 0
    for item in order:
        if not isinstance(item, list):
            nodes.append(item)
        elif len(item[1]) == 1:
            nodes.append(item[1][0])
        else:
            outs = [o for s in item[1] for o in s.outs if o in outside]
            nodes.append(FusedNode(item[1], outs))
            fused += 1
    out = graph.copy()
    out.nodes = nodes
    sizes = [len(n.steps) for n in nodes if n.__class__ is FusedNode]
    out.report["fuse"] = (f"{fused} fused groups of {sum(sizes)} elementwise nodes"
                          + (f" (largest {max(sizes)})" if sizes else ""))
    return out


class MemoryPlan:
    """``assign``: value id -> buffer index; ``buffers``: (shape, dtype) of each buffer."""

    def __init__(self, assign, buffers, values_bytes):
        self.assign = assign
        self.buffers = buffers
        self.values_bytes = values_bytes  # what the planned values would take unshared

    @property
    def bytes(self):
        return sum(_nbytes(shape, dtype) for shape, dtype in self.buffers)

    def __repr__(self):
        return (f"{len(self.assign)} values in {len(self.buffers)} buffers, "
                f"{self.bytes} bytes (unshared: {self.values_bytes})")


def _nbytes(shape, dtype):
    return math.prod(shape) * dtype.itemsize


def plan_memory(graph, writes_out):
    """Buffers for the outputs of steps ``writes_out(op)`` says take ``out=``, shared by
    values whose lifetimes do not overlap. An output of any other op may be a view of its
    inputs, so it keeps them alive as long as itself; returned values are never planned."""
    steps = list(graph.op_nodes())
    never = len(steps) + 1
    end = {}
    for k, s in enumerate(steps):
        for v in s.reads:
            end[v] = k
    for v in graph.outputs:
        end[v] = never
    for k in range(len(steps) - 1, -1, -1):
        s = steps[k]
        if not writes_out(s.op):
            last = max((end.get(o, k) for o in s.outs), default=k)
            for v in s.reads:
                end[v] = max(end.get(v, k), last)
    assign, buffers, free, values_bytes = {}, [], {}, 0
    live = []  # (end, value id) of values holding a buffer
    for k, s in enumerate(steps):
        for item in [x for x in live if x[0] < k]:
            live.remove(item)
            b = assign[item[1]]
            free.setdefault(buffers[b], []).append(b)
        if not writes_out(s.op):
            continue
        vid = s.outs[0]
        shape, dtype = graph.meta[vid]
        if end.get(vid, k) >= never or shape == ():
            continue
        values_bytes += _nbytes(shape, dtype)
        pool = free.get((shape, dtype))
        if pool:
            b = pool.pop()
        else:
            b = len(buffers)
            buffers.append((shape, dtype))
        assign[vid] = b
        live.append((end.get(vid, k), vid))
    return MemoryPlan(assign, buffers, values_bytes)


PASSES = {"dce": eliminate_dead_code, "cse": eliminate_common_subexpressions,
          "fuse": fuse_elementwise}


def optimize(graph, enabled):
    """``graph`` after the passes named in ``enabled`` (in PASSES order)."""
    for name, run in PASSES.items():
        if name in enabled:
            graph = run(graph)
    return graph

