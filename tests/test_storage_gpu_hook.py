"""The CuPy allocator hook, driven by a stand-in for CuPy so it runs without a GPU."""
import sys
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
