"""The storage API other layers call: pooled numpy arrays, statistics, env settings.

Each test uses its own virtual CPU device so pools (process-wide, one per device) do
not share state between tests.
"""
import itertools

import numpy
import pytest

import mxlite as mx
from mxlite import storage
from mxlite.storage import OutOfMemoryError, PoolConfigError, host

MiB = 1 << 20
_device_ids = itertools.count(100)


@pytest.fixture
def dev(monkeypatch):
    """A fresh CPU device whose arrays from 1 MiB on are pooled (32 MiB by default),
    so the tests exercise the pool with small, fast arrays."""
    monkeypatch.setattr(host, "POOL_MIN_BYTES", MiB)
    return mx.cpu(next(_device_ids))


def test_empty_and_zeros_return_numpy_arrays_from_the_pool(dev):
    a = storage.empty(dev, (1024, 1024), "float32")
    assert isinstance(a, numpy.ndarray)
    assert a.shape == (1024, 1024) and a.dtype == numpy.float32 and a.flags.writeable
    a.fill(7)
    address = a.ctypes.data
    del a
    z = storage.zeros(dev, (1024, 1024), numpy.float32)  # reuses the dirty block
    assert z.ctypes.data == address
    assert not z.any()
    assert storage.stats(dev)["raw_allocs"] == 1


def test_a_view_keeps_its_block_in_use(dev):
    a = storage.empty(dev, (2 * MiB,), numpy.uint8)
    address = a.ctypes.data
    view = a[10:]
    del a
    b = storage.empty(dev, (2 * MiB,), numpy.uint8)
    assert b.ctypes.data != address
    view[:] = 1  # still valid memory
    del view
    c = storage.empty(dev, (2 * MiB,), numpy.uint8)
    assert c.ctypes.data == address
    del b, c


def test_small_and_object_arrays_use_numpy_directly(dev):
    small = storage.zeros(dev, 16, numpy.float64)
    objects = storage.empty(dev, (MiB,), object)
    assert small.shape == (16,) and not small.any()
    assert objects.dtype == object
    assert storage.stats(dev)["raw_allocs"] == 0
    assert storage.empty(dev, (0, 3)).shape == (0, 3)


def test_training_loop_makes_no_raw_allocations_after_the_first_step(dev):
    batch, hidden = 1024, 512  # 2 MiB float32 arrays
    weights = storage.zeros(dev, (batch, hidden))
    grad = storage.zeros(dev, (batch, hidden))  # as _attach_grad would
    momentum = storage.zeros(dev, (batch, hidden))  # optimizer state
    raw_allocs_after_first_step = None
    for step in range(50):
        x = storage.empty(dev, (batch, hidden))
        x.fill(0.01)
        hidden_act = storage.empty(dev, (batch, hidden))
        numpy.multiply(x, weights, out=hidden_act)
        grad_hidden = storage.empty(dev, (batch, hidden))
        numpy.tanh(hidden_act, out=grad_hidden)
        numpy.multiply(x, grad_hidden, out=grad)
        momentum *= 0.9
        momentum += grad
        weights -= momentum
        del x, hidden_act, grad_hidden
        if step == 0:
            raw_allocs_after_first_step = storage.stats(dev)["raw_allocs"]
    st = storage.stats(dev)
    assert st["raw_allocs"] == raw_allocs_after_first_step
    assert st["hits"] >= 49 * 3
    assert st["allocated_bytes"] == 3 * batch * hidden * 4


def test_stats_summary_reset_and_empty_cache(dev):
    a = storage.empty(dev, (3 * MiB,), numpy.uint8)
    del a
    st = storage.stats(dev)
    for key in ("allocated_bytes", "cached_bytes", "peak_bytes", "raw_allocs",
                "raw_frees", "hits", "misses", "pool_type", "requested_bytes",
                "num_ooms", "largest_free_block"):
        assert key in st
    assert st["cached_bytes"] == 3 * MiB and st["peak_bytes"] == 3 * MiB
    assert "fragmentation" in storage.memory_summary(dev)
    storage.reset_peak(dev)
    assert storage.stats(dev)["peak_bytes"] == 0
    dev.empty_cache()
    st = storage.stats(dev)
    assert st["cached_bytes"] == 0 and st["raw_frees"] == 1


