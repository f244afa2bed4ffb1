"""``npx.rnn`` (MXNet's fused RNN operator), ``npx.ctc_loss`` and the control-flow functions
``npx.foreach`` / ``npx.while_loop`` / ``npx.cond``: values against hand-written numpy
recurrences and hand-computed cases, the gluon layers and CTCLoss, float64 gradients
against central differences, MXNet's return structures, errors, and hybridized blocks."""
import itertools
import math
import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import rnn as grnn
from mxlite.graph import GraphFallbackWarning
from mxlite.test_utils import check_gradient

npx = mx.npx
GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# -- a numpy reference, written from MXNet's operator documentation --------------------------

def _layout(mode, layers, dirs, inputs, hidden, proj=None):
    g, state = GATES[mode], proj or hidden
    weights, biases = [], []
    for layer in range(layers):
        for d in "lr"[:dirs]:
            n = f"{d}{layer}_"
            cols = inputs if layer == 0 else state * dirs
            weights += [(n + "i2h_weight", (g * hidden, cols)),
                        (n + "h2h_weight", (g * hidden, state))]
            if proj:
                weights.append((n + "h2r_weight", (proj, hidden)))
            biases += [(n + "i2h_bias", (g * hidden,)), (n + "h2h_bias", (g * hidden,))]
    return weights + biases


def _unpack(flat, layout):
    out, at = {}, 0
    for name, shape in layout:
        out[name] = flat[at:at + math.prod(shape)].reshape(shape)
        at += math.prod(shape)
    assert at == flat.size
    return out


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _ref_cell(mode, x, h, c, w, prefix, clip=None):
    gi = x @ w[prefix + "i2h_weight"].T + w[prefix + "i2h_bias"]
    gh = h @ w[prefix + "h2h_weight"].T + w[prefix + "h2h_bias"]
    if mode == "rnn_relu":
        return np.maximum(gi + gh, 0), None
    if mode == "rnn_tanh":
        return np.tanh(gi + gh), None
    if mode == "gru":
        r, z, n = np.split(gi, 3, axis=-1), np.split(gh, 3, axis=-1), None
        reset, update = _sig(r[0] + z[0]), _sig(r[1] + z[1])
        n = np.tanh(r[2] + reset * z[2])
        return (1 - update) * n + update * h, None
    i, f, g, o = np.split(gi + gh, 4, axis=-1)
    c = _sig(f) * c + _sig(i) * np.tanh(g)
    if clip is not None:
        c = np.clip(c, *clip)
    h = _sig(o) * np.tanh(c)
    if prefix + "h2r_weight" in w:
        h = h @ w[prefix + "h2r_weight"].T
    return h, c


