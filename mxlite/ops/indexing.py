"""``mx.npx`` indexing and layout operators of MXNet 2.x: gather_nd, index_add,
index_update, shape_array, slice_channel, sequence_reverse, smooth_l1 and norm.

Only operators MXNet 2.x itself exposes in ``npx`` are here (C++ ``_npx_*`` names, or npx
calls in MXNet's 2.x tests). Not in MXNet 2.x's npx, so not here: scatter_nd (no
``_npx_scatter_nd``; legacy ``mx.nd`` only), depth_to_space / space_to_depth and
UpSampling (MXNet's 2.x ONNX tests mark them "deprecated in 2.0" and call ``mx.nd``),
softmin and argmax_channel (legacy only), ravel_multi_index / unravel_index (``mx.np``'s).

Index arrays are op inputs, checked and normalized inside the forward, so a hybridized
graph replays the check for each new index array. Out-of-range indices raise
``IndexError`` (also an ``MXNetError``).
"""
import operator as _operator

import numpy as _np

from ..autograd import apply, defop
from ..base import MXNetError, default_float
from . import ShapeError, add_at, as_axes, is_scalar, to_nd
from .elemwise import abs as _abs
from .linalg import _norm2
from .reduce import sum as _sum
from .shape import reshape, split, squeeze

__all__ = ["gather_nd", "index_add", "index_update", "shape_array", "slice_channel",
           "sequence_reverse", "smooth_l1", "norm"]


class IndexBoundsError(IndexError, MXNetError):
    """An index outside its axis: Python's IndexError and, as MXNet raises, an MXNetError."""


def _positions(xp, indices, shape, name, negative):
    """``indices`` of shape (M, ...) as a tuple of M int64 arrays into ``shape[:M]``: float
    indices truncate (MXNet's cast), negatives count from the end when ``negative``, and an
    index outside its axis raises IndexBoundsError."""
    idx = indices if indices.dtype == _np.int64 else indices.astype(_np.int64)
    m = idx.shape[0]
    if idx.size:
        dims = xp.asarray(shape[:m], dtype=_np.int64).reshape((m,) + (1,) * (idx.ndim - 1))
        low = -dims if negative else 0
        bad = (idx < low) | (idx >= dims)
        if bool(bad.any()):
            rows = bad.reshape(m, -1).any(axis=1)
            axis = int(xp.argmax(rows))
            value = int(idx[axis][bad[axis]].ravel()[0])
            if value < 0 and not negative:
                raise IndexBoundsError(f"{name}: index {value} should be greater or equal to 0 "
                                       f"(axis {axis} of shape {tuple(shape)})")
            raise IndexBoundsError(f"{name}: index {value} is out of bounds for axis {axis} "
                                   f"with size {shape[axis]} (shape {tuple(shape)})")
        if negative:
            idx = xp.where(idx < 0, idx + dims, idx)
    return tuple(idx[j] for j in range(m))


# -- gather_nd --------------------------------------------------------------------------------
@defop("gather_nd")
class _gather_nd:
    """``data[indices[0], ..., indices[M-1]]``; the gradient scatter-adds (repeats add up)."""
    def forward(xp, data, indices):
        return data[_positions(xp, indices, data.shape, "gather_nd", True)]

    def backward(ctx, g):
        data, indices = ctx.inputs[:2]
        return ctx.call(_gather_nd_grad, g, indices, shape=data.shape), None


@defop("gather_nd_grad")
class _gather_nd_grad:
    """Zeros of ``shape`` with ``g`` added at ``indices`` (MXNet's _backward_gather_nd)."""
    def forward(xp, g, indices, shape):
        out = xp.zeros(shape, dtype=g.dtype)
        add_at(xp, out, _positions(xp, indices, shape, "gather_nd", True), g)
        return out

    def backward(ctx, g):
        return ctx.call(_gather_nd, g, ctx.inputs[1]), None


def gather_nd(data, indices):
    """Gather elements or slices of ``data`` (shape ``(X_0, ..., X_{N-1})``) at ``indices``
    of shape ``(M, Y_0, ..., Y_{K-1})``, ``M <= N``: the output has shape
    ``(Y_0, ..., Y_{K-1}, X_M, ..., X_{N-1})`` and ``data``'s dtype, with
    ``out[y, x] = data[indices[0, y], ..., indices[M-1, y], x]``. Negative indices count
    from the end; float indices truncate. Differentiable in ``data`` (a scatter-add, so
    repeated indices accumulate); ``indices`` get no gradient."""
    data = to_nd(data)
    indices = to_nd(indices, data)
    if indices.ndim < 2:
        raise ShapeError(f"gather_nd: indices of shape {indices.shape} must have at least 2 "
                         f"dimensions (M, Y_0, ...); data has shape {data.shape}")
    m = indices.shape[0]
    if not 1 <= m <= data.ndim:
        raise ShapeError(f"gather_nd: indices of shape {indices.shape} index {m} axes, but "
                         f"data of shape {data.shape} has {data.ndim} (need 1 <= "
                         "indices.shape[0] <= data.ndim)")
    if indices.dtype.kind not in "biuf":
        raise TypeError(f"gather_nd: indices must be numbers, got {indices.dtype}")
    return apply(_gather_nd, (data, indices))


