"""mx.gluon.probability against scipy.stats, central differences and Monte Carlo."""
import numpy as onp
import pytest

import mxlite as mx
from mxlite.test_utils import check_gradient

mgp = mx.gluon.probability
np = mx.np
ss = pytest.importorskip("scipy.stats", reason="scipy gives the reference densities")

R = onp.random.RandomState(0)
X = R.uniform(0.2, 0.9, (2, 3))
A = R.uniform(0.5, 1.5, (2, 3))
B = R.uniform(0.5, 1.5, (2, 3))

CASES = [  # (mxlite dist, scipy frozen dist, methods)
    (lambda: mgp.Normal(np.array(A - 1), np.array(B)), ss.norm(A - 1, B),
     ['log_prob', 'cdf', 'icdf', 'mean', 'variance', 'entropy']),
    (lambda: mgp.Laplace(np.array(A), np.array(B)), ss.laplace(A, B),
     ['log_prob', 'cdf', 'icdf', 'mean', 'variance', 'entropy']),
    (lambda: mgp.Cauchy(np.array(A), np.array(B)), ss.cauchy(A, B),
     ['log_prob', 'cdf', 'icdf', 'entropy']),
    (lambda: mgp.Gumbel(np.array(A), np.array(B)), ss.gumbel_r(A, B),
     ['log_prob', 'cdf', 'icdf', 'mean', 'variance', 'entropy']),
    (lambda: mgp.Uniform(np.array(A - 1), np.array(A + B)), ss.uniform(A - 1, B + 1),
     ['log_prob', 'cdf', 'icdf', 'mean', 'variance', 'entropy']),
    (lambda: mgp.HalfNormal(np.array(B)), ss.halfnorm(0, B),
     ['log_prob', 'cdf', 'icdf', 'mean', 'variance', 'entropy']),
    (lambda: mgp.HalfCauchy(np.array(B)), ss.halfcauchy(0, B),
     ['log_prob', 'cdf', 'icdf', 'entropy']),
    (lambda: mgp.Exponential(np.array(B)), ss.expon(scale=B),
     ['log_prob', 'cdf', 'icdf', 'mean', 'variance', 'entropy']),
    (lambda: mgp.Gamma(np.array(A), np.array(B)), ss.gamma(A, scale=B),
     ['log_prob', 'mean', 'variance', 'entropy']),
    (lambda: mgp.Beta(np.array(A), np.array(B)), ss.beta(A, B),
     ['log_prob', 'mean', 'variance', 'entropy']),
    (lambda: mgp.StudentT(np.array(A + 2), 0.0, np.array(B)), ss.t(A + 2, 0, B),
     ['log_prob', 'mean', 'variance', 'entropy']),
    (lambda: mgp.Weibull(np.array(A), np.array(B)), ss.weibull_min(A, scale=B),
     ['log_prob', 'cdf', 'icdf', 'mean', 'variance', 'entropy']),
    (lambda: mgp.Pareto(np.array(A), np.array(B * 0.1)), ss.pareto(A, scale=B * 0.1),
     ['log_prob', 'cdf', 'icdf', 'entropy']),
    (lambda: mgp.FisherSnedecor(np.array(A), np.array(B + 4)), ss.f(A, B + 4),
     ['log_prob', 'mean', 'variance']),
    (lambda: mgp.Chi2(np.array(A)), ss.chi2(A), ['log_prob', 'mean', 'variance', 'entropy']),
]
SCIPY = {'log_prob': 'logpdf', 'cdf': 'cdf', 'icdf': 'ppf', 'mean': 'mean', 'variance': 'var',
         'entropy': 'entropy'}


@pytest.mark.parametrize("make, ref, methods", CASES,
                         ids=[c[1].dist.name for c in CASES])
