"""numpy arrays whose memory comes from a device's pool.

The array is ``numpy.asarray(owner)`` where the owner exposes the block through
``__array_interface__``; numpy keeps the owner as the array's base, so the block goes
back to the pool only when the last view of it dies.
"""
import numpy

__all__ = ["POOL_MIN_BYTES", "pooled_empty"]

# Below this size numpy's own allocator wins (bench/README.md, "CPU pool"): glibc
# recycles freed heap chunks without page faults, while a pooled array pays the
# Python-level pool call and the __array_interface__ wrap. From 32 MiB (glibc's
# largest mmap threshold) every numpy allocation is a fresh mmap whose pages fault on
# first write, and the pool is two orders of magnitude faster.
POOL_MIN_BYTES = 32 << 20


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
