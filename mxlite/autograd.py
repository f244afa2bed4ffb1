"""The tape: recording scopes, the op protocol, and the backward engine.

An op (``Op``) pairs a forward written against a backend's array module with a
backward written against the same module; ``apply`` runs the forward on the backend
of the inputs' device and, while recording, appends a ``Node`` to the tape. The engine
walks nodes in reverse creation order; each node's backward runs on the backend of the
device holding its data, so one graph can span devices. With ``create_graph=True`` the
same backward formulas run against ``mxlite.numpy`` instead, so they are recorded too.
"""
import itertools
import sys
import threading

from . import storage
from .base import MXNetError, DeviceMismatchError
from .device import current_device
from .ndarray import ndarray, wrap

__all__ = ["record", "pause", "train_mode", "predict_mode", "is_recording", "is_training",
           "set_recording", "set_training", "check_inplace", "backward", "grad",
           "mark_variables",
           "Function", "Op", "defop", "registered_op", "apply", "apply1", "apply2"]


# -- recording state ---------------------------------------------------------------------
class _State(threading.local):
    recording = False
    training = False


_state = _State()


def is_recording():
    return _state.recording


def is_training():
    return _state.training


def set_recording(is_recording):
    prev = _state.recording
    _state.recording = bool(is_recording)
    return prev


def set_training(train_mode):
    prev = _state.training
    _state.training = bool(train_mode)
    return prev


class _Scope:
    """Sets recording and/or training on entry and restores both on exit; scopes nest."""
    __slots__ = ("_rec", "_train", "_prev")

    def __init__(self, recording, training):
        self._rec = recording
        self._train = training
        self._prev = None

    def __enter__(self):
        self._prev = (_state.recording, _state.training)
        if self._rec is not None:
            _state.recording = self._rec
        if self._train is not None:
            _state.training = self._train
        return self

    def __exit__(self, *exc):
        _state.recording, _state.training = self._prev


def check_inplace(array):
    """Refuse an in-place write to an array on the tape while recording, as MXNet does."""
    if array._node is not None and _state.recording:
        raise MXNetError(
            "Inplace operations (+=, -=, x[:]=, out=, etc) are not supported when recording "
            "with autograd: this array is part of the recorded graph. Compute a new array "
            "instead (y = x + 1, np.where) or do the write under autograd.pause().")


def record(train_mode=True):
    """Record ops for differentiation; layers run in training mode unless told otherwise."""
    return _Scope(True, train_mode)


def pause(train_mode=False):
    return _Scope(False, train_mode)


def train_mode():
    return _Scope(None, True)


def predict_mode():
    return _Scope(None, False)


# -- ops ---------------------------------------------------------------------------------
class Op:
    """One differentiable operation: forward and backward side by side.

    ``forward(xp, *inputs, **params)`` gets backend arrays (or Python constants) and
    returns the output (a tuple when ``nout > 1``; ``(output, aux)`` when ``has_aux``:
    aux is non-differentiable state for backward such as a mask or indices).
    ``backward(ctx, g)`` returns one gradient (or None) per input; for a multi-output op
    ``g`` is a tuple holding None for outputs that got no gradient. ``ctx`` offers
    ``xp``, ``inputs``, ``out`` (when ``save_out``), ``aux``, ``params``, ``need``
    (which inputs want a gradient) and ``call(op, *args, **params)`` to use another op.
    Gradients may have the broadcast shape; the engine sums them to each input's shape.
    Backward must use only inputs, out, aux and ``xp`` functions that ``mxlite.numpy``
    also has, so that ``create_graph=True`` can rerun it differentiably.
    """
    __slots__ = ("name", "forward_impls", "backward_impls", "backward", "nout", "has_aux",
                 "save_out", "differentiable", "moves_device", "doc")

    def __init__(self, name, forward, backward=None, nout=1, has_aux=False, save_out=False,
                 moves_device=False, anonymous=False):
        if not anonymous:
            if name in _registry:
                raise ValueError(f"an op named {name!r} already exists; op names are unique "
                                 "(kernels attach to ops by name)")
            _registry[name] = self
        self.name = name
        self.forward_impls = [forward, forward]       # indexed by backend kind
        self.backward_impls = [backward, backward]
        self.backward = backward  # the generic formula: create_graph always runs this one
        self.nout = nout
        self.has_aux = has_aux
        self.save_out = save_out
        self.differentiable = backward is not None
        self.moves_device = moves_device
        self.doc = None

    def register(self, kind, forward=None, backward=None):
        """Install a faster implementation for one backend kind (e.g. a CUDA kernel).

        A registered backward works on backend arrays; higher-order gradients
        (``create_graph=True``) keep using the generic formula.
        """
        if forward is not None:
            self.forward_impls[kind] = forward
        if backward is not None:
            self.backward_impls[kind] = backward

    def __repr__(self):
        return f"<Op {self.name}>"


