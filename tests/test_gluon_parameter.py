"""gluon.Parameter and gluon.Block: initialization, errors, naming, save/load, hooks."""
import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import nn


def test_initialize_is_identical_on_every_device():
    p = gluon.Parameter("weight", shape=(3, 4))
    p.initialize(device=[mx.cpu(0), mx.cpu(1)])
    a, b = p.list_data()
    np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    assert np.abs(a.asnumpy()).max() <= 0.07 and np.abs(a.asnumpy()).max() > 0
    assert p.list_device() == [mx.cpu(0), mx.cpu(1)]
    with mx.cpu(1):
        assert p.data().device == mx.cpu(1)
    with pytest.raises(RuntimeError, match="was not initialized on device cpu\\(2\\)"):
        p.data(mx.cpu(2))


def test_parameter_errors():
    p = gluon.Parameter("weight", shape=(2,))
    with pytest.raises(RuntimeError, match="has not been initialized"):
        p.data()
    deferred = gluon.Parameter("weight", shape=(0, 3), allow_deferred_init=True)
    assert deferred.shape == (-1, 3)
    deferred.initialize()
    with pytest.raises(gluon.DeferredInitializationError):
        deferred.data()
    with pytest.raises(ValueError, match="invalid shape"):
        gluon.Parameter("weight", shape=(0, 3)).initialize()
    with pytest.raises(ValueError, match="incompatible"):
        deferred.shape = (4, 4)
    with pytest.raises(ValueError, match="grad_req"):
        p.grad_req = "bogus"
    p.initialize(ctx=mx.cpu())
    with pytest.warns(UserWarning, match="already initialized"):
        p.initialize()


def test_reinitialize_warns_and_keeps_values():
    p = gluon.Parameter("weight", shape=(3,))
    p.initialize()
    before = p.data().asnumpy()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        p.initialize(init="ones")
    np.testing.assert_array_equal(p.data().asnumpy(), before)
    p.initialize(init="ones", force_reinit=True)
    np.testing.assert_array_equal(p.data().asnumpy(), np.ones(3))


def test_grad_req_null_drops_and_restores_gradient():
    p = gluon.Parameter("weight", shape=(2,))
    p.initialize(init="ones")
    with autograd.record():
        y = (p.data() * 3).sum()
    y.backward()
    np.testing.assert_array_equal(p.grad().asnumpy(), [3.0, 3.0])
    assert p.data()._fresh_grad
    p.grad_req = "null"
    with pytest.raises(RuntimeError, match="grad_req='null'"):
        p.grad()
    p.grad_req = "write"
    np.testing.assert_array_equal(p.grad().asnumpy(), [0.0, 0.0])
    p.zero_grad()
    c = gluon.Constant([1.0, 2.0])
    c.initialize()
    assert c.grad_req == "null"
    np.testing.assert_array_equal(c.data().asnumpy(), [1.0, 2.0])


def test_set_data_cast_and_reset_device():
    p = gluon.Parameter("weight", shape=(2,))
    p.initialize()
    p.set_data(mx.np.array([5.0, 6.0]))
    p.reset_device([mx.cpu(1)])
    assert p.list_device() == [mx.cpu(1)]
    np.testing.assert_array_equal(p.data().asnumpy(), [5.0, 6.0])
    p.cast("float64")
    assert p.data().dtype == np.float64 and p.grad().dtype == np.float64


