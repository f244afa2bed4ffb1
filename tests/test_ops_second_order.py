"""Second-order gradients (``create_graph=True``): the gradient of |df/dx|^2 against
central differences of the first-order gradient."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.test_utils import central_difference

mnp, npx = mx.np, mx.npx


def _first_grad(fn, host, device):
    x = mnp.array(host, dtype="float64", device=device)
    x.attach_grad()
    with mx.autograd.record():
        y = mnp.sum(fn(x))
    y.backward()
    return x.grad.asnumpy()


def _check_second_order(fn, host, device, eps=1e-6, rtol=1e-5, atol=1e-7):
    x = mnp.array(host, dtype="float64", device=device)
    x.attach_grad()
    with mx.autograd.record():
        (gx,) = mx.autograd.grad(mnp.sum(fn(x)), [x], create_graph=True)
        penalty = mnp.sum(gx * gx)
    penalty.backward()
    numeric = central_difference(lambda h: (_first_grad(fn, h, device) ** 2).sum(), host, eps)
    np.testing.assert_allclose(x.grad.asnumpy(), numeric, rtol=rtol, atol=atol)


MASK = np.array([[True, False, True], [True, True, False]])
CASES = [
    ("prod", lambda a: mnp.prod(a, axis=1)),
    ("var", lambda a: mnp.var(a, axis=0)), ("std", lambda a: mnp.std(a)),
    ("cumsum", lambda a: mnp.cumsum(a, axis=1) ** 2),
    ("norm", lambda a: mnp.linalg.norm(a, axis=1) ** 3),
    ("logsumexp", lambda a: npx.logsumexp(a, axis=1) ** 2),
    ("softmax", lambda a: npx.softmax(a) ** 2),
    ("log_softmax", lambda a: npx.log_softmax(a, axis=0) ** 2),
    ("masked_softmax", lambda a: npx.masked_softmax(a, mnp.array(MASK, device=a.device)) ** 2),
    ("sigmoid", lambda a: npx.sigmoid(a) ** 2),
    ("mish", lambda a: npx.activation(a, act_type="mish")),
    ("softsign", lambda a: npx.activation(a, act_type="softsign") ** 2),
    ("gelu", lambda a: npx.gelu(a)), ("gelu_tanh", lambda a: npx.gelu(a, "tanh")),
    ("elu", lambda a: npx.leaky_relu(a, act_type="elu", slope=0.5) ** 2),
    ("erf", lambda a: npx.erf(a) ** 2), ("gammaln", lambda a: npx.gammaln(a + 3)),
    ("hypot", lambda a: mnp.hypot(a, 1.5)), ("arctan2", lambda a: mnp.arctan2(a, 2.0)),
    ("tanh", lambda a: mnp.tanh(a) ** 2), ("sort", lambda a: mnp.sort(a, axis=1) ** 3),
    ("take", lambda a: mnp.take(a, [0, 0, 2], axis=1) ** 3),
    ("pad", lambda a: mnp.pad(a, 1, mode="reflect") ** 3),
    ("cholesky", lambda a: mnp.linalg.cholesky(mnp.matmul(a.T, a) + mnp.eye(
        3, dtype="float64", device=a.device))),
    ("det", lambda a: mnp.linalg.det(a[:, :2])), ("solve", lambda a: mnp.linalg.solve(
        a[:, :2] + 2 * mnp.eye(2, dtype="float64", device=a.device), a[:, 2])),
    ("batch_dot", lambda a: npx.batch_dot(a.reshape(1, 2, 3), a.reshape(1, 3, 2)) ** 2),
    ("einsum_diag", lambda a: mnp.einsum("ii->i", a[:, :2]) ** 3),
]


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_second_order(name, fn, device):
    host = np.array([[0.3, -0.8, 1.1], [0.9, 0.4, -0.5]])
    _check_second_order(fn, host, device)


def test_second_order_batch_norm_training(device):
    gamma = mnp.array([1.5, 0.5, 1.0], dtype="float64", device=device)
    beta = mnp.zeros((3,), dtype="float64", device=device)

    def bn(a):
        with mx.autograd.train_mode():
            return npx.batch_norm(a, gamma, beta, None, None, fix_gamma=False) ** 3

    _check_second_order(bn, np.array([[0.3, -0.8, 1.1], [0.9, 0.4, -0.5],
                                      [0.1, 0.2, 0.7]]), device)
