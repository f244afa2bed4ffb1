"""Run under ``mpirun -n 2``: the checks of tests/test_dist.py that need real ranks.

``nccl`` mode runs on the CuPy stand-in's gpu(0) (MXLITE_FAKE_GPU is set by the test), so
the Trainer's NCCL path runs with collectives carried by the stand-in over MPI."""
import os
import signal
import sys

import numpy as np

if os.environ.get("MXLITE_FAKE_GPU", "") not in ("", "0"):
    from mxlite.testing import fakecupy
    fakecupy.install(1)

import mxlite as mx  # noqa: E402
from mxlite import autograd, gluon  # noqa: E402
from mxlite.gluon import trainer as trainer_module  # noqa: E402


def make_net(depth):
    net = gluon.nn.HybridSequential()
    for _ in range(depth - 1):
        net.add(gluon.nn.Dense(8, activation="tanh"))
    net.add(gluon.nn.Dense(3))
    return net


def train(kvstore, xs, ys, steps=3, depth=1, device=None):
    device = device or mx.cpu()
    mx.random.seed(0)
    net = make_net(depth)
    net.initialize(device=device)
    net(mx.np.array(xs[:1], device=device))  # deferred shapes, before the Trainer's first step
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1},
                            kvstore=kvstore)
    loss = gluon.loss.L2Loss()
    for _ in range(steps):
        with autograd.record():
            out = loss(net(mx.np.array(xs, device=device)), mx.np.array(ys, device=device))
        out.backward()
        trainer.step(xs.shape[0])
    return net, trainer


def weights(net):
    return [p.data().asnumpy() for p in net.collect_params().values()]


def assert_same(net, ref):
    for a, b in zip(weights(net), weights(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def check_overlap(kv, xs, ys):
    """One bucket per parameter: the first bucket's allreduce starts while backward still
    has gradients to write, and training still equals one rank on the joint batch."""
    trainer_module._GradientBuckets.LIMIT_BYTES = 64
    launches = []
    start = kv.start_allreduce

    def recording(data, device):
        launches.append(sum(p.list_data()[0]._fresh_grad for p in params))
        return start(data, device)

    kv.start_allreduce = recording
    params = []
    mx.random.seed(0)
    net = make_net(3)
    net.initialize()
    net(mx.np.array(xs[:1]))
    params.extend(net.collect_params().values())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1}, kvstore=kv)
    loss = gluon.loss.L2Loss()
    for _ in range(3):
        with autograd.record():
            out = loss(net(mx.np.array(xs)), mx.np.array(ys))
        out.backward()
        trainer.step(xs.shape[0])
    kv.start_allreduce = start
    per_step = len(params)
    assert len(launches) >= 2 * per_step, launches
    later = launches[per_step:]  # steps after the first, which is synchronous
    assert later[0] < len(params), f"first allreduce started after backward ended: {launches}"
    return net


def check_metrics(kv, rank, n):
    rng = np.random.RandomState(7)
    labels, scores = rng.randint(0, 3, 40), rng.rand(40, 3)
    mine = slice(rank * 40 // n, (rank + 1) * 40 // n)
    for name in ("acc", "f1", "mcc", "pcc", "pearsonr", "ce"):
        kwargs = {"average": "micro", "class_type": "multiclass"} if name == "f1" else {}
        lab, pred = labels, scores
        if name in ("mcc",):
            lab, pred = labels % 2, scores[:, :2]
        if name == "pearsonr":
            lab, pred = scores[:, 0], scores[:, 1]
        whole = mx.gluon.metric.create(name, **kwargs)
        whole.update([mx.np.array(lab)], [mx.np.array(pred)])
        part = mx.gluon.metric.create(name, **kwargs)
        part.update([mx.np.array(lab[mine])], [mx.np.array(pred[mine])])
        part.allreduce(kv)
        np.testing.assert_allclose(part.get()[1], whole.get()[1], rtol=1e-12, err_msg=name)


def main(mode):
    kv = mx.kv.create("dist_sync_device" if mode == "nccl" else "dist_sync")
    rank, n = kv.rank, kv.num_workers
    rng = np.random.RandomState(1)
    xs, ys = rng.randn(8, 4).astype("float32"), rng.randn(8, 3).astype("float32")
    part = slice(rank * 4, rank * 4 + 4)
    if mode == "train":
        net, _ = train(kv, xs[part], ys[part])
        ref, _ = train(None, xs, ys)
        assert_same(net, ref)
        assert_same(check_overlap(kv, xs[part], ys[part]), train(None, xs, ys, depth=3)[0])
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
            every = kv.allgather(list(s), "sampler check")
            assert sorted(sum(every, [])) == list(range(10)), every
        check_metrics(kv, rank, n)
        print(f"rank {rank} ok")
    elif mode == "nccl":
        net, _ = train(kv, xs[part], ys[part], depth=2, device=mx.gpu(0))
        ref, _ = train(None, xs, ys, depth=2)
        assert_same(net, ref)
        v = mx.np.full(2, float(rank + 1), device=mx.gpu(0))
        kv.pushpull("s", v)
        assert v.asnumpy().tolist() == [3.0, 3.0], v
        assert fakecupy.nccl_calls[0] >= 3, fakecupy.nccl_calls
        print(f"rank {rank} ok, {fakecupy.nccl_calls[0]} NCCL allreduces")
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
    elif mode == "kill":
        if rank == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        kv.allreduce_host(np.ones(3))


if __name__ == "__main__":
    main(sys.argv[1])
