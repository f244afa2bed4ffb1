"""Tracing: run a forward once, eagerly, while recording every op ``apply`` dispatches.

The trace run is an ordinary imperative run (its results, and under ``autograd.record()``
its tape, are the eager ones); the tracer only watches, through autograd's tracer slot and
the ndarray layer's untraceable hook. Whatever a graph could not replay (a value read on
the host, an in-place write, a random draw outside an op, a custom Function, an array made
in the forward used as an index) marks the trace untraceable, with the reason and the
source line, and the caller falls back to imperative execution.
"""
import contextlib
import os
import sys
import threading

from ..autograd import op as _op
from ..autograd.op import Op
from ..ndarray import ndarray, set_untraceable_hook
from .ir import Graph, OpNode, Ref

__all__ = ["Tracer", "Untraceable", "trace", "paused", "runs_inline", "imperative", "ALIAS",
           "flatten_outputs", "build_outputs"]

# A value seen under a second ndarray that shares its buffer (``stop_gradient``, ``detach``,
# a re-wrapped ``_data``): the same data with no gradient flowing through.
ALIAS = Op("graph_alias", lambda xp, x: x)

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INTERNAL = tuple(os.path.join(_PACKAGE, part) for part in (
    "ndarray.py", "numpy", "numpy_extension", "ops", "autograd", "graph", "random.py"))


class Untraceable(Exception):
    """Why a forward cannot become a graph: ``reason`` and ``where`` (file:line)."""

    def __init__(self, reason, where):
        super().__init__(f"{reason} at {where}")
        self.reason = reason
        self.where = where


