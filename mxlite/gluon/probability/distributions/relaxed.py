"""Continuous relaxations of Bernoulli and OneHotCategorical (Concrete / Gumbel-softmax):
reparameterized samples in (0, 1) or on the simplex, differentiable in the parameters,
that sharpen toward the discrete law as the temperature ``T`` goes to 0."""
import math

from .... import numpy as np
from .... import numpy_extension as npx
from . import constraint
from .discrete import _ProbOrLogit, _softplus
from .transformed_distribution import TransformedDistribution
from .utils import uniform_noise
from ..transformation import SigmoidTransform, ExpTransform

__all__ = ['RelaxedBernoulli', 'RelaxedOneHotCategorical']

_TINY = 1e-7


def _of_base(name):
    """A relaxed law's parameter, read from the base distribution it transforms."""
    return property(lambda self: getattr(self._base_dist, name))


class _LogitRelaxedBernoulli(_ProbOrLogit):
    """The logit of a RelaxedBernoulli: (logit + Logistic noise) / T."""

    has_grad = True
    arg_constraints = {'prob': constraint.Interval(0, 1), 'logit': constraint.Real()}
    support = constraint.Real()

    def __init__(self, T, prob=None, logit=None, F=None, validate_args=None):
        self.T = T
        super().__init__(prob, logit, F, 0, validate_args, name='RelaxedBernoulli')

    def log_prob(self, value):
        diff = self.logit - value * self.T
        return math.log(self.T) + diff - 2 * _softplus(diff)

    def sample(self, size=None):
        u = uniform_noise(self._sample_shape(size), (self.logit,), _TINY, 1 - _TINY)
        return (self.logit + np.log(u) - np.log1p(-u)) / self.T


class RelaxedBernoulli(TransformedDistribution):
    """sigmoid of a _LogitRelaxedBernoulli: values in (0, 1) at temperature ``T``."""

    has_grad = True
    support = constraint.OpenInterval(0, 1)

    def __init__(self, T, prob=None, logit=None, F=None, validate_args=None):
        base = _LogitRelaxedBernoulli(T, prob, logit, F, validate_args)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    T, prob, logit = _of_base('T'), _of_base('prob'), _of_base('logit')


class _LogRelaxedOneHotCategorical(_ProbOrLogit):
    """The log of a RelaxedOneHotCategorical (the ExpConcrete law): log_softmax of
    (logit + Gumbel noise) / T."""

    _binary = False
    has_grad = True
    arg_constraints = {'prob': constraint.Simplex(), 'logit': constraint.Real()}

    def __init__(self, T, num_events, prob=None, logit=None, F=None, validate_args=None):
        self.T = T
        super().__init__(prob, logit, F, 1, validate_args, num_events,
                         name='RelaxedOneHotCategorical')

    def log_prob(self, value):
        """log (K-1)! + (K-1) log T + sum_k (logit_k - T v_k) - K logsumexp(logit - T v)."""
        K = self.num_events
        y = self.logit - value * self.T
        log_norm = np.log(np.exp(y - y.max(-1, keepdims=True)).sum(-1)) + y.max(-1)
        return y.sum(-1) - K * log_norm + math.lgamma(K) + (K - 1) * math.log(self.T)

    def sample(self, size=None):
        shape = self._sample_shape(size) + (self.num_events,)
        u = uniform_noise(shape, (self.logit,), _TINY, 1 - _TINY)
        return npx.log_softmax((self.logit - np.log(-np.log(u))) / self.T, axis=-1)


class RelaxedOneHotCategorical(TransformedDistribution):
    """exp of an ExpConcrete draw: points on the simplex at temperature ``T``."""

    has_grad = True
    support = constraint.Simplex()

    def __init__(self, T, num_events, prob=None, logit=None, F=None, validate_args=None):
        base = _LogRelaxedOneHotCategorical(T, num_events, prob, logit, F, validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    T, num_events = _of_base('T'), _of_base('num_events')
    prob, logit = _of_base('prob'), _of_base('logit')
