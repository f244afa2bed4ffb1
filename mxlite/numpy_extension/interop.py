"""Zero-copy exchange with numpy and DLPack, under MXNet 2.x's ``npx`` names."""
import ctypes

import numpy as _onp

from ..device import cpu
from ..ndarray import ndarray, wrap
from ..numpy import creation

__all__ = ["from_numpy", "from_dlpack", "to_dlpack_for_read", "to_dlpack_for_write"]


def from_numpy(ndarray_, zero_copy=True, array_cls=None):
    """An mxlite array on the CPU over ``ndarray_``'s memory (``zero_copy``), or a copy.

    As MXNet's: zero copy needs a C-contiguous array, and the numpy array becomes read-only
    (the mxlite array owns the memory now; its writes show through)."""
    if not isinstance(ndarray_, _onp.ndarray):
        raise TypeError(f"from_numpy takes a numpy.ndarray, got {type(ndarray_).__name__}; "
                        f"use mx.np.array(...) for other objects")
    if not zero_copy:
        return creation.array(ndarray_, dtype=ndarray_.dtype, device=cpu())
    if not ndarray_.flags.c_contiguous:
        raise ValueError(f"from_numpy: zero copy needs a C-contiguous array (got strides "
                         f"{ndarray_.strides} for shape {ndarray_.shape}); pass "
                         "zero_copy=False to copy it, or numpy.ascontiguousarray(...) first")
    shared = ndarray_.view()  # stays writable after its base is made read-only
    ndarray_.flags.writeable = False
    return wrap(shared, cpu())


class _CapsuleProducer:
    """A DLPack producer around a bare ``dltensor`` capsule (what MXNet's
    ``to_dlpack_for_*`` and ``torch.utils.dlpack.to_dlpack`` return)."""

    def __init__(self, capsule):
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                       ctypes.c_char_p]
        try:
            tensor = get_pointer(capsule, b"dltensor")
        except ValueError:
            raise ValueError("from_dlpack: this capsule is not an unused 'dltensor' capsule (a "
                             "capsule can be imported once); export the array again, e.g. "
                             "x.to_dlpack_for_read()") from None
        # DLTensor: void *data, then DLDevice {int32 device_type, int32 device_id}
        self._device = tuple(ctypes.c_int32.from_address(tensor + ctypes.sizeof(ctypes.c_void_p)
                                                         + 4 * k).value for k in range(2))
        self._capsule = capsule

    def __dlpack__(self, **kwargs):
        return self._capsule

    def __dlpack_device__(self):
        return self._device


def from_dlpack(dlpack):
    """An mxlite array over the memory of a DLPack producer or a bare ``dltensor`` capsule.

    numpy imports a bare capsule read-only (an unversioned capsule cannot say it may be
    written); pass the producer itself (an array or tensor) for a writable view."""
    if type(dlpack).__name__ == "PyCapsule":
        dlpack = _CapsuleProducer(dlpack)
    return creation.from_dlpack(dlpack)


def _mxlite_array(x, name):
    if not isinstance(x, ndarray):
        raise TypeError(f"{name} takes an mxlite ndarray, got {type(x).__name__}")
    return x


def to_dlpack_for_read(data):
    return _mxlite_array(data, "to_dlpack_for_read").to_dlpack_for_read()


def to_dlpack_for_write(data):
    return _mxlite_array(data, "to_dlpack_for_write").to_dlpack_for_write()