def ref_rnn(mode, x, flat, h0, c0, layers, hidden, dirs, proj=None, lengths=None, clip=None):
    """Each batch entry run on its own, over its first ``lengths[b]`` steps (zeros after)."""
    t_max, n, c_in = x.shape
    w = _unpack(flat, _layout(mode, layers, dirs, c_in, hidden, proj))
    out_size = (proj or hidden) * dirs
    y = np.zeros((t_max, n, out_size))
    hy, cy = np.zeros_like(h0), (np.zeros_like(c0) if c0 is not None else None)
    for b in range(n):
        length = t_max if lengths is None else int(lengths[b])
        seq = x[:length, b:b + 1]
        for layer in range(layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                h = h0[k, b:b + 1]
                c = c0[k, b:b + 1] if c0 is not None else None
                order = range(length - 1, -1, -1) if d else range(length)
                res = [None] * length
                for t in order:
                    h, c = _ref_cell(mode, seq[t], h, c, w, f"{'lr'[d]}{layer}_", clip)
                    res[t] = h
                hy[k, b] = h[0]
                if c is not None:
                    cy[k, b] = c[0]
                outs.append(np.stack(res) if length else np.zeros((0, 1, h.shape[-1])))
            seq = np.concatenate(outs, axis=-1)
        y[:length, b] = seq[:, 0]
    return y, hy, cy


def _setup(mode, layers, dirs, t=4, n=3, c=3, hidden=4, proj=None, seed=0):
    rng = np.random.default_rng(seed)
    size = sum(math.prod(s) for _, s in _layout(mode, layers, dirs, c, hidden, proj))
    x = rng.standard_normal((t, n, c))
    flat = rng.standard_normal(size) * 0.5
    h0 = rng.standard_normal((layers * dirs, n, proj or hidden)) * 0.5
    c0 = rng.standard_normal((layers * dirs, n, hidden)) * 0.5 if mode == "lstm" else None
    return x, flat, h0, c0


def _nd(a, device, dtype="float32"):
    return None if a is None else mx.np.array(a, dtype=dtype, device=device)


# -- npx.rnn ------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["rnn_relu", "rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_rnn_matches_the_numpy_recurrence(device, mode, layers, bidirectional):
    dirs = 2 if bidirectional else 1
    x, flat, h0, c0 = _setup(mode, layers, dirs)
    got = npx.rnn(_nd(x, device), _nd(flat, device), _nd(h0, device), _nd(c0, device),
                  mode=mode, state_size=4, num_layers=layers, bidirectional=bidirectional,
                  state_outputs=True)
    y, hy, cy = ref_rnn(mode, x, flat, h0, c0, layers, 4, dirs)
    assert isinstance(got, list) and len(got) == (3 if mode == "lstm" else 2)
    assert got[0].shape == (4, 3, 4 * dirs) and got[1].shape == (layers * dirs, 3, 4)
    assert got[0].device == device
    close(got[0].asnumpy(), y)
    close(got[1].asnumpy(), hy)
    if mode == "lstm":
        close(got[2].asnumpy(), cy)
    alone = npx.rnn(_nd(x, device), _nd(flat, device), _nd(h0, device), _nd(c0, device),
                    mode=mode, state_size=4, num_layers=layers, bidirectional=bidirectional)
    assert isinstance(alone, mx.np.ndarray)  # state_outputs=False: the output alone
    close(alone.asnumpy(), y)


@pytest.mark.parametrize("cls,mode", [(grnn.RNN, "rnn_tanh"), (grnn.LSTM, "lstm"),
                                      (grnn.GRU, "gru")])
def test_gluon_layers_are_npx_rnn_on_their_vector(device, cls, mode):
    kwargs = {"activation": "tanh"} if cls is grnn.RNN else {}
    layer = cls(4, num_layers=2, bidirectional=True, layout="NTC", input_size=3, **kwargs)
    layer.initialize(mx.init.Uniform(0.5), device=device)
    x, _, h0, c0 = _setup(mode, 2, 2)
    states = [_nd(h0, device)] + ([_nd(c0, device)] if c0 is not None else [])
    xn = _nd(x.transpose(1, 0, 2), device)
    out, last = layer(xn, states)
    flat = layer.rnn_param.data(device)
    got = npx.rnn(mx.np.swapaxes(xn, 0, 1), flat, *states, mode=mode, state_size=4,
                  num_layers=2, bidirectional=True, state_outputs=True)
    close(out.asnumpy(), got[0].asnumpy().transpose(1, 0, 2))
    for a, b in zip(last, got[1:]):
        close(a.asnumpy(), b.asnumpy())
    y, hy, cy = ref_rnn(mode, x, flat.asnumpy().astype(np.float64), h0, c0, 2, 4, 2)
    close(out.asnumpy(), y.transpose(1, 0, 2))


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_relu"])
def test_sequence_length_runs_each_sequence_on_its_own_length(device, mode):
    x, flat, h0, c0 = _setup(mode, 2, 2, t=5)
    lengths = np.array([5, 2, 3])
    got = npx.rnn(_nd(x, device), _nd(flat, device), _nd(h0, device), _nd(c0, device),
                  _nd(lengths, device, "int32"), mode=mode, state_size=4, num_layers=2,
                  bidirectional=True, state_outputs=True, use_sequence_length=True)
    y, hy, cy = ref_rnn(mode, x, flat, h0, c0, 2, 4, 2, lengths=lengths)
    close(got[0].asnumpy(), y)
    close(got[1].asnumpy(), hy)
    if mode == "lstm":
        close(got[2].asnumpy(), cy)
    assert (got[0].asnumpy()[2:, 1] == 0).all()  # past the length: zeros, as cuDNN pads


def test_projection_and_state_clipping(device):
    x, flat, h0, c0 = _setup("lstm", 2, 2, proj=2)
    got = npx.rnn(_nd(x, device), _nd(flat, device), _nd(h0, device), _nd(c0, device),
                  mode="lstm", state_size=4, num_layers=2, bidirectional=True,
                  projection_size=2, state_outputs=True)
    y, hy, cy = ref_rnn("lstm", x, flat, h0, c0, 2, 4, 2, proj=2)
    assert got[0].shape == (4, 3, 4) and got[1].shape == (4, 3, 2) and got[2].shape == (4, 3, 4)
    close(got[0].asnumpy(), y)
    close(got[1].asnumpy(), hy)
    close(got[2].asnumpy(), cy)
    x, flat, h0, c0 = _setup("lstm", 1, 1, seed=3)
    flat *= 4  # large cell states, so that the clip bites
    got = npx.rnn(_nd(x, device), _nd(flat, device), _nd(h0, device), _nd(c0, device),
                  mode="lstm", state_size=4, num_layers=1, state_outputs=True,
                  lstm_state_clip_min=-0.3, lstm_state_clip_max=0.4)
    y, hy, cy = ref_rnn("lstm", x, flat, h0, c0, 1, 4, 1, clip=(-0.3, 0.4))
    assert cy.min() == -0.3 or cy.max() == 0.4
    close(got[0].asnumpy(), y)
    close(got[2].asnumpy(), cy)


def test_dropout_between_layers_only_while_training():
    x, flat, h0, c0 = _setup("gru", 2, 1)
    args = (mx.np.array(x), mx.np.array(flat), mx.np.array(h0))
    kw = dict(mode="gru", state_size=4, num_layers=2)
    plain = npx.rnn(*args, **kw)
    close(npx.rnn(*args, p=0.5, **kw).asnumpy(), plain.asnumpy())  # not training: identity
    with autograd.train_mode():
        dropped = npx.rnn(*args, p=0.5, **kw)
    assert not np.allclose(dropped.asnumpy(), plain.asnumpy())


@pytest.mark.parametrize("mode,layers,bidirectional,proj,lengths", [
    ("lstm", 2, True, None, None), ("gru", 1, True, None, [3, 1]),
    ("rnn_tanh", 2, False, None, None), ("lstm", 1, False, 1, [2, 3])])
def test_rnn_gradients(device, mode, layers, bidirectional, proj, lengths):
    dirs = 2 if bidirectional else 1
    t, n = (2, 1) if layers * dirs == 4 else (3, 2)  # tiny: central differences per element
    x, flat, h0, c0 = _setup(mode, layers, dirs, t=t, n=n, c=2, hidden=2, proj=proj, seed=5)
    lengths = None if lengths is None else lengths[:n]
    seq = None if lengths is None else mx.np.array(lengths, device=device)
    inputs = [x, flat, h0] + ([c0] if c0 is not None else [])

    def fn(x, flat, h0, c0=None):
        return tuple(npx.rnn(x, flat, h0, c0, seq, mode=mode, state_size=2, num_layers=layers,
                             bidirectional=bidirectional, state_outputs=True,
                             projection_size=proj, use_sequence_length=seq is not None))
    check_gradient(fn, *inputs, device=device, rtol=1e-5, atol=1e-7)


def test_rnn_errors_name_the_shapes():
    x, flat, h0, c0 = _setup("lstm", 1, 1)
    x, flat, h0, c0 = (mx.np.array(a) for a in (x, flat, h0, c0))
    kw = dict(mode="lstm", state_size=4, num_layers=1)
    with pytest.raises(ValueError, match=r"state must have shape \(1, 3, 4\).*got \(2, 3, 4\)"):
        npx.rnn(x, flat, mx.np.zeros((2, 3, 4)), c0, **kw)
    with pytest.raises(ValueError, match=r"state_cell of shape \(1, 3, 4\) is required"):
        npx.rnn(x, flat, h0, **kw)
    with pytest.raises(ValueError, match=r"take an rnn_param of shape \(144,\), got \(7,\)"):
        npx.rnn(x, mx.np.zeros(7), h0, c0, **kw)
    with pytest.raises(ValueError, match=r"3-d .*got shape \(3, 3\)"):
        npx.rnn(x[0], flat, h0, c0, **kw)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        npx.rnn(x, flat, h0, mode="gru", state_size=4, num_layers=1, projection_size=2)
    with pytest.raises(ValueError, match="specified together"):
        npx.rnn(x, flat, h0, c0, lstm_state_clip_min=-1.0, **kw)
    with pytest.raises(ValueError, match=r"sequence_length must have shape \(3,\)"):
        npx.rnn(x, flat, h0, c0, mx.np.array([1, 2]), use_sequence_length=True, **kw)
    with pytest.raises(ValueError, match="use_sequence_length=False"):
        npx.rnn(x, flat, h0, c0, mx.np.array([1, 2, 3]), **kw)
    with pytest.raises(ValueError, match="mode must be one of"):
        npx.rnn(x, flat, h0, mode="elman", state_size=4, num_layers=1)


def test_split_rnn_params_is_the_ops_layout():
    from mxlite.gluon.utils import split_rnn_params
    from mxlite.ops.rnn import rnn_param_pieces
    for mode in GATES:
        fused = mx.init.RNNFused(mode, 2, 4, True)
        assert fused.pieces(3) == rnn_param_pieces(mode, 2, 3, 4, True) == _layout(mode, 2, 2, 3, 4)
    pieces = split_rnn_params(np.arange(144.0), "lstm", 1, 3, 4)
    assert list(pieces) == [n for n, _ in _layout("lstm", 1, 1, 3, 4)]


# -- npx.ctc_loss -------------------------------------------------------------------------

def _log_softmax(a):
    a = a - a.max(axis=-1, keepdims=True)
    return a - np.log(np.exp(a).sum(axis=-1, keepdims=True))


def _ctc_brute(acts, label, blank):
    """-log of the summed probability of every path that collapses to ``label``."""
    logp = _log_softmax(acts)
    total = -np.inf
    for path in itertools.product(range(acts.shape[1]), repeat=acts.shape[0]):
        collapsed = [k for i, k in enumerate(path) if k != blank and (i == 0 or k != path[i - 1])]
        if collapsed == list(label):
            total = np.logaddexp(total, sum(logp[t, k] for t, k in enumerate(path)))
    return -total


def test_ctc_hand_computed_case(device):
    acts = np.array([[[0.5, 1.5]], [[2.0, -1.0]]])  # T=2, N=1, C=2; blank first
    p = np.exp(_log_softmax(acts[:, 0]))
    # paths to "1": (1, 1), (1, blank), (blank, 1)
    expected = -np.log(p[0, 1] * p[1, 1] + p[0, 1] * p[1, 0] + p[0, 0] * p[1, 1])
    got = npx.ctc_loss(mx.np.array(acts, dtype="float64", device=device),
                       mx.np.array([[1]], device=device))
    assert got.shape == (1,)
    close(got.asnumpy(), [expected], 1e-12)
    last = npx.ctc_loss(mx.np.array(acts[..., ::-1].copy(), dtype="float64", device=device),
                        mx.np.array([[0]], device=device), blank_label="last")
    close(last.asnumpy(), [expected], 1e-12)


def test_ctc_lengths_brute_force_gradient_and_ctcloss(device):
    rng = np.random.default_rng(2)
    acts = rng.standard_normal((4, 3, 4))  # T, N, C; blank 0
    label = np.array([[1, 2, 0], [3, 0, 0], [2, 2, 1]])  # padded with 0 (blank 'first')
    want = [_ctc_brute(acts[:, 0], [1, 2], 0), _ctc_brute(acts[:, 1], [3], 0),
            _ctc_brute(acts[:, 2], [2, 2, 1], 0)]
    data = mx.np.array(acts, dtype="float64", device=device)
    close(npx.ctc_loss(data, mx.np.array(label, device=device)).asnumpy(), want, 1e-10)
    dlen, llen = np.array([4, 2, 4]), np.array([2, 1, 1])
    want = [_ctc_brute(acts[:, 0], [1, 2], 0), _ctc_brute(acts[:2, 1], [3], 0),
            _ctc_brute(acts[:, 2], [2], 0)]
    lab, dl, ll = (mx.np.array(a, device=device) for a in (label, dlen, llen))
    kw = dict(use_data_lengths=True, use_label_lengths=True)
    close(npx.ctc_loss(data, lab, dl, ll, **kw).asnumpy(), want, 1e-10)
    check_gradient(lambda d: npx.ctc_loss(d, lab, dl, ll, **kw), acts, device=device)
    # gluon's CTCLoss is the 'last' blank form of the same op
    moved = np.concatenate([acts[..., 1:], acts[..., :1]], axis=-1)
    loss = gluon.loss.CTCLoss(layout="TNC")(mx.np.array(moved, dtype="float64", device=device),
                                            mx.np.array(np.where(label > 0, label - 1, -1),
                                                        device=device))
    close(loss.asnumpy(), npx.ctc_loss(data, lab).asnumpy(), 1e-10)


def test_ctc_errors():
    data = mx.np.zeros((3, 2, 4))
    with pytest.raises(ValueError, match=r"batch size 2 but label of shape \(3, 1\)"):
        npx.ctc_loss(data, mx.np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"label length 4 .* sequence length 3"):
        npx.ctc_loss(data, mx.np.ones((2, 4)))
    with pytest.raises(ValueError, match="blank"):
        npx.ctc_loss(data, mx.np.array([[1, 3], [1, 1]]), blank_label="last")
    with pytest.raises(ValueError, match="use_data_lengths=False"):
        npx.ctc_loss(data, mx.np.ones((2, 1)), mx.np.array([3, 3]))
    with pytest.raises(ValueError, match=r"data_lengths must have shape \(2,\)"):
        npx.ctc_loss(data, mx.np.ones((2, 1)), mx.np.array([3]), use_data_lengths=True)


# -- control flow ---------------------------------------------------------------------------

def test_foreach_stacks_outputs_and_passes_states(device):
    data = mx.np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=device)
    init = [mx.np.zeros(2, device=device), mx.np.ones(2, device=device)]

    def body(x, states):
        total, scale = states
        return [x + total, x * scale], [total + x, scale * 2]

    outs, states = npx.foreach(body, data, init)
    assert isinstance(outs, list) and isinstance(states, list)
    close(outs[0].asnumpy(), [[1, 2], [4, 6], [9, 12]])
    close(outs[1].asnumpy(), [[1, 2], [6, 8], [20, 24]])
    close(states[0].asnumpy(), [9, 12])
    close(states[1].asnumpy(), [8, 8])
    # a single data array and state give arrays back; a list of data arrays is sliced alike
    out, last = npx.foreach(lambda x, s: (x * s, s + 1), data, mx.np.ones(2, device=device))
    assert isinstance(out, mx.np.ndarray) and out.shape == (3, 2)
    close(last.asnumpy(), [4, 4])
    out, _ = npx.foreach(lambda xs, s: (xs[0] - xs[1], s), [data, data * 2], init)
    close(out.asnumpy(), -data.asnumpy())
    check_gradient(lambda d, s: npx.foreach(lambda x, st: (x * st, st * x + 1), d, s),
                   np.array([[0.5, -1.0], [2.0, 0.3], [1.5, 0.7]]), np.array([1.2, -0.4]),
                   device=device)


