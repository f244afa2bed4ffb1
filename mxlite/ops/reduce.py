"""Reductions over ``axis`` (None, int or tuple) with ``keepdims``.

max/min send the full gradient to every element equal to the result (MXNet's
convention for ties); argmax/argmin pick the first index. prod's gradient is the product
of the other elements, exact when the input holds zeros (no NaN, unlike MXNet).
"""
import builtins

import numpy as _np

from ..autograd import Op, apply
from ..base import default_float
from ..ndarray import wrap
from . import as_axes, finish_out, keep_shape, to_nd

__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var",
           "std", "average", "cumsum", "all", "any", "count_nonzero", "nansum", "nanmean",
           "quantile", "percentile", "median"]


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
        return (_spread(ctx.xp, g, x.shape, axis) / builtins.max(count, 1),)


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


class _Prod:
    def forward(xp, x, axis=None, keepdims=False, dtype=None):
        return xp.prod(x, axis=axis, keepdims=keepdims, dtype=dtype)

    def backward(ctx, g):
        """d prod / dx_i = product of the others: with no zero it is out / x_i; with one
        zero only that element gets the product of the rest; with two or more, none."""
        x = ctx.inputs[0]
        xp = ctx.xp
        axis = ctx.params.get("axis")
        kshape = keep_shape(x.shape, axis)
        nonzero = x != 0
        safe = xp.where(nonzero, x, 1)
        prod_nonzero = xp.prod(safe, axis=axis, keepdims=True)
        zeros = xp.sum(xp.logical_not(nonzero), axis=axis, keepdims=True)
        others = xp.where(zeros == 0, prod_nonzero / safe,
                          xp.where(xp.logical_and(zeros == 1, xp.logical_not(nonzero)),
                                   prod_nonzero, 0))
        return (xp.reshape(g, kshape) * others,)


class _Var:
    """Variance with ``ddof``; ``std`` divides its gradient by the output."""
    def forward(xp, x, axis=None, keepdims=False, ddof=0, root=False):
        res = xp.var(x, axis=axis, keepdims=keepdims, ddof=ddof)
        return xp.sqrt(res) if root else res

    def backward(ctx, g):
        x = ctx.inputs[0]
        xp = ctx.xp
        p = ctx.params
        axis = p.get("axis")
        kshape = keep_shape(x.shape, axis)
        count = 1
        for a in as_axes(axis, x.ndim):
            count *= x.shape[a]
        centered = x - xp.mean(x, axis=axis, keepdims=True)
        scale = xp.reshape(g, kshape) * (2.0 / builtins.max(count - p.get("ddof", 0), 1))
        if p.get("root"):
            std = xp.reshape(ctx.out, kshape)
            scale = scale / (2 * xp.where(std == 0, 1, std))
        return (scale * centered,)


class _Cumsum:
    def forward(xp, x, axis, dtype=None):
        return xp.cumsum(x, axis=axis, dtype=dtype)

    def backward(ctx, g):
        xp = ctx.xp
        axis = ctx.params["axis"]
        return (xp.flip(xp.cumsum(xp.flip(g, axis), axis=axis), axis),)


_prod = Op("prod", _Prod.forward, _Prod.backward)
_var = Op("var", _Var.forward, _Var.backward, save_out=True)
_cumsum = Op("cumsum", _Cumsum.forward, _Cumsum.backward)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None):
    a = to_nd(a)
    p = _params(a, axis, keepdims)
    if dtype is None and a.dtype.kind == "b":
        dtype = default_float
    if dtype is not None:
        p["dtype"] = dtype
    res = apply(_prod, (a,), p)
    if initial is not None:
        res = res * initial
    return finish_out(res, out)


def _ddof(ddof, correction):
    if correction is not None:
        if ddof not in (0, None) and ddof != correction:
            raise ValueError(f"ddof={ddof} and correction={correction} disagree; pass one")
        return correction
    return ddof or 0


def _moment(a, axis, dtype, out, ddof, keepdims, correction, root):
    a = to_nd(a)
    if dtype is None and a.dtype.kind in "iub":
        dtype = default_float
    if dtype is not None:
        a = a.astype(dtype)
    p = _params(a, axis, keepdims)
    p["ddof"] = _ddof(ddof, correction)
    if root:
        p["root"] = True
    return finish_out(apply(_var, (a,), p), out)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, correction=None):
    """Variance; ``correction`` is MXNet 2.0's name for ``ddof``. The gradient is exact
    (MXNet's is all zeros)."""
    return _moment(a, axis, dtype, out, ddof, keepdims, correction, root=False)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, correction=None):
    """Standard deviation; at a constant input the gradient is 0 (a subgradient)."""
    return _moment(a, axis, dtype, out, ddof, keepdims, correction, root=True)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted mean, ``sum(a * w) / sum(w)``; differentiable in ``a`` and ``weights``.

    1-D ``weights`` with an int ``axis`` apply along that axis, as in numpy."""
    a = to_nd(a)
    if weights is None:
        res = mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return res
        count = a.size // builtins.max(res.size, 1) if a.size else 0
        return res, wrap(a._device.backend.xp.full(res.shape, count, dtype=res.dtype),
                         a._device)
    w = to_nd(weights, a)
    if w.dtype.kind in "iub" and a.dtype.kind == "f":
        w = w.astype(a.dtype)
    if w.shape != a.shape:
        if axis is None or w.ndim != 1 or isinstance(axis, (tuple, list)):
            raise ValueError(f"weights of shape {w.shape} differ from a's shape {a.shape}; "
                             "give 1-D weights together with an int axis")
        ax = as_axes(axis, a.ndim)[0]
        if w.shape[0] != a.shape[ax]:
            raise ValueError(f"weights of length {w.shape[0]} do not match axis {axis} of "
                             f"length {a.shape[ax]}")
        from .shape import reshape, broadcast_to
        w = broadcast_to(reshape(w, tuple(-1 if i == ax else 1 for i in range(a.ndim))),
                         a.shape)
    total = sum(w, axis=axis, keepdims=keepdims)
    res = sum(a * w, axis=axis, keepdims=keepdims) / total
    return (res, total) if returned else res


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum; ``axis=None`` runs over the flattened array. Negative axes work."""
    a = to_nd(a)
    if axis is None:
        from .shape import ravel
        a = ravel(a)
        axis = 0
    axis = as_axes(axis, a.ndim)[0]
    if dtype is None and a.dtype.kind == "b":
        dtype = default_float
    return finish_out(apply(_cumsum, (a,), {"axis": axis, "dtype": dtype}), out)


