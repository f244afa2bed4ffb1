"""npx operators: values against numpy formulas and reference loops, gradients against
float64 central differences."""
import math

import numpy as np
import pytest

import mxlite as mx
from mxlite.test_utils import central_difference, check_gradient

mnp, npx = mx.np, mx.npx
RNG = np.random.default_rng(5)


def _arr(x, device, dtype="float64"):
    return mnp.array(x, dtype=dtype, device=device)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0), "sigmoid": _sigmoid, "tanh": np.tanh,
    "softrelu": _softplus, "softsign": lambda x: x / (1 + np.abs(x)),
    "log_sigmoid": lambda x: np.log(_sigmoid(x)), "mish": lambda x: x * np.tanh(_softplus(x)),
    "silu": lambda x: x * _sigmoid(x),
}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activation(act, device):
    x = RNG.uniform(-3, 3, (2, 5))
    x[np.abs(x) < 0.05] = 0.3
    got = npx.activation(_arr(x, device), act_type=act)
    np.testing.assert_allclose(got.asnumpy(), ACTIVATIONS[act](x), rtol=1e-10, atol=1e-12)
    check_gradient(lambda a: npx.activation(a, act_type=act), x, device=device)


def _erf(x):
    return np.vectorize(math.erf)(x)


LEAKY = {
    "leaky": lambda x: np.where(x > 0, x, 0.1 * x),
    "elu": lambda x: np.where(x > 0, x, 0.1 * np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
}


@pytest.mark.parametrize("act", sorted(LEAKY))
def test_leaky_relu_family(act, device):
    x = RNG.uniform(-3, 3, (3, 4))
    x[np.abs(x) < 0.05] = -0.4
    got = npx.leaky_relu(_arr(x, device), act_type=act, slope=0.1)
    np.testing.assert_allclose(got.asnumpy(), LEAKY[act](x), rtol=1e-10, atol=1e-12)
    check_gradient(lambda a: npx.leaky_relu(a, act_type=act, slope=0.1), x, device=device)


def test_prelu_gamma_gradient_and_helpers(device):
    x = RNG.uniform(-2, 2, (2, 3, 4))
    gamma = np.array([0.1, 0.2, 0.3])
    got = npx.leaky_relu(_arr(x, device), _arr(gamma, device), act_type="prelu")
    np.testing.assert_allclose(got.asnumpy(), np.where(x > 0, x, gamma[:, None] * x))
    check_gradient(lambda a, g: npx.leaky_relu(a, g, act_type="prelu"), x, gamma, device=device)
    np.testing.assert_allclose(npx.gelu(_arr(x, device)).asnumpy(), LEAKY["gelu"](x), rtol=1e-10)
    np.testing.assert_allclose(npx.silu(_arr(x, device)).asnumpy(), x * _sigmoid(x), rtol=1e-10)
    assert npx.leaky_relu(mnp.ones((2,), device=device)).dtype == np.float32


def test_selu_gradient_is_correct_for_negative_inputs(device):
    a = _arr([-1.0, 2.0], device)
    a.attach_grad()
    with mx.autograd.record():
        y = npx.leaky_relu(a, act_type="selu")
    y.backward()
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    np.testing.assert_allclose(a.grad.asnumpy(), [lam * alpha * np.exp(-1.0), lam])


SPECIAL = [
    ("erf", np.linspace(-4, 4, 17), math.erf),
    ("gammaln", np.array([0.1, 0.5, 1.0, 2.5, 7.3, 40.0, -0.5, -2.7]), math.lgamma),
    ("gamma", np.array([0.1, 0.5, 1.0, 2.5, 7.3, -0.5, -2.7]), math.gamma),
]


@pytest.mark.parametrize("name,x,ref", SPECIAL, ids=[s[0] for s in SPECIAL])
def test_special_functions(name, x, ref, device):
    got = getattr(npx, name)(_arr(x, device)).asnumpy()
    np.testing.assert_allclose(got, [ref(v) for v in x], rtol=1e-12, atol=1e-14)
    check_gradient(getattr(npx, name), x, device=device, rtol=1e-5)


def test_erfinv_and_digamma(device):
    y = np.array([-0.99, -0.5, 0.0, 0.3, 0.999])
    x = npx.erfinv(_arr(y, device)).asnumpy()
    np.testing.assert_allclose([math.erf(v) for v in x], y, rtol=1e-13, atol=1e-15)
    check_gradient(npx.erfinv, y[1:-1], device=device)
    z = np.array([0.3, 1.0, 2.5, 9.0, -0.5])
    h = 1e-6
    numeric = [(math.lgamma(v + h) - math.lgamma(v - h)) / (2 * h) for v in z]
    np.testing.assert_allclose(npx.digamma(_arr(z, device)).asnumpy(), numeric, rtol=1e-7)
    assert float(npx.digamma(_arr([1.0], device))[0]) == pytest.approx(-0.5772156649015329,
                                                                        rel=1e-13)
    check_gradient(npx.digamma, z, device=device, rtol=1e-5)
    assert npx.erf(mnp.ones((2,), device=device)).dtype == np.float32


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax_with_length(device):
    x = RNG.standard_normal((2, 3, 5))
    length = np.array([[1, 5, 3], [2, 4, 5]])
    got = npx.softmax(_arr(x, device), length=mnp.array(length, device=device), use_length=True)
    want = np.zeros_like(x)
    for i in range(2):
        for j in range(3):
            n = length[i, j]
            want[i, j, :n] = _np_softmax(x[i, j, :n], 0)
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-12)
    lens = mnp.array(length, device=device)
    check_gradient(lambda a: npx.softmax(a, length=lens, use_length=True), x, device=device)

    def finite_log_softmax(a):
        y = npx.log_softmax(a, length=lens, use_length=True)
        return mnp.where(mnp.isfinite(y), y, 0)
    check_gradient(finite_log_softmax, x, device=device)


