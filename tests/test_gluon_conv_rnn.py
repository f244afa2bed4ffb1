"""Convolutional RNN cells (gluon.rnn.Conv{1,2,3}D{RNN,LSTM,GRU}Cell) against a float64
reference written here from the ConvLSTM/ConvGRU equations, channel-last layouts, and
central-difference gradients."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import gluon
from mxlite.test_utils import central_difference, check_gradient


def correlate(x, w, b, pad, dilate):
    """Cross-correlation of (N, C, *S) with (F, C, *K), stride 1, as MXNet's convolution."""
    dims = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    kernel = w.shape[2:]
    out_size = [x.shape[2 + i] - dilate[i] * (kernel[i] - 1) for i in range(dims)]
    out = np.zeros((x.shape[0], w.shape[0], *out_size)) + b.reshape((1, -1) + (1,) * dims)
    for k in np.ndindex(*kernel):
        window = tuple(slice(k[i] * dilate[i], k[i] * dilate[i] + out_size[i])
                       for i in range(dims))
        out += np.einsum("nc...,fc->nf...", x[(slice(None), slice(None)) + window],
                         w[(slice(None), slice(None)) + k])
    return out


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference(kind, x, states, params, i2h_pad, i2h_dilate, h2h_dilate, hidden):
    """One step of the cell in float64, channels first."""
    h2h_kernel = params["h2h_weight"].shape[2:]
    h2h_pad = [d * (k - 1) // 2 for d, k in zip(h2h_dilate, h2h_kernel)]
    i2h = correlate(x, params["i2h_weight"], params["i2h_bias"], i2h_pad, i2h_dilate)
    h2h = correlate(states[0], params["h2h_weight"], params["h2h_bias"], h2h_pad, h2h_dilate)
    gate = lambda a, k: a[:, k * hidden:(k + 1) * hidden]  # noqa: E731
    if kind == "RNN":
        h = np.tanh(i2h + h2h)
        return h, [h]
    if kind == "LSTM":
        g = i2h + h2h
        c = sigmoid(gate(g, 1)) * states[1] + sigmoid(gate(g, 0)) * np.tanh(gate(g, 2))
        h = sigmoid(gate(g, 3)) * np.tanh(c)
        return h, [h, c]
    r = sigmoid(gate(i2h, 0) + gate(h2h, 0))
    z = sigmoid(gate(i2h, 1) + gate(h2h, 1))
    n = np.tanh(gate(i2h, 2) + r * gate(h2h, 2))
    h = (1 - z) * n + z * states[0]
    return h, [h]


CASES = [  # dims, kind, input (C, *S), hidden, i2h kernel, i2h pad, i2h dilate, h2h kernel, h2h dilate
    (1, "RNN", (3, 9), 4, 3, (1,), (1,), 3, (1,)),
    (1, "GRU", (2, 8), 3, 2, (0,), (2,), 5, (1,)),
    (2, "LSTM", (3, 5, 6), 2, 3, (1, 1), (1, 1), 3, (1, 1)),
    (2, "GRU", (2, 6, 5), 3, (3, 1), (0, 0), (1, 1), (1, 3), (1, 2)),
    (3, "LSTM", (2, 3, 4, 4), 2, 2, (1, 0, 1), (1, 1, 1), 3, (1, 1, 1)),
    (3, "RNN", (1, 4, 3, 5), 2, 3, (1, 1, 1), (1, 1, 1), 1, (1, 1, 1)),
]


def _cell(dims, kind, shape, hidden, ik, ipad, idil, hk, hdil, layout=None):
    klass = getattr(gluon.rnn, f"Conv{dims}D{kind}Cell")
    kwargs = {"conv_layout": layout} if layout else {}
    return klass(shape, hidden, ik, hk, i2h_pad=ipad, i2h_dilate=idil, h2h_dilate=hdil,
                 i2h_bias_initializer="normal", h2h_bias_initializer="normal", **kwargs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}d-{c[1]}")
def test_one_step_equals_the_equations(case, device):
    dims, kind, shape, hidden, ik, ipad, idil, hk, hdil = case
    cell = _cell(*case)
    cell.initialize(device=device)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2,) + shape)
    infos = cell.state_info(2)
    states = [rng.standard_normal(info["shape"]) for info in infos]
    out, new_states = cell(mx.np.array(x, device=device),
                           [mx.np.array(s, device=device) for s in states])
    params = {name.split(".")[-1]: p.data().asnumpy().astype(np.float64)
              for name, p in cell.collect_params().items()}
    want, want_states = reference(kind, x, states, params, ipad, idil, hdil, hidden)
    np.testing.assert_allclose(out.asnumpy(), want, rtol=1e-4, atol=1e-5)
    assert len(new_states) == len(want_states) == {"LSTM": 2}.get(kind, 1)
    for got, ref in zip(new_states, want_states):
        assert got.shape == infos[0]["shape"]
        np.testing.assert_allclose(got.asnumpy(), ref, rtol=1e-4, atol=1e-5)


