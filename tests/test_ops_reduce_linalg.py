"""Reductions and linear algebra: values equal numpy's, gradients match finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mxlite as mx
from mxlite.test_utils import central_difference, check_gradient

mnp = mx.np
RNG = np.random.default_rng(3)

REDUCTIONS = [
    ("sum", {}), ("mean", {}), ("prod", {}), ("max", {}), ("min", {}), ("var", {}),
    ("std", {}), ("var", {"ddof": 1}), ("std", {"ddof": 1}),
]
AXES = [((2, 3, 4), None), ((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), (0, 2)),
        ((3,), 0), ((), None)]


@pytest.mark.parametrize("shape,axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name,kw", REDUCTIONS)
def test_reduction_value_and_gradient(name, kw, shape, axis, keepdims, device):
    if name in ("var", "std") and kw.get("ddof") and shape in ((), ):
        pytest.skip("ddof=1 over one element divides by zero")
    x = RNG.uniform(0.5, 1.5, shape)
    fn = getattr(mnp, name)
    got = fn(mnp.array(x, dtype="float64", device=device), axis=axis, keepdims=keepdims, **kw)
    np.testing.assert_allclose(got.asnumpy(), getattr(np, name)(x, axis=axis,
                                                                keepdims=keepdims, **kw))
    check_gradient(lambda a: fn(a, axis=axis, keepdims=keepdims, **kw), x, device=device)


def test_var_correction_alias(device):
    x = mnp.array([1.0, 2.0, 4.0], device=device)
    assert float(mnp.var(x, correction=1)) == pytest.approx(np.var([1, 2, 4], ddof=1))
    assert float(mnp.std(x, ddof=1)) == pytest.approx(np.std([1, 2, 4], ddof=1))


def test_prod_gradient_with_zeros_has_no_nan(device):
    for x in ([2.0, 0.0, 3.0], [0.0, 0.0, 3.0], [[1.0, 0.0], [2.0, 5.0]]):
        x = np.array(x)
        g = check_gradient(lambda a: mnp.prod(a, axis=-1), x, device=device)[0]
        assert np.isfinite(g).all()
    a = mnp.array([2.0, 0.0, 3.0], device=device)
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.prod(a)
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [0, 6, 0])


def test_max_ties_give_full_gradient_to_each(device):
    a = mnp.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], device=device)
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.max(a, axis=1)
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [[0, 1, 1], [1, 1, 0]])


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum(axis, device):
    x = RNG.standard_normal((3, 4))
    got = mnp.cumsum(mnp.array(x, dtype="float64", device=device), axis=axis)
    np.testing.assert_allclose(got.asnumpy(), np.cumsum(x, axis=axis))
    check_gradient(lambda a: mnp.cumsum(a, axis=axis), x, device=device)


def test_average_weights(device):
    x = RNG.standard_normal((3, 4))
    w = RNG.uniform(0.5, 1, (4,))
    got = mnp.average(mnp.array(x, device=device), axis=1, weights=mnp.array(w, device=device))
    np.testing.assert_allclose(got.asnumpy(), np.average(x, axis=1, weights=w), rtol=1e-5)
    check_gradient(lambda a, b: mnp.average(a, axis=1, weights=b), x, w, device=device)
    check_gradient(lambda a, b: mnp.average(a, weights=b), x, RNG.uniform(0.5, 1, (3, 4)),
                   device=device)
    res, total = mnp.average(mnp.array(x, device=device), axis=0, returned=True)
    assert total.tolist() == [3.0] * 4


def test_logical_reductions_and_arg(device):
    x = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0]])
    a = mnp.array(x, device=device)
    for name in ("all", "any"):
        for axis in (None, 0, 1):
            np.testing.assert_array_equal(getattr(mnp, name)(a, axis=axis).asnumpy(),
                                          getattr(np, name)(x, axis=axis))
    np.testing.assert_array_equal(mnp.count_nonzero(a, axis=1).asnumpy(), [2, 1])
    assert mnp.argmax(mnp.array([1.0, 3.0, 3.0], device=device)).item() == 1
    assert mnp.argmin(a, axis=1).dtype == np.int64


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_reductions_over_random_axes(shape, data):
    nd = len(shape)
    axes = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=0, max_size=nd,
                              unique_by=lambda a: a % nd))
    axis = tuple(axes) if axes else None
    keep = data.draw(st.booleans())
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    a = mnp.array(x, dtype="float64")
    for name in ("sum", "mean", "max", "min", "prod", "var", "std", "any"):
        np.testing.assert_allclose(getattr(mnp, name)(a, axis=axis, keepdims=keep).asnumpy(),
                                   getattr(np, name)(x, axis=axis, keepdims=keep), rtol=1e-10)
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.sum(a * a, axis=axis, keepdims=keep)
    y.backward()
    np.testing.assert_allclose(a.grad.asnumpy(), 2 * x)


# -- products ----------------------------------------------------------------------------
PRODUCTS = [
    ("dot", lambda a, b: mnp.dot(a, b), [(3,), (3,)]),
    ("dot2", lambda a, b: mnp.dot(a, b), [(2, 3), (3, 4)]),
    ("dot3", lambda a, b: mnp.dot(a, b), [(2, 2, 3), (2, 3, 2)]),
    ("dot0", lambda a, b: mnp.dot(a, b), [(), (3,)]),
    ("matmul_batch", lambda a, b: mnp.matmul(a, b), [(2, 1, 2, 3), (3, 3, 2)]),
    ("matmul_vec", lambda a, b: mnp.matmul(a, b), [(3,), (2, 3, 2)]),
    ("vdot", lambda a, b: mnp.vdot(a, b), [(2, 3), (6,)]),
    ("inner", lambda a, b: mnp.inner(a, b), [(2, 3), (4, 3)]),
    ("outer", lambda a, b: mnp.outer(a, b), [(3,), (2, 2)]),
    ("tensordot", lambda a, b: mnp.tensordot(a, b, axes=([0, 2], [2, 0])), [(2, 3, 4), (4, 5, 2)]),
    ("kron", lambda a, b: mnp.kron(a, b), [(2, 3), (2, 2)]),
    ("kron_mixed", lambda a, b: mnp.kron(a, b), [(3,), (2, 2)]),
]


@pytest.mark.parametrize("name,fn,shapes", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products(name, fn, shapes, device):
    xs = [RNG.standard_normal(s) for s in shapes]
    np_name = name.rstrip("0123").replace("_batch", "").replace("_vec", "").replace("_mixed", "")
    np_fn = {"tensordot": lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0]))}.get(
        np_name, getattr(np, np_name))
    got = fn(*[mnp.array(x, dtype="float64", device=device) for x in xs])
    np.testing.assert_allclose(got.asnumpy(), np_fn(*xs), rtol=1e-12, atol=1e-12)
    check_gradient(fn, *xs, device=device)


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ij->ji", [(2, 3)]), ("i,i", [(3,), (3,)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 2)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ijk->i", [(2, 3, 2)]), ("i,j,k->ijk", [(2,), (3,), (2,)]), ("iij->j", [(2, 2, 3)]),
    ("...i,...i", [(1, 3), (2, 3)]), ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("bij,bkj->bki", [(2, 3, 4), (2, 2, 4)]), ("ij,kl->ljki", [(2, 3), (2, 2)]),
    ("ijk,jl->l", [(2, 3, 2), (3, 4)]), ("ab,ba->", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_any_subscripts(spec, shapes, device):
    xs = [RNG.standard_normal(s) for s in shapes]
    got = mnp.einsum(spec, *[mnp.array(x, dtype="float64", device=device) for x in xs])
    np.testing.assert_allclose(got.asnumpy(), np.einsum(spec, *xs), rtol=1e-12, atol=1e-12)
    check_gradient(lambda *a: mnp.einsum(spec, *a), *xs, device=device)


def test_diagonals_and_triangles(device):
    x = RNG.standard_normal((3, 4))
    a = mnp.array(x, dtype="float64", device=device)
    for k in (-1, 0, 2):
        np.testing.assert_allclose(mnp.diagonal(a, k).asnumpy(), np.diagonal(x, k))
        np.testing.assert_allclose(mnp.tril(a, k).asnumpy(), np.tril(x, k))
        np.testing.assert_allclose(mnp.triu(a, k).asnumpy(), np.triu(x, k))
        check_gradient(lambda m: mnp.trace(m, k) + mnp.tril(m, k) * mnp.triu(m, k), x,
                       device=device)
    v = RNG.standard_normal(3)
    np.testing.assert_allclose(mnp.diag(mnp.array(v, dtype="float64"), 1).asnumpy(),
                               np.diag(v, 1))
    check_gradient(lambda m: mnp.diag(m, -1), v, device=device)
    check_gradient(lambda m: mnp.diag(m), x, device=device)
    check_gradient(lambda m: mnp.diagonal(m, 0, 2, 0), RNG.standard_normal((2, 3, 3)),
                   device=device)


def _spd(n, batch=()):
    m = RNG.standard_normal(batch + (n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


def test_linalg_values(device):
    a = _spd(3, (2,))
    ma = mnp.array(a, dtype="float64", device=device)
    la = mnp.linalg
    np.testing.assert_allclose(la.inv(ma).asnumpy(), np.linalg.inv(a), rtol=1e-10)
    np.testing.assert_allclose(la.det(ma).asnumpy(), np.linalg.det(a), rtol=1e-10)
    sign, logdet = la.slogdet(ma)
    np.testing.assert_allclose(logdet.asnumpy(), np.linalg.slogdet(a)[1], rtol=1e-10)
    np.testing.assert_allclose(la.cholesky(ma).asnumpy(), np.linalg.cholesky(a), rtol=1e-10)
    b = RNG.standard_normal((2, 3, 2))
    np.testing.assert_allclose(la.solve(ma, mnp.array(b, dtype="float64", device=device)).asnumpy(),
                               np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(la.solve(ma[0], mnp.array(b[0, :, 0], dtype="float64", device=device)).asnumpy(),
                               np.linalg.solve(a[0], b[0, :, 0]), rtol=1e-10)
    np.testing.assert_allclose(la.svd(ma)[1].asnumpy(), np.linalg.svd(a)[1], rtol=1e-10)
    # b shaped a.shape[:-1] is a stack of vectors (MXNet's and NumPy 1.x's rule)
    vecs = RNG.standard_normal((2, 3))
    got = la.solve(ma, mnp.array(vecs, dtype="float64", device=device)).asnumpy()
    np.testing.assert_allclose(got, np.linalg.solve(a, vecs[..., None])[..., 0], rtol=1e-10)
    with pytest.raises(ValueError, match=r"b of shape \(2, 4\) does not fit a of shape"):
        la.solve(ma, mnp.ones((2, 4), dtype="float64", device=device))


LINALG_GRADS = [
    ("inv", lambda a: mnp.linalg.inv(a), [(3, 3)]),
    ("det", lambda a: mnp.linalg.det(a), [(2, 3, 3)]),
    ("slogdet", lambda a: mnp.linalg.slogdet(a)[1], [(3, 3)]),
    ("solve", lambda a, b: mnp.linalg.solve(a, b), [(3, 3), (3, 2)]),
    ("solve_vec", lambda a, b: mnp.linalg.solve(a, b), [(3, 3), (3,)]),
    ("solve_stack_of_vecs", lambda a, b: mnp.linalg.solve(a, b), [(2, 3, 3), (2, 3)]),
    ("solve_one_vec_for_a_stack", lambda a, b: mnp.linalg.solve(a, b), [(2, 3, 3), (3,)]),
    ("cholesky", lambda m: mnp.linalg.cholesky(mnp.matmul(m, m.T) + 3 * mnp.eye(3,
                                                dtype="float64", device=m.device)), [(3, 3)]),
    ("svdvals", lambda a: mnp.linalg.svd(a)[1], [(3, 2)]),
]


@pytest.mark.parametrize("name,fn,shapes", LINALG_GRADS, ids=[g[0] for g in LINALG_GRADS])
def test_linalg_gradients(name, fn, shapes, device):
    xs = [RNG.standard_normal(s) + (2 * np.eye(s[-1]) if len(s) >= 2 and s[-1] == s[-2]
                                    else 0) for s in shapes]
    check_gradient(fn, *xs, device=device, rtol=1e-5, atol=1e-6)


NORMS = [
    (None, None), (2, 0), (1, 1), (np.inf, 1), (-np.inf, 0), (3, -1), ("fro", None),
    ("nuc", None), (1, (0, 1)), (np.inf, (1, 0)), (2, (0, 1)), (-2, (0, 1)), (-1, (0, 1)),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("ord_,axis", NORMS)
def test_norm(ord_, axis, keepdims, device):
    x = RNG.standard_normal((3, 4))
    got = mnp.linalg.norm(mnp.array(x, dtype="float64", device=device), ord_, axis, keepdims)
    np.testing.assert_allclose(got.asnumpy(), np.linalg.norm(x, ord_, axis, keepdims),
                               rtol=1e-10)
    check_gradient(lambda a: mnp.linalg.norm(a, ord_, axis, keepdims), x, device=device)


def test_norm_of_zero_has_zero_gradient(device):
    a = mnp.zeros((3,), device=device)
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.linalg.norm(a)
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [0, 0, 0])


def test_second_order_einsum_and_inv(device):
    def f(m):
        return mnp.einsum("ij,ji->", m, m * m) + mnp.sum(mnp.linalg.inv(m))

    def first_grad(h):
        m = mnp.array(h, dtype="float64", device=device)
        m.attach_grad()
        with mx.autograd.record():
            y = f(m)
        y.backward()
        return m.grad.asnumpy()

    h = np.array([[2.0, 0.5], [0.3, 1.5]])
    x = mnp.array(h, dtype="float64", device=device)
    x.attach_grad()
    with mx.autograd.record():
        (dx,) = mx.autograd.grad(f(x), [x], create_graph=True)
        z = mnp.sum(dx * dx)
    z.backward()
    num = central_difference(lambda v: (first_grad(v) ** 2).sum(), h)
    np.testing.assert_allclose(x.grad.asnumpy(), num, rtol=1e-5)


QUANTILES = [(0.3, None, False), ([0.1, 0.5, 1.0], 1, False), (0.7, 0, True),
             ([0.2, 0.9], -1, True), (0.5, None, True)]


@pytest.mark.parametrize("q,axis,keepdims", QUANTILES)
def test_quantile_family(q, axis, keepdims, device):
    x = RNG.standard_normal((3, 5))
    got = mnp.quantile(mnp.array(x, dtype="float64", device=device), q, axis=axis,
                       keepdims=keepdims)
    np.testing.assert_allclose(got.asnumpy(), np.quantile(x, q, axis=axis, keepdims=keepdims),
                               rtol=1e-12)
    check_gradient(lambda a: mnp.quantile(a, q, axis=axis, keepdims=keepdims), x,
                   device=device)
    np.testing.assert_allclose(mnp.median(mnp.array(x, dtype="float64"), axis=1).asnumpy(),
                               np.median(x, axis=1))
    np.testing.assert_allclose(mnp.percentile(mnp.array(x, dtype="float64"), 25).asnumpy(),
                               np.percentile(x, 25))


def test_nan_reductions(device):
    x = RNG.standard_normal((3, 4))
    x[0, 1] = x[2, 3] = np.nan
    a = mnp.array(x, dtype="float64", device=device)
    np.testing.assert_allclose(mnp.nansum(a, axis=0).asnumpy(), np.nansum(x, axis=0))
    np.testing.assert_allclose(mnp.nanmean(a, axis=1).asnumpy(), np.nanmean(x, axis=1))
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.nanmean(a, axis=1)
    y.backward()
    np.testing.assert_allclose(a.grad.asnumpy(), np.where(np.isnan(x), 0,
                                                          1 / (~np.isnan(x)).sum(1, keepdims=True)))


def test_closeness_predicates(device):
    a = mnp.array([1.0, np.nan], device=device)
    assert mnp.isclose(a, a, equal_nan=True).tolist() == [True, True]
    assert mnp.allclose(a[:1], 1.0 + 1e-9)
    assert mnp.array_equal(a, a, equal_nan=True) and not mnp.array_equal(a, a)
    assert not mnp.array_equal(a, a[:1])
