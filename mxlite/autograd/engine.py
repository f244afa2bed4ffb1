"""The backward engine: walks the tape from the heads in reverse creation order; each
node's backward runs on the backend of the device holding its data, so one graph can span
devices. With ``create_graph=True`` the same backward formulas run against the
differentiable namespace (``mx.np``, plugged in by the layer that defines it), so they are
recorded too.
"""
import operator
import sys

from .. import storage
from ..backend.cpu import CPU
from ..base import MXNetError, DeviceMismatchError
from ..ndarray import latest_write, ndarray, wrap, writes_after
from . import op as _op
from .op import apply
from .state import Scope

__all__ = ["backward", "grad", "set_differentiable_namespace", "sum_to"]


_getrefcount = sys.getrefcount


def _refs_when_unshared():
    """What getrefcount reports, inside a function called with it, for a value popped from a
    dict that nothing else holds (``backward`` hands ``_store`` its gradients that way; measured,
    so an interpreter that counts differently stays on the safe side)."""
    held = {0: object()}
    _, value = held.popitem()
    return _relay(value)


def _relay(value):  # stands for ``_store_leaf``, which passes the gradient on to ``_store``
    return _refs_in_callee(value)


def _refs_in_callee(value):
    return _getrefcount(value)


# backward() hands a computed gradient to ``.grad`` (through ``_store_leaf``) instead of
# copying it only when its reference count says no user, saved value, view or other buffer
# can see the array.
_ONLY_OURS = _refs_when_unshared()


class RawContext:
    """What a backward formula sees on the fast path: backend arrays, nothing recorded."""
    __slots__ = ("xp", "inputs", "out", "aux", "params", "need", "retain", "_kind")

    def __init__(self, node, need, retain, inputs):
        be = node.backend
        self.xp = be.xp
        self._kind = be.kind
        self.inputs = inputs  # the node's inputs as backend arrays (constants as they are)
        self.out = node.out
        self.aux = node.aux
        self.params = node.params
        self.need = need
        self.retain = retain  # False: the node is released after this backward (its saved
        #                       state may be freed while it runs)

    def call(self, op, *args, **params):
        res = op.forward_impls[self._kind](self.xp, *args, **params)
        return res[0] if op.has_aux else res

    def slice_grad(self, scatter, g, key, shape):
        """The gradient of ``x[key]`` (a basic index) for ``x`` of ``shape``, kept as the
        slice: several slices of one array then fill one buffer instead of one zero array
        each. ``scatter(g, key=, shape=)`` makes the dense array when one is needed."""
        return _SliceGrad(g, key, shape, scatter.forward_impls[self._kind], self.xp)

    def transposed_product(self, matmul, a, g):
        """``a.T @ g`` (2-D ``a`` and ``g``), a weight's gradient. On the CPU it is kept as its
        factors: the products one weight collects (an RNN's steps, a shared layer) are then
        summed in one GEMM over their stacked rows. ``matmul(xp, x, y)`` multiplies."""
        if self._kind != CPU or a.dtype != g.dtype:
            return matmul(self.xp, a.T, g)
        return _ProductSum(matmul, self.xp, a, g)


class _SliceGrad:
    """A gradient that is zero outside ``key`` (see ``RawContext.slice_grad``)."""
    __slots__ = ("g", "key", "shape", "_scatter", "_xp")

    def __init__(self, g, key, shape, scatter, xp):
        self.g, self.key, self.shape, self._scatter, self._xp = g, key, shape, scatter, xp

    def dense(self):
        return self._scatter(self._xp, self.g, key=self.key, shape=self.shape)


