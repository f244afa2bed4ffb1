"""numpy functions called on mxlite arrays run ``mx.np``'s, as in MXNet 2.x.

``onp.exp(x)``, ``onp.concatenate([x, y])`` and ``onp.linalg.norm(x)`` dispatch through
``__array_ufunc__`` / ``__array_function__`` to the ``mx.np`` function of the same name, so
they stay on ``x``'s device, differentiable and recorded. A numpy function ``mx.np`` lacks
runs in numpy on host copies with a warning and its result comes back as mxlite arrays on
the arrays' device (``fallback.host_call``, the path of mx.np's own host fallbacks); inside
``autograd.record()`` that fallback raises instead, since numpy's result would carry no
gradient. ``x.__array_namespace__()`` (the Array API
standard) is ``mx.np``. Converting to numpy stays explicit: ``onp.asarray(x)``,
``x.asnumpy()``.
"""
import sys

import numpy as _onp

from ..ndarray import ndarray
from .fallback import host_call

__all__ = []

_NAMESPACE = sys.modules[__name__.rpartition(".")[0]]  # mx.np


def _mx_function(func):
    """``mx.np``'s function for numpy's ``func`` (``numpy.linalg.norm`` -> ``mx.np.linalg.norm``)."""
    module = _NAMESPACE
    for part in (getattr(func, "__module__", None) or "numpy").split(".")[1:]:
        module = getattr(module, part, None)
        if module is None:
            return None
    fn = getattr(module, func.__name__, None)
    return fn if callable(fn) and fn is not func else None


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    out = kwargs.pop("out", None)
    if out is not None:
        if len(out) != 1:
            raise ValueError(f"numpy's {ufunc.__name__} on mxlite arrays takes one out array, "
                             f"got {len(out)}")
        out = out[0]
    fn = _mx_function(ufunc) if method == "__call__" else None
    if fn is None:
        what = ufunc.__name__ + ("" if method == "__call__" else f".{method}")
        result = host_call(f"numpy's {what} (not in mx.np)", getattr(ufunc, method), inputs,
                           kwargs)
    elif isinstance(out, ndarray):
        return fn(*inputs, out=out, **kwargs)
    else:
        result = fn(*inputs, **kwargs)
    if isinstance(out, _onp.ndarray):  # ``host += x``: the host array keeps its type
        out[...] = result.asnumpy() if isinstance(result, ndarray) else result
        return out
    if isinstance(out, ndarray):
        out[...] = result
        return out
    return result


def _array_function(self, func, types, args, kwargs):
    fn = _mx_function(func)
    if fn is None:
        return host_call(f"numpy's {func.__module__}.{func.__name__} (not in mx.np)", func,
                         args, kwargs)
    return fn(*args, **kwargs)


_API_VERSIONS = (None, "2021.10", "2021.12")  # MXNet's spelling of the 2021 standard, and its own


def _array_namespace(self, api_version=None):
    if api_version not in _API_VERSIONS:
        raise ValueError(f"__array_namespace__: unsupported Array API version {api_version!r}; "
                         f"mx.np implements {', '.join(v for v in _API_VERSIONS if v)}")
    return _NAMESPACE


ndarray.__array_ufunc__ = _array_ufunc
ndarray.__array_function__ = _array_function
ndarray.__array_namespace__ = _array_namespace
