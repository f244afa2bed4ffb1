"""Positive-valued distributions built on the gamma function: Exponential, Gamma, Chi2,
Beta, Dirichlet, FisherSnedecor, Weibull, Pareto. Gamma samples come from
``mx.np.random.gamma``, which is differentiable in ``shape``, so Gamma, Chi2, Beta,
Dirichlet and FisherSnedecor samples carry gradients too."""
import math

from .... import numpy as np
from . import constraint
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .utils import gammaln, digamma, uniform_noise, array_like

__all__ = ['Exponential', 'Gamma', 'Chi2', 'Beta', 'Dirichlet', 'FisherSnedecor', 'Weibull',
           'Pareto']

_EULER = 0.5772156649015329
_TINY = 1e-7


def _standard_gamma(shape, size, params):
    """Gamma(shape, 1) draws of ``size`` (differentiable in ``shape``)."""
    device, dtype = array_like(params)
    shape = shape if isinstance(shape, np.ndarray) else np.array(shape, dtype=dtype,
                                                                 device=device)
    return np.random.gamma(np.broadcast_to(shape, size), 1.0)


def _lbeta(a, b):
    return gammaln(a) + gammaln(b) - gammaln(a + b)


class Exponential(ExponentialFamily):
    """Density exp(-x / scale) / scale on x >= 0."""

    has_grad = True
    arg_constraints = {'scale': constraint.Positive()}
    support = constraint.NonNegative()

    def __init__(self, scale=1.0, F=None, validate_args=None):
        self.scale = scale
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    @property
    def rate(self):
        return 1 / self.scale

    def log_prob(self, value):
        self._validate_samples(value)
        return -np.log(self.scale) - value / self.scale

    def sample(self, size=None):
        u = uniform_noise(self._sample_shape(size), (self.scale,), 0.0, 1 - _TINY)
        return self.icdf(u)

    def cdf(self, value):
        return -np.expm1(-value / self.scale)

    def icdf(self, value):
        return -self.scale * np.log1p(-value)

    @property
    def mean(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def entropy(self):
        return 1 + np.log(self.scale)

    @property
    def _natural_params(self):
        return (-1 / self.scale,)

    def _log_normalizer(self, x):
        return -np.log(-x)

    @property
    def _mean_carrier_measure(self):
        return 0


class Gamma(ExponentialFamily):
    """Density x**(shape-1) exp(-x / scale) / (Gamma(shape) scale**shape)."""

    has_grad = True
    arg_constraints = {'shape': constraint.Positive(), 'scale': constraint.Positive()}
    support = constraint.Positive()

    def __init__(self, shape=1.0, scale=1.0, F=None, validate_args=None):
        self.shape = shape
        self.scale = scale
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        return ((self.shape - 1) * np.log(value) - value / self.scale - gammaln(self.shape)
                - self.shape * np.log(self.scale))

    def sample(self, size=None):
        size = self._sample_shape(size)
        return self.scale * _standard_gamma(self.shape, size, (self.shape, self.scale))

    @property
    def mean(self):
        return self.shape * self.scale

    @property
    def variance(self):
        return self.shape * self.scale ** 2

    def entropy(self):
        return (self.shape + np.log(self.scale) + gammaln(self.shape)
                + (1 - self.shape) * digamma(self.shape))

    @property
    def _natural_params(self):
        return (self.shape - 1, -1 / self.scale)

    def _log_normalizer(self, x, y):
        return gammaln(x + 1) + (x + 1) * np.log(-1 / y)

    @property
    def _mean_carrier_measure(self):
        return 0


class Chi2(Gamma):
    """Chi-squared with ``df`` degrees of freedom: Gamma(df / 2, 2)."""

    arg_constraints = {'df': constraint.Positive()}

    def __init__(self, df, F=None, validate_args=None):
        self.df = df
        super().__init__(df / 2, 2, F=F, validate_args=validate_args)


class Beta(ExponentialFamily):
    """Density x**(alpha-1) (1-x)**(beta-1) / B(alpha, beta) on [0, 1]."""

    has_grad = True
    arg_constraints = {'alpha': constraint.Positive(), 'beta': constraint.Positive()}
    support = constraint.UnitInterval()

    def __init__(self, alpha, beta, F=None, validate_args=None):
        self.alpha = alpha
        self.beta = beta
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        return ((self.alpha - 1) * np.log(value) + (self.beta - 1) * np.log1p(-value)
                - _lbeta(self.alpha, self.beta))

    def sample(self, size=None):
        size = self._sample_shape(size)
        x = _standard_gamma(self.alpha, size, (self.alpha, self.beta))
        y = _standard_gamma(self.beta, size, (self.alpha, self.beta))
        return x / (x + y)

    @property
    def mean(self):
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self):
        s = self.alpha + self.beta
        return self.alpha * self.beta / (s ** 2 * (s + 1))

    def entropy(self):
        a, b = self.alpha, self.beta
        return (_lbeta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                + (a + b - 2) * digamma(a + b))


