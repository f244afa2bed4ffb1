"""A numpy-backed stand-in for the part of CuPy mxlite's host code uses, for tests only.

``install(n_devices=2)`` puts it in ``sys.modules['cupy']`` (and ``cupyx``) before mxlite
touches CuPy, so ``mx.gpu(0)`` and ``mx.gpu(1)`` run the real GpuBackend, storage pools,
allocator hook and kernel registrations. Arrays carry the device that made them; using one
while another device is current raises, as CuPy does (so does launching a kernel on one,
drawing from a generator made on another device, or handing a host numpy array to anything
but ``asarray``/``array``). The current device and stream are per thread, set by
``cuda.Device(i)`` and ``cuda.Stream`` scopes. Every allocation goes through the hook
installed with ``cuda.set_allocator``. Counters: ``allocations`` (bytes per device),
``syncs`` (device-to-host reads: ``get``, ``int()``), ``uploads`` (host-to-device copies),
``compiles`` (RawModule/RawKernel builds), ``launches`` (per kernel name), ``nccl_calls`` (collectives of the NCCL
stand-in, ``cuda.nccl``, which runs them over MPI). ``RawModule``/``RawKernel`` compile the real
``kernels/*.cu`` for :mod:`mxlite.testing.cudasim` and launch them on the host.

What it cannot prove: timing, the memory model (buffers are host memory, ``malloc``
addresses are tokens), asynchronous execution and stream ordering (every launch finishes
before it returns, so a use-after-free across streams cannot show here), races inside
kernels, implicit device-to-host conversion (numpy reads these arrays silently, where CuPy
refuses), NVRTC's dialect and CuPy's exact semantics beyond what is mirrored here. A lent
card has the last word.
"""
import os
import sys
import threading
import types
import weakref
from collections import Counter

import numpy

_state = threading.local()
n_devices = 2
allocations = Counter()  # device id -> bytes requested through the allocator hook
syncs = Counter()        # device id -> device-to-host reads
uploads = Counter()      # device id -> host-to-device copies (asarray/array of host data, set)
compiles = Counter()     # "module" / "kernel" -> RawModule / RawKernel builds
launches = Counter()     # kernel name -> launches
nccl_calls = Counter()   # device id -> NCCL collectives launched
_allocator = None
_next_stream = [0x1000]
_by_pointer = weakref.WeakValueDictionary()  # ptr handed out by ``ndarray.data`` -> array


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


_HOST_INPUTS = ("asarray", "array", "asanyarray")  # the only functions CuPy lets read host arrays