_registry = {}  # op name -> Op: kernels attach to ops by name


def defop(name, **flags):
    """Class decorator: the ``Op`` named ``name`` from the class's ``forward`` and optional
    ``backward`` (``flags``: nout, has_aux, save_out, moves_device). The one way to declare an op
    that is not an elementwise table row (see ``mxlite.ops``)."""
    def make(cls):
        op = Op(name, cls.forward, getattr(cls, "backward", None), **flags)
        op.doc = cls.__doc__
        return op
    return make


def registered_op(name):
    """The op declared as ``name``."""
    try:
        return _registry[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} is declared") from None


class Node:
    """A tape entry: the op that made an output, or a leaf variable (``op is None``).

    ``bufs`` maps an output index to ``[grad_buffer, grad_req, fresh]`` for arrays the
    user called ``attach_grad`` on (leaves, or intermediates whose gradient is kept).
    """
    __slots__ = ("op", "inputs", "params", "out", "aux", "seq", "backend", "bufs",
                 "__weakref__")

    def __init__(self, op, inputs, params, out, aux, backend):
        self.op = op
        self.inputs = inputs
        self.params = params
        self.out = out
        self.aux = aux
        self.seq = next(_seq)
        self.backend = backend
        self.bufs = None

    @property
    def released(self):
        return self.op is not None and self.inputs is None


_seq = itertools.count()
_getrefcount = sys.getrefcount


def _refs_when_unshared():
    """What getrefcount reports for a value popped from a dict that nothing else holds
    (measured, so an interpreter that counts differently stays on the safe side)."""
    held = {0: object()}
    _, value = held.popitem()
    return _getrefcount(value)


# backward() hands a computed gradient to ``.grad`` instead of copying it only when its
# reference count says no user, saved value, view or other buffer can see the array.
_ONLY_OURS = _refs_when_unshared()
_NO_PARAMS = {}


def _device_of(args):
    dev = None
    for a in args:
        if isinstance(a, ndarray):
            if dev is None:
                dev = a._device
            elif a._device is not dev:
                raise DeviceMismatchError(
                    f"inputs on different devices ({dev} and {a._device}) in one operation; "
                    f"move them to one device with .to_device() first")
    return dev or current_device()


def apply(op, args, params=_NO_PARAMS):
    """Run ``op`` on ``args`` (ndarrays and constants) and record it when recording."""
    dev = None
    raw = []
    in_graph = False
    for a in args:
        if isinstance(a, ndarray):
            if a._device is not dev:
                if dev is None:
                    dev = a._device
                else:
                    _device_of(args)
            if a._node is not None:
                in_graph = True
            raw.append(a._data)
        else:
            raw.append(a)
    if dev is None:
        dev = current_device()
    be = dev._backend or dev.backend
    if be.kind:
        res = _on_gpu(be, op.forward_impls[be.kind], (be.xp, *raw), params)
    else:
        res = op.forward_impls[0](be.xp, *raw, **params)
    aux = None
    if op.has_aux:
        res, aux = res
    out_dev = params["device"] if op.moves_device else dev
    if op.nout == 1:
        out = wrap(_as_array(be, res), out_dev)
        outs = (out,)
    else:
        out = tuple(wrap(_as_array(be, r), out_dev) for r in res)
        outs = out
    if in_graph and _state.recording and op.differentiable:
        node = Node(op, args, params, res if op.save_out else None, aux, be)
        for i, o in enumerate(outs):
            o._node = node
            o._oidx = i
    return out


def apply1(op, x, params=_NO_PARAMS):
    """``apply`` for the common case of one ndarray input and one output (hot path)."""
    dev = x._device
    be = dev._backend or dev.backend
    if be.kind:
        res = _on_gpu(be, op.forward_impls[be.kind], (be.xp, x._data), params)
    else:
        res = op.forward_impls[0](be.xp, x._data, **params)
    if res.__class__ is not be.array_type:
        res = be.xp.asarray(res)
    out = _new(ndarray)
    out._data = res
    out._device = dev
    out._oidx = 0
    if x._node is not None and _state.recording and op.differentiable:
        out._node = Node(op, (x,), params, res if op.save_out else None, None, be)
    else:
        out._node = None
    return out


