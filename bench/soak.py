"""Soak test: a small Gluon model trained for many steps must not leak host memory or pool.

    python -m bench.soak                      # 10,000 steps, report every 500
    python -m bench.soak --steps 300 --interval 50

Every ``--interval`` steps it prints the process RSS and the device pool's figures
(``mx.storage.stats``). After ``--warmup`` steps the first sample is the baseline; the run
exits 1 naming the figure if RSS grows more than ``--rss-tol`` MiB beyond it, the pool's
reserved bytes grow more than ``--pool-tol`` MiB, or (at the default tolerance of 0) the pool
makes any new raw allocation: a steady loop reuses its blocks, so growth is a leak. On the CPU
only arrays from ``--pool-min`` KiB on are pooled (the library default is 32 MiB), so the soak
lowers it for the run to exercise the pool.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np

import mxlite as mx
from mxlite import autograd, gluon, storage
from mxlite.storage import host

MiB = 1 << 20


def rss_bytes():
    """Resident set size now (from /proc/self/statm; peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # macOS reports ru_maxrss in bytes, Linux in KiB
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def build(device, batch, seed=0):
    """An MLP classifier with its trainer, loss and one fixed batch of data."""
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(256, activation="relu"), gluon.nn.Dense(128, activation="relu"),
            gluon.nn.Dense(10))
    net.initialize(mx.init.Xavier(), device=device)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-3})
    rng = np.random.default_rng(seed)
    x = mx.np.array(rng.standard_normal((batch, 256)), device=device)
    y = mx.np.array(rng.integers(0, 10, batch), device=device)
    return net, trainer, gluon.loss.SoftmaxCrossEntropyLoss(), x, y


def soak(steps, interval, warmup, rss_tol_mib, pool_tol_mib, batch, device, out=print):
    """Train and sample; returns (rows, failures), failures a list of messages."""
    net, trainer, loss_fn, x, y = build(device, batch)
    rows, base, failures = [], None, []
    out(f"{'step':>7} {'loss':>9} {'rss_MiB':>9} {'pool_reserved_MiB':>18} "
        f"{'pool_peak_MiB':>14} {'raw_allocs':>10} {'hits':>10} {'s/500':>7}")
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(batch)
        if step % interval and step != steps:
            continue
        s = storage.stats(device)
        row = {"step": step, "loss": float(loss.mean().item()), "rss": rss_bytes(),
               "reserved": s["reserved_bytes"], "peak": s["peak_reserved_bytes"],
               "raw_allocs": s["raw_allocs"], "hits": s["hits"]}
        rate = (time.perf_counter() - t0) / step * 500
        rows.append(row)
        out(f"{step:7d} {row['loss']:9.4f} {row['rss'] / MiB:9.1f} {row['reserved'] / MiB:18.2f} "
            f"{row['peak'] / MiB:14.2f} {row['raw_allocs']:10d} {row['hits']:10d} {rate:7.2f}")
        if base is None and step >= warmup:
            base = row
        elif base is not None:
            failures = check(base, row, rss_tol_mib, pool_tol_mib)
    return rows, failures


def check(base, row, rss_tol_mib, pool_tol_mib):
    """Messages for each figure in ``row`` that grew past its tolerance since ``base``."""
    failures = []
    grow = (row["rss"] - base["rss"]) / MiB
    if grow > rss_tol_mib:
        failures.append(f"RSS grew {grow:.1f} MiB between steps {base['step']} and {row['step']} "
                        f"(tolerance {rss_tol_mib} MiB; raise --rss-tol if this is expected)")
    grow = (row["reserved"] - base["reserved"]) / MiB
    if grow > pool_tol_mib:
        failures.append(f"pool reserved bytes grew {grow:.2f} MiB between steps {base['step']} "
                        f"and {row['step']} (tolerance {pool_tol_mib} MiB): blocks are not reused")
    if row["raw_allocs"] > base["raw_allocs"] and pool_tol_mib == 0:
        failures.append(f"the pool made {row['raw_allocs'] - base['raw_allocs']} raw allocations "
                        f"between steps {base['step']} and {row['step']}: a steady loop should "
                        f"be served from its cache")
    return failures


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--interval", type=int, default=500, help="steps between samples")
    p.add_argument("--warmup", type=int, default=None,
                   help="baseline step (default: the first sample, i.e. --interval)")
    p.add_argument("--rss-tol", type=float, default=16.0, help="allowed RSS growth, MiB")
    p.add_argument("--pool-tol", type=float, default=0.0, help="allowed pool growth, MiB")
    p.add_argument("--pool-min", type=int, default=64, help="CPU pooling threshold, KiB")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="cpu", help="cpu or gpu")
    a = p.parse_args(argv)
    if a.steps < 1 or a.interval < 1:
        p.error(f"--steps and --interval must be positive, got {a.steps} and {a.interval}")
    device = mx.gpu(0) if a.device == "gpu" else mx.cpu(0)
    print(f"soak: mxlite {mx.__version__}, numpy {np.__version__}, python "
          f"{sys.version.split()[0]}, device {device}, {a.steps} steps, batch {a.batch}")
    default_min, host.POOL_MIN_BYTES = host.POOL_MIN_BYTES, a.pool_min << 10
    try:
        _, failures = soak(a.steps, a.interval, a.warmup or a.interval, a.rss_tol, a.pool_tol,
                           a.batch, device)
    finally:
        host.POOL_MIN_BYTES = default_min
    for msg in failures:
        print(f"soak FAILED: {msg}", file=sys.stderr)
    if not failures:
        print("soak passed: RSS and pool use flat after warm-up")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