def _check(arrays, host_ok=False):
    """Refuse, as CuPy does, arrays of another device and (unless ``host_ok``) host arrays."""
    dev = _current()
    for a in arrays:
        if isinstance(a, ndarray):
            if a.device.id != dev:
                raise ValueError(f"Array device must be same as the current device: "
                                 f"array device = {a.device.id} while current = {dev}")
        elif isinstance(a, numpy.ndarray) and not host_ok:
            raise TypeError(f"Unsupported type {type(a)}: a host numpy array given to CuPy; "
                            "copy it to the device first (cupy.asarray)")


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

    @property
    def data(self):
        """The ``MemoryPointer`` of the block the array lives in (views: offset into it),
        as CuPy's ``ndarray.data``; its ``ptr`` is the pool's address token."""
        root = self
        while getattr(root, "_memory", None) is None and isinstance(root.base, ndarray):
            root = root.base
        memory = getattr(root, "_memory", None)
        if memory is None:
            return MemoryPointer(UnownedMemory(0, 0, None, self._device.id), 0)
        pointer = MemoryPointer(memory.mem, memory.ptr - memory.mem.ptr
                                + self.ctypes.data - root.ctypes.data)
        _by_pointer[pointer.ptr] = self
        return pointer

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "version": 3,
                "data": (self.ctypes.data, False), "strides": self.strides}

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _check(list(_flat(inputs)) + list(_flat(kwargs.get("out", ()))))
        plain = [i.view(numpy.ndarray) if isinstance(i, ndarray) else i for i in inputs]
        if "out" in kwargs:
            outs = kwargs["out"]
            kwargs["out"] = tuple(o.view(numpy.ndarray) for o in outs)
            getattr(ufunc, method)(*plain, **kwargs)
            if method == "at":
                return None
            return outs[0] if len(outs) == 1 else outs
        return _wrap(getattr(ufunc, method)(*plain, **kwargs))

    def copy(self, order="C"):
        """A copy on the current device, even of another device's array (as CuPy's)."""
        return _wrap(numpy.array(self.view(numpy.ndarray), order=order, copy=True))

    def get(self):
        syncs[self._device.id] += 1
        return numpy.array(self.view(numpy.ndarray))

    def set(self, host, stream=None):
        """Host to device, as CuPy's: same shape and dtype, or it raises."""
        _check([self])
        if not isinstance(host, numpy.ndarray) or isinstance(host, ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(host)}")
        if host.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {host.shape}")
        if host.dtype != self.dtype:
            raise TypeError(f"{host.dtype} array cannot be set to {self.dtype} array")
        uploads[self._device.id] += 1
        self.view(numpy.ndarray)[...] = host

    def __int__(self):
        syncs[self._device.id] += 1
        return int(self.view(numpy.ndarray))

    def __float__(self):
        syncs[self._device.id] += 1
        return float(self.view(numpy.ndarray))


def _function(name, fn=None):
    fn = getattr(numpy, name) if fn is None else fn

    host_ok = name in _HOST_INPUTS

    def call(*args, **kwargs):
        _check(_flat([*args, *kwargs.values()]), host_ok)
        if host_ok and args and not isinstance(args[0], ndarray):
            uploads[_current()] += 1
            if type(args[0]) is numpy.ndarray:
                args = (numpy.array(args[0]), *args[1:])  # host to device is a copy
        plain = [a.view(numpy.ndarray) if isinstance(a, ndarray) else a for a in args]
        out = kwargs.get("out")
        kwargs = {k: v.view(numpy.ndarray) if isinstance(v, ndarray) else v
                  for k, v in kwargs.items()}
        result = fn(*plain, **kwargs)
        return out if isinstance(out, ndarray) else _wrap(result)
    call.__name__ = name
    return call


class _Namespace(types.ModuleType):
    """A numpy submodule (``linalg``, ``lib.stride_tricks``) whose functions act as CuPy's."""

    def __init__(self, name, source, children=()):
        super().__init__(f"cupy.{name}")
        self._source = source
        for child in children:
            setattr(self, child, _Namespace(f"{name}.{child}", getattr(source, child)))

    def __getattr__(self, name):
        value = getattr(self._source, name)
        return _function(name, value) if callable(value) and not isinstance(value, type) else value


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else numpy.asarray(a)


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else numpy


class Generator:
    """A generator bound to the device current when it was made, as CuPy's are."""

    def __init__(self, seed):
        self._device = _current()
        self._state = _alloc(48)  # CuPy keeps the generator's state in device memory
        self._rng = numpy.random.default_rng(seed)

    def __getattr__(self, name):
        draw = getattr(self._rng, name)

        def call(*args, **kwargs):
            if _current() != self._device:
                raise ValueError(f"generator made on device {self._device} used while "
                                 f"device {_current()} is current")
            return _wrap(numpy.asarray(draw(*args, **kwargs)))
        return call


