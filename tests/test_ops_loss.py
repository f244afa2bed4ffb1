"""The fused softmax cross entropy op (mxlite.ops.loss): values, gradients against central
differences in float64 (several shapes, empty batch included), second order through the
generic formula, and SoftmaxCrossEntropyLoss giving what log_softmax and pick give."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.ops.loss import softmax_cross_entropy
from mxlite.test_utils import check_gradient


def reference(logits, labels):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    index = np.clip(labels.astype(np.int64), 0, logits.shape[-1] - 1)
    return -np.take_along_axis(log_p, index[..., None], axis=-1)[..., 0]


@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 6), (0, 4)])
def test_values_and_gradient(device, shape):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal(shape) * 2
    labels = rng.integers(0, shape[-1], shape[:-1])
    labels_nd = mx.np.array(labels, device=device)
    got = softmax_cross_entropy(mx.np.array(logits, dtype=np.float64, device=device), labels_nd)
    np.testing.assert_allclose(got.asnumpy(), reference(logits, labels), rtol=1e-12, atol=1e-12)
    check_gradient(lambda x: softmax_cross_entropy(x, labels_nd), logits, device=device)


def test_out_of_range_labels_are_clipped_as_pick_does():
    logits = np.array([[0.0, 2.0], [1.0, 4.0]])
    got = softmax_cross_entropy(mx.np.array(logits, dtype=np.float64), mx.np.array([-3, 9]))
    np.testing.assert_allclose(got.asnumpy(), reference(logits, np.array([0, 1])))


def test_second_order_uses_the_formula_from_the_inputs():
    rng = np.random.default_rng(4)
    logits = mx.np.array(rng.standard_normal((3, 4)), dtype=np.float64)
    labels = mx.np.array([0, 3, 1])
    logits.attach_grad()
    with autograd.record():
        loss = softmax_cross_entropy(logits, labels).sum()
        (grad,) = autograd.grad(loss, [logits], create_graph=True)
        curvature = (grad * grad).sum()
    curvature.backward()
    # d/dx sum((softmax - onehot)^2), by central differences
    x = logits.asnumpy()

    def f(v):
        e = np.exp(v - v.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        return ((p - np.eye(4)[[0, 3, 1]]) ** 2).sum()
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = 1e-6
        numeric[i] = (f(x + step) - f(x - step)) / 2e-6
    np.testing.assert_allclose(logits.grad.asnumpy(), numeric, rtol=1e-5, atol=1e-8)


def test_label_shape_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 3\).*\(3,\)"):
        softmax_cross_entropy(mx.np.zeros((4, 3)), mx.np.zeros(3))


@pytest.mark.parametrize("label_shape", [(6,), (6, 1)])
def test_gluon_loss_equals_log_softmax_and_pick(label_shape):
    rng = np.random.default_rng(5)
    pred = mx.np.array(rng.standard_normal((6, 5)), dtype=np.float64)
    label = mx.np.array(rng.integers(0, 5, label_shape).astype(np.float32))
    weight = mx.np.array(rng.uniform(size=(6, 1)), dtype=np.float64)
    pred.attach_grad()
    with autograd.record():
        fused = gluon.loss.SoftmaxCrossEntropyLoss()(pred, label, weight)
    fused.backward()
    fused_grad = pred.grad.asnumpy().copy()
    with autograd.record():
        log_p = mx.npx.log_softmax(pred)
        chained = (-mx.npx.pick(log_p, label.reshape(6), keepdims=True) * weight).mean(axis=1)
    chained.backward()
    assert fused.shape == (6,)
    np.testing.assert_allclose(fused.asnumpy(), chained.asnumpy(), rtol=1e-12)
    np.testing.assert_allclose(fused_grad, pred.grad.asnumpy(), rtol=1e-12, atol=1e-15)