def apply2(op, a, b):
    """``apply`` for an ndarray ``a`` and an ndarray or scalar ``b``, one output (hot path)."""
    dev = a._device
    be = dev._backend or dev.backend
    if b.__class__ is ndarray:
        if b._device is not dev:
            _device_of((a, b))
        bd = b._data
        in_graph = a._node is not None or b._node is not None
    else:
        bd = b
        in_graph = a._node is not None
    if be.kind:
        res = _on_gpu(be, op.forward_impls[be.kind], (be.xp, a._data, bd), _NO_PARAMS)
    else:
        res = op.forward_impls[0](be.xp, a._data, bd)
    if res.__class__ is not be.array_type:
        res = be.xp.asarray(res)
    out = _new(ndarray)
    out._data = res
    out._device = dev
    out._oidx = 0
    if in_graph and _state.recording and op.differentiable:
        out._node = Node(op, (a, b), _NO_PARAMS, res if op.save_out else None, None, be)
    else:
        out._node = None
    return out


_new = object.__new__


def _on_gpu(be, fn, args, params):
    """Call ``fn`` with the array's GPU current, as CuPy needs on multi-GPU machines."""
    with be.cuda_device:
        return fn(*args, **params)


def _as_array(be, res):
    """numpy turns 0-d results into scalars; keep them arrays."""
    if res.__class__ is be.array_type:
        return res
    return be.xp.asarray(res)


# -- backward contexts -------------------------------------------------------------------
class _RawCtx:
    """What a backward formula sees on the fast path: backend arrays, nothing recorded."""
    __slots__ = ("xp", "inputs", "out", "aux", "params", "need", "_kind")

    def __init__(self, node, need):
        be = node.backend
        self.xp = be.xp
        self._kind = be.kind
        self.inputs = [a._data if isinstance(a, ndarray) else a for a in node.inputs]
        self.out = node.out
        self.aux = node.aux
        self.params = node.params
        self.need = need

    def call(self, op, *args, **params):
        res = op.forward_impls[self._kind](self.xp, *args, **params)
        return res[0] if op.has_aux else res


class _GraphCtx:
    """The ``create_graph=True`` context: ndarrays and ``mxlite.numpy``, so it records."""
    __slots__ = ("xp", "inputs", "aux", "params", "need", "_node", "_out")

    def __init__(self, node, need):
        from . import numpy as mxnp  # upward use, only for higher-order gradients
        self.xp = mxnp
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


# -- the engine ----------------------------------------------------------------------------
_NOT_IN_GRAPH = (
    "Cannot differentiate node because it is not in a computational graph. You need to set "
    "is_recording to true or use autograd.record() to save computational graphs for backward. "
    "If you want to differentiate the same graph twice, you need to pass retain_graph=True "
    "to backward.")


