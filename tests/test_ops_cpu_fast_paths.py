"""The CPU formulations chosen by measurement (bench/README.md, "CPU speed: what was tried")
compute what the plain formulas do: thin GEMMs in chunks, small-batch matmul gradients
turned round, ReLU against a zero-filled array. Each is checked against a float64 reference
on shapes that take the fast path, and against the plain path's semantics at the edges."""
import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite.autograd import engine
from mxlite.ops import conv, matmul_transposed
from mxlite.test_utils import check_gradient

mnp, npx = mx.np, mx.npx
RNG = np.random.default_rng(11)


def _f64(host):
    return mnp.array(host, dtype="float64")


@pytest.mark.parametrize("m,k,n,side", [(6, 25, 8192, "columns"), (25, 8192, 6, "inner"),
                                        (16, 27, 4096, "columns")])
def test_thin_matmul_equals_one_product(m, k, n, side):
    a, b = RNG.standard_normal((m, k)), RNG.standard_normal((k, n))
    assert conv._thin_chunks(m, k, n)[0] == side  # the chunked path runs, on that side
    assert conv._thin_chunks(16, 150, 6400) is None  # a product that is not thin
    np.testing.assert_allclose(conv._thin_matmul(np, a, b), a @ b, rtol=1e-12, atol=1e-10)
    f32 = conv._thin_matmul(np, a.astype(np.float32), b.astype(np.float32))
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, a @ b, rtol=2e-4, atol=2e-3)


def test_thin_convolution_forward_and_gradients():
    """A first layer's shape (one input channel, 6 filters) over 8192 output positions:
    forward, weight gradient and data gradient all go through chunked products."""
    from numpy.lib.stride_tricks import sliding_window_view
    x, w, b = (RNG.standard_normal((8, 1, 32, 32)), RNG.standard_normal((6, 1, 5, 5)),
               RNG.standard_normal(6))
    data, weight = _f64(x), _f64(w)
    data.attach_grad()
    weight.attach_grad()
    with mx.autograd.record():
        got = npx.convolution(data, weight, _f64(b), kernel=(5, 5), pad=(2, 2), num_filter=6)
    head = RNG.standard_normal(got.shape)
    got.backward(_f64(head))
    win = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))), (5, 5), axis=(2, 3))
    want = np.einsum("nchwij,fcij->nfhw", win, w) + b[None, :, None, None]
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(weight.grad.asnumpy(), np.einsum("nchwij,nfhw->fcij", win, head),
                               rtol=1e-10)
    # the data gradient is the adjoint: <grad, dx> = <head, conv(dx)> for any dx
    dx = RNG.standard_normal(x.shape)
    conv_dx = npx.convolution(_f64(dx), weight, kernel=(5, 5), pad=(2, 2), no_bias=True)
    np.testing.assert_allclose((data.grad.asnumpy() * dx).sum(),
                               (head * conv_dx.asnumpy()).sum(), rtol=1e-10)
    small = (RNG.standard_normal((2, 1, 8, 8)), RNG.standard_normal((6, 1, 5, 5)))
    check_gradient(lambda a, k: npx.convolution(a, k, kernel=(5, 5), pad=(2, 2), no_bias=True),
                   *small)


@pytest.mark.parametrize("shape_a,shape_b", [((32, 128), (128, 512)), ((16, 40), (40, 300)),
                                             ((3, 20, 12), (12, 50))])
def test_matmul_gradients_on_turned_and_batched_products(shape_a, shape_b):
    a, b = RNG.standard_normal(shape_a), RNG.standard_normal(shape_b)
    x, w = _f64(a), _f64(b)
    x.attach_grad()
    w.attach_grad()
    head = RNG.standard_normal(shape_a[:-1] + shape_b[-1:])
    with mx.autograd.record():
        y = mnp.matmul(x, w)
    y.backward(_f64(head))
    np.testing.assert_allclose(x.grad.asnumpy(), head @ b.T, rtol=1e-12, atol=1e-12)
    flat_a = a.reshape(-1, a.shape[-1])
    np.testing.assert_allclose(w.grad.asnumpy(), flat_a.T @ head.reshape(-1, b.shape[-1]),
                               rtol=1e-12, atol=1e-12)
    assert x.grad.asnumpy().flags.c_contiguous


