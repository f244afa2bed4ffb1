"""The NCCL path of ``dist_sync_device`` on one card (one rank, no mpirun: MPI starts as a
singleton), and how much of the gradient reduction overlaps backward, timed with CUDA events.

1. ``start_allreduce`` of GPU arrays goes through NCCL (a communicator of one rank) for
   float32, float16 and float64, in place, and gives the input back (the sum over one rank).
2. A 4-layer MLP's gradients in 1 MiB buckets: each bucket's NCCL allreduce is queued from
   the ready hook of its last gradient while backward goes on. CUDA events after each launch
   and at the end of backward say how many buckets were queued before backward ended, and
   the step equals the same step without buckets.

    python3 bench/gpu_checks/nccl.py [--dry-run]     # dry run: the CPU and MPI stand in
"""
import sys

import numpy as onp

from common import Report, parser, target

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import trainer as trainer_module


def reduce_check(kv, device, dtype):
    host = onp.arange(1, 10001).astype(dtype)
    x = mx.np.array(host, device=device)
    out = kv.start_allreduce(x._data, device).wait()
    got = device.backend.to_host(out)
    via_nccl = device.device_type == "gpu" and kv._nccl_for(device) is not None
    ok = onp.array_equal(got, host) and (via_nccl or device.device_type == "cpu")
    return ok, f"{'NCCL' if via_nccl else 'MPI on the host'}, {host.size} {dtype}"


def overlap_check(kv, device):
    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    for _ in range(3):
        net.add(gluon.nn.Dense(512, activation="relu"))
    net.add(gluon.nn.Dense(10))
    net.initialize(device=device)
    x = mx.np.array(onp.random.default_rng(0).standard_normal((256, 512)), device=device)
    net(x)
    params = list(net.collect_params().values())
    trainer_module._GradientBuckets.LIMIT_BYTES = 1 << 20
    buckets = trainer_module._GradientBuckets(kv, params)
    events = []
    start = kv.start_allreduce

    def timed(data, dev):
        handle = start(data, dev)
        events.append(_event(dev))
        return handle

    kv.start_allreduce = timed
    begin = _event(device)
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    launched_in_backward = len(events)
    end_backward = _event(device)
    want = [p.grad().asnumpy() for p in params]
    buckets.finish()
    kv.start_allreduce = start
    got = [p.grad().asnumpy() for p in params]
    same = all(onp.array_equal(a, b) for a, b in zip(got, want))
    detail = f"{launched_in_backward} of {len(buckets._buckets)} buckets queued during backward"
    if device.device_type == "gpu":
        end_backward.synchronize()
        total = _elapsed(begin, end_backward)
        first = _elapsed(begin, events[0]) if events else float("nan")
        detail += f"; first at {first:.2f} ms of a {total:.2f} ms backward"
    return same and launched_in_backward >= 2, detail


def _event(device):
    if device.device_type != "gpu":
        return None
    import cupy
    with device.backend.scope():
        event = cupy.cuda.Event()
        event.record()
    return event


def _elapsed(a, b):
    import cupy
    return cupy.cuda.get_elapsed_time(a, b)


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    device = target(args)
    kv = mx.kv.create("dist_sync_device")
    report = Report()
    for dtype in ("float32", "float16", "float64"):
        report.run(f"allreduce {dtype}", lambda: reduce_check(kv, device, dtype))
    report.run("buckets overlap backward", lambda: overlap_check(kv, device))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
