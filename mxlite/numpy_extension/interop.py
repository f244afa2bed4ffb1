"""Zero-copy exchange with numpy and DLPack, under MXNet 2.x's ``npx`` names."""
import ctypes
import weakref

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


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32),
                ("device_id", ctypes.c_int32), ("ndim", ctypes.c_int32),
                ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.CFUNCTYPE(None, ctypes.c_void_p))]


_DL_KINDS = {0: "i", 1: "u", 2: "f", 5: "c", 6: "b"}  # DLDataTypeCode -> numpy kind
_KDL_CPU = 1


def _capsule_functions():
    """ctypes' PyCapsule_GetPointer / PyCapsule_SetName, typed once at import."""
    api = ctypes.pythonapi
    get_pointer, set_name = api.PyCapsule_GetPointer, api.PyCapsule_SetName
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                   ctypes.c_char_p]
    set_name.restype, set_name.argtypes = ctypes.c_int, [ctypes.py_object, ctypes.c_char_p]
    return get_pointer, set_name


_capsule_pointer, _set_capsule_name = _capsule_functions()


def _managed_tensor(capsule):
    try:
        address = _capsule_pointer(capsule, b"dltensor")
    except ValueError:
        raise ValueError("from_dlpack: this capsule is not an unused 'dltensor' capsule (a "
                         "capsule can be imported once); export the array again, e.g. "
                         "x.to_dlpack_for_read()") from None
    return address, _DLManagedTensor.from_address(address)


def _host_array(capsule):
    """A writable numpy array over a host ``dltensor`` capsule's memory. numpy's own import
    makes a bare capsule read-only (it cannot say it may be written), but MXNet's
    ``to_dlpack_for_write`` exists to be written through. The capsule is marked used and its
    deleter runs when the last view of the memory goes."""
    address, managed = _managed_tensor(capsule)
    t = managed.dl_tensor
    if t.code not in _DL_KINDS or t.lanes != 1:
        raise TypeError(f"from_dlpack: DLPack type code {t.code} with {t.lanes} lanes has no "
                        "numpy dtype here")
    dtype = _onp.dtype(f"{_DL_KINDS[t.code]}{t.bits // 8}" if t.code != 6 else "?")
    shape = tuple(t.shape[i] for i in range(t.ndim))
    if t.strides:
        steps = tuple(t.strides[i] for i in range(t.ndim))
    else:  # C order
        steps = tuple(int(_onp.prod(shape[i + 1:])) for i in range(t.ndim))
    extent = 0 if 0 in shape else dtype.itemsize * (1 + sum((n - 1) * s for n, s in
                                                             zip(shape, steps)))
    memory = (ctypes.c_char * extent).from_address(t.data + t.byte_offset)
    _set_capsule_name(capsule, b"used_dltensor")  # its producer frees nothing
    if managed.deleter:
        weakref.finalize(memory, managed.deleter, address)
    return _onp.ndarray(shape, dtype, buffer=memory,
                        strides=tuple(s * dtype.itemsize for s in steps))


class _CapsuleProducer:
    """A DLPack producer around a bare device ``dltensor`` capsule (what MXNet's
    ``to_dlpack_for_*`` and ``torch.utils.dlpack.to_dlpack`` return)."""

    def __init__(self, capsule):
        t = _managed_tensor(capsule)[1].dl_tensor
        self._device = (t.device_type, t.device_id)
        self._capsule = capsule

    def __dlpack__(self, **kwargs):
        return self._capsule

    def __dlpack_device__(self):
        return self._device


def from_dlpack(dlpack):
    """An mxlite array over the memory of a DLPack producer or a bare ``dltensor`` capsule
    (as ``to_dlpack_for_read`` / ``to_dlpack_for_write`` and PyTorch return), writable as in
    MXNet."""
    if type(dlpack).__name__ != "PyCapsule":
        return creation.from_dlpack(dlpack)
    producer = _CapsuleProducer(dlpack)
    if producer.__dlpack_device__()[0] == _KDL_CPU:
        return wrap(_host_array(dlpack), cpu())
    return creation.from_dlpack(producer)


def _mxlite_array(x, name):
    if not isinstance(x, ndarray):
        raise TypeError(f"{name} takes an mxlite ndarray, got {type(x).__name__}")
    return x


def to_dlpack_for_read(data):
    return _mxlite_array(data, "to_dlpack_for_read").to_dlpack_for_read()


def to_dlpack_for_write(data):
    return _mxlite_array(data, "to_dlpack_for_write").to_dlpack_for_write()
