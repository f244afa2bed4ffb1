"""More of ``mx.np`` (MXNet 2.x has them): index helpers (``indices``, ``tril_indices``,
``triu_indices``, ``diag_indices``, ``diag_indices_from``), window functions (``hanning``,
``hamming``, ``blackman``), ``fill_diagonal`` (in place), ``shares_memory`` /
``may_share_memory``, ``ediff1d`` and ``polyval`` (differentiable, built from mx.np's ops),
``interp`` and ``bincount`` (not differentiable, as in MXNet), and ``diagflat``, ``insert``,
``delete`` and ``resize``, differentiable gathers whose positions numpy works out on index
arrays (so every form of their arguments, and every error, is numpy's).

Integer index arrays are int64 (numpy); windows are in the default float (float32, MXNet).
"""
import numpy as _np

from ..base import default_float
from ..ndarray import ndarray, wrap
from ..ops import to_nd
from ..ops.composite import diag
from ..ops.elemwise import multiply, subtract, where
from ..ops.shape import concatenate, getitem, ravel, take
from .creation import _device, _from_host as _const, array, full, zeros

__all__ = ["indices", "tril_indices", "triu_indices", "tril_indices_from", "triu_indices_from",
           "diag_indices", "diag_indices_from", "hanning", "hamming", "blackman",
           "fill_diagonal", "shares_memory", "may_share_memory", "ediff1d", "polyval", "interp",
           "bincount", "diagflat", "insert", "delete", "resize"]


# -- index helpers ---------------------------------------------------------------------------
def indices(dimensions, dtype=_np.int64, device=None, ctx=None):
    """numpy's indices: ``len(dimensions)`` grids, each varying along one axis."""
    return _const(_np.indices(tuple(dimensions), dtype=dtype), _device(device, ctx))


def _index_pair(rows, cols, device, ctx):
    dev = _device(device, ctx)
    return (_const(rows.astype(_np.int64), dev), _const(cols.astype(_np.int64), dev))


def tril_indices(n, k=0, m=None, device=None, ctx=None):
    """The (row, column) indices of the lower triangle of an ``n x m`` array (int64)."""
    n, m = int(n), int(n if m is None else m)
    return _index_pair(*_np.tril_indices(max(n, 0), int(k), max(m, 0)), device, ctx)


def triu_indices(n, k=0, m=None, device=None, ctx=None):
    """The (row, column) indices of the upper triangle of an ``n x m`` array (int64)."""
    n, m = int(n), int(n if m is None else m)
    return _index_pair(*_np.triu_indices(max(n, 0), int(k), max(m, 0)), device, ctx)


def _require_2d(arr, name):
    if arr.ndim != 2:
        raise ValueError(f"{name} needs a 2-d array, got {arr.ndim}-d")


def tril_indices_from(arr, k=0):
    _require_2d(arr, "tril_indices_from")
    return tril_indices(arr.shape[-2], k, arr.shape[-1], device=arr.device)


def triu_indices_from(arr, k=0):
    _require_2d(arr, "triu_indices_from")
    return triu_indices(arr.shape[-2], k, arr.shape[-1], device=arr.device)


def diag_indices(n, ndim=2, device=None, ctx=None):
    """``ndim`` copies of ``arange(n)``: the indices of the main diagonal (int64)."""
    dev = _device(device, ctx)
    return tuple(_const(i.astype(_np.int64), dev) for i in _np.diag_indices(int(n), ndim))


def diag_indices_from(arr):
    """The main diagonal's indices of ``arr``, whose axes must all be the same length."""
    if arr.ndim < 2:
        raise ValueError("diag_indices_from needs an array of at least 2 dimensions")
    if len(set(arr.shape)) != 1:
        raise ValueError(f"diag_indices_from needs all dimensions equal, got {arr.shape}")
    return diag_indices(arr.shape[0], arr.ndim, device=arr.device)


# -- windows ---------------------------------------------------------------------------------
def _window(fn, M, dtype, device, ctx):
    return _const(fn(int(M)).astype(dtype or default_float()), _device(device, ctx))


def hanning(M, dtype=None, device=None, ctx=None):
    """The Hann window of ``M`` points (empty for M < 1; default float32, MXNet)."""
    return _window(_np.hanning, M, dtype, device, ctx)


def hamming(M, dtype=None, device=None, ctx=None):
    """The Hamming window of ``M`` points (empty for M < 1; default float32, MXNet)."""
    return _window(_np.hamming, M, dtype, device, ctx)


def blackman(M, dtype=None, device=None, ctx=None):
    """The Blackman window of ``M`` points (empty for M < 1; default float32, MXNet)."""
    return _window(_np.blackman, M, dtype, device, ctx)


# -- in place and memory ---------------------------------------------------------------------
def fill_diagonal(a, val, wrap=False):
    """numpy's fill_diagonal: write ``val`` (cycled if a sequence) on ``a``'s main diagonal,
    in place (``wrap``: tall matrices restart the diagonal after every N+1 rows); returns
    None. The write goes through ``a[...] =``, so it is checked like any in-place update."""
    if not isinstance(a, ndarray):
        raise TypeError("fill_diagonal needs an mxlite ndarray")
    if a.ndim < 2:
        raise ValueError("fill_diagonal needs an array of at least 2 dimensions")
    mask = _np.zeros(a.shape, dtype=bool)
    _np.fill_diagonal(mask, True, wrap=wrap)
    if isinstance(val, ndarray):
        val = val.asnumpy()
    vals = _np.zeros(a.shape, dtype=a.dtype)
    _np.fill_diagonal(vals, _np.asarray(val).astype(a.dtype), wrap=wrap)
    dev = a._device
    a[...] = where(_const(mask, dev), _const(vals, dev), a)


