"""Pool rules on a simulated device (no GPU needed); mirrors MXNet's storage tests."""
import random
import threading

import pytest

from mxlite.storage import (FakeRawAllocator, OutOfMemoryError, PoolConfig, POOL_TYPES,
                            make_pool)

MiB = 1 << 20
POOLED_TYPES = ("Naive", "Round", "BestFit")


def new_pool(pool_type, total=256 * MiB, **settings):
    settings.setdefault("reserve_percent", 0)
    raw = FakeRawAllocator(total)
    return make_pool(raw, PoolConfig(pool_type=pool_type, **settings), name="sim(0)"), raw


@pytest.mark.parametrize("pool_type", POOLED_TYPES)
def test_free_then_alloc_same_size_returns_same_pointer(pool_type):
    pool, raw = new_pool(pool_type)
    for nbytes in (1, 4096, 3 * MiB + 5):
        block = pool.malloc(nbytes)
        address = block.address
        pool.free(block)
        raw_allocs = raw.mallocs
        again = pool.malloc(nbytes)
        assert again.address == address
        assert raw.mallocs == raw_allocs
        pool.free(again)


def test_round_pool_shares_power_of_two_and_linear_buckets():
    pool, _ = new_pool("Round", round_linear_cutoff=20)
    small = pool.malloc(32)
    pool.free(small)
    assert pool.malloc(4095).address == small.address
    big = pool.malloc(2 * MiB + 1)
    assert big.size == 3 * MiB
    pool.free(big)
    assert pool.malloc(3 * MiB).address == big.address


def test_naive_pool_rounds_to_pages_then_to_large_alloc_size():
    pool, _ = new_pool("Naive")
    assert pool.malloc(1).size == 4096
    assert pool.malloc(4097).size == 8192
    assert pool.malloc(2 * MiB + 1).size == 4 * MiB


@pytest.mark.parametrize("pool_type", POOL_TYPES)
def test_size_zero_needs_no_memory(pool_type):
    pool, raw = new_pool(pool_type)
    block = pool.malloc(0)
    assert (block.address, block.size) == (0, 0)
    pool.free(block)
    assert raw.mallocs == 0
    assert pool.stats()["allocated_bytes"] == 0
    with pytest.raises(ValueError, match="negative"):
        pool.malloc(-1)


@pytest.mark.parametrize("pool_type", POOL_TYPES)
def test_out_of_memory_releases_cache_and_retries(pool_type):
    pool, raw = new_pool(pool_type, total=10 * MiB)
    pool.free(pool.malloc(3 * MiB))
    block = pool.malloc(8 * MiB)  # fits only once the cached 3 MiB block is released
    assert block.size >= 8 * MiB
    st = pool.stats()
    assert st["num_ooms"] == 0
    if pool_type != "Unpooled":
        assert st["raw_frees"] == 1 and st["num_cache_releases"] == 1


@pytest.mark.parametrize("pool_type", POOL_TYPES)
def test_transient_raw_failure_is_retried_once(pool_type):
    pool, raw = new_pool(pool_type)
    raw.fail_next(1)
    assert pool.malloc(MiB).size >= MiB
    assert pool.stats()["num_ooms"] == 0


@pytest.mark.parametrize("pool_type", POOL_TYPES)
def test_second_failure_raises_out_of_memory_with_the_numbers(pool_type):
    pool, raw = new_pool(pool_type, total=64 * MiB)
    live = pool.malloc(5 * MiB)
    raw.fail_next(2)
    with pytest.raises(OutOfMemoryError) as info:
        pool.malloc(3 * MiB)
    err = info.value
    assert isinstance(err, MemoryError)
    assert err.requested == 3 * MiB
    assert err.allocated == live.size
    assert err.cached == 0
    assert err.total == 64 * MiB and err.free == 64 * MiB - live.size
    assert err.pool_type == pool_type
    message = str(err)
    for text in ("sim(0)", str(3 * MiB), pool_type, "in use", "cached", "free",
                 "empty_cache", "batch size"):
        assert text in message
    assert pool.stats()["num_ooms"] == 1
    pool.free(live)
    assert pool.malloc(3 * MiB).size >= 3 * MiB  # the pool is usable after an OOM


def test_best_fit_splits_a_segment_for_small_blocks():
    pool, raw = new_pool("BestFit")
    first = pool.malloc(1000)
    second = pool.malloc(1000)
    assert first.size == second.size == 1024
    assert second.address == first.address + 1024
    assert raw.mallocs == 1
    st = pool.stats()
    assert st["reserved_bytes"] == 2 * MiB
    assert st["allocated_bytes"] == 2048
    assert st["largest_free_block"] == 2 * MiB - 2048


def test_best_fit_merges_free_neighbours_and_releases_whole_segments():
    pool, raw = new_pool("BestFit")
    blocks = [pool.malloc(100 * 1024) for _ in range(4)]
    for block in (blocks[1], blocks[3], blocks[0]):  # out of order
        pool.free(block)
    pool.empty_cache()
    assert raw.frees == 0  # blocks[2] still pins the segment
    assert pool.stats()["free_blocks"] == 2
    pool.free(blocks[2])
    st = pool.stats()
    assert st["free_blocks"] == 1 and st["largest_free_block"] == 2 * MiB
    assert st["fragmentation"] == 0.0
    pool.empty_cache()
    assert raw.frees == 1 and raw.used == 0
    assert pool.stats()["reserved_bytes"] == 0


