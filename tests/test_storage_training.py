"""A Gluon training loop allocates nothing new from the pool after its first step."""
import itertools

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon, storage
from mxlite.storage import host

_ids = itertools.count(200)


@pytest.fixture
def dev(monkeypatch):
    """A fresh CPU device whose arrays from 64 KiB on come from the pool."""
    monkeypatch.setattr(host, "POOL_MIN_BYTES", 64 << 10)
    return mx.cpu(next(_ids))


def test_fifty_step_gluon_loop_makes_no_raw_allocations_after_step_one(dev):
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(256, activation="relu"), gluon.nn.Dense(10))
    net.initialize(mx.init.Xavier(), device=dev)
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": 0.05, "momentum": 0.9})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = mx.np.array(rng.standard_normal((32, 128)), device=dev)
    y = mx.np.array(rng.integers(0, 10, 32), device=dev)
    after_first = None
    losses = []
    for step in range(50):
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(32)
        losses.append(loss.mean().item())
        if step == 0:
            after_first = storage.stats(dev)["raw_allocs"]
    stats = storage.stats(dev)
    assert after_first > 0  # weights, gradients and momentum of the 128x256 layer are pooled
    assert stats["raw_allocs"] == after_first
    assert losses[-1] < losses[0]
