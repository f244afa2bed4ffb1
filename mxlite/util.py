"""``mx.util``: MXNet's switches for numpy semantics, which mxlite always has on.

The decorators and scopes exist so MXNet 2.x code (``@mx.util.use_np``, ``with
mx.util.np_shape(True):``) runs unchanged; asking to turn numpy semantics off raises,
since mxlite has no legacy ``mx.nd`` mode to fall back to. The one real switch is numpy's
default dtype: ``set_np(dtype=True)`` makes creation default to float64 instead of float32.
"""
import contextlib
import functools

from .base import is_np_default_dtype, set_np_default_dtype
from .device import gpu_memory_info, num_gpus

__all__ = ["use_np", "use_np_array", "use_np_shape", "np_array", "np_shape", "is_np_array",
           "is_np_shape", "set_np", "reset_np", "set_np_shape", "get_gpu_count",
           "get_gpu_memory", "is_np_default_dtype", "set_np_default_dtype", "np_default_dtype",
           "use_np_default_dtype"]


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
    """Run ``func`` with numpy's float64 default dtype."""
    @functools.wraps(func)
    def call(*args, **kwargs):
        with np_default_dtype(True):
            return func(*args, **kwargs)
    return call


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
