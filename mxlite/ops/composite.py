"""Composite ops: public functions built from the other modules' ops, with no op of their
own (their gradients are those of the ops they call).

They live here so that the primitive modules never import each other at call time: this
module imports them at the top and nothing imports it but the namespaces. ``__all__`` is
what ``mx.np`` re-exports, ``NPX`` what ``mx.npx`` does; ``norm`` is ``mx.np.linalg``'s.
"""
import math as _math
import operator as _operator

import numpy as _np

from ..autograd import apply, is_training, pause
from ..ndarray import wrap
from . import ShapeError, as_axes, finish_out, keep_shape, on_inputs_device, to_nd
from .elemwise import abs as _abs, exp, isfinite, isnan, log, logical_not, power, sqrt, where
from .linalg import _norm2, inv, matmul, solve, svd, tensordot
from .reduce import count_nonzero, max as _max, mean, min as _min, sum as _sum
from .shape import pad as _pad_basic
from .shape import (_scatter_add, argsort, argwhere, atleast_1d, broadcast_to, concatenate,
                    expand_dims, getitem, moveaxis, ravel, reshape, sort, squeeze, swapaxes,
                    take, take_along_axis, transpose)

__all__ = ["average", "nansum", "nanmean", "quantile", "percentile", "median", "vdot", "inner",
           "outer", "kron", "trace", "diag", "diagonal", "tril", "triu", "permute_dims",
           "matrix_transpose", "pad"]
LINALG = ["norm", "vector_norm", "matrix_norm", "svdvals", "matrix_transpose", "tensorinv",
          "tensorsolve"]  # mx.np.linalg
# mx.npx's composites; an ``npx_`` name is mx.npx's name without the prefix
NPX = ["logsumexp", "one_hot", "topk", "sequence_mask", "batch_dot", "l2_normalization",
       "sequence_last", "npx_reshape", "npx_slice", "add_n", "broadcast_like", "slice_like",
       "npx_nonzero", "interleaved_matmul_selfatt_qk", "interleaved_matmul_selfatt_valatt",
       "interleaved_matmul_encdec_qk", "interleaved_matmul_encdec_valatt"]


