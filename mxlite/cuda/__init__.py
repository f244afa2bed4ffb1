"""Hand-written CUDA kernels (kernels/*.cu) and their host wrappers.

``mxlite.cuda.ops`` holds the wrappers, each written once against ``(module, xp)``;
``mxlite.cuda.loader`` compiles the kernel files with CuPy; ``mxlite.cuda.philox`` reproduces
the dropout RNG in numpy; ``mxlite.cuda.register`` makes the wrappers the GPU
implementations of their ops. Importing this package does not import CuPy.

``bind(wrapper, module_for, xp)`` fills in a wrapper's module and array module: CuPy with
``loader.load_module`` on a GPU, numpy with ``mxlite.testing.cudasim.kernel_module`` in tests.
"""
import functools

from . import ops


def bind(wrapper, module_for, xp):
    """``wrapper`` with its (module, xp) filled in; ``module_for(stem)`` returns a compiled module."""
    return functools.partial(wrapper, module_for(wrapper.kernel_file), xp)


__all__ = ["bind", "ops"]
