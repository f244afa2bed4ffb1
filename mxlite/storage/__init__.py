"""Pooled device memory: one pool per device, with statistics and control.

Other layers allocate through :func:`empty` / :func:`zeros`, which return a backend
array (numpy on ``cpu(i)``, CuPy on ``gpu(i)``). On GPUs the pool is also CuPy's
allocator (:func:`install_cupy_allocator`), so every CuPy array mxlite makes is pooled.
The strategy and limits come from ``MXLITE_<DEV>_MEM_*`` environment variables
(:mod:`mxlite.storage.config`), read when a device's pool is first used.
"""
import logging
import operator
import threading

import numpy

from ..device import Device, current_device, on_backend_created, set_cache_release
from . import gpu as _gpu_hook
from .config import (DEFAULT_POOL_TYPE, POOL_TYPES, PoolConfig, PoolConfigError,
                     config_from_env)
from .host import POOL_MIN_BYTES, keep_freed_heap, pooled_empty, release_freed_heap
from .pool import MemoryPool, OutOfMemoryError, make_pool
from .raw import CupyRawAllocator, FakeRawAllocator, HostRawAllocator, RawOutOfMemory

__all__ = ["empty", "zeros", "stats", "reset_peak", "empty_cache", "memory_summary",
           "pool_for", "install_cupy_allocator", "OutOfMemoryError", "PoolConfig",
           "PoolConfigError", "POOL_TYPES", "DEFAULT_POOL_TYPE", "POOL_MIN_BYTES",
           "MemoryPool", "make_pool", "FakeRawAllocator", "RawOutOfMemory",
           "config_from_env"]

_log = logging.getLogger(__name__)
_pools = {}
_pools_lock = threading.RLock()


def _device(device):
    return current_device() if device is None else Device(device)


def pool_for(device=None):
    """``device``'s pool, made on first use from the environment's settings."""
    dev = _device(device)
    pool = _pools.get(dev)
    if pool is not None:
        return pool
    # Raises GPUUnavailableError, with the reason, when unusable. Outside the lock: making
    # a backend installs the CuPy allocator hook, which calls back into pool_for.
    backend = dev.backend
    with _pools_lock:
        pool = _pools.get(dev)
        if pool is None:
            config = config_from_env("cpu" if dev.is_host else dev.device_type)
            raw = HostRawAllocator() if backend.host_memory else CupyRawAllocator(dev.device_id)
            pool = _pools[dev] = make_pool(raw, config, name=str(dev))
            _log.info("%s memory pool: %s", dev, config.describe())
    return pool


def install_cupy_allocator(device=None):
    """Route CuPy's allocations through mxlite's GPU pools (repeat calls are no-ops). Done
    for every backend that does not hold host memory as soon as it is made."""
    if device is not None:
        pool_for(device)
    _gpu_hook.install_cupy_allocator(lambda device_id: pool_for(Device("gpu", device_id)))


def _route_allocations(backend):
    if backend.host_memory:
        keep_freed_heap()
    else:
        install_cupy_allocator()


def _normalize(shape, dtype):
    """``shape`` as a tuple of non-negative ints: a float or negative size raises, never truncates."""
    if type(shape) is not tuple:
        shape = (shape,) if numpy.ndim(shape) == 0 else tuple(shape)
    try:
        dims = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"a shape must hold integers, got {shape!r}; round the sizes "
                        f"yourself (e.g. int(n)) if truncation is meant") from None
    if any(n < 0 for n in dims):
        raise ValueError(f"negative dimensions are not allowed, got shape {dims}")
    return dims, numpy.dtype(numpy.float32 if dtype is None else dtype)


def empty(device, shape, dtype=None):
    """An uninitialised backend array on ``device`` from its pool (float32 default)."""
    dev = _device(device)
    shape, dtype = _normalize(shape, dtype)
    backend = dev.backend
    if backend.host_memory:
        return pooled_empty(pool_for(dev), shape, dtype)
    return backend.empty(shape, dtype)  # through the CuPy allocator hook: from the pool


def zeros(device, shape, dtype=None):
    """A zero-filled backend array on ``device`` from its pool (float32 default)."""
    array = empty(device, shape, dtype)
    with _device(device).backend.scope():
        array.fill(0)
    return array


def stats(device=None):
    """Allocation statistics of ``device``'s pool (see ``MemoryPool.stats``)."""
    return pool_for(device).stats()


def reset_peak(device=None):
    """Restart the peak counters of ``device``'s pool from the current values."""
    pool_for(device).reset_peak()


def empty_cache(device=None):
    """Release ``device``'s cached blocks back to the driver (or the host allocator).

    A device whose pool was never used has nothing cached; this does not create one. On the
    CPU this also returns the freed memory glibc's heap keeps (``keep_freed_heap``).
    """
    dev = _device(device)
    pool = _pools.get(dev)
    if pool is not None:
        pool.empty_cache()
    if dev.is_host:
        release_freed_heap()


def memory_summary(device=None):
    """A readable table of ``device``'s pool: blocks per bucket, totals, fragmentation."""
    return pool_for(device).summary()


on_backend_created(_route_allocations)
set_cache_release(empty_cache)
