"""gluon.loss: MXNet's reference values, numpy references, gradients, stability."""
import itertools

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.gluon import loss as gloss
from mxlite.test_utils import check_gradient

RNG = np.random.default_rng(7)


def test_mxnet_reference_values():
    output = mx.np.array([1.0, 2.0, 3.0, 4.0])
    label = mx.np.array([1.0, 3.0, 5.0, 7.0])
    weighting = mx.np.array([0.5, 1.0, 0.5, 1.0])
    assert float(gloss.L2Loss()(output, label).sum()) == 7.0
    assert float(gloss.L2Loss(weight=0.25)(output, label).sum()) == 1.75
    assert float(gloss.L2Loss()(output, label, weighting).sum()) == 6.0
    assert float(gloss.L1Loss()(output, label).sum()) == 6.0
    ce = gloss.SoftmaxCrossEntropyLoss()(mx.np.array([[0.0, 2.0], [1.0, 4.0]]),
                                         mx.np.array([0, 1]))
    np.testing.assert_allclose(ce.asnumpy(), [2.12693, 0.04859], rtol=1e-4)
    assert gloss.SoftmaxCELoss is gloss.SoftmaxCrossEntropyLoss


def _softplus(x):
    return np.logaddexp(0, x)


def _log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


P = RNG.standard_normal((3, 4))
Y_SIGNED = np.sign(RNG.standard_normal((3, 4)))
Y_BINARY = (Y_SIGNED > 0).astype(np.float64)
Y_PROB = np.exp(_log_softmax(RNG.standard_normal((3, 4))))
SPARSE = np.array([0, 3, 2])

CASES = [
    ("l2", lambda: gloss.L2Loss(), (P, Y_PROB), lambda p, y: (0.5 * (p - y) ** 2).mean(1)),
    ("l1", lambda: gloss.L1Loss(), (P, Y_PROB), lambda p, y: np.abs(p - y).mean(1)),
    ("softmax_ce_dense", lambda: gloss.SoftmaxCrossEntropyLoss(sparse_label=False),
     (P, Y_PROB), lambda p, y: -(y * _log_softmax(p)).sum(1)),
    ("sigmoid_bce", lambda: gloss.SigmoidBinaryCrossEntropyLoss(), (P, Y_BINARY),
     lambda p, y: (_softplus(p) - p * y).mean(1)),
    ("kl_div", lambda: gloss.KLDivLoss(from_logits=False), (P, Y_PROB),
     lambda p, y: (y * (np.log(y + 1e-12) - _log_softmax(p))).mean(1)),
    ("huber", lambda: gloss.HuberLoss(rho=0.5), (P, Y_PROB),
     lambda p, y: np.where(np.abs(p - y) > 0.5, np.abs(p - y) - 0.25,
                           np.abs(p - y) ** 2).mean(1)),
    ("hinge", lambda: gloss.HingeLoss(), (P, Y_SIGNED),
     lambda p, y: np.maximum(0, 1 - p * y).mean(1)),
    ("squared_hinge", lambda: gloss.SquaredHingeLoss(), (P, Y_SIGNED),
     lambda p, y: (np.maximum(0, 1 - p * y) ** 2).mean(1)),
    ("logistic", lambda: gloss.LogisticLoss(), (P, Y_SIGNED),
     lambda p, y: _softplus(-p * y).mean(1)),
    ("logistic_binary", lambda: gloss.LogisticLoss(label_format="binary"), (P, Y_BINARY),
     lambda p, y: _softplus(-p * (2 * y - 1)).mean(1)),
    ("poisson", lambda: gloss.PoissonNLLLoss(), (P, Y_PROB * 3),
     lambda p, y: (np.exp(p) - y * p).mean()),
]


@pytest.mark.parametrize("name,make,inputs,reference", CASES, ids=[c[0] for c in CASES])
def test_loss_values_and_gradients(name, make, inputs, reference):
    pred, label = inputs
    loss_fn = make()
    got = loss_fn(mx.np.array(pred, dtype="float64"), mx.np.array(label, dtype="float64"))
    np.testing.assert_allclose(got.asnumpy(), reference(pred, label), rtol=1e-6, atol=1e-9)
    check_gradient(lambda p: loss_fn(p, mx.np.array(label, dtype="float64")), pred)


