"""Each optimizer's first three steps against MXNet's formulas written out in numpy."""
import math

import numpy as np
import pytest

import mxlite as mx
from mxlite import optimizer as opt

RESCALE, WD, LR = 0.5, 0.01, 0.1


def _prep(g, w, clip=None, wd=WD):
    g = g * RESCALE
    if clip is not None:
        g = np.clip(g, -clip, clip)
    return g + wd * w


def ref_sgd(w, grads, momentum=0.9):
    mom = np.zeros_like(w)
    for g in grads:
        g = _prep(g, w)
        mom = momentum * mom - LR * g
        w = w + mom
    return w


def ref_sgd_nesterov(w, grads, momentum=0.9):
    mom = np.zeros_like(w)
    for g in grads:
        g = _prep(g, w)
        mom = momentum * mom - LR * g
        w = w + momentum * mom - LR * g
    return w


def ref_adam(w, grads, b1=0.9, b2=0.999, eps=1e-8):
    m = v = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        g = _prep(g, w)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        lr_t = LR * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - lr_t * m / (np.sqrt(v) + eps)
    return w


def ref_adamw(w, grads, b1=0.9, b2=0.999, eps=1e-6):
    m = v = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        g = _prep(g, w, wd=0)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        lr_t = LR * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - lr_t * (m / (np.sqrt(v) + eps) + WD * w)
    return w


def ref_adamax(w, grads, b1=0.9, b2=0.999):
    m = u = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        g = _prep(g, w)
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g))
        w = w - LR / (1 - b1 ** t) * m / u
    return w


def ref_lamb(w, grads, b1=0.9, b2=0.999, eps=1e-6):
    m = v = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        g = _prep(g, w, wd=0)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps) + WD * w
        r1, r2 = np.linalg.norm(w), np.linalg.norm(step)
        w = w - LR * (r1 / r2) * step
    return w


def ref_rmsprop(w, grads, rho=0.9, eps=1e-8):
    var = np.zeros_like(w)
    for g in grads:
        g = _prep(g, w)
        var = rho * var + (1 - rho) * g * g
        w = w - LR * g / (np.sqrt(var) + eps)
    return w


def ref_rmsprop_centered(w, grads, rho=0.9, momentum=0.9, eps=1e-8):
    mean = var = mom = np.zeros_like(w)
    for g in grads:
        g = _prep(g, w)
        mean = rho * mean + (1 - rho) * g
        var = rho * var + (1 - rho) * g * g
        mom = momentum * mom - LR * g / np.sqrt(var - mean * mean + eps)
        w = w + mom
    return w


def ref_adagrad(w, grads, eps=1e-6):
    hist = np.zeros_like(w)
    for g in grads:
        g = _prep(g, w)
        hist = hist + g * g
        w = w - LR * g / (np.sqrt(hist) + eps)
    return w


def ref_adadelta(w, grads, rho=0.9, eps=1e-6):
    acc_g = acc_d = np.zeros_like(w)
    for g in grads:
        g = _prep(g, w)
        acc_g = rho * acc_g + (1 - rho) * g * g
        d = np.sqrt(acc_d + eps) / np.sqrt(acc_g + eps) * g
        acc_d = rho * acc_d + (1 - rho) * d * d
        w = w - LR * d
    return w


def ref_signum(w, grads, momentum=0.9):
    mom = np.zeros_like(w)
    for g in grads:
        g = _prep(g, w)
        mom = momentum * mom - (1 - momentum) * g
        w = w + LR * np.sign(mom)
    return w


def ref_signsgd(w, grads, wd_lh=0.001):
    for g in grads:
        w = (1 - LR * (WD + wd_lh)) * w - LR * np.sign(g)
    return w


def ref_ftrl(w, grads, lamda1=0.01, beta=1.0):
    z = n = np.zeros_like(w)
    for g in grads:
        g = _prep(g, w, wd=0)
        z = z + g - (np.sqrt(n + g * g) - np.sqrt(n)) * w / LR
        n = n + g * g
        w = (np.sign(z) * lamda1 - z) / ((beta + np.sqrt(n)) / LR + WD) * (np.abs(z) > lamda1)
    return w


def ref_dcasgd(w, grads, momentum=0.0, lamda=0.04):
    mom, prev = np.zeros_like(w), w.copy()
    for g in grads:
        g = _prep(g, w)
        d = g + lamda * g * g * (w - prev)
        mom = momentum * mom - LR * d
        prev = w.copy()
        w = w + mom
    return w


def ref_lars(w, grads, momentum=0.9, eta=0.001, eps=1e-8, name="weight"):
    mom = np.zeros_like(w)
    for g in grads:
        # MXNet takes both norms in float32
        w_norm = float(np.linalg.norm(w.astype(np.float32)))
        g_norm = float(np.linalg.norm(g.astype(np.float32) * RESCALE))
        lars = 1.0 if name.endswith("bias") else eta * w_norm / (g_norm + WD * w_norm + eps)
        g = _prep(g, w)
        mom = momentum * mom - LR * lars * g
        w = w + mom
    return w


