"""MXNet 2.x autograd on integer and boolean arrays: ``attach_grad`` works on any dtype and
the gradient buffer takes the array's dtype (MXNet's test_np_sum/test_np_max_min expect
``x.grad`` equal to ``ones(x.shape, dtype=x.dtype)`` and to a 0/1 mask for int inputs)."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd


@pytest.mark.parametrize("itype", ["int8", "int32", "int64", "uint8"])
@pytest.mark.parametrize("dtype", [None, "float16", "float32", "int64"])
def test_sum_of_integer_array_gives_ones_of_its_dtype(itype, dtype):
    x = mx.np.array(np.arange(12).reshape(3, 4) % 5, dtype=itype)
    x.attach_grad()
    assert x.grad.dtype == np.dtype(itype)
    with autograd.record():
        y = mx.np.sum(x, axis=1, dtype=dtype)
    y.backward()
    assert x.grad.dtype == np.dtype(itype)
    np.testing.assert_array_equal(x.grad.asnumpy(), np.ones((3, 4), dtype=itype))


@pytest.mark.parametrize("func, index", [("max", -1), ("min", 0)])
def test_max_min_of_integer_array_marks_the_extremum(func, index):
    x = mx.np.arange(24).reshape(2, 3, 4).astype("int64")
    x.attach_grad()
    with autograd.record():
        y = getattr(x, func)(axis=1)
    y.backward()
    expected = np.zeros((2, 3, 4), dtype=np.int64)
    expected[:, index, :] = 1
    np.testing.assert_array_equal(x.grad.asnumpy(), expected)


def test_integer_gradient_is_the_float_gradient_cast_to_the_buffer():
    x = mx.np.array([[1, 2], [3, 4]], dtype="int32")
    x.attach_grad()
    with autograd.record():
        y = (x.T.astype("float32") * 2.5).sum()
    y.backward()
    assert x.grad.dtype == np.int32
    np.testing.assert_array_equal(x.grad.asnumpy(), np.full((2, 2), 2))  # 2.5 truncated


def test_bool_array_takes_a_bool_gradient():
    x = mx.np.array([True, False, True])
    x.attach_grad()
    with autograd.record():
        y = x.astype("float32") * 3
    y.backward()
    assert x.grad.dtype == np.bool_
    assert x.grad.tolist() == [True, True, True]


@pytest.mark.parametrize("itype", ["bool", "int8", "int32", "int64", "uint8"])
def test_float_valued_unary_ops_give_the_default_float_for_integers(itype):
    host = np.array([1, 0, 1], dtype=itype)
    x = mx.np.array(host)
    for name in ("sin", "exp", "log1p", "sqrt", "arctan", "degrees"):
        res = getattr(mx.np, name)(x)
        assert res.dtype == np.float32, name  # numpy: float16 or float64
        np.testing.assert_allclose(res.asnumpy(), getattr(np, name)(host.astype(np.float32)),
                                   rtol=1e-6, err_msg=name)
    assert mx.np.square(x).dtype == np.square(host).dtype  # integer-valued ops keep the dtype


def test_gradient_through_a_float_valued_op_reaches_the_integer_array():
    x = mx.np.array([1, 4, 9], dtype="int32")
    x.attach_grad()
    with autograd.record():
        y = mx.np.square(mx.np.sqrt(x) * 2)  # = 4x
    y.backward()
    assert x.grad.dtype == np.int32 and x.grad.tolist() == [4, 4, 4]


def test_float_valued_binary_ops_on_integers():
    i = mx.np.array([1, 2, 4], dtype="int32")
    h = mx.np.array([2.0, 2.0, 2.0], dtype="float16")
    for res in (i / i, mx.np.divide(i, 2), 3 / i, mx.np.arctan2(i, i), mx.np.hypot(i, i)):
        assert res.dtype == np.float32  # MXNet: int / int is float32 (numpy: float64)
    assert mx.np.divide(i, h).dtype == np.float16  # the float operand's dtype
    np.testing.assert_allclose(mx.np.true_divide(i, 8).asnumpy(), [0.125, 0.25, 0.5])
    assert mx.np.ldexp(h, i).dtype == np.float16  # ldexp keeps an integer exponent
    assert (i + i).dtype == np.int32 and mx.np.mod(i, 3).dtype == np.int32


def test_integer_meets_float_array_in_the_float_dtype():
    i = mx.np.array([1, 2, 3], dtype="int32")
    for dtype in ("float16", "float32", "float64"):
        f = mx.np.ones(3, dtype=dtype)
        for res in (i + f, f * i, i - f, mx.np.maximum(i, f), i ** f):
            assert res.dtype == np.dtype(dtype)  # MXNet; numpy: float64 for int32 with these
    assert (mx.np.array([True, False]) * mx.np.ones(2, dtype="float16")).dtype == np.float16
    w = mx.np.array([0.5, 1.0, 2.0])
    w.attach_grad()
    i.attach_grad()
    with autograd.record():
        y = (i * w).sum()
    y.backward()
    assert w.grad.tolist() == [1.0, 2.0, 3.0] and i.grad.tolist() == [0, 1, 2]


@pytest.mark.parametrize("itype", ["int8", "int32", "uint8"])
def test_indexing_diagonal_and_grad_req_add_on_integer_arrays(itype):
    x = mx.np.array(np.arange(12).reshape(3, 4) % 2, dtype=itype)
    x.attach_grad()
    with autograd.record():
        heads = [x[mx.np.array([0, 0, 2], dtype="int64")], x[1:, ::2], x[x > 0]]
    autograd.backward(heads)
    expected = np.zeros((3, 4), dtype=itype)
    expected[0] += 2  # row 0 is taken twice
    expected[2] += 1
    expected[1:, ::2] += 1
    expected[np.arange(12).reshape(3, 4) % 2 > 0] += 1
    np.testing.assert_array_equal(x.grad.asnumpy(), expected)
    x.attach_grad(grad_req="add")
    for _ in range(2):  # MXNet's test_np_transpose/test_np_diagonal with grad_req='add'
        with autograd.record():
            y = mx.np.diagonal(x)
        y.backward()
    assert x.grad.dtype == np.dtype(itype)
    np.testing.assert_array_equal(x.grad.asnumpy(), 2 * np.eye(3, 4, dtype=itype))
