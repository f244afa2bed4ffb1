"""The ``Distribution`` base class."""
from .... import numpy as np
from .utils import cached_property, batch_shape_of, sample_n_shape_converter

__all__ = ['Distribution']


class Distribution:
    """A batch of probability distributions over ``event_shape``-shaped values.

    Subclasses list their parameters in ``arg_constraints`` (name -> Constraint); with
    ``validate_args=True`` each is checked at construction. ``batch_shape`` is the broadcast
    shape of those parameters less ``event_dim`` trailing axes.
    """

    has_grad = False
    has_enumerate_support = False
    arg_constraints = {}
    support = None
    _validate_args = False

    @staticmethod
    def set_default_validate_args(value):
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args takes True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, F=None, event_dim=None, validate_args=None):
        self.F = np
        self.event_dim = 0 if event_dim is None else event_dim
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                if name not in self.__dict__ and \
                        isinstance(getattr(type(self), name, None), cached_property):
                    continue  # derived from another parameter, which is checked
                setattr(self, name, constraint.check(getattr(self, name)))

    def _params(self):
        return [self.__dict__[k] for k in self.arg_constraints if k in self.__dict__]

    @property
    def batch_shape(self):
        shape = batch_shape_of(*self._params())
        return shape[:len(shape) - self.event_dim] if self.event_dim else shape

    @property
    def event_shape(self):
        shape = batch_shape_of(*self._params())
        return shape[len(shape) - self.event_dim:] if self.event_dim else ()

    def _validate_samples(self, value):
        """Check ``value`` lies in the support when validating."""
        if self._validate_args and self.support is not None:
            self.support.check(value)
        return value

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not define log_prob")

    def prob(self, value):
        return np.exp(self.log_prob(value))

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not define cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not define icdf")

    def sample(self, size=None):
        """One draw per batch element, or a ``size``-shaped draw (``size`` must broadcast
        with ``batch_shape``); event axes are appended."""
        raise NotImplementedError(f"{type(self).__name__} does not define sample")

    def sample_n(self, size=None):
        """Draws of shape ``size + batch_shape + event_shape``."""
        return self.sample(sample_n_shape_converter(size) + self.batch_shape)

    def _sample_shape(self, size):
        if size is None:
            return self.batch_shape
        return (size,) if isinstance(size, int) else tuple(size)

    def broadcast_to(self, batch_shape):
        """A copy whose parameters are broadcast to ``batch_shape`` (plus event axes)."""
        batch_shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        full = batch_shape + self.event_shape
        for name in self.arg_constraints:
            if name in self.__dict__:
                value = self.__dict__[name]
                value = value if isinstance(value, np.ndarray) else np.array(value)
                new.__dict__[name] = np.broadcast_to(value, full)
        return new

    def enumerate_support(self):
        raise NotImplementedError(f"{type(self).__name__} has no enumerable support")

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} does not define mean")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} does not define variance")

    @property
    def stddev(self):
        return np.sqrt(self.variance)

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} does not define entropy")

    def perplexity(self):
        return np.exp(self.entropy())

    def __repr__(self):
        args = ', '.join(f"{k}: {getattr(self.__dict__.get(k), 'shape', self.__dict__.get(k))}"
                         for k in self.arg_constraints if k in self.__dict__)
        return f"{type(self).__name__}({args})"
