"""Discrete distributions: Bernoulli, Binomial, NegativeBinomial, Geometric, Poisson,
Categorical, OneHotCategorical, Multinomial. Each takes ``prob`` or ``logit`` (exactly one); the other is derived
on first use, and log_prob is differentiable in whichever was given."""
from .... import numpy as np
from .... import numpy_extension as npx
from . import constraint
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .gamma_family import Gamma
from .utils import (prob2logit, logit2prob, cached_property, gammaln, uniform_noise,
                    batch_shape_of)

__all__ = ['Bernoulli', 'Binomial', 'NegativeBinomial', 'Geometric', 'Poisson', 'Categorical',
           'OneHotCategorical', 'Multinomial']


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class _ProbOrLogit(Distribution):
    """The prob/logit bookkeeping of every distribution parameterized by either: exactly one
    is given, the other is derived on first use. ``_binary``: one probability per entry
    (sigmoid); else the last axis holds ``num_events`` of them (softmax). ``name`` is the
    one error messages give (a relaxed distribution's base says its public class)."""

    _binary = True

    def __init__(self, prob, logit, F, event_dim, validate_args, num_events=None, name=None):
        name = name or type(self).__name__
        if (prob is None) == (logit is None):
            raise ValueError(f"{name}: pass exactly one of prob and logit, got "
                             f"{'both' if prob is not None else 'neither'}")
        if not self._binary:
            given = prob if prob is not None else logit
            if num_events is not None and given.shape[-1] != num_events:
                raise ValueError(f"{name}: num_events={num_events} but the parameter's last "
                                 f"axis has length {given.shape[-1]} (shape {given.shape})")
            self.num_events = given.shape[-1]
        if prob is not None:
            self.prob = prob
        else:
            self.logit = logit
        super().__init__(F=F, event_dim=event_dim, validate_args=validate_args)

    @cached_property
    def prob(self):
        return logit2prob(self.logit, self._binary)

    @cached_property
    def logit(self):
        return prob2logit(self.prob, self._binary)


class _OverCategorical(Distribution):
    """A law built on a Categorical of the same prob/logit (OneHotCategorical,
    Multinomial): parameters, their validation and batch shape come from it."""

    def _wrap_categorical(self, num_events, prob, logit, F, validate_args):
        self._categorical = Categorical(num_events, prob, logit, validate_args=validate_args)
        self.num_events = self._categorical.num_events
        Distribution.__init__(self, F=F, event_dim=1, validate_args=False)
        self._validate_args = bool(validate_args)

    @property
    def prob(self):
        return self._categorical.prob

    @property
    def logit(self):
        return self._categorical.logit

    def _params(self):
        return [self.logit if 'logit' in self._categorical.__dict__ else self.prob]

    def broadcast_to(self, batch_shape):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._categorical = self._categorical.broadcast_to(batch_shape)
        return new

    def _one_hot(self, index):
        return npx.one_hot(index.astype('int64'), self.num_events).astype(index.dtype)


