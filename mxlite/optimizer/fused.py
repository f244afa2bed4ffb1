"""The fused multi-tensor optimizer kernels (kernels/optimizer.cu) as the optimizers see them.

``Optimizer.fused_kernels(device)`` returns a :class:`FusedKernels` for the device of an update,
or None to use the per-array path. The default, :func:`gpu_kernels`, binds the wrappers of
``mxlite.cuda.ops`` to CuPy on a GPU; tests bind the same wrappers to the CPU CUDA executor with
numpy through :func:`bind_kernels`. Importing this module does not import CuPy.
"""
import functools
from typing import Callable, NamedTuple

__all__ = ["FusedKernels", "bind_kernels", "gpu_kernels"]


class FusedKernels(NamedTuple):
    """The fused update wrappers with their compiled module and array module filled in: each is
    called as ``mxlite.cuda.ops.<name>`` without its leading ``(k, xp)``."""

    sgd_momentum_update: Callable
    adam_update: Callable
    adamw_update: Callable


def bind_kernels(module_for, xp, launch_scope=None):
    """The wrappers bound by ``mxlite.cuda.bind(wrapper, module_for, xp)``; ``launch_scope()``,
    when given, is entered around every call (a CuPy device, so that the launch and its small
    parameter tables land on the arrays' GPU)."""
    from ..cuda import bind, ops

    def bound(wrapper):
        call = bind(wrapper, module_for, xp)
        if launch_scope is None:
            return call

        @functools.wraps(wrapper)
        def in_scope(*args, **kwargs):
            with launch_scope():
                return call(*args, **kwargs)
        return in_scope

    return FusedKernels(bound(ops.sgd_momentum_update), bound(ops.adam_update), bound(ops.adamw_update))


def gpu_kernels(device):
    """The kernels compiled for ``device`` when it is a GPU, else None (the per-array path)."""
    if device.device_type != "gpu":
        return None
    return _gpu_kernels(device.device_id)


@functools.lru_cache(maxsize=None)
def _gpu_kernels(device_id):
    import cupy

    from ..cuda.loader import load_module

    return bind_kernels(lambda stem: load_module(stem, device_id), cupy,
                        launch_scope=lambda: cupy.cuda.Device(device_id))