class _ProductSum:
    """A gradient ``sum(a.T @ g)`` kept as its factors (see ``RawContext.transposed_product``).
    Pending rows are multiplied out once they reach ``_PRODUCT_ROWS``, which bounds the memory
    held; below it BLAS is measurably slower (bench/README.md, "Weight gradients summed in
    one GEMM")."""
    __slots__ = ("a", "g", "rows", "acc", "dtype", "_matmul", "_xp")

    def __init__(self, matmul, xp, a, g):
        self.a, self.g, self.rows, self.acc, self.dtype = [a], [g], a.shape[0], None, a.dtype
        self._matmul, self._xp = matmul, xp

    def extend(self, other):
        self.a += other.a
        self.g += other.g
        self.rows += other.rows
        if self.rows >= _PRODUCT_ROWS:
            self._flush()

    def add(self, x):
        """Join a plain contribution (another op's gradient, not a product) to the sum."""
        self.acc = x if self.acc is None else self.acc + x  # ``x`` may be shared: no +=

    def _flush(self):
        xp, a, g = self._xp, self.a, self.g
        if len(a) == 1:
            p = self._matmul(xp, a[0].T, g[0])
        else:
            p = self._matmul(xp, xp.concatenate(a).T, xp.concatenate(g))
        if self.acc is not None:
            p += self.acc  # ``p`` is ours, ``acc`` may not be
        self.acc = p
        self.a, self.g, self.rows = [], [], 0

    def dense(self):
        if self.a:
            self._flush()
        return self.acc


_PRODUCT_ROWS = 1024  # OpenBLAS's GEMM reaches its plateau from about 1024 summed rows


class _Owned:
    """A summed gradient in a buffer the engine allocated and nothing else sees, so later
    contributions are added into it in place."""
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = a


def _sum(prev, g):
    """``prev + g`` on the raw walk (``g`` plain, a _SliceGrad or a _ProductSum), as an
    _Owned buffer, or a _ProductSum when both are products."""
    if g.__class__ is _ProductSum:  # products stay factors whatever else joins the sum
        if prev.__class__ is _ProductSum:
            prev.extend(g)
            return prev
        prev, g = g, prev
    if prev.__class__ is _ProductSum:
        prev.add(g.a if g.__class__ is _Owned else
                 g.dense() if g.__class__ is _SliceGrad else g)
        return prev
    if prev.__class__ is _Owned:
        acc = prev
    elif prev.__class__ is _SliceGrad:
        acc = _Owned(prev.dense())
    elif g.__class__ is _SliceGrad:
        acc = _Owned(prev.copy())
    else:
        return _Owned(prev + g)
    if g.__class__ is not _SliceGrad:
        acc.a += g
    elif acc.a.ndim == 0:  # numpy sums 0-d arrays to scalars, which take no item writes
        acc.a = acc.a + g.g
    else:
        acc.a[g.key] += g.g
    return acc


def _resolve(gs):
    """Plain arrays in place of the walk's _SliceGrad / _ProductSum / _Owned entries of one
    node."""
    for i, g in enumerate(gs):
        if g.__class__ is _Owned:
            gs[i] = g.a
        elif g.__class__ is _SliceGrad or g.__class__ is _ProductSum:
            gs[i] = g.dense()


class _Differentiable:
    namespace = None  # the array module whose functions record (mx.np): set from above


_differentiable = _Differentiable()


def set_differentiable_namespace(namespace):
    """Plug in the module that ``create_graph=True`` runs backward formulas against: it must
    offer, differentiably, every ``xp`` function the formulas use (``mxlite.numpy`` does)."""
    _differentiable.namespace = namespace


class GraphContext:
    """The ``create_graph=True`` context: ndarrays and ``mxlite.numpy``, so it records."""
    __slots__ = ("xp", "inputs", "aux", "params", "need", "_node", "_out")

    def __init__(self, node, need):
        if _differentiable.namespace is None:
            raise MXNetError("create_graph=True needs mxlite.numpy, which plugs itself in on "
                             "import: import mxlite first")
        self.xp = _differentiable.namespace
        self.inputs = node.inputs
        self.aux = node.aux
        self.params = node.params
        self.need = need
        self._node = node
        self._out = None

    @property
    def out(self):
        if self._out is None:  # recompute the output with history, from the inputs
            self._out = apply(self._node.op, self._node.inputs, self._node.params)
        return self._out

    def call(self, op, *args, **params):
        return apply(op, args, params)

    def slice_grad(self, scatter, g, key, shape):
        return apply(scatter, (g,), {"key": key, "shape": shape})

    def transposed_product(self, matmul, a, g):
        return matmul(self.xp, a.T, g)