# -- reductions ------------------------------------------------------------------------------
@on_inputs_device
def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted mean, ``sum(a * w) / sum(w)``; differentiable in ``a`` and ``weights``.

    1-D ``weights`` with an int ``axis`` apply along that axis, as in numpy."""
    a = to_nd(a)
    if weights is None:
        res = mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return res
        count = a.size // max(res.size, 1) if a.size else 0
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
        w = broadcast_to(reshape(w, tuple(-1 if i == ax else 1 for i in range(a.ndim))),
                         a.shape)
    total = _sum(w, axis=axis, keepdims=keepdims)
    res = _sum(a * w, axis=axis, keepdims=keepdims) / total
    return (res, total) if returned else res


def nansum(a, axis=None, dtype=None, out=None, keepdims=False):
    """Sum treating NaN as zero; NaN entries get no gradient."""
    a = to_nd(a)
    return _sum(where(isnan(a), 0, a), axis=axis, dtype=dtype, out=out, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False):
    """Mean over the non-NaN entries."""
    a = to_nd(a)
    valid = logical_not(isnan(a))
    total = _sum(where(valid, a, 0), axis=axis, dtype=dtype, keepdims=keepdims)
    return finish_out(total / _sum(valid, axis=axis, keepdims=keepdims).astype(total.dtype),
                      out)


_QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


@on_inputs_device
def quantile(a, q, axis=None, out=None, keepdims=False, method="linear", interpolation=None):
    """numpy's quantile with ``method`` (MXNet 2.x's keyword: ``interpolation``) one of
    linear, lower, higher, nearest, midpoint, over one axis, several or all: sorted values,
    picked or interpolated, so the gradient goes to the order statistics used. Integer
    input gives float64 for linear/midpoint (numpy), its own dtype otherwise."""
    if interpolation is not None:
        method = interpolation
    if method not in _QUANTILE_METHODS:
        raise NotImplementedError(f"quantile: method must be one of {_QUANTILE_METHODS}, got "
                                  f"{method!r}")
    a = to_nd(a)
    ndim = a.ndim
    if axis is None:
        kept_axes = tuple(range(ndim))
        a, axis = ravel(a), 0
    else:
        kept_axes = tuple(sorted(as_axes(axis, ndim)))
        if len(kept_axes) > 1:  # the reduced axes last, as one
            rest = [i for i in range(ndim) if i not in kept_axes]
            a = transpose(a, rest + list(kept_axes))
            a = reshape(a, tuple(a.shape[:len(rest)]) + (-1,))
            axis = a.ndim - 1
        else:
            axis = kept_axes[0]
    q_host = q.asnumpy() if hasattr(q, "asnumpy") else q
    q_arr = _np.asarray(q_host, dtype=_np.float64)
    if ((q_arr < 0) | (q_arr > 1)).any():
        raise ValueError(f"quantile: q must be within [0, 1], got {q_host}")
    if a.dtype.kind in "biu" and method in ("linear", "midpoint"):
        a = a.astype(_np.float64)
    n = a.shape[axis]
    pos = q_arr.reshape(-1) * (n - 1)
    lo = _np.floor(pos).astype(_np.int64)
    hi = _np.minimum(lo + 1, n - 1)
    frac = pos - lo
    s = sort(a, axis=axis)
    if method in ("lower", "higher", "nearest"):
        pick = {"lower": lo, "higher": _np.ceil(pos).astype(_np.int64),
                "nearest": _np.around(pos).astype(_np.int64)}[method]
        res = take(s, _np.minimum(pick, n - 1), axis=axis)
    else:
        if method == "midpoint":
            frac = _np.where(frac > 0, 0.5, 0.0)
        lower, upper = take(s, lo, axis=axis), take(s, hi, axis=axis)
        weight_shape = tuple(-1 if i == axis else 1 for i in range(a.ndim))
        weight = wrap(a._device.backend.asarray(frac.astype(a.dtype).reshape(weight_shape)),
                      a._device)
        res = lower + (upper - lower) * weight
    res = moveaxis(res, axis, 0)  # quantiles first, as numpy
    if keepdims:
        for ax in kept_axes:
            res = expand_dims(res, ax + 1)
    if q_arr.ndim == 0:
        res = squeeze(res, 0)
    return finish_out(res, out)


def percentile(a, q, axis=None, out=None, keepdims=False, method="linear", interpolation=None):
    q_host = q.asnumpy() if hasattr(q, "asnumpy") else q
    return quantile(a, _np.asarray(q_host, dtype=_np.float64) / 100, axis=axis, out=out,
                    keepdims=keepdims, method=method, interpolation=interpolation)


def median(a, axis=None, out=None, keepdims=False):
    return quantile(a, 0.5, axis=axis, out=out, keepdims=keepdims)


# -- products --------------------------------------------------------------------------------
def vdot(a, b):
    """Sum of the elementwise product of the flattened inputs (real arrays)."""
    a = to_nd(a)
    b = to_nd(b, a)
    if a.size != b.size:
        raise ValueError(f"vdot: inputs of sizes {a.size} and {b.size} differ")
    return _sum(ravel(a) * ravel(b))


def inner(a, b):
    """Sum-product over the last axes (a product when either is 0-d)."""
    a = to_nd(a)
    b = to_nd(b, a)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


def outer(a, b, out=None):
    a = to_nd(a)
    b = to_nd(b, a)
    return finish_out(reshape(ravel(a), (-1, 1)) * reshape(ravel(b), (1, -1)), out)


def kron(a, b):
    """Kronecker product: a broadcast product of interleaved axes, then one reshape."""
    a = to_nd(a)
    b = to_nd(b, a)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    a2 = reshape(a, tuple(x for s in sa for x in (s, 1)))
    b2 = reshape(b, tuple(x for s in sb for x in (1, s)))
    return reshape(a2 * b2, tuple(x * y for x, y in zip(sa, sb)))


def batch_dot(a, b, transpose_a=False, transpose_b=False, forward_stype=None):
    """Batched matrix product over the leading axes, optionally transposing either side."""
    a = to_nd(a)
    b = to_nd(b, a)
    if a.ndim < 3 or b.ndim < 3:
        raise ValueError(f"batch_dot needs (B, M, K) inputs of at least 3 dimensions, got "
                         f"{a.shape} and {b.shape}")
    if transpose_a:
        a = swapaxes(a, -1, -2)
    if transpose_b:
        b = swapaxes(b, -1, -2)
    return matmul(a, b)


# -- diagonals and triangles -----------------------------------------------------------------
@on_inputs_device
def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal as the last axis (numpy); a gather, so the gradient scatters back."""
    a = to_nd(a)
    if a.ndim < 2:
        raise ValueError(f"diagonal needs at least 2 dimensions, got shape {a.shape}")
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    rows, cols = a.shape[-2:]
    start_r, start_c = (0, offset) if offset >= 0 else (-offset, 0)
    n = max(0, min(rows - start_r, cols - start_c))
    xp = a._device.backend.xp
    idx = xp.arange(n)
    return getitem(a, (Ellipsis, idx + start_r, idx + start_c))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype, out=out)


