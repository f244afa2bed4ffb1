"""KL divergences: a registry keyed by (type of p, type of q), dispatched on the most
specific registered pair, and a Monte-Carlo estimate for any pair."""
import math

import numpy as _onp

from .... import numpy as np
from .utils import gammaln, digamma, sum_right_most

__all__ = ['register_kl', 'kl_divergence', 'empirical_kl']

_KL_REGISTRY = {}
_EULER = 0.5772156649015329  # Euler-Mascheroni constant


def register_kl(typeP, typeQ):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for ``p: typeP``, ``q: typeQ``."""
    def decorator(func):
        _KL_REGISTRY[typeP, typeQ] = func
        return func
    return decorator


def _dispatch(typeP, typeQ):
    matches = [(p, q) for p, q in _KL_REGISTRY
               if issubclass(typeP, p) and issubclass(typeQ, q)]
    if not matches:
        return None
    # the pair nearest to (typeP, typeQ) along both method-resolution orders
    return _KL_REGISTRY[min(matches, key=lambda pq: (typeP.__mro__.index(pq[0]) +
                                                     typeQ.__mro__.index(pq[1])))]


def kl_divergence(p, q):
    """KL(p || q) in closed form, per batch element."""
    func = _dispatch(type(p), type(q))
    if func is None:
        raise NotImplementedError(f"No KL divergence registered for ({type(p).__name__}, "
                                  f"{type(q).__name__}); use empirical_kl(p, q, n_samples) "
                                  "for a Monte-Carlo estimate")
    return func(p, q)


def empirical_kl(p, q, n_samples=1):
    """Monte-Carlo KL(p || q): the mean of log p(x) - log q(x) over ``n_samples`` draws."""
    samples = p.sample_n(n_samples)
    return (p.log_prob(samples) - q.log_prob(samples)).mean(axis=0)


def _register_all():
    # imported here: the distribution modules import this one for register_kl
    from .location_scale import Normal, Laplace, Cauchy, Gumbel, HalfNormal, Uniform
    from .gamma_family import Exponential, Gamma, Beta, Dirichlet, Pareto
    from .discrete import (Bernoulli, Binomial, Geometric, Poisson, Categorical,
                           OneHotCategorical)
    from .multivariate_normal import MultivariateNormal
    from .independent import Independent

    @register_kl(Normal, Normal)
    def _kl_normal_normal(p, q):
        var_ratio = (p.scale / q.scale) ** 2
        t1 = ((p.loc - q.loc) / q.scale) ** 2
        return 0.5 * (var_ratio + t1 - 1 - np.log(var_ratio))

    @register_kl(Laplace, Laplace)
    def _kl_laplace_laplace(p, q):
        scale_ratio = p.scale / q.scale
        loc_abs_diff = np.abs(p.loc - q.loc)
        return (-np.log(scale_ratio) + loc_abs_diff / q.scale +
                scale_ratio * np.exp(-loc_abs_diff / p.scale) - 1)

    @register_kl(Cauchy, Cauchy)
    def _kl_cauchy_cauchy(p, q):
        t0 = (p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2
        return np.log(t0) - np.log(4 * p.scale * q.scale)

    @register_kl(Gumbel, Gumbel)
    def _kl_gumbel_gumbel(p, q):
        ct1 = p.scale / q.scale
        ct2 = q.loc / q.scale
        ct3 = p.loc / q.scale
        t1 = -np.log(ct1) - ct2 + ct3
        t2 = ct1 * _EULER
        t3 = np.exp(ct2 + gammaln(1 + ct1) - ct3)
        return t1 + t2 + t3 - (1 + _EULER)

    @register_kl(HalfNormal, HalfNormal)
    def _kl_halfnormal_halfnormal(p, q):
        var_ratio = (p.scale / q.scale) ** 2
        return 0.5 * (var_ratio - 1 - np.log(var_ratio))

    @register_kl(Uniform, Uniform)
    def _kl_uniform_uniform(p, q):
        inside = (q.low <= p.low) & (p.high <= q.high)
        kl = np.log((q.high - q.low) / (p.high - p.low))
        return np.where(inside, kl, np.full_like(kl, float('inf')))

    @register_kl(Uniform, Normal)
    def _kl_uniform_normal(p, q):
        common = p.high - p.low
        t1 = np.log(math.sqrt(math.pi * 2) * q.scale / common)
        t2 = common ** 2 / 12
        t3 = ((p.high + p.low - 2 * q.loc) / 2) ** 2
        return t1 + 0.5 * (t2 + t3) / q.scale ** 2

    @register_kl(Uniform, Gumbel)
    def _kl_uniform_gumbel(p, q):
        common = q.scale / (p.high - p.low)
        high_loc_diff = (p.high - q.loc) / q.scale
        low_loc_diff = (p.low - q.loc) / q.scale
        t1 = np.log(common) + 0.5 * (high_loc_diff + low_loc_diff)
        t2 = common * (np.exp(-high_loc_diff) - np.exp(-low_loc_diff))
        return t1 - t2

    @register_kl(Exponential, Exponential)
    def _kl_exponential_exponential(p, q):
        scale_ratio = p.scale / q.scale
        return scale_ratio - 1 - np.log(scale_ratio)

    @register_kl(Exponential, Gamma)
    def _kl_exponential_gamma(p, q):
        ratio = p.scale / q.scale
        return (-q.shape * np.log(ratio) + ratio + gammaln(q.shape) +
                q.shape * _EULER - (1 + _EULER))

    @register_kl(Exponential, Gumbel)
    def _kl_exponential_gumbel(p, q):
        scale_rate_prod = q.scale / p.scale
        loc_scale_ratio = q.loc / q.scale
        t1 = np.log(scale_rate_prod) - 1
        t2 = np.exp(loc_scale_ratio) * scale_rate_prod / (scale_rate_prod + 1)
        t3 = p.scale / q.scale
        return t1 - loc_scale_ratio + t2 + t3

    @register_kl(Exponential, Normal)
    def _kl_exponential_normal(p, q):
        var_normal = q.scale ** 2
        rate_sqr = p.scale ** -2
        t1 = 0.5 * np.log(rate_sqr * var_normal * 2 * math.pi)
        t2 = p.scale ** 2
        t3 = q.loc * p.scale
        t4 = q.loc ** 2 * 0.5
        return t1 - 1 + (t2 - t3 + t4) / var_normal

    @register_kl(Gamma, Gamma)
    def _kl_gamma_gamma(p, q):
        return ((p.shape - q.shape) * digamma(p.shape) - gammaln(p.shape) + gammaln(q.shape) +
                q.shape * (np.log(q.scale) - np.log(p.scale)) +
                p.shape * (p.scale / q.scale - 1))

    @register_kl(Beta, Beta)
    def _kl_beta_beta(p, q):
        sum_p = p.alpha + p.beta
        t1 = gammaln(q.alpha) + gammaln(q.beta) + gammaln(sum_p)
        t2 = gammaln(p.alpha) + gammaln(p.beta) + gammaln(q.alpha + q.beta)
        t3 = (p.alpha - q.alpha) * digamma(p.alpha)
        t4 = (p.beta - q.beta) * digamma(p.beta)
        t5 = (q.alpha + q.beta - sum_p) * digamma(sum_p)
        return t1 - t2 + t3 + t4 + t5

    @register_kl(Dirichlet, Dirichlet)
    def _kl_dirichlet_dirichlet(p, q):
        sum_p = p.alpha.sum(-1)
        t1 = gammaln(sum_p) - gammaln(q.alpha.sum(-1))
        t2 = (gammaln(p.alpha) - gammaln(q.alpha)).sum(-1)
        t3 = ((p.alpha - q.alpha) * (digamma(p.alpha) - digamma(np.expand_dims(sum_p, -1))))
        return t1 - t2 + t3.sum(-1)

    @register_kl(Pareto, Pareto)
    def _kl_pareto_pareto(p, q):
        scale_ratio = p.scale / q.scale
        alpha_ratio = q.alpha / p.alpha
        kl = q.alpha * np.log(scale_ratio) - np.log(alpha_ratio) + alpha_ratio - 1
        return np.where(p.scale >= q.scale, kl, np.full_like(kl, float('inf')))

    @register_kl(Bernoulli, Bernoulli)
    def _kl_bernoulli_bernoulli(p, q):
        return (p.prob * (np.log(p.prob) - np.log(q.prob)) +
                (1 - p.prob) * (np.log1p(-p.prob) - np.log1p(-q.prob)))

    @register_kl(Binomial, Binomial)
    def _kl_binomial_binomial(p, q):
        if not isinstance(p.n, (int, float)) or p.n != q.n:
            raise NotImplementedError(f"KL(Binomial || Binomial) needs equal scalar n, got "
                                      f"{p.n} and {q.n}")
        return p.n * (p.prob * (np.log(p.prob) - np.log(q.prob)) +
                      (1 - p.prob) * (np.log1p(-p.prob) - np.log1p(-q.prob)))

    @register_kl(Geometric, Geometric)
    def _kl_geometric_geometric(p, q):
        return (-p.entropy() - np.log1p(-q.prob) / p.prob - q.logit)

    @register_kl(Poisson, Poisson)
    def _kl_poisson_poisson(p, q):
        return p.rate * (np.log(p.rate) - np.log(q.rate)) - (p.rate - q.rate)

    @register_kl(Categorical, Categorical)
    def _kl_categorical_categorical(p, q):
        return (p.prob * (p.logit - q.logit)).sum(-1)

    @register_kl(OneHotCategorical, OneHotCategorical)
    def _kl_onehot_onehot(p, q):
        return _kl_categorical_categorical(p._categorical, q._categorical)

    @register_kl(MultivariateNormal, MultivariateNormal)
    def _kl_mvn_mvn(p, q):
        k = p.loc.shape[-1]
        half_logdet_p = np.log(np.diagonal(p.scale_tril, axis1=-2, axis2=-1)).sum(-1)
        half_logdet_q = np.log(np.diagonal(q.scale_tril, axis1=-2, axis2=-1)).sum(-1)
        shape = _onp.broadcast_shapes(p.scale_tril.shape, q.scale_tril.shape)
        q_tril = np.broadcast_to(q.scale_tril, shape)
        trace = (np.linalg.solve(q_tril, np.broadcast_to(p.scale_tril, shape)) ** 2) \
            .sum(axis=(-2, -1))
        maha = q._mahalanobis(p.loc)
        return half_logdet_q - half_logdet_p + 0.5 * (trace + maha - k)

    @register_kl(Independent, Independent)
    def _kl_independent_independent(p, q):
        if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
            raise NotImplementedError(
                "KL(Independent || Independent) needs equal reinterpreted_batch_ndims, got "
                f"{p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims}")
        return sum_right_most(kl_divergence(p.base_dist, q.base_dist),
                              p.reinterpreted_batch_ndims)