def ref_nadam(w, grads, b1=0.9, b2=0.999, eps=1e-8, decay=0.004):
    m = v = np.zeros_like(w)
    schedule = 1.0
    for t, g in enumerate(grads, 1):
        g = _prep(g, w)
        mu, mu_next = (b1 * (1 - 0.5 * 0.96 ** (k * decay)) for k in (t, t + 1))
        schedule *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_bar = (1 - mu) * g / (1 - schedule) + mu_next * m / (1 - schedule * mu_next)
        w = w - LR * m_bar / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return w


def ref_ftml(w, grads, b1=0.6, b2=0.999, eps=1e-8):
    d = v = z = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        g = _prep(g, w)
        v = b2 * v + (1 - b2) * g * g
        d_new = (1 - b1 ** t) / LR * (np.sqrt(v / (1 - b2 ** t)) + eps)
        z = b1 * z + (1 - b1) * g - (d_new - b1 * d) * w
        d = d_new
        w = -z / d
    return w


def ref_lans(w, grads, b1=0.9, b2=0.999, eps=1e-6):
    m = v = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        g = g * RESCALE
        g = g / np.linalg.norm(g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        r1 = np.linalg.norm(w)
        denom = np.sqrt(v / (1 - b2 ** t)) + eps
        part = m / (1 - b1 ** t) / denom + WD * w
        w = w - LR * (r1 / np.linalg.norm(part)) * b1 * part
        part = g / denom + WD * w
        w = w - LR * (r1 / np.linalg.norm(part)) * (1 - b1) * part
    return w


CASES = [
    ("sgd", {"momentum": 0.9}, ref_sgd),
    ("sgd", {"momentum": 0.9, "nesterov": True}, ref_sgd_nesterov),
    ("nag", {"momentum": 0.9}, ref_sgd_nesterov),
    ("adam", {}, ref_adam),
    ("adamw", {}, ref_adamw),
    ("adamax", {}, ref_adamax),
    ("lamb", {}, ref_lamb),
    ("rmsprop", {}, ref_rmsprop),
    ("rmsprop", {"centered": True}, ref_rmsprop_centered),
    ("adagrad", {}, ref_adagrad),
    ("adadelta", {}, ref_adadelta),
    ("signum", {}, ref_signum),
    ("signum", {"momentum": 0.0, "wd_lh": 0.001}, ref_signsgd),
    ("ftrl", {}, ref_ftrl),
    ("dcasgd", {}, ref_dcasgd),
    ("dcasgd", {"momentum": 0.9}, lambda w, gs: ref_dcasgd(w, gs, momentum=0.9)),
    ("lars", {"momentum": 0.9}, ref_lars),
    ("nadam", {}, ref_nadam),
    ("ftml", {}, ref_ftml),
    ("lans", {}, ref_lans),
]


@pytest.mark.parametrize("name,kwargs,reference", CASES,
                         ids=[f"{c[0]}{'-' + '-'.join(c[1]) if c[1] else ''}" for c in CASES])
def test_three_steps_match_formula(name, kwargs, reference, device):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    o = opt.create(name, learning_rate=LR, wd=WD, rescale_grad=RESCALE, **kwargs)
    weight = mx.np.array(w0, dtype="float64", device=device)
    state = o.create_state_multi_precision(0, weight)
    for g in grads:
        grad = mx.np.array(g, dtype="float64", device=device)
        o.update(0, weight, grad, state)
        np.testing.assert_array_equal(grad.asnumpy(), g)  # gradients are never modified
    np.testing.assert_allclose(weight.asnumpy(), reference(w0, grads), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", [("sgd", {}), ("sgd", {"clip_gradient": 0.3}),
                                         ("sgd", {"nesterov": True}), ("nag", {})])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_momentum_state_has_mxnets_sign(name, kwargs, dtype, device):
    """The state is MXNet's ``mom = momentum*mom - lr*g`` (the step added to the weight), so
    states compare with MXNet's and move between it and mxlite."""
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    o = opt.create(name, learning_rate=LR, wd=WD, rescale_grad=RESCALE, momentum=0.9, **kwargs)
    weight = mx.np.array(w0, dtype=dtype, device=device)
    state = o.create_state_multi_precision(0, weight)
    w, mom = w0.copy(), np.zeros_like(w0)
    for g in grads:
        o.update(0, weight, mx.np.array(g, dtype=dtype, device=device), state)
        step = LR * _prep(g, w, kwargs.get("clip_gradient"))
        mom = 0.9 * mom - step
        w = w + (0.9 * mom - step if name == "nag" or kwargs.get("nesterov") else mom)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(state.asnumpy(), mom, rtol=tol, atol=tol)
    np.testing.assert_allclose(weight.asnumpy(), w, rtol=tol, atol=tol)


