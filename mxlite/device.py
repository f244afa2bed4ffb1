"""Devices: ``mx.cpu(i)``, ``mx.gpu(i)`` and the per-context default device.

CPU ids are virtual (``cpu(0)`` and ``cpu(1)`` are distinct numpy-backed devices) so
multi-device code runs and is tested on machines without GPUs.
"""
import contextvars

__all__ = ["Device", "Context", "cpu", "gpu", "cpu_pinned", "current_device",
           "current_context", "num_gpus", "empty_cache", "gpu_memory_info", "device_info",
           "GPUUnavailableError"]


class GPUUnavailableError(RuntimeError):
    """A GPU device was asked for but cannot be used; the message says why."""


_DEVICE_TYPES = ("cpu", "gpu")


class Device:
    """A device: its type (``'cpu'`` or ``'gpu'``) and id.

    Instances are interned, so ``is`` comparison is equality; the hot path relies on it.
    ``with mx.gpu(0):`` makes it the default device for new arrays in this context only.
    """

    __slots__ = ("device_type", "device_id", "_backend", "_tokens", "__weakref__")
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
            dev._tokens = []
            cls._interned[key] = dev
        return dev

    def __reduce__(self):
        return (Device, (self.device_type, self.device_id))

    @property
    def backend(self):
        """The backend that runs ops on this device (created on first use)."""
        be = self._backend
        if be is None:
            from .backend import backend_for
            be = self._backend = backend_for(self)
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
        self._tokens.append(_current.set(self))
        return self

    def __exit__(self, *exc):
        _current.reset(self._tokens.pop())

    def empty_cache(self):
        """Release this device's cached memory blocks back to the driver."""
        from . import storage
        storage.empty_cache(self)


Context = Device

_current = contextvars.ContextVar("mxlite_device", default=Device("cpu", 0))


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
    from .device_info import gpu_count
    return gpu_count()


def empty_cache(device):
    """Release ``device``'s cached memory blocks back to the driver."""
    Device(device).empty_cache()


def gpu_memory_info(device_id=0):
    """``(free, total)`` bytes of ``gpu(device_id)`` (NVML, else CuPy)."""
    from .device_info import gpu_memory_info as query
    return query(device_id)


def device_info(device=None):
    """Name, compute capability, memory, utilization and driver of ``device``."""
    from .device_info import device_info as query
    return query(device)
