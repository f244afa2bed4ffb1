"""Shape and data-movement ops, indexing, dtype casts and device transfers."""
import numbers as _numbers
import operator as _operator
from collections import namedtuple

import numpy as _np

from ..autograd import Op, apply, defop, is_recording
from ..autograd.op import Node
from ..backend.gpu import check_gpu_dtype
from ..device import Device
from ..ndarray import as_raw, as_raw_key, ndarray, wrap
from . import AxisError, ShapeError, add_at, as_axes, finish_out, on_inputs_device, to_nd

__all__ = ["reshape", "transpose", "expand_dims", "squeeze", "broadcast_to", "concatenate",
           "stack", "swapaxes", "moveaxis", "ravel", "copy", "getitem", "astype",
           "to_device", "rollaxis", "broadcast_arrays", "atleast_1d", "atleast_2d",
           "atleast_3d", "vstack", "row_stack", "hstack", "dstack", "column_stack", "split",
           "array_split", "hsplit", "vsplit", "dsplit", "tile", "repeat", "flip", "fliplr",
           "flipud", "roll", "rot90", "pad", "take", "take_along_axis", "sort", "argsort",
           "unique", "nonzero", "flatnonzero", "argwhere", "searchsorted", "meshgrid",
           "diff", "append", "unique_all", "unique_counts", "unique_inverse", "unique_values",
           "unravel_index"]


@defop("reshape")
class _reshape:
    def forward(xp, x, shape, order="C"):
        return xp.reshape(x, shape, order=order)

    def backward(ctx, g):
        return (ctx.xp.reshape(g, ctx.inputs[0].shape, order=ctx.params.get("order", "C")),)




def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(a, newshape=None, order="C", **kwargs):
    """numpy's reshape (one -1 allowed); ``shape=`` is accepted as in MXNet."""
    newshape = kwargs.pop("shape", newshape)
    if kwargs:
        raise TypeError(f"reshape got unexpected arguments {sorted(kwargs)}")
    if isinstance(newshape, int):
        newshape = (newshape,)
    a = to_nd(a)
    newshape = tuple(newshape)
    try:
        _check_reshape(a.shape, newshape)
    except ValueError as err:
        raise ShapeError(f"cannot reshape array of shape {a.shape} into shape {newshape}: "
                         f"{err}") from None
    return apply(_reshape, (a,), {"shape": newshape, "order": order})


def _check_reshape(old, new):
    size = 1
    for s in old:
        size *= s
    unknown = [i for i, s in enumerate(new) if s == -1]
    if len(unknown) > 1:
        raise ValueError("can only specify one unknown dimension (-1)")
    known = 1
    for s in new:
        if s != -1:
            if s < 0:
                raise ValueError(f"negative dimension {s}")
            known *= s
    if unknown:
        if known == 0 or size % known:
            raise ValueError(f"{size} elements do not fill it")
    elif known != size:
        raise ValueError(f"{size} elements do not fit {known}")


@defop("transpose")
class _transpose:
    def forward(xp, x, axes=None):
        return xp.transpose(x, axes)

    def backward(ctx, g):
        axes = ctx.params.get("axes")
        if axes is None:
            return (ctx.xp.transpose(g),)
        return (ctx.xp.transpose(g, tuple(_np.argsort(axes))),)




def _axis_in_range(axis, ndim):
    """``axis`` as a non-negative index, raising AxisError (numpy's, MXNet's MXNetError) outside [-ndim, ndim)."""
    axis = _operator.index(axis)
    if not -ndim <= axis < ndim:
        raise AxisError(axis, ndim)
    return axis % ndim


def transpose(a, axes=None):
    a = to_nd(a)
    if axes is not None:
        axes = tuple(_axis_in_range(ax, a.ndim) for ax in axes)
        if sorted(axes) != list(range(a.ndim)):
            raise ValueError(f"axes {axes} are not a permutation of an array of dimension "
                             f"{a.ndim}")
    return apply(_transpose, (a,), {"axes": axes})


def swapaxes(a, axis1, axis2):
    a = to_nd(a)
    axes = list(range(a.ndim))
    i, j = as_axes(axis1, a.ndim)[0], as_axes(axis2, a.ndim)[0]
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, tuple(axes))


