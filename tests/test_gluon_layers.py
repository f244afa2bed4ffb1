"""gluon.nn layers: forward against straightforward numpy, gradients against finite
differences (float64, tiny shapes) for the input and every trainable parameter."""
import math

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import nn
from mxlite.test_utils import central_difference, check_gradient

RNG = np.random.default_rng(42)


def _materialize(layer, x_host, init=None):
    """Initialize (with a random-ish init so no parameter is trivially 0/1) in float64."""
    layer.initialize(init or mx.init.Normal(0.5))
    with autograd.pause():
        layer(mx.np.array(x_host, dtype="float32"))
    layer.cast("float64")
    for name, p in layer.collect_params().items():
        if p.grad_req != "null" and name.endswith(("bias", "beta", "gamma", "alpha")):
            p.set_data(RNG.uniform(0.5, 1.5, p.shape))
    return layer


def _param_grads_match(layer, x_host, train=False, eps=1e-6):
    if all(p.grad_req == "null" for p in layer.collect_params().values()):
        return 0
    x = mx.np.array(x_host, dtype="float64")
    with autograd.record(train_mode=train):
        out = layer(x)
    proj = RNG.standard_normal(out.shape)
    out.backward(mx.np.array(proj, dtype="float64"))

    def value():
        with autograd.pause(train_mode=train):
            return float((layer(x).asnumpy() * proj).sum())

    checked = 0
    for name, p in layer.collect_params().items():
        if p.grad_req == "null":
            continue
        analytic = p.grad().asnumpy()
        data = p.data()._data
        original = data.copy()

        def at(values):
            data[...] = values
            return value()
        numeric = central_difference(at, original, eps)
        data[...] = original
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6, err_msg=name)
        checked += 1
    return checked


def _check_layer(layer, x_host, reference, train=False, init=None, rtol=1e-6):
    _materialize(layer, x_host, init)
    params = {}
    for n, p in layer.collect_params().items():
        value = p.data().asnumpy()  # a fused RNN layer's rnn_param by its pieces
        params.update(layer._unfuse(value) if n.endswith("rnn_param")
                      else {n.split(".")[-1]: value})
    with autograd.pause(train_mode=train):
        got = layer(mx.np.array(x_host, dtype="float64")).asnumpy()
    np.testing.assert_allclose(got, reference(x_host, **params), rtol=rtol, atol=1e-8)

    def fn(x):
        with autograd.train_mode() if train else autograd.predict_mode():
            return layer(x)
    check_gradient(fn, x_host)
    return _param_grads_match(layer, x_host, train)


