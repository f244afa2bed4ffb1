"""Constraints on distribution parameters and supports.

``check(value)`` returns ``value`` when every element satisfies the constraint and raises
ValueError (through ``npx.constraint_check``) naming the constraint otherwise, so a
distribution built with ``validate_args=True`` fails at construction, not later as NaN.
"""
from .... import numpy as np
from .... import numpy_extension as npx

__all__ = ['Constraint', 'Real', 'Boolean', 'Interval', 'OpenInterval', 'HalfOpenInterval',
           'UnitInterval', 'IntegerInterval', 'IntegerOpenInterval', 'IntegerHalfOpenInterval',
           'GreaterThan', 'GreaterThanEq', 'IntegerGreaterThan', 'IntegerGreaterThanEq',
           'LessThan', 'LessThanEq', 'IntegerLessThan', 'IntegerLessThanEq', 'Positive',
           'NonNegative', 'PositiveInteger', 'NonNegativeInteger', 'Simplex',
           'LowerTriangular', 'LowerCholesky', 'PositiveDefinite', 'Cat', 'Stack',
           'Dependent', 'dependent_property', 'is_dependent']


def _enforce(cond, value, msg):
    if not isinstance(cond, np.ndarray):
        cond = np.array(bool(cond))
    npx.constraint_check(cond, msg)
    return value


def _is_integer(value):
    return value == np.floor(value)