def test_parameter_and_state_shapes_follow_mxnet():
    cell = gluon.rnn.Conv2DLSTMCell((3, 5, 6), 4, 3, 3)
    shapes = {n.split(".")[-1]: p.shape for n, p in cell.collect_params().items()}
    assert shapes == {"i2h_weight": (16, 3, 3, 3), "h2h_weight": (16, 4, 3, 3),
                      "i2h_bias": (16,), "h2h_bias": (16,)}
    assert cell.state_info(7)[0] == {"shape": (7, 4, 3, 4), "__layout__": "NCHW"}
    last = gluon.rnn.Conv2DGRUCell((5, 6, 3), 4, 3, 3, conv_layout="NHWC")
    shapes = {n.split(".")[-1]: p.shape for n, p in last.collect_params().items()}
    assert shapes["i2h_weight"] == (12, 3, 3, 3) and shapes["h2h_weight"] == (12, 3, 3, 4)
    assert last.state_info(2)[0]["shape"] == (2, 3, 4, 4)


@pytest.mark.parametrize("dims, kind", [(1, "LSTM"), (2, "GRU"), (3, "RNN")])
def test_channels_last_equals_channels_first(dims, kind):
    spatial = (5, 4, 3)[:dims]
    first = _cell(dims, kind, (2,) + spatial, 3, 3, (1,) * dims, (1,) * dims, 3, (1,) * dims)
    layout = "N" + "DHW"[3 - dims:] + "C"
    last = _cell(dims, kind, spatial + (2,), 3, 3, (1,) * dims, (1,) * dims, 3, (1,) * dims,
                 layout=layout)
    first.initialize()
    last.initialize()
    for (_, p), (_, q) in zip(sorted(first.collect_params().items()),
                              sorted(last.collect_params().items())):
        data = p.data()
        q.set_data(mx.np.moveaxis(data, 1, -1) if data.ndim > 1 else data)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2) + spatial).astype(np.float32)
    states = [rng.standard_normal(i["shape"]).astype(np.float32) for i in first.state_info(2)]
    out, st = first(mx.np.array(x), [mx.np.array(s) for s in states])
    out_l, st_l = last(mx.np.array(np.moveaxis(x, 1, -1)),
                       [mx.np.array(np.moveaxis(s, 1, -1)) for s in states])
    np.testing.assert_allclose(np.moveaxis(out_l.asnumpy(), -1, 1), out.asnumpy(), rtol=1e-5,
                               atol=1e-6)
    for a, b in zip(st, st_l):
        np.testing.assert_allclose(np.moveaxis(b.asnumpy(), -1, 1), a.asnumpy(), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_gradients_match_central_differences(kind):
    cell = _cell(1, kind, (2, 5), 2, 3, (1,), (1,), 3, (1,))
    cell.initialize()
    cell.cast("float64")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 5))
    states = [rng.standard_normal(i["shape"]) for i in cell.state_info(2)]

    def step(x, *states):
        out, new = cell(x, list(states))
        return (out,) + tuple(new)

    check_gradient(step, x, *states, rtol=1e-5, atol=1e-7)  # inputs and states
    f64 = lambda a: mx.np.array(a, dtype="float64")  # noqa: E731
    heads = [rng.standard_normal(s.shape) for s in step(f64(x), *map(f64, states))]

    def loss():
        outs = step(f64(x), *map(f64, states))
        return sum(float((o.asnumpy() * h).sum()) for o, h in zip(outs, heads))

    with mx.autograd.record():
        outs = step(f64(x), *map(f64, states))
    mx.autograd.backward(list(outs), [f64(h) for h in heads])
    for name, p in cell.collect_params().items():
        def at(w, p=p):
            p.set_data(f64(w))
            return loss()
        original = p.data().asnumpy().copy()
        numeric = central_difference(at, original)
        p.set_data(f64(original))
        np.testing.assert_allclose(p.grad().asnumpy(), numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=name)


def test_unroll_runs_the_step_over_time():
    cell = gluon.rnn.Conv2DLSTMCell((2, 4, 4), 3, 3, 3, i2h_pad=1)
    cell.initialize()
    seq = mx.np.random.normal(size=(2, 5, 2, 4, 4))
    outputs, states = cell.unroll(5, seq, layout="NTC", merge_outputs=True)
    assert outputs.shape == (2, 5, 3, 4, 4)
    by_hand = cell.begin_state(2)
    for t in range(5):
        out, by_hand = cell(seq[:, t], by_hand)
    np.testing.assert_allclose(outputs[:, -1].asnumpy(), out.asnumpy(), rtol=1e-6)
    np.testing.assert_allclose(states[1].asnumpy(), by_hand[1].asnumpy(), rtol=1e-6)


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="Only support odd number"):
        gluon.rnn.Conv2DRNNCell((1, 4, 4), 2, 3, 2)
    with pytest.raises(ValueError, match="input_shape must be one sample's 3 sizes"):
        gluon.rnn.Conv2DRNNCell((2, 1, 4, 4), 2, 3, 3)
    with pytest.raises(ValueError, match="i2h_kernel must be an int or a tuple of 2 ints"):
        gluon.rnn.Conv2DRNNCell((1, 4, 4), 2, (3, 3, 3), 3)
    with pytest.raises(ValueError, match="conv_layout 'NCW' does not fit a 2-d"):
        gluon.rnn.Conv2DRNNCell((1, 4, 4), 2, 3, 3, conv_layout="NCW")
    cell = gluon.rnn.Conv1DRNNCell((1, 6), 2, 3, 3)
    cell.initialize()
    with pytest.raises(ValueError, match="use unroll"):
        cell(mx.np.ones((2, 3, 1, 6)), cell.begin_state(2))