# -- the engine ----------------------------------------------------------------------------
_NOT_IN_GRAPH = (
    "Cannot differentiate node because it is not in a computational graph. You need to set "
    "is_recording to true or use autograd.record() to save computational graphs for backward. "
    "If you want to differentiate the same graph twice, you need to pass retain_graph=True "
    "to backward.")


def sum_to(g, shape):
    """Sum a broadcast gradient back to ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    if axes:  # the array's own methods: numpy's module functions add a Python layer
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def as_list(x):
    """``x`` as a list: None is one missing entry, a tuple or list its items."""
    if x is None:
        return [None]
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _collect(heads):
    """Every node reachable from the heads, in reverse creation order."""
    seen = set()
    order = []
    stack = [h._node for h in heads]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        inputs = node.inputs
        if inputs is not None:
            for a in inputs:
                if isinstance(a, ndarray) and a._node is not None:
                    stack.append(a._node)
        elif node.op is not None:  # released by an earlier backward
            raise MXNetError(_NOT_IN_GRAPH)
    order.sort(key=_by_seq, reverse=True)
    return order


_by_seq = operator.attrgetter("seq")


def _head_gradient(h, hg):
    be = h._device.backend
    if hg is None:
        with be.scope():
            return be.xp.ones(h.shape, dtype=h.dtype)
    if not isinstance(hg, ndarray):
        raise TypeError(f"head gradient must be an mxlite ndarray, got {_type_name(hg)}; "
                        "wrap it with mx.np.array(...) on the head's device")
    if hg.shape != h.shape:
        raise ValueError(f"head gradient of shape {hg.shape} given for a head of shape "
                         f"{h.shape}; they must match")
    if hg._device is not h._device:
        raise DeviceMismatchError(f"head gradient on {hg._device} for a head on {h._device}")
    return hg._data


def _type_name(value):
    """``module.Class``: tells numpy.ndarray and cupy.ndarray from mxlite's ndarray."""
    kind = type(value)
    return f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"


