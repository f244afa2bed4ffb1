"""The random family (issue 21): np.random's distributions, their reparameterized gradients,
npx.random and npx.constraint_check. Distribution checks use fixed seeds and tolerances of
several standard errors, so they are deterministic and not flaky."""
import math

import numpy as onp
import pytest

import mxlite as mx
from mxlite import autograd, np, npx
from mxlite.ops.special import _gamma_sample_dalpha

N = 20000


def _draw(fn, *args, **kwargs):
    np.random.seed(1234)
    return fn(*args, **kwargs).asnumpy().astype(onp.float64)


def _close_mean_var(x, mean, var, k=6):
    se_mean = math.sqrt(var / x.size)
    assert abs(x.mean() - mean) < k * se_mean, (x.mean(), mean)
    assert abs(x.var() - var) < 0.08 * var, (x.var(), var)


MOMENTS = [  # (sampler, args, mean, variance)
    ("uniform", (-1.0, 3.0), 1.0, 16 / 12),
    ("normal", (2.0, 0.5), 2.0, 0.25),
    ("logistic", (1.0, 2.0), 1.0, 4 * math.pi ** 2 / 3),
    ("gumbel", (0.5, 2.0), 0.5 + 2 * 0.5772156649, math.pi ** 2 / 6 * 4),
    ("laplace", (-1.0, 1.5), -1.0, 2 * 1.5 ** 2),
    ("lognormal", (0.1, 0.4), math.exp(0.1 + 0.08), (math.exp(0.16) - 1) * math.exp(0.2 + 0.16)),
    ("exponential", (2.5,), 2.5, 6.25),
    ("rayleigh", (2.0,), 2.0 * math.sqrt(math.pi / 2), (4 - math.pi) / 2 * 4),
    ("weibull", (2.0,), math.gamma(1.5), math.gamma(2) - math.gamma(1.5) ** 2),
    ("pareto", (12.0,), 1 / 11, 12 / (121 * 10)),
    ("power", (3.0,), 3 / 4, 3 / (16 * 5)),
    ("gamma", (0.4, 2.0), 0.8, 1.6),
    ("gamma", (3.0, 0.5), 1.5, 0.75),
    ("chisquare", (3.0,), 3.0, 6.0),
    ("beta", (2.0, 3.0), 0.4, 6 / (25 * 6)),
    ("f", (5.0, 12.0), 12 / 10, 2 * 144 * 15 / (5 * 100 * 8)),
]


@pytest.mark.parametrize("name,args,mean,var", MOMENTS, ids=[m[0] + str(m[1]) for m in MOMENTS])
def test_moments(name, args, mean, var):
    x = _draw(getattr(np.random, name), *args, size=N)
    assert x.shape == (N,)
    _close_mean_var(x, mean, var)


def test_ranges():
    for dtype in ("float16", "float32"):
        b = np.random.beta(0.3, 0.3, size=N, dtype=dtype).asnumpy()
        assert (b > 0).all() and (b < 1).all()
    p = _draw(np.random.power, 0.3, size=N)
    assert ((p >= 0) & (p <= 1)).all()
    for name in ("exponential", "rayleigh", "chisquare", "gamma"):
        assert (_draw(getattr(np.random, name), 1.0, size=N) >= 0).all()
    u = np.random.uniform(0, 1, size=N, dtype="float16").asnumpy()
    assert u.dtype == onp.float16 and (u < 1).all() and (u >= 0).all()


def test_gamma_ks_against_its_cdf():
    ss = pytest.importorskip("scipy.stats")
    for shape, scale in [(0.3, 1.0), (2.0, 3.0), (9.0, 0.5)]:
        x = _draw(np.random.gamma, shape, scale, size=5000)
        assert ss.kstest(x, ss.gamma(shape, scale=scale).cdf).pvalue > 1e-3


def test_bernoulli_and_categorical_chi_square():
    np.random.seed(5)
    x = npx.random.bernoulli(prob=0.3, size=N).asnumpy()
    assert abs(x.mean() - 0.3) < 5 * math.sqrt(0.21 / N)
    logit = np.array([-2.0, 0.0, 1.5])
    y = npx.random.bernoulli(logit=logit, size=(N, 3)).asnumpy().mean(axis=0)
    onp.testing.assert_allclose(y, 1 / (1 + onp.exp(-logit.asnumpy())), atol=0.015)
    p = onp.array([0.1, 0.2, 0.3, 0.4])
    c = npx.random.categorical(np.array(p), shape=(N,)).asnumpy()
    assert c.shape == (N,) and c.dtype == onp.int32
    obs = onp.bincount(c, minlength=4)
    chi2 = ((obs - N * p) ** 2 / (N * p)).sum()
    assert chi2 < 16.3  # 3 degrees of freedom, p = 0.001


