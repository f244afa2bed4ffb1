"""Transformations y = T(x) with their inverse and log|dy/dx|, the pieces a
``TransformedDistribution`` needs to turn a base density into the density of T(X)."""
import weakref

from .... import numpy as np
from .... import numpy_extension as npx
from ...block import HybridBlock
from ..distributions.utils import sum_right_most, _clip_prob

__all__ = ['Transformation', 'TransformBlock', 'ComposeTransform', 'ExpTransform',
           'AffineTransform', 'PowerTransform', 'AbsTransform', 'SigmoidTransform',
           'SoftmaxTransform']


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class Transformation:
    """Base class. ``event_dim`` is how many rightmost axes one application couples (0 for
    elementwise maps); ``bijective`` says whether ``inv`` is a true inverse."""

    bijective = False
    event_dim = 0

    def __init__(self, F=None):
        self._inv = None
        self.F = np

    @property
    def inv(self):
        """The inverse transformation, cached weakly so the pair does not form a cycle."""
        inv = self._inv() if self._inv is not None else None
        if inv is None:
            inv = _InverseTransformation(self)
            self._inv = weakref.ref(inv)
        return inv

    def __call__(self, x):
        return self._forward_compute(x)

    def _forward_compute(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define _forward_compute")

    def _inverse_compute(self, y):
        raise NotImplementedError(f"{type(self).__name__} is not invertible "
                                  "(it defines no _inverse_compute)")

    def log_det_jacobian(self, x, y):
        """log|dy/dx| at the pair (x, y = T(x))."""
        raise NotImplementedError(f"{type(self).__name__} does not define log_det_jacobian")


class _InverseTransformation(Transformation):
    """T^-1, reached through ``T.inv``."""

    def __init__(self, forward):
        super().__init__()
        self._forward = forward

    @property
    def inv(self):
        return self._forward

    @property
    def bijective(self):
        return self._forward.bijective

    @property
    def event_dim(self):
        return self._forward.event_dim

    def __call__(self, y):
        return self._forward._inverse_compute(y)

    def log_det_jacobian(self, x, y):
        return -self._forward.log_det_jacobian(y, x)


class TransformBlock(Transformation, HybridBlock):
    """A transformation that is also a HybridBlock, so it can own learnable parameters
    (normalizing flows)."""

    def __init__(self):
        Transformation.__init__(self)
        HybridBlock.__init__(self)

    def __call__(self, x):
        return self._forward_compute(x)


class ComposeTransform(Transformation):
    """parts[-1](...parts[0](x)); the log-det-Jacobian is the sum of the parts', each
    summed over the axes it treats as batch but the composition treats as event."""

    def __init__(self, parts):
        super().__init__()
        self._parts = list(parts)

    @property
    def bijective(self):
        return all(t.bijective for t in self._parts)

    @property
    def event_dim(self):
        return max((t.event_dim for t in self._parts), default=0)

    @property
    def inv(self):
        inv = self._inv() if self._inv is not None else None
        if inv is None:
            inv = ComposeTransform([t.inv for t in reversed(self._parts)])
            self._inv = weakref.ref(inv)
            inv._inv = weakref.ref(self)
        return inv

    def _forward_compute(self, x):
        for t in self._parts:
            x = t(x)
        return x

    def log_det_jacobian(self, x, y):
        if not self._parts:
            return np.zeros_like(x)
        result = 0
        for i, t in enumerate(self._parts):
            x_next = y if i == len(self._parts) - 1 else t(x)
            result = result + sum_right_most(t.log_det_jacobian(x, x_next),
                                             self.event_dim - t.event_dim)
            x = x_next
        return result


class ExpTransform(Transformation):
    """y = exp(x)."""

    bijective = True

    def _forward_compute(self, x):
        return np.exp(x)

    def _inverse_compute(self, y):
        return np.log(y)

    def log_det_jacobian(self, x, y):
        return x


class AffineTransform(Transformation):
    """y = loc + scale * x, elementwise; ``event_dim`` axes are summed in the log-det."""

    bijective = True

    def __init__(self, loc, scale, event_dim=0):
        super().__init__()
        self._loc = loc
        self._scale = scale
        self.event_dim = event_dim

    def _forward_compute(self, x):
        return self._loc + self._scale * x

    def _inverse_compute(self, y):
        return (y - self._loc) / self._scale

    def log_det_jacobian(self, x, y):
        scale = self._scale if isinstance(self._scale, np.ndarray) else np.array(self._scale)
        return sum_right_most(np.ones_like(x) * np.log(np.abs(scale)), self.event_dim)


class PowerTransform(Transformation):
    """y = x ** exponent (for x > 0)."""

    bijective = True

    def __init__(self, exponent):
        super().__init__()
        self._exponent = exponent

    def _forward_compute(self, x):
        return np.power(x, self._exponent)

    def _inverse_compute(self, y):
        return np.power(y, 1 / self._exponent)

    def log_det_jacobian(self, x, y):
        return np.log(np.abs(self._exponent * y / x))


class SigmoidTransform(Transformation):
    """y = sigmoid(x), clipped away from 0 and 1 so the inverse stays finite."""

    bijective = True

    def _forward_compute(self, x):
        return _clip_prob(npx.sigmoid(x))

    def _inverse_compute(self, y):
        p = _clip_prob(y)
        return np.log(p) - np.log1p(-p)

    def log_det_jacobian(self, x, y):
        return -_softplus(-x) - _softplus(x)


class SoftmaxTransform(Transformation):
    """y = softmax(x) over the last axis; not bijective (softmax forgets a shift), so
    ``inv`` gives one preimage, log(y), and there is no log-det-Jacobian."""

    event_dim = 1

    def _forward_compute(self, x):
        return npx.softmax(x, axis=-1)

    def _inverse_compute(self, y):
        return np.log(y)


class AbsTransform(Transformation):
    """y = |x|; not injective, so ``inv`` gives the non-negative preimage."""

    def _forward_compute(self, x):
        return np.abs(x)

    def _inverse_compute(self, y):
        return y
