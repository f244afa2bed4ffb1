"""Fixes found by running MXNet's test_numpy_op.py through mxlite.testing.mxnet_alias, each
checked against MXNet's documented semantics (forward value, dtype, gradient against
float64 central differences where differentiable)."""
import numpy as onp
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.test_utils import check_gradient

np = mx.np


def test_sum_into_a_narrow_dtype_accumulates_wide():
    # MXNet accumulates in float32 (or the input's wider type) and casts the result
    host = onp.full(4096, 0.1, dtype=onp.float32)
    got = np.sum(np.array(host), dtype="float16")
    assert got.dtype == onp.float16
    assert float(got) == float(onp.float16(host.astype(onp.float64).sum()))
    x = np.array(onp.random.default_rng(0).uniform(-1, 1, (3, 5)).astype(onp.float16))
    got = np.sum(x, axis=1, dtype="float16")
    want = x.asnumpy().astype(onp.float32).sum(axis=1).astype(onp.float16)
    onp.testing.assert_array_equal(got.asnumpy(), want)
    check_gradient(lambda v: np.sum(v * v, axis=0, dtype="float64"), onp.ones((2, 3)))


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
def test_linspace_integer_dtype_rounds_down(dtype):
    got = np.linspace(-2, 4, 30, dtype=dtype)
    want = onp.floor(onp.linspace(-2, 4, 30)).astype(dtype) if dtype != "uint8" else None
    if want is not None:
        onp.testing.assert_array_equal(got.asnumpy(), want)
    assert got.dtype == onp.dtype(dtype)


def test_linspace_bad_num_is_an_mxnet_error():
    with pytest.raises(mx.MXNetError):
        np.linspace(0, 10, -1)
    with pytest.raises(mx.MXNetError):
        np.linspace(0, 1, 2.5)
    with pytest.raises(ValueError):
        np.linspace(0, 10, -1)
    with pytest.raises(TypeError):
        np.linspace(0, 1, 2.5)


def test_sort_argsort_take_mxnet_positional_order():
    x = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    # MXNet 2.x: argsort(a, axis, descending, stable)
    onp.testing.assert_array_equal(np.argsort(x, -1, True).asnumpy(), [[0, 2, 1], [1, 2, 0]])
    onp.testing.assert_array_equal(np.sort(x, 0, True).asnumpy(), [[3, 5, 4], [0, 1, 2]])
    # numpy's kind= still works, by keyword or in the third place
    onp.testing.assert_array_equal(np.argsort(x, -1, "stable").asnumpy(),
                                   onp.argsort(x.asnumpy(), kind="stable"))
    assert np.argsort(x, -1, True).dtype == onp.int64
    check_gradient(lambda v: np.sort(v, 1, True), onp.array([[3.0, 1.0, 2.0]]))


@pytest.mark.parametrize("axis", [0, -1])
def test_squeeze_zero_dim_takes_axis_zero(axis):
    x = np.array(2.5)
    out = np.squeeze(x, axis)
    assert out.shape == onp.squeeze(onp.array(2.5), axis).shape == ()
    check_gradient(lambda v: np.squeeze(v, axis) * 3, onp.array(1.5))
    with pytest.raises(mx.MXNetError):
        np.squeeze(x, 1)