def moveaxis(a, source, destination):
    a = to_nd(a)
    src = [_axis_in_range(s, a.ndim) for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [_axis_in_range(d, a.ndim) for d in (destination if isinstance(destination, (tuple, list))
                                               else (destination,))]
    if len(src) != len(dst):
        raise ValueError("source and destination must have the same number of axes")
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, tuple(order))


def expand_dims(a, axis):
    a = to_nd(a)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    nd = a.ndim + len(axes)
    axes = sorted(ax + nd if ax < 0 else ax for ax in axes)
    shape = list(a.shape)
    for ax in axes:
        if not 0 <= ax < nd:
            raise ValueError(f"axis {axis} is out of bounds for the result of dimension {nd}")
        shape.insert(ax, 1)
    return apply(_reshape, (a,), {"shape": tuple(shape)})


def squeeze(a, axis=None):
    a = to_nd(a)
    if axis is None:
        shape = tuple(s for s in a.shape if s != 1)
    elif a.ndim == 0 and not isinstance(axis, (tuple, list)) and axis in (0, -1):
        shape = ()  # numpy: a 0-d array takes the int axis 0 or -1
    else:
        axes = as_axes(axis, a.ndim)
        for ax in axes:
            if a.shape[ax] != 1:
                raise ValueError(f"cannot squeeze axis {ax} of size {a.shape[ax]} "
                                 f"(array shape {a.shape})")
        shape = tuple(s for i, s in enumerate(a.shape) if i not in axes)
    return apply(_reshape, (a,), {"shape": shape})


def ravel(a, order="C"):
    return reshape(a, (-1,), order=order)


@defop("broadcast_to")
class _broadcast_to:
    def forward(xp, x, shape):
        return xp.broadcast_to(x, shape)

    def backward(ctx, g):
        return (g,)  # the engine sums the broadcast axes back to the input's shape




def broadcast_to(array, shape):
    """numpy's broadcast_to; MXNet's -2 in ``shape`` keeps the input's size there (sizes
    aligned from the right)."""
    array = to_nd(array)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if -2 in shape:
        lead = len(shape) - array.ndim
        if lead < 0 or -2 in shape[:lead]:
            raise ValueError(f"broadcast_to: -2 in shape {shape} must sit over an axis of the "
                             f"input (shape {array.shape})")
        shape = tuple(array.shape[i - lead] if s == -2 else s for i, s in enumerate(shape))
    try:
        _np.broadcast_shapes(array.shape, shape)
        if len(shape) < array.ndim:
            raise ValueError
    except ValueError:
        raise ValueError(f"cannot broadcast an array of shape {array.shape} to shape "
                         f"{shape}") from None
    return apply(_broadcast_to, (array,), {"shape": shape})


@defop("concatenate")
class _concatenate:
    def forward(xp, *xs, axis=0):
        return xp.concatenate(xs, axis=axis)

    def backward(ctx, g):
        axis = ctx.params.get("axis", 0)
        xs = ctx.inputs
        ax = axis % g.ndim
        grads = []
        start = 0
        for x, need in zip(xs, ctx.need):
            stop = start + x.shape[ax]
            if need:
                index = (slice(None),) * ax + (slice(start, stop),)
                grads.append(ctx.call(_getitem, g, key=index))
            else:
                grads.append(None)
            start = stop
        return tuple(grads)




def _arrays(seq):
    seq = list(seq)
    if not seq:
        raise ValueError("need at least one array")
    like = next((a for a in seq if isinstance(a, ndarray)), None)
    return [to_nd(a, like) for a in seq]


def concatenate(seq, axis=0, out=None):
    xs = _arrays(seq)
    if axis is None:
        xs = [ravel(x) for x in xs]
        axis = 0
    nd = xs[0].ndim
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    ax = as_axes(axis, nd)[0]
    for x in xs:
        if x.ndim != nd or any(s != t for i, (s, t) in enumerate(zip(x.shape, xs[0].shape))
                               if i != ax):
            raise ValueError("all input arrays must have the same shape except on axis "
                             f"{axis}; got shapes {[y.shape for y in xs]}")
    return finish_out(apply(_concatenate, tuple(xs), {"axis": ax}), out)


