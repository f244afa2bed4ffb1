"""kernels/*.cu through their host wrappers (mxlite.cuda.ops), run on the CPU executor
(mxlite.testing.cudasim) and compared with straightforward numpy references in float64.

float32 results must match within rtol 1e-5 (a few kernels document a looser bound, noted where
used); float16 results within half precision. NaN never passes.
"""
import inspect
import math
import subprocess
import sys

import numpy as np
import pytest

from mxlite.cuda import bind, elementwise, loader, ops, philox
from mxlite.testing import cudasim

_usable, _why = cudasim.available()

F32 = dict(rtol=1e-5, atol=1e-6)
F16 = dict(rtol=2e-3, atol=2e-3)
BF16 = dict(rtol=2e-2, atol=2e-2)  # 8 significant bits; kernels accumulate in float
def module_for(stem):
    if not _usable:
        pytest.skip(f"CPU CUDA executor unavailable: {_why}")
    return cudasim.kernel_module(stem)


def run(wrapper, *args, **kwargs):
    return bind(wrapper, module_for, np)(*args, **kwargs)


def assert_close(actual, expected, tol=F32):
    actual = np.asarray(actual, dtype=np.float64)
    assert not np.isnan(actual).any(), "kernel produced NaN"
    np.testing.assert_allclose(actual, expected, equal_nan=False, **tol)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def misaligned(a):
    """A C-contiguous copy of `a` whose data pointer is 4 bytes off 16-byte alignment."""
    buffer = np.empty(a.size * a.itemsize + 32, dtype=np.uint8)
    start = (-buffer.ctypes.data) % 16 + 4
    view = buffer[start:start + a.size * a.itemsize].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


def to_bf16_bits(x):
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16_bits(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


# ---- packaging of the kernels ----

def test_every_wrapper_names_a_kernel_file_that_has_its_kernels():
    wrappers = [f for _, f in inspect.getmembers(ops, inspect.isfunction) if hasattr(f, "kernel_file")]
    on_disk = {path.stem for path in loader.kernel_dir().glob("*.cu")}
    assert {f.kernel_file for f in wrappers} == on_disk
    assert set(loader.kernel_files()) == on_disk | {elementwise.STEM}
    for stem in loader.kernel_files():
        source, names = loader.module_source(stem)
        for name in names:
            assert f"void {name.split('<')[0]}(" in source, f"{stem} lists {name} but defines no such kernel"


def test_activation_codes_come_from_the_kernel_enum():
    source = loader.kernel_path("activation").read_text()
    for name, code in ops.ACTIVATIONS.items():
        assert f"{name.upper()} = {code}" in source
    assert len(ops.ACTIVATIONS) == 8 and len(set(ops.ACTIVATIONS.values())) == 8


def test_importing_the_kernel_package_does_not_import_cupy():
    code = "import sys, mxlite.cuda, mxlite.cuda.loader; assert 'cupy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---- activations ----

def act_reference(z, act, slope=0.25):
    z = np.asarray(z, dtype=np.float64)
    sig = 1.0 / (1.0 + np.exp(-z))
    gelu_inner = math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)
    erf = np.vectorize(math.erf)
    forward = {
        "identity": z, "relu": np.maximum(z, 0), "leaky_relu": np.where(z > 0, z, slope * z), "sigmoid": sig,
        "tanh": np.tanh(z), "gelu": 0.5 * z * (1 + erf(z / math.sqrt(2))),
        "gelu_tanh": 0.5 * z * (1 + np.tanh(gelu_inner)), "silu": z * sig,
    }[act]
    t = np.tanh(gelu_inner)
    grad = {
        "identity": np.ones_like(z), "relu": (z > 0).astype(np.float64),
        "leaky_relu": np.where(z > 0, 1.0, slope), "sigmoid": sig * (1 - sig), "tanh": 1 - np.tanh(z) ** 2,
        "gelu": 0.5 * (1 + erf(z / math.sqrt(2))) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi),
        "gelu_tanh": 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * z * z),
        "silu": sig * (1 + z * (1 - sig)),
    }[act]
    return forward, grad