def _sum_to(xp, g, shape):
    """Sum a broadcast gradient back to ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    return xp.reshape(g, shape)


def _as_list(x):
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
        if node.released:
            raise MXNetError(_NOT_IN_GRAPH)
        order.append(node)
        if node.inputs is not None:
            for a in node.inputs:
                if isinstance(a, ndarray) and a._node is not None:
                    stack.append(a._node)
    order.sort(key=_by_seq, reverse=True)
    return order


def _by_seq(node):
    return node.seq


def _head_gradient(h, hg):
    be = h._device.backend
    if hg is None:
        return be.xp.ones(h.shape, dtype=h.dtype)
    if not isinstance(hg, ndarray):
        raise TypeError(f"head gradient must be an ndarray, got {type(hg).__name__}")
    if hg.shape != h.shape:
        raise ValueError(f"head gradient of shape {hg.shape} given for a head of shape "
                         f"{h.shape}; they must match")
    if hg._device is not h._device:
        raise DeviceMismatchError(f"head gradient on {hg._device} for a head on {h._device}")
    return hg._data


def _run(heads, head_grads, retain_graph, create_graph, variables):
    """Propagate from ``heads``; return {(node, oidx): grad} for the gradients asked for.

    ``variables`` None means: every attached buffer (``backward``); else those arrays only.
    """
    heads = _as_list(heads)
    head_grads = _as_list(head_grads)
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
    for h, hg in zip(heads, head_grads):
        g = _head_gradient(h, hg)
        _accumulate(grads, h._node, h._oidx, wrap(g, h._device) if create_graph else g)

    results = {}
    ctx_type = _GraphCtx if create_graph else _RawCtx
    prev_rec = _state.recording
    _state.recording = create_graph
    try:
        for node in order:
            if needs is not None and not needs[node]:
                continue
            gs = grads.pop(node, None)
            if gs is None:
                continue
            if node in wanted_nodes:
                for i, g in enumerate(gs):
                    if g is not None and (node, i) in wanted:
                        results[(node, i)] = g
            op = node.op
            if op is None:
                continue
            inputs = node.inputs
            if needs is None:
                need = [isinstance(a, ndarray) and a._node is not None for a in inputs]
            else:
                need = [isinstance(a, ndarray) and needs.get(a._node, False) for a in inputs]
            if True in need:
                be = node.backend
                ctx = ctx_type(node, need)
                bwd = op.backward if create_graph else op.backward_impls[be.kind]
                g_in = gs[0] if op.nout == 1 else tuple(gs)
                in_grads = _on_gpu(be, bwd, (ctx, g_in), _NO_PARAMS) if be.kind \
                    else bwd(ctx, g_in)
                for a, gi, nd in zip(inputs, in_grads, need):
                    if not nd or gi is None:
                        continue
                    data = a._data
                    if not create_graph:
                        if gi.__class__ is not be.array_type:
                            gi = be.xp.asarray(gi)
                        if gi.dtype is not data.dtype and gi.dtype != data.dtype:
                            gi = gi.astype(data.dtype)
                    if gi.shape != data.shape:
                        gi = _sum_to(ctx.xp, gi, data.shape)
                    _accumulate(grads, a._node, a._oidx, gi)
            if not retain_graph:
                node.inputs = None
                node.out = None
                node.aux = None
    finally:
        _state.recording = prev_rec
    return results


def _accumulate(grads, node, oidx, g):
    slot = grads.get(node)
    if slot is None:
        if node.op is None or node.op.nout == 1:
            grads[node] = [g]
            return
        slot = grads[node] = [None] * node.op.nout
    prev = slot[oidx]
    slot[oidx] = g if prev is None else prev + g


def backward(heads, head_grads=None, retain_graph=False, train_mode=True):
    """Compute gradients of ``heads`` into every attached buffer (``.grad``).

    A non-scalar head gets an implicit gradient of ones (same as backward of its sum).
    """
    with _Scope(None, train_mode):
        results = _run(heads, head_grads, retain_graph, False, None)
    while results:
        (node, oidx), g = results.popitem()
        buf = node.bufs[oidx]
        target, req = buf[0], buf[1]
        data = target._data
        if req == "add":
            data += g
        elif (_getrefcount(g) == _ONLY_OURS and g.base is None and g.dtype == data.dtype
              and g.shape == data.shape and g.flags.c_contiguous):
            target._data = g  # a temporary nothing else holds (not even a view): take it
        else:
            target._device.backend.xp.copyto(data, g, casting="unsafe")
        buf[2] = True


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
    with _Scope(None, train_mode):
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
    return wrap(storage.zeros(v._device, v.shape, v.dtype), v._device)


# -- marking variables ---------------------------------------------------------------------
_GRAD_REQS = ("write", "add", "null")


def _check_req(grad_req):
    if grad_req not in _GRAD_REQS:
        raise ValueError(f"grad_req must be one of {_GRAD_REQS}, got {grad_req!r}")


def _mark(array, grad_buffer, grad_req):
    _check_req(grad_req)
    if array.dtype.kind not in "fc":
        raise TypeError(f"cannot differentiate with respect to an array of dtype {array.dtype}; "
                        "cast it to a floating type first (x.astype('float32'))")
    node = array._node
    if node is None or node.op is None:
        node = Node(None, None, None, None, None, array._device.backend)
        array._node = node
        array._oidx = 0
    if node.bufs is None:
        node.bufs = {}
    node.bufs[array._oidx] = [grad_buffer if grad_req != "null" else None, grad_req, False]


def mark_variables(variables, gradients, grad_reqs="write"):
    """Mark arrays as variables whose gradients go to the given buffers."""
    variables = _as_list(variables)
    gradients = _as_list(gradients)
    reqs = [grad_reqs] * len(variables) if isinstance(grad_reqs, str) else list(grad_reqs)
    if not len(variables) == len(gradients) == len(reqs):
        raise ValueError("variables, gradients and grad_reqs must have the same length")
    for v, g, r in zip(variables, gradients, reqs):
        _mark(v, g, r)


def _attach_grad(self, grad_req="write", stype=None):
    """Allocate a zero gradient buffer (resetting any earlier one) and mark as a variable.

    On an intermediate result inside ``record`` the gradient is kept and still flows on.
    """
    if stype not in (None, "default"):
        raise ValueError(f"only dense gradients are supported, got stype={stype!r}")
    buf = wrap(storage.zeros(self._device, self.shape, self.dtype), self._device)
    _mark(self, buf, grad_req)


def _drop_grad(self):
    node = self._node
    if node is not None and node.bufs:
        node.bufs.pop(self._oidx, None)
        if node.op is None and not node.bufs:
            self._node = None


def _grad_buf(self):
    node = self._node
    if node is None or not node.bufs or self._oidx not in node.bufs:
        return None
    return node.bufs[self._oidx][0]


def _fresh_grad_get(self):
    node = self._node
    return bool(node and node.bufs and node.bufs.get(self._oidx, (0, 0, False))[2])


def _fresh_grad_set(self, value):
    node = self._node
    if node is not None and node.bufs and self._oidx in node.bufs:
        node.bufs[self._oidx][2] = bool(value)


def _detach(self):
    return wrap(self._data, self._device)


def _backward_method(self, out_grad=None, retain_graph=False, train_mode=True):
    backward([self], [out_grad], retain_graph=retain_graph, train_mode=train_mode)


ndarray.attach_grad = _attach_grad
ndarray.drop_grad = _drop_grad
ndarray.grad = property(_grad_buf, doc="The gradient buffer, or None if none is attached.")
ndarray._fresh_grad = property(_fresh_grad_get, _fresh_grad_set)
ndarray.detach = _detach
ndarray.backward = _backward_method


# -- custom functions ----------------------------------------------------------------------
class Function:
    """A user-defined differentiable function (MXNet's ``autograd.Function``).

    Subclass and define ``forward(*inputs)`` and ``backward(*output_grads)`` over ndarrays;
    ``backward`` returns one gradient per input. Each instance is called once.
    """

    def __init__(self):
        self._used = False
        self.saved_tensors = ()

    def save_for_backward(self, *args):
        self.saved_tensors = args

    def __call__(self, *inputs):
        if self._used:
            raise MXNetError(f"{type(self).__name__} instance was already called; "
                             "create a new instance for each call")
        self._used = True
        with pause(_state.training):
            outputs = self.forward(*inputs)
        single = isinstance(outputs, ndarray)
        outs = (outputs,) if single else tuple(outputs)
        if _state.recording and any(isinstance(a, ndarray) and a._node is not None
                                    for a in inputs):
            dev = _device_of(inputs)
            fop = Op(type(self).__name__, None, _FunctionBackward(self, outs, dev),
                     nout=len(outs), anonymous=True)
            node = Node(fop, inputs, _NO_PARAMS, None, None, dev.backend)
            for i, o in enumerate(outs):
                o._node = node
                o._oidx = i
        return outputs

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, *output_grads):
        raise NotImplementedError


class _FunctionBackward:
    __slots__ = ("fn", "out_shapes", "device")

    def __init__(self, fn, outs, device):
        self.fn = fn
        self.out_shapes = [(o.shape, o.dtype) for o in outs]
        self.device = device

    def __call__(self, ctx, g):
        gs = (g,) if len(self.out_shapes) == 1 else g
        xp = self.device.backend.xp
        gs = tuple(xp.zeros(s, dtype=d) if x is None else x
                   for x, (s, d) in zip(gs, self.out_shapes))
        raw = isinstance(ctx, _RawCtx)
        if raw:
            gs = tuple(wrap(x, self.device) for x in gs)
            with pause(_state.training):
                res = self.fn.backward(*gs)
        else:
            res = self.fn.backward(*gs)
        res = (res,) if isinstance(res, ndarray) else tuple(res)
        if len(res) != len(ctx.inputs):
            raise MXNetError(f"{type(self.fn).__name__}.backward returned {len(res)} gradients "
                             f"for {len(ctx.inputs)} inputs; return one per forward input")
        if raw:
            return tuple(r._data if isinstance(r, ndarray) else r for r in res)
        return res