def test_foreach_errors_name_shapes():
    data = mx.np.ones((3, 2))
    with pytest.raises(ValueError,
                       match=r"same length on axis 0, got shapes \[\(3, 2\), \(4, 2\)\]"):
        npx.foreach(lambda x, s: (x[0], s), [data, mx.np.ones((4, 2))], [mx.np.ones(2)])
    with pytest.raises(ValueError, match=r"state 0 changed shape from \(2,\) to \(1,\)"):
        npx.foreach(lambda x, s: (x, [s[0][:1]]), data, [mx.np.ones(2)])
    with pytest.raises(TypeError, match="pair"):
        npx.foreach(lambda x, s: x, data, [mx.np.ones(2)])


def test_while_loop_pads_outputs_to_max_iterations(device):
    i0, s0 = (mx.np.array([v], dtype="int64", device=device) for v in (0, 1))
    outputs, states = npx.while_loop(lambda i, s: i <= 5, lambda i, s: ([i + s], [i + 1, s + i]),
                                     (i0, s0), max_iterations=10)
    assert isinstance(outputs, list) and outputs[0].shape == (10, 1)
    assert outputs[0].asnumpy().ravel().tolist() == [1, 2, 4, 7, 11, 16, 0, 0, 0, 0]
    assert [s.asnumpy().tolist() for s in states] == [[6], [16]]
    # a single loop variable comes back as an array; cond failing at once gives no outputs
    out, x = npx.while_loop(lambda x: x.sum() < 100, lambda x: (x, x * 3),
                            mx.np.ones(2, device=device), max_iterations=3)
    assert isinstance(x, mx.np.ndarray)
    close(x.asnumpy(), [27, 27])
    close(out.asnumpy(), [[1, 1], [3, 3], [9, 9]])
    out, x = npx.while_loop(lambda x: x.sum() > 100, lambda x: (x, x * 3),
                            mx.np.ones(2, device=device), max_iterations=3)
    assert out == [] and x.asnumpy().tolist() == [1, 1]

    def fn(x, w):
        outs, (last, _) = npx.while_loop(lambda v, k: k < 3, lambda v, k: (v * w, [v * w, k + 1]),
                                         [x, mx.np.array(0, device=device)], max_iterations=5)
        return outs, last
    check_gradient(fn, np.array([0.5, -2.0]), np.array([1.5, 0.8]), device=device)


