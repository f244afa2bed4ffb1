"""Reinterpret batch axes of a distribution as event axes."""
from .distribution import Distribution
from .utils import sum_right_most

__all__ = ['Independent']


class Independent(Distribution):
    """Treats the rightmost ``reinterpreted_batch_ndims`` batch axes of ``base_distribution``
    as one event, so log_prob and entropy sum over them (a diagonal Normal as one
    multivariate event, for example)."""

    arg_constraints = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        base_batch = base_distribution.batch_shape
        if reinterpreted_batch_ndims > len(base_batch):
            raise ValueError(f"Independent: reinterpreted_batch_ndims="
                             f"{reinterpreted_batch_ndims} exceeds the base batch shape "
                             f"{base_batch}")
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        super().__init__(event_dim=reinterpreted_batch_ndims + base_distribution.event_dim,
                         validate_args=validate_args)

    @property
    def has_grad(self):
        return self.base_dist.has_grad

    @property
    def support(self):
        return self.base_dist.support

    @property
    def batch_shape(self):
        base = self.base_dist.batch_shape
        return base[:len(base) - self.reinterpreted_batch_ndims]

    @property
    def event_shape(self):
        base = self.base_dist.batch_shape
        return base[len(base) - self.reinterpreted_batch_ndims:] + self.base_dist.event_shape

    def broadcast_to(self, batch_shape):
        batch_shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        base_batch = self.base_dist.batch_shape
        reinterpreted = base_batch[len(base_batch) - self.reinterpreted_batch_ndims:]
        return Independent(self.base_dist.broadcast_to(batch_shape + reinterpreted),
                           self.reinterpreted_batch_ndims)

    def log_prob(self, value):
        return sum_right_most(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def sample(self, size=None):
        return self.base_dist.sample(size)

    def sample_n(self, size=None):
        return self.base_dist.sample_n(size)

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def variance(self):
        return self.base_dist.variance

    def entropy(self):
        return sum_right_most(self.base_dist.entropy(), self.reinterpreted_batch_ndims)
