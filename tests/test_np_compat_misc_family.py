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


# -- Python float with integer arrays: float64 (MXNet's scalar ops) ---------------------

def test_int_array_with_python_float_is_float64():
    i = np.array([1, 2, 3], dtype="int32")
    for res in (i + 1.5, 1.5 - i, i * 2.5, i ** 0.5, np.add(i, 1.5)):
        assert res.dtype == onp.float64
    assert np.result_type(i, 1.0) == onp.float64
    assert (i / 2.0).dtype == onp.float32  # true_divide: the default float
    assert (i + 1).dtype == onp.int32
    b = np.array([True, False])
    assert (b + 1).dtype == onp.int64 and (b + 1.5).dtype == onp.float64
    onp.testing.assert_allclose((i * 2.5).asnumpy(), onp.array([1, 2, 3]) * 2.5)


# -- creation and index helpers ----------------------------------------------------------

def test_eye_negative_sizes_raise_mxnet_error():
    from mxlite.base import MXNetError
    for args in ((-1,), (-2, None), (1, -1)):
        with pytest.raises(MXNetError):
            np.eye(*args)
        with pytest.raises(ValueError):
            np.eye(*args)
    assert np.eye(0, 3).shape == (0, 3)


def test_full_with_array_fill():
    fill = np.array([1, 2, 3], dtype="int64")
    out = np.full((2, 3), fill)
    assert out.dtype == onp.int64
    onp.testing.assert_array_equal(out.asnumpy(), onp.full((2, 3), [1, 2, 3]))
    assert np.full((0, 3), fill, dtype="float32").shape == (0, 3)
    assert np.full((2, 2), np.array(2.0), dtype="int8").dtype == onp.int8
    assert np.full((2, 2), np.array(2.0)).dtype == onp.float32


@pytest.mark.parametrize("shape", [(0,), (3,), (2, 0, 4), (2, 3, 4)])
def test_indices(shape):
    for dtype in ("int32", "int64", "float32"):
        got = np.indices(shape, dtype=dtype)
        want = onp.indices(shape, dtype=dtype)
        assert got.dtype == want.dtype and got.shape == want.shape
        onp.testing.assert_array_equal(got.asnumpy(), want)


def test_triangle_and_diagonal_indices():
    for n, k, m in ((4, 0, None), (3, -1, 5), (5, 2, 2), (0, 0, 3), (-2, 0, 3)):
        for ours, theirs in ((np.tril_indices, onp.tril_indices),
                             (np.triu_indices, onp.triu_indices)):
            got = ours(n, k, m)
            want = theirs(max(n, 0), k, max(m if m is not None else n, 0))
            assert len(got) == 2 and all(g.dtype == onp.int64 for g in got)
            for g, w in zip(got, want):
                onp.testing.assert_array_equal(g.asnumpy(), w)
    a = np.arange(12).reshape(3, 4)
    r, c = np.tril_indices_from(a)
    onp.testing.assert_array_equal(a[r, c].asnumpy(), onp.arange(12).reshape(3, 4)[
        onp.tril_indices_from(onp.zeros((3, 4)))])
    x = np.zeros((3, 3, 3))
    got = np.diag_indices_from(x)
    assert len(got) == 3
    for g in got:
        onp.testing.assert_array_equal(g.asnumpy(), onp.arange(3))
    with pytest.raises(ValueError):
        np.diag_indices_from(np.zeros((2, 3)))


@pytest.mark.parametrize("name", ["hanning", "hamming", "blackman"])
def test_windows(name):
    for M in (-3, 0, 1, 6, 11):
        got = getattr(np, name)(M)
        assert got.dtype == onp.float32
        onp.testing.assert_allclose(got.asnumpy(), getattr(onp, name)(M).astype("float32"),
                                    rtol=1e-6, atol=1e-7)
    assert getattr(np, name)(5, dtype="float64").dtype == onp.float64


def test_fill_diagonal_in_place():
    for shape, val, wrap in (((4, 4), 2, False), ((7, 3), [-1, 5], True), ((7, 3), 9, False),
                             ((3, 5), [1, 2, 3, 4], False), ((3, 3, 3), 7, False)):
        want = onp.ones(shape, dtype="float32")
        onp.fill_diagonal(want, val, wrap)
        a = np.ones(shape)
        assert np.fill_diagonal(a, val, wrap=wrap) is None
        onp.testing.assert_array_equal(a.asnumpy(), want)
    a = np.ones((3, 3), dtype="int32")
    np.fill_diagonal(a, -4)
    assert a.dtype == onp.int32 and a.asnumpy().trace() == -12
    with pytest.raises(ValueError):
        np.fill_diagonal(np.ones(3), 1)