def test_initializer_dispatch_and_layer_initializers():
    net = nn.Dense(3, in_units=2, weight_initializer=mx.init.Constant(0.5))
    net.initialize(mx.init.One())
    np.testing.assert_array_equal(net.weight.data().asnumpy(), np.full((3, 2), 0.5))
    np.testing.assert_array_equal(net.bias.data().asnumpy(), np.zeros(3))
    net = nn.Dense(3, in_units=2, bias_initializer="ones")
    net.initialize("zeros")
    np.testing.assert_array_equal(net.weight.data().asnumpy(), np.zeros((3, 2)))
    np.testing.assert_array_equal(net.bias.data().asnumpy(), np.ones(3))
    arr = mx.np.zeros((1, 1, 4, 4))
    mx.init.Bilinear()("weight", arr)
    np.testing.assert_allclose(arr.asnumpy()[0, 0, 0], [0.0625, 0.1875, 0.1875, 0.0625])
    arr = mx.np.zeros((4, 6))
    mx.init.Orthogonal(scale=1.0)("weight", arr)
    np.testing.assert_allclose(arr.asnumpy() @ arr.asnumpy().T, np.eye(4), atol=1e-5)
    arr = mx.np.zeros((50, 40))
    mx.init.Xavier(magnitude=3)("weight", arr)
    assert np.abs(arr.asnumpy()).max() <= np.sqrt(3 / 45)
    with pytest.raises(ValueError, match="vector"):
        mx.init.Xavier()("weight", mx.np.zeros(3))
    mixed = mx.init.Mixed([".*bias", ".*"], [mx.init.One(), mx.init.Zero()])
    arr = mx.np.ones(2)
    mixed("dense_weight", arr)
    np.testing.assert_array_equal(arr.asnumpy(), [0, 0])
    assert isinstance(mx.init.create("xavier"), mx.init.Xavier)
    arr = mx.np.zeros(2)
    mx.init.Load({"w": np.array([3.0, 4.0])}, default_init="ones")("w", arr)
    np.testing.assert_array_equal(arr.asnumpy(), [3.0, 4.0])
    mx.init.Load({}, default_init="ones")("other_bias", arr)
    np.testing.assert_array_equal(arr.asnumpy(), [0.0, 0.0])
    lstm = gluon.rnn.LSTM(2, i2h_bias_initializer=mx.init.LSTMBias(1.0), input_size=3)
    lstm.initialize()
    pieces = lstm._unfuse(lstm.rnn_param.data().asnumpy())  # the fused vector's bias piece
    np.testing.assert_array_equal(pieces["l0_i2h_bias"], [0, 0, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(pieces["l0_h2h_bias"], np.zeros(8))


class _Custom(gluon.HybridBlock):
    def __init__(self):
        super().__init__()
        self.scale = gluon.Parameter("scale", shape=(-1,), allow_deferred_init=True)

    def forward(self, x):
        return x * self.scale.data(x.device)


class _CustomWithShape(_Custom):
    def infer_shape(self, x):
        self.scale.shape = (x.shape[-1],)


def test_custom_block_deferred_shapes_need_infer_shape():
    block = _Custom()
    block.initialize()
    with pytest.raises(RuntimeError, match="implement infer_shape"):
        block(mx.np.ones((2, 3)))
    block = _CustomWithShape()
    block.initialize(init="ones")
    np.testing.assert_array_equal(block(mx.np.ones((2, 3))).asnumpy(), np.ones((2, 3)))


def _mlp():
    net = nn.HybridSequential()
    inner = nn.HybridSequential()
    inner.add(nn.Dense(4, activation="relu"), nn.Dense(3))
    net.add(inner, nn.Dense(2))
    return net


def test_structural_names_and_containers():
    net = _mlp()
    assert list(net.collect_params()) == ["0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias",
                                          "1.weight", "1.bias"]
    assert list(net.collect_params(".*weight")) == ["0.0.weight", "0.1.weight", "1.weight"]
    assert len(net) == 2 and isinstance(net[:1], nn.HybridSequential) and len(net[:1]) == 1
    assert isinstance(net[1], nn.Dense)
    assert "Dense(None -> 4, relu)" in repr(net)
    with pytest.raises(TypeError, match="Changing attribute type"):
        net[1].weight = nn.Dense(2)


def test_deferred_init_fills_shapes_on_first_forward():
    net = _mlp()
    net.initialize()
    with pytest.raises(gluon.DeferredInitializationError):
        net[1].weight.data()
    out = net(mx.np.ones((5, 7)))
    assert out.shape == (5, 2)
    assert net[0][0].weight.shape == (4, 7)
    assert net[1].weight.shape == (2, 3)


def test_save_load_round_trip_and_errors(tmp_path):
    net = _mlp()
    net.initialize()
    x = mx.np.array(np.random.default_rng(0).standard_normal((2, 7)))
    expected = net(x).asnumpy()
    path = str(tmp_path / "net.params")
    net.save_parameters(path)

    fresh = _mlp()
    fresh.load_parameters(path)  # fills the deferred shapes
    assert fresh[1].weight.shape == (2, 3)
    np.testing.assert_array_equal(fresh(x).asnumpy(), expected)

    other = nn.HybridSequential()
    other.add(nn.Dense(4, in_units=7))
    with pytest.raises(AssertionError, match="Parameter '0.weight' is missing"):
        other.load_parameters(path)
    with pytest.raises(ValueError, match="'0.0.weight' .* is not present"):
        other.load_parameters(path, allow_missing=True)
    bigger = _mlp()
    bigger.add(nn.Dense(5))
    bigger.initialize()
    with pytest.raises(AssertionError, match="Parameter '2.weight' is missing"):
        bigger.load_parameters(path)
    bigger.load_parameters(path, allow_missing=True)

    mismatched = nn.HybridSequential()
    inner = nn.HybridSequential()
    inner.add(nn.Dense(4, in_units=7), nn.Dense(3, in_units=4))
    mismatched.add(inner, nn.Dense(2, in_units=5))
    mismatched.initialize(init="zeros")
    before = {k: v.data().asnumpy() for k, v in mismatched.collect_params().items()}
    with pytest.raises(ValueError, match="shape incompatible"):
        mismatched.load_parameters(path)
    for k, v in mismatched.collect_params().items():  # nothing changed
        np.testing.assert_array_equal(v.data().asnumpy(), before[k])


def test_cast_dtype_on_load(tmp_path):
    net = nn.Dense(2, in_units=3)
    net.initialize()
    path = str(tmp_path / "d.params")
    net.save_parameters(path)
    half = nn.Dense(2, in_units=3, dtype="float16")
    half.initialize()
    with pytest.raises(ValueError, match="cast_dtype"):
        half.load_parameters(path)
    half.load_parameters(path, cast_dtype=True)
    assert half.weight.data().dtype == np.float16
    half.load_parameters(path, cast_dtype=True, dtype_source="saved")
    assert half.weight.data().dtype == np.float32 and half.weight.grad().dtype == np.float32
    np.testing.assert_array_equal(half.weight.data().asnumpy(), net.weight.data().asnumpy())


def test_hooks_apply_setattr_share_and_summary(capsys):
    net = _mlp()
    net.initialize()
    calls = []
    pre = net.register_forward_pre_hook(lambda blk, inputs: calls.append("pre"))
    post = net.register_forward_hook(lambda blk, inputs, out: calls.append(out.shape))
    net(mx.np.ones((1, 7)))
    pre.detach()
    post.detach()
    net(mx.np.ones((1, 7)))
    assert calls == ["pre", (1, 2)]

    names = []
    net.apply(lambda blk: names.append(type(blk).__name__))
    assert names[-1] == "HybridSequential" and names.count("Dense") == 3

    with autograd.record():
        loss = net(mx.np.ones((1, 7))).sum()
    loss.backward()
    assert np.abs(net[1].weight.grad().asnumpy()).sum() > 0
    net.zero_grad()
    assert all(np.all(p.grad().asnumpy() == 0) for p in net.collect_params().values())

    net.setattr("grad_req", "null")
    assert all(p.grad_req == "null" for p in net.collect_params().values())

    twin = _mlp()
    twin.share_parameters(net.collect_params())
    assert twin[1].weight is net[1].weight
    x = mx.np.ones((1, 7))
    np.testing.assert_array_equal(twin(x).asnumpy(), net(x).asnumpy())

    net.hybridize()
    np.testing.assert_array_equal(net(x).asnumpy(), twin(x).asnumpy())
    # MXNet refuses summary() on a hybridized block (AssertionError); hybridize(False) first
    with pytest.raises(AssertionError, match="must not be hybridized"):
        net.summary(x)
    net.hybridize(False)
    net.summary(x)
    printed = capsys.readouterr().out
    assert "Total params: 55" in printed  # 7*4+4 + 4*3+3 + 3*2+2


def test_hybrid_block_needs_an_array_input():
    with pytest.raises(ValueError, match="at least one input must be an ndarray"):
        nn.Dense(2, in_units=1)(3.0)


def test_save_deduplicates_shared_parameters(tmp_path):
    net = nn.HybridSequential()
    net.add(nn.Dense(3, in_units=3), nn.Dense(3, in_units=3))
    net[1].share_parameters({"weight": net[0].weight})
    net.initialize()
    assert net[1].weight is net[0].weight
    path = str(tmp_path / "shared.params")
    net.save_parameters(path, deduplicate=True)
    assert sorted(np.load(path).files) == ["0.bias", "0.weight", "1.bias"]
    fresh = nn.HybridSequential()
    fresh.add(nn.Dense(3, in_units=3), nn.Dense(3, in_units=3))
    fresh[1].share_parameters({"weight": fresh[0].weight})
    fresh.load_parameters(path)
    x = mx.np.ones((1, 3))
    np.testing.assert_array_equal(fresh(x).asnumpy(), net(x).asnumpy())


def test_forgetting_super_init_is_a_clear_error():
    class Forgetful(gluon.HybridBlock):
        def __init__(self):
            self.dense = nn.Dense(2)

    with pytest.raises(RuntimeError, match="super\\(\\).__init__\\(\\)"):
        Forgetful()


def test_var_describes_the_parameter():
    p = gluon.Parameter("weight", shape=(3, -1), lr_mult=2.0, wd_mult=0.5, init="zeros")
    v = p.var()
    assert v.name == "weight" and v.list_arguments() == ["weight"]
    assert v.attr("__shape__") == "(3, -1)" and v.attr("__dtype__") == "float32"
    assert v.attr("__lr_mult__") == "2.0" and v.attr("__wd_mult__") == "0.5"
    assert v.attr("__init__") == "zeros" and v.attr("missing") is None
