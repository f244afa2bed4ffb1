"""Routes every CuPy allocation through mxlite's per-GPU pools.

CuPy's allocator hook is process-wide and is called with the array's device current,
so one function serves all GPUs: it looks up that device's pool. CuPy's temporaries
inside mxlite ops are pooled too. Each block is tagged with the stream current when it
was allocated and is reused only on that stream (see mxlite.storage.pool): a block freed
while kernels still read it is reused by kernels queued after them, never raced by another
stream. The per-thread default stream (``CUPY_CUDA_PER_THREAD_DEFAULT_STREAM=1``) has one
handle for a different stream in every thread, so its key includes the thread.
"""
import threading

__all__ = ["install_cupy_allocator", "installed", "stream_key"]

PER_THREAD_STREAM = 2  # cudaStreamPerThread

_install_lock = threading.Lock()
_installed = False


class DeviceBlockOwner:
    """Held by CuPy's ``UnownedMemory``; returns the block when CuPy drops it."""

    __slots__ = ("_pool", "_block")

    def __init__(self, pool, block):
        self._pool = pool
        self._block = block

    def __del__(self):
        self._pool.free(self._block)


def stream_key(stream_ptr):
    """The pool's key of the stream whose handle is ``stream_ptr``."""
    if stream_ptr == PER_THREAD_STREAM:
        return (stream_ptr, threading.get_ident())
    return stream_ptr


def installed():
    return _installed


def install_cupy_allocator(pool_for):
    """Make ``pool_for(device_id)``'s pools CuPy's allocator (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        import cupy

        get_device = cupy.cuda.runtime.getDevice
        get_current_stream = cupy.cuda.get_current_stream
        UnownedMemory = cupy.cuda.UnownedMemory
        MemoryPointer = cupy.cuda.MemoryPointer

        def malloc(nbytes):
            device_id = get_device()
            pool = pool_for(device_id)
            block = pool.malloc(nbytes, stream_key(get_current_stream().ptr))
            memory = UnownedMemory(block.address, block.size,
                                   DeviceBlockOwner(pool, block), device_id)
            return MemoryPointer(memory, 0)

        cupy.cuda.set_allocator(malloc)
        _installed = True