@pytest.mark.parametrize("shape,axis", [((3, 0, 4), 1), ((3, 0, 4), 0), ((0, 0), -1)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_of_empty_input(shape, axis, fn):
    x = np.random.uniform(size=shape)
    x.attach_grad()
    with autograd.record():
        y = getattr(mx.npx, fn)(x, axis=axis)
    assert y.shape == shape and y.dtype == onp.float32
    y.backward()
    assert x.grad.shape == shape


def test_masked_softmax_of_empty_input():
    x = np.random.uniform(size=(3, 0, 4))
    mask = np.ones((3, 0, 4), dtype="bool")
    assert mx.npx.masked_softmax(x, mask, axis=1).shape == (3, 0, 4)
    assert mx.npx.masked_log_softmax(x, mask, axis=0).shape == (3, 0, 4)


@pytest.mark.parametrize("N,M,k,dtype", [(3, None, 0, None), (4, 2, -1, "int32"),
                                         (2, 5, 3, "float64"), (3, 3, -5, "uint8")])
def test_tri(N, M, k, dtype):
    got = np.tri(N, M, k, dtype)
    onp.testing.assert_array_equal(got.asnumpy(), onp.tri(N, M, k))
    assert got.dtype == onp.dtype(dtype or "float32")


def test_shape():
    assert np.shape(np.zeros((2, 0, 3))) == (2, 0, 3)
    assert np.shape(np.array(1.0)) == ()
    assert np.shape([[1, 2, 3]]) == (1, 3)


def test_random_choice():
    np.random.seed(7)
    draws = np.random.choice(4, size=(20000,))
    assert draws.dtype == onp.int64 and draws.shape == (20000,)
    counts = onp.bincount(draws.asnumpy(), minlength=4) / 20000
    onp.testing.assert_allclose(counts, 0.25, atol=0.02)
    weighted = np.random.choice(3, size=20000, p=[0.1, 0.2, 0.7]).asnumpy()
    onp.testing.assert_allclose(onp.bincount(weighted, minlength=3) / 20000, [0.1, 0.2, 0.7],
                                atol=0.02)
    pool = np.array([5.0, 6.0, 7.0, 8.0])
    picked = np.random.choice(pool, 4, replace=False).asnumpy()
    assert sorted(picked.tolist()) == [5.0, 6.0, 7.0, 8.0] and picked.dtype == onp.float32
    no_rep = np.random.choice(10, 10, replace=False, p=onp.arange(1, 11) / 55.0).asnumpy()
    assert sorted(no_rep.tolist()) == list(range(10))
    with pytest.raises(ValueError):
        np.random.choice(3, 4, replace=False)


def test_as_np_ndarray_is_the_array_itself():
    x = np.ones((2,))
    assert x.as_np_ndarray() is x


@pytest.mark.parametrize("name", ["mod", "fmod", "remainder"])
def test_integer_mod_has_zero_gradient(name):
    # MXNet: mod/fmod of integer arrays give zero gradients (floats keep d/dx1 = 1)
    a = np.array([7, 9, 4], dtype="int32")
    b = np.array([2, 4, 3], dtype="int32")
    a.attach_grad()
    b.attach_grad()
    with autograd.record():
        y = getattr(np, name)(a, b)
    y.backward()
    assert y.dtype == onp.int32
    assert a.grad.tolist() == [0, 0, 0] and b.grad.tolist() == [0, 0, 0]
    check_gradient(lambda u, v: getattr(np, name)(u, v), onp.array([7.3, 9.1, 4.4]),
                   onp.array([2.1, 4.2, 3.3]))


@pytest.mark.parametrize("name", ["bitwise_left_shift", "bitwise_right_shift"])
def test_array_api_shifts_take_no_ufunc_keywords(name):
    a = np.array([1, 2, 8], dtype="int64")
    b = np.array([1, 2, 3], dtype="int64")
    ref = getattr(onp, name.replace("bitwise_", ""))(a.asnumpy(), b.asnumpy())
    onp.testing.assert_array_equal(getattr(np, name)(a, b).asnumpy(), ref)
    for kw in ({"where": False}, {"where": True}, {"dtype": onp.int8}, {"casting": "safe"},
               {"order": "C"}, {"subok": False}):
        with pytest.raises(TypeError):
            getattr(np, name)(a, b, **kw)
    with pytest.raises(NotImplementedError):  # the ufunc names keep MXNet's ufunc keywords
        np.left_shift(a, b, where=False)


@pytest.mark.parametrize("fn", ["tril", "triu"])
@pytest.mark.parametrize("k", [-1, 0, 2])
def test_triangle_of_a_vector(fn, k):
    v = onp.array([1.0, 2.0, 3.0])
    got = getattr(np, fn)(np.array(v), k)
    onp.testing.assert_array_equal(got.asnumpy(), getattr(onp, fn)(v, k))
    check_gradient(lambda x: getattr(np, fn)(x, k), v)


def test_assert_almost_equal_broadcasts_as_mxnet():
    from mxlite.test_utils import assert_almost_equal
    assert_almost_equal(onp.zeros((3, 0, 4)), onp.zeros((3, 1, 4)))
    assert_almost_equal(onp.ones((2, 3)), 1.0)
    with pytest.raises(AssertionError):
        assert_almost_equal(onp.zeros((3, 0, 4)), onp.zeros((3, 1, 4)), use_broadcast=False)
    with pytest.raises(AssertionError):
        assert_almost_equal(onp.ones(3, dtype=onp.float32), onp.full(3, 1.01, onp.float32))
    assert_almost_equal(onp.ones(3, dtype=onp.float16), onp.full(3, 1.005, onp.float16))


@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm(name):
    a = onp.array([[12, -18, 0], [7, 100, -35]], dtype=onp.int32)
    b = onp.array([8, 27, 5], dtype=onp.int32)
    got = getattr(np, name)(np.array(a), np.array(b))
    onp.testing.assert_array_equal(got.asnumpy(), getattr(onp, name)(a, b))
    assert got.dtype == onp.int32 and got.shape == (2, 3)


def test_batch_norm_output_mean_var_gives_the_inverse_std():
    """MXNet's batch_norm(output_mean_var=True) returns the batch mean and 1/sqrt(var + eps)
    while training."""
    rng = onp.random.default_rng(0)
    x = rng.uniform(size=(5, 3))

    def stats(data):
        with mx.autograd.train_mode():
            _, mean, inv_std = mx.npx.batch_norm(
                data, mx.np.ones(3, dtype="float64"), mx.np.zeros(3, dtype="float64"),
                None, None, eps=1e-3, output_mean_var=True, axis=1)
        return mean, inv_std

    mean, inv_std = stats(mx.np.array(x, dtype="float64"))
    onp.testing.assert_allclose(mean.asnumpy(), x.mean(0), rtol=1e-12)
    onp.testing.assert_allclose(inv_std.asnumpy(), 1 / onp.sqrt(x.var(0) + 1e-3), rtol=1e-12)
    check_gradient(stats, x)


# -- found by running MXNet's test_numpy_ndarray.py ---------------------------------------

@pytest.mark.parametrize("pvals", [[0.0, 0.1, 0.2, 0.3, 0.4], "array"])
@pytest.mark.parametrize("size", [None, (), (3,), (2, 4)])
def test_multinomial_counts(pvals, size):
    probs = [0.0, 0.1, 0.2, 0.3, 0.4]
    if pvals == "array":
        pvals = np.array(probs)
    np.random.seed(7)
    counts = np.random.multinomial(20000, pvals, size=size)
    assert counts.dtype == onp.int64
    assert counts.shape == (size or ()) + (5,)
    host = counts.asnumpy().reshape(-1, 5)
    assert (host.sum(axis=1) == 20000).all() and (host[:, 0] == 0).all()
    onp.testing.assert_allclose(host / 20000, onp.broadcast_to(probs, host.shape), atol=0.02)
    np.random.seed(7)
    onp.testing.assert_array_equal(np.random.multinomial(20000, pvals, size=size).asnumpy(),
                                   counts.asnumpy())  # mx's seed makes it reproducible


def test_multinomial_empty_and_bad_input():
    for size in (0, (0, 2), (4, 0, 2)):
        assert np.random.multinomial(10, [0.5, 0.5], size=size).size == 0
    assert np.random.multinomial(10, []).shape == (0,)
    assert np.random.multinomial(10, [], size=(2,)).shape == (2, 0)
    with pytest.raises(ValueError, match="must sum to at most 1"):
        np.random.multinomial(10, [0.7, 0.6, 0.1])
    with pytest.raises(ValueError, match="n must be non-negative"):
        np.random.multinomial(-1, [0.5, 0.5])


@pytest.mark.parametrize("make", [np.empty, np.zeros, np.ones,
                                  lambda shape, order: np.full(shape, 2.0, order=order)])
def test_creation_is_c_ordered_only(make):
    assert make((2, 3), order="C").shape == (2, 3)
    for order in ("F", "A"):
        with pytest.raises(NotImplementedError, match="only order='C'"):
            make((2, 3), order=order)


def test_array_namespace_versions():
    x = np.array([1.0, 2.0])
    assert x.__array_namespace__() is np and x.__array_namespace__("2021.10") is np
    for version in ("2020.09", "2021.24"):
        with pytest.raises(ValueError, match="unsupported Array API version"):
            x.__array_namespace__(version)


@pytest.mark.parametrize("value", [object(), "abc", [1, None]])
def test_array_of_non_numeric_data_is_refused(value):
    with pytest.raises(TypeError, match="holds numbers and booleans"):
        np.array(value)
    assert np.array(["1", "2"], dtype="float32").asnumpy().tolist() == [1.0, 2.0]


def test_multinomial_takes_float32_pvals_that_round_above_one():
    pvals = np.array([0.4, 0.3, 0.2, 0.1, 0.0])  # float32: the first four sum past 1.0
    assert float(pvals[:4].astype("float64").sum()) > 1.0
    counts = np.random.multinomial(50, pvals, size=(100,)).asnumpy()
    assert (counts.sum(axis=1) == 50).all() and (counts[:, 4] == 0).all()