def _source_line():
    """file:line of the innermost frame outside mxlite's array and op layers (the forward
    line that did it)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_INTERNAL):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


class Tracer:
    """Records the ops one thread runs into a Graph (see ``trace``)."""

    def __init__(self):
        self.thread = threading.get_ident()
        self.values = {}     # id(ndarray) -> value id
        self.buffers = {}    # id(backend array) -> value id of the value that made it
        self.seen = []       # every ndarray met, kept alive so ids stay unique
        self.meta = {}
        self.nodes = []
        self.externals = {}  # value id -> ndarray read but not made here (param or constant)
        self.made = {}       # id -> array made during the trace, not (yet) by a traced op
        self.failure = None
        self.paused = 0

    def _new_value(self, array):
        vid = len(self.meta)
        self.meta[vid] = (array.shape, array.dtype)
        self.values[id(array)] = vid
        self.buffers.setdefault(id(array._data), vid)
        self.seen.append(array)
        return vid

    def add_input(self, array):
        return self._new_value(array)

    def _ref(self, array):
        vid = self.values.get(id(array))
        if vid is not None:
            return vid
        source = self.buffers.get(id(array._data))
        vid = self._new_value(array)
        if source is not None:
            self.nodes.append(OpNode(ALIAS, (Ref(source),), {}, (vid,)))
        elif id(array) in self.made:
            self.fail("an array made around mxlite's ops (by a data-dependent function such "
                      "as np.unravel_index, nonzero or unique), which a graph would replay "
                      "as a constant")
        else:
            self.externals[vid] = array
        return vid

    def new_array(self, array, constant=False):
        if constant:
            self.made.pop(id(array), None)
        elif not self.paused and threading.get_ident() == self.thread:
            self.made[id(array)] = array

    def __call__(self, op, args, params, out):
        if self.paused or self.failure is not None or threading.get_ident() != self.thread:
            return
        refs = [Ref(self._ref(a)) if isinstance(a, ndarray) else a for a in args]
        for a in refs:
            if a.__class__ is not Ref and self._holds_traced_buffer(a):
                return self.fail("an op argument that is a raw array of a traced value")
        for value in params.values():
            if self._holds_traced_buffer(value):
                made_by = ("a block input" if self._holds_input(value)
                           else "an array computed in the forward")
                return self.fail(f"{made_by} used as a parameter of `{op.name}` (e.g. a "
                                 "boolean mask or an index array: its values, not only its "
                                 "shape, decide the result)")
        outs = out if op.nout > 1 else (out,)
        for o in outs:
            self.made.pop(id(o), None)
        self.nodes.append(OpNode(op, refs, params, [self._new_value(o) for o in outs]))

    def _holds_traced_buffer(self, value):
        if isinstance(value, (tuple, list)):
            return any(self._holds_traced_buffer(v) for v in value)
        if isinstance(value, ndarray):
            return id(value) in self.values or id(value._data) in self.buffers
        return hasattr(value, "shape") and id(value) in self.buffers

    def _holds_input(self, value):
        if isinstance(value, (tuple, list)):
            return any(self._holds_input(v) for v in value)
        if isinstance(value, ndarray):
            return self.values.get(id(value)) in self.inputs
        return self.buffers.get(id(value)) in self.inputs  # a backend array

    def untraceable(self, reason, array=None):
        if self.paused or self.failure is not None or threading.get_ident() != self.thread:
            return
        if array is not None and "in-place" in reason and id(array) in self.values and \
                self.values[id(array)] in self.inputs:
            reason = "an in-place write to an input (x[...] = v, +=, out=)"
        self.fail(reason)

    def fail(self, reason):
        if self.failure is None:
            self.failure = Untraceable(reason, _source_line())

    def finish(self, outputs, out_tree, param_of):
        """The Graph: externals that are a parameter's data become parameters (``param_of``:
        id(ndarray) -> structural name), the rest constants."""
        out_vids = [self._ref(o) for o in outputs]
        params, constants = [], []
        for vid, array in self.externals.items():
            name = param_of.get(id(array))
            if name is not None:
                params.append((vid, name))
            else:
                constants.append((vid, array))
        return Graph(self.inputs, params, constants, self.nodes, out_vids, out_tree, self.meta)


_active = threading.local()


def runs_inline():
    """Whether hybridized blocks run imperatively in this thread now: inside a trace (they
    become part of the outer graph) or an ``imperative()`` scope."""
    return getattr(_active, "tracer", None) is not None or getattr(_active, "imperative", 0)


@contextlib.contextmanager
def imperative():
    """Hybridized blocks run imperatively in this scope (so every forward hook fires)."""
    _active.imperative = getattr(_active, "imperative", 0) + 1
    try:
        yield
    finally:
        _active.imperative -= 1


@contextlib.contextmanager
def paused():
    """Ops in this scope are not part of the trace (parameter initialization)."""
    tracer = getattr(_active, "tracer", None)
    if tracer is None:
        yield
        return
    tracer.paused += 1
    try:
        yield
    finally:
        tracer.paused -= 1


def trace(forward, inputs, params_of):
    """Run ``forward()`` while tracing; ``inputs`` are the call's arrays, flattened, and
    ``params_of()`` maps id(parameter ndarray) -> structural name once the forward ran
    (parameters may be created in it).

    Returns (result, Graph or None, Untraceable or None): the result is the eager one.
    """
    tracer = Tracer()
    tracer.inputs = [tracer.add_input(a) for a in inputs]
    previous_op = _op.set_tracer(tracer)
    previous_hooks = set_untraceable_hook(tracer.untraceable, tracer.new_array)
    _active.tracer = tracer
    try:
        result = forward()
    finally:
        _active.tracer = None
        _op.set_tracer(previous_op)
        set_untraceable_hook(*previous_hooks)
    if tracer.failure is not None:
        return result, None, tracer.failure
    flat, out_tree = flatten_outputs(result)
    if flat is None:
        return result, None, Untraceable(
            f"the forward returned {type(result).__name__}, not arrays (nested in tuples or "
            "lists)", "the forward's return")
    graph = tracer.finish(flat, out_tree, params_of())
    if tracer.failure is not None:  # an output made around the ops
        return result, None, tracer.failure
    return result, graph, None


def flatten_outputs(result):
    """(list of ndarrays, tree) for a result of arrays nested in tuples/lists; tree None for a
    single array; (None, None) when something else is in it."""
    if isinstance(result, ndarray):
        return [result], None
    flat = []

    def walk(value):
        if isinstance(value, ndarray):
            flat.append(value)
            return len(flat) - 1
        if isinstance(value, (tuple, list)):
            return ("list" if isinstance(value, list) else "tuple",
                    tuple(walk(v) for v in value))
        raise TypeError

    try:
        tree = walk(result)
    except TypeError:
        return None, None
    return flat, tree


def build_outputs(tree, flat):
    """Rebuild the nesting ``flatten_outputs`` recorded."""
    if tree is None:
        return flat[0]
    if isinstance(tree, int):
        return flat[tree]
    kind, items = tree
    built = [build_outputs(t, flat) for t in items]
    return built if kind == "list" else tuple(built)

