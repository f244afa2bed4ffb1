"""``mx.util``: MXNet's switches for numpy semantics, which mxlite always has on.

The decorators and scopes exist so MXNet 2.x code (``@mx.util.use_np``, ``with
mx.util.np_shape(True):``) runs unchanged; asking to turn numpy semantics off raises,
since mxlite has no legacy ``mx.nd`` mode to fall back to.
"""
import contextlib

from .device import gpu_memory_info, num_gpus

__all__ = ["use_np", "use_np_array", "use_np_shape", "np_array", "np_shape", "is_np_array",
           "is_np_shape", "set_np", "reset_np", "set_np_shape", "get_gpu_count",
           "get_gpu_memory"]


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
    _numpy_semantics_only(shape, "shape")
    _numpy_semantics_only(array, "array")
    if dtype:
        raise NotImplementedError(
            "set_np(dtype=True) (float64 as the default dtype) is not supported yet: mxlite "
            "creates float32 by default as MXNet does; pass dtype='float64' where you need it")


def reset_np():
    """numpy semantics stay on; kept so MXNet scripts run unchanged."""


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