class Stream:
    """A stream of the device current when it was made; ``with`` makes it current."""

    def __init__(self, null=False, non_blocking=False, ptr=None):
        if ptr is not None:
            self.ptr = ptr
        elif null:
            self.ptr = 0
        else:
            self.ptr, _next_stream[0] = _next_stream[0], _next_stream[0] + 0x10
        self.device_id = _current()
        self._saved = []

    def __enter__(self):
        self._saved.append(getattr(_state, "stream", None))
        _state.stream = self
        return self

    def __exit__(self, *exc):
        _state.stream = self._saved.pop()

    def use(self):
        _state.stream = self
        return self

    def synchronize(self):
        pass

    def record(self, event=None):
        event = Event() if event is None else event
        event.record(self)
        return event

    def wait_event(self, event):
        pass

    def __eq__(self, other):
        return isinstance(other, Stream) and other.ptr == self.ptr

    def __hash__(self):
        return hash(self.ptr)


_PER_THREAD_STREAM = 2  # cudaStreamPerThread: one handle value, a different stream per thread


def get_current_stream(device_id=None):
    stream = getattr(_state, "stream", None)
    if stream is not None:
        return stream
    per_thread = os.environ.get("CUPY_CUDA_PER_THREAD_DEFAULT_STREAM", "0") not in ("", "0")
    return Stream(ptr=_PER_THREAD_STREAM) if per_thread else Stream(null=True)


class Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.done = False

    def record(self, stream=None):
        self.done = True

    def synchronize(self):
        pass

    def query(self):
        return True


def get_elapsed_time(start, end):
    return 0.0


def _launch_arguments(name, args):
    """The launch's arguments as the host executor takes them; arrays must be on the current
    device, as CUDA needs them to be (a kernel cannot read another GPU's memory here)."""
    dev = _current()
    plain = []
    for index, arg in enumerate(args):
        if isinstance(arg, ndarray):
            if arg.device.id != dev:
                raise ValueError(f"kernel {name}: argument {index} is on device {arg.device.id} "
                                 f"but device {dev} is current")
            arg = arg.view(numpy.ndarray)
        elif isinstance(arg, numpy.ndarray):
            raise TypeError(f"kernel {name}: argument {index} is a host numpy array; pass a "
                            "device array")
        plain.append(arg)
    return tuple(plain)


class RawKernel:
    """One kernel, launched as CuPy does: ``kernel(grid, block, args, shared_mem=0, stream=None)``."""

    def __init__(self, code=None, name=None, options=(), *, _function=None, **_):
        if _function is None:
            compiles["kernel"] += 1
            _function = _cudasim().Module(code, options=tuple(options)).get_function(name)
        self._function = _function
        self.name = _function.name

    def __call__(self, grid, block, args, *, shared_mem=0, stream=None, enable_cooperative_groups=False):
        launches[self.name] += 1
        self._function(grid, block, _launch_arguments(self.name, args), shared_mem=shared_mem)


class RawModule:
    """A compiled kernel file (``code=``) with its template instantiations (``name_expressions``)."""

    def __init__(self, code=None, path=None, options=(), name_expressions=None, **_):
        compiles["module"] += 1
        self._module = _cudasim().Module(code if code is not None else path,
                                         name_expressions=tuple(name_expressions or ()),
                                         options=tuple(options))

    def compile(self, log_stream=None):
        return self

    def get_function(self, name):
        return RawKernel(_function=self._module.get_function(name))


def scatter_add(out, key, values):
    """``cupyx.scatter_add``: ``out[key] += values`` with repeated indices accumulating."""
    _check(_flat([out, values]) if not isinstance(key, tuple) else _flat([out, values, *key]))
    plain_key = tuple(k.view(numpy.ndarray) if isinstance(k, ndarray) else k for k in key) \
        if isinstance(key, tuple) else (key.view(numpy.ndarray) if isinstance(key, ndarray) else key)
    values = values.view(numpy.ndarray) if isinstance(values, ndarray) else values
    numpy.add.at(out.view(numpy.ndarray), plain_key, values)


def _special_module():
    """``cupyx.scipy.special`` backed by scipy's (where scipy is installed)."""
    special = types.ModuleType("cupyx.scipy.special")

    def __getattr__(name):
        try:
            import scipy.special
        except ImportError as err:
            raise AttributeError(f"the stand-in's cupyx.scipy.special.{name} needs scipy") from err
        return _function(name, getattr(scipy.special, name))
    special.__getattr__ = __getattr__
    return special