def test_matmul_transposed_equals_a_times_b_transposed():
    g, w = RNG.standard_normal((32, 64)), RNG.standard_normal((128, 64))
    turned = matmul_transposed(np, g, w)
    assert turned.flags.c_contiguous
    np.testing.assert_allclose(turned, g @ w.T, rtol=1e-12)
    big = RNG.standard_normal((256, 64))
    np.testing.assert_allclose(matmul_transposed(np, big, w), big @ w.T, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_keeps_positive_zero_and_nan_as_maximum_does(dtype):
    x = mnp.array([-3.0, -0.0, 0.0, 2.5, np.nan], dtype=dtype)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.relu(x)
    y.backward(mnp.ones(5, dtype=dtype))
    got = y.asnumpy()
    np.testing.assert_array_equal(got[:4], [0.0, 0.0, 0.0, 2.5])
    assert not np.signbit(got[:3]).any()  # max(x, 0) gives +0, as numpy's maximum does
    assert np.isnan(got[4])
    np.testing.assert_array_equal(x.grad.asnumpy(), [0, 0, 0, 1, 0])  # x > 0 ? g : 0
    act = npx.activation(mnp.array([-1.0, 1.0], dtype=dtype), act_type="relu").asnumpy()
    np.testing.assert_array_equal(act, [0.0, 1.0])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_sigmoid_is_correctly_rounded_and_saturates_quietly(dtype):
    host = np.concatenate([RNG.standard_normal(50) * 6, [-80.0, 80.0, 0.0, -0.0, -1e4]])
    x = mnp.array(host, dtype=dtype)
    x.attach_grad()
    g = RNG.standard_normal(host.shape).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exp(-x) overflowing to inf is the intended limit
        with mx.autograd.record():
            y = npx.sigmoid(x)
    y.backward(mnp.array(g))
    h = host.astype(dtype).astype(np.float64)
    want = (1 / (1 + np.exp(-h))).astype(dtype)  # correctly rounded, tiny outputs included
    np.testing.assert_allclose(y.asnumpy(), want, rtol=2 * np.finfo(dtype).eps, atol=0)
    assert y.asnumpy()[-1] == 0 and y.asnumpy()[-4] == 1
    out = y.asnumpy()  # the backward is y * (1 - y) of the rounded forward
    np.testing.assert_allclose(x.grad.asnumpy(), g * out * (1 - out),
                               rtol=2e-3 if dtype == "float16" else 1e-6)
    assert npx.sigmoid(mnp.array(0.0)).item() == 0.5
    check_gradient(npx.sigmoid, RNG.standard_normal((3, 4)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32"])
def test_mean_is_numpys_mean_exactly(dtype):
    """mean's forward skips ndarray.mean's Python layer for float32/64 (a sum, then one
    division, as numpy does); results, types and dtypes are numpy's, bit for bit."""
    from mxlite.ops.reduce import _mean
    x = (RNG.standard_normal((7, 33, 5)) * 10).astype(dtype)
    for axis in (None, 0, 1, (0, 2), -1):
        for keepdims in (False, True):
            got = _mean.forward_impls[0](np, x, axis=axis, keepdims=keepdims)
            want = x.mean(axis=axis, keepdims=keepdims)
            assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
            np.testing.assert_array_equal(got, want)
    a = mnp.array(x.astype("float64"), dtype="float64")
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.mean(a)
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), np.full(x.shape, 1 / x.size))


@pytest.mark.parametrize("steps,rows,flushes", [(3, 4, 1), (40, 32, 3), (1, 0, 1)])
def test_weight_gradient_products_summed_in_one_gemm(steps, rows, flushes, monkeypatch):
    """A weight used twice per step gets sum(a_t.T @ g_t): kept as factors and multiplied out
    over the stacked rows, early each time 1024 rows are pending (40 steps of 32 rows, two
    products each: 2560 rows, so two early flushes and the last), whatever order the
    elementwise use of the same weight joins the sum in."""
    calls = []
    flush = engine._ProductSum._flush
    monkeypatch.setattr(engine._ProductSum, "_flush",
                        lambda self: (calls.append(self.rows), flush(self))[1])

    def unrolled(x, w):
        h = mnp.zeros((rows, 5), dtype="float64")
        for t in range(steps):
            h = mnp.tanh(mnp.matmul(x[t], w) + mnp.matmul(h, w))
        return h * h + (w * w).sum()

    rng = np.random.default_rng(5)  # a contracting recurrence: central differences stay exact
    check_gradient(unrolled, rng.standard_normal((steps, rows, 5)),
                   0.3 * rng.standard_normal((5, 5)))
    assert len(calls) == flushes