@on_inputs_device
def diag(v, k=0):
    """1-D input: a matrix with ``v`` on diagonal ``k``; 2-D input: that diagonal."""
    v = to_nd(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag needs a 1-D or 2-D input, got shape {v.shape}")
    n = v.shape[0] + abs(k)
    xp = v._device.backend.xp
    idx = xp.arange(v.shape[0])
    key = (idx, idx + k) if k >= 0 else (idx - k, idx)
    return apply(_scatter_add, (v,), {"key": key, "shape": (n, n)})


@on_inputs_device
def _triangle(m, k, lower):
    """The lower (or upper) triangle; a 1-D ``m`` is taken as every row of a square matrix
    (numpy)."""
    m = to_nd(m)
    if m.ndim == 1:
        m = broadcast_to(m, (m.shape[0], m.shape[0]))
    if m.ndim < 2:  # MXNet raises its MXNetError here, numpy a ValueError: this is both
        raise ShapeError(f"{'tril' if lower else 'triu'} needs at least 1 dimension, got "
                         f"shape {m.shape}")
    rows, cols = m.shape[-2:]
    mask = _np.tri(rows, cols, k if lower else k - 1, dtype=bool)
    if not lower:
        mask = ~mask
    return where(wrap(m._device.backend.asarray(mask), m._device), m, 0)


def tril(m, k=0):
    return _triangle(m, k, True)


def triu(m, k=0):
    return _triangle(m, k, False)


# -- numpy.linalg.norm -----------------------------------------------------------------------
_STRING_ORDS = {"inf": _np.inf, "-inf": -_np.inf}  # MXNet accepts these spellings


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - numpy's name
    """numpy.linalg.norm: vector ord None/2/1/inf/-inf/0/p, matrix ord None/'fro'/'nuc'/
    1/-1/2/-2/inf/-inf (also spelled 'inf'/'-inf', as MXNet); differentiable (subgradient 0
    at kinks such as a zero vector)."""
    x = to_nd(x)
    if x.dtype.kind not in "fc":
        x = x.astype("float32")
    ord = _STRING_ORDS.get(ord, ord) if isinstance(ord, str) else ord  # noqa: A001
    if axis is None and (ord is None or (ord == "fro" and x.ndim == 2)):
        return apply(_norm2, (x,), {"axis": None, "keepdims": bool(keepdims)})
    if axis is None:
        if x.ndim not in (1, 2):
            raise ValueError(f"norm with ord={ord!r} needs axis= for a {x.ndim}-d input")
        axis = tuple(range(x.ndim))
    axes = as_axes(axis, x.ndim) if not isinstance(axis, (tuple, list)) else \
        tuple(a % x.ndim for a in axis)
    kshape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    shape = kshape if keepdims else tuple(s for i, s in enumerate(x.shape) if i not in axes)
    if len(axes) == 1:
        ax = axes[0]
        if ord is None or ord == 2:
            return apply(_norm2, (x,), {"axis": ax, "keepdims": bool(keepdims)})
        if ord == 1:
            return _sum(_abs(x), axis=ax, keepdims=keepdims)
        if ord == _np.inf:
            return _max(_abs(x), axis=ax, keepdims=keepdims)
        if ord == -_np.inf:
            return _min(_abs(x), axis=ax, keepdims=keepdims)
        if ord == 0:
            return count_nonzero(x, axis=ax, keepdims=keepdims).astype(x.dtype)
        if isinstance(ord, str):
            raise ValueError(f"norm: ord={ord!r} is a matrix norm; give a 2-tuple axis")
        return power(_sum(power(_abs(x), ord), axis=ax, keepdims=keepdims), 1.0 / ord)
    if len(axes) != 2:
        raise ValueError(f"norm: axis must name 1 or 2 axes, got {axis}")
    row, col = axes
    if ord in (None, "fro"):
        return apply(_norm2, (x,), {"axis": (row, col), "keepdims": bool(keepdims)})
    if ord in (1, -1, _np.inf, -_np.inf):
        summed, pick = (row, col) if ord in (1, -1) else (col, row)
        sums = _sum(_abs(x), axis=summed, keepdims=True)
        res = (_max if ord > 0 else _min)(sums, axis=pick, keepdims=True)
        return reshape(res, shape)
    if ord in ("nuc", 2, -2):
        s = svd(moveaxis(x, (row, col), (-2, -1)), compute_uv=False)
        res = _sum(s, axis=-1) if ord == "nuc" else \
            (_max if ord == 2 else _min)(s, axis=-1)
        return reshape(res, shape)
    raise ValueError(f"norm: invalid ord {ord!r} for a matrix norm")


def vector_norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - MXNet's names
    """MXNet's vector norm (ord None is 2; 'inf'/'-inf' as strings too). ``axis=None`` takes
    all elements, a tuple of axes those axes' elements together; as in MXNet, both then
    norm one flattened leading axis, so ``keepdims`` leaves a single size-1 axis first
    (shape ``(1,) + rest``; the Array API keeps every normed axis in place)."""
    x = to_nd(x)
    if ord is None:
        ord = 2  # noqa: A001
    if axis is None:
        x, axis = ravel(x), 0
    elif isinstance(axis, (tuple, list)):
        axes = as_axes(tuple(axis), x.ndim)
        rest = tuple(i for i in range(x.ndim) if i not in axes)
        size = 1
        for i in axes:
            size *= x.shape[i]
        x = reshape(transpose(x, axes + rest), (size,) + tuple(x.shape[i] for i in rest))
        axis = 0
    return norm(x, ord=ord, axis=axis, keepdims=keepdims)


def matrix_norm(x, ord="fro", axis=(-2, -1), keepdims=False):  # noqa: A002 - MXNet's names
    """MXNet's matrix norm over the 2-tuple ``axis`` (any other ``axis`` is a ValueError)."""
    if not isinstance(axis, (tuple, list)) or len(axis) != 2:
        raise ValueError(f"matrix_norm: axis must be a 2-tuple of ints, got {axis!r}")
    return norm(x, ord=ord, axis=tuple(axis), keepdims=keepdims)


def svdvals(x):
    """Singular values (descending) of each matrix in ``x``."""
    return svd(x, compute_uv=False)


def matrix_transpose(x):
    """Swap the last two axes (the Array API's ``x.mT``)."""
    x = to_nd(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose needs an array of at least 2 dimensions, got shape "
                         f"{x.shape}")
    return swapaxes(x, -1, -2)


def tensorinv(a, ind=2):
    """numpy's tensorinv: the inverse of ``a`` seen as a (prod(a.shape[:ind]),
    prod(a.shape[ind:])) matrix, shaped ``a.shape[ind:] + a.shape[:ind]``; differentiable."""
    a = to_nd(a)
    if not isinstance(ind, int) or ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind!r}")
    front, back = a.shape[:ind], a.shape[ind:]
    rows, cols = _math.prod(front), _math.prod(back)
    if rows != cols:
        raise ValueError(f"tensorinv: a of shape {a.shape} is not 'square' for ind={ind} "
                         f"(prod{front} != prod{back})")
    return reshape(inv(reshape(a, (rows, cols))), back + front)


