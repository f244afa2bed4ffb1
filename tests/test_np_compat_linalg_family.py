"""mx.np.linalg as MXNet 2.x has it: vector_norm / matrix_norm (MXNet's signatures, 'inf'
strings), ndarray.mT, qr, pinv, eigh, eigvalsh, eig, eigvals, lstsq, matrix_rank, tensorinv
and tensorsolve: values against numpy, dtypes, and gradients against central differences."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.test_utils import central_difference, check_gradient

RNG = np.random.default_rng(7)
LA = mx.np.linalg


def _well_conditioned(shape):
    """Random matrices ``I * n + noise`` (square) or with orthonormal-ish columns."""
    a = RNG.standard_normal(shape)
    m, n = shape[-2:]
    return a + 3 * np.eye(m, n)


def _sym(v):
    return (v + mx.np.swapaxes(v, -1, -2)) / 2


# -- norms -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ord_, want_ord", [("inf", np.inf), ("-inf", -np.inf), (None, 2),
                                            (3, 3), (1, 1)])
@pytest.mark.parametrize("axis", [None, 1, (0, 2), (2, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norm_mxnet_semantics(ord_, want_ord, axis, keepdims):
    a = RNG.standard_normal((2, 3, 4))
    got = LA.vector_norm(mx.np.array(a, dtype="float64"), ord_, axis, keepdims)
    flat = np.linalg.vector_norm(a, ord=want_ord, axis=axis)
    if keepdims:  # MXNet: an int axis stays in place; None/tuples leave one size-1 axis first
        want_shape = np.linalg.vector_norm(a, ord=want_ord, axis=axis, keepdims=True).shape \
            if isinstance(axis, int) else (1,) + flat.shape
    else:
        want_shape = flat.shape
    assert got.shape == want_shape and got.dtype == np.float64
    np.testing.assert_allclose(got.asnumpy(), flat.reshape(want_shape), rtol=1e-12)
    check_gradient(lambda v: LA.vector_norm(v, ord_, axis, keepdims), a, rtol=1e-5)


def test_vector_norm_empty_and_float32():
    a = mx.np.ones((2, 0, 3))
    assert LA.vector_norm(a, axis=(0, 1)).shape == (3,)
    np.testing.assert_array_equal(LA.vector_norm(a, axis=(0, 1)).asnumpy(), np.zeros(3))
    assert LA.vector_norm(mx.np.ones((3, 2))).dtype == np.float32


@pytest.mark.parametrize("ord_", ["fro", "nuc", 1, -1, 2, -2, "inf", "-inf"])
@pytest.mark.parametrize("axis", [(-2, -1), (0, 2), (2, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norm_positional_axis(ord_, axis, keepdims):
    a = RNG.standard_normal((3, 2, 4))
    np_ord = {"inf": np.inf, "-inf": -np.inf}.get(ord_, ord_)
    got = LA.matrix_norm(mx.np.array(a, dtype="float64"), ord_, axis, keepdims)
    want = np.linalg.norm(a, ord=np_ord, axis=axis, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-10)
    check_gradient(lambda v: LA.matrix_norm(v, ord_, axis, keepdims), a, rtol=1e-5)


@pytest.mark.parametrize("axis", [None, 1, (0, 1, 2), (1,)])
def test_matrix_norm_needs_two_axes(axis):
    with pytest.raises(ValueError, match="2-tuple"):
        LA.matrix_norm(mx.np.ones((2, 3, 4)), "fro", axis)


def test_norm_accepts_inf_strings():
    a = RNG.standard_normal((3, 4))
    for s, v in (("inf", np.inf), ("-inf", -np.inf)):
        np.testing.assert_allclose(LA.norm(mx.np.array(a), ord=s, axis=1).asnumpy(),
                                   np.linalg.norm(a, ord=v, axis=1), rtol=1e-6)
        np.testing.assert_allclose(LA.norm(mx.np.array(a), ord=s).asnumpy(),
                                   np.linalg.norm(a, ord=v), rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3), (4, 2, 3), (2, 0, 3)])
def test_mT(shape):
    a = RNG.standard_normal(shape)
    x = mx.np.array(a)
    assert x.mT.shape == np.swapaxes(a, -1, -2).shape
    np.testing.assert_array_equal(x.mT.asnumpy(), np.swapaxes(a.astype(np.float32), -1, -2))
    check_gradient(lambda v: v.mT * 2, a)
    with pytest.raises(ValueError):
        mx.np.ones(3).mT


# -- qr --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3), (2, 3, 2, 4), (1, 1)])
def test_qr_values_and_gradient(shape):
    a = _well_conditioned(shape)
    q, r = LA.qr(mx.np.array(a, dtype="float64"))
    wq, wr = np.linalg.qr(a)
    assert q.shape == wq.shape and r.shape == wr.shape and q.dtype == np.float64
    np.testing.assert_allclose(q.asnumpy(), wq, atol=1e-12)
    np.testing.assert_allclose(r.asnumpy(), wr, atol=1e-12)
    check_gradient(LA.qr, a, rtol=1e-5, atol=1e-7)
    check_gradient(lambda v: LA.qr(v)[1], a, rtol=1e-5, atol=1e-7)  # through r only
    check_gradient(lambda v: LA.qr(v, mode="r"), a, rtol=1e-5, atol=1e-7)


def test_qr_float32_empty_and_modes():
    q, r = LA.qr(mx.np.array(_well_conditioned((4, 3)), dtype="float32"))
    assert q.dtype == r.dtype == np.float32
    for shape in ((0, 1), (2, 0, 3, 3), (3, 0, 0)):
        x = mx.np.ones(shape)
        x.attach_grad()
        with mx.autograd.record():
            q, r = LA.qr(x)
        wq, wr = np.linalg.qr(np.ones(shape))
        assert q.shape == wq.shape and r.shape == wr.shape
        mx.autograd.backward([q, r])
        assert x.grad.shape == shape
    assert LA.qr(mx.np.eye(3, dtype="int32"))[0].dtype == np.float32
    with pytest.raises(NotImplementedError):
        LA.qr(mx.np.ones((3, 3)), mode="complete")


# -- pinv ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, rcond_shape", [((4, 4), None), ((5, 3), None), ((3, 5), ()),
                                                ((2, 4, 3), (2,)), ((2, 2, 3, 4), (1, 2))])
def test_pinv_values_and_gradient(shape, rcond_shape):
    a = RNG.standard_normal(shape)
    if rcond_shape is None:
        got, want = LA.pinv(mx.np.array(a, dtype="float64")), np.linalg.pinv(a)
    else:
        rc = RNG.uniform(0, 0.1, rcond_shape)
        got = LA.pinv(mx.np.array(a, dtype="float64"), mx.np.array(rc, dtype="float64"))
        want = np.linalg.pinv(a, rc)
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-10, atol=1e-12)
    check_gradient(LA.pinv, a, rtol=1e-5, atol=1e-7)


def test_pinv_cutoff_rank_deficient_and_empty():
    a = np.outer(RNG.standard_normal(4), RNG.standard_normal(3))  # rank 1
    np.testing.assert_allclose(LA.pinv(mx.np.array(a, dtype="float64")).asnumpy(),
                               np.linalg.pinv(a), atol=1e-10)
    np.testing.assert_allclose(LA.pinv(mx.np.array(a), rtol=0.5).asnumpy(),
                               np.linalg.pinv(a.astype(np.float32), rtol=0.5), atol=1e-5)
    assert LA.pinv(mx.np.ones((2, 0, 3))).shape == (2, 3, 0)
    assert LA.pinv(mx.np.ones((3, 3), dtype="int64")).dtype == np.float32


# -- eigh / eigvalsh -------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3)])
@pytest.mark.parametrize("upper", [False, True])
def test_eigh_values(shape, upper):
    a = RNG.standard_normal(shape)
    uplo = "U" if upper else "L"
    w, v = LA.eigh(mx.np.array(a, dtype="float64"), upper=upper)
    ww, wv = np.linalg.eigh(a, UPLO=uplo)
    assert w.shape == ww.shape and v.shape == wv.shape and w.dtype == np.float64
    np.testing.assert_allclose(w.asnumpy(), ww, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.abs(v.asnumpy()), np.abs(wv), atol=1e-8)
    np.testing.assert_allclose(LA.eigvalsh(mx.np.array(a, dtype="float64"), upper).asnumpy(),
                               np.linalg.eigvalsh(a, UPLO=uplo), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(LA.eigvalsh(mx.np.array(a, dtype="float64"), UPLO=uplo)
                               .asnumpy(), np.linalg.eigvalsh(a, UPLO=uplo), atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eigh_gradients(shape):
    a = RNG.standard_normal(shape)
    # on symmetric inputs (the gradient is the symmetric one); v * v does not see signs
    check_gradient(lambda x: LA.eigvalsh(_sym(x)), a, rtol=1e-5, atol=1e-7)
    check_gradient(lambda x: LA.eigvalsh(_sym(x), upper=True), a, rtol=1e-5, atol=1e-7)
    check_gradient(lambda x: (lambda w, v: (w, v * v))(*LA.eigh(_sym(x))), a,
                   rtol=1e-5, atol=1e-7)
    check_gradient(lambda x: LA.eigh(_sym(x))[1] ** 2, a, rtol=1e-5, atol=1e-7)


def test_eigh_dtypes_and_empty():
    w, v = LA.eigh(mx.np.array(np.diag([3, 1, 2]), dtype="int32"))
    assert w.dtype == v.dtype == np.float32
    np.testing.assert_allclose(w.asnumpy(), [1, 2, 3])
    for shape in ((0, 0), (2, 0, 0), (0, 3, 3)):
        assert LA.eigvalsh(mx.np.ones(shape)).shape == shape[:-1]
        w, v = LA.eigh(mx.np.ones(shape))
        assert w.shape == shape[:-1] and v.shape == shape


# -- eig / eigvals ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (1, 2, 3, 3), (0, 0), (0, 3, 3)])
def test_eig_and_eigvals(shape):
    b = RNG.standard_normal(shape)
    a = b @ np.swapaxes(b, -1, -2) + np.triu(RNG.standard_normal(shape), 1) * 0.01  # real spectrum
    w, v = LA.eig(mx.np.array(a, dtype="float64"))
    ww, wv = np.linalg.eig(a)
    assert w.shape == ww.shape and v.shape == wv.shape
    np.testing.assert_allclose(np.sort(w.asnumpy(), -1), np.sort(ww, -1), atol=1e-8)
    np.testing.assert_allclose(a @ v.asnumpy(), v.asnumpy() * w.asnumpy()[..., None, :],
                               atol=1e-8)
    np.testing.assert_allclose(np.sort(LA.eigvals(mx.np.array(a, dtype="float64")).asnumpy(),
                                       -1), np.sort(np.linalg.eigvals(a), -1), atol=1e-8)


def test_eigvals_of_integers():
    a = np.stack([np.diag([4, 1, 3]), np.diag([2, 2, 5])]).astype(np.uint8)
    got = LA.eigvals(mx.np.array(a, dtype="uint8"))
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.sort(got.asnumpy(), -1), [[1, 3, 4], [2, 2, 5]])


# -- lstsq -----------------------------------------------------------------------------------
@pytest.mark.parametrize("a_shape, b_shape", [((5, 2), (5,)), ((4, 4), (4, 3)), ((3, 5), (3, 2)),
                                              ((4, 2), (4, 0)), ((0, 2), (0, 3)),
                                              ((4, 0), (4,)), ((1, 4), (1, 4))])
@pytest.mark.parametrize("rcond", [None, "warn", 0.3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstsq(a_shape, b_shape, rcond, dtype):
    a = RNG.uniform(-5, 5, a_shape)
    b = RNG.uniform(-5, 5, b_shape)
    got = LA.lstsq(mx.np.array(a, dtype=dtype), mx.np.array(b, dtype=dtype), rcond=rcond)
    want = np.linalg.lstsq(a.astype(dtype), b.astype(dtype),
                           rcond=-1 if rcond == "warn" else rcond)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape
        np.testing.assert_allclose(g.asnumpy(), w, rtol=tol, atol=tol)
    assert got[0].dtype == dtype and got[2].dtype == np.int64


def test_lstsq_rejects_bad_shapes():
    with pytest.raises(ValueError):
        LA.lstsq(mx.np.ones((2, 3, 3)), mx.np.ones((3,)))
    with pytest.raises(ValueError):
        LA.lstsq(mx.np.ones((3, 3)), mx.np.ones((4,)))


# -- matrix_rank -----------------------------------------------------------------------------
@pytest.mark.parametrize("shape, tol_shape", [((), None), ((3,), None), ((4, 3), None),
                                              ((4, 3), ()), ((2, 3, 4), (2,)),
                                              ((4, 3), (2, 3)), ((2, 3, 4, 4), (1, 3))])
def test_matrix_rank(shape, tol_shape):
    a = RNG.uniform(-10, 10, shape)
    if tol_shape is None:
        got, want = LA.matrix_rank(mx.np.array(a)), np.linalg.matrix_rank(a.astype(np.float32))
    else:
        tol = RNG.uniform(5, 20, tol_shape)
        got = LA.matrix_rank(mx.np.array(a, dtype="float64"), mx.np.array(tol, dtype="float64"))
        want = np.linalg.matrix_rank(a, tol)
    assert got.shape == np.shape(want) and got.dtype == np.int64
    np.testing.assert_array_equal(got.asnumpy(), want)


def test_matrix_rank_deficient_zero_and_hermitian():
    a = np.outer(RNG.standard_normal(5), RNG.standard_normal(4))
    stack = np.stack([a, a + np.eye(5, 4), np.zeros((5, 4))])
    np.testing.assert_array_equal(LA.matrix_rank(mx.np.array(stack, dtype="float64"))
                                  .asnumpy(), [1, 4, 0])
    np.testing.assert_array_equal(LA.matrix_rank(mx.np.zeros(3)).asnumpy(), 0)
    s = a[:4] @ a[:4].T
    assert int(LA.matrix_rank(mx.np.array(s, dtype="float64"), hermitian=True)) == 1
    assert int(LA.matrix_rank(mx.np.array(stack[1], dtype="float64"), 1e-9)) == 4


# -- tensorinv / tensorsolve -----------------------------------------------------------------
@pytest.mark.parametrize("shape, ind", [((4, 6, 8, 3), 2), ((6, 2, 3), 1), ((2, 3, 6), 2),
                                        ((1, 1, 1), 1), ((3, 3), 1)])
def test_tensorinv(shape, ind):
    n = int(np.prod(shape[:ind]))
    a = _well_conditioned((n, n)).reshape(shape)
    got = LA.tensorinv(mx.np.array(a, dtype="float64"), ind)
    want = np.linalg.tensorinv(a, ind)
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-10, atol=1e-12)
    if a.size <= 36:
        check_gradient(lambda v: LA.tensorinv(v, ind), a, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        LA.tensorinv(mx.np.ones((2, 3)), 1)


@pytest.mark.parametrize("a_shape, b_shape, axes", [((6, 2, 3), (6,), None),
                                                    ((2, 3, 6), (6,), (0, 1)),
                                                    ((3, 4, 2, 3, 2), (3, 4), None),
                                                    ((2, 3, 3, 4, 2), (3, 4), (0, 2, 4)),
                                                    ((1, 1, 1), (1, 1, 1), None),
                                                    ((), (), None)])
def test_tensorsolve(a_shape, b_shape, axes, dtype="float64"):
    n = int(np.prod(b_shape))
    a = _well_conditioned((n, n)).reshape(a_shape)
    b = RNG.standard_normal(b_shape)
    got = LA.tensorsolve(mx.np.array(a, dtype=dtype), mx.np.array(b, dtype=dtype), axes)
    want = np.linalg.tensorsolve(a, b, axes)
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-10, atol=1e-12)
    if a.size <= 144:
        check_gradient(lambda u, w: LA.tensorsolve(u, w, axes), a, b, rtol=1e-5, atol=1e-7)


def test_tensorsolve_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        LA.tensorsolve(mx.np.ones((2, 3, 4)), mx.np.ones((2,)))


# -- second order (create_graph=True) --------------------------------------------------------
def _grad_sq(fn, host):
    x = mx.np.array(host, dtype="float64")
    x.attach_grad()
    with mx.autograd.record():
        y = mx.np.sum(fn(x))
    y.backward()
    return (x.grad.asnumpy() ** 2).sum()


@pytest.mark.parametrize("name, fn, shape", [
    ("qr_tall", lambda v: LA.qr(v)[0] ** 2, (4, 3)),
    ("qr_wide", lambda v: LA.qr(v)[1] ** 2, (3, 4)),
    ("pinv", lambda v: LA.pinv(v) ** 2, (4, 3)),
    ("eigvalsh", lambda v: LA.eigvalsh(_sym(v)) ** 3, (3, 3)),
    ("eigh_vectors", lambda v: LA.eigh(_sym(v))[1] ** 2, (3, 3)),
    ("tensorinv", lambda v: LA.tensorinv(v, 1) ** 2, (3, 3)),
])
def test_second_order(name, fn, shape):
    host = _well_conditioned(shape) if name != "eigh_vectors" else RNG.standard_normal(shape)
    x = mx.np.array(host, dtype="float64")
    x.attach_grad()
    with mx.autograd.record():
        (gx,) = mx.autograd.grad(mx.np.sum(fn(x)), [x], create_graph=True)
        penalty = mx.np.sum(gx * gx)
    penalty.backward()
    numeric = central_difference(lambda h: _grad_sq(fn, h), host, 1e-6)
    np.testing.assert_allclose(x.grad.asnumpy(), numeric, rtol=1e-5, atol=1e-6)


# -- every device ----------------------------------------------------------------------------
def test_on_device(device):
    a = _well_conditioned((2, 4, 3))
    s = RNG.standard_normal((2, 3, 3))
    s = s + np.swapaxes(s, -1, -2)
    x = mx.np.array(a, dtype="float64", device=device)
    xs = mx.np.array(s, dtype="float64", device=device)
    q, r = LA.qr(x)
    np.testing.assert_allclose(q.asnumpy(), np.linalg.qr(a)[0], atol=1e-10)
    assert q.device == device
    np.testing.assert_allclose(LA.pinv(x).asnumpy(), np.linalg.pinv(a), atol=1e-10)
    np.testing.assert_allclose(LA.eigvalsh(xs).asnumpy(), np.linalg.eigvalsh(s), atol=1e-10)
    np.testing.assert_allclose(LA.eigh(xs)[0].asnumpy(), np.linalg.eigh(s)[0], atol=1e-10)
    np.testing.assert_allclose(np.sort(LA.eigvals(xs).asnumpy(), -1),
                               np.sort(np.linalg.eigvals(s).real, -1), atol=1e-10)
    assert LA.eig(xs)[1].shape == (2, 3, 3) and LA.eig(xs)[1].device == device
    np.testing.assert_array_equal(LA.matrix_rank(x).asnumpy(), [3, 3])
    b = RNG.standard_normal(4)
    got = LA.lstsq(x[0], mx.np.array(b, dtype="float64", device=device), rcond=None)
    np.testing.assert_allclose(got[0].asnumpy(), np.linalg.lstsq(a[0], b)[0], atol=1e-10)
    np.testing.assert_allclose(LA.tensorinv(xs[0], 1).asnumpy(), np.linalg.inv(s[0]),
                               atol=1e-10)
    np.testing.assert_allclose(LA.vector_norm(x, "inf", (0, 2)).asnumpy(),
                               np.abs(a).max(axis=(0, 2)), atol=1e-12)
    np.testing.assert_allclose(LA.matrix_norm(x, "nuc").asnumpy(),
                               np.linalg.norm(a, "nuc", axis=(-2, -1)), atol=1e-10)
    check_gradient(LA.qr, a, device=device, rtol=1e-5, atol=1e-7)
    check_gradient(LA.pinv, a, device=device, rtol=1e-5, atol=1e-7)
    check_gradient(lambda v: LA.eigvalsh(_sym(v)), s, device=device, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(4, 2), (2, 5), (3, 3), (2, 4, 3), (0, 3)])
def test_svd_full_matrices_completes_u_and_vh(shape):
    a = np.random.default_rng(0).standard_normal(shape)
    u, s, vh = mx.np.linalg.svd(mx.np.array(a, dtype="float64"), full_matrices=True)
    m, n = shape[-2:]
    assert u.shape == shape[:-2] + (m, m) and vh.shape == shape[:-2] + (n, n)
    sigma = np.zeros(shape)
    k = np.arange(min(m, n))
    sigma[..., k, k] = s.asnumpy()
    np.testing.assert_allclose(u.asnumpy() @ sigma @ vh.asnumpy(), a, atol=1e-10)
    for q, size in ((u.asnumpy(), m), (vh.asnumpy(), n)):
        np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q,
                                    np.broadcast_to(np.eye(size), q.shape), atol=1e-10)
    if a.size:
        check_gradient(lambda x: mx.np.linalg.svd(x, full_matrices=True)[1], a)
