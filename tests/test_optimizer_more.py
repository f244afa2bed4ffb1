"""DCASGD, SGLD, LARS, Nadam, FTML and LANS: three steps against MXNet's formulas in numpy."""
import math

import numpy as np
import pytest

import mxlite as mx
from mxlite import optimizer as opt

RESCALE, WD, LR = 0.5, 0.01, 0.1


def _prep(g, w, wd=WD):
    return g * RESCALE + wd * w


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
        w_norm, g_norm = np.linalg.norm(w), np.linalg.norm(g * RESCALE)
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


CASES = [("dcasgd", {}, ref_dcasgd),
         ("dcasgd", {"momentum": 0.9}, lambda w, gs: ref_dcasgd(w, gs, momentum=0.9)),
         ("lars", {"momentum": 0.9}, ref_lars), ("nadam", {}, ref_nadam),
         ("ftml", {}, ref_ftml), ("lans", {}, ref_lans)]


@pytest.mark.parametrize("name,kwargs,reference", CASES,
                         ids=[c[0] + ("-momentum" if c[1] and c[0] == "dcasgd" else "")
                              for c in CASES])
def test_three_steps_match_formula(name, kwargs, reference, device):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    o = opt.create(name, learning_rate=LR, wd=WD, rescale_grad=RESCALE, **kwargs)
    weight = mx.np.array(w0, dtype="float64", device=device)
    state = o.create_state_multi_precision(0, weight)
    for g in grads:
        grad = mx.np.array(g, dtype="float64", device=device)
        o.update(0, weight, grad, state)
        np.testing.assert_array_equal(grad.asnumpy(), g)  # gradients are never modified
    np.testing.assert_allclose(weight.asnumpy(), reference(w0, grads), rtol=1e-9, atol=1e-12)


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