@pytest.mark.parametrize("act", list(ops.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", [(3, 5, 7), (6, 9)], ids=["odd", "even"])
def test_activation_forward_backward(rng, act, dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)  # 16-byte packs plus a scalar tail
    dy = rng.standard_normal(x.shape).astype(dtype)
    tol = F32 if dtype == np.float32 else F16
    y = run(ops.activation_forward, x, act)
    forward, grad = act_reference(x, act)
    assert y.dtype == dtype
    assert_close(y, forward, tol)
    dx = run(ops.activation_backward, dy, x, act)
    assert dx.dtype == dtype
    assert_close(dx, dy.astype(np.float64) * grad, tol)


@pytest.mark.parametrize("act", ["leaky_relu", "gelu_tanh"])
def test_activation_without_bias_and_misaligned(rng, act):
    x = rng.standard_normal(61).astype(np.float32)
    forward, grad = act_reference(x, act, slope=0.1)
    assert_close(run(ops.activation_forward, x, act, slope=0.1), forward)
    shifted = misaligned(x)
    assert shifted.ctypes.data % 16 != 0
    assert_close(run(ops.activation_forward, shifted, act, slope=0.1), forward)
    dy = rng.standard_normal(61).astype(np.float32)
    assert_close(run(ops.activation_backward, misaligned(dy), shifted, act, slope=0.1), dy * grad)


def test_relu_keeps_nan_as_maximum_does():
    x = np.array([np.nan, -1.0, 2.0, np.nan, 0.0], np.float32)
    y = run(ops.activation_forward, x, "relu")
    np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_activation_bfloat16_forward(rng):
    x = from_bf16_bits(to_bf16_bits(rng.standard_normal(37)))
    y = np.empty(37, dtype=np.uint16)
    kernel = module_for("activation").get_function("activation_forward<__nv_bfloat16>")
    kernel((1,), (64,), (to_bf16_bits(x), y, np.int64(37), np.int64(0), np.int32(ops.ACTIVATIONS["silu"]),
                         np.float32(0)))
    expected, _ = act_reference(x, "silu")
    assert_close(from_bf16_bits(y), expected, dict(rtol=1e-2, atol=1e-2))


def test_activation_rejects_unknown_name_and_dtype():
    with pytest.raises(ValueError, match="unknown activation"):
        run(ops.activation_forward, np.zeros(4, np.float32), "swishy")
    with pytest.raises(TypeError, match="float64"):
        run(ops.activation_forward, np.zeros(4), "relu")


# ---- softmax family ----

def log_softmax_reference(x):
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("shape", [(11, 37), (2, 3, 600)], ids=["warp-per-row", "block-per-row"])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_forward_backward(rng, shape, log):
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    x.reshape(-1, shape[-1])[0, 3] = -np.inf  # a masked entry: probability 0, log-probability -inf
    dy = rng.standard_normal(shape).astype(np.float32)
    logp = log_softmax_reference(x)
    y = run(ops.softmax_forward, x, log=log)
    if log:
        finite = np.isfinite(logp)
        assert_close(y[finite], logp[finite])
        assert np.all(y[~finite] == -np.inf)
        expected = dy - np.exp(logp) * dy.sum(axis=-1, keepdims=True)
    else:
        p = np.exp(logp)
        assert_close(y, p)
        expected = p * (dy - (dy * p).sum(axis=-1, keepdims=True))
    dx = run(ops.softmax_backward, dy, y, log=log)
    assert_close(dx, expected, dict(rtol=1e-5, atol=1e-5))


def test_softmax_float16(rng):
    x = rng.standard_normal((5, 33)).astype(np.float16)
    p = np.exp(log_softmax_reference(x))
    y = run(ops.softmax_forward, x)
    assert y.dtype == np.float16
    assert_close(y, p, F16)
    dy = rng.standard_normal(x.shape).astype(np.float16)
    y64 = y.astype(np.float64)
    expected = y64 * (dy - (dy * y64).sum(axis=-1, keepdims=True))
    assert_close(run(ops.softmax_backward, dy, y), expected, F16)


def test_softmax_bfloat16(rng):
    x = from_bf16_bits(to_bf16_bits(rng.standard_normal((3, 40))))
    y = np.empty(x.shape, dtype=np.uint16)
    module_for("softmax").get_function("softmax_forward<__nv_bfloat16>")(
        (3,), (64,), (to_bf16_bits(x), y, np.int64(3), np.int32(40), np.int32(1)))
    assert_close(from_bf16_bits(y), log_softmax_reference(x), dict(rtol=1e-2, atol=2e-2))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_softmax_cross_entropy(rng, dtype):
    logits = (rng.standard_normal((6, 11)) * 3).astype(dtype)
    labels = np.array([0, 10, 3, 7, 12, -1])  # the last two are clipped to 10 and 0
    loss, dlogits = run(ops.softmax_cross_entropy, logits, labels)
    logp = log_softmax_reference(logits)
    clipped = np.clip(labels, 0, 10)
    rows = np.arange(6)
    expected_grad = np.exp(logp)
    expected_grad[rows, clipped] -= 1.0
    tol = F32 if dtype == np.float32 else F16
    assert_close(loss, -logp[rows, clipped], tol)
    assert_close(dlogits, expected_grad, tol)


def test_softmax_cross_entropy_mxnet_numbers():
    loss, _ = run(ops.softmax_cross_entropy, np.array([[0, 2], [1, 4]], np.float32), np.array([0, 1]))
    assert_close(loss, [2.12693, 0.04859], dict(rtol=1e-4, atol=1e-5))


# ---- dropout ----

def test_philox_known_answers():
    """Random123's known-answer vectors for philox4x32_10."""
    assert [int(v) for v in philox.philox4x32_10([0, 0, 0, 0], (0, 0))] == [
        0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert [int(v) for v in philox.philox4x32_10([0xFFFFFFFF] * 4, (0xFFFFFFFF, 0xFFFFFFFF))] == [
        0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    counter = [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344]
    assert [int(v) for v in philox.philox4x32_10(counter, (0xA4093822, 0x299F31D0))] == [
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("aligned", [True, False])
def test_dropout_mask_is_the_philox_stream(rng, dtype, aligned):
    n, p, seed, offset = 1001, 0.3, 0x1234_5678_9ABC, 7 << 32 | 5
    x = rng.standard_normal(n).astype(dtype)
    if not aligned:
        x = misaligned(x)
    y = run(ops.dropout_forward, x, p, seed, offset)
    keep = philox.dropout_mask(n, p, seed, offset)
    scale = 1.0 / (1.0 - p)
    tol = F32 if dtype == np.float32 else F16
    assert_close(y, np.where(keep, x.astype(np.float64) * scale, 0.0), tol)
    assert np.array_equal(y != 0, keep & (x != 0))
    dy = rng.standard_normal(n).astype(dtype)
    assert_close(run(ops.dropout_backward, dy, p, seed, offset), np.where(keep, dy * scale, 0.0), tol)
    assert 0.25 < 1 - keep.mean() < 0.35


def test_dropout_offset_changes_the_mask_and_p0_keeps_all(rng):
    x = np.ones((8, 9), np.float32)
    first = run(ops.dropout_forward, x, 0.5, 42, 0)
    assert set(np.unique(first)) <= {0.0, 2.0}
    assert not np.array_equal(first, run(ops.dropout_forward, x, 0.5, 42, 1))
    assert np.array_equal(first, run(ops.dropout_forward, x, 0.5, 42, 0))
    assert np.array_equal(run(ops.dropout_forward, x, 0.0, 42, 0), x)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        run(ops.dropout_forward, x, 1.0, 42, 0)


# ---- batch norm and layer norm ----

def batch_norm_reference(x, gamma, beta, eps):
    x = x.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    xhat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return xhat * gamma.reshape(shape) + beta.reshape(shape), mean, var, xhat


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (10, 7), (3, 2, 41, 40)], ids=["nchw", "dense", "split"])
def test_batch_norm_training(rng, shape):
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    channels = shape[1]
    gamma, beta = rng.standard_normal(channels).astype(np.float32), rng.standard_normal(channels).astype(np.float32)
    running_mean, running_var = np.zeros(channels, np.float32), np.ones(channels, np.float32)
    eps = 1e-5
    y, mean, inv_std = run(ops.batch_norm_forward, x, gamma, beta, running_mean, running_var, eps=eps, momentum=0.9)
    expected_y, expected_mean, expected_var, xhat = batch_norm_reference(x, gamma, beta, eps)
    assert_close(y, expected_y, dict(rtol=1e-5, atol=1e-5))
    assert_close(mean, expected_mean, dict(rtol=1e-5, atol=1e-6))
    assert_close(inv_std, 1 / np.sqrt(expected_var + eps))
    assert_close(running_mean, 0.1 * expected_mean, dict(rtol=1e-5, atol=1e-6))
    assert_close(running_var, 0.9 + 0.1 * expected_var)

    dy = rng.standard_normal(shape).astype(np.float32)
    dx, dgamma, dbeta = run(ops.batch_norm_backward, dy, x, mean, inv_std, gamma)
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    count = x.size // channels
    exp_dbeta, exp_dgamma = dy.sum(axis=axes), (dy * xhat).sum(axis=axes)
    exp_dx = (gamma / np.sqrt(expected_var + eps)).reshape(bshape) * (
        dy - exp_dbeta.reshape(bshape) / count - xhat * exp_dgamma.reshape(bshape) / count)
    assert_close(dbeta, exp_dbeta, dict(rtol=1e-5, atol=1e-5))
    assert_close(dgamma, exp_dgamma, dict(rtol=1e-5, atol=1e-5))
    assert_close(dx, exp_dx, dict(rtol=1e-4, atol=1e-5))


def test_batch_norm_inference_and_global_stats_backward(rng):
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    running_mean = rng.standard_normal(4).astype(np.float32)
    running_var = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    gamma = rng.standard_normal(4).astype(np.float32)
    y, _, inv_std = run(ops.batch_norm_forward, x, gamma, None, running_mean, running_var, eps=1e-3, training=False)
    scale = (gamma / np.sqrt(running_var.astype(np.float64) + 1e-3)).reshape(1, -1, 1, 1)
    assert_close(y, (x - running_mean.reshape(1, -1, 1, 1)) * scale, dict(rtol=1e-5, atol=1e-5))
    dy = rng.standard_normal(x.shape).astype(np.float32)
    dx, _, dbeta = run(ops.batch_norm_backward, dy, x, running_mean, inv_std, gamma, use_global_stats=True)
    assert_close(dx, dy * scale, dict(rtol=1e-5, atol=1e-6))
    assert_close(dbeta, dy.sum(axis=(0, 2, 3)), dict(rtol=1e-5, atol=1e-5))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", [(6, 50), (2, 3, 129)])
def test_layer_norm(rng, dtype, shape):
    cols = shape[-1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    gamma, beta = rng.standard_normal(cols).astype(dtype), rng.standard_normal(cols).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    eps = 1e-5
    y, mean, inv_std = run(ops.layer_norm_forward, x, gamma, beta, eps=eps)
    x64, g64 = x.astype(np.float64), gamma.astype(np.float64)
    mu, var = x64.mean(axis=-1, keepdims=True), x64.var(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(var + eps)
    xhat = (x64 - mu) * rstd
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else F16
    assert_close(y, xhat * g64 + beta, tol)
    assert_close(mean, mu[..., 0], dict(rtol=1e-5, atol=1e-5))
    assert_close(inv_std, rstd[..., 0], dict(rtol=1e-5, atol=1e-6))
    dx, dgamma, dbeta = run(ops.layer_norm_backward, dy, x, gamma, mean, inv_std)
    g = dy * g64
    exp_dx = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-2, atol=1e-2)
    assert_close(dx, exp_dx, tol)
    assert_close(dgamma, (dy * xhat).reshape(-1, cols).sum(axis=0), tol)
    assert_close(dbeta, dy.astype(np.float64).reshape(-1, cols).sum(axis=0), tol)


# ---- fused optimizers ----

SIZES = [(7,), (300, 3), (0, 4), (5, 1, 2), (1,)]


def preprocess(grad, rescale, clip):
    g = rescale * grad.astype(np.float64)
    return g if clip is None else np.clip(g, -clip, clip)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_momentum_matches_mxnet(rng, momentum):
    weights = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
    moms = [rng.standard_normal(s).astype(np.float32) * 0.1 for s in SIZES] if momentum else None
    lrs, wd, rescale, clip = [0.1, 0.05, 0.7, 0.2, 0.3], 0.01, 0.5, 0.4
    expected_w, expected_m = [], []
    for i, (w, g) in enumerate(zip(weights, grads)):
        g64 = preprocess(g, rescale, clip) + wd * w
        if momentum:
            m = momentum * moms[i] - lrs[i] * g64  # MXNet's sign: the step added to w
            expected_m.append(m)
            expected_w.append(w + m)
        else:
            expected_w.append(w - lrs[i] * g64)
    run(ops.sgd_momentum_update, weights, grads, moms, lrs, momentum=momentum, wd=wd, rescale_grad=rescale,
        clip_gradient=clip, chunk_size=256)  # 900 elements: several chunks of one tensor
    for w, e in zip(weights, expected_w):
        assert_close(w, e)
    for m, e in zip(moms or [], expected_m):
        assert_close(m, e)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_and_adamw_match_mxnet(rng, decoupled):
    weights = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
    means = [rng.standard_normal(s).astype(np.float32) * 0.1 for s in SIZES]
    variances = [rng.uniform(0, 0.1, s).astype(np.float32) for s in SIZES]
    lr, t, eps, wd = 0.01, [1, 3, 4, 10, 2], 1e-8, 0.1
    b1, b2 = float(np.float32(0.9)), float(np.float32(0.999))  # the kernel's float32 betas, as MXNet's
    expected = []
    for i, (w, g) in enumerate(zip(weights, grads)):
        g64 = preprocess(g, 1.0, None) + (0 if decoupled else wd * w)
        m = b1 * means[i] + (1 - b1) * g64
        v = b2 * variances[i] + (1 - b2) * g64 * g64
        lr_t = lr * math.sqrt(1 - b2 ** t[i]) / (1 - b1 ** t[i])
        new_w = w - lr_t * m / (np.sqrt(v) + eps) - (lr * wd * w if decoupled else 0)
        expected.append((new_w, m, v))
    update = ops.adamw_update if decoupled else ops.adam_update
    run(update, weights, grads, means, variances, lr, t, beta1=b1, beta2=b2, epsilon=eps, wd=wd, chunk_size=512)
    for i, (new_w, m, v) in enumerate(expected):
        assert_close(means[i], m)
        assert_close(variances[i], v, dict(rtol=1e-5, atol=1e-9))
        assert_close(weights[i], new_w)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_weights_update_through_float32_masters(rng, dtype):
    masters = [rng.standard_normal(s).astype(np.float32) for s in SIZES[:2]]
    weights = [m.astype(dtype) for m in masters]
    grads = [rng.standard_normal(s).astype(dtype) for s in SIZES[:2]]
    moms = [np.zeros(s, np.float32) for s in SIZES[:2]]
    expected = [m - 0.1 * g.astype(np.float64) for m, g in zip(masters, grads)]
    run(ops.sgd_momentum_update, weights, grads, moms, 0.1, momentum=0.9, master_weights=masters)
    for w, m, e in zip(weights, masters, expected):
        assert_close(m, e)
        assert np.array_equal(w, m.astype(dtype))  # the 16-bit copy written in the same pass
    with pytest.raises(ValueError, match="master_weights"):
        run(ops.sgd_momentum_update, weights, grads, moms, 0.1, momentum=0.9)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_adamw_16_bit_weights_with_masters(rng, dtype):
    masters = [rng.standard_normal(s).astype(np.float32) for s in SIZES[:2]]
    weights = [m.astype(dtype) for m in masters]
    grads = [rng.standard_normal(s).astype(dtype) for s in SIZES[:2]]
    means = [np.zeros(s, np.float32) for s in SIZES[:2]]
    variances = [np.zeros(s, np.float32) for s in SIZES[:2]]
    b1, b2 = float(np.float32(0.9)), float(np.float32(0.999))
    expected = []
    for m, g in zip(masters, grads):
        g64 = g.astype(np.float64)
        mean, var = (1 - b1) * g64, (1 - b2) * g64 * g64
        lr_t = 0.01 * math.sqrt(1 - b2) / (1 - b1)
        expected.append(m - lr_t * mean / (np.sqrt(var) + 1e-8) - 0.01 * 0.1 * m)
    run(ops.adamw_update, weights, grads, means, variances, 0.01, 1, wd=0.1, master_weights=masters)
    for w, m, e in zip(weights, masters, expected):
        assert_close(m, e)
        assert np.array_equal(w, m.astype(dtype))


# ---- mixed precision: the overflow test ----

@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_multi_all_finite_finds_one_bad_value_in_any_tensor_and_dtype(rng, bad):
    arrays = [rng.standard_normal(1000).astype(np.float32),
              rng.standard_normal((7, 9)).astype(np.float16),
              np.zeros(0, np.float32),
              rng.standard_normal(300).astype("bfloat16")]
    assert run(ops.multi_all_finite, arrays, chunk_size=128).tolist() == [1]
    for which, position in [(0, 0), (0, 999), (0, 128), (1, (6, 8)), (3, 255)]:
        spoiled = [a.copy() for a in arrays]
        spoiled[which][position] = bad
        assert run(ops.multi_all_finite, spoiled, chunk_size=128).tolist() == [0], (which, position)
    assert run(ops.multi_all_finite, []).tolist() == [1]


def test_multi_all_finite_keeps_the_largest_finite_values(rng):
    arrays = [np.array([np.finfo(np.float16).max, -np.finfo(np.float16).max], np.float16),
              np.array([np.finfo(np.float32).max], np.float32),
              np.array([3.3895314e38], "bfloat16")]
    assert run(ops.multi_all_finite, arrays).tolist() == [1]


def test_multi_all_finite_rejects_other_dtypes_and_layouts():
    with pytest.raises(TypeError, match="float64"):
        run(ops.multi_all_finite, [np.zeros(3)])
    with pytest.raises(TypeError, match="C-contiguous"):
        run(ops.multi_all_finite, [np.zeros((4, 4), np.float32)[:, 1]])


# ---- convolution and pooling ----

GEOMETRY = dict(kernel=(3, 2), stride=(2, 1), pad=(1, 1), dilate=(1, 2))


def im2col_reference(x, kernel, stride, pad, dilate):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, pad, dilate
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = padded[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
    return cols.reshape(n, c * kh * kw, oh * ow)


def test_im2col_and_convolution(rng):
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    cols = run(ops.im2col, x, **GEOMETRY)
    expected = im2col_reference(x, **GEOMETRY)
    assert_close(cols, expected)
    weight = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    y = np.matmul(weight.reshape(4, -1), cols)  # conv = im2col + matmul
    direct = np.einsum("ok,nkp->nop", weight.reshape(4, -1).astype(np.float64), expected)
    assert_close(y, direct, dict(rtol=1e-5, atol=1e-5))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16"])
def test_col2im_is_the_adjoint_of_im2col(rng, dtype):
    shape = (2, 3, 7, 6)
    cols_shape = im2col_reference(np.zeros(shape), **GEOMETRY).shape
    cols = rng.standard_normal(cols_shape).astype(dtype)
    dx = run(ops.col2im, cols, shape, **GEOMETRY)
    # dx[p] = sum of the column entries im2col copied p into: the transpose of im2col.
    expected = np.zeros(shape)
    basis = np.zeros(shape)
    for index in np.ndindex(*shape):
        basis[index] = 1.0
        expected[index] = (im2col_reference(basis, **GEOMETRY) * cols).sum()
        basis[index] = 0.0
    tol = {np.float32: F32, np.float16: dict(rtol=5e-3, atol=5e-3)}.get(dtype, BF16)
    assert_close(dx, expected, tol)
    if dtype != np.float32:  # a copy: exact in any dtype
        np.testing.assert_array_equal(run(ops.im2col, dx, **GEOMETRY),
                                      im2col_reference(dx.astype(np.float64), **GEOMETRY).astype(dtype))


def pool_windows(x, kernel, stride, pad, fill):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    padded = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    windows = np.empty((n, c, oh, ow, kh, kw))
    for i in range(oh):
        for j in range(ow):
            windows[:, :, i, j] = padded[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
    return windows


POOL_TOL = {np.float32: F32, np.float16: F16, "bfloat16": BF16}


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16"])
def test_max_pool(rng, dtype):
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    kernel, stride, pad = (3, 3), (2, 2), (1, 1)
    y, argmax = run(ops.max_pool2d_forward, x, kernel, stride, pad)
    windows = pool_windows(x.astype(np.float64), kernel, stride, pad, -np.inf)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y.astype(np.float64), windows.max(axis=(-2, -1)))  # a pick: exact
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = run(ops.max_pool2d_backward, dy, argmax, x.shape)
    assert dx.dtype == x.dtype
    expected = np.zeros(x.shape)
    planes = x.reshape(6, -1)
    for plane, out in np.ndindex(6, y.shape[2] * y.shape[3]):
        at = argmax.reshape(6, -1)[plane, out]
        assert planes[plane, at] == y.reshape(6, -1)[plane, out]
        expected.reshape(6, -1)[plane, at] += dy.reshape(6, -1)[plane, out]
    assert_close(dx, expected, POOL_TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16"])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool(rng, count_include_pad, dtype):
    x = rng.standard_normal((2, 2, 7, 6)).astype(dtype)
    kernel, stride, pad = (3, 2), (2, 2), (1, 1)
    y = run(ops.avg_pool2d_forward, x, kernel, stride, pad, count_include_pad=count_include_pad)
    windows = pool_windows(x.astype(np.float64), kernel, stride, pad, 0.0)
    valid = pool_windows(np.ones(x.shape), kernel, stride, pad, 0.0)
    # Windows never reach past the padded input here, so including padding counts the full window.
    counts = np.full(y.shape, 6.0) if count_include_pad else valid.sum(axis=(-2, -1))
    assert y.dtype == x.dtype
    assert_close(y, windows.sum(axis=(-2, -1)) / counts, POOL_TOL[dtype])
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = run(ops.avg_pool2d_backward, dy, x.shape, kernel, stride, pad, count_include_pad=count_include_pad)
    assert dx.dtype == x.dtype
    # The adjoint: <avg_pool(x), dy> = <x, dx> for every x, so check against basis vectors.
    expected = np.zeros(x.shape)
    basis = np.zeros(x.shape)
    for index in np.ndindex(*x.shape):
        basis[index] = 1.0
        expected[index] = (pool_windows(basis, kernel, stride, pad, 0.0).sum(axis=(-2, -1)) / counts
                           * dy.astype(np.float64)).sum()
        basis[index] = 0.0
    assert_close(dx, expected, POOL_TOL[dtype])


# ---- embedding and pick ----

@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16"])
def test_embedding_backward_accumulates_repeated_rows(rng, dtype):
    indices = np.array([[1, 4, 1], [0, 4, 9]], dtype=np.float32)  # 9 is clipped to row 5
    dy = rng.standard_normal((2, 3, 10)).astype(dtype)
    dweight = run(ops.embedding_backward, indices, dy, 6)
    expected = np.zeros((6, 10))
    np.add.at(expected, np.clip(indices.astype(int), 0, 5).reshape(-1), dy.reshape(-1, 10).astype(np.float64))
    assert dweight.dtype == dtype
    assert_close(dweight, expected, {np.float32: F32, np.float16: F16}.get(dtype, BF16))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16"])
@pytest.mark.parametrize("mode", ["clip", "wrap"])
def test_pick_backward(rng, mode, dtype):
    x_shape = (3, 5, 4)
    index = rng.integers(-7, 12, size=(3, 4))
    dy = rng.standard_normal((3, 4)).astype(dtype)
    dx = run(ops.pick_backward, index, dy, x_shape, axis=1, mode=mode)
    picked = np.clip(index, 0, 4) if mode == "clip" else np.mod(index, 5)
    expected = np.zeros(x_shape)
    for o, i in np.ndindex(3, 4):
        expected[o, picked[o, i], i] = dy[o, i]
    assert_close(dx, expected)


# ---- the GPU parity script, on the CPU executor ----

def test_kernel_parity_script_passes_on_the_cpu_executor(tmp_path):
    if not _usable:
        pytest.skip(f"CPU CUDA executor unavailable: {_why}")
    from bench import kernel_parity

    output = tmp_path / "parity.md"
    assert kernel_parity.main(["--cpu-sim", "--output", str(output)]) == 0
    table = [line for line in output.read_text().splitlines() if line.startswith("| ") and "---" not in line]
    assert len(table) == 1 + len(kernel_parity.make_cases("cpu"))
    assert all("| ok |" in row for row in table[1:])


# ---- generated elementwise kernels (mxlite.cuda.elementwise) ----

ELEMENTWISE_REFERENCES = {
    "logaddexp": lambda g, a, b, y: (g * np.exp(a - y), g * np.exp(b - y)),
    "logaddexp2": lambda g, a, b, y: (g * np.exp2(a - y), g * np.exp2(b - y)),
    "hypot": lambda g, a, b, y: (g * a / y, g * b / y),
    "arctan2": lambda g, a, b, y: (g * b / (a * a + b * b), -g * a / (a * a + b * b)),
}
ELEMENTWISE_FORWARD = {"logaddexp": np.logaddexp, "logaddexp2": np.logaddexp2, "hypot": np.hypot,
                       "arctan2": np.arctan2}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_REFERENCES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shapes", [((4, 5), (4, 5)), ((4, 1), (1, 5)), ((), (3,)), ((2, 3, 4), (4,))],
                         ids=["same", "outer", "scalar", "row"])
def test_elementwise_backward_kernels(rng, name, dtype, shapes):
    a, b = (np.asarray(rng.standard_normal(s) + 0.5).astype(dtype) for s in shapes)
    y = ELEMENTWISE_FORWARD[name](a, b).astype(dtype)
    g = rng.standard_normal(y.shape).astype(dtype)
    declaration = elementwise.declared(name)
    args = (g, a, b, y) if declaration.reads_out else (g, a, b)
    got = run(declaration.backward, *args)
    want = ELEMENTWISE_REFERENCES[name](*(v.astype(np.float64) for v in (g, a, b, y)))
    tol = {np.float32: F32, np.float64: dict(rtol=1e-12, atol=1e-12), np.float16: F16}[dtype]
    for got_one, want_one in zip(got, want):
        assert got_one.dtype == dtype and got_one.shape == y.shape
        assert_close(got_one, want_one, tol)


def test_elementwise_kernels_read_strided_inputs_in_place(rng):
    """A transposed (non-contiguous) input goes through the strided kernel, not a copy."""
    a = rng.standard_normal((5, 3)).astype(np.float32).T
    b = rng.standard_normal((3, 5)).astype(np.float32)
    g = rng.standard_normal((3, 5)).astype(np.float32)
    y = np.hypot(a, b)
    g1, g2 = run(elementwise.declared("hypot").backward, g, a, b, y)
    assert_close(g1, g * a / y)
    assert_close(g2, g * b / y)


def test_elementwise_launcher_rejects_mixed_dtypes():
    x = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="one dtype"):
        run(elementwise.declared("arctan2").backward, x, x, x.astype(np.float64))


def test_elementwise_declarations_are_checked():
    with pytest.raises(ValueError, match="already has elementwise kernels"):
        elementwise.declare("hypot", ("x1", "x2"), backward="g1 = g; g2 = g;")
    with pytest.raises(KeyError, match="no elementwise kernels are declared for 'nope'"):
        elementwise.declared("nope")