def tensorsolve(a, b, axes=None):
    """numpy's tensorsolve: ``x`` with ``tensordot(a, x, axes=x.ndim) == b`` (``axes``: the
    axes of ``a`` moved to the end first); differentiable in ``a`` and ``b``."""
    a = to_nd(a)
    b = to_nd(b, a)
    if axes is not None:
        order = [i for i in range(a.ndim) if i not in [k % a.ndim for k in axes]]
        a = transpose(a, tuple(order + [k % a.ndim for k in axes]))
    x_shape = a.shape[-(a.ndim - b.ndim):]  # numpy's slice: all of a.shape when ndims match
    n = _math.prod(x_shape)
    if n * n != a.size or n != b.size:
        raise ValueError(f"tensorsolve: a of shape {a.shape} and b of shape {b.shape} do "
                         f"not make a square system (x would have shape {x_shape})")
    return reshape(solve(reshape(a, (n, n)), ravel(b)), x_shape)


def permute_dims(x, axes):
    """The Array API's name for ``transpose`` with explicit axes."""
    return transpose(x, axes)


# -- mx.npx ----------------------------------------------------------------------------------
def logsumexp(data, axis=None, keepdims=False):
    """log(sum(exp(x))) computed stably; the gradient is softmax(x) (mxlite addition; also
    ``mx.np.logaddexp`` for two operands)."""
    data = to_nd(data)
    with pause(is_training()):  # the shift is a constant: it cancels in the gradient
        top = _max(data, axis=axis, keepdims=True)
        top = where(isfinite(top), top, 0)
    res = log(_sum(exp(data - top), axis=axis, keepdims=True)) + top
    if keepdims:
        return res
    return squeeze(res, axis=axis) if axis is not None else res.reshape(())


