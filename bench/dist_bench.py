"""Data-parallel step rate: ``python -m mxlite.distributed.launch -n N -- python bench/dist_bench.py``.

Prints steps/s of an MLP trained with Trainer(kvstore='dist_sync') and the fraction of
step time the ranks spend blocked on communication (``kv.comm_seconds``: waiting for the
bucket allreduces, which start during backward, and the first step's checks). The
per-rank batch is fixed, so N ranks do N times the samples per step. ``MXLITE_DIST_BUCKET_MB``
sets the bucket size (default 25; the model's gradients are 0.5 MiB, so the default is one
bucket started when backward ends, and 0.1 gives several started during backward).
"""
import os
import time

import numpy as np

import mxlite as mx
from mxlite import autograd, gluon


def main(steps=30, batch=64, hidden=512):
    kv = mx.kv.create("dist_sync")
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
            kv.comm_seconds, start = 0.0, time.perf_counter()
        with autograd.record():
            out = loss(net(x), y)
        out.backward()
        trainer.step(batch)
    total = time.perf_counter() - start
    if kv.rank == 0:
        print(f"ranks={kv.num_workers} bucket_mb={os.environ.get('MXLITE_DIST_BUCKET_MB', 25)} "
              f"steps/s={steps / total:.1f} comm_fraction={kv.comm_seconds / total:.2f}")


if __name__ == "__main__":
    main()