# -- index_add / index_update -----------------------------------------------------------------
def _landing(xp, key, dims):
    """Which of the positions ``key`` (int64 arrays of one length n into ``dims``) a
    sequence of writes leaves in place: the last write to each position. Returned as the
    sorted columns that land."""
    n = key[0].shape[0]
    lin = key[0]
    for k, d in zip(key[1:], dims[1:]):
        lin = lin * d + k
    order = xp.sort(lin * n + xp.arange(n, dtype=_np.int64))
    group = order // n
    last = xp.ones(n, dtype=bool)
    last[:-1] = group[1:] != group[:-1]
    return xp.sort(order[last] % n)


@defop("index_add")
class _index_add:
    def forward(xp, a, ind, val):
        key = _positions(xp, ind, a.shape, "index_add", False)
        out = a.copy()
        add_at(xp, out, key, _values(xp, val, a, ind))
        return out

    def backward(ctx, g):
        ind = ctx.inputs[1]
        return g, None, (ctx.call(_gather_nd, g, ind) if ctx.need[2] else None)


@defop("index_update")
class _index_update:
    def forward(xp, a, ind, val):
        key = _positions(xp, ind, a.shape, "index_update", False)
        out = a.copy()
        if key[0].size:
            cols = _landing(xp, key, a.shape)
            out[tuple(k[cols] for k in key)] = _values(xp, val, a, ind)[cols]
        return out

    def backward(ctx, g):
        a, ind = ctx.inputs[:2]
        ga = ctx.call(_index_update, g, ind, 0) if ctx.need[0] else None
        gv = None
        if ctx.need[2]:
            mask = ctx.call(_index_update_mask, ind, shape=a.shape, dtype=str(g.dtype))
            gv = ctx.call(_gather_nd, g, ind) * mask
        return ga, None, gv


@defop("index_update_mask")
class _index_update_mask:
    """1 for the columns of ``ind`` whose value lands (the last write to each position),
    0 for those a later column overwrites; shaped to multiply ``(ind_num, *tail)``."""
    def forward(xp, ind, shape, dtype):
        ind_ndim, ind_num = ind.shape
        mask = xp.zeros(ind_num, dtype=dtype)
        if ind_num:
            key = tuple(ind[j].astype(_np.int64) for j in range(ind_ndim))
            mask[_landing(xp, key, shape)] = 1
        return mask.reshape((ind_num,) + (1,) * (len(shape) - ind_ndim))

    backward = None


def _index_modify_args(name, a, ind, val):
    a = to_nd(a)
    ind = to_nd(ind, a)
    if not is_scalar(val):  # a Python number stays a constant of the op (graphs replay it)
        val = to_nd(val, a)
    if ind.dtype.kind not in "iu":
        raise TypeError(f"{name}: ind must be an integer array (MXNet: 'ind' only supports "
                        f"int dtype), got {ind.dtype}")
    if ind.ndim > 2:
        raise ShapeError(f"{name}: ind must be 0-, 1- or 2-D (ind_ndim, ind_num), got shape "
                         f"{ind.shape}")
    given = ind.shape
    if ind.ndim < 2:  # a scalar or a vector indexes axis 0
        ind = reshape(ind, (1, -1))
    ind_ndim, ind_num = ind.shape
    if not 1 <= ind_ndim <= a.ndim:
        raise ShapeError(f"{name}: ind of shape {given} indexes {ind_ndim} axes, but a of "
                         f"shape {a.shape} has {a.ndim} (need 1 <= ind_ndim <= a.ndim)")
    target = (ind_num,) + a.shape[ind_ndim:]
    try:
        fits = _np.broadcast_shapes(_np.shape(val), target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{name}: val of shape {_np.shape(val)} does not broadcast to "
                         f"(ind_num, *a.shape[ind_ndim:]) = {target} for a of shape {a.shape} "
                         f"and ind of shape {given}")
    if not is_scalar(val) and val.dtype != a.dtype:
        val = val.astype(a.dtype)
    return a, ind, val


def _values(xp, val, a, ind):
    """``val`` (an array or a Python number) in ``a``'s dtype, broadcast to
    ``(ind_num, *a.shape[ind_ndim:])``."""
    if not hasattr(val, "dtype") or val.dtype != a.dtype:
        val = xp.asarray(val, dtype=a.dtype)
    return xp.broadcast_to(val, (ind.shape[1],) + a.shape[ind.shape[0]:])


