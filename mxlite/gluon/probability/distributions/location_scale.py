"""Continuous distributions with location/scale parameters: Normal, Laplace, Cauchy,
Gumbel, HalfNormal, HalfCauchy, Uniform, StudentT. Samples are reparameterized
(a differentiable transform of parameter-free noise), so they carry gradients."""
import math

from .... import numpy as np
from . import constraint
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .utils import erf, erfinv, gammaln, digamma, normal_noise, uniform_noise

__all__ = ['Normal', 'Laplace', 'Cauchy', 'Gumbel', 'HalfNormal', 'HalfCauchy', 'Uniform',
           'StudentT']

_EULER = 0.5772156649015329
_TINY = 1e-7  # keeps inverse-cdf noise off the endpoints, where it is infinite


class _LocScale(Distribution):
    has_grad = True
    arg_constraints = {'loc': constraint.Real(), 'scale': constraint.Positive()}
    support = constraint.Real()

    def __init__(self, loc=0.0, scale=1.0, F=None, validate_args=None):
        self.loc = loc
        self.scale = scale
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    def _uniform(self, size):
        return uniform_noise(self._sample_shape(size), (self.loc, self.scale), _TINY, 1 - _TINY)

    def sample(self, size=None):
        return self.icdf(self._uniform(size))


