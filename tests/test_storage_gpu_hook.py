"""The CuPy allocator hook, driven by a stand-in for CuPy so it runs without a GPU."""
import sys
import threading
import types

import pytest

from mxlite.storage import FakeRawAllocator, PoolConfig, make_pool
from mxlite.storage import gpu as gpu_hook


class UnownedMemory:
    def __init__(self, ptr, size, owner, device_id=-1):
        self.ptr, self.size, self.owner, self.device_id = ptr, size, owner, device_id


class MemoryPointer:
    def __init__(self, mem, offset):
        self.mem, self.ptr = mem, mem.ptr + offset


@pytest.fixture
def fake_cupy(monkeypatch):
    installed = {}
    current_device = [0]
    cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDevice=lambda: current_device[0]),
        get_current_stream=lambda: types.SimpleNamespace(ptr=0),
        UnownedMemory=UnownedMemory, MemoryPointer=MemoryPointer,
        set_allocator=lambda fn: installed.update(malloc=fn))
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=cuda))
    monkeypatch.setattr(gpu_hook, "_installed", False)
    return installed, current_device


def test_cupy_allocations_come_from_the_current_devices_pool(fake_cupy):
    installed, current_device = fake_cupy
    pools = {i: make_pool(FakeRawAllocator(), PoolConfig(reserve_percent=0)) for i in (0, 1)}
    gpu_hook.install_cupy_allocator(pools.__getitem__)
    gpu_hook.install_cupy_allocator(pools.__getitem__)  # idempotent
    malloc = installed["malloc"]

    first = malloc(1000)
    assert first.mem.size == 1024 and first.mem.device_id == 0
    current_device[0] = 1
    second = malloc(3 << 20)
    assert second.mem.device_id == 1
    assert pools[1].stats()["allocated_bytes"] == 3 << 20

    address = first.ptr
    del first  # CuPy dropping its last reference returns the block
    current_device[0] = 0
    assert pools[0].stats()["allocated_bytes"] == 0
    assert malloc(1000).ptr == address
    empty = malloc(0)
    assert empty.ptr == 0 and pools[0].stats()["raw_allocs"] == 1


@pytest.mark.parametrize("pool_type", ["Naive", "Round", "BestFit"])
def test_a_freed_block_is_reused_only_on_its_own_stream(pool_type):
    """Kernels queued on stream 1 may still read a block freed on the host; handing it to
    stream 2 would race them (use-after-free), handing it to stream 1 again is ordered."""
    pool = make_pool(FakeRawAllocator(), PoolConfig(pool_type=pool_type, reserve_percent=0))
    block = pool.malloc(4096, stream=1)
    address = block.address
    pool.free(block)
    other = pool.malloc(4096, stream=2)
    assert other.address != address
    same = pool.malloc(4096, stream=1)
    assert same.address == address
    pool.free(other)
    pool.free(same)
    pool.empty_cache()  # cached blocks of every stream go back to the raw allocator
    assert pool.stats()["reserved_bytes"] == 0


def test_the_hook_keys_blocks_by_the_current_stream_and_thread_for_per_thread_streams(fake_cupy):
    installed, _ = fake_cupy
    pool = make_pool(FakeRawAllocator(), PoolConfig(reserve_percent=0))
    stream = [0]
    sys.modules["cupy"].cuda.get_current_stream = lambda: types.SimpleNamespace(ptr=stream[0])
    gpu_hook.install_cupy_allocator(lambda device_id: pool)
    malloc = installed["malloc"]
    first = malloc(1000)
    address = first.ptr
    del first
    stream[0] = 0x1234
    assert malloc(1000).ptr != address  # another stream
    stream[0] = gpu_hook.PER_THREAD_STREAM
    here = malloc(1000)
    here_address = here.ptr
    del here
    seen = []
    worker = threading.Thread(target=lambda: seen.append(malloc(1000).ptr))
    worker.start()
    worker.join()
    assert seen[0] != here_address  # the same handle is another thread's stream
    assert malloc(1000).ptr == here_address
    assert gpu_hook.stream_key(0) == 0