def test_best_fit_picks_the_smallest_block_that_fits_and_splits_large_ones():
    pool, raw = new_pool("BestFit")
    five, three = pool.malloc(5 * MiB), pool.malloc(3 * MiB)
    pool.free(five)
    pool.free(three)
    # 2.5 MiB fits both; the 3 MiB block wins, unsplit (a 0.5 MiB tail is not kept).
    chosen = pool.malloc(5 * MiB // 2)
    assert chosen.address == three.address and chosen.size == 3 * MiB
    # 1.5 MiB from the 5 MiB block leaves a 3.5 MiB tail, which serves the next request.
    head = pool.malloc(3 * MiB // 2)
    tail = pool.malloc(3 * MiB)
    assert head.address == five.address
    assert tail.address == five.address + 3 * MiB // 2
    assert raw.mallocs == 2
    for block in (chosen, head, tail):
        pool.free(block)
    pool.empty_cache()
    assert raw.used == 0


def test_limit_releases_cache_first_then_raises():
    pool, raw = new_pool("Naive", limit=4 * MiB)
    pool.free(pool.malloc(3 * MiB))  # 4 MiB bucket, now cached
    block = pool.malloc(MiB)  # needs the cache released to stay under the limit
    assert pool.stats()["raw_frees"] == 1
    with pytest.raises(OutOfMemoryError, match="limit"):
        pool.malloc(3 * MiB + 1)
    pool.free(block)


def test_limit_as_a_fraction_of_device_memory():
    pool, _ = new_pool("BestFit", total=100 * MiB, limit=0.5)
    assert pool.stats()["limit_bytes"] == 50 * MiB
    keep = pool.malloc(40 * MiB)
    with pytest.raises(OutOfMemoryError):
        pool.malloc(20 * MiB)
    pool.free(keep)


def test_reserve_releases_cache_when_device_memory_runs_low():
    pool, raw = new_pool("Naive", total=100 * MiB, reserve_percent=10)
    pool.free(pool.malloc(50 * MiB))
    pool.malloc(MiB)  # plenty left: the cache stays
    assert pool.stats()["raw_frees"] == 0
    raw.external_used = 40 * MiB  # another process took memory
    pool.malloc(5 * MiB)  # would leave 4 MiB free < 10% reserve
    st = pool.stats()
    assert st["raw_frees"] == 1 and st["cached_bytes"] == 0


def test_unpooled_returns_every_block_immediately():
    pool, raw = new_pool("Unpooled")
    for _ in range(3):
        pool.free(pool.malloc(1000))
    pool.stats()  # drains the queued frees
    assert raw.mallocs == raw.frees == 3
    assert pool.stats()["hits"] == 0


@pytest.mark.parametrize("pool_type", POOL_TYPES)
def test_live_blocks_never_overlap_on_a_random_trace(pool_type):
    pool, raw = new_pool(pool_type, total=1 << 30)
    rng = random.Random(7)
    live = []
    for _ in range(1500):
        if live and rng.random() < 0.45:
            pool.free(live.pop(rng.randrange(len(live))))
            continue
        nbytes = rng.choice((rng.randrange(1, 8192), rng.randrange(1, 4 * MiB)))
        block = pool.malloc(nbytes)
        assert block.size >= nbytes
        live.append(block)
        spans = sorted((b.address, b.address + b.size) for b in live)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))
    st = pool.stats()
    assert st["allocated_bytes"] == sum(b.size for b in live)
    assert st["requested_bytes"] >= 0 and st["reserved_bytes"] == raw.used
    for block in live:
        pool.free(block)
    pool.empty_cache()
    assert raw.used == 0 and pool.stats()["allocated_bytes"] == 0


def test_peak_counters_and_reset():
    pool, _ = new_pool("BestFit")
    block = pool.malloc(3 * MiB)
    pool.free(block)
    st = pool.stats()
    assert st["peak_bytes"] == 3 * MiB and st["allocated_bytes"] == 0
    assert st["peak_requested_bytes"] == 3 * MiB
    pool.reset_peak()
    st = pool.stats()
    assert st["peak_bytes"] == 0
    assert st["peak_reserved_bytes"] == st["reserved_bytes"] == 3 * MiB


def test_summary_lists_buckets_and_fragmentation():
    pool, _ = new_pool("Naive")
    kept = pool.malloc(5000)
    pool.free(pool.malloc(3 * MiB))
    text = pool.summary()
    assert "Naive" in text and "fragmentation" in text
    assert "8.00 KiB" in text and "4.00 MiB" in text
    pool.free(kept)


@pytest.mark.parametrize("pool_type", POOLED_TYPES)
def test_frees_from_other_threads_are_safe(pool_type):
    pool, raw = new_pool(pool_type, total=1 << 30)
    errors = []

    def worker(seed, handoff_in, handoff_out):
        rng = random.Random(seed)
        try:
            for _ in range(400):
                block = pool.malloc(rng.choice((512, 3000, 70000, MiB + 7)))
                handoff_out.append(block)  # freed by the other thread
                while handoff_in:
                    pool.free(handoff_in.pop())
        except Exception as err:  # surfaced below; a thread cannot fail the test itself
            errors.append(err)

    left, right = [], []
    threads = [threading.Thread(target=worker, args=(1, left, right)),
               threading.Thread(target=worker, args=(2, right, left))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for block in left + right:
        pool.free(block)
    st = pool.stats()
    assert st["allocated_bytes"] == 0 and st["live_blocks"] == 0
    assert st["hits"] + st["misses"] == 800
    pool.empty_cache()
    assert raw.used == 0
