"""MXNet 2.x numpy compatibility, assorted functions (issue 21's "misc" family), and the
MXNet test harness's NumPy 1.x shim. Ours, written from the documented semantics."""
import numpy as onp
import pytest

import mxlite as mx
from mxlite import np, npx
from mxlite.test_utils import check_gradient
from mxlite.testing import mxnet_alias


# -- harness: NumPy 1.x aliases and mx.nd.waitall ---------------------------------------

def test_numpy_1x_aliases_restored_only_inside_the_block():
    had_product = "product" in vars(onp)
    with mxnet_alias.numpy_1x_aliases() as added:
        assert onp.product([2, 3, 4]) == 24
        assert onp.round_(1.26, 1) == pytest.approx(1.3)
    if not had_product:
        assert "product" in added
        assert "product" not in vars(onp)
        with pytest.raises(AttributeError):
            onp.product
    # mxlite never gets them
    assert "product" not in vars(np)


def test_nd_waitall_is_not_legacy():
    mxnet_alias.install()
    try:
        import mxnet
        mxnet.nd.waitall()  # the barrier, not a LegacyAPIError
        with pytest.raises(mxnet_alias.LegacyAPIError):
            mxnet.nd.array([1, 2])
    finally:
        mxnet_alias.uninstall()


# -- Array API names: acos ... atan2, pow, bitwise_invert --------------------------------

UNARY_ALIASES = [("acos", "arccos", (-0.9, 0.9)), ("asin", "arcsin", (-0.9, 0.9)),
                 ("atan", "arctan", (-3, 3)), ("acosh", "arccosh", (1.5, 4)),
                 ("asinh", "arcsinh", (-3, 3)), ("atanh", "arctanh", (-0.9, 0.9))]


@pytest.mark.parametrize("name,numpy_name,bounds", UNARY_ALIASES)
@pytest.mark.parametrize("shape", [(), (3,), (2, 0), (2, 3)])
def test_array_api_inverse_trig(name, numpy_name, bounds, shape):
    assert getattr(np, name) is getattr(np, numpy_name)
    x = onp.random.default_rng(0).uniform(*bounds, size=shape)
    for dtype in ("float16", "float32", "float64"):
        out = getattr(np, name)(np.array(x, dtype=dtype))
        assert out.dtype == dtype and out.shape == shape
        onp.testing.assert_allclose(out.asnumpy(), getattr(onp, numpy_name)(x.astype(dtype)),
                                    rtol=1e-2 if dtype == "float16" else 1e-5)
    assert getattr(np, name)(np.array(x.astype("int32"))).dtype == onp.float32
    check_gradient(getattr(np, name), x)


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((), (4,)), ((0, 2), (1, 2))])
def test_array_api_atan2_pow(shapes):
    rng = onp.random.default_rng(1)
    a, b = rng.uniform(0.5, 2, shapes[0]), rng.uniform(-1, 1, shapes[1])
    assert np.atan2 is np.arctan2 and np.pow is np.power
    onp.testing.assert_allclose(np.atan2(np.array(a), np.array(b)).asnumpy(),
                                onp.arctan2(a, b).astype("float32"), rtol=1e-5)
    onp.testing.assert_allclose(np.pow(np.array(a), np.array(b)).asnumpy(),
                                onp.power(a, b).astype("float32"), rtol=1e-5)
    check_gradient(np.atan2, a, b)
    check_gradient(np.pow, a, b)


def test_bitwise_invert():
    for dtype in ("int8", "int32", "int64", "uint8", "bool"):
        x = onp.array([[0, 1, 5], [7, 2, 3]]).astype(dtype)
        out = np.bitwise_invert(np.array(x, dtype=dtype))
        assert out.dtype == dtype
        onp.testing.assert_array_equal(out.asnumpy(), onp.invert(x))
    assert np.bitwise_invert(np.zeros((0,), dtype="int32")).shape == (0,)
    assert np.bitwise_invert(np.array(5, dtype="int32")).item() == -6


# -- result_type: MXNet's promotion, the dtype the ops give ------------------------------

def test_result_type_matches_arithmetic():
    for a in np.numeric_dtypes + np.boolean_dtypes:
        for b in np.numeric_dtypes + np.boolean_dtypes:
            x, y = np.ones((2,), dtype=a), np.ones((2,), dtype=b)
            assert np.result_type(a, b) == (x + y).dtype == np.result_type(x, y), (a, b)
    assert np.result_type("int32", "float16") == onp.float16  # numpy: float64
    assert np.result_type("int64", "uint8", "float32") == onp.float32
    assert np.result_type("int8", "uint8") == onp.int16
    assert np.result_type("float16", "float32") == onp.float32
    # the groups are lists, as MXNet's
    picks = np.numeric_dtypes + np.boolean_dtypes + [np.ones((1,), dtype="int8")]
    assert np.result_type(*picks) == onp.float64


def test_numpy_1x_interpolation_keyword_only_inside_the_block():
    original = onp.quantile
    with mxnet_alias.numpy_1x_aliases():
        assert onp.quantile(onp.arange(5.0), 0.4, interpolation="lower") == 1.0
        assert onp.percentile(onp.arange(5.0), 40, interpolation="higher") == 2.0
    assert onp.quantile is original


# -- quantile / percentile / median: methods, several axes -------------------------------

@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
@pytest.mark.parametrize("axis", [None, 1, (0, 2), (-1, -2)])
def test_quantile_methods_and_axes(method, axis):
    rng = onp.random.default_rng(2)
    a = rng.uniform(-5, 5, (2, 3, 4))
    for q in (0.3, [0.0, 0.5, 1.0]):
        for keepdims in (False, True):
            want = onp.quantile(a, q, axis=axis, method=method, keepdims=keepdims)
            got = np.quantile(np.array(a, dtype="float64"), q, axis=axis,
                              interpolation=method, keepdims=keepdims)
            assert got.shape == want.shape and got.dtype == onp.float64
            onp.testing.assert_allclose(got.asnumpy(), want, rtol=1e-12)
            got = np.percentile(np.array(a, dtype="float64"), onp.multiply(q, 100), axis=axis,
                                method=method, keepdims=keepdims)
            onp.testing.assert_allclose(got.asnumpy(), want, rtol=1e-12)
    check_gradient(lambda x: np.quantile(x, [0.25, 0.8], axis=axis, interpolation=method), a)


def test_quantile_integer_input_and_median():
    a = onp.arange(24).reshape(2, 3, 4)
    assert np.quantile(np.array(a), 0.5, method="lower").dtype == a.dtype
    got = np.quantile(np.array(a), 0.4, axis=(0, 2))
    assert got.dtype == onp.float64
    onp.testing.assert_allclose(got.asnumpy(), onp.quantile(a, 0.4, axis=(0, 2)))
    x = onp.random.default_rng(3).standard_normal((3, 4, 2))
    onp.testing.assert_allclose(np.median(np.array(x), axis=(0, 2), keepdims=True).asnumpy(),
                                onp.median(x.astype("float32"), axis=(0, 2), keepdims=True),
                                rtol=1e-6)
    assert np.median(np.array(onp.float32(2.5))).shape == ()
    with pytest.raises(NotImplementedError):
        np.quantile(np.array(x), 0.5, method="weibull")


def test_numpy_1x_nonzero_of_0d_only_inside_the_block():
    original = onp.nonzero
    with mxnet_alias.numpy_1x_aliases():
        assert onp.nonzero(onp.array(3.0))[0].tolist() == [0]
        assert onp.nonzero(onp.array(0.0))[0].tolist() == []
    assert onp.nonzero is original
