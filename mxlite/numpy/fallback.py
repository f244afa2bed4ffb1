"""``mx.np.fallback``: the numpy functions ``mx.np`` runs in numpy on the host, as MXNet 2.x's
``mxnet.numpy.fallback`` does, and ``host_call``, the one host-fallback path of mxlite (the
numpy dispatch uses it too, for numpy functions ``mx.np`` lacks).

MXNet has no kernels for these: it copies the arrays to numpy, runs numpy's function and
brings the results back as arrays on the inputs' device. So do these, and so they give numpy's
values and dtypes (float64 stays float64, not the float32 default). Arrays inside tuples and
lists come back too; a numpy scalar comes back as a 0-d array (as ``mx.np``'s reductions give);
Python values (``array_equiv``'s bool) and dtypes (``promote_types``) come back as they are.
Without an mxlite array among the inputs the results go to the current device. They are not
differentiable: inside ``autograd.record()`` a call on mxlite arrays raises (MXNet too), since
the gradient would be lost; outside it warns that the data went through the host (MXNet logs
it). ``ndim`` and ``size`` read the shape and copy nothing.

MXNet's other fallbacks are mxlite functions (``isclose``, ``nansum``, ``searchsorted``, ...,
``interp``) or are gone from NumPy 2 (``alltrue``, ``msort``, ``trapz``, ``in1d``, the financial
functions), so they are not here.
"""
import functools
import sys
import warnings

import numpy as _np

from ..autograd import is_recording
from ..autograd.op import device_of
from ..ndarray import ndarray, wrap_constant

_HOST_FUNCTIONS = [
    "apply_along_axis", "apply_over_axes", "argpartition", "array_equiv", "choose", "compress",
    "corrcoef", "correlate", "cov", "cumprod", "digitize", "divmod", "extract", "frexp",
    "heaviside", "histogram2d", "histogram_bin_edges", "histogramdd", "i0", "intersect1d",
    "isin", "ix_", "lexsort", "min_scalar_type", "modf", "nanargmax", "nanargmin", "nancumprod",
    "nancumsum", "nanmax", "nanmedian", "nanmin", "nanpercentile", "nanprod", "nanquantile",
    "nanstd", "nanvar", "packbits", "partition", "piecewise", "poly", "polyadd", "polydiv",
    "polyfit", "polyint", "polymul", "polysub", "promote_types", "ptp", "real", "roots",
    "select", "setdiff1d", "setxor1d", "spacing", "trim_zeros", "union1d", "unpackbits",
    "unwrap", "vander"]

__all__ = _HOST_FUNCTIONS + ["ndim", "size"]


def _arrays_in(value, found):
    if isinstance(value, ndarray):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _arrays_in(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _arrays_in(v, found)
    return found


def _rebuild(value, items):
    """A list or tuple like ``value`` (a namedtuple too) holding ``items``."""
    items = list(items)
    if hasattr(value, "_fields"):
        return type(value)(*items)
    return type(value)(items)


def _to_host(value):
    if isinstance(value, ndarray):
        return value.asnumpy()
    if isinstance(value, (list, tuple)):
        return _rebuild(value, (_to_host(v) for v in value))
    if isinstance(value, dict):
        return {k: _to_host(v) for k, v in value.items()}
    return value


def _to_device(value, device):
    """numpy's results as mxlite arrays on ``device``, copied (as MXNet's), so none aliases a
    numpy array the caller holds."""
    if isinstance(value, _np.generic) and value.dtype.kind in "biufc":
        value = _np.asarray(value)
    if isinstance(value, _np.ndarray):
        data = device.backend.asarray(value)
        return wrap_constant(data.copy() if data is value else data, device)
    if isinstance(value, (list, tuple)):
        return _rebuild(value, (_to_device(v, device) for v in value))
    return value


def _caller_level():
    """The ``stacklevel`` that points ``host_call``'s warning at the first caller outside
    mxlite (through mx.np's fallback and numpy's dispatch alike)."""
    level, frame = 2, sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("mxlite."):
        level, frame = level + 1, frame.f_back
    return level


def host_call(what, func, args, kwargs):
    """``func`` (numpy's) on host copies of the mxlite arrays in ``args`` and ``kwargs``; its
    arrays come back on those arrays' device. ``out=`` mxlite arrays get the results written
    into them. ``what`` names the function in the messages."""
    kwargs = dict(kwargs)
    out = kwargs.pop("out", None)
    arrays = _arrays_in([args, kwargs, out], [])
    device = device_of(arrays)
    if arrays:
        if is_recording():
            raise ValueError(f"{what} runs in numpy on the host, so inside autograd.record() "
                             f"the gradient would be lost; call it outside the recording, or "
                             f"on x.asnumpy() explicitly")
        warnings.warn(f"{what} ran in numpy on host copies of the mxlite arrays",
                      stacklevel=_caller_level())
    result = _to_device(func(*_to_host(args), **_to_host(kwargs)), device)
    if out is None:
        return result
    targets = out if isinstance(out, tuple) else (out,)
    values = result if isinstance(result, tuple) else (result,)
    for target, value in zip(targets, values):
        target[...] = value
    return out


def _host_fallback(name, func):
    """An ``mx.np`` function that runs numpy's ``func`` through ``host_call``."""
    what = f"mx.np.{name} (a host fallback, as in MXNet)"

    def fallback(*args, **kwargs):
        return host_call(what, func, args, kwargs)

    fallback.__name__ = fallback.__qualname__ = name.rpartition(".")[2]
    fallback.__doc__ = (f"numpy's ``{name}`` run by numpy on host copies of the mxlite arrays "
                        f"(MXNet 2.x's fallback); not differentiable. See ``numpy.{name}``.")
    return fallback


def _interpolation_keyword(func):
    """numpy 1.x's ``interpolation=`` (MXNet 2.x's keyword, which ``mx.np.quantile`` takes
    too) as the ``method=`` numpy 2 has instead."""
    @functools.wraps(func)
    def call(*args, interpolation=None, **kwargs):
        if interpolation is not None:
            kwargs["method"] = interpolation
        return func(*args, **kwargs)
    return call


for _name in _HOST_FUNCTIONS:
    _func = getattr(_np, _name)
    if _name in ("nanpercentile", "nanquantile"):
        _func = _interpolation_keyword(_func)
    globals()[_name] = _host_fallback(_name, _func)
del _name, _func


def _shape_only(a):
    """A numpy stand-in with ``a``'s shape and no memory (a broadcast 0-d array)."""
    return _np.broadcast_to(_np.empty((), dtype=bool), a.shape)


def ndim(a):
    """numpy's ndim; an mxlite array answers from its shape (no copy)."""
    return a.ndim if isinstance(a, ndarray) else _np.ndim(a)


def size(a, axis=None):
    """numpy's size; an mxlite array answers from its shape (no copy)."""
    return _np.size(_shape_only(a) if isinstance(a, ndarray) else a, axis)