class Constraint:
    """Base class: subclasses define ``_holds(value)``, a boolean array."""

    def check(self, value):
        return _enforce(self._holds(value), value,
                        f"Constraint violated: {value} should be {self._describe()}.")

    def _holds(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not define _holds")

    def _describe(self):
        return type(self).__name__

    def __repr__(self):
        return self._describe()


class Dependent(Constraint):
    """Placeholder for a support that depends on parameters (checked by the distribution)."""

    def check(self, value):
        raise ValueError("Dependent constraints cannot be checked on their own: the "
                         "distribution's support property gives the concrete constraint")


class dependent_property(property):
    """A property whose value is a constraint computed from the instance's parameters."""


def is_dependent(constraint):
    return isinstance(constraint, Dependent)


class Real(Constraint):
    """Finite or infinite reals: rejects only NaN."""

    def _holds(self, value):
        return value == value

    def _describe(self):
        return "a real number (not NaN)"


class Boolean(Constraint):
    def _holds(self, value):
        return (value == 0) | (value == 1)

    def _describe(self):
        return "0 or 1"


class _Bounded(Constraint):
    integer = False

    def __init__(self, lower_bound=None, upper_bound=None):
        self._lower_bound = lower_bound
        self._upper_bound = upper_bound

    def _holds(self, value):
        cond = self._in_bounds(value)
        return cond & _is_integer(value) if self.integer else cond

    def _describe(self):
        kind = "an integer" if self.integer else "a number"
        return f"{kind} {self._bounds_text()}"


class Interval(_Bounded):
    """lower <= value <= upper."""

    def _in_bounds(self, value):
        return (value >= self._lower_bound) & (value <= self._upper_bound)

    def _bounds_text(self):
        return f"in [{self._lower_bound}, {self._upper_bound}]"


class OpenInterval(_Bounded):
    """lower < value < upper."""

    def _in_bounds(self, value):
        return (value > self._lower_bound) & (value < self._upper_bound)

    def _bounds_text(self):
        return f"in ({self._lower_bound}, {self._upper_bound})"


class HalfOpenInterval(_Bounded):
    """lower <= value < upper."""

    def _in_bounds(self, value):
        return (value >= self._lower_bound) & (value < self._upper_bound)

    def _bounds_text(self):
        return f"in [{self._lower_bound}, {self._upper_bound})"


class UnitInterval(Interval):
    def __init__(self):
        super().__init__(0, 1)


class IntegerInterval(Interval):
    integer = True


class IntegerOpenInterval(OpenInterval):
    integer = True


class IntegerHalfOpenInterval(HalfOpenInterval):
    integer = True


class GreaterThan(_Bounded):
    def __init__(self, lower_bound):
        super().__init__(lower_bound=lower_bound)

    def _in_bounds(self, value):
        return value > self._lower_bound

    def _bounds_text(self):
        return f"> {self._lower_bound}"


class GreaterThanEq(GreaterThan):
    def _in_bounds(self, value):
        return value >= self._lower_bound

    def _bounds_text(self):
        return f">= {self._lower_bound}"


class IntegerGreaterThan(GreaterThan):
    integer = True


class IntegerGreaterThanEq(GreaterThanEq):
    integer = True


class LessThan(_Bounded):
    def __init__(self, upper_bound):
        super().__init__(upper_bound=upper_bound)

    def _in_bounds(self, value):
        return value < self._upper_bound

    def _bounds_text(self):
        return f"< {self._upper_bound}"


class LessThanEq(LessThan):
    def _in_bounds(self, value):
        return value <= self._upper_bound

    def _bounds_text(self):
        return f"<= {self._upper_bound}"


class IntegerLessThan(LessThan):
    integer = True


class IntegerLessThanEq(LessThanEq):
    integer = True


class Positive(GreaterThan):
    def __init__(self):
        super().__init__(0)


class NonNegative(GreaterThanEq):
    def __init__(self):
        super().__init__(0)


class PositiveInteger(IntegerGreaterThan):
    def __init__(self):
        super().__init__(0)


class NonNegativeInteger(IntegerGreaterThanEq):
    def __init__(self):
        super().__init__(0)


class Simplex(Constraint):
    """Non-negative entries summing to 1 over the last axis."""

    def _holds(self, value):
        return np.all(value >= 0, axis=-1) & (np.abs(value.sum(-1) - 1) < 1e-6)

    def _describe(self):
        return "on the simplex (non-negative, last axis sums to 1)"


class LowerTriangular(Constraint):
    def _holds(self, value):
        return np.all(np.tril(value) == value, axis=(-2, -1))

    def _describe(self):
        return "lower triangular"


class LowerCholesky(Constraint):
    """Lower triangular with a positive diagonal."""

    def _holds(self, value):
        diag = np.diagonal(value, axis1=-2, axis2=-1)
        return np.all(np.tril(value) == value, axis=(-2, -1)) & np.all(diag > 0, axis=-1)

    def _describe(self):
        return "lower triangular with a positive diagonal"


class PositiveDefinite(Constraint):
    """Symmetric with positive eigenvalues."""

    def _holds(self, value):
        symmetric = np.all(np.abs(value - np.swapaxes(value, -1, -2)) < 1e-6, axis=(-2, -1))
        return symmetric & np.all(np.linalg.eigvalsh(value) > 0, axis=-1)

    def _describe(self):
        return "symmetric positive definite"


class Cat(Constraint):
    """``constraints[i]`` applies to the slice of ``lengths[i]`` entries along ``axis``."""

    def __init__(self, constraints, axis=0, lengths=None):
        self._constraints = list(constraints)
        self._lengths = list(lengths) if lengths is not None else [1] * len(self._constraints)
        if len(self._lengths) != len(self._constraints):
            raise ValueError(f"Cat: {len(self._constraints)} constraints but "
                             f"{len(self._lengths)} lengths")
        self._axis = axis

    def check(self, value):
        if value.shape[self._axis] != sum(self._lengths):
            raise ValueError(f"Cat: axis {self._axis} of shape {value.shape} should have "
                             f"length {sum(self._lengths)}")
        start = 0
        for constraint, length in zip(self._constraints, self._lengths):
            index = [slice(None)] * value.ndim
            index[self._axis] = slice(start, start + length)
            constraint.check(value[tuple(index)])
            start += length
        return value


class Stack(Constraint):
    """``constraints[i]`` applies to index ``i`` along ``axis``."""

    def __init__(self, constraints, axis=0):
        self._constraints = list(constraints)
        self._axis = axis

    def check(self, value):
        if value.shape[self._axis] != len(self._constraints):
            raise ValueError(f"Stack: axis {self._axis} of shape {value.shape} should have "
                             f"length {len(self._constraints)}")
        for i, constraint in enumerate(self._constraints):
            constraint.check(np.take(value, i, axis=self._axis))
        return value