def _raw(x):
    if isinstance(x, ndarray):
        return x._data, x._device.backend.xp
    return _np.asarray(x), _np


def _memory_test(test, a, b, max_work):
    (ra, xa), (rb, _) = _raw(a), _raw(b)
    if ra.size == 0 or rb.size == 0:
        return False
    test = getattr(xa, test)
    return bool(test(ra, rb) if max_work is None else test(ra, rb, max_work=max_work))


def shares_memory(a, b, max_work=None):
    """Whether ``a`` and ``b`` (views of one buffer, say) share memory (numpy's exact test)."""
    return _memory_test("shares_memory", a, b, max_work)


def may_share_memory(a, b, max_work=None):
    """Whether ``a`` and ``b`` might share memory (numpy's bounds test)."""
    return _memory_test("may_share_memory", a, b, max_work)


# -- differentiable composites ---------------------------------------------------------------
def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of consecutive elements of the flattened ``ary``, with ``to_begin`` /
    ``to_end`` (scalars, sequences or arrays) put before / after; differentiable in all
    three. The result has ``ary``'s dtype."""
    ary = ravel(to_nd(ary))
    parts = []

    def extra(v):
        v = v if isinstance(v, ndarray) else array(_np.asarray(v), device=ary.device)
        return ravel(v).astype(ary.dtype)

    if to_begin is not None:
        parts.append(extra(to_begin))
    parts.append(subtract(getitem(ary, slice(1, None)), getitem(ary, slice(None, -1))))
    if to_end is not None:
        parts.append(extra(to_end))
    return parts[0] if len(parts) == 1 else concatenate(parts)


def polyval(p, x):
    """The polynomial with coefficients ``p`` (highest power first) at ``x``, by Horner's
    rule; differentiable in ``p`` and ``x``."""
    p, x = to_nd(p), to_nd(x, like=p)
    if p.ndim != 1:
        raise ValueError(f"polyval: p must be 1-d, got shape {p.shape}")
    res = full(x.shape, 0, dtype=_np.result_type(p.dtype, x.dtype), device=x.device)
    for i in range(p.shape[0]):
        res = multiply(res, x) + getitem(p, i)
    return res


# -- not differentiable ----------------------------------------------------------------------
def interp(x, xp, fp, left=None, right=None, period=None):
    """numpy's one-dimensional linear interpolation (not differentiable, as in MXNet).
    The result has ``fp``'s floating dtype (the default float for integer ``fp``); a Python
    scalar ``x`` gives a 0-d array."""
    like = next((v for v in (xp, fp, x) if isinstance(v, ndarray)), None)
    dev = like._device if like is not None else _device(None, None)
    host = [v.asnumpy() if isinstance(v, ndarray) else _np.asarray(v) for v in (x, xp, fp)]
    out_dtype = host[2].dtype if host[2].dtype.kind == "f" else _np.dtype(default_float())
    res = _np.interp(host[0], host[1], host[2], left=left, right=right, period=period)
    return _const(_np.asarray(res).astype(out_dtype), dev)


def bincount(x, weights=None, minlength=0):
    """Counts of each value of a 1-d non-negative integer array (int64), or the sums of
    ``weights`` per value (the weights' floating dtype, float64 for integer weights);
    not differentiable, as in MXNet."""
    x = to_nd(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"bincount needs integer input, got {x.dtype}")
    xpm = x._device.backend.xp
    with x._device.backend.scope():
        if weights is None:
            return wrap(xpm.bincount(x._data, minlength=minlength).astype(_np.int64), x._device)
        w = to_nd(weights, like=x)
        res = xpm.bincount(x._data, weights=w._data, minlength=minlength)
        return wrap(res.astype(w.dtype if w.dtype.kind == "f" else _np.float64), x._device)


# -- gathers at positions numpy works out ----------------------------------------------------
def _host_index(obj):
    return obj.asnumpy() if isinstance(obj, ndarray) else obj


def _positions(a):
    """``a``'s flat positions in ``a``'s shape: numpy moves them as it would move the data."""
    return _np.arange(a.size).reshape(a.shape)


def diagflat(v, k=0):
    """numpy's diagflat: the flattened ``v`` on diagonal ``k`` of a square matrix;
    differentiable."""
    return diag(ravel(to_nd(v)), k)


def insert(arr, obj, values, axis=None):
    """numpy's insert, differentiable in ``arr`` and ``values`` (which take ``arr``'s dtype,
    as numpy casts them)."""
    arr = to_nd(arr)
    values = values.astype(arr.dtype) if isinstance(values, ndarray) else \
        array(values, dtype=arr.dtype, device=arr.device)
    placed = _np.insert(_positions(arr), _host_index(obj), _positions(values) + arr.size,
                        axis=axis)
    return take(concatenate([ravel(arr), ravel(values)]), placed)


def delete(arr, obj, axis=None):
    """numpy's delete, differentiable."""
    arr = to_nd(arr)
    return take(arr, _np.delete(_positions(arr), _host_index(obj), axis=axis))


def resize(a, new_shape):
    """numpy's resize: ``a``'s elements repeated in order to fill ``new_shape`` (zeros when
    ``a`` is empty); differentiable."""
    a = to_nd(a)
    placed = _np.resize(_positions(a), new_shape)
    if a.size == 0:
        return zeros(placed.shape, dtype=a.dtype, device=a.device)
    return take(a, placed)