def test_continuous_against_scipy(make, ref, methods):
    d = make()
    for m in methods:
        if m in ('log_prob', 'cdf', 'icdf'):
            got = getattr(d, m)(np.array(X)).asnumpy()
            want = getattr(ref, SCIPY[m])(X)
        else:
            out = getattr(d, m)
            got = (out() if callable(out) else out).asnumpy()
            want = getattr(ref, SCIPY[m])()
        onp.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=m)


def test_discrete_against_scipy():
    k = R.randint(0, 5, (2, 3)).astype('float32')
    p = R.uniform(0.1, 0.9, (2, 3))
    for make in (lambda: mgp.Bernoulli(prob=np.array(p)),
                 lambda: mgp.Bernoulli(logit=np.array(onp.log(p / (1 - p))))):
        d = make()
        onp.testing.assert_allclose(d.log_prob(np.array(k > 2)).asnumpy(),
                                    ss.bernoulli(p).logpmf(k > 2), rtol=1e-4)
        onp.testing.assert_allclose(d.entropy().asnumpy(), ss.bernoulli(p).entropy(), rtol=1e-4)
    cases = [(mgp.Binomial(n=6, prob=np.array(p)), ss.binom(6, p), k),
             (mgp.Geometric(prob=np.array(p)), ss.geom(p, loc=-1), k),
             (mgp.Poisson(np.array(A)), ss.poisson(A), k)]
    for d, ref, v in cases:
        onp.testing.assert_allclose(d.log_prob(np.array(v)).asnumpy(), ref.logpmf(v),
                                    rtol=1e-4, atol=1e-5)
        onp.testing.assert_allclose(d.mean.asnumpy(), ref.mean(), rtol=1e-4)
        onp.testing.assert_allclose(d.variance.asnumpy(), ref.var(), rtol=1e-4)
    onp.testing.assert_allclose(mgp.Geometric(prob=np.array(p)).entropy().asnumpy(),
                                ss.geom(p).entropy(), rtol=1e-4)


def test_categorical_and_dirichlet_and_mvn():
    prob = R.dirichlet([1.0] * 4, size=(2, 3))
    cat = mgp.Categorical(4, prob=np.array(prob))
    idx = R.randint(0, 4, (5, 2, 3))
    want = onp.log(onp.take_along_axis(prob[None].repeat(5, 0), idx[..., None], -1)[..., 0])
    onp.testing.assert_allclose(cat.log_prob(np.array(idx)).asnumpy(), want, rtol=1e-4)
    assert cat.sample_n((5,)).shape == (5, 2, 3)
    assert cat.enumerate_support().shape == (4, 2, 3)
    oh = mgp.OneHotCategorical(4, logit=np.array(onp.log(prob)))
    assert oh.sample().shape == (2, 3, 4)
    onp.testing.assert_allclose(oh.log_prob(np.array(onp.eye(4)[idx])).asnumpy(), want,
                                rtol=1e-4)
    alpha = R.uniform(1, 3, 4)
    x = R.dirichlet([1.0] * 4)
    d = mgp.Dirichlet(np.array(alpha))
    onp.testing.assert_allclose(d.log_prob(np.array(x)).asnumpy(),
                                ss.dirichlet(alpha).logpdf(x), rtol=1e-4)
    onp.testing.assert_allclose(d.entropy().asnumpy(), ss.dirichlet(alpha).entropy(),
                                rtol=1e-4)
    s = R.randn(3, 3)
    cov = s @ s.T + onp.eye(3)
    loc = R.randn(3)
    x = R.randn(2, 3)
    for kw in ({'cov': cov}, {'precision': onp.linalg.inv(cov)},
               {'scale_tril': onp.linalg.cholesky(cov)}):
        mvn = mgp.MultivariateNormal(np.array(loc), **{k: np.array(v) for k, v in kw.items()})
        onp.testing.assert_allclose(mvn.log_prob(np.array(x)).asnumpy(),
                                    ss.multivariate_normal(loc, cov).logpdf(x), rtol=1e-3)
        onp.testing.assert_allclose(mvn.entropy().asnumpy(),
                                    ss.multivariate_normal(loc, cov).entropy(), rtol=1e-4)
    assert mvn.sample_n(4).shape == (4, 3)