def test_masked_softmax_and_log_softmax(device):
    x = RNG.standard_normal((3, 4))
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
    m = mnp.array(mask, device=device)
    got = npx.masked_softmax(_arr(x, device), m, temperature=2.0).asnumpy()
    want = np.where(mask, np.exp(x / 2), 0)
    want = want / np.maximum(want.sum(-1, keepdims=True), 1e-300)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    logp = npx.masked_log_softmax(_arr(x, device), m).asnumpy()
    assert np.isneginf(logp[~mask]).all()
    np.testing.assert_allclose(np.exp(logp[0, mask[0]]).sum(), 1.0)
    check_gradient(lambda a: npx.masked_softmax(a, m, temperature=2.0), x, device=device)
    check_gradient(lambda a: mnp.where(m, npx.masked_log_softmax(a, m), 0), x, device=device)


def test_softmax_temperature_and_logsumexp(device):
    x = RNG.standard_normal((2, 4))
    check_gradient(lambda a: npx.softmax(a, axis=0, temperature=3.0), x, device=device)
    got = npx.logsumexp(_arr(x, device), axis=1)
    np.testing.assert_allclose(got.asnumpy(), np.log(np.exp(x).sum(1)), rtol=1e-12)
    check_gradient(lambda a: npx.logsumexp(a, axis=0, keepdims=True), x, device=device)
    check_gradient(lambda a: npx.logsumexp(a), x, device=device)
    big = npx.logsumexp(_arr([1000.0, 1000.0], device))
    assert float(big) == pytest.approx(1000 + np.log(2))


