"""Hand-written CUDA kernels (kernels/*.cu) and their host wrappers.

``mxlite.cuda.ops`` holds the wrappers, each written once against ``(module, xp)``;
``mxlite.cuda.loader`` compiles the kernel files with CuPy; ``mxlite.cuda.philox`` reproduces
the dropout RNG in numpy. Importing this package does not import CuPy.

To call a wrapper on the GPU that holds its arrays::

    from mxlite.cuda import gpu_call, ops
    y = gpu_call(ops.softmax_forward, x_cupy, log=True)

``gpu_op(wrapper, device_id)`` binds a wrapper to one GPU's compiled module instead.
"""
import functools

from . import ops


def bind(wrapper, module_for, xp):
    """``wrapper`` with its (module, xp) filled in; ``module_for(stem)`` returns a compiled module."""
    return functools.partial(wrapper, module_for(wrapper.kernel_file), xp)


def gpu_op(wrapper, device_id=None):
    """``wrapper`` bound to CuPy and its kernel file compiled for ``device_id`` (the current GPU by default)."""
    import cupy

    from .loader import load_module

    return bind(wrapper, lambda stem: load_module(stem, device_id), cupy)


def gpu_call(wrapper, *args, **kwargs):
    """Run ``wrapper`` on the GPU of its first CuPy array argument (lists are searched too), with
    that GPU current so that the launch and any allocations land there."""
    import cupy

    from .loader import load_module

    device_id = _first_device(args)
    with cupy.cuda.Device(device_id):
        return bind(wrapper, lambda stem: load_module(stem, device_id), cupy)(*args, **kwargs)


def _first_device(values):
    for value in values:
        if isinstance(value, (list, tuple)):
            found = _first_device(value)
            if found is not None:
                return found
        elif hasattr(value, "__cuda_array_interface__"):
            return value.device.id
    return None


__all__ = ["bind", "gpu_call", "gpu_op", "ops"]
