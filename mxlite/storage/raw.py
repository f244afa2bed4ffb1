"""Raw allocators: the memory source under a pool.

Interface: ``malloc(nbytes) -> address`` (raises :class:`RawOutOfMemory` when the
source is exhausted), ``free(address)``, ``mem_info() -> (free_bytes, total_bytes)``.
Keeping the pool behind this interface lets every pool rule run on the CPU against
:class:`FakeRawAllocator`.
"""

import numpy

from ..device_info import host_memory_info

__all__ = ["RawOutOfMemory", "FakeRawAllocator", "HostRawAllocator", "CupyRawAllocator"]


class RawOutOfMemory(Exception):
    """The raw allocator has no memory for this request (cudaErrorMemoryAllocation)."""


class FakeRawAllocator:
    """A simulated device of ``total`` bytes for tests and benchmarks.

    Addresses come from a bump pointer, so each live segment has a distinct address
    range; the capacity check counts bytes, as a driver with virtual memory does.
    ``fail_next(n)`` makes the next ``n`` mallocs fail regardless of capacity.
    ``external_used`` simulates memory held by other processes.
    """

    def __init__(self, total=1 << 30, alignment=512):
        self.total = total
        self.alignment = alignment
        self.external_used = 0
        self.live = {}
        self.used = 0
        self.mallocs = 0
        self.frees = 0
        self._next_address = 1 << 20
        self._failures_left = 0

    def fail_next(self, count=1):
        self._failures_left = count

    def malloc(self, nbytes):
        if self._failures_left:
            self._failures_left -= 1
            raise RawOutOfMemory(f"simulated failure for {nbytes} bytes")
        if self.used + self.external_used + nbytes > self.total:
            raise RawOutOfMemory(f"{nbytes} bytes requested, {self.mem_info()[0]} free")
        address = self._next_address
        self._next_address += -(-nbytes // self.alignment) * self.alignment + self.alignment
        self.live[address] = nbytes
        self.used += nbytes
        self.mallocs += 1
        return address

    def free(self, address):
        self.used -= self.live.pop(address)
        self.frees += 1

    def mem_info(self):
        return self.total - self.used - self.external_used, self.total


class HostRawAllocator:
    """Host memory as 64-byte aligned numpy byte buffers, kept alive until freed."""

    alignment = 64

    def __init__(self):
        self._buffers = {}

    def malloc(self, nbytes):
        try:
            buffer = numpy.empty(nbytes + self.alignment, dtype=numpy.uint8)
        except MemoryError as err:
            raise RawOutOfMemory(str(err)) from None
        address = -(-buffer.ctypes.data // self.alignment) * self.alignment
        self._buffers[address] = buffer
        return address

    def free(self, address):
        del self._buffers[address]

    def buffer(self, address):
        """The numpy buffer behind the segment at ``address``."""
        return self._buffers[address]

    def mem_info(self):
        return host_memory_info()


class CupyRawAllocator:
    """cudaMalloc/cudaFree on one GPU through CuPy's runtime bindings."""

    _CUDA_ERROR_MEMORY_ALLOCATION = 2

    def __init__(self, device_id):
        import cupy
        self._runtime = cupy.cuda.runtime
        self._cuda_device = cupy.cuda.Device(device_id)

    def malloc(self, nbytes):
        with self._cuda_device:
            try:
                return self._runtime.malloc(nbytes)
            except self._runtime.CUDARuntimeError as err:
                if err.status == self._CUDA_ERROR_MEMORY_ALLOCATION:
                    raise RawOutOfMemory(str(err)) from None
                raise

    def free(self, address):
        with self._cuda_device:
            self._runtime.free(address)

    def mem_info(self):
        with self._cuda_device:
            return self._runtime.memGetInfo()