class Normal(_LocScale, ExponentialFamily):
    """N(loc, scale**2)."""

    def log_prob(self, value):
        self._validate_samples(value)
        return (-((value - self.loc) ** 2) / (2 * self.scale ** 2) - np.log(self.scale)
                - 0.5 * math.log(2 * math.pi))

    def sample(self, size=None):
        eps = normal_noise(self._sample_shape(size), (self.loc, self.scale))
        return self.loc + self.scale * eps

    def cdf(self, value):
        return 0.5 * (1 + erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        return self.loc + self.scale * math.sqrt(2) * erfinv(2 * value - 1)

    @property
    def mean(self):
        return self.loc * np.ones_like(self.scale)

    @property
    def variance(self):
        return self.scale ** 2 * np.ones_like(self.loc)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + np.log(self.scale) + 0 * self.loc

    @property
    def _natural_params(self):
        return (self.loc / self.scale ** 2, -0.5 / self.scale ** 2)

    def _log_normalizer(self, x, y):
        return -x ** 2 / (4 * y) + 0.5 * np.log(-math.pi / y)

    @property
    def _mean_carrier_measure(self):
        return 0


class Laplace(_LocScale):
    """Density exp(-|x - loc| / scale) / (2 scale)."""

    def log_prob(self, value):
        self._validate_samples(value)
        return -np.log(2 * self.scale) - np.abs(value - self.loc) / self.scale

    def cdf(self, value):
        z = (value - self.loc) / self.scale
        return 0.5 - 0.5 * np.sign(z) * np.expm1(-np.abs(z))

    def icdf(self, value):
        t = value - 0.5
        return self.loc - self.scale * np.sign(t) * np.log1p(-2 * np.abs(t))

    @property
    def mean(self):
        return self.loc * np.ones_like(self.scale)

    @property
    def variance(self):
        return 2 * self.scale ** 2 * np.ones_like(self.loc)

    def entropy(self):
        return 1 + np.log(2 * self.scale) + 0 * self.loc


class Cauchy(_LocScale):
    """Density 1 / (pi scale (1 + ((x - loc) / scale)**2)); mean and variance undefined."""

    def log_prob(self, value):
        self._validate_samples(value)
        return (-math.log(math.pi) - np.log(self.scale)
                - np.log1p(((value - self.loc) / self.scale) ** 2))

    def cdf(self, value):
        return np.arctan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return self.loc + self.scale * np.tan(math.pi * (value - 0.5))

    @property
    def mean(self):
        return np.full(np.broadcast_to(self.loc + self.scale, self.batch_shape).shape, np.nan)

    @property
    def variance(self):
        return np.full(np.broadcast_to(self.loc + self.scale, self.batch_shape).shape, np.inf)

    def entropy(self):
        return math.log(4 * math.pi) + np.log(self.scale) + 0 * self.loc


class Gumbel(_LocScale):
    """Type-I extreme value: cdf exp(-exp(-(x - loc) / scale))."""

    def log_prob(self, value):
        self._validate_samples(value)
        z = (value - self.loc) / self.scale
        return -np.log(self.scale) - z - np.exp(-z)

    def cdf(self, value):
        return np.exp(-np.exp(-(value - self.loc) / self.scale))

    def icdf(self, value):
        return self.loc - self.scale * np.log(-np.log(value))

    @property
    def mean(self):
        return self.loc + self.scale * _EULER

    @property
    def variance(self):
        return (math.pi ** 2 / 6) * self.scale ** 2 * np.ones_like(self.loc)

    @property
    def stddev(self):
        return math.pi / math.sqrt(6) * self.scale * np.ones_like(self.loc)

    def entropy(self):
        return np.log(self.scale) + 1 + _EULER + 0 * self.loc


class _HalfScale(Distribution):
    has_grad = True
    arg_constraints = {'scale': constraint.Positive()}
    support = constraint.NonNegative()

    def __init__(self, scale=1.0, F=None, validate_args=None):
        self.scale = scale
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    def sample(self, size=None):
        return self.icdf(uniform_noise(self._sample_shape(size), (self.scale,), 0.0, 1 - _TINY))


class HalfNormal(_HalfScale):
    """|X| for X ~ N(0, scale**2)."""

    def log_prob(self, value):
        self._validate_samples(value)
        return (0.5 * math.log(2 / math.pi) - np.log(self.scale)
                - value ** 2 / (2 * self.scale ** 2))

    def sample(self, size=None):
        return self.scale * np.abs(normal_noise(self._sample_shape(size), (self.scale,)))

    def cdf(self, value):
        return erf(value / (self.scale * math.sqrt(2)))

    def icdf(self, value):
        return self.scale * math.sqrt(2) * erfinv(value)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale ** 2 * (1 - 2 / math.pi)

    def entropy(self):
        return 0.5 * math.log(math.pi * math.e / 2) + np.log(self.scale)


class HalfCauchy(_HalfScale):
    """|X| for X ~ Cauchy(0, scale)."""

    def log_prob(self, value):
        self._validate_samples(value)
        return (math.log(2 / math.pi) - np.log(self.scale)
                - np.log1p((value / self.scale) ** 2))

    def cdf(self, value):
        return 2 / math.pi * np.arctan(value / self.scale)

    def icdf(self, value):
        return self.scale * np.tan(math.pi / 2 * value)

    @property
    def mean(self):
        return np.full(np.broadcast_to(self.scale, self.batch_shape).shape, np.inf)

    @property
    def variance(self):
        return np.full(np.broadcast_to(self.scale, self.batch_shape).shape, np.inf)

    def entropy(self):
        return math.log(2 * math.pi) + np.log(self.scale)


class Uniform(Distribution):
    """Uniform on [low, high)."""

    has_grad = True
    arg_constraints = {'low': constraint.Real(), 'high': constraint.Real()}

    def __init__(self, low=0.0, high=1.0, F=None, validate_args=None):
        self.low = low
        self.high = high
        super().__init__(F=F, event_dim=0, validate_args=validate_args)
        if self._validate_args:
            constraint.GreaterThan(low).check(high)

    @property
    def support(self):
        return constraint.Interval(self.low, self.high)

    def log_prob(self, value):
        self._validate_samples(value)
        return -np.log(self.high - self.low) + 0 * value

    def sample(self, size=None):
        u = uniform_noise(self._sample_shape(size), (self.low, self.high))
        return self.low + (self.high - self.low) * u

    def cdf(self, value):
        return np.clip((value - self.low) / (self.high - self.low), 0, 1)

    def icdf(self, value):
        return self.low + value * (self.high - self.low)

    @property
    def mean(self):
        return (self.low + self.high) / 2

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def entropy(self):
        return np.log(self.high - self.low)


class StudentT(Distribution):
    """Student's t with ``df`` degrees of freedom, shifted by ``loc``, scaled by ``scale``."""

    has_grad = True
    arg_constraints = {'df': constraint.Positive(), 'loc': constraint.Real(),
                       'scale': constraint.Positive()}
    support = constraint.Real()

    def __init__(self, df, loc=0.0, scale=1.0, F=None, validate_args=None):
        self.df = df
        self.loc = loc
        self.scale = scale
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        z = (value - self.loc) / self.scale
        df = self.df
        return (gammaln((df + 1) / 2) - gammaln(df / 2) - 0.5 * np.log(df * math.pi)
                - np.log(self.scale) - (df + 1) / 2 * np.log1p(z ** 2 / df))

    def sample(self, size=None):
        shape = self._sample_shape(size)
        eps = normal_noise(shape, (self.df, self.loc, self.scale))
        chi2 = 2 * np.random.gamma(self.df / 2 * np.ones(shape), 1.0)
        return self.loc + self.scale * eps * np.sqrt(self.df / chi2)

    @property
    def mean(self):
        m = self.loc + 0 * self.df * self.scale
        return np.where(self.df > 1, m, np.full_like(m, np.nan))

    @property
    def variance(self):
        df = self.df + 0 * self.loc * self.scale
        v = self.scale ** 2 * df / (df - 2)
        return np.where(df > 2, v, np.where(df > 1, np.full_like(v, np.inf),
                                            np.full_like(v, np.nan)))

    def entropy(self):
        df = self.df
        lbeta = gammaln(df / 2) + math.lgamma(0.5) - gammaln((df + 1) / 2)
        return ((df + 1) / 2 * (digamma((df + 1) / 2) - digamma(df / 2))
                + 0.5 * np.log(df) + lbeta + np.log(self.scale) + 0 * self.loc)