def _run(heads, head_grads, retain_graph, create_graph, variables, store_leaves=False):
    """Propagate from ``heads``; return {(node, oidx): grad} for the gradients asked for.

    ``variables`` None means: every attached buffer (``backward``); else those arrays only.
    ``store_leaves``: a leaf's gradient is stored into its buffer (and its ready hook runs)
    as soon as the walk reaches it, so data-parallel training can start communicating
    while the rest of backward runs; the rest are returned.
    """
    heads = as_list(heads)
    head_grads = as_list(head_grads)
    if len(head_grads) == 1 and len(heads) > 1 and head_grads[0] is None:
        head_grads = [None] * len(heads)
    if len(heads) != len(head_grads):
        raise ValueError(f"{len(heads)} heads but {len(head_grads)} head gradients")
    for h in heads:
        if not isinstance(h, ndarray) or h._node is None or h._node.released:
            raise MXNetError(_NOT_IN_GRAPH)
    order = _collect(heads)
    if variables is None:
        wanted = {(n, i) for n in order if n.bufs
                  for i, b in n.bufs.items() if b[1] != "null"}
    else:
        wanted = set()
        for k, v in enumerate(variables):
            if not isinstance(v, ndarray) or v._node is None:
                raise MXNetError(f"Cannot differentiate with respect to the {k}-th variable "
                                 "because it does not require gradient; call attach_grad() "
                                 "on it before recording")
            wanted.add((v._node, v._oidx))
    if not wanted:
        raise MXNetError("There are no inputs in computation graph that require gradients: "
                         "attach_grad() on an input (or set a Parameter's grad_req) first.")
    wanted_nodes = {n for n, _ in wanted}
    # Which nodes lead to a wanted gradient. When every attached buffer wants one (the usual
    # backward), every node on the tape does; otherwise walk parents before children.
    needs = None
    if variables is not None or any(b[1] == "null" for n in order if n.bufs
                                    for b in n.bufs.values()):
        needs = {}
        for node in reversed(order):
            need = node in wanted_nodes
            if not need and node.inputs is not None:
                for a in node.inputs:
                    if isinstance(a, ndarray) and needs.get(a._node):
                        need = True
                        break
            needs[node] = need

    grads = {}
    wrapped = None if create_graph else set()  # nodes whose slot holds _SliceGrad / _Owned
    for h, hg in zip(heads, head_grads):
        g = _head_gradient(h, hg)
        _accumulate(grads, h._node, h._oidx, wrap(g, h._device) if create_graph else g,
                    wrapped)

    results = {}
    scope_of, scope = None, None  # the backend whose scope is entered, and that scope
    with Scope(create_graph, None):
        try:
            for node in order:
                if needs is not None and not needs[node]:
                    continue
                gs = grads.pop(node, None)
                if gs is None:
                    continue
                if wrapped and node in wrapped:
                    _resolve(gs)
                op = node.op
                if node in wanted_nodes:
                    if store_leaves and op is None:  # final now: store, so hooks can start
                        for i in range(len(gs)):
                            if gs[i] is not None and (node, i) in wanted:
                                g, gs[i] = gs[i], None
                                _store_leaf(node.bufs[i], g)
                        continue
                    for i, g in enumerate(gs):
                        if g is not None and (node, i) in wanted:
                            results[(node, i)] = g
                if op is None:
                    continue
                inputs = node.inputs
                need = []
                raw = []  # the inputs' backend arrays, for the formula (one pass with need)
                for a in inputs:
                    if isinstance(a, ndarray):
                        raw.append(a._data)
                        need.append(a._node is not None if needs is None
                                    else needs.get(a._node, False))
                    else:
                        raw.append(a)
                        need.append(False)
                if True in need:
                    be = node.backend
                    if be is not scope_of:  # each backward runs in its own device's scope
                        if scope is not None:
                            scope.__exit__(None, None, None)
                        scope_of, scope = be, be.scope()
                        scope.__enter__()
                    if latest_write[0] > node.seq:  # a write since this node was recorded
                        _check_versions(node)
                    ctx = GraphContext(node, need) if create_graph else \
                        RawContext(node, need, retain_graph, raw)
                    bwd = op.backward if create_graph else op.backward_impls[be.kind]
                    gout = gs[0] if op.nout == 1 else tuple(gs)
                    if _op.profile_backward is None:
                        in_grads = bwd(ctx, gout)
                    else:
                        in_grads = _op.profile_backward(op, be, bwd, ctx, gout)
                    for a, gi, nd in zip(inputs, in_grads, need):
                        if not nd or gi is None:
                            continue
                        data = a._data
                        if not create_graph:
                            if gi.__class__ is not be.array_type:
                                if gi.__class__ is _SliceGrad or (  # made for this input
                                        gi.__class__ is _ProductSum and gi.dtype == data.dtype):
                                    _accumulate(grads, a._node, a._oidx, gi, wrapped)
                                    wrapped.add(a._node)
                                    continue
                                if gi.__class__ is _ProductSum:  # cast below, once dense
                                    gi = gi.dense()
                                gi = be.xp.asarray(gi)
                            if gi.dtype is not data.dtype and gi.dtype != data.dtype:
                                gi = gi.astype(data.dtype)
                        if gi.shape != data.shape:
                            gi = sum_to(gi, data.shape)
                        _accumulate(grads, a._node, a._oidx, gi, wrapped)
                    gi = in_grads = gout = raw = None  # a leaf stored next can take its gradient
                if not retain_graph:
                    node.inputs = None
                    node.out = None
                    node.aux = None
        finally:
            if scope is not None:
                scope.__exit__(None, None, None)
    return results