def test_log_prob_gradients():
    x = R.uniform(0.2, 0.8, (3,))
    check_gradient(lambda l, s: mgp.Normal(l, s).log_prob(np.array(x)), A[0], B[0], rtol=1e-4)
    check_gradient(lambda a, b: mgp.Beta(a, b).log_prob(np.array(x)), A[0], B[0], rtol=1e-4)
    check_gradient(lambda a, b: mgp.Gamma(a, b).log_prob(np.array(x)), A[0], B[0], rtol=1e-4)
    check_gradient(lambda lg: mgp.Bernoulli(logit=lg).log_prob(np.array(x > 0.5)), A[0],
                   rtol=1e-4)
    check_gradient(lambda lg: mgp.Categorical(logit=lg).log_prob(np.array([0, 2])),
                   R.randn(2, 3), rtol=1e-4)


def test_reparameterized_sample_gradients():
    for make in (mgp.Normal, mgp.Laplace, mgp.Cauchy, mgp.Gumbel, mgp.Uniform):
        loc = np.array(A[0]); scale = np.array(B[0] + 1)
        loc.attach_grad(); scale.attach_grad()
        mx.random.seed(3)
        with mx.autograd.record():
            y = make(loc, scale).sample()
        y.backward()
        mx.random.seed(3)
        y2 = make(loc + 1e-3, scale).sample()
        onp.testing.assert_allclose(loc.grad.asnumpy(), (y2 - y).asnumpy() / 1e-3, rtol=1e-2,
                                    atol=1e-2)
    for make in (lambda a: mgp.Gamma(a, 2.0), lambda a: mgp.Exponential(a),
                 lambda a: mgp.Beta(a, a), lambda a: mgp.HalfNormal(a)):
        a = np.array(A[0]); a.attach_grad()
        with mx.autograd.record():
            make(a).sample().sum().backward()
        assert onp.all(onp.isfinite(a.grad.asnumpy())) and onp.any(a.grad.asnumpy() != 0)


def test_sample_shapes_and_means():
    mx.random.seed(0)
    cases = [(mgp.Normal(1.5, 2.0), 1.5), (mgp.Gamma(np.array(2.0), 1.5), 3.0),
             (mgp.Beta(np.array(2.0), np.array(3.0)), 0.4), (mgp.Exponential(2.0), 2.0),
             (mgp.Poisson(np.array(3.0)), 3.0), (mgp.Binomial(5, prob=np.array(0.3)), 1.5),
             (mgp.Geometric(prob=np.array(0.4)), 1.5), (mgp.Bernoulli(prob=np.array(0.3)), 0.3)]
    for d, mean in cases:
        s = d.sample_n(20000).asnumpy()
        assert s.shape == (20000,) + d.batch_shape
        assert abs(s.mean() - mean) < 0.05 * max(mean, 1), type(d).__name__
    d = mgp.Dirichlet(np.array([1.0, 2.0, 3.0]))
    s = d.sample_n((4, 5))
    assert s.shape == (4, 5, 3)
    onp.testing.assert_allclose(s.sum(-1).asnumpy(), 1, rtol=1e-5)
    assert mgp.Normal(np.zeros((2, 3)), 1.0).sample((4, 2, 3)).shape == (4, 2, 3)
    ind = mgp.Independent(mgp.Normal(np.zeros((2, 3)), 1.0), 1)
    assert (ind.batch_shape, ind.event_shape) == ((2,), (3,))
    assert ind.log_prob(np.zeros((2, 3))).shape == (2,)
    assert mgp.Normal(np.zeros(3), 1.0).broadcast_to((2, 3)).batch_shape == (2, 3)