def test_shares_memory():
    x = np.zeros((4, 5, 6))
    for op in (np.shares_memory, np.may_share_memory):
        assert not op(x[0], x[1])
        assert op(x[0, 0, 2:5], x[0, 0, 3:4])
        assert op(x, x[1:3])
        assert not op(x, np.ones((5, 0)))
        assert not op(np.ones((2, 2)), np.ones((2, 2)))
    assert not np.shares_memory(x[0, 0, 0:2], x[0, 0, 2:4])


# -- differentiable composites -----------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (1,), (5,), (2, 3), (0,)])
def test_ediff1d(shape):
    x = onp.random.default_rng(4).standard_normal(shape)
    for kwargs in ({}, {"to_begin": 2.0}, {"to_end": [1.0, -1.0]},
                   {"to_begin": [3.0], "to_end": 4.0}):
        got = np.ediff1d(np.array(x, dtype="float64"), **kwargs)
        want = onp.ediff1d(x, **kwargs)
        assert got.dtype == onp.float64 and got.shape == want.shape
        onp.testing.assert_allclose(got.asnumpy(), want)
    if x.size > 1:
        check_gradient(lambda a: np.ediff1d(a, to_begin=1.0), x)
    i = np.array([1, 4, 9], dtype="int32")
    assert np.ediff1d(i).dtype == onp.int32


@pytest.mark.parametrize("xshape", [(), (4,), (2, 3), (2, 0, 3)])
def test_polyval(xshape):
    rng = onp.random.default_rng(5)
    p, x = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, xshape)
    got = np.polyval(np.array(p, dtype="float64"), np.array(x, dtype="float64"))
    assert got.shape == onp.polyval(p, x).shape and got.dtype == onp.float64
    onp.testing.assert_allclose(got.asnumpy(), onp.polyval(p, x), rtol=1e-12)
    check_gradient(np.polyval, p, x)
    pi, xi = onp.array([2, -1, 3]), onp.array([[1, 2], [-3, 0]])
    got = np.polyval(np.array(pi), np.array(xi))
    assert got.dtype == onp.int64
    onp.testing.assert_array_equal(got.asnumpy(), onp.polyval(pi, xi))


@pytest.mark.parametrize("mode", ["minimum", "maximum", "mean", "median"])
@pytest.mark.parametrize("dtype", ["float64", "int32", "uint8"])
def test_pad_statistic_modes(mode, dtype):
    rng = onp.random.default_rng(6)
    for shape, width in (((6,), (2, 3)), ((2, 3), ((1, 2), (0, 3))), ((3, 4, 2), 1)):
        a = (rng.uniform(0, 50, shape)).astype(dtype)
        got = np.pad(np.array(a, dtype=dtype), width, mode=mode)
        want = onp.pad(a, width, mode=mode)
        assert got.dtype == want.dtype and got.shape == want.shape
        onp.testing.assert_allclose(got.asnumpy(), want)
    if dtype == "float64":
        x = rng.standard_normal((3, 4))
        check_gradient(lambda v: np.pad(v, ((1, 2), (2, 1)), mode=mode), x)
    with pytest.raises(NotImplementedError):
        np.pad(np.ones((3,)), 1, mode=mode, stat_length=2)


def test_clip_min_max_keywords():
    x = onp.random.default_rng(7).uniform(-1, 1, (4, 3))
    a = np.array(x, dtype="float64")
    onp.testing.assert_allclose(a.clip(min=-0.1, max=0.2).asnumpy(), x.clip(min=-0.1, max=0.2))
    onp.testing.assert_allclose(np.clip(a, min=0).asnumpy(), onp.clip(x, 0, None))
    onp.testing.assert_allclose(a.clip(max=0.0).asnumpy(), onp.clip(x, None, 0.0))
    assert np.clip(np.zeros(()), min=1.0).item() == 1.0
    assert np.clip(np.zeros((2, 0)), max=1.0).shape == (2, 0)
    with pytest.raises(TypeError):
        np.clip(a, -1, min=0)
    with pytest.raises(ValueError):
        a.clip()
    check_gradient(lambda v: v.clip(min=-0.5, max=0.5), x)


def test_bool_result_needs_bool_out():
    x = np.array([1.0, onp.nan, onp.inf])
    out = np.zeros((3,), dtype="bool")
    np.isnan(x, out=out)
    assert out.asnumpy().tolist() == [False, True, False]
    with pytest.raises(TypeError):
        np.isnan(x, out=np.zeros((3,)))
    with pytest.raises(TypeError):
        np.isfinite(x, out=np.zeros((3,), dtype="int32"))


# -- not differentiable ------------------------------------------------------------------