@on_inputs_device
def one_hot(indices, depth, on_value=1.0, off_value=0.0, dtype="float32"):
    """float32 by default (MXNet); out-of-range indices give an all-off row."""
    indices = to_nd(indices)
    depth = _operator.index(depth)
    if depth < 0:
        raise ValueError(f"one_hot: depth must be a non-negative number of classes, got {depth}")
    xp = indices._device.backend.xp
    idx = indices._data.astype(_np.int64)
    hit = xp.expand_dims(idx, -1) == xp.arange(depth)
    out = xp.where(hit, on_value, off_value).astype(dtype)
    return wrap(out, indices._device)


@on_inputs_device
def topk(data, axis=-1, k=1, ret_typ="indices", is_ascend=False, dtype="float32"):
    """The k largest (smallest with ``is_ascend``) along ``axis``; ties go to the lower
    index. ``ret_typ``: indices (as ``dtype``, float32 by default), value, both
    ([value, indices]) or mask. Values are differentiable."""
    data = to_nd(data)
    ax = axis % data.ndim if axis is not None else None
    if ax is None:
        data = data.reshape(-1)
        ax = 0
    n = data.shape[ax]
    if k <= 0 or k > n:
        k = n
    order = argsort(data, axis=ax, stable=True, descending=not is_ascend)
    order = getitem(order, (slice(None),) * ax + (slice(0, k),))
    if ret_typ == "indices":
        return order.astype(dtype)
    if ret_typ == "value":
        return take_along_axis(data, order, ax)
    if ret_typ == "both":
        return [take_along_axis(data, order, ax), order.astype(dtype)]
    if ret_typ == "mask":
        xp = data._device.backend.xp
        mask = xp.zeros(data.shape, dtype=data.dtype)
        xp.put_along_axis(mask, order._data, 1, axis=ax)
        return wrap(mask, data._device)
    raise ValueError(f"topk: ret_typ must be indices, value, both or mask, got {ret_typ!r}")


@on_inputs_device
def sequence_mask(data, sequence_length=None, use_sequence_length=False, value=0.0, axis=0):
    """Set steps at or beyond each sequence's length to ``value``. ``axis`` (0 or 1) is the
    time axis; the batch axis is the other one of the first two."""
    data = to_nd(data)
    if not use_sequence_length:
        return data
    if sequence_length is None:
        raise ValueError("sequence_mask: use_sequence_length=True needs sequence_length")
    if axis not in (0, 1):
        raise ValueError(f"sequence_mask: axis must be 0 or 1, got {axis}")
    xp = data._device.backend.xp
    lengths = to_nd(sequence_length, data)._data
    steps = xp.arange(data.shape[axis])
    mask = steps[:, None] < lengths[None, :] if axis == 0 else \
        lengths[:, None] > steps[None, :]
    mask = mask.reshape(mask.shape + (1,) * (data.ndim - 2))
    return where(wrap(mask, data._device), data, value)


