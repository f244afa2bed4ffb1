"""numpy arrays whose memory comes from a device's pool.

The array is ``numpy.asarray(owner)`` where the owner exposes the block through
``__array_interface__``; numpy keeps the owner as the array's base, so the block goes
back to the pool only when the last view of it dies.

Below the pool's threshold, CPU arrays are numpy's and so glibc's: :func:`keep_freed_heap`
tunes glibc so a training step's freed temporaries are reused instead of handed back to the
kernel and faulted in again on the next step.
"""
import ctypes
import platform

import numpy

from .config import heap_keep_from_env

__all__ = ["POOL_MIN_BYTES", "pooled_empty", "keep_freed_heap", "release_freed_heap"]

# Below this size numpy's own allocator wins (bench/README.md, "CPU pool"): glibc
# recycles freed heap chunks without page faults, while a pooled array pays the
# Python-level pool call and the __array_interface__ wrap. From 32 MiB (glibc's
# largest mmap threshold) every numpy allocation is a fresh mmap whose pages fault on
# first write, and the pool is two orders of magnitude faster.
POOL_MIN_BYTES = 32 << 20

# glibc's own rule (trim above twice a threshold it moves as blocks come and go) returns a
# step's temporaries to the kernel and faults them in again: 100-1600 page faults and up to
# 3 ms of system time per LeNet step (bench/README.md, "Host heap").
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_heap = {"kept_bytes": None, "libc": None}


def _glibc():
    if _heap["libc"] is None:
        _heap["libc"] = (ctypes.CDLL(None) if platform.system() == "Linux"
                         and platform.libc_ver()[0] == "glibc" else False)
    return _heap["libc"]


def keep_freed_heap():
    """Keep up to ``MXLITE_CPU_HEAP_KEEP_MB`` MiB (default 256; 0 leaves glibc alone) of
    freed heap mapped, and serve blocks below ``POOL_MIN_BYTES`` from the heap, not fresh
    mmaps: the host counterpart of the device pools. Done once, when the first CPU backend
    is made; a no-op off glibc. Returns the bytes kept (None when untouched)."""
    if _heap["kept_bytes"] is not None:
        return _heap["kept_bytes"]
    kept = heap_keep_from_env()
    libc = _glibc()
    if kept == 0 or not libc:
        return None
    libc.mallopt(_M_MMAP_THRESHOLD, POOL_MIN_BYTES)
    libc.mallopt(_M_TRIM_THRESHOLD, kept)
    _heap["kept_bytes"] = kept
    return kept


def release_freed_heap():
    """Hand the heap's freed memory back to the kernel (``malloc_trim``); part of
    ``cpu(i).empty_cache()``."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


class HostBlockOwner:
    """Owns one pooled block on behalf of every numpy view of it."""

    __slots__ = ("__array_interface__", "_pool", "_block", "_segment_buffer")

    def __init__(self, pool, block, shape, dtype):
        self._pool = pool
        self._block = block
        # Keeps the raw memory valid even if the pool is torn down first (at exit).
        self._segment_buffer = pool.raw.buffer(block.segment)
        self.__array_interface__ = {"data": (block.address, False), "shape": shape,
                                    "typestr": dtype.str, "version": 3}

    def __del__(self):
        self._pool.free(self._block)


def pooled_empty(pool, shape, dtype):
    """An uninitialised numpy array of ``shape``/``dtype`` on a block from ``pool``."""
    nbytes = dtype.itemsize
    for n in shape:
        nbytes *= n
    if nbytes < POOL_MIN_BYTES or dtype.hasobject or dtype.fields is not None:
        return numpy.empty(shape, dtype)
    return numpy.asarray(HostBlockOwner(pool, pool.malloc(nbytes), shape, dtype))
