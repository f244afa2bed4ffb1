"""Hand-written CUDA kernels (kernels/*.cu) and their host wrappers.

``mxlite.cuda.ops`` holds the wrappers, each written once against ``(module, xp)``;
``mxlite.cuda.loader`` compiles the kernel files with CuPy; ``mxlite.cuda.philox`` reproduces
the dropout RNG in numpy. Importing this package does not import CuPy.

To call a wrapper on the current GPU::

    from mxlite.cuda import gpu_op, ops
    softmax = gpu_op(ops.softmax_forward)
    y = softmax(x_cupy, log=True)
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


__all__ = ["bind", "gpu_op", "ops"]