def stack(arrays, axis=0, out=None):
    xs = _arrays(arrays)
    shape = xs[0].shape
    if any(x.shape != shape for x in xs):
        raise ValueError(f"all input arrays must have the same shape; got {[x.shape for x in xs]}")
    ax = as_axes(axis, len(shape) + 1)[0]
    return concatenate([expand_dims(x, ax) for x in xs], axis=ax, out=out)


# -- indexing -----------------------------------------------------------------------------
def _is_basic(key):
    """True when ``key`` has no integer-array part, so no element is picked twice."""
    parts = key if isinstance(key, tuple) else (key,)
    for k in parts:
        if hasattr(k, "dtype") and k.dtype.kind in "iu" and getattr(k, "ndim", 0) > 0:
            return False
    return True


@defop("getitem")
class _getitem:
    def forward(xp, x, key):
        return x[key]

    def backward(ctx, g):
        key, shape = ctx.params["key"], ctx.inputs[0].shape
        if _is_basic(key):
            return (ctx.slice_grad(_scatter_add, g, key, shape),)
        return (ctx.call(_scatter_add, g, key=key, shape=shape),)


@defop("scatter_add")
class _scatter_add:
    """Zeros of ``shape`` with ``g`` added at ``key``; repeated indices accumulate."""

    def forward(xp, g, key, shape):
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(key):
            out[key] = g
        else:
            add_at(xp, out, key, g)
        return out

    def backward(ctx, g):
        return (ctx.call(_getitem, g, key=ctx.params["key"]),)




def _d_assigned(ctx, g):
    return (ctx.call(_getitem, g, key=ctx.params["key"]),)


_ASSIGNED = Op("index_assign", None, _d_assigned)


def record_assignment(target, raw_key, value):
    """After ``target[key] = value`` (written in place) while recording: ``target`` becomes
    the output of a node over ``value``, whose gradient is the head's at ``key`` (MXNet
    records the assignment when ``target`` is not on the tape; its old values are
    constants)."""
    if is_recording() and isinstance(value, ndarray) and value._node is not None:
        target._node = Node(_ASSIGNED, (value,), {"key": raw_key}, None, None,
                            target._device.backend)
        target._oidx = 0


def getitem(a, key):
    """``a[key]`` for every key numpy accepts; the gradient scatter-adds."""
    key = as_raw_key(key, a._device)
    be = a._device.backend
    if be.xp is not _np:  # host index arrays go to the device (CuPy indexes with its own)
        key = tuple(be.asarray(k) if isinstance(k, _np.ndarray) else k for k in key) \
            if isinstance(key, tuple) else (be.asarray(key) if isinstance(key, _np.ndarray)
                                            else key)
    return apply(_getitem, (a,), {"key": key})


# -- copies, casts, transfers -------------------------------------------------------------
@defop("copy")
class _copy:
    def forward(xp, x):
        return xp.array(x, copy=True)

    def backward(ctx, g):
        return (g,)


def copy(a):
    return apply(_copy, (to_nd(a),))


@defop("astype")
class _astype:
    def forward(xp, x, dtype):
        if xp is not _np:
            check_gpu_dtype(dtype, "a GPU")
        return x.astype(dtype)

    def backward(ctx, g):
        return (g.astype(ctx.inputs[0].dtype),)




def astype(a, dtype, copy=True):
    """Cast; the gradient is cast back to ``a``'s dtype, integer and bool included (MXNet)."""
    dtype = _np.dtype(dtype)
    if not copy and a.dtype == dtype:
        return a
    return apply(_astype, (a,), {"dtype": dtype})


@defop("to_device", moves_device=True)
class _to_device:
    def forward(xp, x, device, src):
        be, from_host = device.backend, src.backend.host_memory
        if be.host_memory:
            return x.copy() if from_host else src.backend.to_host(x)
        if from_host:
            return be.asarray(x)
        with be.scope():  # GPU to GPU: CuPy's copy lands on the current GPU (asarray would not copy)
            return x.copy()

    def backward(ctx, g):
        p = ctx.params
        return (ctx.call(_to_device, g, device=p["src"], src=p["device"]),)