def _cudasim():
    from . import cudasim
    return cudasim


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


class _Nccl(types.ModuleType):
    """``cupy.cuda.nccl`` for tests of mxlite's NCCL path: communicators whose collectives
    run as MPI allreduces of the arrays behind the pointers given (those ``ndarray.data``
    handed out). It proves the host side (ids over MPI, pointers, counts, dtype codes, the
    device in scope), not NCCL itself."""

    available = True
    NCCL_SUM = 0
    _DTYPES = {0: "int8", 1: "uint8", 2: "int32", 3: "uint32", 4: "int64", 5: "uint64",
               6: "float16", 7: "float32", 8: "float64"}

    def __init__(self):
        super().__init__("cupy.cuda.nccl")
        nccl = self

        class NcclCommunicator:
            def __init__(self, ndev, uid, rank):
                if not (isinstance(uid, tuple) and len(uid) == 128):
                    raise TypeError("the NCCL unique id must be get_unique_id()'s 128-tuple")
                self.device_id, self.size, self.rank = _current(), ndev, rank

            def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
                nccl._collective(self, sendbuf, recvbuf, count, datatype, op)

        self.NcclCommunicator = NcclCommunicator

    def get_unique_id(self):
        return tuple(int(b) for b in os.urandom(128))

    def _collective(self, comm, sendbuf, recvbuf, count, datatype, op):
        from mpi4py import MPI
        if _current() != comm.device_id:
            raise CUDARuntimeError(400, f"NCCL communicator of device {comm.device_id} used "
                                   f"while device {_current()} is current")
        if op != self.NCCL_SUM:
            raise NotImplementedError(f"the stand-in NCCL sums only (op {op})")
        send, recv = (self._array(p) for p in (sendbuf, recvbuf))
        if send.size != count or str(send.dtype) != self._DTYPES[datatype]:
            raise ValueError(f"NCCL allReduce of {count} {self._DTYPES[datatype]} given a "
                             f"buffer of {send.size} {send.dtype}")
        host = numpy.ascontiguousarray(send.view(numpy.ndarray))
        out = numpy.empty_like(host)
        MPI.COMM_WORLD.Allreduce(host, out, op=MPI.SUM)
        recv.view(numpy.ndarray)[...] = out.reshape(recv.shape)
        nccl_calls[comm.device_id] += 1

    @staticmethod
    def _array(pointer):
        array = _by_pointer.get(pointer)
        if array is None:
            raise ValueError(f"pointer {pointer:#x} is not an array's data pointer")
        return array


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
    cuda.Stream, cuda.Event, cuda.get_current_stream = Stream, Event, get_current_stream
    cuda.get_elapsed_time = get_elapsed_time
    cuda.nccl = _Nccl()
    Stream.null = Stream(null=True)
    random = types.ModuleType("cupy.random")
    random.default_rng = Generator
    module.cuda, module.random = cuda, random
    module.RawModule, module.RawKernel = RawModule, RawKernel
    module.linalg = _Namespace("linalg", numpy.linalg)
    module.lib = _Namespace("lib", numpy.lib, children=("stride_tricks",))
    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = scatter_add
    cupyx.scipy = types.ModuleType("cupyx.scipy")
    cupyx.scipy.special = _special_module()
    sys.modules.update({"cupy": module, "cupy.cuda": cuda, "cupy.cuda.runtime": cuda.runtime,
                        "cupy.cuda.nccl": cuda.nccl, "cupy.random": random, "cupyx": cupyx, "cupyx.scipy": cupyx.scipy,
                        "cupyx.scipy.special": cupyx.scipy.special})
    return module


def __getattr__(name):
    value = getattr(numpy, name, None)
    if value is None:
        raise AttributeError(f"the CuPy stand-in has no {name!r}")
    return _function(name) if callable(value) and not isinstance(value, type) else value