@on_inputs_device
def sequence_last(data, sequence_length=None, use_sequence_length=False, axis=0):
    """The last valid step of each sequence: ``data[length - 1]`` per batch entry along the
    time ``axis`` (0 or 1; the batch axis is the other of the first two)."""
    data = to_nd(data)
    if axis not in (0, 1):
        raise ValueError(f"sequence_last: axis must be 0 or 1, got {axis}")
    steps = data.shape[axis]
    if not use_sequence_length:
        return getitem(data, (slice(None),) * axis + (steps - 1,))
    if sequence_length is None:
        raise ValueError("sequence_last: use_sequence_length=True needs sequence_length")
    xp = data._device.backend.xp
    last = to_nd(sequence_length, data)._data.astype(_np.int64) - 1
    if steps == 0 or bool((last < 0).any()) or bool((last >= steps).any()):
        raise ValueError(f"sequence_last: every length must be in [1, {steps}]")
    index = last.reshape((1, -1) if axis == 0 else (-1, 1))
    index = wrap(xp.broadcast_to(index.reshape(index.shape + (1,) * (data.ndim - 2)),
                                 tuple(1 if a == axis else n for a, n in enumerate(data.shape))),
                 data._device)
    return squeeze(take_along_axis(data, index, axis=axis), axis=axis)


def l2_normalization(data, eps=1e-10, mode="instance"):
    """``x / sqrt(sum(x^2) + eps)`` over all but axis 0 (instance), over axis 1
    (channel) or over axes 2.. (spatial)."""
    data = to_nd(data)
    if mode == "instance":
        axes = tuple(range(1, data.ndim))
    elif mode == "channel":
        axes = (1,)
    elif mode == "spatial":
        axes = tuple(range(2, data.ndim))
    else:
        raise ValueError(f"l2_normalization: mode must be instance, channel or spatial, got "
                         f"{mode!r}")
    return data / sqrt(_sum(data * data, axis=axes, keepdims=True) + eps)