def to_device(a, device):
    """A copy of ``a`` on ``device`` (``a`` itself if already there); differentiable."""
    device = Device(device)
    if a._device is device:
        return a
    return apply(_to_device, (a,), {"device": device, "src": a._device})


# -- more shape ops ----------------------------------------------------------------------
def rollaxis(a, axis, start=0):
    a = to_nd(a)
    nd = a.ndim
    axis = as_axes(axis, nd)[0]
    start = start + nd if start < 0 else start
    if not 0 <= start <= nd:
        raise ValueError(f"rollaxis: start={start} is out of range for {nd} dimensions")
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start)


def broadcast_arrays(*args):
    xs = _arrays(args)
    shape = _np.broadcast_shapes(*[x.shape for x in xs])
    return [x if x.shape == shape else broadcast_to(x, shape) for x in xs]


def _atleast(arys, nd):
    res = []
    for a in arys:
        a = to_nd(a)
        if a.ndim < nd:
            if nd == 3 and a.ndim == 2:
                shape = a.shape + (1,)
            elif nd == 3 and a.ndim == 1:
                shape = (1,) + a.shape + (1,)
            else:
                shape = (1,) * (nd - a.ndim) + a.shape
            a = reshape(a, shape)
        res.append(a)
    return res[0] if len(res) == 1 else res


def atleast_1d(*arys):
    return _atleast(arys, 1)


def atleast_2d(*arys):
    return _atleast(arys, 2)


def atleast_3d(*arys):
    """numpy's rule: (N,) becomes (1, N, 1), (M, N) becomes (M, N, 1)."""
    return _atleast(arys, 3)


def _listed(res):
    return res if isinstance(res, list) else [res]


def vstack(tup, out=None):
    return concatenate(_listed(atleast_2d(*_arrays(tup))), axis=0, out=out)


row_stack = vstack


def hstack(tup, out=None):
    xs = _listed(atleast_1d(*_arrays(tup)))
    return concatenate(xs, axis=0 if xs[0].ndim == 1 else 1, out=out)


def dstack(tup):
    return concatenate(_listed(atleast_3d(*_arrays(tup))), axis=2)


def column_stack(tup):
    xs = [reshape(x, (-1, 1)) if x.ndim < 2 else x for x in _arrays(tup)]
    return concatenate(xs, axis=1)


class _Split:
    """Pieces of ``x`` between ``bounds`` along ``axis``; unused pieces get no gradient."""
    def forward(xp, x, bounds, axis):
        lead = (slice(None),) * axis
        pieces = tuple(x[lead + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:]))
        return pieces if len(pieces) > 1 else pieces[0]  # a one-output op returns its array

    def backward(ctx, gs):
        gs = gs if isinstance(gs, tuple) else (gs,)
        x = ctx.inputs[0]
        bounds, axis = ctx.params["bounds"], ctx.params["axis"]
        lead = (slice(None),) * axis
        total = None
        for g, lo, hi in zip(gs, bounds[:-1], bounds[1:]):
            if g is None:
                continue
            part = ctx.call(_scatter_add, g, key=lead + (slice(lo, hi),), shape=x.shape)
            total = part if total is None else total + part
        return (total,)


_split_ops = {}


def _split_op(n):
    if n not in _split_ops:
        _split_ops[n] = Op(f"split[{n}]", _Split.forward, _Split.backward, nout=n)
    return _split_ops[n]


def _split(a, indices_or_sections, axis, even):
    a = to_nd(a)
    ax = as_axes(axis, a.ndim)[0]
    n = a.shape[ax]
    if isinstance(indices_or_sections, (int, _np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"number of sections must be positive, got {sections}")
        if even and n % sections:
            raise ValueError(f"array split does not result in an equal division: axis {axis} "
                             f"of length {n} into {sections} sections; use array_split")
        size, extra = divmod(n, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + size + (1 if i < extra else 0))
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]  # sliced as numpy does
    res = apply(_split_op(len(bounds) - 1), (a,), {"bounds": tuple(bounds), "axis": ax})
    return list(res) if isinstance(res, tuple) else [res]