def _logical_reduction(name):
    def forward(xp, x, axis=None, keepdims=False):
        return getattr(xp, name)(x, axis=axis, keepdims=keepdims)
    o = Op(name, forward)

    def f(a, axis=None, out=None, keepdims=False):
        a = to_nd(a)
        return finish_out(apply(o, (a,), _params(a, axis, keepdims)), out)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"numpy's {name}: a bool result, not differentiable."
    return f


all = _logical_reduction("all")  # noqa: A001
any = _logical_reduction("any")  # noqa: A001


def _count_nonzero_forward(xp, x, axis=None, keepdims=False):
    count = xp.count_nonzero(x, axis=axis)  # CuPy has no keepdims here
    return xp.reshape(count, keep_shape(x.shape, axis)) if keepdims else count


_count_nonzero = Op("count_nonzero", _count_nonzero_forward)


def count_nonzero(a, axis=None, keepdims=False):
    """An int64 count (numpy's), not differentiable."""
    a = to_nd(a)
    res = apply(_count_nonzero, (a,), _params(a, axis, keepdims))
    return res.astype("int64") if res.dtype != "int64" else res


def nansum(a, axis=None, dtype=None, out=None, keepdims=False):
    """Sum treating NaN as zero; NaN entries get no gradient."""
    from .elemwise import isnan, where
    a = to_nd(a)
    return sum(where(isnan(a), 0, a), axis=axis, dtype=dtype, out=out, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False):
    """Mean over the non-NaN entries."""
    from .elemwise import isnan, logical_not, where
    a = to_nd(a)
    valid = logical_not(isnan(a))
    total = sum(where(valid, a, 0), axis=axis, dtype=dtype, keepdims=keepdims)
    return finish_out(total / sum(valid, axis=axis, keepdims=keepdims).astype(total.dtype), out)


def quantile(a, q, axis=None, out=None, keepdims=False, method="linear"):
    """numpy's quantile (``method='linear'``): sorted values interpolated, so the
    gradient goes to the two neighbouring order statistics."""
    from .shape import sort, take, ravel, expand_dims, squeeze, moveaxis
    if method != "linear":
        raise NotImplementedError(f"quantile: only method='linear' is supported, got "
                                  f"{method!r}")
    a = to_nd(a)
    if axis is None:
        a, axis, kept_axes = ravel(a), 0, tuple(range(a.ndim))
    else:
        kept_axes = as_axes(axis, a.ndim)
        if len(kept_axes) != 1:
            raise NotImplementedError("quantile over several axes at once is not supported; "
                                      "move them together and reshape first")
        axis = kept_axes[0]
    q_host = q.asnumpy() if hasattr(q, "asnumpy") else q
    q_arr = _np.asarray(q_host, dtype=_np.float64)
    if ((q_arr < 0) | (q_arr > 1)).any():
        raise ValueError(f"quantile: q must be within [0, 1], got {q_host}")
    n = a.shape[axis]
    pos = q_arr.reshape(-1) * (n - 1)
    lo = _np.floor(pos).astype(_np.int64)
    hi = _np.minimum(lo + 1, n - 1)
    frac = (pos - lo).astype(a.dtype)
    s = sort(a, axis=axis)
    lower, upper = take(s, lo, axis=axis), take(s, hi, axis=axis)
    weight_shape = tuple(-1 if i == axis else 1 for i in range(a.ndim))
    weight = wrap(a._device.backend.asarray(frac.reshape(weight_shape)), a._device)
    res = moveaxis(lower + (upper - lower) * weight, axis, 0)  # quantiles first, as numpy
    if keepdims:
        for ax in sorted(kept_axes):
            res = expand_dims(res, ax + 1)
    if q_arr.ndim == 0:
        res = squeeze(res, 0)
    return finish_out(res, out)


def percentile(a, q, axis=None, out=None, keepdims=False, method="linear"):
    q_host = q.asnumpy() if hasattr(q, "asnumpy") else q
    return quantile(a, _np.asarray(q_host, dtype=_np.float64) / 100, axis=axis, out=out,
                    keepdims=keepdims, method=method)


def median(a, axis=None, out=None, keepdims=False):
    return quantile(a, 0.5, axis=axis, out=out, keepdims=keepdims)
