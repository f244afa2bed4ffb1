"""Reductions over ``axis`` (None, int or tuple) with ``keepdims``.

max/min send the full gradient to every element equal to the result (MXNet's
convention for ties); argmax/argmin pick the first index.
"""
from ..autograd import Op, apply
from ..base import default_float
from . import as_axes, finish_out, keep_shape, to_nd

__all__ = ["sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin"]


def _spread(xp, g, shape, axis):
    """Broadcast a reduced gradient back over the reduced axes."""
    return xp.broadcast_to(xp.reshape(g, keep_shape(shape, axis)), shape)


class _Sum:
    def forward(xp, x, axis=None, keepdims=False, dtype=None):
        return xp.sum(x, axis=axis, keepdims=keepdims, dtype=dtype)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (_spread(ctx.xp, g, x.shape, ctx.params.get("axis")),)


class _Mean:
    def forward(xp, x, axis=None, keepdims=False, dtype=None):
        return xp.mean(x, axis=axis, keepdims=keepdims, dtype=dtype)

    def backward(ctx, g):
        x = ctx.inputs[0]
        axis = ctx.params.get("axis")
        count = 1
        for a in as_axes(axis, x.ndim):
            count *= x.shape[a]
        return (_spread(ctx.xp, g, x.shape, axis) / max(count, 1),)


class _Extreme:
    def backward(ctx, g):
        x = ctx.inputs[0]
        xp = ctx.xp
        axis = ctx.params.get("axis")
        kshape = keep_shape(x.shape, axis)
        hit = xp.equal(x, xp.reshape(ctx.out, kshape))
        return (xp.where(hit, xp.reshape(g, kshape), 0),)


_sum = Op("sum", _Sum.forward, _Sum.backward)
_mean = Op("mean", _Mean.forward, _Mean.backward)
_max = Op("max", lambda xp, x, axis=None, keepdims=False: xp.max(x, axis=axis, keepdims=keepdims),
          _Extreme.backward, save_out=True)
_min = Op("min", lambda xp, x, axis=None, keepdims=False: xp.min(x, axis=axis, keepdims=keepdims),
          _Extreme.backward, save_out=True)
_argmax = Op("argmax", lambda xp, x, axis=None, keepdims=False:
             xp.argmax(x, axis=axis, keepdims=keepdims))
_argmin = Op("argmin", lambda xp, x, axis=None, keepdims=False:
             xp.argmin(x, axis=axis, keepdims=keepdims))


def _params(x, axis, keepdims):
    if isinstance(axis, list):
        axis = tuple(axis)
    if axis is not None:
        as_axes(axis, x.ndim)  # validate early, with a clear message
    return {"axis": axis, "keepdims": bool(keepdims)}


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None):  # noqa: A001
    """Sum; booleans and integers sum to float32 unless ``dtype`` says otherwise (MXNet)."""
    a = to_nd(a)
    p = _params(a, axis, keepdims)
    if dtype is None and a.dtype.kind in "b":
        dtype = default_float
    if dtype is not None:
        p["dtype"] = dtype
    res = apply(_sum, (a,), p)
    if initial is not None:
        res = res + initial
    return finish_out(res, out)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    a = to_nd(a)
    p = _params(a, axis, keepdims)
    if dtype is None and a.dtype.kind in "iub":
        dtype = default_float
    if dtype is not None:
        p["dtype"] = dtype
    return finish_out(apply(_mean, (a,), p), out)


def _extreme(o, name):
    def f(a, axis=None, out=None, keepdims=False):
        a = to_nd(a)
        if a.size == 0 and (axis is None or a.shape[axis] == 0):
            raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
        return finish_out(apply(o, (a,), _params(a, axis, keepdims)), out)
    f.__name__ = f.__qualname__ = name
    return f


max = amax = _extreme(_max, "max")  # noqa: A001
min = amin = _extreme(_min, "min")  # noqa: A001


def argmax(a, axis=None, out=None, keepdims=False):
    a = to_nd(a)
    return finish_out(apply(_argmax, (a,), _params(a, axis, keepdims)), out)


def argmin(a, axis=None, out=None, keepdims=False):
    a = to_nd(a)
    return finish_out(apply(_argmin, (a,), _params(a, axis, keepdims)), out)