def split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, True)


def array_split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, False)


def _split_needs(name, ary, ndim):
    ary = to_nd(ary)
    if ary.ndim < ndim:
        raise ValueError(f"{name} only works on arrays of {ndim} or more dimensions, got "
                         f"shape {ary.shape}")
    return ary


def hsplit(ary, indices_or_sections):
    ary = _split_needs("hsplit", ary, 1)
    return split(ary, indices_or_sections, axis=0 if ary.ndim == 1 else 1)


def vsplit(ary, indices_or_sections):
    return split(_split_needs("vsplit", ary, 2), indices_or_sections, axis=0)


def dsplit(ary, indices_or_sections):
    return split(_split_needs("dsplit", ary, 3), indices_or_sections, axis=2)


def tile(A, reps):
    """numpy's tile as broadcast + reshape, so the gradient sums the copies."""
    A = to_nd(A)
    reps = tuple(_operator.index(r) for r in ((reps,) if _np.ndim(reps) == 0 else reps))
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    nd = max(A.ndim, len(reps))
    shape = (1,) * (nd - A.ndim) + A.shape
    reps = (1,) * (nd - len(reps)) + reps
    x = reshape(A, tuple(v for s in shape for v in (1, s)))
    x = broadcast_to(x, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(x, tuple(r * s for r, s in zip(reps, shape)))


def repeat(a, repeats, axis=None):
    """numpy's repeat with a correct gradient (sums the copies; MXNet's is all zeros)."""
    a = to_nd(a)
    if axis is None:
        a = ravel(a)
        axis = 0
    ax = as_axes(axis, a.ndim)[0]
    if isinstance(repeats, ndarray):
        repeats = repeats.asnumpy()
    counts = _np.asarray(repeats)
    if counts.shape == (1,):  # one count for every entry, as numpy broadcasts it
        counts = counts[0]
    if counts.ndim == 0:
        r = int(counts)
        if r < 0:
            raise ValueError(f"repeats may not be negative, got {r}")
        x = expand_dims(a, ax + 1)
        x = broadcast_to(x, a.shape[:ax + 1] + (r,) + a.shape[ax + 1:])
        return reshape(x, a.shape[:ax] + (a.shape[ax] * r,) + a.shape[ax + 1:])
    if counts.shape != (a.shape[ax],):
        raise ValueError(f"repeats of shape {counts.shape} do not match axis {axis} of length "
                         f"{a.shape[ax]}")
    idx = _np.repeat(_np.arange(a.shape[ax]), counts)
    return take(a, idx, axis=ax)


def flip(m, axis=None):
    m = to_nd(m)
    axes = as_axes(axis, m.ndim)
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None)
                            for i in range(m.ndim)))


def fliplr(m):
    m = to_nd(m)
    if m.ndim < 2:
        raise ValueError(f"fliplr needs at least 2 dimensions, got shape {m.shape}")
    return flip(m, 1)


def flipud(m):
    m = to_nd(m)
    if m.ndim < 1:
        raise ValueError("flipud needs at least 1 dimension")
    return flip(m, 0)


@defop("roll")
class _roll:
    def forward(xp, x, shift, axis):
        return xp.roll(x, shift, axis)

    def backward(ctx, g):
        shift = ctx.params["shift"]
        back = tuple(-s for s in shift) if isinstance(shift, tuple) else -shift
        return (ctx.xp.roll(g, back, ctx.params["axis"]),)




def roll(a, shift, axis=None):
    a = to_nd(a)
    if isinstance(shift, (list, tuple)):
        shift = tuple(int(s) for s in shift)
    if isinstance(axis, list):
        axis = tuple(axis)
    return apply(_roll, (a,), {"shift": shift, "axis": axis})


def rot90(m, k=1, axes=(0, 1)):
    m = to_nd(m)
    if len(axes) != 2 or m.ndim < 2:
        raise ValueError(f"rot90 needs 2 axes of an array with at least 2 dimensions; got "
                         f"axes={axes} for shape {m.shape}")
    a0, a1 = (ax % m.ndim for ax in axes)
    if a0 == a1:
        raise ValueError("rot90: the two axes must differ")
    k %= 4
    if k == 0:
        return copy(m)
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(m.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(m, a1), tuple(perm))
    return flip(transpose(m, tuple(perm)), a1)


