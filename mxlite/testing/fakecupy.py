"""A numpy-backed stand-in for the part of CuPy mxlite's host code uses, for tests only.

``install(n_devices=2)`` puts it in ``sys.modules['cupy']`` before mxlite touches CuPy, so
``mx.gpu(0)`` and ``mx.gpu(1)`` run the real GpuBackend, storage pools and allocator hook.
Arrays carry the device that made them; using one while another device is current raises,
as CuPy does. The current device is per thread and set by ``cuda.Device(i)`` scopes. Every
allocation goes through the hook installed with ``cuda.set_allocator`` and is counted per
device in ``allocations``; ``syncs`` counts device-to-host reads (``get``, ``int()``).

What it cannot prove: timing, the memory model (buffers are host memory, ``malloc``
addresses are tokens), asynchronous execution and stream ordering, kernel launches
(``RawModule`` is absent), and CuPy's exact semantics beyond what is mirrored here. A
lent card has the last word.
"""
import sys
import threading
import types
from collections import Counter

import numpy

_state = threading.local()
n_devices = 2
allocations = Counter()  # device id -> bytes requested through the allocator hook
syncs = Counter()        # device id -> device-to-host reads
_allocator = None


def _current():
    return getattr(_state, "device", 0)


class CUDARuntimeError(RuntimeError):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status


class Device:
    """Makes GPU ``id`` current inside ``with``; the previous one is restored on exit."""

    def __init__(self, device=None):
        self.id = _current() if device is None else int(device)
        if not 0 <= self.id < n_devices:
            raise CUDARuntimeError(101, "cudaErrorInvalidDevice: invalid device ordinal")
        self._saved = []

    def __enter__(self):
        self._saved.append(_current())
        _state.device = self.id
        return self

    def __exit__(self, *exc):
        _state.device = self._saved.pop()

    def use(self):
        _state.device = self.id

    def synchronize(self):
        pass

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return self.id

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


def _check(arrays):
    dev = _current()
    for a in arrays:
        if isinstance(a, ndarray) and a.device.id != dev:
            raise ValueError(f"Array device must be same as the current device: "
                             f"array device = {a.device.id} while current = {dev}")


def _alloc(nbytes):
    dev = _current()
    allocations[dev] += nbytes
    if _allocator is not None and nbytes:
        return _allocator(nbytes)
    return None


def _wrap(result):
    if isinstance(result, numpy.generic):  # CuPy keeps 0-d results arrays
        result = numpy.asarray(result)
    if isinstance(result, numpy.ndarray) and not isinstance(result, ndarray):
        out = result.view(ndarray)
        out._device = Device(_current())
        out._memory = _alloc(result.nbytes)  # held: freeing it returns the block
        return out
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    return result


def _flat(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


class ndarray(numpy.ndarray):
    """A numpy array that belongs to one fake device."""

    def __array_finalize__(self, obj):
        self._device = getattr(obj, "_device", None) or Device(_current())

    @property
    def device(self):
        return self._device

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _check(list(_flat(inputs)) + list(_flat(kwargs.get("out", ()))))
        plain = [i.view(numpy.ndarray) if isinstance(i, ndarray) else i for i in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(numpy.ndarray) for o in kwargs["out"])
            getattr(ufunc, method)(*plain, **kwargs)
            return inputs[0] if method == "at" else None
        return _wrap(getattr(ufunc, method)(*plain, **kwargs))

    def get(self):
        syncs[self._device.id] += 1
        return numpy.array(self.view(numpy.ndarray))

    def set(self, host):
        _check([self])
        self.view(numpy.ndarray)[...] = host

    def __int__(self):
        syncs[self._device.id] += 1
        return int(self.view(numpy.ndarray))

    def __float__(self):
        syncs[self._device.id] += 1
        return float(self.view(numpy.ndarray))


def _function(name):
    fn = getattr(numpy, name)

    def call(*args, **kwargs):
        _check(_flat(args))
        plain = [a.view(numpy.ndarray) if isinstance(a, ndarray) else a for a in args]
        return _wrap(fn(*plain, **kwargs))
    call.__name__ = name
    return call


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else numpy.asarray(a)


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else numpy


class Generator:
    """A generator bound to the device current when it was made, as CuPy's are."""

    def __init__(self, seed):
        self._device = _current()
        self._rng = numpy.random.default_rng(seed)

    def __getattr__(self, name):
        draw = getattr(self._rng, name)

        def call(*args, **kwargs):
            if _current() != self._device:
                raise ValueError(f"generator made on device {self._device} used while "
                                 f"device {_current()} is current")
            return _wrap(numpy.asarray(draw(*args, **kwargs)))
        return call


class _Runtime(types.ModuleType):
    CUDARuntimeError = CUDARuntimeError

    def __init__(self):
        super().__init__("cupy.cuda.runtime")
        self._next = 1 << 20

    def getDeviceCount(self):
        return n_devices

    def getDevice(self):
        return _current()

    def malloc(self, nbytes):
        address, self._next = self._next, self._next + max(512, -(-nbytes // 512) * 512)
        return address

    def free(self, address):
        pass

    def memGetInfo(self):
        return (8 << 30, 8 << 30)


class UnownedMemory:
    def __init__(self, ptr, size, owner, device_id):
        self.ptr, self.size, self.owner, self.device_id = ptr, size, owner, device_id


class MemoryPointer:
    def __init__(self, mem, offset):
        self.mem, self.ptr = mem, mem.ptr + offset


def set_allocator(allocator=None):
    global _allocator
    _allocator = allocator


def install(devices=2):
    """Make ``import cupy`` give this stand-in with ``devices`` fake GPUs."""
    global n_devices
    n_devices = devices
    module = sys.modules[__name__]
    cuda = types.ModuleType("cupy.cuda")
    cuda.Device, cuda.UnownedMemory, cuda.MemoryPointer = Device, UnownedMemory, MemoryPointer
    cuda.set_allocator, cuda.runtime = set_allocator, _Runtime()
    cuda.is_available = lambda: True
    random = types.ModuleType("cupy.random")
    random.default_rng = Generator
    module.cuda, module.random = cuda, random
    sys.modules.update({"cupy": module, "cupy.cuda": cuda, "cupy.cuda.runtime": cuda.runtime,
                        "cupy.random": random})
    return module


def __getattr__(name):
    value = getattr(numpy, name, None)
    if value is None:
        raise AttributeError(f"the CuPy stand-in has no {name!r}")
    return _function(name) if callable(value) and not isinstance(value, type) else value
