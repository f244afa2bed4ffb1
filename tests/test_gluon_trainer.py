"""Trainer: rescaling, multi-device summing, stale gradients, frozen parameters, states."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon


def _two_device_param():
    x = gluon.Parameter("x", shape=(10,))
    x.initialize(device=[mx.cpu(0), mx.cpu(1)], init="zeros")
    return x


def test_trainer_sums_device_gradients():
    """MXNet's test_trainer: weight 0 on two devices, y = w + 1, step(1) with lr 1 gives -2."""
    x = _two_device_param()
    trainer = gluon.Trainer([x], "sgd", {"learning_rate": 1.0})
    with autograd.record():
        ys = [w + 1 for w in x.list_data()]
    for y in ys:
        y.backward()
    trainer.step(1)
    for w in x.list_data():
        np.testing.assert_array_equal(w.asnumpy(), np.full(10, -2.0))
    assert trainer.learning_rate == 1.0
    trainer.set_learning_rate(0.5)
    assert trainer.learning_rate == 0.5


def test_step_rescales_by_batch_size():
    x = gluon.Parameter("x", shape=(3,))
    x.initialize(init="ones")
    trainer = gluon.Trainer({"x": x}, "sgd", {"learning_rate": 1.0})
    with autograd.record():
        y = (x.data() * 4).sum()
    y.backward()
    trainer.step(4)
    np.testing.assert_allclose(x.data().asnumpy(), [0.0, 0.0, 0.0])


def test_stale_gradient_raises_before_any_update():
    a = gluon.Parameter("a", shape=(2,))
    b = gluon.Parameter("b", shape=(2,))
    for p in (a, b):
        p.initialize(init="ones")
    trainer = gluon.Trainer([a, b], "sgd", {"learning_rate": 1.0})
    with autograd.record():
        y = a.data().sum()
    y.backward()
    with pytest.raises(UserWarning, match="Gradient of Parameter `b`"):
        trainer.step(1)
    np.testing.assert_array_equal(a.data().asnumpy(), [1.0, 1.0])
    trainer.step(1, ignore_stale_grad=True)
    np.testing.assert_array_equal(a.data().asnumpy(), [0.0, 0.0])
    np.testing.assert_array_equal(b.data().asnumpy(), [1.0, 1.0])


def test_frozen_parameter_is_untouched():
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize()
    before = net.weight.data().asnumpy()
    net.weight.grad_req = "null"
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0})
    with autograd.record():
        loss = net(mx.np.ones((4, 3))).sum()
    loss.backward()
    trainer.step(4)
    np.testing.assert_array_equal(net.weight.data().asnumpy(), before)
    np.testing.assert_allclose(net.bias.data().asnumpy(), [-1.0, -1.0])


def test_trainer_rejects_non_parameters():
    with pytest.raises(ValueError, match="list or dict of Parameters"):
        gluon.Trainer([mx.np.ones(2)], "sgd")
    with pytest.raises(ValueError, match="optimizer_params must be None"):
        gluon.Trainer([], mx.optimizer.SGD(), {"learning_rate": 1.0})


def _train(net, trainer, data, label, devices, steps=3):
    loss_fn = gluon.loss.L2Loss()
    for _ in range(steps):
        xs = gluon.utils.split_and_load(data, devices)
        ys = gluon.utils.split_and_load(label, devices)
        with autograd.record():
            losses = [loss_fn(net(x), y) for x, y in zip(xs, ys)]
        for loss in losses:
            loss.backward()
        trainer.step(data.shape[0])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_multi_device_equals_single_device(optimizer):
    rng = np.random.default_rng(0)
    data = mx.np.array(rng.standard_normal((8, 5)))
    label = mx.np.array(rng.standard_normal((8, 2)))
    nets = []
    for devices in ([mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]):
        mx.np.random.seed(3)
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Dense(4, activation="tanh"), gluon.nn.Dense(2))
        net.initialize(device=devices)
        trainer = gluon.Trainer(net.collect_params(), optimizer,
                                {"learning_rate": 0.1, "wd": 0.01})
        _train(net, trainer, data, label, devices)
        nets.append(net)
    single, multi = (n.collect_params() for n in nets)
    for name in single:
        copies = multi[name].list_data()
        np.testing.assert_array_equal(copies[0].asnumpy(), copies[1].asnumpy())
        np.testing.assert_allclose(copies[0].asnumpy(), single[name].data().asnumpy(),
                                   rtol=1e-5, atol=1e-6)


def test_save_and_load_states(tmp_path):
    def run(trainer, x, steps):
        for _ in range(steps):
            with autograd.record():
                y = (x.data() ** 2).sum()
            y.backward()
            trainer.step(1)

    x = gluon.Parameter("x", shape=(3,))
    x.initialize(init=mx.init.Constant(1.0))
    trainer = gluon.Trainer([x], "adam", {"learning_rate": 0.1})
    run(trainer, x, 2)
    trainer.save_states(str(tmp_path / "t.states"))
    saved_value = x.data().asnumpy()
    run(trainer, x, 2)
    expected = x.data().asnumpy()

    x.set_data(saved_value)
    fresh = gluon.Trainer([x], "adam", {"learning_rate": 0.1})
    fresh.load_states(str(tmp_path / "t.states"))
    run(fresh, x, 2)
    np.testing.assert_allclose(x.data().asnumpy(), expected, rtol=1e-6)


