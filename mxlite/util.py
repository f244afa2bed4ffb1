"""``mx.util``: MXNet's switches for numpy semantics, which mxlite always has on.

The decorators and scopes exist so MXNet 2.x code (``@mx.util.use_np``, ``with
mx.util.np_shape(True):``) runs unchanged; asking to turn numpy semantics off raises,
since mxlite has no legacy ``mx.nd`` mode to fall back to. The one real switch is numpy's
default dtype: ``set_np(dtype=True)`` makes creation default to float64 instead of float32.
``set_flush_denorms`` sets the CPU's flush-to-zero mode where that can be done (see there).
"""
import contextlib
import ctypes
import functools
import inspect
import platform
import warnings

import numpy as _np

from .backend.cpu import workers as _cpu_workers
from .base import is_np_default_dtype, set_np_default_dtype
from .device import gpu_memory_info, num_gpus

__all__ = ["use_np", "use_np_array", "use_np_shape", "np_array", "np_shape", "is_np_array",
           "is_np_shape", "set_np", "reset_np", "set_np_shape", "get_gpu_count",
           "get_gpu_memory", "is_np_default_dtype", "set_np_default_dtype", "np_default_dtype",
           "use_np_default_dtype", "set_flush_denorms", "dtype_from_number", "set_num_threads",
           "get_num_threads"]


def _numpy_semantics_only(active, what):
    if not active:
        raise ValueError(f"mxlite always uses numpy {what} semantics; MXNet's legacy mode "
                         f"(mx.nd) is not available, so {what}=False cannot be set")


def use_np(func):
    """Mark a function or class as numpy-style (a no-op: it always is in mxlite)."""
    return func


use_np_array = use_np_shape = use_np


def is_np_array():
    return True


def is_np_shape():
    return True


def set_np_shape(active):
    """Returns the previous state, as MXNet does."""
    _numpy_semantics_only(active, "shape")
    return True


def set_np(shape=True, array=True, dtype=False):
    """numpy semantics (always on); ``dtype=True`` makes float64 the default dtype."""
    _numpy_semantics_only(shape, "shape")
    _numpy_semantics_only(array, "array")
    set_np_default_dtype(dtype)


def reset_np():
    """Back to MXNet's float32 default dtype; numpy semantics stay on."""
    set_np_default_dtype(False)


@contextlib.contextmanager
def np_default_dtype(active=True):
    """numpy's float64 default dtype (or MXNet's float32) inside the scope."""
    previous = set_np_default_dtype(active)
    try:
        yield
    finally:
        set_np_default_dtype(previous)


def use_np_default_dtype(func):
    """Run ``func`` with numpy's float64 default dtype. A class stays a class (as in MXNet):
    its methods, static and class methods and properties, inherited ones included, run so."""
    if isinstance(func, type):
        for name in {name for klass in func.__mro__[:-1] for name in vars(klass)}:
            member = _in_np_default_dtype_member(inspect.getattr_static(func, name))
            if member is not None:
                setattr(func, name, member)
        return func
    if not callable(func):
        raise TypeError(f"use_np_default_dtype decorates a class or a callable, not a "
                        f"{type(func).__name__}")
    return _in_np_default_dtype(func)


def _in_np_default_dtype(func):
    @functools.wraps(func)
    def call(*args, **kwargs):
        with np_default_dtype(True):
            return func(*args, **kwargs)
    return call


def _in_np_default_dtype_member(member):
    """``member`` of a class rewrapped to run under numpy's default dtype; None when it runs
    no code of its own (data, slots)."""
    if isinstance(member, property):
        return property(*(f and _in_np_default_dtype(f)
                          for f in (member.fget, member.fset, member.fdel)), member.__doc__)
    if isinstance(member, (staticmethod, classmethod)):
        return type(member)(_in_np_default_dtype(member.__func__))
    return _in_np_default_dtype(member) if inspect.isfunction(member) else None


@contextlib.contextmanager
def np_shape(active=True):
    _numpy_semantics_only(active, "shape")
    yield


@contextlib.contextmanager
def np_array(active=True):
    _numpy_semantics_only(active, "array")
    yield


def get_gpu_count():
    return num_gpus()


