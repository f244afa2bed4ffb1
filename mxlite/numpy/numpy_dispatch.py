"""numpy functions called on mxlite arrays run ``mx.np``'s, as in MXNet 2.x.

``onp.exp(x)``, ``onp.concatenate([x, y])`` and ``onp.linalg.norm(x)`` dispatch through
``__array_ufunc__`` / ``__array_function__`` to the ``mx.np`` function of the same name, so
they stay on ``x``'s device, differentiable and recorded. A numpy function ``mx.np`` lacks
runs in numpy on host copies with a warning and its result comes back as an mxlite array
on the first argument's device; inside ``autograd.record()`` that fallback raises instead,
since numpy's result would carry no gradient. ``x.__array_namespace__()`` (the Array API
standard) is ``mx.np``. Converting to numpy stays explicit: ``onp.asarray(x)``,
``x.asnumpy()``.
"""
import sys
import warnings

import numpy as _onp

from ..autograd import is_recording
from ..ndarray import ndarray, wrap

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


def _first_device(values):
    for v in values:
        if isinstance(v, ndarray):
            return v._device
        if isinstance(v, (list, tuple)):
            dev = _first_device(v)
            if dev is not None:
                return dev
    return None


def _to_host(value):
    if isinstance(value, ndarray):
        return value.asnumpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_to_host(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_host(v) for k, v in value.items()}
    return value


def _from_host(value, device):
    if isinstance(value, _onp.ndarray):
        return wrap(device.backend.asarray(value), device)
    if isinstance(value, (list, tuple)):
        return type(value)(_from_host(v, device) for v in value)
    return value


def _numpy_fallback(what, call, args, kwargs):
    if is_recording():
        raise ValueError(f"numpy's {what} has no mx.np counterpart, and running it in numpy "
                         f"inside autograd.record() would lose the gradient; call it outside "
                         f"the recording, or on x.asnumpy() explicitly")
    warnings.warn(f"numpy's {what} is not in mx.np: it ran in numpy on host copies of the "
                  f"mxlite arrays", stacklevel=3)
    device = _first_device(list(args) + list(kwargs.values()))
    return _from_host(call(*_to_host(args), **_to_host(kwargs)), device)


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
        result = _numpy_fallback(what, getattr(ufunc, method), inputs, kwargs)
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
        return _numpy_fallback(f"{func.__module__}.{func.__name__}", func, args, kwargs)
    return fn(*args, **kwargs)


def _array_namespace(self, api_version=None):
    return _NAMESPACE


ndarray.__array_ufunc__ = _array_ufunc
ndarray.__array_function__ = _array_function
ndarray.__array_namespace__ = _array_namespace