def _conv2d(x, w, b, stride=1, pad=0, dilation=1, groups=1):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, f, oh, ow))
    per_group = f // groups
    for o in range(f):
        g = o // per_group
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg,
                           i * stride:i * stride + dilation * (kh - 1) + 1:dilation,
                           j * stride:j * stride + dilation * (kw - 1) + 1:dilation]
                out[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    return out + (b.reshape(1, -1, 1, 1) if b is not None else 0)


def test_dense_forward_and_gradients():
    x = RNG.standard_normal((3, 2, 2))
    n = _check_layer(nn.Dense(3, activation="tanh"), x,
                     lambda x, weight, bias: np.tanh(x.reshape(3, -1) @ weight.T + bias))
    assert n == 2
    _check_layer(nn.Dense(2, flatten=False, use_bias=False), x,
                 lambda x, weight: x @ weight.T)


@pytest.mark.parametrize("kwargs", [dict(), dict(strides=2, padding=1),
                                    dict(dilation=2, padding=1), dict(groups=2)])
def test_conv2d(kwargs):
    x = RNG.standard_normal((2, 4, 5, 5))
    layer = nn.Conv2D(4, kernel_size=3, **kwargs)
    ref_kwargs = dict(stride=kwargs.get("strides", 1), pad=kwargs.get("padding", 0),
                      dilation=kwargs.get("dilation", 1), groups=kwargs.get("groups", 1))
    _check_layer(layer, x, lambda x, weight, bias: _conv2d(x, weight, bias, **ref_kwargs))
    assert layer.weight.shape == (4, 4 // ref_kwargs["groups"], 3, 3)


def test_conv1d():
    x = RNG.standard_normal((2, 2, 6))

    def ref(x, weight, bias):
        out = _conv2d(x[:, :, None, :], weight[:, :, None, :], bias)
        return out[:, :, 0, :]
    _check_layer(nn.Conv1D(3, kernel_size=3), x, ref)


def test_conv2d_transpose():
    x = RNG.standard_normal((1, 2, 3, 3))

    def ref(x, weight, bias, stride=2, pad=1):
        n, c, h, w = x.shape
        _, f, kh, kw = weight.shape
        full = np.zeros((n, f, (h - 1) * stride + kh, (w - 1) * stride + kw))
        for i in range(h):
            for j in range(w):
                full[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += \
                    np.einsum("nc,cfhw->nfhw", x[:, :, i, j], weight)
        return full[:, :, pad:full.shape[2] - pad, pad:full.shape[3] - pad] + \
            bias.reshape(1, -1, 1, 1)
    layer = nn.Conv2DTranspose(3, kernel_size=3, strides=2, padding=1)
    _check_layer(layer, x, ref)
    assert layer.weight.shape == (2, 3, 3, 3)


def _pool(x, k, s, op):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = op(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


def test_pooling_layers():
    x = RNG.permutation(2 * 2 * 25).reshape(2, 2, 5, 5) / 10.0  # distinct: no max ties
    _check_layer(nn.MaxPool2D(pool_size=2), x, lambda x: _pool(x, 2, 2, np.max))
    _check_layer(nn.AvgPool2D(pool_size=3, strides=1), x, lambda x: _pool(x, 3, 1, np.mean))
    _check_layer(nn.GlobalAvgPool2D(), x, lambda x: x.mean(axis=(2, 3), keepdims=True))
    _check_layer(nn.GlobalMaxPool2D(), x, lambda x: x.max(axis=(2, 3), keepdims=True))
    x1 = x[:, :, 0, :]
    _check_layer(nn.MaxPool1D(pool_size=2), x1,
                 lambda x: _pool(x[:, :, None, :].repeat(2, 2), 2, 2, np.max)[:, :, 0, :])


def _normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def test_batchnorm_training_inference_and_running_stats():
    x = RNG.standard_normal((4, 3, 2, 2))
    layer = nn.BatchNorm()

    def ref_train(x, gamma, beta, running_mean, running_var):
        return _normalize(x, (0, 2, 3), 1e-5) * gamma.reshape(1, -1, 1, 1) + \
            beta.reshape(1, -1, 1, 1)
    _check_layer(layer, x, ref_train, train=True)

    layer = nn.BatchNorm(in_channels=3, momentum=0.9)
    layer.initialize()
    with autograd.record():
        layer(mx.np.array(x))
    np.testing.assert_allclose(layer.running_mean.data().asnumpy(),
                               0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer.running_var.data().asnumpy(),
                               0.9 + 0.1 * x.var(axis=(0, 2, 3)), rtol=1e-5)
    rm, rv = layer.running_mean.data().asnumpy(), layer.running_var.data().asnumpy()
    out = layer(mx.np.array(x)).asnumpy()  # inference: running statistics, no update
    expected = (x - rm.reshape(1, -1, 1, 1)) / np.sqrt(rv.reshape(1, -1, 1, 1) + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(layer.running_mean.data().asnumpy(), rm)
    assert layer.running_mean.grad_req == "null"
    frozen = nn.BatchNorm(scale=False, center=False)
    assert frozen.gamma.grad_req == "null" and frozen.beta.grad_req == "null"


def test_layer_group_instance_norm():
    x = RNG.standard_normal((2, 4, 3))

    def affine(y, gamma, beta, shape):
        return y * gamma.reshape(shape) + beta.reshape(shape)
    _check_layer(nn.LayerNorm(), x,
                 lambda x, gamma, beta: affine(_normalize(x, (-1,), 1e-5), gamma, beta, (1, 1, -1)))

    def group_ref(x, gamma, beta):
        y = _normalize(x.reshape(2, 2, 2, 3), (2, 3), 1e-5).reshape(x.shape)
        return affine(y, gamma, beta, (1, -1, 1))
    _check_layer(nn.GroupNorm(num_groups=2), x, group_ref)
    _check_layer(nn.InstanceNorm(scale=True), x,
                 lambda x, gamma, beta: affine(_normalize(x, (2,), 1e-5), gamma, beta,
                                               (1, -1, 1)))


def _erf(x):
    return np.vectorize(math.erf)(x)


ACTIVATIONS = [
    (lambda: nn.Activation("relu"), lambda x: np.maximum(x, 0)),
    (lambda: nn.Activation("sigmoid"), lambda x: 1 / (1 + np.exp(-x))),
    (lambda: nn.Activation("tanh"), np.tanh),
    (lambda: nn.Activation("softrelu"), lambda x: np.log1p(np.exp(x))),
    (lambda: nn.Activation("softsign"), lambda x: x / (1 + np.abs(x))),
    (lambda: nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (lambda: nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    (lambda: nn.SELU(), lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * (np.exp(x) - 1))),
    (lambda: nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    (lambda: nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (lambda: nn.Swish(2.0), lambda x: x / (1 + np.exp(-2 * x))),
]


@pytest.mark.parametrize("make,reference", ACTIVATIONS,
                         ids=[f"act{i}" for i in range(len(ACTIVATIONS))])
def test_activation_layers(make, reference):
    x = RNG.standard_normal((2, 3)) + 0.05  # away from the kink at 0
    _check_layer(make(), x, lambda x: reference(x))


def test_prelu_learns_its_slope():
    x = RNG.standard_normal((2, 3, 2))
    n = _check_layer(nn.PReLU(in_channels=3), x,
                     lambda x, alpha: np.where(x > 0, x, x * alpha.reshape(1, -1, 1)))
    assert n == 1


def test_embedding_and_simple_blocks():
    layer = nn.Embedding(5, 3)
    layer.initialize()
    idx = mx.np.array([[0, 4], [4, 1]], dtype="int64")
    with autograd.record():
        out = layer(idx)
    out.backward()
    table = layer.weight.data().asnumpy()
    np.testing.assert_array_equal(out.asnumpy(), table[[[0, 4], [4, 1]]])
    np.testing.assert_array_equal(layer.weight.grad().asnumpy()[:, 0], [1, 1, 0, 0, 2])
    x = mx.np.array(RNG.standard_normal((2, 3, 2)))
    assert nn.Flatten()(x).shape == (2, 6)
    assert nn.Identity()(x) is x
    np.testing.assert_allclose(nn.Lambda("tanh")(x).asnumpy(), np.tanh(x.asnumpy()), rtol=1e-6)
    np.testing.assert_allclose(nn.HybridLambda(lambda v: v * 2)(x).asnumpy(), x.asnumpy() * 2)
    with pytest.raises(ValueError, match="not found"):
        nn.Lambda("no_such_function")


def test_dropout_layer():
    layer = nn.Dropout(0.5)
    x = mx.np.ones((20, 20))
    np.testing.assert_array_equal(layer(x).asnumpy(), x.asnumpy())
    with autograd.record():
        y = layer(x)
    assert set(np.unique(y.asnumpy()).tolist()) == {0.0, 2.0}
    shared = nn.Dropout(0.5, axes=(1,))
    with autograd.train_mode():
        y = shared(x).asnumpy()
    assert all(len(set(row.tolist())) == 1 for row in y)


def test_deferred_shapes_through_conv_batchnorm_dense():
    """MXNet's test_fill_shape_deferred, with fewer channels."""
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, kernel_size=2, padding=1), nn.BatchNorm(), nn.Dense(10))
    net.hybridize()
    net.initialize()
    net(mx.np.ones((2, 3, 5, 7)))
    assert net[0].weight.shape == (8, 3, 2, 2)
    assert net[1].gamma.shape == (8,)
    assert net[2].weight.shape == (10, 8 * 6 * 8)


def test_hybridize_gives_identical_results():
    net = nn.HybridSequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dense(2))
    net.initialize()
    x = mx.np.array(RNG.standard_normal((3, 5)))
    x.attach_grad()
    with autograd.record():
        y = net(x)
    y.backward()
    before = (y.asnumpy(), x.grad.asnumpy())
    net.hybridize()
    with autograd.record():
        y = net(x)
    y.backward()
    np.testing.assert_array_equal(before[0], y.asnumpy())
    np.testing.assert_array_equal(before[1], x.grad.asnumpy())


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _ref_step(mode, x, h, c, wi, wh, bi, bh):
    gi, gh = x @ wi.T + bi, h @ wh.T + bh
    n = h.shape[-1]
    if mode == "lstm":
        g = gi + gh
        i, f, cand, o = (g[:, k * n:(k + 1) * n] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(cand)
        return _sigmoid(o) * np.tanh(c), c
    if mode == "gru":
        r = _sigmoid(gi[:, :n] + gh[:, :n])
        z = _sigmoid(gi[:, n:2 * n] + gh[:, n:2 * n])
        new = np.tanh(gi[:, 2 * n:] + r * gh[:, 2 * n:])
        return (1 - z) * new + z * h, c
    return np.tanh(gi + gh), c


def _ref_layer(mode, x, params, hidden, bidirectional, num_layers=1):
    """Numpy reference of a (bi)directional multi-layer RNN over (T, N, C) input."""
    for layer in range(num_layers):
        outs = []
        for prefix in ("l", "r")[:2 if bidirectional else 1]:
            p = [params[f"{prefix}{layer}_{k}"] for k in ("i2h_weight", "h2h_weight",
                                                          "i2h_bias", "h2h_bias")]
            h = np.zeros((x.shape[1], hidden))
            c = np.zeros_like(h)
            steps = range(x.shape[0])[::-1] if prefix == "r" else range(x.shape[0])
            out = [None] * x.shape[0]
            for t in steps:
                h, c = _ref_step(mode, x[t], h, c, *p)
                out[t] = h
            outs.append(np.stack(out))
        x = np.concatenate(outs, axis=-1)
    return x


@pytest.mark.parametrize("layer_type,mode", [(gluon.rnn.LSTM, "lstm"), (gluon.rnn.GRU, "gru"),
                                             (gluon.rnn.RNN, "rnn")])
def test_recurrent_layers(layer_type, mode):
    x = RNG.standard_normal((3, 2, 2))  # T, N, C
    kwargs = dict(activation="tanh") if mode == "rnn" else {}
    layer = layer_type(2, bidirectional=True, **kwargs)
    n = _check_layer(layer, x,
                     lambda x, **p: _ref_layer(mode, x, p, 2, bidirectional=True),
                     init=mx.init.Uniform(0.5))
    assert n == 1  # rnn_param: the 8 weights and biases of both directions, fused


def test_lstm_layouts_states_and_cells():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)  # N, T, C
    layer = gluon.rnn.LSTM(5, num_layers=2, layout="NTC")
    layer.initialize()
    states = layer.begin_state(batch_size=2)
    assert [s.shape for s in states] == [(2, 2, 5), (2, 2, 5)]
    out, new_states = layer(mx.np.array(x), states)
    assert out.shape == (2, 3, 5)
    assert list(layer.collect_params()) == ["rnn_param"]
    assert layer.rnn_param.shape == (4 * 5 * (4 + 5 + 2) + 4 * 5 * (5 + 5 + 2),)
    params = layer._unfuse(layer.rnn_param.data().asnumpy())
    expected = _ref_layer("lstm", x.transpose(1, 0, 2), params, 5, False, num_layers=2)
    np.testing.assert_allclose(out.asnumpy(), expected.transpose(1, 0, 2), rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(new_states[0].asnumpy()[1], expected[-1], rtol=1e-4, atol=1e-6)
    assert layer(mx.np.array(x)).shape == (2, 3, 5)  # no states given: outputs only

    cell = gluon.rnn.LSTMCell(5)
    cell.initialize()
    for name in ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias"):
        getattr(cell, name).set_data(mx.np.array(params["l0_" + name]))
    h, (h_state, c_state) = cell(mx.np.array(x[:, 0]), cell.begin_state(2))
    weights = [params["l0_" + k] for k in ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias")]
    ref_h, ref_c = _ref_step("lstm", x[:, 0], np.zeros((2, 5)), np.zeros((2, 5)), *weights)
    np.testing.assert_allclose(h.asnumpy(), ref_h, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(c_state.asnumpy(), ref_c, rtol=1e-4, atol=1e-6)
    assert h_state is h