def test_interp():
    rng = onp.random.default_rng(8)
    xp = onp.sort(rng.choice(100, 10, replace=False)).astype("float64")
    fp = rng.uniform(-5, 5, 10)
    for x in (rng.uniform(-10, 110, (3, 4)), rng.uniform(0, 100, (0,)), 42.5):
        for left, right in ((None, None), (-10, 20)):
            got = np.interp(x if onp.ndim(x) == 0 else np.array(x, dtype="float64"),
                            np.array(xp, dtype="float64"), np.array(fp, dtype="float64"),
                            left=left, right=right)
            want = onp.interp(x, xp, fp, left=left, right=right)
            assert got.shape == onp.shape(want) and got.dtype == onp.float64
            onp.testing.assert_allclose(got.asnumpy(), want)
    got = np.interp(np.array([0.5, 7.0]), np.array([0.0, 2 * onp.pi]),
                    np.array([1.0, 3.0]), period=2 * onp.pi)
    onp.testing.assert_allclose(got.asnumpy(), onp.interp([0.5, 7.0], [0, 2 * onp.pi], [1, 3],
                                                          period=2 * onp.pi), rtol=1e-6)
    assert np.interp(np.array([1.5]), np.array([1, 2], dtype="int32"),
                     np.array([0, 10], dtype="int32")).dtype == onp.float32


def test_bincount():
    data = onp.array([0, 3, 3, 1, 7], dtype="int32")
    got = np.bincount(np.array(data))
    assert got.dtype == onp.int64
    onp.testing.assert_array_equal(got.asnumpy(), onp.bincount(data))
    onp.testing.assert_array_equal(np.bincount(np.array(data), minlength=12).asnumpy(),
                                   onp.bincount(data, minlength=12))
    w = onp.array([0.5, 1.0, 2.0, 0.25, 4.0])
    got = np.bincount(np.array(data), np.array(w, dtype="float32"))
    assert got.dtype == onp.float32
    onp.testing.assert_allclose(got.asnumpy(), onp.bincount(data, w))
    assert np.bincount(np.array(data), np.array(w.astype("int64"))).dtype == onp.float64
    empty = np.array(onp.zeros((0,), dtype="int64"))
    assert np.bincount(empty).shape == (0,)
    assert np.bincount(empty, minlength=3).asnumpy().tolist() == [0, 0, 0]
    with pytest.raises(TypeError):
        np.bincount(np.array([1.0, 2.0]))


def test_apply_along_axis_is_a_host_fallback():
    data = onp.arange(24).reshape(2, 3, 4)
    for axis in (0, 1, -1):
        got = np.apply_along_axis(lambda v: v.mean(), axis, np.array(data))
        want = onp.apply_along_axis(lambda v: v.mean(), axis, data)
        assert got.dtype == want.dtype == onp.float64
        onp.testing.assert_allclose(got.asnumpy(), want)
    got = np.apply_along_axis(lambda v: v[::-1] * 2, 1, arr=np.array(data))
    onp.testing.assert_array_equal(got.asnumpy(), onp.apply_along_axis(lambda v: v[::-1] * 2,
                                                                       1, data))


# -- npx ---------------------------------------------------------------------------------

def test_npx_add_n():
    rng = onp.random.default_rng(9)
    xs = [rng.standard_normal((2, 3)) for _ in range(4)]
    got = npx.add_n(*[np.array(x, dtype="float64") for x in xs])
    onp.testing.assert_allclose(got.asnumpy(), sum(xs))
    out = np.array(xs[0], dtype="float64")
    assert npx.add_n(out, np.array(xs[1], dtype="float64"), out=out) is out
    onp.testing.assert_allclose(out.asnumpy(), xs[0] + xs[1])
    check_gradient(lambda a, b, c: npx.add_n(a, b, c), *xs[:3])
    assert npx.add_n(np.zeros((0, 2)), np.zeros((0, 2))).shape == (0, 2)


def test_npx_broadcast_like():
    x = onp.random.default_rng(10).standard_normal((2, 1))
    y = np.ones((2, 4), dtype="int32")
    got = npx.broadcast_like(np.array(x, dtype="float64"), y)
    assert got.dtype == onp.float64 and got.shape == (2, 4)
    onp.testing.assert_allclose(got.asnumpy(), onp.broadcast_to(x, (2, 4)))
    got = npx.broadcast_like(np.zeros((1, 3, 1)), np.ones((5, 6, 7)), lhs_axes=(0, 2),
                             rhs_axes=(1, 0))
    assert got.shape == (6, 3, 5)
    check_gradient(lambda a: npx.broadcast_like(a, y), x)
    check_gradient(lambda a: npx.broadcast_like(a, y, 1, 1), x)
    with pytest.raises(ValueError):
        npx.broadcast_like(np.zeros((2, 3)), np.ones((2, 4)), 1, 1)


