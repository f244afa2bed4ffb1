"""Run under ``mpirun -n 2``: the checks of tests/test_dist.py that need real ranks."""
import sys

import numpy as np

import mxlite as mx
from mxlite import autograd, gluon


def train(kvstore, xs, ys, steps=3):
    mx.random.seed(0)
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1},
                            kvstore=kvstore)
    loss = gluon.loss.L2Loss()
    for _ in range(steps):
        with autograd.record():
            out = loss(net(mx.np.array(xs)), mx.np.array(ys))
        out.backward()
        trainer.step(xs.shape[0])
    return net, trainer


def main(mode):
    kv = mx.kv.create("dist_sync")
    rank, n = kv.rank, kv.num_workers
    rng = np.random.RandomState(1)
    xs, ys = rng.randn(8, 4).astype("float32"), rng.randn(8, 3).astype("float32")
    if mode == "train":
        part = slice(rank * 4, rank * 4 + 4)
        net, _ = train(kv, xs[part], ys[part])
        ref, _ = train(None, xs, ys)
        np.testing.assert_allclose(net.weight.data().asnumpy(), ref.weight.data().asnumpy(),
                                   rtol=1e-6, atol=1e-6)
        # broadcast: rank 0's value everywhere
        out = mx.np.zeros(3)
        kv.broadcast("b", mx.np.full(3, float(rank + 5)), out=out)
        assert out.asnumpy().tolist() == [5.0] * 3, out
        # pushpull sums over ranks
        v = mx.np.full(2, float(rank + 1))
        kv.pushpull("s", v)
        assert v.asnumpy().tolist() == [3.0, 3.0], v
        # the sampler covers the dataset exactly once per epoch
        for epoch in range(2):
            s = gluon.data.SplitSampler(10, n, rank, shuffle=True, seed=3)
            s.set_epoch(epoch)
            mine = list(s)
            every = kv.allgather(mine, "sampler check")
            assert sorted(sum(every, [])) == list(range(10)), every
        print(f"rank {rank} ok")
    elif mode == "mismatch":
        net = gluon.nn.Dense(3 if rank == 0 else 5, in_units=4)
        net.initialize()
        trainer = gluon.Trainer(net.collect_params(), "sgd", kvstore=kv)
        with autograd.record():
            y = net(mx.np.ones((2, 4))).sum()
        y.backward()
        try:
            trainer.step(2)
        except ValueError as e:
            print(f"rank {rank} MISMATCH: {e}")
    elif mode == "die":
        if rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        kv.allreduce_host(np.ones(3))


if __name__ == "__main__":
    main(sys.argv[1])
