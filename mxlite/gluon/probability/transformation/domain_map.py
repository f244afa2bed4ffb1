"""``biject_to`` / ``transform_to``: from a constraint to a transformation that maps
unconstrained reals into it (for optimizing constrained parameters in free space)."""
from numbers import Number

from .transformation import ExpTransform, AffineTransform, SigmoidTransform, ComposeTransform
from ..distributions.constraint import (Constraint, Positive, GreaterThan, GreaterThanEq,
                                        LessThan, Interval, HalfOpenInterval)

__all__ = ['domain_map', 'biject_to', 'transform_to']


class domain_map:
    """A registry: constraint class -> factory(constraint) -> Transformation."""

    def __init__(self):
        self._storage = {}

    def register(self, constraint, factory=None):
        """Register ``factory`` for a Constraint subclass (or an instance's class); with no
        factory, works as a decorator."""
        if factory is None:
            return lambda f: self.register(constraint, f)
        if isinstance(constraint, Constraint):
            constraint = type(constraint)
        if not (isinstance(constraint, type) and issubclass(constraint, Constraint)):
            raise TypeError("register takes a Constraint subclass or instance, got "
                            f"{constraint!r}")
        self._storage[constraint] = factory
        return factory

    def __call__(self, constraint):
        factory = self._storage.get(type(constraint))
        if factory is None:
            raise NotImplementedError(
                f"No transformation registered for {type(constraint).__name__} constraints; "
                f"registered: {sorted(c.__name__ for c in self._storage)}")
        return factory(constraint)


biject_to = domain_map()
transform_to = domain_map()


def _to_positive(constraint):
    return ExpTransform()


def _to_greater_than(constraint):
    return ComposeTransform([ExpTransform(), AffineTransform(constraint._lower_bound, 1)])


def _to_less_than(constraint):
    return ComposeTransform([ExpTransform(), AffineTransform(constraint._upper_bound, -1)])


def _to_interval(constraint):
    lower, upper = constraint._lower_bound, constraint._upper_bound
    if isinstance(lower, Number) and lower == 0 and isinstance(upper, Number) and upper == 1:
        return SigmoidTransform()
    return ComposeTransform([SigmoidTransform(), AffineTransform(lower, upper - lower)])


for _registry in (biject_to, transform_to):
    _registry.register(Positive, _to_positive)
    _registry.register(GreaterThan, _to_greater_than)
    _registry.register(GreaterThanEq, _to_greater_than)
    _registry.register(LessThan, _to_less_than)
    _registry.register(Interval, _to_interval)
    _registry.register(HalfOpenInterval, _to_interval)