def test_seed_reproduces_and_differs():
    for name, args in [("gamma", (2.0,)), ("beta", (1.0, 2.0)), ("laplace", ()),
                       ("pareto", (1.0,)), ("normal", ())]:
        fn = getattr(np.random, name)
        npx.random.seed(42)
        a = fn(*args, size=(3, 4)).asnumpy()
        npx.random.seed(42)
        b = fn(*args, size=(3, 4)).asnumpy()
        c = fn(*args, size=(3, 4)).asnumpy()
        onp.testing.assert_array_equal(a, b)
        assert not onp.array_equal(b, c)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name,args", [("uniform", ()), ("normal", ()), ("gamma", (1.0,)),
                                       ("laplace", ()), ("exponential", ()), ("beta", (1, 1)),
                                       ("chisquare", (2,)), ("weibull", (1.0,))])
def test_dtypes_and_sizes(name, args, dtype):
    fn = getattr(np.random, name)
    for size, shape in [(None, ()), (5, (5,)), ((2, 0, 3), (2, 0, 3)), ((2, 3), (2, 3))]:
        out = fn(*args, size=size, dtype=dtype)
        assert out.shape == shape and out.dtype == onp.dtype(dtype)
    assert fn(*args).dtype == onp.float32


def test_array_parameters_broadcast():
    loc = np.array([[0.0], [100.0]])
    scale = np.array([1.0, 2.0, 3.0])
    out = np.random.normal(loc, scale)
    assert out.shape == (2, 3)
    assert (out.asnumpy()[1] > 50).all() and (out.asnumpy()[0] < 50).all()
    assert np.random.normal(loc, scale, size=(4, 2, 3)).shape == (4, 2, 3)
    shapes = np.array([0.5, 50.0])
    g = np.random.gamma(shapes, 2.0, size=(N, 2)).asnumpy()
    onp.testing.assert_allclose(g.mean(axis=0), [1.0, 100.0], rtol=0.05)
    assert np.random.beta(np.ones((2, 1)), np.ones(3)).shape == (2, 3)
    assert np.random.pareto(np.ones((4, 0, 5))).shape == (4, 0, 5)
    assert npx.random.uniform_n(np.zeros(2), np.ones(2), batch_shape=(3,)).shape == (3, 2)
    assert npx.random.normal_n(0, np.ones((2, 2)), batch_shape=6, dtype="float16").shape == \
        (6, 2, 2)


def _grad(fn, *params, size):
    arrs = [np.array(p) if not isinstance(p, np.ndarray) else p for p in params]
    for a in arrs:
        a.attach_grad()
    np.random.seed(7)
    with autograd.record():
        x = fn(*arrs, size=size)
    x.backward()
    return x.asnumpy().astype(onp.float64), [a.grad.asnumpy().astype(onp.float64) for a in arrs]


def test_reparameterized_gradients_match_formulas():
    size = (400,)
    x, (gl, gs) = _grad(np.random.normal, onp.full(size, 1.0), onp.full(size, 2.0), size=size)
    onp.testing.assert_allclose(gl, 1.0)
    onp.testing.assert_allclose(gs, (x - 1.0) / 2.0, rtol=1e-5, atol=1e-6)
    x, (gm, gs) = _grad(np.random.lognormal, onp.full(size, 0.5), onp.full(size, 0.7), size=size)
    onp.testing.assert_allclose(gm, x, rtol=1e-5)
    onp.testing.assert_allclose(gs, x * (onp.log(x) - 0.5) / 0.7, rtol=1e-4, atol=1e-5)
    for name in ("exponential", "rayleigh"):
        x, (g,) = _grad(getattr(np.random, name), onp.full(size, 3.0), size=size)
        onp.testing.assert_allclose(g, x / 3.0, rtol=1e-5)
    x, (g,) = _grad(np.random.weibull, onp.full(size, 2.0), size=size)
    onp.testing.assert_allclose(g, -x * onp.log(x) / 2.0, rtol=1e-4, atol=1e-5)
    x, (g,) = _grad(np.random.pareto, onp.full(size, 2.0), size=size)
    onp.testing.assert_allclose(g, -(x + 1) * onp.log1p(x) / 2.0, rtol=1e-4, atol=1e-5)
    x, (glo, ghi) = _grad(np.random.uniform, onp.full(size, 1.0), onp.full(size, 3.0), size=size)
    onp.testing.assert_allclose(ghi, (x - 1.0) / 2.0, rtol=1e-5, atol=1e-6)
    onp.testing.assert_allclose(glo + ghi, 1.0, rtol=1e-5)