def test_plain_sgd_and_clipping():
    o = opt.SGD(learning_rate=0.5, clip_gradient=1.0)
    w = mx.np.array([1.0, 2.0])
    o.update(0, w, mx.np.array([4.0, -0.5]), o.create_state(0, w))
    np.testing.assert_allclose(w.asnumpy(), [0.5, 2.25])


def test_lr_mult_and_wd_mult_through_param_dict():
    param = mx.gluon.Parameter("weight", shape=(2,), lr_mult=0.5, wd_mult=0.0)
    o = opt.SGD(learning_rate=1.0, wd=1.0, param_dict={0: param})
    w = mx.np.array([1.0, 1.0])
    o.update(0, w, mx.np.array([1.0, 2.0]), None)
    np.testing.assert_allclose(w.asnumpy(), [0.5, 0.0])


def test_multi_precision_keeps_float32_master():
    o = opt.SGD(learning_rate=1e-4, multi_precision=True)
    w = mx.np.array([1.0, 1.0], dtype="float16")
    state = o.create_state_multi_precision(0, w)
    for _ in range(10):
        o.update(0, w, mx.np.array([1.0, 1.0], dtype="float16"), state)
    np.testing.assert_allclose(state[0].asnumpy(), [0.999, 0.999], rtol=1e-6)
    assert w.dtype == np.float16
    np.testing.assert_allclose(w.asnumpy(), np.float16(0.999), rtol=1e-3)


def test_registry_and_errors():
    assert isinstance(opt.create("Adam"), opt.Adam)
    with pytest.raises(ValueError, match="Cannot find optimizer"):
        opt.create("no-such-optimizer")
    sched = mx.lr_scheduler.FactorScheduler(step=1, factor=0.5)
    o = opt.SGD(learning_rate=1.0, lr_scheduler=sched)
    with pytest.raises(UserWarning, match="LRScheduler"):
        o.set_learning_rate(0.1)


def test_schedulers():
    s = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=1.0)
    assert [s(n) for n in (1, 2, 3, 5)] == [1.0, 1.0, 0.5, 0.25]
    s = mx.lr_scheduler.MultiFactorScheduler(step=[2, 4], factor=0.1, base_lr=1.0)
    np.testing.assert_allclose([s(n) for n in (1, 3, 5, 9)], [1.0, 0.1, 0.01, 0.01])
    s = mx.lr_scheduler.PolyScheduler(max_update=10, base_lr=1.0, pwr=2, final_lr=0.0)
    np.testing.assert_allclose([s(0), s(5), s(10), s(20)], [1.0, 0.25, 0.0, 0.0])
    s = mx.lr_scheduler.CosineScheduler(max_update=10, base_lr=1.0, warmup_steps=2,
                                        warmup_begin_lr=0.0)
    np.testing.assert_allclose([s(0), s(1), s(2), s(6), s(10)], [0.0, 0.5, 1.0, 0.5, 0.0],
                               atol=1e-12)
    o = opt.SGD(learning_rate=0.1, lr_scheduler=mx.lr_scheduler.FactorScheduler(step=1,
                                                                                factor=0.5))
    assert o.learning_rate == 0.1


def test_lars_leaves_bias_rates_alone():
    rng = np.random.default_rng(3)
    w0, grads = rng.standard_normal(4), [rng.standard_normal(4) for _ in range(2)]
    o = opt.LARS(learning_rate=LR, wd=WD, rescale_grad=RESCALE, momentum=0.9,
                 param_idx2name={0: "dense0.bias"})
    w = mx.np.array(w0, dtype="float64")
    state = o.create_state(0, w)
    for g in grads:
        o.update(0, w, mx.np.array(g, dtype="float64"), state)
    np.testing.assert_allclose(w.asnumpy(), ref_lars(w0, grads, name="bias"), rtol=1e-10)


def test_sgld_adds_seeded_gaussian_noise():
    w0, g = np.array([1.0, -2.0, 0.5], dtype=np.float32), np.array([0.2, 0.4, -1.0], np.float32)
    o = opt.SGLD(learning_rate=0.04)
    w = mx.np.array(w0)
    mx.random.seed(11)
    o.update(0, w, mx.np.array(g), None)
    mx.random.seed(11)
    noise = mx.np.random.normal(size=(3,), dtype="float32").asnumpy()
    np.testing.assert_allclose(w.asnumpy(), w0 - 0.02 * g + math.sqrt(0.04) * noise, rtol=1e-6)
    samples = mx.np.zeros((20000,))
    o.update(1, samples, mx.np.zeros((20000,)), None)
    assert abs(float(samples.std()) - 0.2) < 0.01  # N(0, sqrt(lr)) noise
