"""Array creation. Python lists and float64 host data become float32 (MXNet 2.x);
integer and bool numpy arrays keep their dtype."""
import numpy as _np

from .. import storage
from ..base import MXNetError, default_float, is_np_default_dtype
from ..device import Device, current_device
from ..ndarray import ndarray, wrap, wrap_constant

__all__ = ["array", "asarray", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
           "full_like", "empty_like", "arange", "linspace", "logspace", "eye", "identity", "tri",
           "from_dlpack"]


def _device(device, ctx):
    return Device(device or ctx or current_device())


def _from_host(host, dev):
    """The host array ``host`` as an array on ``dev`` that a traced graph keeps constant."""
    return wrap_constant(dev.backend.asarray(host), dev)


def _default_dtype(obj, host):
    """The dtype MXNet 2.x gives ``obj`` when none is asked for."""
    if isinstance(obj, _np.ndarray) or hasattr(obj, "__array_interface__") \
            or hasattr(obj, "__cuda_array_interface__"):
        return default_float() if host.dtype == _np.float64 else host.dtype
    if host.dtype.kind == "b":
        return host.dtype
    return default_float() if host.dtype.kind in "iuf" else host.dtype


def array(object, dtype=None, device=None, ctx=None, copy=True):
    """A new array on ``device`` holding ``object`` (copied)."""
    dev = _device(device, ctx)
    if isinstance(object, ndarray):
        data = object._data
        if object._device is not dev:
            data = dev.backend.asarray(object._device.backend.to_host(data)
                                       if dev.backend.kind == 0 else data)
        elif copy:
            data = data.copy()
        if dtype is not None:
            data = data.astype(dtype, copy=False)
        return wrap(data, dev)
    host = _np.asarray(object.get() if hasattr(object, "get") and
                       hasattr(object, "__cuda_array_interface__") else object)
    if host.dtype.kind in "OUS" and dtype is None:
        raise TypeError(f"mx.np.array holds numbers and booleans, not {host.dtype} data (from "
                        f"a {type(object).__name__}); convert it to a numeric array first")
    if dtype is None:
        dtype = _default_dtype(object, host)
    data = dev.backend.asarray(host, dtype=dtype)
    if copy and data is host:
        data = data.copy()
    return wrap_constant(data, dev)


def asarray(a, dtype=None, device=None, ctx=None):
    if isinstance(a, ndarray) and dtype in (None, a.dtype) and \
            (device or ctx) in (None, a._device):
        return a
    return array(a, dtype=dtype, device=device, ctx=ctx, copy=False)


def _filled(dev, shape, dtype, fill_value, order="C"):
    """A pooled array of ``shape`` set to ``fill_value`` (left uninitialised when None)."""
    if order != "C":  # MXNet's arrays are C-ordered
        raise NotImplementedError(f"only order='C' is supported (MXNet), got {order!r}")
    data = storage.empty(dev, shape, dtype)
    if fill_value is not None:
        data.fill(fill_value)
    return wrap_constant(data, dev)


def zeros(shape, dtype=None, order="C", device=None, ctx=None):
    return _filled(_device(device, ctx), shape, dtype or default_float(), 0, order)


def ones(shape, dtype=None, order="C", device=None, ctx=None):
    return _filled(_device(device, ctx), shape, dtype or default_float(), 1, order)


def empty(shape, dtype=None, order="C", device=None, ctx=None):
    return _filled(_device(device, ctx), shape, dtype or default_float(), None, order)


def full(shape, fill_value, dtype=None, order="C", device=None, ctx=None):
    """``shape`` filled with ``fill_value``: a scalar, or an array broadcast to ``shape``
    (whose dtype the result keeps when ``dtype`` is None)."""
    if isinstance(fill_value, ndarray):
        if fill_value.ndim == 0 and dtype is not None:
            fill_value = fill_value.item()
        else:
            dev = _device(device, ctx)
            data = dev.backend.asarray(fill_value.asnumpy()).astype(dtype or fill_value.dtype)
            with dev.backend.scope():
                res = dev.backend.xp.broadcast_to(data, tuple(
                    (shape,) if isinstance(shape, int) else shape)).copy()
            return wrap_constant(res, dev)
    if dtype is None and isinstance(fill_value, bool):
        dtype = _np.bool_
    return _filled(_device(device, ctx), shape, dtype or default_float(), fill_value, order)