def test_gradients_sum_over_broadcast_parameters():
    loc, scale = np.zeros((4, 1)), np.ones((5,))
    loc.attach_grad()
    scale.attach_grad()
    with autograd.record():
        x = np.random.gumbel(loc, scale, size=(3, 4, 5))
    x.backward()
    assert loc.grad.shape == (4, 1) and scale.grad.shape == (5,)
    onp.testing.assert_allclose(loc.grad.asnumpy(), 15.0)
    onp.testing.assert_allclose(scale.grad.asnumpy(), x.asnumpy().sum(axis=(0, 1)), rtol=1e-5)


def test_gamma_gradient_in_scale_and_mean_of_shape_gradient():
    # E[x] = shape * scale, so by reparameterization E[dx/dshape] = scale.
    for shape, scale in [(0.5, 2.0), (4.0, 1.5)]:
        x, (gk, gt) = _grad(np.random.gamma, onp.full((N,), shape), onp.full((N,), scale),
                            size=(N,))
        onp.testing.assert_allclose(gt, x / scale, rtol=1e-5)
        sd = gk.std() / math.sqrt(N)
        assert abs(gk.mean() - scale) < 6 * sd


def test_gamma_shape_gradient_against_cdf_differences():
    sp = pytest.importorskip("scipy.special")
    for a in (0.3, 1.0, 2.0, 7.5, 60.0):
        q = onp.array([1e-4, 0.02, 0.2, 0.5, 0.8, 0.98, 0.9999])
        x = sp.gammaincinv(a, q)
        e = 1e-6 * a
        ref = -(sp.gammainc(a + e, x) - sp.gammainc(a - e, x)) / (2 * e) / onp.exp(
            (a - 1) * onp.log(x) - x - sp.gammaln(a))
        got = _gamma_sample_dalpha(onp, onp.full_like(x, a), x, None)
        onp.testing.assert_allclose(got, ref, rtol=1e-5)


def test_chained_gamma_family_is_differentiable():
    a = np.full((50,), 2.0)
    a.attach_grad()
    with autograd.record():
        y = np.random.beta(a, 3.0) + np.random.chisquare(a) + np.random.f(a, a)
    y.backward()
    assert a.grad.shape == (50,) and onp.isfinite(a.grad.asnumpy()).all()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_hybridized_forward_still_samples_and_differentiates():
    class Net(mx.gluon.HybridBlock):
        def forward(self, scale):
            return np.random.exponential(scale, (6,))
    net = Net()
    net.hybridize()
    scale = np.ones((6,))
    scale.attach_grad()
    with autograd.record():
        a = net(scale)
    a.backward()
    onp.testing.assert_allclose(scale.grad.asnumpy(), a.asnumpy(), rtol=1e-6)
    assert not onp.array_equal(net(scale).asnumpy(), a.asnumpy())


@pytest.mark.parametrize("call", [
    lambda: np.random.gamma(0, 1), lambda: np.random.gamma(1, 0),
    lambda: np.random.gamma(np.array([1.0, -1.0])), lambda: np.random.gamma(1, np.array(-1.0)),
    lambda: np.random.lognormal(sigma=-1), lambda: np.random.exponential(-1),
    lambda: np.random.rayleigh(np.array([-1.0])), lambda: np.random.weibull(0),
    lambda: np.random.pareto(-1), lambda: np.random.power(0), lambda: np.random.beta(1, 0),
    lambda: np.random.chisquare(0), lambda: np.random.f(1, -2),
    lambda: np.random.normal(0, -1),
    lambda: npx.random.bernoulli(prob=0.5, logit=0.0), lambda: npx.random.bernoulli(),
    lambda: npx.random.bernoulli(prob=np.array([0.5, 1.5])),
    lambda: npx.random.bernoulli(prob=-0.1),
])
def test_out_of_domain_parameters_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("dtype", ["float16", "float64", "int32", "bool"])
def test_bernoulli_dtypes_and_shapes(dtype):
    prob = np.random.uniform(size=(2, 3))
    out = npx.random.bernoulli(prob=prob, dtype=dtype)
    assert out.shape == (2, 3) and out.dtype == onp.dtype(dtype)
    assert npx.random.bernoulli(prob=0.5, size=4, dtype=dtype).shape == (4,)
    assert set(onp.unique(out.asnumpy().astype(int))) <= {0, 1}