def test_kl_closed_form_vs_monte_carlo():
    mx.random.seed(1)
    pairs = [(mgp.Normal(0.3, 1.2), mgp.Normal(-0.2, 0.8)),
             (mgp.Laplace(0.3, 1.2), mgp.Laplace(-0.2, 0.8)),
             (mgp.Gamma(np.array(2.0), 1.2), mgp.Gamma(np.array(1.5), 0.8)),
             (mgp.Beta(np.array(2.0), np.array(1.5)), mgp.Beta(np.array(1.2), np.array(2.5))),
             (mgp.Exponential(1.2), mgp.Exponential(0.7)),
             (mgp.Exponential(1.2), mgp.Gamma(np.array(1.5), 0.8)),
             (mgp.Exponential(1.2), mgp.Normal(0.5, 1.5)),
             (mgp.Exponential(1.2), mgp.Gumbel(0.5, 1.5)),
             (mgp.Uniform(0.0, 1.0), mgp.Normal(0.5, 1.5)),
             (mgp.Uniform(0.0, 1.0), mgp.Gumbel(0.5, 1.5)),
             (mgp.Gumbel(0.2, 1.0), mgp.Gumbel(0.5, 1.5)),
             (mgp.Cauchy(0.2, 1.0), mgp.Cauchy(0.5, 1.5)),
             (mgp.HalfNormal(1.0), mgp.HalfNormal(1.5)),
             (mgp.Poisson(np.array(2.0)), mgp.Poisson(np.array(3.0))),
             (mgp.Geometric(prob=np.array(0.3)), mgp.Geometric(prob=np.array(0.6))),
             (mgp.Bernoulli(prob=np.array(0.3)), mgp.Bernoulli(prob=np.array(0.6))),
             (mgp.Binomial(4, prob=np.array(0.3)), mgp.Binomial(4, prob=np.array(0.6))),
             (mgp.Dirichlet(np.array([1.0, 2.0])), mgp.Dirichlet(np.array([2.0, 1.5])))]
    for p, q in pairs:
        kl = float(mgp.kl_divergence(p, q))
        mc = float(mgp.empirical_kl(p, q, 40000))
        assert abs(kl - mc) < 0.05 + 0.05 * abs(kl), (type(p).__name__, type(q).__name__, kl, mc)
    s = R.randn(2, 3, 3)
    mvn_p = mgp.MultivariateNormal(np.array(R.randn(2, 3)), cov=np.array(s @ s.swapaxes(1, 2)
                                                                         + onp.eye(3)))
    mvn_q = mgp.MultivariateNormal(np.zeros(3), cov=np.array(onp.eye(3) * 2))
    onp.testing.assert_allclose(mgp.kl_divergence(mvn_p, mvn_q).asnumpy(),
                                mgp.empirical_kl(mvn_p, mvn_q, 40000).asnumpy(), rtol=0.05,
                                atol=0.05)
    prob = R.dirichlet([1.0] * 4, size=3)
    cat = mgp.Categorical(4, prob=np.array(prob))
    onp.testing.assert_allclose(mgp.kl_divergence(cat, cat).asnumpy(), 0, atol=1e-6)
    with pytest.raises(NotImplementedError, match="empirical_kl"):
        mgp.kl_divergence(mgp.Normal(0.0, 1.0), mgp.Beta(1.0, 1.0))


def test_register_kl_dispatch():
    class MyNormal(mgp.Normal):
        pass
    assert float(mgp.kl_divergence(MyNormal(0.0, 1.0), mgp.Normal(0.0, 1.0))) == 0.0

    @mgp.register_kl(MyNormal, MyNormal)
    def _kl(p, q):
        return np.array(42.0)
    assert float(mgp.kl_divergence(MyNormal(0.0, 1.0), MyNormal(0.0, 1.0))) == 42.0