# -- MXNet's shape helpers -------------------------------------------------------------------
def _mxnet_shape(shape, codes):
    """The output shape of MXNet's reshape codes read left to right over ``shape``:
    -1 inferred, -2 copy one input axis, -3 drop an axis of size 1, -4 copy the remaining
    axes, -5 merge two axes, -6 split one axis into the next two values (one may be -1);
    a size >= 0 (and -1) stands for one input axis."""
    axes = iter(shape)

    def take(code):
        size = next(axes, None)
        if size is None:
            raise ValueError(f"npx.reshape: {codes} reads more axes than the input's {shape} "
                             f"(at code {code})")
        return size

    out, i = [], 0
    while i < len(codes):
        code = codes[i]
        if code >= -1:
            if code == -1 and -1 in out:
                raise ValueError(f"npx.reshape: only one -1 may be inferred, got {codes}")
            out.append(code)
            next(axes, None)
        elif code == -2:
            out.append(take(code))
        elif code == -3:
            size = take(code)
            if size != 1:
                raise ValueError(f"npx.reshape: -3 drops an axis of size 1, got one of size "
                                 f"{size} in {shape}")
        elif code == -4:
            out.extend(axes)
        elif code == -5:
            out.append(take(code) * take(code))
        elif code == -6:
            if i + 2 >= len(codes):
                raise ValueError(f"npx.reshape: -6 needs the two sizes it splits into, got {codes}")
            whole, (d1, d2) = take(code), codes[i + 1:i + 3]
            if d1 == -1 and d2 == -1:
                raise ValueError("npx.reshape: the two sizes after -6 cannot both be -1")
            d1, d2 = (whole // d2 if d1 == -1 else d1), (whole // d1 if d2 == -1 else d2)
            if d1 * d2 != whole:
                raise ValueError(f"npx.reshape: -6 cannot split an axis of size {whole} into "
                                 f"{codes[i + 1:i + 3]}")
            out += [d1, d2]
            i += 2
        else:
            raise ValueError(f"npx.reshape: unknown code {code} in {codes} (codes are -1..-6)")
        i += 1
    return tuple(out)


def npx_reshape(a, newshape, reverse=False, order="C"):
    """MXNet's ``npx.reshape`` with its special codes -1..-6 (see ``_mxnet_shape``);
    ``reverse`` reads the codes and the input's axes from the right."""
    a = to_nd(a)
    codes = (_operator.index(newshape),) if _np.ndim(newshape) == 0 else \
        tuple(_operator.index(c) for c in newshape)
    if reverse:
        shape = _mxnet_shape(a.shape[::-1], codes[::-1])[::-1]
    else:
        shape = _mxnet_shape(a.shape, codes)
    return reshape(a, shape, order=order)


def npx_slice(data, begin, end, step=None):
    """MXNet's ``npx.slice``: ``data[b0:e0:s0, b1:e1:s1, ...]`` over the leading axes, where
    ``None`` in ``begin``, ``end`` or ``step`` keeps Python's default."""
    data = to_nd(data)
    begin, end = tuple(begin), tuple(end)
    step = (None,) * len(begin) if step is None or step == () else tuple(step)
    if not len(begin) == len(end) == len(step) or len(begin) > data.ndim:
        raise ValueError(f"npx.slice: begin {begin}, end {end} and step {step} must have one "
                         f"entry per sliced axis, at most {data.ndim} for shape {data.shape}")
    if any(s == 0 for s in step):
        raise ValueError("npx.slice: step cannot be 0")
    return getitem(data, tuple(slice(b, e, s) for b, e, s in zip(begin, end, step)))


# -- pad's statistic modes -----------------------------------------------------------------
_PAD_STATS = {"maximum": _max, "minimum": _min, "mean": mean, "median": None}


def pad(array, pad_width, mode="constant", constant_values=0, stat_length=None, **kwargs):
    """numpy's pad: modes constant, edge, reflect, symmetric, wrap (``shape.pad``) and the
    statistic modes maximum, minimum, mean, median over the whole axis (``stat_length``
    None). As numpy, axes are padded in turn, so a later axis's statistic sees the earlier
    axes' padding, and integer arrays get the mean/median rounded. Differentiable: the
    gradient flows through the statistic (max/min: to the extreme elements)."""
    if mode not in _PAD_STATS:
        if stat_length is not None:
            raise TypeError(f"pad mode {mode!r} takes no stat_length")
        return _pad_basic(array, pad_width, mode=mode, constant_values=constant_values,
                          **kwargs)
    if kwargs:
        raise TypeError(f"pad got unsupported arguments {sorted(kwargs)}")
    if stat_length is not None:
        raise NotImplementedError("pad: stat_length is not supported; the statistic is over "
                                  "the whole axis")
    array = to_nd(array)
    widths = _np.broadcast_to(_np.asarray(pad_width, dtype=_np.int64), (array.ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad widths must be non-negative, got {pad_width}")
    res = array
    for ax, (lo, hi) in enumerate(widths.tolist()):
        if not (lo or hi):
            continue
        if res.shape[ax] == 0:
            raise ValueError(f"cannot pad an empty axis {ax} with mode {mode!r}")
        if mode == "median":
            stat = quantile(res, 0.5, axis=ax, keepdims=True)
        else:
            stat = _PAD_STATS[mode](res, axis=ax, keepdims=True)
        if res.dtype.kind in "iub" and mode in ("mean", "median"):
            stat = stat.round()
        stat = stat.astype(res.dtype)
        parts = []
        if lo:
            parts.append(broadcast_to(stat, res.shape[:ax] + (lo,) + res.shape[ax + 1:]))
        parts.append(res)
        if hi:
            parts.append(broadcast_to(stat, res.shape[:ax] + (hi,) + res.shape[ax + 1:]))
        res = concatenate(parts, axis=ax)
    return res if res is not array else array.copy()


# -- npx helpers ---------------------------------------------------------------------------
def add_n(*args, out=None):
    """The elementwise sum of the arrays (MXNet's add_n / ElementWiseSum)."""
    if not args:
        raise ValueError("add_n needs at least one array")
    res = to_nd(args[0])
    for a in args[1:]:
        res = res + a
    return finish_out(res, out)


def broadcast_like(lhs, rhs, lhs_axes=None, rhs_axes=None):
    """``lhs`` broadcast to ``rhs``'s shape, or only ``lhs_axes`` to the lengths of ``rhs``'s
    ``rhs_axes``; keeps ``lhs``'s dtype; differentiable in ``lhs`` (summed back)."""
    lhs = to_nd(lhs)
    rhs = to_nd(rhs, lhs)
    if lhs_axes is None and rhs_axes is None:
        return broadcast_to(lhs, rhs.shape)
    if lhs_axes is None or rhs_axes is None:
        raise ValueError("broadcast_like: give both lhs_axes and rhs_axes, or neither")
    la = (lhs_axes,) if isinstance(lhs_axes, int) else tuple(lhs_axes)
    ra = (rhs_axes,) if isinstance(rhs_axes, int) else tuple(rhs_axes)
    if len(la) != len(ra):
        raise ValueError(f"broadcast_like: lhs_axes {la} and rhs_axes {ra} differ in length")
    shape = list(lhs.shape)
    for a, b in zip([x % lhs.ndim for x in la], [x % rhs.ndim for x in ra]):
        if shape[a] != 1 and shape[a] != rhs.shape[b]:
            raise ValueError(f"broadcast_like: lhs axis {a} of length {shape[a]} cannot "
                             f"broadcast to {rhs.shape[b]}")
        shape[a] = rhs.shape[b]
    return broadcast_to(lhs, tuple(shape))


def slice_like(data, shape_like, axes=()):
    """``data`` cut to ``shape_like``'s lengths, from the start, on ``axes`` (all axes when
    empty); differentiable in ``data``; ``shape_like`` only lends its shape."""
    data = to_nd(data)
    like = shape_like.shape if hasattr(shape_like, "shape") else tuple(shape_like)
    chosen = range(data.ndim) if not axes else [a % data.ndim for a in axes]
    key = [slice(None)] * data.ndim
    for a in chosen:
        if like[a] > data.shape[a]:
            raise ValueError(f"slice_like: shape_like's axis {a} ({like[a]}) is longer than "
                             f"data's ({data.shape[a]})")
        key[a] = slice(0, like[a])
    return getitem(data, tuple(key))


def npx_nonzero(x):
    """MXNet's npx.nonzero: the indices of the nonzero elements as an ``(N, ndim)`` int64
    array (numpy's argwhere); a 0-d input counts as 1-d, giving ``(N, 1)``."""
    x = to_nd(x)
    return argwhere(atleast_1d(x) if x.ndim == 0 else x).astype(_np.int64)


def _split_heads(x, heads, parts):
    """(seq, batch, heads * parts * d) -> ``parts`` arrays (batch * heads, seq, d)."""
    seq, batch, units = x.shape
    if units % (heads * parts):
        raise ValueError(f"the last axis ({units}) is not a multiple of heads * {parts} "
                         f"({heads * parts})")
    d = units // (heads * parts)
    x = transpose(reshape(x, (seq, batch, heads, parts, d)), (3, 1, 2, 0, 4))
    return [reshape(getitem(x, i), (batch * heads, seq, d)) for i in range(parts)]


def _merge_heads(x, heads):
    """(batch * heads, seq, d) -> (seq, batch, heads * d)."""
    bh, seq, d = x.shape
    x = transpose(reshape(x, (bh // heads, heads, seq, d)), (2, 0, 1, 3))
    return reshape(x, (seq, bh // heads, heads * d))


def interleaved_matmul_selfatt_qk(queries_keys_values, heads):
    """Self-attention scores from projections interleaved per head as (seq, batch,
    heads * 3 * d) = (q, k, v) for each head: ``q k^T / sqrt(d)``, shape (batch * heads,
    seq, seq)."""
    q, k, _ = _split_heads(to_nd(queries_keys_values), heads, 3)
    return matmul(q / _np.sqrt(q.shape[-1]).astype(q.dtype), swapaxes(k, -1, -2))


def interleaved_matmul_selfatt_valatt(queries_keys_values, attention, heads):
    """The attention-weighted values: ``attention`` (batch * heads, seq, seq) times the
    interleaved projections' v, as (seq, batch, heads * d)."""
    _, _, v = _split_heads(to_nd(queries_keys_values), heads, 3)
    return _merge_heads(matmul(to_nd(attention, v), v), heads)


def interleaved_matmul_encdec_qk(queries, keys_values, heads):
    """Encoder-decoder attention scores: ``queries`` (qseq, batch, heads * d) against the
    keys of ``keys_values`` (kseq, batch, heads * 2 * d, (k, v) per head), ``q k^T /
    sqrt(d)``, shape (batch * heads, qseq, kseq)."""
    (q,) = _split_heads(to_nd(queries), heads, 1)
    k, _ = _split_heads(to_nd(keys_values, q), heads, 2)
    return matmul(q / _np.sqrt(q.shape[-1]).astype(q.dtype), swapaxes(k, -1, -2))


def interleaved_matmul_encdec_valatt(keys_values, attention, heads):
    """``attention`` (batch * heads, qseq, kseq) times the values of ``keys_values``, as
    (qseq, batch, heads * d)."""
    _, v = _split_heads(to_nd(keys_values), heads, 2)
    return _merge_heads(matmul(to_nd(attention, v), v), heads)