def test_multinomial_counts():
    np.random.seed(3)
    n = np.array([5.0, 0.0, 12.0])
    p = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]])
    out = npx.random.multinomial(n, p, shape=(7,)).asnumpy()
    assert out.shape == (3, 7, 2)
    onp.testing.assert_array_equal(out.sum(axis=-1), [[5] * 7, [0] * 7, [12] * 7])
    onp.testing.assert_array_equal(out[2, :, 1], 0)
    big = npx.random.multinomial(np.array(20.0), np.array([0.25, 0.75]), shape=(2000,))
    assert abs(big.asnumpy()[:, 0].mean() - 5.0) < 6 * math.sqrt(20 * 0.1875 / 2000)
    assert npx.random.multinomial(np.ones((2, 3)), np.ones((2, 3, 4)) / 4).shape == (2, 3, 4)


def test_categorical_shapes():
    prob = np.ones((2, 3, 5)) / 5
    assert npx.random.categorical(prob).shape == (2, 3)
    out = npx.random.categorical(prob, shape=(4, 6))
    assert out.shape == (2, 3, 4, 6)
    assert out.asnumpy().min() >= 0 and out.asnumpy().max() <= 4


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_constraint_check():
    ok = npx.constraint_check(np.ones((2, 3), dtype="bool"), "fine")
    assert ok.shape == () and bool(ok.asnumpy())
    x = np.array([1.0, 2.0])
    onp.testing.assert_array_equal((x * ok).asnumpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="must be positive"):
        npx.constraint_check(np.array([True, False]), "must be positive")

    class Check(mx.gluon.HybridBlock):
        def forward(self, x):
            return x * npx.constraint_check(x > 0, "negative")
    net = Check()
    net.hybridize()
    onp.testing.assert_array_equal(net(x).asnumpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="negative"):
        net(np.array([1.0, -1.0]))


def test_mx_random_and_npx_random_names():
    assert npx.random.seed is not None and mx.random.gamma is not None
    mx.random.seed(9)
    a = mx.random.gamma(2.0, shape=(3,)).asnumpy()
    npx.random.seed(9)
    b = np.random.gamma(2.0, size=(3,)).asnumpy()
    onp.testing.assert_array_equal(a, b)


def test_draws_and_gradients_on_each_device(device):
    """Every sampler draws on the target device's generator; gradients stay there too."""
    for name, args in [("uniform", (0.0, 2.0)), ("normal", ()), ("gamma", (0.5,)),
                       ("beta", (2.0, 2.0)), ("f", (3.0, 4.0)), ("laplace", ()),
                       ("pareto", (2.0,)), ("rayleigh", ())]:
        out = getattr(np.random, name)(*args, size=(2, 3), device=device)
        assert out.device == device and out.shape == (2, 3)
    with device:
        shape = np.full((200,), 3.0)
        scale = np.full((200,), 2.0)
        shape.attach_grad()
        scale.attach_grad()
        with autograd.record():
            x = np.random.gamma(shape, scale)
        x.backward()
        assert shape.grad.device == device
        onp.testing.assert_allclose(scale.grad.asnumpy(), x.asnumpy() / 2.0, rtol=1e-5)
        assert abs(shape.grad.asnumpy().mean() - 2.0) < 0.5
        b = npx.random.bernoulli(prob=np.full((3,), 0.5))
        c = npx.random.multinomial(np.array([3.0]), np.array([[0.5, 0.5]]), shape=(2,))
        assert b.device == device and c.device == device
        assert (c.asnumpy().sum(-1) == 3).all()
        assert bool(npx.constraint_check(np.ones((2,), dtype="bool")).asnumpy())
