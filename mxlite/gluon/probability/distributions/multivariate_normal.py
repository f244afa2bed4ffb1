"""Multivariate normal, parameterized by cov, precision or scale_tril (one of them)."""
import math

import numpy as _onp

from .... import numpy as np
from . import constraint
from .distribution import Distribution
from .utils import cached_property, normal_noise

__all__ = ['MultivariateNormal']


def _solve_lower(tril, b):
    """tril^{-1} b for b of shape (..., k), broadcasting the batch axes."""
    shape = _onp.broadcast_shapes(tril.shape[:-2], b.shape[:-1])
    k = tril.shape[-1]
    tril = np.broadcast_to(tril, shape + (k, k))
    b = np.broadcast_to(b, shape + (k,))
    return np.linalg.solve(tril, np.expand_dims(b, -1))[..., 0]


class MultivariateNormal(Distribution):
    """N(loc, cov) over the last axis of ``loc``; ``scale_tril`` is the Cholesky factor."""

    has_grad = True
    arg_constraints = {'loc': constraint.Real(), 'cov': constraint.PositiveDefinite(),
                       'precision': constraint.PositiveDefinite(),
                       'scale_tril': constraint.LowerCholesky()}
    support = constraint.Real()

    def __init__(self, loc, cov=None, precision=None, scale_tril=None, F=None,
                 validate_args=None):
        given = [n for n, v in (('cov', cov), ('precision', precision),
                                ('scale_tril', scale_tril)) if v is not None]
        if len(given) != 1:
            raise ValueError("MultivariateNormal: pass exactly one of cov, precision, "
                             f"scale_tril, got {given or 'none'}")
        self.loc = loc
        matrix = cov if cov is not None else precision if precision is not None else scale_tril
        if matrix.shape[-1] != loc.shape[-1] or matrix.shape[-2] != loc.shape[-1]:
            raise ValueError(f"MultivariateNormal: {given[0]} of shape {matrix.shape} does "
                             f"not match loc of shape {loc.shape} (need (..., k, k), k = "
                             f"{loc.shape[-1]})")
        setattr(self, given[0], matrix)
        super().__init__(F=F, event_dim=1, validate_args=validate_args)

    @cached_property
    def scale_tril(self):
        if 'cov' in self.__dict__:
            return np.linalg.cholesky(self.cov)
        return np.linalg.cholesky(np.linalg.inv(self.precision))

    @cached_property
    def cov(self):
        return np.matmul(self.scale_tril, np.swapaxes(self.scale_tril, -1, -2))

    @cached_property
    def precision(self):
        return np.linalg.inv(self.cov)

    @property
    def batch_shape(self):
        return tuple(_onp.broadcast_shapes(self.loc.shape[:-1], self.scale_tril.shape[:-2]))

    @property
    def event_shape(self):
        return self.loc.shape[-1:]

    def broadcast_to(self, batch_shape):
        batch_shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        k = self.loc.shape[-1]
        return MultivariateNormal(np.broadcast_to(self.loc, batch_shape + (k,)),
                                  scale_tril=np.broadcast_to(self.scale_tril,
                                                             batch_shape + (k, k)))

    def _half_log_det(self):
        return np.log(np.diagonal(self.scale_tril, axis1=-2, axis2=-1)).sum(-1)

    def _mahalanobis(self, value):
        return (_solve_lower(self.scale_tril, value - self.loc) ** 2).sum(-1)

    def log_prob(self, value):
        k = self.loc.shape[-1]
        return (-0.5 * (k * math.log(2 * math.pi) + self._mahalanobis(value))
                - self._half_log_det())

    def sample(self, size=None):
        shape = self._sample_shape(size) + self.event_shape
        eps = normal_noise(shape, (self.loc,))
        return self.loc + np.matmul(self.scale_tril, np.expand_dims(eps, -1))[..., 0]

    @property
    def mean(self):
        return self.loc + 0 * self.scale_tril[..., 0]

    @property
    def variance(self):
        return np.diagonal(self.cov, axis1=-2, axis2=-1) + 0 * self.loc

    def entropy(self):
        """Independent of loc, so (as in MXNet) its shape is the covariance's batch shape."""
        k = self.loc.shape[-1]
        return 0.5 * k * (1 + math.log(2 * math.pi)) + self._half_log_det()
