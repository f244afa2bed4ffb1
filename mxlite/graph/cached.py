"""A hybridized block's graphs: traced on the first call per input signature, optimized,
compiled, and run on later calls (``HybridBlock`` owns one ``CachedGraph``)."""
import warnings

from ..autograd import state as _state_module
from ..autograd.op import Node, Op
from ..ndarray import ndarray, wrap
from .executor import Program
from .passes import PASSES, optimize
from .tracer import build_outputs, trace

__all__ = ["CachedGraph", "GraphFallbackWarning", "signature", "pass_names"]

_state = _state_module.state


class GraphFallbackWarning(UserWarning):
    """A hybridized block's forward could not become a graph; it runs imperatively."""


def _format(args, flat):
    """MXNet's format of a hybridized call's arguments: 0 for an array (collected into
    ``flat``), -1 for None, a list for a (nested) list or tuple. Anything else raises
    ValueError, as in MXNet: a hybridized block takes arrays only (pass a number as an
    array, or make it an attribute of the block)."""
    fmt = []
    for a in args:
        if isinstance(a, ndarray):
            flat.append(a)
            fmt.append(0)
        elif a is None:
            fmt.append(-1)
        elif isinstance(a, (list, tuple)):
            fmt.append(_format(a, flat))
        else:
            raise ValueError(f"When hybridized, the input of HybridBlock must be (nested) "
                             f"list of ndarray or None, but got {a!r} of type {type(a)}; "
                             "pass it as an array, or set it on the block before hybridize()")
    return fmt


def _hashable(fmt):
    return tuple(_hashable(f) if isinstance(f, list) else f for f in fmt)


def _check_format(stored, fmt):
    """Raise ValueError unless ``fmt`` is the first call's ``stored`` format, up to trailing
    None arguments given or left to their defaults (MXNet's rule)."""
    n = min(len(stored), len(fmt))
    if fmt[:n] == stored[:n] and all(f == -1 for f in stored[n:] + fmt[n:]):
        return
    raise ValueError(f"The argument structure of HybridBlock does not match the cached "
                     f"version. Stored format = {stored}, input format = {fmt} (0: array, "
                     "-1: None); call hybridize() again to start over with a new structure")


def signature(args):
    """(flat arrays, format, key): the key holds the format (where arrays and None are),
    every array's shape, dtype and device, and whether layers train."""
    flat = []
    fmt = _format(args, flat)
    return flat, fmt, (_hashable(fmt),
                       tuple((a._data.shape, a._data.dtype, a._device) for a in flat),
                       _state.training)


class _Entry:
    """One signature's graph: as traced, optimized, compiled; and where its sources are."""

    def __init__(self, traced, graph, program, params):
        self.traced = traced
        self.graph = graph
        self.program = program
        self.params = params  # Parameter of each graph.params entry
        self.constants = [a for _, a in graph.constants]
        self.calls = 0


