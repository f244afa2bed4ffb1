"""Names MXNet 2.x's mx.np has (most from the Array API standard): forward against numpy,
gradients against float64 central differences, result dtypes."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.test_utils import check_gradient

RNG = np.random.default_rng(21)


def test_bitwise_ops_match_numpy_and_keep_the_integer_dtype():
    a = np.array([[1, -2, 12], [7, 0, 255]], dtype=np.int32)
    b = np.array([1, 2, 3], dtype=np.int32)
    x, y = mx.np.array(a), mx.np.array(b)
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift",
                 "bitwise_left_shift", "bitwise_right_shift"):
        res = getattr(mx.np, name)(x, y)
        assert res.dtype == np.int32, name
        np.testing.assert_array_equal(res.asnumpy(), getattr(np, name)(a, b), err_msg=name)
    for name in ("invert", "bitwise_not"):
        np.testing.assert_array_equal(getattr(mx.np, name)(x).asnumpy(), ~a)
    assert mx.np.invert(mx.np.array([True, False])).tolist() == [False, True]


def _reference_cross(a, b):
    """numpy's cross with 2-vectors read as (x, y, 0) (numpy 2 deprecates 2-vectors)."""
    a3, b3 = (v if v.shape[-1] == 3 else np.concatenate([v, 0 * v[..., :1]], -1)
              for v in (a, b))
    c = np.cross(a3, b3)
    return c[..., 2] if a.shape[-1] == b.shape[-1] == 2 else c


@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((4, 3), (3,)), ((2, 1, 3), (4, 3)),
                                    ((5, 2), (5, 2)), ((2,), (4, 3)), ((3,), (2,))])
def test_cross_forward_and_gradient(sa, sb):
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    np.testing.assert_allclose(mx.np.cross(mx.np.array(a), mx.np.array(b)).asnumpy(),
                               _reference_cross(a, b), rtol=1e-5, atol=1e-6)
    check_gradient(mx.np.cross, a, b)


def test_cross_on_other_axes_and_bad_lengths():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 3))
    check_gradient(lambda x, y: mx.np.cross(x, y, axisa=0, axisb=1, axisc=0), a, b)
    check_gradient(lambda x, y: mx.np.cross(x, y, axis=0), a, a + 1)
    with pytest.raises(ValueError, match="2 or 3 elements"):
        mx.np.cross(mx.np.ones((4,)), mx.np.ones((3,)))


def test_permute_dims_and_matrix_transpose():
    a = RNG.standard_normal((2, 3, 4))
    x = mx.np.array(a)
    assert mx.np.permute_dims(x, (2, 0, 1)).shape == (4, 2, 3)
    np.testing.assert_array_equal(mx.np.linalg.matrix_transpose(x).asnumpy(),
                                  np.swapaxes(a.astype(np.float32), -1, -2))
    check_gradient(lambda v: mx.np.permute_dims(v, (1, 2, 0)), a)
    check_gradient(mx.np.matrix_transpose, a)
    with pytest.raises(ValueError, match="at least 2"):
        mx.np.linalg.matrix_transpose(mx.np.ones(3))


@pytest.mark.parametrize("ord", [2, 1, 3, np.inf, -np.inf])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (1, False),
                                             ((0, 2), True)])
def test_vector_norm(ord, axis, keepdims):
    a = RNG.standard_normal((3, 4, 2))
    res = mx.np.linalg.vector_norm(mx.np.array(a), axis=axis, keepdims=keepdims, ord=ord)
    want = np.linalg.vector_norm(a, axis=axis, keepdims=keepdims, ord=ord)
    if keepdims and not isinstance(axis, int):  # MXNet: one size-1 axis first, then the rest
        unkept = np.linalg.vector_norm(a, axis=axis, ord=ord)
        want = unkept.reshape((1,) + unkept.shape)
    assert res.shape == want.shape and res.dtype == np.float32
    np.testing.assert_allclose(res.asnumpy(), want, rtol=1e-5)
    check_gradient(lambda v: mx.np.linalg.vector_norm(v, axis=axis, keepdims=keepdims, ord=ord),
                   a, rtol=1e-4)


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, np.inf])
def test_matrix_norm_and_svdvals(ord):
    a = RNG.standard_normal((2, 4, 3))
    np.testing.assert_allclose(mx.np.linalg.matrix_norm(mx.np.array(a), ord=ord).asnumpy(),
                               np.linalg.matrix_norm(a, ord=ord), rtol=1e-5)
    check_gradient(lambda v: mx.np.linalg.matrix_norm(v, ord=ord), a, rtol=1e-4)
    np.testing.assert_allclose(mx.np.linalg.svdvals(mx.np.array(a)).asnumpy(),
                               np.linalg.svdvals(a), rtol=1e-5)
    check_gradient(mx.np.linalg.svdvals, a, rtol=1e-4)


