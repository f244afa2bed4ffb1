"""Data-parallel step rate: ``python -m mxlite.distributed.launch -n N -- python bench/dist_bench.py``.

Prints steps/s of an MLP trained with Trainer(kvstore='dist_sync') and the fraction of
step time spent in the gradient allreduce (per-rank batch fixed, so N ranks do N times
the samples per step).
"""
import time

import numpy as np

import mxlite as mx
from mxlite import autograd, gluon


def main(steps=30, batch=64, hidden=512):
    kv = mx.kv.create("dist_sync")
    comm = [0.0]
    reduce = kv.allreduce_host

    def timed(arr):
        t = time.perf_counter()
        out = reduce(arr)
        comm[0] += time.perf_counter() - t
        return out

    kv.allreduce_host = timed
    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(hidden, activation="relu", in_units=256), gluon.nn.Dense(10))
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.01}, kvstore=kv)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    x = mx.np.array(np.random.RandomState(kv.rank).randn(batch, 256).astype("float32"))
    y = mx.np.array(np.arange(batch) % 10)
    for i in range(steps + 3):
        if i == 3:
            comm[0], start = 0.0, time.perf_counter()
        with autograd.record():
            out = loss(net(x), y)
        out.backward()
        trainer.step(batch)
    total = time.perf_counter() - start
    if kv.rank == 0:
        print(f"ranks={kv.num_workers} steps/s={steps / total:.1f} "
              f"comm_fraction={comm[0] / total:.2f}")


if __name__ == "__main__":
    main()