class Bernoulli(_ProbOrLogit, ExponentialFamily):
    """1 with probability ``prob``, else 0."""

    arg_constraints = {'prob': constraint.UnitInterval(), 'logit': constraint.Real()}
    support = constraint.Boolean()

    def __init__(self, prob=None, logit=None, F=None, validate_args=None):
        super().__init__(prob, logit, F, 0, validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        return value * self.logit - _softplus(self.logit)

    def sample(self, size=None):
        u = uniform_noise(self._sample_shape(size), (self.prob,))
        return (u < self.prob).astype(u.dtype)

    @property
    def mean(self):
        return self.prob

    @property
    def variance(self):
        return self.prob * (1 - self.prob)

    def entropy(self):
        return _softplus(self.logit) - self.prob * self.logit

    @property
    def _natural_params(self):
        return (self.logit,)

    def _log_normalizer(self, x):
        return _softplus(x)

    @property
    def _mean_carrier_measure(self):
        return 0


class Binomial(_ProbOrLogit):
    """Successes in ``n`` Bernoulli(prob) trials (``n`` a Python number)."""

    arg_constraints = {'prob': constraint.UnitInterval(), 'logit': constraint.Real()}

    def __init__(self, n=1, prob=None, logit=None, F=None, validate_args=None):
        if not isinstance(n, (int, float)) or n < 0 or n != int(n):
            raise ValueError(f"Binomial: n must be a non-negative integer, got {n!r}")
        self.n = n
        super().__init__(prob, logit, F, 0, validate_args)

    @property
    def support(self):
        return constraint.IntegerInterval(0, self.n)

    def log_prob(self, value):
        self._validate_samples(value)
        n = self.n
        log_comb = gammaln(value * 0 + n + 1) - gammaln(value + 1) - gammaln(n - value + 1)
        return log_comb + value * self.logit - n * _softplus(self.logit)

    def sample(self, size=None):
        shape = self._sample_shape(size)
        u = uniform_noise((int(self.n),) + shape, (self.prob,))
        return (u < self.prob).astype(u.dtype).sum(axis=0)

    @property
    def mean(self):
        return self.n * self.prob

    @property
    def variance(self):
        return self.n * self.prob * (1 - self.prob)


class NegativeBinomial(_ProbOrLogit):
    """MXNet's parameterization: log_prob counts ``value`` draws of probability 1 - prob
    before ``n`` of probability ``prob`` (scipy's ``nbinom(n, prob)``), while mean and
    variance are ``n*prob/(1-prob)`` and ``n*prob/(1-prob)**2`` (scipy's
    ``nbinom(n, 1-prob)``), and sampling (a Gamma-Poisson mixture) follows the mean."""

    arg_constraints = {'n': constraint.GreaterThanEq(0), 'prob': constraint.Interval(0, 1),
                       'logit': constraint.Real()}
    support = constraint.NonNegativeInteger()

    def __init__(self, n, prob=None, logit=None, F=None, validate_args=None):
        self.n = n
        super().__init__(prob, logit, F, 0, validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        n = self.n
        log_comb = gammaln(value + n) - gammaln(value + 1) - gammaln(value * 0 + n)
        # log p = logit - softplus(logit), log(1-p) = -softplus(logit): finite at any logit
        return log_comb + n * (self.logit - _softplus(self.logit)) - value * _softplus(self.logit)

    def sample(self, size=None):
        rate = Gamma(shape=self.n, scale=np.exp(self.logit)).sample(size)
        return Poisson(rate).sample()

    def sample_n(self, size=None):
        rate = Gamma(shape=self.n, scale=np.exp(self.logit)).sample_n(size)
        return Poisson(rate).sample()

    @property
    def mean(self):
        return self.n * np.exp(self.logit)

    @property
    def variance(self):
        return self.n * self.prob / (1 - self.prob) ** 2


class Geometric(_ProbOrLogit):
    """Failures before the first success, success probability ``prob``."""

    arg_constraints = {'prob': constraint.OpenInterval(0, 1), 'logit': constraint.Real()}
    support = constraint.NonNegativeInteger()

    def __init__(self, prob=None, logit=None, F=None, validate_args=None):
        super().__init__(prob, logit, F, 0, validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        # log(1-p) = -softplus(logit), log p = logit - softplus(logit)
        return -value * _softplus(self.logit) + self.logit - _softplus(self.logit)

    def sample(self, size=None):
        u = uniform_noise(self._sample_shape(size), (self.prob,), 1e-7, 1.0)
        return np.floor(np.log(u) / np.log1p(-self.prob))

    @property
    def mean(self):
        return 1 / self.prob - 1

    @property
    def variance(self):
        return (1 - self.prob) / self.prob ** 2

    def entropy(self):
        p = self.prob
        return -((1 - p) * np.log1p(-p) + p * np.log(p)) / p


class Poisson(ExponentialFamily):
    """Counts with mean ``rate``."""

    arg_constraints = {'rate': constraint.Positive()}
    support = constraint.NonNegativeInteger()

    def __init__(self, rate=1.0, F=None, validate_args=None):
        self.rate = rate
        super().__init__(F=F, event_dim=0, validate_args=validate_args)

    def log_prob(self, value):
        self._validate_samples(value)
        return value * np.log(self.rate) - self.rate - gammaln(value + 1)

    def sample(self, size=None):
        """Knuth's method: count uniforms until their product drops below exp(-rate)."""
        shape = self._sample_shape(size)
        threshold = np.broadcast_to(np.exp(-self.rate), shape)
        product = uniform_noise(shape, (self.rate,))
        count = np.zeros_like(product)
        active = product > threshold
        while bool(active.any()):
            count = count + active
            product = product * uniform_noise(shape, (self.rate,))
            active = product > threshold
        return count

    @property
    def mean(self):
        return self.rate

    @property
    def variance(self):
        return self.rate

    @property
    def _natural_params(self):
        return (np.log(self.rate),)

    def _log_normalizer(self, x):
        return np.exp(x)


class Categorical(_ProbOrLogit):
    """Index k in [0, num_events) with probability prob[..., k]."""

    _binary = False
    has_enumerate_support = True
    arg_constraints = {'prob': constraint.Simplex(), 'logit': constraint.Real()}

    def __init__(self, num_events=None, prob=None, logit=None, F=None, validate_args=None):
        super().__init__(prob, logit, F, 1, validate_args, num_events)

    @property
    def support(self):
        return constraint.IntegerInterval(0, self.num_events - 1)

    @property
    def event_shape(self):
        return ()

    def log_prob(self, value):
        self._validate_samples(value)
        log_pmf = npx.log_softmax(self.logit, axis=-1)
        shape = batch_shape_of(value, log_pmf[..., 0])
        log_pmf = np.broadcast_to(log_pmf, shape + (self.num_events,))
        index = np.broadcast_to(value, shape).astype('int64')
        return np.take_along_axis(log_pmf, np.expand_dims(index, -1), axis=-1)[..., 0]

    def sample(self, size=None):
        """Gumbel-max: argmax of logit plus Gumbel noise."""
        shape = self._sample_shape(size) + (self.num_events,)
        u = uniform_noise(shape, (self.logit,), 1e-7, 1 - 1e-7)
        return np.argmax(self.logit - np.log(-np.log(u)), axis=-1).astype(u.dtype)

    def enumerate_support(self):
        batch = self.batch_shape
        values = np.arange(self.num_events).reshape((-1,) + (1,) * len(batch))
        return np.broadcast_to(values, (self.num_events,) + batch).astype('float32')

    @property
    def mean(self):
        return np.full(self.batch_shape, np.nan)

    @property
    def variance(self):
        return np.full(self.batch_shape, np.nan)

    def entropy(self):
        log_pmf = npx.log_softmax(self.logit, axis=-1)
        return -(np.exp(log_pmf) * log_pmf).sum(-1)


class OneHotCategorical(_OverCategorical):
    """A Categorical whose values are one-hot vectors of length num_events."""

    has_enumerate_support = True
    arg_constraints = {'prob': constraint.Simplex(), 'logit': constraint.Real()}

    def __init__(self, num_events=None, prob=None, logit=None, F=None, validate_args=None):
        self._wrap_categorical(num_events, prob, logit, F, validate_args)

    def log_prob(self, value):
        log_pmf = npx.log_softmax(self.logit, axis=-1)
        return (value * log_pmf).sum(-1)

    def sample(self, size=None):
        return self._one_hot(self._categorical.sample(size))

    def enumerate_support(self):
        batch = self.batch_shape
        eye = np.eye(self.num_events).reshape((self.num_events,) + (1,) * len(batch) +
                                               (self.num_events,))
        return np.broadcast_to(eye, (self.num_events,) + batch + (self.num_events,))

    @property
    def mean(self):
        return self.prob

    @property
    def variance(self):
        return self.prob * (1 - self.prob)

    def entropy(self):
        return self._categorical.entropy()


class Multinomial(_OverCategorical):
    """Counts of each of ``num_events`` outcomes in ``total_count`` Categorical draws."""

    arg_constraints = {'prob': constraint.Simplex(), 'logit': constraint.Real()}

    def __init__(self, num_events, prob=None, logit=None, total_count=1, F=None,
                 validate_args=None):
        if not isinstance(total_count, int) or total_count < 0:
            raise ValueError("Multinomial: total_count must be a non-negative Python int, "
                             f"got {total_count!r}")
        self.total_count = total_count
        self._wrap_categorical(num_events, prob, logit, F, validate_args)

    @property
    def support(self):
        return constraint.IntegerInterval(0, self.total_count)

    def log_prob(self, value):
        self._validate_samples(value)
        log_pmf = npx.log_softmax(self.logit, axis=-1)
        log_factorial_n = gammaln(value.sum(-1) * 0 + self.total_count + 1)
        return log_factorial_n - gammaln(value + 1).sum(-1) + (value * log_pmf).sum(-1)

    def _counts(self, index):
        return self._one_hot(index).sum(0)

    def sample(self, size=None):
        return self._counts(self._categorical.sample((self.total_count,) +
                                                     self._sample_shape(size)))

    def sample_n(self, size=None):
        size = () if size is None else ((size,) if isinstance(size, int) else tuple(size))
        return self._counts(self._categorical.sample_n((self.total_count,) + size))

    @property
    def mean(self):
        return self.total_count * self.prob

    @property
    def variance(self):
        return self.total_count * self.prob * (1 - self.prob)
