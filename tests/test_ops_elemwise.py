"""Elementwise ops beyond what every table row gets (tests/test_op_table.py): conventions at
ties, kinks and bounds, dtypes, scalar operands, the ops with parameters."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mxlite as mx
from mxlite.test_utils import check_gradient

mnp = mx.np
RNG = np.random.default_rng(7)

ZERO_GRAD = ["sign", "floor", "ceil", "rint", "trunc", "fix", "round", "around"]


@pytest.mark.parametrize("name", ZERO_GRAD)
def test_rounding_ops_have_zero_gradient(name, device):
    x = np.array([-2.5, -1.5, -0.4, 0.5, 1.5, 2.7])
    a = mnp.array(x, device=device)
    a.attach_grad()
    with mx.autograd.record():
        y = getattr(mnp, name)(a)
    y.backward()
    np.testing.assert_array_equal(y.asnumpy(), getattr(np, name)(x.astype(np.float32)))
    np.testing.assert_array_equal(a.grad.asnumpy(), np.zeros(6))


def test_round_is_half_to_even_with_decimals(device):
    x = mnp.array([0.5, 1.5, 2.5, -0.5, 1.25], device=device)
    np.testing.assert_array_equal(mnp.round(x).asnumpy(), [0, 2, 2, -0, 1])
    np.testing.assert_allclose(mnp.around(x, 1).asnumpy(), np.around(x.asnumpy(), 1))
    np.testing.assert_array_equal(mnp.rint(x).asnumpy(), [0, 2, 2, -0, 1])


def test_clip_gradient_passes_at_inclusive_bounds(device):
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    g = check_gradient(lambda a: mnp.clip(a, -1.5, 1.5), x, device=device)[0]
    np.testing.assert_array_equal(g != 0, [False, True, True, True, False])
    a = mnp.array(x, device=device)
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.clip(a, -1.0, 1.0)
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [0, 1, 1, 1, 0])


def test_nan_to_num_and_predicates(device):
    x = np.array([np.nan, np.inf, -np.inf, 1.5])
    a = mnp.array(x, dtype="float64", device=device)
    np.testing.assert_array_equal(mnp.nan_to_num(a, posinf=9.0).asnumpy(),
                                  np.nan_to_num(x, posinf=9.0))
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit"):
        np.testing.assert_array_equal(getattr(mnp, name)(a).asnumpy(), getattr(np, name)(x))
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.nan_to_num(a, posinf=1.0, neginf=-1.0) * 2
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [0, 0, 0, 2])


def test_maximum_tie_goes_to_first_operand(device):
    a = mnp.array([1.0, 2.0], device=device)
    b = mnp.array([1.0, 3.0], device=device)
    a.attach_grad()
    b.attach_grad()
    with mx.autograd.record():
        y = mnp.maximum(a, b) + mnp.minimum(a, b)
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [2, 1])
    np.testing.assert_array_equal(b.grad.asnumpy(), [0, 1])


def test_fmax_ignores_nan_and_routes_gradient(device):
    a = mnp.array([np.nan, 1.0, 4.0], device=device)
    b = mnp.array([2.0, np.nan, 3.0], device=device)
    a.attach_grad()
    b.attach_grad()
    with mx.autograd.record():
        y = mnp.fmax(a, b)
    y.backward()
    np.testing.assert_array_equal(y.asnumpy(), [2, 1, 4])
    np.testing.assert_array_equal(a.grad.asnumpy(), [0, 1, 1])
    np.testing.assert_array_equal(b.grad.asnumpy(), [1, 0, 0])


def test_ldexp_and_scalar_operands(device):
    x = np.array([0.5, -1.5, 2.0])
    e = np.array([1, 2, -1], dtype=np.int32)
    check_gradient(lambda a: mnp.ldexp(a, mnp.array(e, device=device)), x, device=device)
    check_gradient(lambda a: mnp.arctan2(1.5, a), x, device=device)
    check_gradient(lambda a: mnp.power(2.0, a) + mnp.power(a, 3), x, device=device)


def test_comparisons_and_logical_are_bool(device):
    a = np.array([[0.0, 1.0, 2.0]])
    b = np.array([[1.0], [0.0]])
    ma, mb = mnp.array(a, device=device), mnp.array(b, device=device)
    for name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
                 "logical_and", "logical_or", "logical_xor"):
        got = getattr(mnp, name)(ma, mb)
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got.asnumpy(), getattr(np, name)(a, b))
    np.testing.assert_array_equal(mnp.logical_not(ma).asnumpy(), np.logical_not(a))


def test_where_gradient_and_broadcast(device):
    cond = np.array([[True, False, True]])
    check_gradient(lambda x, y: mnp.where(mnp.array(cond, device=device), x, y),
                   RNG.standard_normal((2, 3)), RNG.standard_normal((3,)), device=device)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_dtype_is_kept(dtype, device):
    x = mnp.array([0.5, 1.5], dtype=dtype, device=device)
    for fn in (mnp.exp, mnp.log1p, mnp.arctan, mnp.cbrt, mnp.round):
        assert fn(x).dtype == np.dtype(dtype)
    assert (x * 2.0).dtype == np.dtype(dtype)
    assert mnp.hypot(x, 1.0).dtype == np.dtype(dtype)


def test_int_arrays_flow_through_nondifferentiable_ops(device):
    i = mnp.array(np.array([3, -1, 4]), device=device)
    assert mnp.abs(i).dtype == i.dtype
    assert mnp.sign(i).tolist() == [1, -1, 1]
    assert (i * 2.5).dtype == np.float64  # MXNet's scalar ops: int with a float is float64
    assert (i / 2.0).dtype == np.float32  # true_divide: the default float
    assert mnp.maximum(i, 0).tolist() == [3, 0, 4]


def test_second_order_through_elementwise(device):
    x = mnp.array([0.3, 1.2], dtype="float64", device=device)
    x.attach_grad()
    with mx.autograd.record():
        y = mnp.sin(x) * mnp.exp(x) + mnp.arctan(x)
        (dx,) = mx.autograd.grad(y, [x], create_graph=True)
    dx.backward()
    h = x.asnumpy()
    second = 2 * np.exp(h) * np.cos(h) - 2 * h / (1 + h * h) ** 2
    np.testing.assert_allclose(x.grad.asnumpy(), second, rtol=1e-10)


def _sum_to(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                max_side=3),
       op=st.sampled_from(["add", "subtract", "multiply", "divide", "maximum", "hypot"]))
def test_broadcasting_arithmetic_property(shapes, op):
    rng = np.random.default_rng(len(shapes.input_shapes[0]))
    a = rng.uniform(0.5, 2, shapes.input_shapes[0])
    b = rng.uniform(0.5, 2, shapes.input_shapes[1])
    x, y = mnp.array(a, dtype="float64"), mnp.array(b, dtype="float64")
    x.attach_grad()
    y.attach_grad()
    with mx.autograd.record():
        out = getattr(mnp, op)(x, y)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.asnumpy(), getattr(np, op)(a, b), rtol=1e-12)
    out.backward()
    ab, bb = np.broadcast_arrays(a, b)
    partials = {"add": (1.0, 1.0), "subtract": (1.0, -1.0), "multiply": (bb, ab),
                "divide": (1 / bb, -ab / bb ** 2), "maximum": (ab >= bb, ab < bb),
                "hypot": (ab / np.hypot(ab, bb), bb / np.hypot(ab, bb))}[op]
    full = [np.broadcast_to(np.asarray(p, dtype=float), shapes.result_shape) for p in partials]
    np.testing.assert_allclose(x.grad.asnumpy(), _sum_to(full[0], a.shape), rtol=1e-12)
    np.testing.assert_allclose(y.grad.asnumpy(), _sum_to(full[1], b.shape), rtol=1e-12)