def test_current_device_is_the_default(dev):
    with dev:
        storage.empty(None, (2 * MiB,), numpy.uint8)
        assert storage.stats()["device"] == str(dev)


def test_empty_cache_does_not_create_a_pool(dev):
    storage.empty_cache(dev)
    assert dev not in storage._pools


def test_env_selects_pool_type_and_limit(dev, monkeypatch):
    monkeypatch.setenv("MXLITE_CPU_MEM_POOL_TYPE", "round")
    monkeypatch.setenv("MXLITE_CPU_MEM_LIMIT", str(4 * MiB))
    assert storage.stats(dev)["pool_type"] == "Round"
    keep = storage.empty(dev, (3 * MiB,), numpy.uint8)  # Round: a 4 MiB block
    with pytest.raises(OutOfMemoryError, match="limit"):
        storage.empty(dev, (2 * MiB,), numpy.uint8)
    del keep


@pytest.mark.parametrize("name, value, phrase", [
    ("MXLITE_CPU_MEM_POOL_TYPE", "Fancy", "not a pool type"),
    ("MXLITE_CPU_MEM_POOL_PAGE_SIZE", "16", "must be >= 32"),
    ("MXLITE_CPU_MEM_POOL_PAGE_SIZE", "big", "not an integer"),
    ("MXLITE_CPU_MEM_POOL_ROUND_LINEAR_CUTOFF", "40", "20..34"),
    ("MXLITE_CPU_MEM_POOL_RESERVE", "lots", "not a number"),
    ("MXLITE_CPU_MEM_POOL_RESERVE", "100", "[0, 100)"),
    ("MXLITE_CPU_MEM_LIMIT", "150%", "(0, 100]"),
    ("MXLITE_CPU_MEM_LIMIT", "2 gigs", "neither a byte count"),
])
def test_invalid_env_values_name_the_variable(dev, monkeypatch, name, value, phrase):
    monkeypatch.setenv(name, value)
    with pytest.raises(PoolConfigError) as info:
        storage.stats(dev)
    assert name in str(info.value) and phrase in str(info.value)


def test_round_needs_a_power_of_two_page(dev, monkeypatch):
    monkeypatch.setenv("MXLITE_CPU_MEM_POOL_TYPE", "Round")
    monkeypatch.setenv("MXLITE_CPU_MEM_POOL_PAGE_SIZE", "5000")
    with pytest.raises(PoolConfigError,
                       match="MXLITE_CPU_MEM_POOL_PAGE_SIZE='5000'.*power-of-two"):
        storage.stats(dev)


def _usable_gpu_reason():
    from mxlite.backend.gpu import gpu_unusable_reason
    return gpu_unusable_reason(0)


@pytest.mark.gpu
def test_cupy_arrays_and_temporaries_come_from_the_pool():
    reason = _usable_gpu_reason()
    if reason:
        pytest.skip(f"no usable GPU: {reason}")
    import cupy
    gpu = mx.gpu(0)
    storage.install_cupy_allocator(gpu)
    before = storage.stats(gpu)
    a = storage.zeros(gpu, (1024, 1024))
    b = cupy.sqrt(a + 1)  # the temporary a + 1 is pooled too
    assert float(b.sum()) == 1024 * 1024
    mid = storage.stats(gpu)
    assert mid["hits"] + mid["misses"] >= before["hits"] + before["misses"] + 3
    assert mid["allocated_bytes"] >= before["allocated_bytes"] + 2 * 4 * 1024 * 1024
    del a, b
    again = storage.empty(gpu, (1024, 1024))  # served from the cache
    assert storage.stats(gpu)["raw_allocs"] == mid["raw_allocs"]
    del again
    gpu.empty_cache()
    assert storage.stats(gpu)["cached_bytes"] == 0


def test_gpu_pool_without_a_gpu_says_why():
    reason = _usable_gpu_reason()
    if reason is None:
        pytest.skip("a GPU is usable here")
    with pytest.raises(mx.device.GPUUnavailableError, match="cannot use gpu"):
        storage.stats(mx.gpu(0))
    storage.empty_cache(mx.gpu(0))  # nothing cached, nothing to fail