class CachedGraph:
    """Graphs of one hybridized block, keyed by input signature (a single one with
    ``static_shape``); ``passes`` names the enabled passes."""

    def __init__(self, block, passes, static_alloc=False, static_shape=False):
        self.block_name = type(block).__name__
        self.passes = passes
        self.static_alloc = static_alloc
        self.static_shape = static_shape
        self.entries = {}
        self.in_format = None  # the first call's format, which later calls must keep
        self.fallback = None  # the Untraceable that turned graph mode off
        self.imperative_calls = 0

    def __call__(self, block, args, run_eagerly):
        """``block``'s result for ``args``: traced (by ``run_eagerly()``) on a new signature,
        else the graph run."""
        flat, fmt, key = signature(args)
        if self.in_format is None:
            self.in_format = fmt
        else:
            _check_format(self.in_format, fmt)
        if self.fallback is not None:
            self.imperative_calls += 1
            return _record_whole_call(run_eagerly(), flat, block)
        entry = self.entries.get(key)
        if entry is None:
            return _record_whole_call(self._trace(block, flat, key, run_eagerly), flat, block)
        entry.calls += 1
        dev = flat[0]._device if flat else None
        sources = flat + [p.data(dev) for p in entry.params] + entry.constants
        outs = entry.program.run(sources)
        if _state.recording and any(o._node is None for o in outs):  # an input given back
            return _record_whole_call(build_outputs(entry.graph.out_tree, outs), flat, block)
        return build_outputs(entry.graph.out_tree, outs)

    def _trace(self, block, flat, key, run_eagerly):
        params = block._collect_params_with_prefix()
        result, traced, failure = trace(run_eagerly, flat, lambda: _param_ids(params))
        if failure is not None:
            self.fallback = failure
            self._warn()
            return result
        graph = optimize(traced, self.passes)
        by_name = block._collect_params_with_prefix()
        device = flat[0]._device
        program = Program(graph, device, static_alloc=self.static_alloc)
        if self.static_shape:
            self.entries.clear()
        self.entries[key] = _Entry(traced, graph, program, [by_name[n] for _, n in graph.params])
        return result

    def _warn(self):
        f = self.fallback
        warnings.warn(f"{self.block_name}: the hybridized forward cannot run as a graph "
                      f"({f.reason}, at {f.where}); it runs imperatively from now on",
                      GraphFallbackWarning, stacklevel=4)

    @property
    def latest(self):
        """The most recently traced entry, or None."""
        return next(reversed(self.entries.values()), None)

    def summary(self):
        """What graph mode did for this block: per signature, the nodes, fused groups,
        planned memory and pass reports; or why it fell back."""
        lines = [f"{self.block_name}: graph mode, passes: {', '.join(self.passes) or 'none'}"
                 f"{', static_alloc' if self.static_alloc else ''}"
                 f"{', static_shape' if self.static_shape else ''}"]
        if self.fallback is not None:
            lines.append(f"  fallback: runs imperatively ({self.fallback.reason}, at "
                         f"{self.fallback.where}); {self.imperative_calls} imperative calls")
        if not self.entries and self.fallback is None:
            lines.append("  not traced yet: call the block once")
        for key, entry in self.entries.items():
            shapes = ", ".join(f"{s}:{d}" for s, d, _ in key[1])
            g = entry.graph
            counts = {}
            for n in g.op_nodes():
                counts[n.op.name] = counts.get(n.op.name, 0) + 1
            ops = ", ".join(f"{name} x{c}" for name, c in sorted(counts.items()))
            lines.append(f"  signature ({shapes}) training={key[2]}: "
                         f"{len(entry.traced.nodes)} traced nodes -> {len(g.nodes)} nodes "
                         f"({sum(counts.values())} ops: {ops}); {entry.calls} graph calls")
            for name, what in g.report.items():
                lines.append(f"    {name}: {what}")
            for n in g.nodes:
                if hasattr(n, "steps"):
                    lines.append(f"    fused: {' -> '.join(s.op.name for s in n.steps)}")
            if entry.program.plan is not None:
                lines.append(f"    memory plan: {entry.program.plan!r}")
        return "\n".join(lines)


def _no_gradient(ctx, g):
    return (None,) * len(ctx.inputs)


_WHOLE_CALL = Op("hybridized_call", None, _no_gradient, anonymous=True)


def _record_whole_call(result, flat, block):
    """A hybridized call's ``result`` with every output on the tape, as MXNet records each
    call of a hybridized block as one CachedOp node over its inputs and parameters: an
    output that depends on no recorded array (a mask of the input, a nonzero, the input
    given back) gets a node over them that sends no gradient, so ``backward`` from it
    works on the tracing call, the graph calls and after a fallback alike."""
    if not _state.recording:
        return result
    sources = tuple(a for a in flat if a._node is not None) + tuple(
        arr for p in block._collect_params_with_prefix().values() if p._data is not None
        for arr in p._data.values() if arr._node is not None)
    if not sources:
        return result

    def on_tape(o):
        if isinstance(o, ndarray):
            if o._node is None:
                if any(o is a for a in flat):  # a new handle: the caller's input stays off
                    o = wrap(o._data, o._device)
                o._node = Node(_WHOLE_CALL, sources, {}, None, None, o._device.backend)
                o._oidx = 0
            return o
        if type(o) in (list, tuple):
            return type(o)(on_tape(v) for v in o)
        return o
    return on_tape(result)


def _param_ids(params):
    """id(parameter data ndarray) -> structural name, for every device's copy."""
    ids = {}
    for name, p in params.items():
        if p._data is not None:
            for arr in p._data.values():
                ids.setdefault(id(arr), name)
    return ids


def pass_names(options):
    """The enabled passes from hybridize/optimize_for keywords (each on unless False)."""
    return tuple(name for name in PASSES if options.get(name, True))
