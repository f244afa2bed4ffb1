"""Devices: ``mx.cpu(i)``, ``mx.gpu(i)`` and the per-context default device.

CPU ids are virtual (``cpu(0)`` and ``cpu(1)`` are distinct numpy-backed devices) so
multi-device code runs and is tested on machines without GPUs.
"""
import contextvars

from . import device_info as _info
from .backend import backend_for
from .base import GPUUnavailableError

__all__ = ["Device", "Context", "cpu", "gpu", "cpu_pinned", "current_device",
           "current_context", "num_gpus", "empty_cache", "gpu_memory_info", "device_info",
           "GPUUnavailableError"]


_DEVICE_TYPES = ("cpu", "gpu")
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


class Device:
    """A device: its type (``'cpu'`` or ``'gpu'``) and id.

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
            if device_type not in _DEVICE_TYPES:
                raise ValueError(f"unknown device type {device_type!r}; use 'cpu' or 'gpu'")
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
        return _DEVICE_TYPES.index(self.device_type) + 1

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
        # The device to restore goes on a stack in this thread's (or task's) own context, so
        # the shared, interned Device holds no per-scope state; the switch is the last step.
        _outer.set(_outer.get() + (_current.get(),))
        _current.set(self)
        return self

    def __exit__(self, *exc):
        outer = _outer.get()
        _current.set(outer[-1])
        _outer.set(outer[:-1])

    def empty_cache(self):
        """Release this device's cached memory blocks back to the driver."""
        if _memory.release is not None:  # no storage layer loaded: nothing is cached
            _memory.release(self)


Context = Device

_current = contextvars.ContextVar("mxlite_device", default=Device("cpu", 0))
_outer = contextvars.ContextVar("mxlite_outer_devices", default=())  # what each scope restores


def cpu(device_id=0):
    return Device("cpu", device_id)


def gpu(device_id=0):
    return Device("gpu", device_id)


def cpu_pinned(device_id=0):
    """Pinned host memory is plain host memory here; kept for API compatibility."""
    return Device("cpu", device_id)


def current_device():
    return _current.get()


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
