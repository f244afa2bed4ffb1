"""Exceptions and dtype defaults shared by every layer.

numpy has no bfloat16; ``ml_dtypes`` (imported here, so every layer can name it) gives host
arrays one: ``numpy.dtype("bfloat16")`` works once it is imported.
"""
import ml_dtypes as _ml_dtypes
import numpy as _np

__all__ = ["MXNetError", "DeviceMismatchError", "GPUUnavailableError", "default_float",
           "set_np_default_dtype", "is_np_default_dtype", "float32", "float16", "bfloat16",
           "is_floating", "finfo", "integer_types", "numeric_types", "string_types", "py_str"]

# MXNet's isinstance groups (``mxnet.base``), which user code and MXNet's tests check against
integer_types = (int, _np.int32, _np.int64)
numeric_types = (float, int, _np.generic)
string_types = (str,)


class MXNetError(RuntimeError):
    """Raised where MXNet raises ``MXNetError``; messages say what to do."""


class DeviceMismatchError(ValueError):
    """Arrays on different devices were used in one operation."""


class GPUUnavailableError(MXNetError):
    """A GPU device was asked for but cannot be used; the message says why. An MXNetError,
    as MXNet's "no GPU" error is, so ``except mx.base.MXNetError`` catches it."""


def py_str(x):
    """Decode ``bytes`` (UTF-8) to ``str``, as MXNet's helper for C strings does."""
    return x.decode("utf-8")


float32 = _np.dtype(_np.float32)
float16 = _np.dtype(_np.float16)
bfloat16 = _np.dtype(_ml_dtypes.bfloat16)
_float64 = _np.dtype(_np.float64)
_numpy_default_dtype = False  # the documented process-wide default: MXNet's float32


def default_float():
    """The dtype creation and float promotion use: float32 as in MXNet, float64 after
    ``npx.set_np(dtype=True)`` (numpy's default)."""
    return _float64 if _numpy_default_dtype else float32


def is_np_default_dtype():
    return _numpy_default_dtype


def set_np_default_dtype(is_np_default_dtype=True):
    """Switch numpy's default dtype (float64) on or off; returns the previous setting."""
    global _numpy_default_dtype
    previous, _numpy_default_dtype = _numpy_default_dtype, bool(is_np_default_dtype)
    return previous


def is_floating(dtype):
    """Whether ``dtype`` is a real floating type, bfloat16 included (numpy files it as kind 'V')."""
    dtype = _np.dtype(dtype)
    return dtype.kind == "f" or dtype == bfloat16


def finfo(dtype):
    """numpy's finfo, and ml_dtypes' for bfloat16 (which numpy's does not know)."""
    dtype = _np.dtype(dtype)
    return _ml_dtypes.finfo(dtype) if dtype == bfloat16 else _np.finfo(dtype)