def test_validate_args_errors():
    with pytest.raises(ValueError, match="Constraint violated"):
        mgp.Normal(np.zeros(2), np.array([1.0, -1.0]), validate_args=True)
    with pytest.raises(ValueError, match="Constraint violated"):
        mgp.Bernoulli(prob=np.array([0.5, 1.5]), validate_args=True)
    with pytest.raises(ValueError, match="Constraint violated"):
        mgp.Uniform(1.0, 0.0, validate_args=True)
    with pytest.raises(ValueError, match="Constraint violated"):
        mgp.Dirichlet(np.array([1.0, -2.0]), validate_args=True)
    with pytest.raises(ValueError, match="Constraint violated"):
        mgp.Exponential(1.0, validate_args=True).log_prob(np.array(-1.0))
    with pytest.raises(ValueError, match="exactly one of prob and logit"):
        mgp.Bernoulli()
    with pytest.raises(ValueError, match="num_events=3"):
        mgp.Categorical(3, prob=np.ones(4) / 4)
    mgp.Normal(0.0, -1.0)  # unvalidated: no error
    c = mgp.constraint
    assert c.Interval(0, 1).check(0.5) == 0.5
    with pytest.raises(ValueError):
        c.Simplex().check(np.array([0.5, 0.6]))


def test_stochastic_block_and_sequential():
    class VAEish(mgp.StochasticBlock):
        @mgp.StochasticBlock.collectLoss
        def forward(self, loc, scale):
            qz = mgp.Normal(loc, scale)
            self.add_loss(mgp.kl_divergence(qz, mgp.Normal(np.zeros_like(loc),
                                                           np.ones_like(scale))))
            return qz.sample()

    class Plain(mgp.StochasticBlock):
        def forward(self, x):
            return x

    net = VAEish()
    out = net(np.zeros((2, 3)), np.ones((2, 3)))
    assert out.shape == (2, 3) and len(net.losses) == 1
    onp.testing.assert_allclose(net.losses[0].asnumpy(), 0, atol=1e-6)
    with pytest.raises(ValueError, match="collectLoss"):
        Plain()(np.ones(2))

    class AddOne(mx.gluon.HybridBlock):
        def forward(self, x):
            return x + 1

    class Square(mgp.StochasticBlock):
        @mgp.StochasticBlock.collectLoss
        def forward(self, x):
            self.add_loss(x ** 2)
            return x + 1

    seq = mgp.StochasticSequential()
    seq.add(Square(), AddOne(), Square())
    onp.testing.assert_allclose(seq(np.ones(2)).asnumpy(), 4)
    assert len(seq.losses) == 2
    onp.testing.assert_allclose(seq.losses[1][0].asnumpy(), 9)


def test_transformed_distributions_against_scipy():
    """Affine and exp transforms of a Normal give scipy's norm and lognorm densities."""
    loc, scale = np.array(A - 1), np.array(B)
    base = mgp.Normal(np.zeros_like(loc), np.ones_like(scale))
    affine = mgp.TransformedDistribution(base, [mgp.AffineTransform(0, scale),
                                                mgp.AffineTransform(loc, 1)])
    onp.testing.assert_allclose(affine.log_prob(np.array(X)).asnumpy(),
                                ss.norm(A - 1, B).logpdf(X), rtol=1e-5)
    lognormal = mgp.TransformedDistribution(base, mgp.ComposeTransform(
        [mgp.AffineTransform(loc, scale), mgp.ExpTransform()]))
    onp.testing.assert_allclose(lognormal.log_prob(np.array(X)).asnumpy(),
                                ss.lognorm(s=B, scale=onp.exp(A - 1)).logpdf(X), rtol=1e-5)
    assert lognormal.sample_n(4).shape == (4, 2, 3)
    assert (lognormal.sample().asnumpy() > 0).all()
    # x ** 2 of a HalfNormal is Gamma(1/2, scale=2 s^2)
    squared = mgp.TransformedDistribution(mgp.HalfNormal(scale), mgp.PowerTransform(2.0))
    onp.testing.assert_allclose(squared.log_prob(np.array(X)).asnumpy(),
                                ss.gamma(0.5, scale=2 * B ** 2).logpdf(X), rtol=1e-5)