def test_npx_slice_like():
    rng = onp.random.default_rng(11)
    x = rng.standard_normal((4, 5, 6))
    like = np.zeros((2, 3, 6))
    got = npx.slice_like(np.array(x, dtype="float64"), like)
    onp.testing.assert_allclose(got.asnumpy(), x[:2, :3, :6])
    got = npx.slice_like(np.array(x, dtype="float64"), np.zeros((1, 2, 3)), axes=(0, -1))
    onp.testing.assert_allclose(got.asnumpy(), x[:1, :, :3])
    check_gradient(lambda a: npx.slice_like(a, like, axes=[1]), x)
    with pytest.raises(ValueError):
        npx.slice_like(np.zeros((2, 2)), np.zeros((3, 2)))


def test_npx_nonzero():
    for x in (onp.array(3.0), onp.array(0.0), onp.array([[0, 1], [2, 0]]),
              onp.zeros((1, 0)), onp.array([True, False, True])):
        got = npx.nonzero(np.array(x))
        want = onp.argwhere(onp.atleast_1d(x))
        assert got.dtype == onp.int64 and got.shape == want.shape
        onp.testing.assert_array_equal(got.asnumpy(), want)


def _attention_reference(q, k, v):
    """q, k, v: (seq, batch, heads, d) -> scores (batch*heads, qs, ks), out (qs, b, h*d)."""
    qs, b, h, d = q.shape
    qb = q.transpose(1, 2, 0, 3).reshape(b * h, qs, d)
    kb = k.transpose(1, 2, 0, 3).reshape(b * h, -1, d)
    vb = v.transpose(1, 2, 0, 3).reshape(b * h, -1, d)
    scores = qb @ kb.transpose(0, 2, 1) / onp.sqrt(d)
    out = (scores @ vb).reshape(b, h, qs, d).transpose(2, 0, 1, 3).reshape(qs, b, h * d)
    return scores, out


def test_npx_interleaved_matmul_selfatt():
    rng = onp.random.default_rng(12)
    seq, batch, heads, d = 5, 2, 3, 4
    qkv = rng.standard_normal((seq, batch, heads * 3 * d))
    parts = qkv.reshape(seq, batch, heads, 3, d)
    scores, out = _attention_reference(parts[..., 0, :], parts[..., 1, :], parts[..., 2, :])
    x = np.array(qkv, dtype="float64")
    got = npx.interleaved_matmul_selfatt_qk(x, heads=heads)
    onp.testing.assert_allclose(got.asnumpy(), scores, rtol=1e-12)
    att = np.array(scores, dtype="float64")
    got = npx.interleaved_matmul_selfatt_valatt(x, att, heads=heads)
    onp.testing.assert_allclose(got.asnumpy(), out, rtol=1e-12)
    check_gradient(lambda a: npx.interleaved_matmul_selfatt_valatt(
        a, npx.interleaved_matmul_selfatt_qk(a, heads=heads), heads=heads), qkv)


def test_npx_interleaved_matmul_encdec():
    rng = onp.random.default_rng(13)
    qseq, kseq, batch, heads, d = 3, 6, 2, 2, 5
    q = rng.standard_normal((qseq, batch, heads * d))
    kv = rng.standard_normal((kseq, batch, heads * 2 * d))
    parts = kv.reshape(kseq, batch, heads, 2, d)
    scores, out = _attention_reference(q.reshape(qseq, batch, heads, d), parts[..., 0, :],
                                       parts[..., 1, :])
    got = npx.interleaved_matmul_encdec_qk(np.array(q, dtype="float64"),
                                           np.array(kv, dtype="float64"), heads=heads)
    assert got.shape == (batch * heads, qseq, kseq)
    onp.testing.assert_allclose(got.asnumpy(), scores, rtol=1e-12)
    got = npx.interleaved_matmul_encdec_valatt(np.array(kv, dtype="float64"),
                                               np.array(scores, dtype="float64"), heads=heads)
    onp.testing.assert_allclose(got.asnumpy(), out, rtol=1e-12)
    check_gradient(lambda a, b: npx.interleaved_matmul_encdec_valatt(
        b, npx.interleaved_matmul_encdec_qk(a, b, heads=heads), heads=heads), q, kv)
    with pytest.raises(ValueError):
        npx.interleaved_matmul_encdec_qk(np.zeros((2, 1, 6)), np.zeros((2, 1, 7)), heads=2)


def test_builtin_op_signature_test_is_internal():
    mxnet_alias.install()
    try:
        from mxnet import _numpy_op_doc
        with pytest.raises(mxnet_alias.InternalAPIError):
            _numpy_op_doc.foo()
    finally:
        mxnet_alias.uninstall()