def test_sparse_softmax_ce_gradient_and_weights():
    fn = gloss.SoftmaxCrossEntropyLoss(weight=2.0)
    got = fn(mx.np.array(P), mx.np.array(SPARSE), mx.np.array([[1.0], [0.0], [0.5]]))
    expected = -2.0 * _log_softmax(P)[np.arange(3), SPARSE] * np.array([1.0, 0.0, 0.5])
    np.testing.assert_allclose(got.asnumpy(), expected, rtol=1e-5)
    check_gradient(lambda p: fn(p, mx.np.array(SPARSE)), P)


def test_losses_are_stable_for_large_logits():
    big = mx.np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    ce = gloss.SoftmaxCrossEntropyLoss()(big, mx.np.array([0, 0])).asnumpy()
    np.testing.assert_allclose(ce, [0.0, 2000.0])
    bce = gloss.SigmoidBCELoss()(big, mx.np.array([[1.0, 0.0], [1.0, 0.0]])).asnumpy()
    np.testing.assert_allclose(bce, [0.0, 1000.0])
    logistic = gloss.LogisticLoss()(big, mx.np.array([[1.0, -1.0], [1.0, -1.0]])).asnumpy()
    assert np.all(np.isfinite(logistic))
    big.attach_grad()
    with autograd.record():
        loss = gloss.SigmoidBCELoss()(big, mx.np.array([[1.0, 0.0], [1.0, 0.0]]))
    loss.backward()
    assert np.all(np.isfinite(big.grad.asnumpy()))


def test_bce_pos_weight_and_from_sigmoid():
    fn = gloss.SigmoidBinaryCrossEntropyLoss()
    pos_weight = mx.np.array([2.0, 1.0, 1.0, 1.0])
    got = fn(mx.np.array(P), mx.np.array(Y_BINARY), None, pos_weight).asnumpy()
    expected = (np.array([2.0, 1, 1, 1]) * Y_BINARY * _softplus(-P) +
                (1 - Y_BINARY) * _softplus(P)).mean(1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    prob = 1 / (1 + np.exp(-P))
    got = gloss.SigmoidBCELoss(from_sigmoid=True)(mx.np.array(prob), mx.np.array(Y_BINARY))
    np.testing.assert_allclose(got.asnumpy(), (_softplus(P) - P * Y_BINARY).mean(1), rtol=1e-4)


def test_cosine_embedding_loss():
    a, b = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    label = np.array([1.0, -1.0, -1.0])
    fn = gloss.CosineEmbeddingLoss(margin=-0.5)
    got = fn(mx.np.array(a, dtype="float64"), mx.np.array(b, dtype="float64"),
             mx.np.array(label))
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    expected = np.where(label == 1, 1 - cos, np.maximum(0, cos + 0.5))
    np.testing.assert_allclose(got.asnumpy(), expected, rtol=1e-6)
    check_gradient(lambda x: fn(x, mx.np.array(b, dtype="float64"), mx.np.array(label)), a)


def _ctc_brute_force(acts, label):
    t_max, c = acts.shape
    logp = _log_softmax(acts)
    total = -np.inf
    for path in itertools.product(range(c), repeat=t_max):
        collapsed, prev = [], None
        for k in path:
            if k != prev and k != c - 1:
                collapsed.append(k)
            prev = k
        if collapsed == list(label):
            total = np.logaddexp(total, sum(logp[t, k] for t, k in enumerate(path)))
    return -total


def test_ctc_loss_matches_brute_force_with_lengths():
    acts = RNG.standard_normal((3, 4, 3))  # N, T, C (blank is class 2)
    labels = np.array([[0, 1], [1, -1], [0, 0]])
    pred_lengths = np.array([4, 3, 4])
    fn = gloss.CTCLoss()
    got = fn(mx.np.array(acts, dtype="float64"), mx.np.array(labels),
             mx.np.array(pred_lengths, dtype="int64"))
    expected = [_ctc_brute_force(acts[0], [0, 1]), _ctc_brute_force(acts[1, :3], [1]),
                _ctc_brute_force(acts[2], [0, 0])]
    np.testing.assert_allclose(got.asnumpy(), expected, rtol=1e-8)
    check_gradient(lambda a: fn(a, mx.np.array(labels), mx.np.array(pred_lengths,
                                                                      dtype="int64")), acts)
    tnc = gloss.CTCLoss(layout="TNC")(mx.np.array(acts.transpose(1, 0, 2)), mx.np.array(labels))
    assert tnc.shape == (3,)
    with pytest.raises(ValueError, match="blank"):
        fn(mx.np.array(acts), mx.np.array([[2, 0], [0, 0], [0, 0]]))