def test_transformation_inverses_and_log_det():
    x = np.array(X - 0.5, dtype='float64')
    for t in [mgp.ExpTransform(), mgp.AffineTransform(2.0, -3.0), mgp.SigmoidTransform(),
              mgp.ComposeTransform([mgp.SigmoidTransform(), mgp.AffineTransform(1.0, 2.0)])]:
        y = t(x)
        onp.testing.assert_allclose(t.inv(y).asnumpy(), x.asnumpy(), rtol=1e-5, atol=1e-6)
        # elementwise maps: log|dy/dx| against a central difference
        h = 1e-6
        fd = (t(x + h).asnumpy() - t(x - h).asnumpy()) / (2 * h)
        onp.testing.assert_allclose(t.log_det_jacobian(x, y).asnumpy(), onp.log(onp.abs(fd)),
                                    rtol=1e-4, atol=1e-6)
        onp.testing.assert_allclose(t.inv.log_det_jacobian(y, x).asnumpy(),
                                    -t.log_det_jacobian(x, y).asnumpy(), rtol=1e-6)
    assert mgp.AbsTransform()(np.array([-2.0])).asnumpy()[0] == 2.0
    onp.testing.assert_allclose(mgp.SoftmaxTransform()(x).asnumpy().sum(-1), 1, rtol=1e-6)


@pytest.mark.parametrize("name,args", [
    ('Positive', ()), ('GreaterThan', (-1.5,)), ('GreaterThanEq', (0.5,)),
    ('LessThan', (2.0,)), ('Interval', (-1.0, 3.0)), ('Interval', (0, 1)),
    ('HalfOpenInterval', (1.0, 2.0))])
