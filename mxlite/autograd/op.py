"""The op protocol and its dispatch: ``Op`` (forward and backward side by side), the tape
entry ``Node``, and ``apply``, which runs an op on the backend of its inputs' device and
records a ``Node`` while recording.
"""
from ..base import DeviceMismatchError
from ..device import current_device
from ..ndarray import clock, ndarray, wrap
from .state import state as _state

__all__ = ["Op", "defop", "registered_op", "on_first_dispatch", "Node", "apply", "apply1",
           "apply2", "device_of", "on_gpu", "NO_PARAMS", "set_profile_hooks", "set_cast_policy",
           "cast_policy", "set_tracer", "tracer"]

# The profiler's slots, None while it is off so dispatch pays one check: ``_profile(op, be,
# raw_args, params)`` runs a forward, ``profile_backward(op, be, bwd, ctx, g)`` a backward.
_profile = None
profile_backward = None


# Mixed precision's slot (``mxlite.amp.init`` fills it): ``_cast_policy(op, args)`` gives the
# inputs ``op`` runs on (cast to its precision); None while AMP is off, so dispatch pays one check.
_cast_policy = None


# The graph tracer's slot (``mxlite.graph`` fills it while it traces a hybridized forward):
# ``_tracer(op, args, params, out)`` sees every op ``apply`` ran; None otherwise.
_tracer = None

# Not None while a cast policy or a tracer is installed: apply1/apply2 then take ``apply``,
# so their hot paths keep a single check.
_hooked = None


def set_cast_policy(policy):
    """Install (or, with None, remove) the cast policy every op's inputs pass through first."""
    global _cast_policy
    _cast_policy = policy
    _update_hooked()


def set_tracer(tracer):
    """Install (or, with None, remove) the tracer that sees every op run; returns the one it
    replaces (tracers nest)."""
    global _tracer
    previous, _tracer = _tracer, tracer
    _update_hooked()
    return previous


def tracer():
    """The installed tracer, or None."""
    return _tracer


def _update_hooked():
    global _hooked
    _hooked = True if (_cast_policy is not None or _tracer is not None) else None


def cast_policy():
    """The installed cast policy, or None."""
    return _cast_policy


def set_profile_hooks(forward, backward):
    """Install (or, with None, remove) the profiler's forward and backward hooks."""
    global _profile, profile_backward
    _profile, profile_backward = forward, backward


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
                 "save_out", "differentiable", "moves_device", "effectful", "seed_arg",
                 "aux_cache", "elementwise", "doc")

    def __init__(self, name, forward, backward=None, nout=1, has_aux=False, save_out=False,
                 moves_device=False, effectful=False, seed_arg=None, aux_cache=False,
                 anonymous=False):
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
        # For graphs (mxlite.graph): an effectful op writes state (running statistics), so
        # no pass may drop or merge it; input ``seed_arg`` is a seed drawn per call, which a
        # replay draws anew; ``aux_cache``: the aux only saves the backward work (it may be
        # None), so a graph short of memory drops it; ``elementwise`` is (arity, numpy
        # function name or None) for elementwise table rows, which fusion may chain.
        self.effectful = effectful
        self.seed_arg = seed_arg
        self.aux_cache = aux_cache
        self.elementwise = None
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
        self.seq = next(clock)  # the write clock: backward spots later in-place writes
        self.backend = backend
        self.bufs = None

    @property
    def released(self):
        return self.op is not None and self.inputs is None


NO_PARAMS = {}


def _host_mix(a, b):
    return a.is_host and b.is_host and (a.device_type != "cpu" or b.device_type != "cpu")


def device_of(args):
    """The device an op on ``args`` runs on: its first array's. Arrays on other devices are
    refused, except host arrays beside pinned or shared ones (MXNet mixes those)."""
    dev = None
    for a in args:
        if isinstance(a, ndarray):
            if dev is None:
                dev = a._device
            elif a._device is not dev and not _host_mix(dev, a._device):
                raise DeviceMismatchError(
                    f"inputs on different devices ({dev} and {a._device}) in one operation; "
                    f"move them to one device with .to_device() first")
    return dev or current_device()


