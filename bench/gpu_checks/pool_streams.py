"""Pool stress with two streams: the same training must give the same bits with every pool.

Two threads each train their own small model (dense, layer_norm, relu, softmax cross-entropy,
SGD) for 60 steps, each thread on its own non-blocking CUDA stream, with temporaries of
shifting sizes so freed blocks are handed between the streams. A pool that reuses a block
another stream still reads changes the numbers. Each pool type runs in its own process
(MXLITE_GPU_MEM_POOL_TYPE); the SHA-256 of both models' final weights must equal the
Unpooled run's bit for bit. The workload avoids atomics, so it is deterministic.

    python3 bench/gpu_checks/pool_streams.py [--dry-run]
"""
import hashlib
import os
import subprocess
import sys
import threading

import numpy as onp

from common import Report, parser, target

import mxlite as mx
from mxlite import autograd, npx

POOLS = ("Unpooled", "Naive", "Round", "BestFit")
STEPS = 60


def _train(device, seed, steps, out):
    rng = onp.random.default_rng(seed)
    width = 96 + 32 * seed
    params = [mx.np.array(rng.standard_normal(shape) * 0.1, device=device)
              for shape in ((64, width), (width,), (width, 10))]
    for p in params:
        p.attach_grad()
    data = mx.np.array(rng.standard_normal((256, 64)), device=device)
    labels = mx.np.array(rng.integers(0, 10, 256), device=device)
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    for step in range(steps):
        rows = 64 + (step * 37) % 192  # shifting sizes: blocks change hands between streams
        with autograd.record():
            h = mx.np.dot(data[:rows], params[0]) + params[1]
            h = npx.activation(npx.layer_norm(h, mx.np.ones(width, device=device),
                                              mx.np.zeros(width, device=device)), act_type="relu")
            loss = loss_fn(mx.np.dot(h, params[2]), labels[:rows]).mean()
        loss.backward()
        for p in params:
            p -= 0.05 * p.grad
    out[seed] = b"".join(p.asnumpy().tobytes() for p in params)


def _thread(device, seed, steps, out):
    stream = None
    if device.device_type == "gpu":
        import cupy
        stream = cupy.cuda.Stream(non_blocking=True)
    try:
        if stream is None:
            _train(device, seed, steps, out)
        else:
            with device, stream:
                _train(device, seed, steps, out)
                stream.synchronize()
    except Exception as err:  # reported by the parent as this pool's failure
        out[seed] = f"{type(err).__name__}: {err}".encode()


def digest(device, steps):
    out = {}
    threads = [threading.Thread(target=_thread, args=(device, seed, steps, out)) for seed in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return hashlib.sha256(out[0] + b"|" + out[1]).hexdigest(), out


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--one", action="store_true", help="print this process's digest only")
    args = p.parse_args(argv)
    device = target(args)
    steps = 5 if args.dry_run else STEPS
    if args.one:
        value, out = digest(device, steps)
        errors = [v.decode() for v in out.values() if len(v) < 200]
        print("ERROR " + "; ".join(errors) if errors else f"DIGEST {value}", flush=True)
        return 1 if errors else 0
    report = Report()
    digests = {}
    for pool in POOLS:
        result = subprocess.run([sys.executable, __file__, "--one"] + (["--dry-run"] if args.dry_run else []),
                                capture_output=True, text=True, timeout=300,
                                env={**os.environ, "MXLITE_GPU_MEM_POOL_TYPE": pool,
                                     "MXLITE_CPU_MEM_POOL_TYPE": pool})
        line = (result.stdout.strip().splitlines() or [result.stderr.strip()[-300:]])[-1]
        digests[pool] = line.split()[-1] if line.startswith("DIGEST") else None
        if digests[pool] is None:
            report.check(f"{pool} pool, two streams", False, line)
        elif pool != "Unpooled":
            report.check(f"{pool} pool, two streams, equals Unpooled bit for bit",
                         digests[pool] == digests["Unpooled"],
                         f"{digests[pool][:16]} vs {str(digests['Unpooled'])[:16]}")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