@defop("pad")
class _pad_constant:
    def forward(xp, x, pad_width, value):
        return xp.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(ctx, g):
        x = ctx.inputs[0]
        key = tuple(slice(lo, lo + n) for (lo, _), n in zip(ctx.params["pad_width"], x.shape))
        return (ctx.call(_getitem, g, key=key),)




def pad(array, pad_width, mode="constant", constant_values=0, reflect_type="even",
        **kwargs):
    """numpy's pad for modes constant, edge, reflect, symmetric and wrap; ``reflect_type``
    'odd' mirrors reflect and symmetric through the edge value (2 * edge - reflection).

    The non-constant modes gather rows by index along each axis, so the gradient
    scatter-adds every copy back to its source."""
    if kwargs:
        raise TypeError(f"pad got unsupported arguments {sorted(kwargs)}")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"pad: reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    array = to_nd(array)
    widths = _np.broadcast_to(_np.asarray(pad_width, dtype=_np.int64), (array.ndim, 2))
    widths = tuple((int(lo), int(hi)) for lo, hi in widths)
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError(f"pad widths must be non-negative, got {pad_width}")
    if mode == "constant":
        if isinstance(constant_values, ndarray):
            constant_values = constant_values.asnumpy()
        return apply(_pad_constant, (array,), {"pad_width": widths, "value": constant_values})
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise ValueError(f"pad mode {mode!r} is not supported; use constant, edge, reflect, "
                         "symmetric or wrap")
    odd = reflect_type == "odd" and mode in ("reflect", "symmetric")
    res = array
    for ax, (lo, hi) in enumerate(widths):
        if lo or hi:
            if array.shape[ax] == 0:
                raise ValueError(f"cannot pad an empty axis {ax} with mode {mode!r}")
            if odd:
                res = _pad_odd(res, ax, lo, hi, mode)
            else:
                idx = _np.pad(_np.arange(array.shape[ax]), (lo, hi), mode=mode)
                res = take(res, idx, axis=ax)
    return res if res is not array else copy(array)


def _pad_odd(res, ax, lo, hi, mode):
    """Odd reflection along ``ax``, in rounds of at most one reflection per side as numpy
    pads (a wider pad reflects the already padded array, through its new edge)."""
    while lo or hi:
        n = res.shape[ax]
        room = n if mode == "symmetric" else max(n - 1, 1)
        step_lo, step_hi = min(lo, room), min(hi, room)
        idx = _np.pad(_np.arange(n), (step_lo, step_hi), mode=mode if n > 1 else "edge")
        mirrored = take(res, idx, axis=ax)
        sign = _np.ones(len(idx), dtype=res.dtype)
        sign[:step_lo] = sign[step_lo + n:] = -1
        edge = _np.zeros(len(idx), dtype=_np.int64)
        edge[step_lo + n:] = n - 1
        shape = [1] * res.ndim
        shape[ax] = len(idx)
        be = res._device.backend
        # pads: 2 * edge - mirrored; the original rows: mirrored (times 1, plus 0 * edge)
        sign_nd = wrap(be.asarray(sign.reshape(shape)), res._device)
        twice_nd = wrap(be.asarray((1 - sign.reshape(shape))), res._device)
        res = mirrored * sign_nd + take(res, edge, axis=ax) * twice_nd
        lo, hi = lo - step_lo, hi - step_hi
    return res


@on_inputs_device
def take(a, indices, axis=None, mode="raise"):
    """Gather along ``axis`` (flattened when None); modes raise, wrap and clip."""
    a = to_nd(a)
    if axis is None:
        a = ravel(a)
        axis = 0
    ax = as_axes(axis, a.ndim)[0]
    n = a.shape[ax]
    xp = a._device.backend.xp
    idx = indices._data if isinstance(indices, ndarray) else a._device.backend.asarray(indices)
    if idx.dtype.kind not in "iu":
        if idx.dtype.kind != "f":
            raise TypeError(f"take: indices must be integers, got {idx.dtype}")
        idx = idx.astype(_np.int64)
    if mode == "wrap":
        idx = xp.mod(idx, n) if n else idx
    elif mode == "clip":
        idx = xp.clip(idx, 0, max(n - 1, 0))
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return apply(_getitem, (a,), {"key": (slice(None),) * ax + (idx,)})