def test_domain_maps(name, args):
    c = getattr(mgp.constraint, name)(*args)
    x = np.array(R.randn(3, 4))
    for registry in (mgp.biject_to, mgp.transform_to):
        t = registry(c)
        y = t(x)
        c.check(y)
        onp.testing.assert_allclose(t.inv(y).asnumpy(), x.asnumpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(NotImplementedError, match="No transformation registered"):
        mgp.biject_to(mgp.constraint.Simplex())


def test_transform_block_is_a_block():
    class Shift(mgp.TransformBlock):
        bijective = True

        def _forward_compute(self, x):
            return x + 1

        def _inverse_compute(self, y):
            return y - 1

        def log_det_jacobian(self, x, y):
            return np.zeros_like(x)

    t = Shift()
    assert isinstance(t, mx.gluon.HybridBlock)
    d = mgp.TransformedDistribution(mgp.Normal(0.0, 1.0), t)
    onp.testing.assert_allclose(d.log_prob(np.array(1.5)).asnumpy(),
                                ss.norm(1, 1).logpdf(1.5), rtol=1e-6)


def test_negative_binomial_follows_mxnet():
    """MXNet's log_prob is scipy's nbinom(n, prob); its mean/variance nbinom(n, 1 - prob)."""
    n, p, k = A * 3, X * 0.6 + 0.2, onp.floor(B * 4)
    for d in (mgp.NegativeBinomial(np.array(n), prob=np.array(p)),
              mgp.NegativeBinomial(np.array(n), logit=np.array(onp.log(p / (1 - p))))):
        onp.testing.assert_allclose(d.log_prob(np.array(k)).asnumpy(),
                                    ss.nbinom(n, p).logpmf(k), rtol=1e-5)
        onp.testing.assert_allclose(d.mean.asnumpy(), ss.nbinom(n, 1 - p).mean(), rtol=1e-5)
        onp.testing.assert_allclose(d.variance.asnumpy(), ss.nbinom(n, 1 - p).var(), rtol=1e-5)
    draws = mgp.NegativeBinomial(np.array(4.0), prob=np.array(0.5)).sample_n(20000).asnumpy()
    assert abs(draws.mean() - 4.0) < 0.15


def test_multinomial_against_scipy():
    prob = onp.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    counts = onp.array([[1, 2, 1], [0, 4, 0]], dtype='float64')
    d = mgp.Multinomial(3, prob=np.array(prob), total_count=4)
    onp.testing.assert_allclose(d.log_prob(np.array(counts)).asnumpy(),
                                ss.multinomial(4, prob).logpmf(counts), rtol=1e-5)
    onp.testing.assert_allclose(d.mean.asnumpy(), 4 * prob, rtol=1e-6)
    s = d.sample_n(5000).asnumpy()
    assert s.shape == (5000, 2, 3) and (s.sum(-1) == 4).all()
    onp.testing.assert_allclose(s.mean(0), 4 * prob, atol=0.1)
    assert d.sample().shape == (2, 3)
    check_gradient(lambda lg: mgp.Multinomial(3, logit=lg, total_count=4).log_prob(
        np.array(counts)), onp.log(prob), rtol=1e-4)


def test_relaxed_distributions():
    """Log-densities integrate to one (hand-checked by quadrature / against the
    Concrete formula) and samples are reparameterized."""
    T, p = 0.7, 0.3
    d = mgp.RelaxedBernoulli(T, prob=np.array(p))
    grid = onp.linspace(1e-5, 1 - 1e-5, 200001)
    dens = onp.exp(d.log_prob(np.array(grid)).asnumpy())
    assert abs(onp.trapezoid(dens, grid) - 1) < 1e-3
    check_gradient(lambda lg, u: (lg + np.log(u) - np.log1p(-u)) / T, onp.array([0.2]),
                   onp.array([0.4]))
    check_gradient(lambda lg: mgp.RelaxedBernoulli(T, logit=lg).log_prob(np.array(X)),
                   A - 1, rtol=1e-4)
    logit = onp.log(onp.array([0.2, 0.3, 0.5]))
    c = mgp.RelaxedOneHotCategorical(T, 3, logit=np.array(logit))
    v = onp.array([[0.1, 0.6, 0.3], [0.25, 0.25, 0.5]])
    # Concrete density (Maddison et al. 2017): (K-1)! T^(K-1) prod(a_k v_k^(-T-1)) /
    # (sum a_k v_k^-T)^K, with a = softmax(logit)
    a = onp.exp(logit)
    ref = (onp.log(2) + 2 * onp.log(T) + (onp.log(a) - (T + 1) * onp.log(v)).sum(-1)
           - 3 * onp.log((a * v ** -T).sum(-1)))
    onp.testing.assert_allclose(c.log_prob(np.array(v)).asnumpy(), ref, rtol=1e-5)
    s = c.sample((4,))
    assert s.shape == (4, 3)
    onp.testing.assert_allclose(s.asnumpy().sum(-1), 1, rtol=1e-5)
    lg = np.array(logit)
    lg.attach_grad()
    with mx.autograd.record():
        out = (mgp.RelaxedOneHotCategorical(T, 3, logit=lg).sample((8,)) ** 2).sum()
    out.backward()
    assert onp.abs(lg.grad.asnumpy()).sum() > 0
    check_gradient(lambda lg: mgp.RelaxedOneHotCategorical(T, 3, logit=lg).log_prob(
        np.array(v)), logit, rtol=1e-4)


def test_transformed_log_prob_gradients():
    x = X[0]
    check_gradient(lambda l, s: mgp.TransformedDistribution(
        mgp.Normal(0.0, 1.0), mgp.ComposeTransform([mgp.AffineTransform(l, s),
                                                   mgp.ExpTransform()])).log_prob(np.array(x)),
        A[0] - 1, B[0], rtol=1e-4)