def test_split_and_load_and_clip_global_norm():
    data = mx.np.arange(10).reshape(5, 2)
    parts = gluon.utils.split_and_load(data, [mx.cpu(0), mx.cpu(1)], even_split=False)
    assert [p.shape for p in parts] == [(3, 2), (2, 2)]
    assert parts[1].device == mx.cpu(1)
    with pytest.raises(ValueError, match="evenly split"):
        gluon.utils.split_and_load(data, [mx.cpu(0), mx.cpu(1)])
    arrays = [mx.np.array([3.0, 0.0]), mx.np.array([[4.0]])]
    norm = gluon.utils.clip_global_norm(arrays, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(arrays[0].asnumpy(), [0.6, 0.0], rtol=1e-6)
    with pytest.warns(UserWarning, match="nan or inf"):
        gluon.utils.clip_global_norm([mx.np.array([np.inf])], 1.0)


def test_lr_mult_and_scheduler_through_trainer():
    fast = gluon.Parameter("fast", shape=(1,), lr_mult=2.0)
    slow = gluon.Parameter("slow", shape=(1,))
    for p in (fast, slow):
        p.initialize(init="zeros")
    schedule = mx.lr_scheduler.FactorScheduler(step=1, factor=0.5)
    trainer = gluon.Trainer({"b": slow, "a": fast}, "sgd",
                            {"learning_rate": 1.0, "lr_scheduler": schedule})
    assert [p.name for p in trainer._params] == ["fast", "slow"]  # sorted by key
    for _ in range(2):
        with autograd.record():
            y = fast.data() + slow.data()
        y.backward()
        trainer.step(1)
    # update 1 uses rate 1.0, update 2 (past step=1) 0.5; doubled for `fast`
    np.testing.assert_allclose(slow.data().asnumpy(), [-1.5])
    np.testing.assert_allclose(fast.data().asnumpy(), [-3.0])


def _two_device_step(kvstore):
    x = gluon.Parameter("x", shape=(4,))
    x.initialize(device=[mx.cpu(0), mx.cpu(1)], init="zeros")
    x.data(mx.cpu(1))[:] = 5  # the store's broadcast makes the copies equal first
    trainer = gluon.Trainer([x], "sgd", {"learning_rate": 1.0, "momentum": 0.5},
                            kvstore=kvstore)
    with mx.autograd.record():
        for k, w in enumerate(x.list_data()):
            (w * (k + 1)).sum().backward()
    trainer.step(1)
    return trainer, x


def test_a_python_kvstore_sums_through_pushpull_and_broadcasts_first():
    calls = []

    @mx.kv.KVStoreBase.register
    class RecordingStore(mx.kv.TestStore):
        def broadcast(self, key, value, out, priority=0):
            calls.append(("broadcast", key, len(out)))
            super().broadcast(key, value, out, priority)

        def pushpull(self, key, value, out=None, priority=0):
            calls.append(("pushpull", key, len(value)))
            super().pushpull(key, value, out, priority)

    trainer, x = _two_device_step("RecordingStore")  # by name, case-insensitive
    assert calls == [("broadcast", 0, 1), ("pushpull", 0, 2)]
    for w in x.list_data():  # both copies: 0 - 1.0 * (1 + 2)
        np.testing.assert_array_equal(w.asnumpy(), [-3.0] * 4)
    assert trainer._update_on_kvstore is False
    _, plain = _two_device_step("teststore")
    np.testing.assert_array_equal(plain.data(mx.cpu(1)).asnumpy(), [-3.0] * 4)
    with pytest.warns(UserWarning, match="replaces"):
        mx.kv.KVStoreBase.register(type("RecordingStore", (mx.kv.TestStore,), {}))
    del mx.kv.KVStoreBase.kv_registry["recordingstore"]


def test_update_on_kvstore_needs_a_capable_python_store():
    x = gluon.Parameter("x", shape=(2,))
    x.initialize(init="zeros")
    trainer = gluon.Trainer([x], "sgd", kvstore=mx.kv.create("teststore"),
                            update_on_kvstore=True)
    with mx.autograd.record():
        (x.data() * 2).sum().backward()
    with pytest.raises(ValueError, match="cannot run the optimizer"):
        trainer.step(1)
    np.testing.assert_array_equal(x.data().asnumpy(), [0.0, 0.0])  # nothing was updated
    with pytest.raises(ValueError, match="Unknown capability"):
        mx.kv.TestStore.is_capable("sparsity")
    with pytest.raises(NotImplementedError, match="must implement pushpull"):
        mx.kv.KVStoreBase().pushpull(0, x.data())
    with pytest.raises(ValueError, match="registered with mx.kv.KVStoreBase.register"):
        mx.kv.create("no-such-store")