def get_gpu_memory(gpu_dev_id):
    """``(free, total)`` bytes of ``gpu(gpu_dev_id)``."""
    return gpu_memory_info(gpu_dev_id)


_FTZ, _DAZ = 0x8000, 0x0040  # MXCSR's flush-to-zero and denormals-are-zero bits
_FENV_BYTES, _MXCSR_AT = 32, 28  # glibc's x86-64 fenv_t: the x87 environment, then MXCSR


def _libm():
    """glibc's libm, whose fegetenv/fesetenv read and write MXCSR; None elsewhere."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64") \
            or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL("libm.so.6")


def set_flush_denorms(value):
    """MXNet's switch for flushing denormal floats to zero on the CPU; returns the previous
    state (whether flush-to-zero was on).

    On x86-64 Linux with glibc it sets or clears MXCSR's flush-to-zero and
    denormals-are-zero bits, as MXNet does, through C's fegetenv/fesetenv. MXCSR belongs to
    the calling thread: numpy's loops on CPU arrays run there and flush; threads started
    later inherit the mode, threads already running (BLAS pools, data-loader workers) keep
    theirs, except mxlite's own CPU threads (``set_num_threads``), which take the caller's
    mode before their next piece of work. GPU arrays are untouched (a CUDA kernel's flushing
    is fixed when it is compiled). mxlite leaves the mode off at import (MXNet turns it on), since it would change numpy's
    results in the whole program. Elsewhere the mode cannot be read or set: it stays as it
    is, True warns, and the result is False."""
    libm = _libm()
    if libm is None:
        if value:
            warnings.warn(f"set_flush_denorms: the flush-to-zero mode can only be set on "
                          f"x86-64 Linux with glibc, not on {platform.system()} "
                          f"{platform.machine()}; denormals are left as they are",
                          RuntimeWarning, stacklevel=2)
        return False
    env = (ctypes.c_uint8 * _FENV_BYTES)()
    if libm.fegetenv(env) != 0:
        raise OSError("set_flush_denorms: fegetenv failed")
    mxcsr = ctypes.c_uint32.from_buffer(env, _MXCSR_AT)
    previous = bool(mxcsr.value & _FTZ)
    mxcsr.value = (mxcsr.value | _FTZ | _DAZ) if value else (mxcsr.value & ~(_FTZ | _DAZ))
    if libm.fesetenv(env) != 0:
        raise OSError("set_flush_denorms: fesetenv failed")
    _cpu_workers.in_every_thread(lambda: libm.fesetenv(env))
    return previous


def set_num_threads(threads):
    """How many threads one large elementwise op on CPU arrays may use (the caller's
    included; default ``MXLITE_CPU_THREADS``, else MXNet's ``OMP_NUM_THREADS``, else the
    cores this process may run on); returns the previous number. BLAS products keep their
    own pool (``OPENBLAS_NUM_THREADS``, or threadpoolctl)."""
    previous = _cpu_workers.threads
    _cpu_workers.set_threads(threads)
    return previous


def get_num_threads():
    """The number of threads ``set_num_threads`` set."""
    return _cpu_workers.threads


_INT64_MAX, _UINT64_MAX = 2 ** 63 - 1, 2 ** 64 - 1
_FLOAT32_MAX = float(_np.finfo(_np.float32).max)


def dtype_from_number(number):
    """The dtype MXNet gives a Python scalar: int64 for ints (uint64 past int64's range),
    the default float for floats unless float32 would overflow or round a non-integer to an
    integer (then float64); a numpy scalar keeps its dtype."""
    if isinstance(number, _np.generic):
        return number.dtype
    if isinstance(number, int):
        if number > _UINT64_MAX:
            raise OverflowError(f"dtype_from_number: {number} does not fit in 64 bits")
        return _np.uint64 if number > _INT64_MAX else _np.int64
    if isinstance(number, float):
        if abs(number) > _FLOAT32_MAX or (not _np.isnan(number)
                                           and _np.float32(number) == int(number) != number):
            return _np.float64
        return _np.float64 if is_np_default_dtype() else _np.float32
    raise TypeError(f"dtype_from_number takes an int, a float or a numpy scalar, not a "
                    f"{type(number).__name__}")
