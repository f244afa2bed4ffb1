"""Pool strategies against each other, and numpy's allocator against the CPU pool.

    python bench/bench_pool.py            # simulated device (+ the GPU when usable)
    python bench/bench_pool.py --quick    # fewer steps, for a smoke run

Traces (deterministic, seeded):
  training  the same allocation sequence every step (forward activations and
            temporaries, backward gradients, optimizer temporaries; gradient buffers
            and optimizer state made once). Reports raw allocations per steady-state
            step: the pool should serve every step after the first from its cache.
  shifting  interleaved allocations of many sizes with random lifetimes whose size
            mix drifts (as variable sequence lengths do): 70% small (256 B - 256 KiB),
            30% activation-sized (1 - 8 MiB, scaled 0.5x - 1.55x by phase). Run without
            a limit (how much each pool holds beyond the live bytes) and under limits of
            1.05x, 1.10x and 1.25x the trace's peak live bytes (which pools run out).
  cpu       numpy.empty/zeros against storage.empty/zeros per size, writing one byte
            per 4 KiB page as an op writing its output would.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy  # noqa: E402

from mxlite.storage import (FakeRawAllocator, OutOfMemoryError, PoolConfig,  # noqa: E402
                            POOL_TYPES, make_pool)
from mxlite.storage.pool import format_bytes  # noqa: E402

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def log_uniform(rng, low, high):
    return int(low * (high / low) ** rng.random())


def training_trace(steps, seed=0):
    """[(op, key, nbytes)] with op 'malloc'/'free'; one list per step."""
    rng = random.Random(seed)
    layers = [(log_uniform(rng, 64 * KiB, 32 * MiB), log_uniform(rng, 4 * KiB, 8 * MiB))
              for _ in range(30)]
    trace = []
    for step in range(steps):
        ops = []
        if step == 0:  # gradient buffers and optimizer state live for the whole run
            for i, (_, weight) in enumerate(layers):
                ops += [("malloc", ("grad", i), weight), ("malloc", ("state", i), weight)]
        for i, (act, _) in enumerate(layers):
            ops += [("malloc", ("act", i), act), ("malloc", ("tmp", i), act // 2 + 100),
                    ("free", ("tmp", i), 0)]
        for i in reversed(range(len(layers))):
            act, weight = layers[i]
            ops.append(("malloc", ("dact", i), act))
            ops.append(("free", ("act", i), 0))
            if i + 1 < len(layers):
                ops.append(("free", ("dact", i + 1), 0))
        ops.append(("free", ("dact", 0), 0))
        for i, (_, weight) in enumerate(layers):
            ops += [("malloc", ("upd", i), weight), ("free", ("upd", i), 0)]
        trace.append(ops)
    return trace


def shifting_trace(n_ops, seed=1):
    """One list of ops: a live set of ~300 blocks whose size mix drifts every phase."""
    rng = random.Random(seed)
    ops, live, key = [], [], 0
    phase_len = max(n_ops // 8, 1)
    for t in range(n_ops):
        scale = 0.5 + (t // phase_len % 4) * 0.35  # 0.5x .. 1.55x, then back
        if live and (len(live) > 300 or rng.random() < 0.45):
            ops.append(("free", live.pop(rng.randrange(len(live))), 0))
            continue
        if rng.random() < 0.7:
            nbytes = log_uniform(rng, 256, 256 * KiB)
        else:
            nbytes = int(log_uniform(rng, 1 * MiB, 8 * MiB) * scale)
        ops.append(("malloc", key, nbytes))
        live.append(key)
        key += 1
    return ops


def peak_live(ops):
    live, sizes, peak = 0, {}, 0
    for op, key, nbytes in ops:
        if op == "malloc":
            sizes[key] = nbytes
            live += nbytes
            peak = max(peak, live)
        else:
            live -= sizes.pop(key)
    return peak


class Replay:
    """Runs ops on a pool; an op whose malloc hits OOM is counted and skipped."""

    def __init__(self, pool):
        self.pool = pool
        self.blocks = {}
        self.ooms = 0
        self.first_oom = None
        self.seconds = 0.0
        self.calls = 0

    def run(self, ops, position=0):
        pool, blocks = self.pool, self.blocks
        clock = time.perf_counter
        for i, (op, key, nbytes) in enumerate(ops):
            start = clock()
            if op == "malloc":
                try:
                    blocks[key] = pool.malloc(nbytes)
                except OutOfMemoryError:
                    self.ooms += 1
                    if self.first_oom is None:
                        self.first_oom = position + i
            elif key in blocks:
                pool.free(blocks.pop(key))
            self.seconds += clock() - start
            self.calls += 1


def simulated_pool(pool_type, limit=None):
    raw = FakeRawAllocator(total=80 * GiB)
    config = PoolConfig(pool_type=pool_type, reserve_percent=0, limit=limit)
    return make_pool(raw, config, name="sim")


def bench_training(pool_factory, steps):
    trace = training_trace(steps)
    print(f"\n### training-loop trace: {steps} steps, {len(trace[1])} ops per step, "
          f"peak live {format_bytes(peak_live([op for s in trace for op in s]))}\n")
    print("| pool | raw allocs step 1 | raw allocs / later step | hits / later step "
          "| peak reserved | us per malloc+free |")
    print("|---|---|---|---|---|---|")
    for pool_type in POOL_TYPES:
        pool = pool_factory(pool_type, None)
        replay = Replay(pool)
        replay.run(trace[0])
        after_first = pool.stats()
        for ops in trace[1:]:
            replay.run(ops)
        st = pool.stats()
        later = max(steps - 1, 1)
        print(f"| {pool_type} | {after_first['raw_allocs']} "
              f"| {(st['raw_allocs'] - after_first['raw_allocs']) / later:.1f} "
              f"| {(st['hits'] - after_first['hits']) / later:.1f} "
              f"| {format_bytes(st['peak_reserved_bytes'])} "
              f"| {replay.seconds / replay.calls * 2e6:.1f} |")
        release(replay)


LIMIT_FACTORS = (1.05, 1.10, 1.25)


def bench_shifting(pool_factory, n_ops):
    ops = shifting_trace(n_ops)
    live = peak_live(ops)
    print(f"\n### shifting trace: {n_ops} ops, peak live {format_bytes(live)}\n")
    print("| pool | no limit: peak reserved / peak live | raw allocs | "
          + " | ".join(f"limit {f:.2f}x: OOMs, raw allocs" for f in LIMIT_FACTORS)
          + " | us per malloc+free (limit 1.10x) |")
    print("|---|---|---|" + "---|" * len(LIMIT_FACTORS) + "---|")
    for pool_type in POOL_TYPES:
        free_run = Replay(pool_factory(pool_type, None))
        free_run.run(ops)
        unlimited = free_run.pool.stats()
        release(free_run)
        cells = []
        for factor in LIMIT_FACTORS:
            limited_run = Replay(pool_factory(pool_type, int(factor * live)))
            limited_run.run(ops)
            limited = limited_run.pool.stats()
            cells.append(f"{limited_run.ooms}, {limited['raw_allocs']}")
            if factor == 1.10:
                per_call = limited_run.seconds / limited_run.calls * 2e6
            release(limited_run)
        print(f"| {pool_type} | {unlimited['peak_reserved_bytes'] / live:.2f} "
              f"| {unlimited['raw_allocs']} | " + " | ".join(cells)
              + f" | {per_call:.1f} |")


def release(replay):
    for block in replay.blocks.values():
        replay.pool.free(block)
    replay.blocks.clear()
    replay.pool.empty_cache()


def bench_cpu(repeats, rounds):
    from mxlite import device, storage
    print("\n### CPU: numpy's allocator vs the pool "
          f"(us per allocate + page writes + free, best of {rounds} rounds)\n")
    print("| size | numpy.empty | pool empty | numpy.zeros | pool zeros |")
    print("|---|---|---|---|---|")
    dev = device.cpu(99)
    pool = storage.pool_for(dev)
    from mxlite.storage.host import HostBlockOwner

    def pooled(shape, dtype):  # the pool path, whatever POOL_MIN_BYTES says
        nbytes = shape[0] * dtype.itemsize
        return numpy.asarray(HostBlockOwner(pool, pool.malloc(nbytes), shape, dtype))

    def pooled_zeros(shape, dtype):
        array = pooled(shape, dtype)
        array.fill(0)
        return array

    dtype = numpy.dtype(numpy.uint8)
    for nbytes in (4 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 24 * MiB, 32 * MiB,
                   64 * MiB):
        shape = (nbytes,)
        n = max(2, min(repeats, repeats * MiB // nbytes))
        row = []
        for make in (numpy.empty, pooled, numpy.zeros, pooled_zeros):
            make(shape, dtype)  # warm: first raw allocation, first page faults
            times = []
            for _ in range(rounds):  # the best: other processes only ever add time
                start = time.perf_counter()
                for _ in range(n):
                    array = make(shape, dtype)
                    array[::4096] = 1
                    del array
                times.append((time.perf_counter() - start) / n * 1e6)
            row.append(min(times))
        print(f"| {format_bytes(nbytes)} | " + " | ".join(f"{t:.1f}" for t in row) + " |")
    dev.empty_cache()


def gpu_pool_factory():
    """Pools over cudaMalloc on gpu(0), or None when no GPU is usable."""
    from mxlite.backend.gpu import gpu_unusable_reason
    reason = gpu_unusable_reason(0)
    if reason is not None:
        print(f"\n(no GPU run: {reason})")
        return None
    from mxlite.storage.raw import CupyRawAllocator

    def factory(pool_type, limit):
        config = PoolConfig(pool_type=pool_type, reserve_percent=0, limit=limit)
        return make_pool(CupyRawAllocator(0), config, name="gpu(0)")
    return factory


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    steps, n_ops, repeats, rounds = (5, 4000, 2, 1) if args.quick else (50, 40000, 100, 5)
    print("## simulated device (FakeRawAllocator, 80 GiB, reserve 0)")
    bench_training(simulated_pool, steps)
    bench_shifting(simulated_pool, n_ops)
    bench_cpu(repeats, rounds)
    factory = gpu_pool_factory()
    if factory is not None:
        print("\n## gpu(0) (cudaMalloc through CuPy)")
        bench_training(factory, steps)
        bench_shifting(factory, n_ops)


if __name__ == "__main__":
    main()