def test_while_loop_errors():
    x = mx.np.ones(2)
    with pytest.raises(ValueError, match="max_iterations should be specified"):
        npx.while_loop(lambda x: x.sum() < 3, lambda x: (x, x + 1), x)
    with pytest.raises(ValueError, match=r"loop variable 0 changed shape from \(2,\) to \(3,\)"):
        npx.while_loop(lambda x: x.sum() < 3, lambda x: (x, mx.np.ones(3)), x, max_iterations=2)
    with pytest.raises(ValueError, match="consistent"):
        npx.while_loop(lambda x: x.sum() < 3, lambda x: (x, [x, x]), x, max_iterations=2)
    with pytest.raises(ValueError, match=r"scalar .*got shape \(2,\)"):
        npx.while_loop(lambda x: x < 3, lambda x: (x, x + 1), x, max_iterations=2)


def test_cond_runs_one_branch(device):
    a, b = mx.np.array([1.0], device=device), mx.np.array([2.0], device=device)
    out = npx.cond(lambda a, b: a * b < 5, lambda a, b: (a + 5) * (b + 5),
                   lambda a, b: (a - 5) * (b - 5), [a, b])
    assert isinstance(out, mx.np.ndarray)
    close(out.asnumpy(), [42])
    out = npx.cond(lambda a, b: a * b > 5, lambda a, b: [a, b],
                   lambda a, b: ((a - 5) * (b - 5), a + b), [a, b])
    assert isinstance(out, list)
    close(out[0].asnumpy(), [12])
    close(out[1].asnumpy(), [3])
    close(npx.cond(a < b, lambda: a, lambda: b).asnumpy(), [1])  # MXNet 1.x's form
    check_gradient(lambda x, y: npx.cond(lambda x, y: x.sum() > 0, lambda x, y: x * y,
                                         lambda x, y: x + y, [x, y]),
                   np.array([0.5, 1.0]), np.array([2.0, -3.0]), device=device)
    with pytest.raises(ValueError, match=r"scalar .*got shape \(2,\)"):
        npx.cond(lambda x: x > 0, lambda x: x, lambda x: -x, mx.np.ones(2))