def _check_versions(node):
    """Refuse to run ``node``'s backward on arrays written in place after it was recorded
    (their values are no longer the ones the op saw)."""
    for i, a in enumerate(node.inputs):
        if isinstance(a, ndarray):
            versions = writes_after(a._data, node.seq)
            if versions is not None:
                _refuse_written(node, versions, f"input {i} (shape {a.shape})")
    if node.out is not None:
        outs = node.out if node.op.nout > 1 else (node.out,)
        for i, o in enumerate(outs):
            versions = writes_after(o, node.seq)
            if versions is not None:
                _refuse_written(node, versions, f"output {i} (shape {o.shape})")


def _refuse_written(node, versions, what):
    raise MXNetError(
        f"an array needed by `{node.op.name}`'s backward ({what}) was modified in place "
        f"after it was recorded (version {versions[0]} → {versions[1]}); use a copy, or "
        "write before recording")


def _accumulate(grads, node, oidx, g, wrapped):
    """Add ``g`` to ``node``'s output ``oidx`` gradient. ``wrapped``: on the raw walk the set
    of nodes whose slot holds an engine wrapper (a sum goes into an _Owned buffer and joins
    it), None with ``create_graph`` (ndarrays summed with history)."""
    slot = grads.get(node)
    if slot is None:
        if node.op is None or node.op.nout == 1:
            grads[node] = [g]
            return
        slot = grads[node] = [None] * node.op.nout
    prev = slot[oidx]
    if prev is None:
        slot[oidx] = g
    elif wrapped is None:
        slot[oidx] = prev + g
    else:
        slot[oidx] = _sum(prev, g)
        wrapped.add(node)


def backward(heads, head_grads=None, retain_graph=False, train_mode=True):
    """Compute gradients of ``heads`` into every attached buffer (``.grad``).

    A non-scalar head gets an implicit gradient of ones (same as backward of its sum).
    """
    with Scope(None, train_mode):
        results = _run(heads, head_grads, retain_graph, False, None, store_leaves=True)
    while results:
        (node, oidx), g = results.popitem()
        _store_leaf(node.bufs[oidx], g)


def _store_leaf(buf, g):
    """Store into a variable's ``[buffer, grad_req, fresh, ready_hook]`` entry, then run its
    hook."""
    _store(buf[0], buf[1], g)
    buf[2] = True
    if buf[3] is not None:
        buf[3](buf[0])


def _store(target, req, g):
    """Write (or add) the gradient ``g`` into the buffer ``target``."""
    data = target._data
    if req == "add":
        with target._device.backend.scope():
            data += g
    elif (_getrefcount(g) == _ONLY_OURS and g.base is None and g.dtype == data.dtype
          and g.shape == data.shape and g.flags.c_contiguous):
        target._data = g  # a temporary nothing else holds (not even a view): take it
    else:
        backend = target._device.backend
        with backend.scope():
            backend.xp.copyto(data, g, casting="unsafe")


def grad(heads, variables, head_grads=None, retain_graph=None, create_graph=False,
         train_mode=True):
    """Gradients of ``heads`` with respect to ``variables``, returned (``.grad`` untouched).

    With ``create_graph=True`` the result is itself recorded, for higher-order gradients.
    """
    single = isinstance(variables, ndarray)
    variables = [variables] if single else list(variables)
    if not variables:
        raise ValueError("variables must be a non-empty list of arrays")
    if retain_graph is None:
        retain_graph = create_graph
    with Scope(None, train_mode):
        results = _run(heads, head_grads, retain_graph, create_graph, variables)
    out = []
    for v in variables:
        g = results.get((v._node, v._oidx))
        if create_graph:
            out.append(g if g is not None else _zeros_of(v))
        else:
            out.append(wrap(g, v._device) if g is not None else _zeros_of(v))
    return out


def _zeros_of(v):
    """Zeros like ``v`` (from its device's pool), for a variable the heads do not reach."""
    return wrap(storage.zeros(v._device, v.shape, v.dtype), v._device)
