"""Shape and data-movement ops, indexing, dtype casts and device transfers."""
import numpy as _np

from ..autograd import Op, apply
from ..device import Device
from ..ndarray import ndarray, as_raw_key
from . import as_axes, finish_out, to_nd

__all__ = ["reshape", "transpose", "expand_dims", "squeeze", "broadcast_to", "concatenate",
           "stack", "swapaxes", "moveaxis", "ravel", "copy", "getitem", "astype",
           "to_device"]


class _Reshape:
    def forward(xp, x, shape, order="C"):
        return xp.reshape(x, shape, order=order)

    def backward(ctx, g):
        return (ctx.xp.reshape(g, ctx.inputs[0].shape, order=ctx.params.get("order", "C")),)


_reshape = Op("reshape", _Reshape.forward, _Reshape.backward)


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
        raise ValueError(f"cannot reshape array of shape {a.shape} into shape {newshape}: "
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


class _Transpose:
    def forward(xp, x, axes=None):
        return xp.transpose(x, axes)

    def backward(ctx, g):
        axes = ctx.params.get("axes")
        if axes is None:
            return (ctx.xp.transpose(g),)
        return (ctx.xp.transpose(g, tuple(_np.argsort(axes))),)


_transpose = Op("transpose", _Transpose.forward, _Transpose.backward)


def transpose(a, axes=None):
    a = to_nd(a)
    if axes is not None:
        axes = tuple(ax % a.ndim if a.ndim else ax for ax in axes)
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
    src = [s % a.ndim for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [d % a.ndim for d in (destination if isinstance(destination, (tuple, list))
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


class _BroadcastTo:
    def forward(xp, x, shape):
        return xp.broadcast_to(x, shape)

    def backward(ctx, g):
        return (g,)  # the engine sums the broadcast axes back to the input's shape


_broadcast_to = Op("broadcast_to", _BroadcastTo.forward, _BroadcastTo.backward)


def broadcast_to(array, shape):
    array = to_nd(array)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    try:
        _np.broadcast_shapes(array.shape, shape)
        if len(shape) < array.ndim:
            raise ValueError
    except ValueError:
        raise ValueError(f"cannot broadcast an array of shape {array.shape} to shape "
                         f"{shape}") from None
    return apply(_broadcast_to, (array,), {"shape": shape})


class _Concatenate:
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


_concatenate = Op("concatenate", _Concatenate.forward, _Concatenate.backward)


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


class _Getitem:
    def forward(xp, x, key):
        return x[key]

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (ctx.call(_scatter_add, g, key=ctx.params["key"], shape=x.shape),)


class _ScatterAdd:
    """Zeros of ``shape`` with ``g`` added at ``key``; repeated indices accumulate."""

    def forward(xp, g, key, shape):
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(key):
            out[key] = g
        elif xp is _np:
            _np.add.at(out, key, g)
        else:
            import cupyx
            cupyx.scatter_add(out, key, g)
        return out

    def backward(ctx, g):
        return (ctx.call(_getitem, g, key=ctx.params["key"]),)


_getitem = Op("getitem", _Getitem.forward, _Getitem.backward)
_scatter_add = Op("scatter_add", _ScatterAdd.forward, _ScatterAdd.backward)


def getitem(a, key):
    """``a[key]`` for every key numpy accepts; the gradient scatter-adds."""
    key = as_raw_key(key, a._device)
    return apply(_getitem, (a,), {"key": key})


# -- copies, casts, transfers -------------------------------------------------------------
_copy = Op("copy", lambda xp, x: xp.array(x, copy=True), lambda ctx, g: (g,))


def copy(a):
    return apply(_copy, (to_nd(a),))


class _Astype:
    def forward(xp, x, dtype):
        return x.astype(dtype)

    def backward(ctx, g):
        return (g.astype(ctx.inputs[0].dtype),)


_astype = Op("astype", _Astype.forward, _Astype.backward)


def astype(a, dtype, copy=True):
    """Cast; differentiable between floating types."""
    dtype = _np.dtype(dtype)
    if not copy and a.dtype == dtype:
        return a
    if dtype.kind not in "fc" or a.dtype.kind not in "fc":
        from ..ndarray import wrap
        return wrap(a._data.astype(dtype), a._device)
    return apply(_astype, (a,), {"dtype": dtype})


class _ToDevice:
    def forward(xp, x, device, src):
        be = device.backend
        if isinstance(x, be.xp.ndarray) and be.kind == 0:
            return x.copy()
        return be.asarray(x)

    def backward(ctx, g):
        p = ctx.params
        return (ctx.call(_to_device, g, device=p["src"], src=p["device"]),)


_to_device = Op("to_device", _ToDevice.forward, _ToDevice.backward, moves_device=True)


def to_device(a, device):
    """A copy of ``a`` on ``device`` (``a`` itself if already there); differentiable."""
    device = Device(device)
    if a._device is device:
        return a
    return apply(_to_device, (a,), {"device": device, "src": a._device})
