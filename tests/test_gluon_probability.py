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