def test_one_hot_topk_sequence_mask(device):
    oh = npx.one_hot(mnp.array([1, 0, 3], device=device), 3)
    assert oh.dtype == np.float32
    np.testing.assert_array_equal(oh.asnumpy(), [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    x = np.array([[1.0, 3.0, 3.0, 2.0], [0.0, -1.0, 5.0, 5.0]])
    a = _arr(x, device)
    idx = npx.topk(a, k=2)
    assert idx.dtype == np.float32
    np.testing.assert_array_equal(idx.asnumpy(), [[1, 2], [2, 3]])
    np.testing.assert_array_equal(npx.topk(a, k=1, is_ascend=True, ret_typ="value").asnumpy(),
                                  [[1], [-1]])
    vals, ids = npx.topk(a, axis=0, k=1, ret_typ="both")
    np.testing.assert_array_equal(vals.asnumpy(), [[1, 3, 5, 5]])
    np.testing.assert_array_equal(npx.topk(a, k=2, ret_typ="mask").asnumpy(),
                                  [[0, 1, 1, 0], [0, 0, 1, 1]])
    check_gradient(lambda m: npx.topk(m, k=2, ret_typ="value"), RNG.standard_normal((2, 4)),
                   device=device)
    seq = RNG.standard_normal((4, 2, 3))
    lengths = mnp.array([2, 4], device=device)
    got = npx.sequence_mask(_arr(seq, device), lengths, use_sequence_length=True, value=-1.0)
    want = seq.copy()
    want[2:, 0] = -1
    np.testing.assert_array_equal(got.asnumpy(), want)
    got = npx.sequence_mask(_arr(seq.transpose(1, 0, 2), device), lengths,
                            use_sequence_length=True, axis=1)
    want = seq.transpose(1, 0, 2).copy()
    want[0, 2:] = 0
    np.testing.assert_array_equal(got.asnumpy(), want)
    check_gradient(lambda s: npx.sequence_mask(s, lengths, use_sequence_length=True), seq,
                   device=device)


def test_embedding_and_pick(device):
    weight = RNG.standard_normal((5, 3))
    idx = mnp.array([[0.0, 4.0], [4.0, 4.0]], device=device)
    got = npx.embedding(idx, _arr(weight, device), input_dim=5, output_dim=3)
    np.testing.assert_array_equal(got.asnumpy(), weight[[[0, 4], [4, 4]]])
    g = check_gradient(lambda w: npx.embedding(idx, w), weight, device=device)[0]
    np.testing.assert_array_equal(g[1:4], 0)
    w = _arr(weight, device)
    w.attach_grad()
    with mx.autograd.record():
        y = npx.embedding(idx, w)
    y.backward()
    np.testing.assert_array_equal(w.grad.asnumpy()[:, 0], [1, 0, 0, 0, 3])
    x = RNG.standard_normal((3, 4))
    picks = mnp.array([0.0, 3.0, 3.0], device=device)
    np.testing.assert_array_equal(npx.pick(_arr(x, device), picks).asnumpy(),
                                  x[[0, 1, 2], [0, 3, 3]])
    check_gradient(lambda m: npx.pick(m, picks, keepdims=True), x, device=device)


def test_small_helpers(device):
    a = RNG.standard_normal((2, 3, 4))
    b = RNG.standard_normal((2, 5, 4))
    got = npx.batch_dot(_arr(a, device), _arr(b, device), transpose_b=True)
    np.testing.assert_allclose(got.asnumpy(), a @ b.transpose(0, 2, 1))
    check_gradient(lambda x, y: npx.batch_dot(x, y, transpose_a=True),
                   RNG.standard_normal((2, 4, 3)), RNG.standard_normal((2, 4, 2)), device=device)
    assert npx.batch_flatten(_arr(a, device)).shape == (2, 12)
    assert npx.reshape_like(_arr(a, device), mnp.ones((4, 6))).shape == (4, 6)
    assert npx.reshape_like(_arr(a, device), mnp.ones((6, 7)), lhs_begin=0, lhs_end=2,
                            rhs_begin=0, rhs_end=1).shape == (6, 4)
    np.testing.assert_array_equal(npx.arange_like(_arr(a, device), start=1, step=2, repeat=2,
                                                  axis=1).asnumpy(), [1, 1, 3])
    x = _arr([1.0, 2.0], device)
    x.attach_grad()
    with mx.autograd.record():
        y = x * npx.stop_gradient(x * 3)
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [3, 6])


# -- normalization -------------------------------------------------------------------------
def _ref_norm(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps), mean, var


@pytest.mark.parametrize("axis", [1, -1])
def test_batch_norm_training_and_running_stats(axis, device):
    x = RNG.standard_normal((4, 3, 2, 5)) * 2 + 1
    c = x.shape[axis]
    gamma, beta = RNG.uniform(0.5, 1.5, c), RNG.standard_normal(c)
    rm, rv = mnp.zeros(c, device=device), mnp.ones(c, device=device)
    axes = tuple(i for i in range(4) if i != axis % 4)
    shape = [1] * 4
    shape[axis] = c
    with mx.autograd.train_mode():
        y = npx.batch_norm(_arr(x, device), _arr(gamma, device), _arr(beta, device), rm, rv,
                           eps=1e-5, momentum=0.8, fix_gamma=False, axis=axis)
    xhat, mean, var = _ref_norm(x, axes, 1e-5)
    np.testing.assert_allclose(y.asnumpy(), xhat * gamma.reshape(shape) + beta.reshape(shape),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rm.asnumpy(), 0.2 * mean.reshape(-1), rtol=1e-5)
    np.testing.assert_allclose(rv.asnumpy(), 0.8 + 0.2 * var.reshape(-1), rtol=1e-5)

    def training_bn(a, g, b):
        with mx.autograd.train_mode():
            return npx.batch_norm(a, g, b, None, None, eps=1e-5, fix_gamma=False, axis=axis)
    small = x[:2, :, :1, :] if axis == -1 else x[:2, :, :, :2]
    check_gradient(training_bn, small, gamma, beta, device=device)


def test_batch_norm_inference_fix_gamma_and_global_stats(device):
    x = RNG.standard_normal((3, 2, 4))
    gamma, beta = np.array([2.0, 3.0]), np.array([0.5, -0.5])
    rm, rv = np.array([0.1, -0.2]), np.array([1.5, 0.7])
    args = [_arr(v, device) for v in (gamma, beta, rm, rv)]
    y = npx.batch_norm(_arr(x, device), *args)  # not training: running stats, fix_gamma
    want = (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-3) + beta[:, None]
    np.testing.assert_allclose(y.asnumpy(), want, rtol=1e-12)

    def inference_bn(a, g, b):
        with mx.autograd.predict_mode():  # record() would switch to training
            return npx.batch_norm(a, g, b, args[2], args[3], fix_gamma=False)
    gammas = check_gradient(inference_bn, x, gamma, beta, device=device)
    assert np.abs(gammas[1]).sum() > 0

    def global_stats_bn(a, g, b):
        with mx.autograd.train_mode():
            return npx.batch_norm(a, g, b, args[2], args[3], use_global_stats=True)
    g = check_gradient(global_stats_bn, x, gamma, beta, device=device)
    np.testing.assert_array_equal(g[1], 0)  # fix_gamma: gamma gets a zero gradient


def test_layer_group_instance_l2_norm(device):
    x = RNG.standard_normal((2, 4, 3, 2))
    g4, b4 = RNG.uniform(0.5, 1.5, 4), RNG.standard_normal(4)
    g2, b2 = RNG.uniform(0.5, 1.5, 2), RNG.standard_normal(2)
    ln = npx.layer_norm(_arr(x, device), _arr(g2, device), _arr(b2, device))
    np.testing.assert_allclose(ln.asnumpy(), _ref_norm(x, -1, 1e-5)[0] * g2 + b2, rtol=1e-10)
    ln1 = npx.layer_norm(_arr(x, device), _arr(g4, device), _arr(b4, device), axis=1)
    np.testing.assert_allclose(ln1.asnumpy(), _ref_norm(x, 1, 1e-5)[0] * g4[:, None, None]
                               + b4[:, None, None], rtol=1e-10)
    gn = npx.group_norm(_arr(x, device), _arr(g4, device), _arr(b4, device), num_groups=2)
    ref = _ref_norm(x.reshape(2, 2, 2, 3, 2), (2, 3, 4), 1e-5)[0].reshape(x.shape)
    np.testing.assert_allclose(gn.asnumpy(), ref * g4[:, None, None] + b4[:, None, None],
                               rtol=1e-10)
    inn = npx.instance_norm(_arr(x, device), _arr(g4, device), _arr(b4, device))
    np.testing.assert_allclose(inn.asnumpy(), _ref_norm(x, (2, 3), 1e-3)[0] * g4[:, None, None]
                               + b4[:, None, None], rtol=1e-10)
    l2 = npx.l2_normalization(_arr(x, device), mode="channel")
    np.testing.assert_allclose(l2.asnumpy(), x / np.sqrt((x * x).sum(1, keepdims=True) + 1e-10))
    small = x[:, :, :2, :1]
    check_gradient(lambda a, g, b: npx.layer_norm(a, g, b, axis=1), small, g4, b4,
                   device=device)
    check_gradient(lambda a, g, b: npx.group_norm(a, g, b, num_groups=2), small, g4, b4,
                   device=device)
    check_gradient(lambda a, g, b: npx.instance_norm(a, g, b), small, g4, b4, device=device)
    for mode in ("instance", "channel", "spatial"):
        check_gradient(lambda a: npx.l2_normalization(a, mode=mode), small, device=device)


def test_norms_keep_float32(device):
    x = mnp.ones((2, 3, 4, 4), device=device)
    c = mnp.ones((3,), device=device)
    with mx.autograd.train_mode():
        assert npx.batch_norm(x, c, c, c, c).dtype == np.float32
    assert npx.layer_norm(x, mnp.ones((4,), device=device), mnp.ones((4,), device=device)).dtype \
        == np.float32


# -- convolution and pooling ------------------------------------------------------------------
def _ref_conv2d(x, w, b, stride, pad, dilate, groups):
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dilate[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilate[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, f, oh, ow))
    fg = f // groups
    for i in range(n):
        for o in range(f):
            grp = o // fg
            for y in range(oh):
                for z in range(ow):
                    acc = 0.0
                    for ci in range(cg):
                        for a in range(kh):
                            for bb in range(kw):
                                acc += w[o, ci, a, bb] * xp[i, grp * cg + ci,
                                                            y * stride[0] + a * dilate[0],
                                                            z * stride[1] + bb * dilate[1]]
                    out[i, o, y, z] = acc + (b[o] if b is not None else 0)
    return out


CONV_CASES = [
    ((2, 2, 5, 5), (3, 2, 3, 3), (1, 1), (0, 0), (1, 1), 1),
    ((2, 2, 6, 5), (2, 2, 3, 2), (2, 1), (1, 2), (1, 1), 1),
    ((2, 4, 6, 6), (4, 2, 2, 2), (1, 2), (1, 0), (2, 1), 2),
    ((1, 1, 4, 4), (2, 1, 3, 3), (1, 1), (1, 1), (1, 1), 1),
]


@pytest.fixture(params=["batch-outer", "batch-inner"])
def column_layout(request, monkeypatch):
    """Both im2col layouts of the CPU convolution (chosen by output row length)."""
    from mxlite.ops import conv
    monkeypatch.setattr(conv, "BATCH_INNER_BELOW", 0 if request.param == "batch-outer" else 10**6)
    return request.param


@pytest.mark.parametrize("xs,ws,stride,pad,dilate,groups", CONV_CASES)
def test_convolution_2d_against_loops(xs, ws, stride, pad, dilate, groups, device,
                                      column_layout):
    x, w, b = RNG.standard_normal(xs), RNG.standard_normal(ws), RNG.standard_normal(ws[0])
    got = npx.convolution(_arr(x, device), _arr(w, device), _arr(b, device), kernel=ws[2:],
                          stride=stride, pad=pad, dilate=dilate, num_filter=ws[0],
                          num_group=groups)
    np.testing.assert_allclose(got.asnumpy(), _ref_conv2d(x, w, b, stride, pad, dilate, groups),
                               rtol=1e-10, atol=1e-12)
    check_gradient(lambda a, k, c: npx.convolution(a, k, c, kernel=ws[2:], stride=stride,
                                                   pad=pad, dilate=dilate, num_group=groups),
                   x, w, b, device=device)


def test_convolution_1d_and_no_bias(device, column_layout):
    x, w = RNG.standard_normal((2, 3, 7)), RNG.standard_normal((2, 3, 3))
    got = npx.convolution(_arr(x, device), _arr(w, device), kernel=(3,), stride=(2,), pad=(1,),
                          num_filter=2, no_bias=True)
    ref = _ref_conv2d(x[:, :, None], w[:, :, None], None, (1, 2), (0, 1), (1, 1), 1)[:, :, 0]
    np.testing.assert_allclose(got.asnumpy(), ref, rtol=1e-10)
    check_gradient(lambda a, k: npx.convolution(a, k, kernel=(3,), stride=(2,), pad=(1,),
                                                no_bias=True), x, w, device=device)
    f32 = npx.convolution(mnp.ones((1, 3, 7), device=device), mnp.ones((2, 3, 3), device=device),
                          no_bias=True, kernel=(3,))
    assert f32.dtype == np.float32


def test_convolution_errors_name_shapes(device):
    with pytest.raises(ValueError, match="channels"):
        npx.convolution(mnp.ones((1, 3, 5, 5), device=device),
                        mnp.ones((2, 2, 3, 3), device=device), kernel=(3, 3), no_bias=True)


@pytest.mark.parametrize("stride,pad,adj,groups", [((1, 1), (0, 0), (0, 0), 1),
                                                   ((2, 2), (1, 0), (1, 0), 1),
                                                   ((2, 1), (0, 1), (0, 0), 2)])
def test_deconvolution_is_the_adjoint_of_convolution(stride, pad, adj, groups, device,
                                                     column_layout):
    x = RNG.standard_normal((2, 2, 3, 4))
    w = RNG.standard_normal((2, 4 // groups, 3, 2))
    y = npx.deconvolution(_arr(x, device), _arr(w, device), kernel=(3, 2), stride=stride,
                          pad=pad, adj=adj, num_filter=4, num_group=groups).asnumpy()
    expect = tuple((i - 1) * s - 2 * p + k + a
                   for i, s, p, k, a in zip((3, 4), stride, pad, (3, 2), adj))
    assert y.shape == (2, 4) + expect
    z = RNG.standard_normal(y.shape)
    conv = npx.convolution(_arr(z, device), _arr(w, device), kernel=(3, 2), stride=stride,
                           pad=pad, num_group=groups, no_bias=True).asnumpy()
    np.testing.assert_allclose((conv * x).sum(), (z * y).sum(), rtol=1e-10)
    check_gradient(lambda a, k: npx.deconvolution(a, k, kernel=(3, 2), stride=stride, pad=pad,
                                                  adj=adj, num_group=groups), x, w,
                   device=device)
    t = npx.deconvolution(_arr(x, device), _arr(w, device), kernel=(3, 2), stride=stride,
                          pad=pad, target_shape=expect, num_group=groups)
    assert t.shape[2:] == expect


def _ref_pool(x, kernel, stride, pad, kind, include_pad=True):
    n, c, h, w = x.shape
    fill = -np.inf if kind == "max" else 0
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])), constant_values=fill)
    valid = np.pad(np.ones((h, w)), ((pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * pad[1] - kernel[1]) // stride[1] + 1
    out = np.zeros((n, c, oh, ow))
    for y in range(oh):
        for z in range(ow):
            win = xp[:, :, y * stride[0]:y * stride[0] + kernel[0],
                     z * stride[1]:z * stride[1] + kernel[1]]
            if kind == "max":
                out[:, :, y, z] = win.max(axis=(2, 3))
            elif kind == "sum":
                out[:, :, y, z] = win.sum(axis=(2, 3))
            else:
                count = kernel[0] * kernel[1] if include_pad else \
                    valid[y * stride[0]:y * stride[0] + kernel[0],
                          z * stride[1]:z * stride[1] + kernel[1]].sum()
                out[:, :, y, z] = win.sum(axis=(2, 3)) / count
    return out


POOL_CASES = [("max", (2, 2), (2, 2), (0, 0), True), ("max", (3, 2), (1, 2), (1, 1), True),
              ("avg", (2, 2), (2, 2), (0, 0), True), ("avg", (3, 3), (2, 1), (1, 1), False),
              ("avg", (3, 3), (2, 1), (1, 1), True), ("sum", (2, 3), (1, 1), (0, 1), True)]


@pytest.mark.parametrize("kind,kernel,stride,pad,include", POOL_CASES)
def test_pooling_against_loops(kind, kernel, stride, pad, include, device):
    x = RNG.standard_normal((2, 2, 5, 6))
    got = npx.pooling(_arr(x, device), kernel=kernel, stride=stride, pad=pad, pool_type=kind,
                      count_include_pad=include)
    np.testing.assert_allclose(got.asnumpy(), _ref_pool(x, kernel, stride, pad, kind, include),
                               rtol=1e-12)
    check_gradient(lambda a: npx.pooling(a, kernel=kernel, stride=stride, pad=pad,
                                         pool_type=kind, count_include_pad=include), x,
                   device=device)


@pytest.mark.parametrize("shape,kernel", [((2, 3, 4, 6), (2, 2)), ((2, 2, 4, 6), (2, 3)),
                                          ((2, 2, 6), (3,)), ((1, 2, 4, 2, 6), (2, 2, 3))])
def test_max_pool_gradient_when_windows_tile_the_input(shape, kernel, device):
    """kernel == stride on divisible sizes (the tiled backward): the gradient goes to each
    window's first maximum in row-major order, ties included (ReLU's zeros)."""
    x = RNG.standard_normal(shape)
    x[x < 0.3] = 0.0  # many all-zero windows: ties
    a = _arr(x, device)
    a.attach_grad()
    with mx.autograd.record():
        y = npx.pooling(a, kernel=kernel, stride=kernel, pool_type="max")
    head = RNG.standard_normal(y.shape)
    y.backward(_arr(head, device))
    assert y.shape[2:] == tuple(s // k for s, k in zip(shape[2:], kernel))
    want = np.zeros_like(x)
    for out_index in np.ndindex(*y.shape):
        corner = tuple(o * k for o, k in zip(out_index[2:], kernel))
        window = x[out_index[:2] + tuple(slice(c, c + k) for c, k in zip(corner, kernel))]
        first = np.unravel_index(np.argmax(window), kernel)  # argmax: the first maximum
        want[out_index[:2] + tuple(c + f for c, f in zip(corner, first))] += head[out_index]
    np.testing.assert_array_equal(a.grad.asnumpy(), want)
    check_gradient(lambda b: npx.pooling(b, kernel=kernel, stride=kernel, pool_type="max"),
                   RNG.standard_normal(shape), device=device)


@pytest.mark.parametrize("kind,kernel,stride,pad", [("max", (2, 2), (2, 2), (0, 0)),
                                                    ("max", (3, 3), (2, 2), (1, 1)),
                                                    ("avg", (2, 2), (1, 1), (1, 0))])
def test_pooling_of_a_batch_innermost_convolution_output(kind, kernel, stride, pad, device):
    """A biased convolution with short output rows returns its output batch-innermost;
    pooling keeps that layout in its output (and max pooling in its index and gradient, the
    arriving gradient C-ordered), and computes exactly what it computes on a C-ordered copy
    (the flatten round trip below)."""
    x, w = RNG.standard_normal((4, 2, 6, 6)), _arr(RNG.standard_normal((3, 2, 3, 3)), device)
    bias = _arr(RNG.standard_normal(3), device)
    head = _arr(RNG.standard_normal((4, 3, 2, 2) if kind == "max" else (4, 3, 5, 3)), device)
    results = []
    for c_ordered in (False, True):
        a = _arr(x, device)
        a.attach_grad()
        with mx.autograd.record():
            y = npx.convolution(a, w, bias, kernel=(3, 3), num_filter=3)
            if c_ordered:
                y = y.reshape(-1).reshape(y.shape)
            out = npx.pooling(y, kernel=kernel, stride=stride, pad=pad, pool_type=kind)
        out.backward(head)
        results.append((out, a.grad.asnumpy()))
    if device.device_type == "cpu":
        assert results[0][0]._data.strides[0] == 8  # the batch stayed innermost
        assert results[1][0]._data.flags.c_contiguous
        if kind == "max":
            from mxlite.ops.conv import _max_pool, _max_pool_scatter
            inner = np.moveaxis(RNG.standard_normal((3, 4, 4, 4)), -1, 0)  # as conv's output
            params = {"kernel": kernel, "stride": stride, "pad": pad, "extra": (0, 0)}
            _, arg = _max_pool.forward_impls[0](np, inner, **params)
            gx = _max_pool_scatter.forward_impls[0](np, head.asnumpy(), arg,
                                                    shape=inner.shape, **params)
            assert arg.strides[0] == arg.itemsize and gx.strides[0] == gx.itemsize
    np.testing.assert_array_equal(results[0][0].asnumpy(), results[1][0].asnumpy())
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_pooling_global_full_1d_and_max_routing(device):
    x = RNG.standard_normal((2, 3, 4, 5))
    g = npx.pooling(_arr(x, device), pool_type="avg", global_pool=True)
    assert g.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(g.asnumpy()[..., 0, 0], x.mean(axis=(2, 3)))
    full = npx.pooling(_arr(x, device), kernel=(3, 3), stride=(2, 2), pooling_convention="full")
    assert full.shape == (2, 3, 2, 2)  # valid would give (2, 3, 1, 2)
    check_gradient(lambda a: npx.pooling(a, kernel=(3, 3), stride=(2, 2), pool_type="avg",
                                         pooling_convention="full"), x, device=device)
    one = npx.pooling(_arr(x[:, :, 0], device), kernel=(2,), stride=(2,), pool_type="max")
    np.testing.assert_allclose(one.asnumpy(), np.maximum(x[:, :, 0, 0:4:2], x[:, :, 0, 1:5:2]))
    a = _arr([[[[1.0, 5.0], [5.0, 2.0]]]], device)
    a.attach_grad()
    with mx.autograd.record():
        y = npx.pooling(a, kernel=(2, 2), pool_type="max")
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy()[0, 0], [[0, 1], [0, 0]])
    assert npx.pooling(mnp.ones((1, 1, 4, 4), device=device), kernel=(2, 2)).dtype == np.float32


def test_second_order_through_convolution_pooling_and_norm(device):
    """Gradient penalty: d/dw of |d loss / d x|^2 matches finite differences."""
    x0 = RNG.standard_normal((1, 2, 4, 4))
    w0 = RNG.standard_normal((2, 2, 3, 3))
    gamma = _arr(np.ones(2), device)
    beta = _arr(np.zeros(2), device)

    def penalty(w_host, with_grad):
        x = _arr(x0, device)
        w = _arr(w_host, device)
        x.attach_grad()
        w.attach_grad()
        with mx.autograd.record():
            h = npx.convolution(x, w, kernel=(3, 3), pad=(1, 1), no_bias=True)
            h = npx.layer_norm(npx.activation(h, act_type="tanh"), gamma, beta, axis=1)
            h = npx.pooling(h, kernel=(2, 2), stride=(2, 2), pool_type="avg")
            loss = mnp.sum(h * h)
            (gx,) = mx.autograd.grad(loss, [x], create_graph=True)
            pen = mnp.sum(gx * gx)
        if with_grad:
            pen.backward()
            return w.grad.asnumpy()
        return float(pen)

    analytic = penalty(w0, True)
    numeric = central_difference(lambda w: penalty(w, False), w0)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_save_load_round_trip(tmp_path, device):
    a = mnp.array([[1.0, 2.0]], device=device)
    b = mnp.array(np.array([1, 2, 3], dtype=np.int32), device=device)
    path = str(tmp_path / "arrays")
    npx.save(path, [a, b])  # an .npz, read back by name (MXNet 2.x's load)
    loaded = npx.load(path)
    assert sorted(loaded) == ["arr_0", "arr_1"]
    np.testing.assert_array_equal(loaded["arr_0"].asnumpy(), a.asnumpy())
    assert loaded["arr_1"].dtype == np.int32
    npx.save(path, {"w": a, "arr_x": b})
    loaded = npx.load(path)
    assert sorted(loaded) == ["arr_x", "w"]
    npx.save(path, a)  # one array: NumPy's .npy, at exactly that name
    np.testing.assert_array_equal(np.load(path), a.asnumpy())
    single = npx.load(path, device=device)
    assert single.shape == (1, 2) and single.device == device
    npx.savez(path, a, named=b)
    with np.load(path) as npz:
        assert sorted(npz.files) == ["arr_0", "named"]
    assert sorted(npx.load(path)) == ["arr_0", "named"]
    with pytest.raises(TypeError, match="ndarray"):
        npx.save(path, [a, 3])


def test_convolution_and_pooling_3d(device, column_layout):
    from numpy.lib.stride_tricks import sliding_window_view
    x = RNG.standard_normal((2, 2, 4, 3, 4))
    w = RNG.standard_normal((3, 2, 2, 2, 3))
    got = npx.convolution(_arr(x, device), _arr(w, device), kernel=(2, 2, 3), no_bias=True)
    win = sliding_window_view(x, (2, 2, 3), axis=(2, 3, 4))
    np.testing.assert_allclose(got.asnumpy(), np.einsum("ncdhwijk,fcijk->nfdhw", win, w),
                               rtol=1e-10)
    check_gradient(lambda a, k: npx.convolution(a, k, kernel=(2, 2, 3), stride=(2, 1, 1),
                                                pad=(1, 0, 1), no_bias=True), x, w,
                   device=device)
    pooled = npx.pooling(_arr(x, device), kernel=(2, 2, 2), stride=(2, 1, 2))
    want = sliding_window_view(x, (2, 2, 2), axis=(2, 3, 4))[:, :, ::2, :, ::2].max(
        axis=(-3, -2, -1))
    np.testing.assert_allclose(pooled.asnumpy(), want)
    check_gradient(lambda a: npx.pooling(a, kernel=(2, 2, 2), pool_type="avg"), x,
                   device=device)


def test_rrelu_random_slopes_in_training_mean_slope_otherwise(device):
    x = -mnp.ones((1000,), device=device)
    inference = npx.leaky_relu(x, act_type="rrelu", lower_bound=0.1, upper_bound=0.3)
    np.testing.assert_allclose(inference.asnumpy(), -0.2, rtol=1e-6)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.leaky_relu(x, act_type="rrelu", lower_bound=0.1, upper_bound=0.3)
    y.backward()
    slopes = -y.asnumpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    np.testing.assert_allclose(x.grad.asnumpy(), slopes)