def _like(a, dtype, device, ctx, fill_value):
    return _filled(Device(device or ctx or a._device), a.shape, dtype or a.dtype, fill_value)


def zeros_like(a, dtype=None, order="C", device=None, ctx=None):
    return _like(a, dtype, device, ctx, 0)


def ones_like(a, dtype=None, order="C", device=None, ctx=None):
    return _like(a, dtype, device, ctx, 1)


def empty_like(a, dtype=None, order="C", device=None, ctx=None):
    return _like(a, dtype, device, ctx, None)


def full_like(a, fill_value, dtype=None, order="C", device=None, ctx=None):
    return _like(a, dtype, device, ctx, fill_value)


def arange(start, stop=None, step=1, dtype=None, device=None, ctx=None):
    """Evenly spaced values. Without ``dtype``: float32 (MXNet), or under numpy's default
    dtype what numpy infers from the bounds (int64 for integers, as MXNet 2.x gives)."""
    dev = _device(device, ctx)
    if dtype is None and not is_np_default_dtype():
        dtype = default_float()
    host = _np.arange(start, stop, step, dtype=dtype) if stop is not None \
        else _np.arange(start, step=step, dtype=dtype)
    return _from_host(host, dev)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
             device=None, ctx=None):
    """``num`` evenly spaced values, computed in float64 and cast (float32 by default;
    integer dtypes round toward -inf, as numpy). A negative or non-integer ``num`` raises
    ``ValueError``/``TypeError`` that is also an ``MXNetError`` (MXNet's type)."""
    dev = _device(device, ctx)
    if isinstance(num, bool) or not isinstance(num, (int, _np.integer)):
        raise _LinspaceTypeError(f"linspace: num must be an integer, got {num!r}")
    if num < 0:
        raise _LinspaceValueError(f"linspace: number of samples, {num}, must be non-negative")
    res = _np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, axis=axis)
    host, step = res if retstep else (res, None)
    dtype = _np.dtype(dtype or default_float())
    if dtype.kind in "iu":
        host = _np.floor(host)
    out = _from_host(host.astype(dtype), dev)
    return (out, step) if retstep else out


class _LinspaceTypeError(TypeError, MXNetError):
    pass


class _LinspaceValueError(ValueError, MXNetError):
    pass


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0, device=None,
             ctx=None):
    """``base ** linspace(start, stop)``, computed in float64 and cast (float32 by default)."""
    dev = _device(device, ctx)
    host = _np.logspace(start, stop, num, endpoint=endpoint, base=base, axis=axis)
    return _from_host(host.astype(dtype or default_float()), dev)


class _NegativeDimension(ValueError, MXNetError):
    """A negative size asked of a creation function (numpy: ValueError; MXNet: MXNetError)."""


def eye(N, M=None, k=0, dtype=None, device=None, ctx=None):
    if N < 0 or (M is not None and M < 0):
        raise _NegativeDimension(f"eye: N and M must be non-negative, got N={N}, M={M}")
    dev = _device(device, ctx)
    with dev.backend.scope():
        return wrap_constant(dev.backend.xp.eye(N, M, k, dtype=dtype or default_float()), dev)


def tri(N, M=None, k=0, dtype=None, device=None, ctx=None):
    """Ones at and below the ``k``-th diagonal of an ``N x M`` array (float32 default)."""
    dev = _device(device, ctx)
    host = _np.tri(N, M, k, dtype=_np.dtype(dtype or default_float()))
    return _from_host(host, dev)


def identity(n, dtype=None, device=None, ctx=None):
    return eye(n, dtype=dtype, device=device, ctx=ctx)


def from_dlpack(x):
    """Zero-copy import from any DLPack producer (numpy, CuPy, PyTorch)."""
    kind, dev_id = x.__dlpack_device__()
    if int(kind) == 1:  # kDLCPU
        return wrap(_np.from_dlpack(x), Device("cpu", 0))
    dev = Device("gpu", dev_id)
    with dev.backend.scope():
        return wrap(dev.backend.xp.from_dlpack(x), dev)