def index_add(a, ind, val):
    """``a`` with ``val`` added at the positions ``ind`` (``a[tuple(ind)] += val``, a new
    array): ``ind`` is an integer array of shape ``(ind_ndim, ind_num)`` (a vector or scalar
    indexes axis 0), each column one position in ``a``'s first ``ind_ndim`` axes; ``val``
    broadcasts to ``(ind_num, *a.shape[ind_ndim:])``. Repeated positions accumulate.
    Indices must lie in ``[0, size)``. The output has ``a``'s shape and dtype; gradients:
    ``a`` gets the head's, ``val`` the head's gathered at ``ind`` (summed over broadcast
    axes)."""
    a, ind, val = _index_modify_args("index_add", a, ind, val)
    return apply(_index_add, (a, ind, val))


def index_update(a, ind, val):
    """``a`` with the positions ``ind`` set to ``val`` (``a[tuple(ind)] = val``, a new
    array); ``ind`` and ``val`` as in ``index_add``. Where ``ind`` repeats a position, the
    last write lands (MXNet leaves it unspecified). Gradients: ``a`` gets the head's with
    zeros at the updated positions; ``val`` the head's at the positions its values landed
    (0 for the overwritten repeats)."""
    a, ind, val = _index_modify_args("index_update", a, ind, val)
    return apply(_index_update, (a, ind, val))


# -- shape_array ------------------------------------------------------------------------------
@defop("shape_array")
class _shape_array:
    def forward(xp, data):
        return xp.asarray(data.shape, dtype=_np.int64)

    def backward(ctx, g):
        return (ctx.xp.zeros_like(ctx.inputs[0]),)  # MXNet: a zero gradient


def shape_array(data):
    """The shape of ``data`` as a 1-D int64 array on its device (``(0,)`` for a 0-d
    array); the gradient is zero."""
    return apply(_shape_array, (to_nd(data),))


# -- slice_channel ----------------------------------------------------------------------------
def slice_channel(data, num_outputs, axis=1, squeeze_axis=False):
    """Split ``data`` along ``axis`` into ``num_outputs`` equal parts (MXNet's SliceChannel):
    a list of arrays, or the one array when ``num_outputs`` is 1. ``squeeze_axis`` drops
    the split axis, which then must have length ``num_outputs``. Differentiable."""
    data = to_nd(data)
    num_outputs = _operator.index(num_outputs)
    if num_outputs < 1:
        raise ValueError(f"slice_channel: num_outputs must be positive, got {num_outputs}")
    if data.ndim == 0:
        raise ShapeError("slice_channel: cannot split a 0-d array")
    ax = as_axes(axis, data.ndim)[0]
    n = data.shape[ax]
    if n % num_outputs:
        raise ShapeError(f"slice_channel: cannot split axis {axis} of shape {data.shape} into "
                         f"num_outputs={num_outputs} evenly sized chunks: {num_outputs} does "
                         f"not divide {n}")
    if squeeze_axis and n != num_outputs:
        raise ShapeError(f"slice_channel: squeeze_axis=True needs axis {axis} of shape "
                         f"{data.shape} to have length num_outputs={num_outputs}")
    parts = split(data, num_outputs, axis=ax)
    if squeeze_axis:
        parts = [squeeze(p, axis=ax) for p in parts]
    return parts[0] if num_outputs == 1 else parts


# -- sequence_reverse -------------------------------------------------------------------------
@defop("sequence_reverse")
class _sequence_reverse:
    """Each batch entry's first ``length`` steps reversed along axis 0 (all of them when
    ``lengths`` is None). The permutation is its own inverse, so it is its own gradient."""
    def forward(xp, data, lengths):
        if lengths is None:
            return xp.ascontiguousarray(xp.flip(data, axis=0))
        steps, batch = data.shape[:2]
        n = lengths.astype(_np.int64)
        if n.size and (bool((n < 0).any()) or bool((n > steps).any())):
            raise ValueError(f"sequence_reverse: sequence lengths must lie in [0, {steps}] "
                             f"(axis 0 of data of shape {data.shape}), got "
                             f"[{int(n.min())}, {int(n.max())}]")
        t = xp.arange(steps, dtype=_np.int64)[:, None]
        src = xp.where(t < n[None, :], n[None, :] - 1 - t, t)
        return data[src, xp.arange(batch, dtype=_np.int64)[None, :]]

    def backward(ctx, g):
        return ctx.call(_sequence_reverse, g, ctx.inputs[1]), None