@on_inputs_device
def take_along_axis(arr, indices, axis):
    """Gather along ``axis``; the gradient scatter-adds (repeated indices accumulate)."""
    arr = to_nd(arr)
    if axis is None:
        arr = ravel(arr)
        axis = 0
    ax = as_axes(axis, arr.ndim)[0]
    xp = arr._device.backend.xp
    idx = indices._data if isinstance(indices, ndarray) else arr._device.backend.asarray(indices)
    if idx.ndim != arr.ndim:
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} must have as many "
                         f"dimensions as arr of shape {arr.shape}")
    idx = xp.where(idx < 0, idx + arr.shape[ax], idx)
    key = []
    for i in range(arr.ndim):
        if i == ax:
            key.append(idx)
        else:
            shape = [1] * arr.ndim
            shape[i] = idx.shape[i]
            key.append(xp.arange(idx.shape[i]).reshape(shape))
    return apply(_getitem, (arr,), {"key": tuple(key)})


@defop("argsort")
class _argsort:
    def forward(xp, x, axis, kind, descending):
        if descending:  # sort the reversed array so equal values keep their index order
            order = xp.flip(xp.argsort(xp.flip(x, axis), axis=axis, kind=kind), axis)
            return (x.shape[axis] - 1) - order
        return xp.argsort(x, axis=axis, kind=kind)




def _sort_args(descending, stable, kind):
    """MXNet 2.x's positional order is (a, axis, descending, stable); numpy's is (a, axis,
    kind, order): a string in the third place is numpy's ``kind``."""
    if isinstance(descending, str):
        descending, kind = False, descending
    return bool(descending), stable, kind


def argsort(a, axis=-1, descending=False, stable=None, kind=None, order=None):
    """Indices that sort ``a`` (int64); not differentiable. Stable unless ``kind`` names
    another sort (MXNet 2.x: ``stable=True`` by default)."""
    a = to_nd(a)
    descending, stable, kind = _sort_args(descending, stable, kind)
    if order is not None:
        raise NotImplementedError("argsort(order=...) applies to structured arrays only")
    if axis is None:
        a = ravel(a)
        axis = 0
    if stable or (stable is None and kind is None):
        kind = "stable"
    return apply(_argsort, (a,), {"axis": axis, "kind": kind, "descending": descending})


def sort(a, axis=-1, descending=False, stable=None, kind=None, order=None):
    """Sorted values, gathered with argsort so the gradient flows back to the sources."""
    a = to_nd(a)
    descending, stable, kind = _sort_args(descending, stable, kind)
    if axis is None:
        a = ravel(a)
        axis = -1
    idx = argsort(a, axis=axis, kind=kind, order=order, descending=descending, stable=stable)
    return take_along_axis(a, idx, axis=axis)


def _host_result(a, res):
    return wrap(a._device.backend.asarray(res), a._device)


@on_inputs_device
def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None):
    """numpy's unique (not differentiable), computed on the array's device."""
    ar = to_nd(ar)
    xp = ar._device.backend.xp
    res = xp.unique(ar._data, return_index=return_index, return_inverse=return_inverse,
                    return_counts=return_counts, axis=axis)
    if isinstance(res, tuple):
        return tuple(wrap(r, ar._device) for r in res)
    return wrap(res, ar._device)


UniqueAllResult = namedtuple("UniqueAllResult", "values indices inverse_indices counts")
UniqueCountsResult = namedtuple("UniqueCountsResult", "values counts")
UniqueInverseResult = namedtuple("UniqueInverseResult", "values inverse_indices")


