"""MXNet 2.x's keyword rules, dtypes and edge cases in mx.np, as its operator tests expect
(errors MXNet raises as MXNetError are MXNetError here too, and still numpy's type)."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.base import MXNetError
from mxlite.test_utils import check_gradient


@pytest.mark.parametrize("func, args", [(mx.np.exp, 1), (mx.np.bitwise_not, 1),
                                        (mx.np.add, 2), (mx.np.arctan2, 2)])
def test_ufunc_keywords_follow_mxnet(func, args):
    x = mx.np.ones((2, 3), dtype="int32" if func is mx.np.bitwise_not else "float32")
    operands = (x,) * args
    expected = func(*operands).asnumpy()
    defaults = dict(where=True, casting="same_kind", order="K", dtype=None, subok=True)
    np.testing.assert_array_equal(func(*operands, **defaults).asnumpy(), expected)
    for kwargs in (dict(where=False), dict(subok=False), dict(dtype=np.int8),
                   dict(casting="safe"), dict(order="C"), dict(order="mxnet")):
        with pytest.raises(NotImplementedError, match=next(iter(kwargs))):
            func(*operands, **kwargs)
    for kwargs in (dict(dtype="abcdefg"), dict(casting="mxnet"), dict(axis=0)):
        with pytest.raises(TypeError):
            func(*operands, **kwargs)


def test_ufunc_out_is_written_and_returned():
    x = mx.np.array([1.0, 4.0])
    out = mx.np.zeros(2)
    assert mx.np.sqrt(x, out=out) is out and out.tolist() == [1.0, 2.0]
    assert mx.np.add(x, x, out=out, where=True) is out and out.tolist() == [2.0, 8.0]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_random_generators_draw_in_every_float_dtype(dtype):
    mx.np.random.seed(3)
    u = mx.np.random.uniform(-1.0, 1.0, size=(4000,), dtype=dtype)
    n = mx.np.random.normal(2.0, 0.5, size=(4000,), dtype=dtype)
    assert u.dtype == n.dtype == np.dtype(dtype)
    assert -1.0 <= float(u.min()) and float(u.max()) < 1.0  # half-open even after rounding
    assert abs(float(n.astype("float64").mean()) - 2.0) < 0.05
    assert mx.np.random.randn(2, 3, dtype=dtype).dtype == np.dtype(dtype)
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        mx.np.random.uniform(size=2, dtype="int32")


@pytest.mark.parametrize("shape, axis, raises", [
    ((), 0, False), ((), -1, False), ((), 1, True), ((5, 3), None, False),
    ((5, 3), -1, False), ((5, 3), 3, True), ((5, 0, 3), 0, False), ((5, 0, 3), -1, False),
    ((5, 0, 3), None, True), ((5, 0, 3), 1, True), ((3, 5, 7, 9, 11), -3, False)])
@pytest.mark.parametrize("name", ["argmin", "argmax"])
def test_argmin_argmax_workloads(shape, axis, raises, name):
    host = np.random.default_rng(0).uniform(0, 100, shape).astype(np.float32)
    a = mx.np.array(host)
    if raises:
        with pytest.raises(MXNetError):
            getattr(mx.np, name)(a, axis)
        return
    for keepdims in (False, True):
        got = getattr(mx.np, name)(a, axis=axis, keepdims=keepdims)
        want = getattr(np, name)(host, axis=axis, keepdims=keepdims)
        assert got.dtype == want.dtype == np.int64
        np.testing.assert_array_equal(got.asnumpy(), want)


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 2, 1)])
def test_max_min_of_zero_size_raise_mxnet_error(shape):
    for name in ("max", "min"):
        with pytest.raises(MXNetError, match="no elements"):
            getattr(mx.np.zeros(shape), name)()
        with pytest.raises(ValueError):  # still numpy's error type
            getattr(mx.np, name)(mx.np.zeros(shape))
    assert mx.np.zeros(()).max().ndim == 0
    assert mx.np.max(mx.np.zeros((2, 0)), axis=0).shape == (0,)


def test_bad_axes_are_numpy_axis_errors_and_mxnet_errors():
    x = mx.np.zeros((2, 3))
    for call in (lambda: mx.np.sum(x, axis=2), lambda: mx.np.transpose(x, (0, 2)),
                 lambda: mx.np.squeeze(x, axis=-3)):
        with pytest.raises(np.exceptions.AxisError):
            call()
        with pytest.raises(MXNetError):
            call()


def test_squeeze_with_negative_axes():
    x = mx.np.zeros((1, 3, 1, 2, 1))
    assert mx.np.squeeze(x, axis=-1).shape == (1, 3, 1, 2)
    assert mx.np.squeeze(x, axis=(-3, 0)).shape == (3, 2, 1)
    check_gradient(lambda v: mx.np.squeeze(v, axis=(-1, -3)), np.ones((1, 3, 1, 2, 1)))
    with pytest.raises(ValueError, match="size 2"):
        mx.np.squeeze(x, axis=-2)


@pytest.mark.parametrize("sa, sb", [((1,), (2,)), ((2, 1), (2,)), ((2,), (1, 2)),
                                    ((1, 2), (3, 1)), ((1,), ()), ((), (1,)), ((1, 1), ()),
                                    ((), (1, 1)), ((2, 2, 1), (3, 1, 2))])
def test_matmul_error_cases(sa, sb):
    a, b = mx.np.ones(sa), mx.np.ones(sb)
    with pytest.raises(MXNetError, match=r"matmul"):
        mx.np.matmul(a, b)
    with pytest.raises(ValueError):
        mx.np.matmul(a, b)


def test_dot_and_tensordot_errors_name_the_shapes():
    with pytest.raises(MXNetError, match=r"\(2, 3\) and \(2, 3\)"):
        mx.np.dot(mx.np.ones((2, 3)), mx.np.ones((2, 3)))
    with pytest.raises(MXNetError, match="tensordot"):
        mx.np.tensordot(mx.np.ones((2, 3)), mx.np.ones((2, 3)), axes=1)


def test_products_take_host_numpy_operands():
    h = np.arange(6, dtype=np.float32).reshape(2, 3)
    m = mx.np.array(h.T)
    m.attach_grad()
    with autograd.record():
        ys = [mx.np.tensordot(h, m, axes=1), mx.np.dot(h, m), mx.np.matmul(h, m),
              mx.np.inner(h, mx.np.swapaxes(m, 0, 1))]
        total = sum(y.sum() for y in ys)
    for y in ys:
        assert isinstance(y, mx.np.ndarray)
        np.testing.assert_allclose(y.asnumpy(), h @ h.T)
    total.backward()
    np.testing.assert_allclose(m.grad.asnumpy(), 4 * np.repeat(h.sum(0)[:, None], 2, 1))


@pytest.mark.parametrize("src, dst, full", [((5,), (3, 4, -2), (3, 4, 5)),
                                            ((5,), (0, -2), (0, 5)),
                                            ((1, 0), (2, -2, -2), (2, 1, 0)),
                                            ((3, 4), (1, 2, 3, -2), (1, 2, 3, 4)),
                                            ((3, 4), (1, 0, -2, 4), (1, 0, 3, 4))])
def test_broadcast_to_keeps_input_sizes_at_minus_two(src, dst, full):
    host = np.random.default_rng(1).standard_normal(src)
    res = mx.np.broadcast_to(mx.np.array(host), dst)
    np.testing.assert_allclose(res.asnumpy(), np.broadcast_to(host.astype(np.float32), full))
    check_gradient(lambda v: mx.np.broadcast_to(v, dst), host)


def test_broadcast_to_minus_two_needs_an_input_axis():
    with pytest.raises(ValueError, match="-2"):
        mx.np.broadcast_to(mx.np.ones(3), (-2, 4, 3))


def test_sort_and_argsort_take_mxnet_keywords():
    host = np.array([[3.0, 1.0, 2.0], [1.0, 1.0, 0.0]], dtype=np.float32)
    x = mx.np.array(host)
    np.testing.assert_array_equal(mx.np.argsort(x, axis=-1, descending=False, stable=True)
                                  .asnumpy(), np.argsort(host, kind="stable"))
    np.testing.assert_array_equal(mx.np.sort(x, axis=0, descending=True).asnumpy(),
                                  -np.sort(-host, axis=0))
    assert mx.np.argsort(x, descending=True).tolist() == [[0, 2, 1], [0, 1, 2]]
    distinct = np.random.default_rng(2).permutation(6).reshape(2, 3).astype(np.float64)
    check_gradient(lambda v: mx.np.sort(v, axis=None, descending=True), distinct)


def test_sort_method_returns_a_differentiable_copy_as_mxnet():
    host = np.array([[0.3, -1.0, 2.0], [5.0, 4.0, -3.0]])
    x = mx.np.array(host)
    assert x.sort(axis=0, descending=True).tolist() == (-np.sort(-host.astype(np.float32),
                                                                 axis=0)).tolist()
    assert x.tolist() == host.astype(np.float32).tolist()  # untouched
    check_gradient(lambda v: v.sort(descending=True), host)


def test_argsort_is_stable_by_default():
    ties = mx.np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0] * 20)
    order = mx.np.argsort(ties).asnumpy()
    np.testing.assert_array_equal(order, np.argsort(ties.asnumpy(), kind="stable"))
    np.testing.assert_array_equal(mx.np.argsort(ties, descending=True).asnumpy()[:3], [0, 2, 4])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_random_parameters_may_be_arrays(dtype):
    low = mx.np.array([0.0, 10.0, 100.0])
    u = mx.np.random.uniform(low, low + 1, dtype=dtype)
    assert u.shape == (3,) and u.dtype == np.dtype(dtype)
    assert np.all((u.asnumpy() >= low.asnumpy()) & (u.asnumpy() < low.asnumpy() + 1))
    n = mx.np.random.normal(mx.np.array([[0.0], [50.0]]), 0.1, size=(2, 500), dtype=dtype)
    assert n.shape == (2, 500)
    np.testing.assert_allclose(n.astype("float64").mean(axis=1).asnumpy(), [0.0, 50.0],
                               atol=0.1)