def sequence_reverse(data, sequence_length=None, use_sequence_length=False, axis=0):
    """Reverse the steps of each sequence in ``data`` of shape ``(max_sequence_length,
    batch_size, ...)``: all of them, or with ``use_sequence_length`` the first
    ``sequence_length[b]`` of batch entry ``b`` (the rest stay in place). Only ``axis=0``
    exists, as in MXNet. Differentiable in ``data``."""
    data = to_nd(data)
    if axis != 0:
        raise ValueError(f"sequence_reverse: only axis=0 is supported (MXNet), got {axis}")
    if data.ndim < 2:
        raise ShapeError(f"sequence_reverse: data of shape {data.shape} must have rank 2 or "
                         "more (max_sequence_length, batch_size, ...)")
    if not use_sequence_length:
        return apply(_sequence_reverse, (data, None))
    if sequence_length is None:
        raise ValueError("sequence_reverse: use_sequence_length=True needs sequence_length")
    lengths = to_nd(sequence_length, data)
    if lengths.shape != (data.shape[1],):
        raise ShapeError(f"sequence_reverse: sequence_length of shape {lengths.shape} must be "
                         f"(batch_size,) = ({data.shape[1]},) for data of shape {data.shape}")
    if lengths.dtype.kind not in "biuf":
        raise TypeError(f"sequence_reverse: sequence_length must be numbers, got "
                        f"{lengths.dtype}")
    return apply(_sequence_reverse, (data, lengths))


# -- smooth_l1 --------------------------------------------------------------------------------
def _smooth_l1_bound(scalar):
    s2 = float(scalar) ** 2
    return s2, (1.0 / s2 if s2 else float("inf"))


@defop("smooth_l1")
class _smooth_l1:
    def forward(xp, x, scalar):
        s2, bound = _smooth_l1_bound(scalar)
        a = xp.abs(x)
        y = xp.where(a > bound, a - 0.5 * bound, 0.5 * s2 * x * x)
        return y.astype(x.dtype, copy=False)

    def backward(ctx, g):
        x = ctx.inputs[0]
        xp = ctx.xp
        s2, bound = _smooth_l1_bound(ctx.params["scalar"])
        slope = xp.where(x > bound, 1.0, xp.where(x < -bound, -1.0, s2 * x))
        return (g * slope,)


def smooth_l1(data, scalar=1.0):
    """MXNet's smooth L1 loss, elementwise: ``0.5 * (scalar * x)**2`` where
    ``|x| <= 1 / scalar**2``, else ``|x| - 0.5 / scalar**2``; ``data``'s dtype. The
    gradient is ``scalar**2 * x`` inside and ``sign(x)`` outside."""
    data = to_nd(data)
    if data.dtype.kind not in "iuf":
        raise TypeError(f"smooth_l1: data must be numbers, got {data.dtype}")
    return apply(_smooth_l1, (data,), {"scalar": float(scalar)})


# -- norm -------------------------------------------------------------------------------------
_NORM_OUT_DTYPES = ("float16", "float32", "float64", "int64", "int32", "int8")


def norm(data, ord=2, axis=None, out_dtype=None, keepdims=False):  # noqa: A002 - MXNet's name
    """MXNet's (legacy) norm: the entrywise L1 (``ord=1``, ``sum |x|``) or L2 (``ord=2``,
    ``sqrt(sum x**2)``) norm over ``axis`` (None or ``()``: every axis, giving a 0-d array;
    an int or a tuple of axes, a 2-tuple giving the Frobenius norm of matrices).
    ``out_dtype`` casts the result (default: ``data``'s dtype). Differentiable; at 0 the
    gradient is 0 (a subgradient)."""
    data = to_nd(data)
    if ord not in (1, 2):
        raise ValueError(f"norm: ord must be 1 or 2 (MXNet's norm supports only these), got "
                         f"{ord!r}")
    if data.dtype.kind not in "iuf":
        raise TypeError(f"norm: data must be numbers, got {data.dtype}")
    if out_dtype is not None:
        out_dtype = _np.dtype(out_dtype)
        if out_dtype.name not in _NORM_OUT_DTYPES:
            raise ValueError(f"norm: out_dtype must be one of {_NORM_OUT_DTYPES}, got "
                             f"{out_dtype}")
    if axis is None or (isinstance(axis, (tuple, list)) and not axis):
        axes = None
    else:
        axes = as_axes(axis, data.ndim)
        if len(set(axes)) != len(axes):
            raise ValueError(f"norm: axis {axis} repeats an axis (data of shape {data.shape})")
    if ord == 1:
        res = _sum(_abs(data), axis=axes, keepdims=keepdims)
    else:
        x = data if data.dtype.kind == "f" else data.astype(default_float())
        res = apply(_norm2, (x,), {"axis": axes, "keepdims": bool(keepdims)})
    dtype = out_dtype if out_dtype is not None else data.dtype
    return res if res.dtype == dtype else res.astype(dtype)