def _unique_of_all(x, **flags):
    """unique of the flattened ``x``, with the inverse (if asked) in ``x``'s shape."""
    x = to_nd(x)
    res = unique(ravel(x), **flags)
    if flags.get("return_inverse"):
        res = list(res)
        res[-2 if flags.get("return_counts") else -1] = \
            reshape(res[-2 if flags.get("return_counts") else -1], x.shape)
    return res


def unique_all(x):
    """The Array API's unique_all (numpy 2): values, first indices, inverse, counts."""
    return UniqueAllResult(*_unique_of_all(x, return_index=True, return_inverse=True,
                                           return_counts=True))


def unique_counts(x):
    return UniqueCountsResult(*_unique_of_all(x, return_counts=True))


def unique_inverse(x):
    return UniqueInverseResult(*_unique_of_all(x, return_inverse=True))


def unique_values(x):
    return unique(ravel(to_nd(x)))


@on_inputs_device
def unravel_index(indices, shape, order="C"):
    """Flat indices to a tuple of coordinate arrays (int64), as numpy; not differentiable."""
    if isinstance(indices, _numbers.Integral):
        return _np.unravel_index(indices, shape, order=order)
    indices = to_nd(indices)
    if indices.dtype.kind not in "iu":
        indices = wrap(indices._data.astype(_np.int64), indices._device)
    size = int(_np.prod(shape))
    xp = indices._device.backend.xp
    if indices.size and (int(xp.min(indices._data)) < 0 or int(xp.max(indices._data)) >= size):
        raise ValueError(f"unravel_index: indices must be in [0, {size}) for shape "
                         f"{tuple(shape)}")
    return tuple(wrap(c.astype(_np.int64), indices._device)
                 for c in xp.unravel_index(indices._data, shape, order=order))


@on_inputs_device
def nonzero(a):
    a = to_nd(a)
    return tuple(wrap(i, a._device) for i in a._device.backend.xp.nonzero(a._data))


@on_inputs_device
def flatnonzero(a):
    a = to_nd(a)
    return wrap(a._device.backend.xp.flatnonzero(a._data), a._device)


@on_inputs_device
def argwhere(a):
    a = to_nd(a)
    return wrap(a._device.backend.xp.argwhere(a._data), a._device)


@on_inputs_device
def searchsorted(a, v, side="left", sorter=None):
    a = to_nd(a)
    raw_v = as_raw(v, a._device) if not isinstance(v, (int, float)) else v
    raw_sorter = None if sorter is None else as_raw(sorter, a._device)
    res = a._device.backend.xp.searchsorted(a._data, raw_v, side=side, sorter=raw_sorter)
    return wrap(a._device.backend.asarray(res), a._device)


def meshgrid(*xi, indexing="xy", sparse=False, copy=True):
    """Coordinate arrays by broadcasting (differentiable in the inputs)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [ravel(x) for x in _arrays(xi)] if xi else []
    nd = len(xs)
    shapes = []
    for i, x in enumerate(xs):
        shape = [1] * nd
        shape[i] = x.shape[0]
        shapes.append(shape)
    if indexing == "xy" and nd > 1:
        for shape in shapes:
            shape[0], shape[1] = shape[1], shape[0]
    out = [reshape(x, tuple(s)) for x, s in zip(xs, shapes)]
    if sparse:
        return out
    full = _np.broadcast_shapes(*[tuple(s) for s in shapes])
    return [broadcast_to(o, full) for o in out]


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """n-th discrete difference along ``axis`` (differentiable: slices and a subtract)."""
    a = to_nd(a)
    ax = as_axes(axis, a.ndim)[0]
    parts = [p for p in (prepend, a, append) if p is not None]
    if len(parts) > 1:
        shape = list(a.shape)
        shape[ax] = 1
        parts = [broadcast_to(to_nd(p, a), tuple(shape)) if p is not a and
                 getattr(p, "ndim", 0) == 0 else to_nd(p, a) for p in parts]
        a = concatenate(parts, axis=ax)
    lead = (slice(None),) * ax
    for _ in range(n):
        a = getitem(a, lead + (slice(1, None),)) - getitem(a, lead + (slice(None, -1),))
    return a


def append(arr, values, axis=None):
    arr = to_nd(arr)
    values = to_nd(values, arr)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis=axis)
