"""Devices: ``mx.cpu(i)``, ``mx.gpu(i)``, ``mx.cpu_pinned(i)`` and the per-context default.

CPU ids are virtual (``cpu(0)`` and ``cpu(1)`` are distinct numpy-backed devices) so
multi-device code runs and is tested on machines without GPUs. ``cpu_pinned`` and
``cpu_shared`` are MXNet's host devices for page-locked and shared memory: distinct devices
(an array moved to one is a copy) whose arrays are plain numpy host memory here, and which
mix with ``cpu`` arrays in one operation, as in MXNet.
"""
import contextvars
import threading
import weakref

from . import device_info as _info
from .backend import backend_for
from .base import GPUUnavailableError

__all__ = ["Device", "Context", "cpu", "gpu", "cpu_pinned", "current_device",
           "current_context", "num_gpus", "empty_cache", "gpu_memory_info", "device_info",
           "GPUUnavailableError"]


_TYPE_IDS = {"cpu": 1, "gpu": 2, "cpu_pinned": 3, "cpu_shared": 5}  # MXNet's device_typeid
HOST_TYPES = ("cpu", "cpu_pinned", "cpu_shared")  # numpy-backed, host memory
_backend_hooks = []  # called with each backend once it is made (see on_backend_created)


class _MemoryHooks:
    release = None  # release(device) empties its pool's cache: plugged in by mxlite.storage


_memory = _MemoryHooks()


def set_cache_release(release):
    """Plug in what ``Device.empty_cache`` calls (the storage layer owns the pools)."""
    _memory.release = release


def on_backend_created(hook):
    """Call ``hook(backend)`` for every device backend made from now on (and the ones made
    already): the storage layer routes CuPy's allocations to its pools this way."""
    _backend_hooks.append(hook)
    for dev in list(Device._interned.values()):
        if dev._backend is not None:
            hook(dev._backend)


class _ExitLookup:
    """``Device.__exit__``: a fresh callable per ``with``, which lives exactly as long as the
    ``with`` statement, so an interrupt that skips the exit call (between the switch and the
    body, or at the ``with`` line on the way out) still restores the device when collected."""

    def __get__(self, device, cls=None):
        if device is None:  # looked up on the class (contextlib.ExitStack): a plain function
            return _leave_unbound
        leave = _pending.exit = _Leave(device)
        return leave


def _leave_unbound(device, *exc):
    _Leave(device)()


class Device:
    """A device: its type (``'cpu'``, ``'gpu'``, ``'cpu_pinned'`` or ``'cpu_shared'``) and id.

    Instances are interned, so ``is`` comparison is equality; the hot path relies on it.
    ``with mx.gpu(0):`` makes it the default device for new arrays in this context only.
    """

    __slots__ = ("device_type", "device_id", "_backend", "__weakref__")
    _interned = {}

    def __new__(cls, device_type, device_id=0):
        if isinstance(device_type, Device):
            return device_type
        key = (device_type, int(device_id))
        dev = cls._interned.get(key)
        if dev is None:
            if device_type not in _TYPE_IDS:
                raise ValueError(f"unknown device type {device_type!r}; use one of "
                                 f"{', '.join(map(repr, _TYPE_IDS))}")
            if int(device_id) < 0:
                raise ValueError(f"device id must be >= 0, got {device_id}")
            dev = object.__new__(cls)
            dev.device_type = device_type
            dev.device_id = int(device_id)
            dev._backend = None
            cls._interned[key] = dev
        return dev

    def __reduce__(self):
        return (Device, (self.device_type, self.device_id))

    @property
    def backend(self):
        """The backend that runs ops on this device (created on first use)."""
        be = self._backend
        if be is None:
            be = self._backend = backend_for(self)
            for hook in _backend_hooks:
                hook(be)
        return be

    @property
    def device_typeid(self):
        return _TYPE_IDS[self.device_type]

    @property
    def is_host(self):
        """Whether arrays here live in host memory and run on numpy."""
        return self.device_type in HOST_TYPES

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__

    def __enter__(self):
        if self.device_type == "gpu":
            self.backend  # fail early, with the reason, if the GPU is unusable
        leave, _pending.exit = _pending.exit, None
        ref = (weakref.ref(leave, _abandoned) if leave is not None and leave.device is self
               else None)
        _current.set(((self, ref), *_current.get())); return self  # noqa: E702 (no event between)

    __exit__ = _ExitLookup()

    def empty_cache(self):
        """Release this device's cached memory blocks back to the driver."""
        if _memory.release is not None:  # no storage layer loaded: nothing is cached
            _memory.release(self)


Context = Device


class _Leave:
    """``with device:``'s exit: drops the device's innermost entry and any left above it."""
    __slots__ = ("device", "__weakref__")

    def __init__(self, device):
        self.device = device

    def __call__(self, *exc):
        if _pending.exit is self:  # called without entering (by hand): no later enter takes it
            _pending.exit = None
        stack = _current.get()
        for i, (dev, _) in enumerate(stack[:-1]):
            if dev is self.device:
                _current.set(stack[i + 1:])
                return


def _abandoned(ref):
    """A ``with device:`` ended without its exit call: drop its entry."""
    stack = _current.get()
    for i, (_, r) in enumerate(stack):
        if r is ref:
            _current.set(stack[:i] + stack[i + 1:])
            return


class _Pending(threading.local):
    exit = None  # the exit looked up by the ``with`` statement about to call __enter__


_pending = _Pending()

# The open ``with device:`` scopes of this context as (device, weakref to its exit), innermost
# first, then the default. The stack is the context variable's value (not tokens kept on the
# interned, shared Device), so threads and asyncio tasks each see their own and nest freely.
_current = contextvars.ContextVar("mxlite_device", default=((Device("cpu", 0), None),))


def cpu(device_id=0):
    return Device("cpu", device_id)


def gpu(device_id=0):
    return Device("gpu", device_id)


def cpu_pinned(device_id=0):
    """MXNet's page-locked host device; its arrays are plain host memory here."""
    return Device("cpu_pinned", device_id)


def current_device():
    return _current.get()[0][0]


def set_default_device(device):
    """Make ``device`` what ``current_device()`` returns outside every ``with device:`` in
    this thread or task (MXNet's test_utils.set_default_context); returns the previous one."""
    if not isinstance(device, Device):
        raise TypeError(f"set_default_device takes a Device such as mx.cpu() or mx.gpu(0), "
                        f"got {device!r}")
    stack = _current.get()
    _current.set(stack[:-1] + ((device, None),))
    return stack[-1][0]


current_context = current_device


def num_gpus():
    """Number of usable NVIDIA GPUs: NVML when present, else CuPy, else 0. Never raises."""
    return _info.gpu_count()


def empty_cache(device):
    """Release ``device``'s cached memory blocks back to the driver."""
    Device(device).empty_cache()


def gpu_memory_info(device_id=0):
    """``(free, total)`` bytes of ``gpu(device_id)`` (NVML, else CuPy)."""
    return _info.gpu_memory_info(device_id)


def device_info(device=None):
    """Name, compute capability, memory, utilization and driver of ``device``."""
    return _info.device_info(current_device() if device is None else Device(device))