# -- hybridized blocks ----------------------------------------------------------------------

class _Loops(gluon.HybridBlock):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.dense = gluon.nn.Dense(2, in_units=2, flatten=False)

    def forward(self, x):
        if self.kind == "foreach":
            out, last = npx.foreach(lambda v, s: (self.dense(v) + s, s * 0.5), x, x[0])
            return out + last
        if self.kind == "while_loop":
            out, (v, _) = npx.while_loop(lambda v, k: k < 2,
                                         lambda v, k: (self.dense(v), [v * 2, k + 1]),
                                         [x, mx.np.array(0, device=x.device)], max_iterations=3)
            return out[1] + v
        return npx.cond(lambda v: v.sum() > 0, lambda v: self.dense(v), lambda v: -v, x)


@pytest.mark.parametrize("kind", ["foreach", "while_loop", "cond"])
def test_hybridized_blocks_give_the_eager_results(device, kind):
    net = _Loops(kind)
    net.initialize(device=device)
    x = mx.np.array(np.random.default_rng(0).standard_normal((3, 2)), device=device)
    eager = net(x).asnumpy()
    net.hybridize()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        first, second = net(x).asnumpy(), net(x).asnumpy()
    close(first, eager)
    close(second, eager)
    fallbacks = [w for w in seen if issubclass(w.category, GraphFallbackWarning)]
    if kind == "foreach":
        assert not fallbacks and net._cached_graph.latest is not None  # traced, unrolled
    else:
        assert fallbacks and "npx." in str(fallbacks[0].message)  # read on the host: eager


def test_hybridized_lstm_layer_still_traces():
    layer = grnn.LSTM(3, num_layers=2, bidirectional=True, input_size=2)
    layer.initialize()
    x = mx.np.array(np.random.default_rng(1).standard_normal((4, 2, 2)))
    eager = layer(x).asnumpy()
    layer.hybridize()
    with warnings.catch_warnings():
        warnings.simplefilter("error", GraphFallbackWarning)
        close(layer(x).asnumpy(), eager)
        close(layer(x).asnumpy(), eager)
