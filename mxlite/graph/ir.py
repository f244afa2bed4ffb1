"""The graph IR: values numbered from 0, op nodes that read and write them, and the fused
nodes the elementwise pass makes of chains of them."""

__all__ = ["Ref", "OpNode", "FusedNode", "Graph"]


class Ref:
    """A node argument that is a graph value (any other argument is a constant)."""
    __slots__ = ("vid",)

    def __init__(self, vid):
        self.vid = vid

    def __repr__(self):
        return f"%{self.vid}"


class OpNode:
    """``outs = op(*args, **params)``: ``args`` holds ``Ref``s and constants."""
    __slots__ = ("op", "args", "params", "outs")

    def __init__(self, op, args, params, outs):
        self.op = op
        self.args = tuple(args)
        self.params = params
        self.outs = tuple(outs)

    @property
    def reads(self):
        """The value ids this node reads."""
        return [a.vid for a in self.args if a.__class__ is Ref]

    def __repr__(self):
        outs = ", ".join(f"%{o}" for o in self.outs)
        args = ", ".join(repr(a) if a.__class__ is Ref else _short(a) for a in self.args)
        params = "".join(f", {k}={_short(v)}" for k, v in self.params.items())
        return f"{outs} = {self.op.name}({args}{params})"


class FusedNode:
    """Elementwise ``steps`` (OpNodes) run as one node; ``outs`` are the step outputs read
    outside the group (or graph outputs)."""
    __slots__ = ("steps", "outs", "reads")

    def __init__(self, steps, outs):
        self.steps = steps
        self.outs = tuple(outs)
        made = {o for s in steps for o in s.outs}
        reads = []
        for s in steps:
            for vid in s.reads:
                if vid not in made and vid not in reads:
                    reads.append(vid)
        self.reads = reads

    def __repr__(self):
        ops = "+".join(s.op.name for s in self.steps)
        return (f"{', '.join(f'%{o}' for o in self.outs)} = fused[{len(self.steps)}]({ops})"
                f"({', '.join(f'%{v}' for v in self.reads)})")


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Graph:
    """A traced forward.

    ``inputs``: value ids of the call's arrays, in order; ``params``: (value id, structural
    name) of the block's parameters it reads; ``constants``: (value id, ndarray) of other
    arrays it reads (captured by reference); ``nodes``: OpNodes (and, after fusion,
    FusedNodes) in execution order; ``outputs``: value ids of the flattened result, whose
    nesting ``out_tree`` records (None: one array; else a nested tuple of list/tuple tags and
    leaf indices); ``meta``: value id -> (shape, dtype) as traced.
    """

    def __init__(self, inputs, params, constants, nodes, outputs, out_tree, meta):
        self.inputs = list(inputs)
        self.params = list(params)
        self.constants = list(constants)
        self.nodes = list(nodes)
        self.outputs = list(outputs)
        self.out_tree = out_tree
        self.meta = meta
        self.report = {}  # pass name -> what it did (for graph_summary)

    @property
    def sources(self):
        """Every value id that is not made by a node: inputs, parameters, constants."""
        return (self.inputs + [v for v, _ in self.params] + [v for v, _ in self.constants])

    def op_nodes(self):
        """Every OpNode, those inside fused nodes included, in order."""
        for n in self.nodes:
            if n.__class__ is FusedNode:
                yield from n.steps
            else:
                yield n

    def copy(self):
        g = Graph(self.inputs, self.params, self.constants, self.nodes, self.outputs,
                  self.out_tree, self.meta)
        g.report = dict(self.report)
        return g

    def __repr__(self):
        lines = [f"graph(inputs={[f'%{v}' for v in self.inputs]}, "
                 f"params={[f'%{v}:{n}' for v, n in self.params]}, "
                 f"constants={[f'%{v}' for v, _ in self.constants]})"]
        lines += [f"  {n!r}" for n in self.nodes]
        lines.append(f"  return {', '.join(f'%{v}' for v in self.outputs)}")
        return "\n".join(lines)
