"""``TransformedDistribution``: the law of T(X) for X from a base distribution."""
from .distribution import Distribution
from .utils import sum_right_most

__all__ = ['TransformedDistribution']


class TransformedDistribution(Distribution):
    """Samples are ``transforms`` applied in order to base samples (so reparameterized
    base samples stay differentiable); log_prob inverts them and subtracts each
    log|dy/dx|, summed over the event axes the transform treats elementwise."""

    def __init__(self, base_dist, transforms, validate_args=None):
        self._base_dist = base_dist
        self._transforms = list(transforms) if isinstance(transforms, (list, tuple)) \
            else [transforms]
        event_dim = max([base_dist.event_dim] + [t.event_dim for t in self._transforms])
        super().__init__(event_dim=event_dim, validate_args=False)
        self._validate_args = bool(validate_args)

    @property
    def has_grad(self):
        return self._base_dist.has_grad

    @property
    def batch_shape(self):
        return self._base_dist.batch_shape

    @property
    def event_shape(self):
        return self._base_dist.event_shape

    def sample(self, size=None):
        x = self._base_dist.sample(size)
        for t in self._transforms:
            x = t(x)
        return x

    def sample_n(self, size=None):
        x = self._base_dist.sample_n(size)
        for t in self._transforms:
            x = t(x)
        return x

    def log_prob(self, value):
        """log p(y) = log p_base(x) - sum log|dy/dx| along y = T_n(...T_1(x))."""
        self._validate_samples(value)
        log_prob = 0.0
        y = value
        for t in reversed(self._transforms):
            x = t.inv(y)
            log_prob = log_prob - sum_right_most(t.log_det_jacobian(x, y),
                                                 self.event_dim - t.event_dim)
            y = x
        return log_prob + sum_right_most(self._base_dist.log_prob(y),
                                         self.event_dim - self._base_dist.event_dim)

    def __repr__(self):
        return (f"TransformedDistribution({self._base_dist!r}, "
                f"[{', '.join(type(t).__name__ for t in self._transforms)}])")