class Dirichlet(ExponentialFamily):
    """Distribution on the simplex over the last axis of ``alpha``."""

    has_grad = True
    arg_constraints = {'alpha': constraint.Positive()}
    support = constraint.Simplex()

    def __init__(self, alpha, F=None, validate_args=None):
        self.alpha = alpha
        super().__init__(F=F, event_dim=1, validate_args=validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        a = self.alpha
        return (((a - 1) * np.log(value)).sum(-1) + gammaln(a.sum(-1))
                - gammaln(a).sum(-1))

    def sample(self, size=None):
        size = self._sample_shape(size) + self.event_shape
        g = _standard_gamma(self.alpha, size, (self.alpha,))
        return g / g.sum(-1, keepdims=True)

    @property
    def mean(self):
        return self.alpha / self.alpha.sum(-1, keepdims=True)

    @property
    def variance(self):
        a0 = self.alpha.sum(-1, keepdims=True)
        return self.alpha * (a0 - self.alpha) / (a0 ** 2 * (a0 + 1))

    def entropy(self):
        a = self.alpha
        a0 = a.sum(-1)
        k = a.shape[-1]
        return (gammaln(a).sum(-1) - gammaln(a0) + (a0 - k) * digamma(a0)
                - ((a - 1) * digamma(a)).sum(-1))


class FisherSnedecor(Distribution):
    """F distribution: (X1 / df1) / (X2 / df2) for chi-squared X1, X2."""

    has_grad = True
    arg_constraints = {'df1': constraint.Positive(), 'df2': constraint.Positive()}
    support = constraint.Positive()

    def __init__(self, df1, df2, F=None, validate_args=None):
        self.df1 = df1
        self.df2 = df2
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        d1, d2 = self.df1, self.df2
        return (0.5 * d1 * np.log(d1 / d2) + (0.5 * d1 - 1) * np.log(value)
                - 0.5 * (d1 + d2) * np.log1p(d1 * value / d2) - _lbeta(d1 / 2, d2 / 2))

    def sample(self, size=None):
        size = self._sample_shape(size)
        params = (self.df1, self.df2)
        x1 = _standard_gamma(self.df1 / 2, size, params) / self.df1
        x2 = _standard_gamma(self.df2 / 2, size, params) / self.df2
        return x1 / x2

    @property
    def mean(self):
        d2 = self.df2 + 0 * self.df1
        return np.where(d2 > 2, d2 / (d2 - 2), np.full_like(d2, np.nan))

    @property
    def variance(self):
        d1, d2 = self.df1, self.df2
        v = 2 * d2 ** 2 * (d1 + d2 - 2) / (d1 * (d2 - 2) ** 2 * (d2 - 4))
        return np.where(d2 > 4, v, np.full_like(v, np.nan))


class Weibull(Distribution):
    """cdf 1 - exp(-(x / scale)**concentration) on x >= 0."""

    has_grad = True
    arg_constraints = {'concentration': constraint.Positive(), 'scale': constraint.Positive()}
    support = constraint.NonNegative()

    def __init__(self, concentration, scale=1.0, F=None, validate_args=None):
        self.concentration = concentration
        self.scale = scale
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        k, lam = self.concentration, self.scale
        z = value / lam
        return np.log(k / lam) + (k - 1) * np.log(z) - z ** k

    def sample(self, size=None):
        u = uniform_noise(self._sample_shape(size), (self.concentration, self.scale),
                          0.0, 1 - _TINY)
        return self.icdf(u)

    def cdf(self, value):
        return -np.expm1(-(value / self.scale) ** self.concentration)

    def icdf(self, value):
        return self.scale * (-np.log1p(-value)) ** (1 / self.concentration)

    @property
    def mean(self):
        return self.scale * np.exp(gammaln(1 + 1 / self.concentration))

    @property
    def variance(self):
        k = self.concentration
        return self.scale ** 2 * (np.exp(gammaln(1 + 2 / k)) - np.exp(2 * gammaln(1 + 1 / k)))

    def entropy(self):
        k = self.concentration
        return _EULER * (1 - 1 / k) + np.log(self.scale / k) + 1


class Pareto(Distribution):
    """Density alpha scale**alpha / x**(alpha+1) on x >= scale."""

    has_grad = True
    arg_constraints = {'alpha': constraint.Positive(), 'scale': constraint.Positive()}

    def __init__(self, alpha, scale=1.0, F=None, validate_args=None):
        self.alpha = alpha
        self.scale = scale
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    @property
    def support(self):
        return constraint.GreaterThanEq(self.scale)

    def log_prob(self, value):
        self._validate_samples(value)
        return (np.log(self.alpha) + self.alpha * np.log(self.scale)
                - (self.alpha + 1) * np.log(value))

    def sample(self, size=None):
        u = uniform_noise(self._sample_shape(size), (self.alpha, self.scale), 0.0, 1 - _TINY)
        return self.icdf(u)

    def cdf(self, value):
        return 1 - (self.scale / value) ** self.alpha

    def icdf(self, value):
        return self.scale * (1 - value) ** (-1 / self.alpha)

    @property
    def mean(self):
        a = self.alpha + 0 * self.scale
        return np.where(a > 1, a * self.scale / (a - 1), np.full_like(a, np.inf))

    @property
    def variance(self):
        a = self.alpha + 0 * self.scale
        v = self.scale ** 2 * a / ((a - 1) ** 2 * (a - 2))
        return np.where(a > 2, v, np.full_like(a, np.inf))

    def entropy(self):
        return np.log(self.scale / self.alpha) + 1 / self.alpha + 1