def apply(op, args, params=NO_PARAMS):
    """Run ``op`` on ``args`` (ndarrays and constants) and record it when recording."""
    if _cast_policy is not None:
        args = _cast_policy(op, args)
    dev = None
    raw = []
    in_graph = False
    for a in args:
        if isinstance(a, ndarray):
            if a._device is not dev:
                if dev is None:
                    dev = a._device
                else:
                    device_of(args)
            if a._node is not None:
                in_graph = True
            raw.append(a._data)
        else:
            raw.append(a)
    if dev is None:
        dev = current_device()
    be = dev._backend or dev.backend
    if _profile is not None:
        res = _profile(op, be, raw, params)
    elif be.kind:
        res = dispatch_scoped(be, op.forward_impls, (be.xp, *raw), params)
    else:
        res = op.forward_impls[0](be.xp, *raw, **params)
    aux = None
    if op.has_aux:
        res, aux = res
    if op.moves_device:  # the result belongs to the target device's backend
        out_dev = params["device"]
        out_be = out_dev._backend or out_dev.backend
    else:
        out_dev, out_be = dev, be
    if op.nout == 1:
        out = wrap(_as_array(out_be, res), out_dev)
        outs = (out,)
    else:
        out = tuple(wrap(_as_array(out_be, r), out_dev) for r in res)
        outs = out
    if in_graph and _state.recording and op.differentiable:
        node = Node(op, args, params, res if op.save_out else None, aux, be)
        for i, o in enumerate(outs):
            o._node = node
            o._oidx = i
    if _tracer is not None:
        _tracer(op, args, params, out)
    return out


def apply1(op, x, params=NO_PARAMS):
    """``apply`` for the common case of one ndarray input and one output (hot path)."""
    if _hooked is not None:
        return apply(op, (x,), params)
    dev = x._device
    be = dev._backend or dev.backend
    if _profile is not None:
        res = _profile(op, be, (x._data,), params)
    elif be.kind:
        res = dispatch_scoped(be, op.forward_impls, (be.xp, x._data), params)
    else:
        res = op.forward_impls[0](be.xp, x._data, **params)
    if res.__class__ is not be.array_type:
        res = be.asarray(res)  # inside the device's scope
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
    if _hooked is not None:
        return apply(op, (a, b))
    dev = a._device
    be = dev._backend or dev.backend
    if b.__class__ is ndarray:
        if b._device is not dev:
            device_of((a, b))
        bd = b._data
        in_graph = a._node is not None or b._node is not None
    else:
        bd = b
        in_graph = a._node is not None
    if _profile is not None:
        res = _profile(op, be, (a._data, bd), NO_PARAMS)
    elif be.kind:
        res = dispatch_scoped(be, op.forward_impls, (be.xp, a._data, bd), NO_PARAMS)
    else:
        res = op.forward_impls[0](be.xp, a._data, bd)
    if res.__class__ is not be.array_type:
        res = be.asarray(res)  # inside the device's scope
    out = _new(ndarray)
    out._data = res
    out._device = dev
    out._oidx = 0
    if in_graph and _state.recording and op.differentiable:
        out._node = Node(op, (a, b), NO_PARAMS, res if op.save_out else None, None, be)
    else:
        out._node = None
    return out


_new = object.__new__


_first_dispatch = {}  # backend kind -> hook run once, before the first op on that kind


def on_first_dispatch(kind, hook):
    """Run ``hook()`` once, before the first op dispatched to a backend of ``kind``: the op
    layer attaches the GPU kernels this way, so no lower layer rewrites ops."""
    _first_dispatch[kind] = hook


def dispatch_scoped(be, impls, args, params):
    """``impls[be.kind]`` called inside the backend's scope (the CPU backend needs none, so the
    hot paths call it only for other kinds; CuPy needs the array's GPU current)."""
    if _first_dispatch:
        hook = _first_dispatch.pop(be.kind, None)
        if hook is not None:
            hook()
    with be.scope():
        return impls[be.kind](*args, **params)


def on_gpu(be, fn, args, params):
    """``fn`` called inside the backend's scope (backward functions, already dispatched)."""
    with be.scope():
        return fn(*args, **params)


def _as_array(be, res):
    """numpy turns 0-d results into scalars; keep them arrays."""
    if res.__class__ is be.array_type:
        return res
    return be.asarray(res)  # inside the device's scope