def test_svd_gradient_through_the_singular_vectors():
    for shape in ((4, 3), (3, 5), (2, 3, 3)):
        a = RNG.standard_normal(shape)
        check_gradient(lambda v: mx.np.linalg.svd(v), a, rtol=1e-4, atol=1e-5)


def test_cholesky_upper_is_the_transposed_factor():
    m = RNG.standard_normal((3, 3))
    spd = m @ m.T + 3 * np.eye(3)
    up = mx.np.linalg.cholesky(mx.np.array(spd), upper=True).asnumpy()
    np.testing.assert_allclose(up.T @ up, spd, rtol=1e-5)
    assert np.allclose(np.tril(up, -1), 0)
    check_gradient(lambda v: mx.np.linalg.cholesky((v + mx.np.swapaxes(v, -1, -2)) / 2,
                                                   upper=True), spd, rtol=1e-4)


def test_unique_family_matches_numpy():
    a = np.array([[3, 1, 3], [2, 1, 3]], dtype=np.int64)
    x = mx.np.array(a)
    got, want = mx.np.unique_all(x), np.unique_all(a)
    for field in ("values", "indices", "inverse_indices", "counts"):
        np.testing.assert_array_equal(getattr(got, field).asnumpy(), getattr(want, field))
    assert got.inverse_indices.shape == a.shape
    np.testing.assert_array_equal(mx.np.unique_counts(x).counts.asnumpy(), [2, 1, 3])
    np.testing.assert_array_equal(mx.np.unique_inverse(x).inverse_indices.asnumpy(),
                                  np.unique_inverse(a).inverse_indices)
    np.testing.assert_array_equal(mx.np.unique_values(x).asnumpy(), [1, 2, 3])


def test_unravel_index():
    rows, cols = mx.np.unravel_index(mx.np.array([[0, 5], [11, 7]], dtype="int64"), (3, 4))
    assert rows.dtype == np.int64 and rows.shape == (2, 2)
    assert rows.tolist() == [[0, 1], [2, 1]] and cols.tolist() == [[0, 1], [3, 3]]
    assert mx.np.unravel_index(5, (3, 4)) == (1, 1)
    assert [c.tolist() for c in mx.np.unravel_index(mx.np.array([5]), (3, 4), order="F")] \
        == [[2], [1]]
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        mx.np.unravel_index(mx.np.array([12]), (3, 4))


def test_logspace():
    res = mx.np.logspace(0, 3, 4)
    assert res.dtype == np.float32 and res.tolist() == [1.0, 10.0, 100.0, 1000.0]
    np.testing.assert_allclose(mx.np.logspace(1, 4, 3, base=2, endpoint=False,
                                              dtype="float64").asnumpy(),
                               np.logspace(1, 4, 3, base=2, endpoint=False))


def test_dtype_helpers():
    i = mx.np.array([1, 2], dtype="int32")
    f16 = mx.np.array([1.0], dtype="float16")
    assert mx.np.result_type(i, 1.0) == np.float64  # what i + 1.0 gives (MXNet's scalar ops)
    assert (i + 1.0).dtype == mx.np.result_type(i, 1.0)
    assert mx.np.result_type(i, 1) == np.int32
    assert mx.np.result_type(f16, 1.0) == np.float16
    assert mx.np.result_type(i, f16) == np.float16 == (i + f16).dtype  # MXNet, not numpy
    assert mx.np.result_type("int8", "uint8") == np.int16
    assert mx.np.result_type(True) == np.bool_ and mx.np.result_type(3) == np.int64
    with pytest.raises(ValueError, match="at least one"):
        mx.np.result_type()
    assert mx.np.can_cast(i, "int64") and not mx.np.can_cast("float64", "float32")
    assert mx.np.can_cast("float64", "float32", casting="same_kind")
    with pytest.raises(TypeError, match="Python scalars"):
        mx.np.can_cast(1.0, "float32")
    assert mx.np.iinfo(i).max == 2**31 - 1 and mx.np.iinfo("uint8").min == 0
    assert mx.np.finfo(f16).eps == np.finfo(np.float16).eps
    assert mx.np.finfo("float32").bits == 32


def test_dtype_groups():
    assert set(mx.np.floating_dtypes) == {np.dtype(t) for t in ("float16", "float32",
                                                                 "float64")}
    assert np.dtype("uint8") in mx.np.integer_dtypes and np.dtype("bool") not in \
        mx.np.numeric_dtypes
    assert set(mx.np.all_dtypes) == set(mx.np.numeric_dtypes) | set(mx.np.boolean_dtypes)
    assert set(mx.np.integer_or_boolean_dtypes) == set(mx.np.integer_dtypes) | {np.dtype("bool")}
    for t in mx.np.numeric_dtypes:  # every group member is a dtype mx.np creates
        assert mx.np.zeros(2, dtype=t).dtype == t


def test_bitwise_ops_are_not_differentiable_but_do_not_block_recording():
    x = mx.np.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = (x * 2).sum() + mx.np.left_shift(mx.np.array([1], dtype="int64"), 2).sum()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]
