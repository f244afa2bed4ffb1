"""Backends: the array module and host transfers for one device.

Ops are written once against ``backend.xp`` (numpy or CuPy). A backend can register a
faster implementation of an op (``Op.register``); the GPU kernels use that hook.
The backend is always taken from the array's device, never from a global switch.

Interface (see CpuBackend, GpuBackend): ``kind`` (CPU or GPU: the index into an op's
implementation table), ``xp``, ``array_type``, ``device``, ``host_memory`` (whether arrays
live in host memory), ``rng`` (made on first use), ``host_rng()``, ``next_seed()``, ``scope()`` (the context
every call on this backend's arrays runs in: the array's GPU current for CuPy, nothing on the
CPU), ``empty(shape, dtype)``, ``asarray(obj, dtype)``, ``to_host(data)``,
``copy_from_host(dst, host)``, ``synchronize()``, ``seed(seed)``. This is the lowest layer
but ``base``: it imports nothing else of mxlite. Importing it does not import CuPy.
"""
from .cpu import CPU, CpuBackend
from .gpu import GPU, GpuBackend

__all__ = ["CPU", "GPU", "CpuBackend", "backend_for", "set_default_seed"]


_default_seed = None  # None: generators start from OS entropy; set by mx.np.random.seed


def set_default_seed(seed):
    """The seed every backend created from now on starts from."""
    global _default_seed
    _default_seed = seed


def backend_for(device):
    if device.is_host:
        be = CpuBackend(device)
    else:
        be = GpuBackend(device)  # imports CuPy
    if _default_seed is not None:
        be.seed(_default_seed)
    return be
