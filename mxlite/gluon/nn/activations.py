"""Activation layers (``gluon.nn``): Activation, LeakyReLU, PReLU, ELU, SELU, GELU, SiLU, Swish."""
import math

from ... import initializer
from ... import numpy as np
from ... import numpy_extension as npx
from ..block import HybridBlock
from ..parameter import Parameter

__all__ = ["Activation", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "SiLU", "Swish",
           "activate"]


def _softrelu(x):
    """log(1 + exp(x)) without overflow: relu(x) + log(1 + exp(-|x|))."""
    return npx.relu(x) + np.log(1 + np.exp(-np.abs(x)))


_ACTIVATIONS = {
    "relu": npx.relu,
    "sigmoid": npx.sigmoid,
    "tanh": np.tanh,
    "softrelu": _softrelu,
    "softsign": lambda x: x / (1 + np.abs(x)),
}


def activate(x, act_type):
    """``act_type`` ('relu', 'sigmoid', 'tanh', 'softrelu', 'softsign') applied to ``x``."""
    fn = _ACTIVATIONS.get(act_type)
    if fn is None:
        raise ValueError(f"unknown activation {act_type!r}; use one of {sorted(_ACTIVATIONS)}")
    return fn(x)


class Activation(HybridBlock):
    """An activation function by name ('relu', 'sigmoid', 'tanh', 'softrelu', 'softsign')."""

    def __init__(self, activation):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; use one of "
                             f"{sorted(_ACTIVATIONS)}")
        self._act_type = activation

    def forward(self, x):
        return activate(x, self._act_type)

    def __repr__(self):
        return f"Activation({self._act_type})"


class LeakyReLU(HybridBlock):
    """x for x > 0, alpha * x otherwise."""

    def __init__(self, alpha):
        super().__init__()
        if alpha < 0:
            raise ValueError(f"Slope coefficient for LeakyReLU must be no less than 0, got {alpha}")
        self._alpha = alpha

    def forward(self, x):
        return np.where(x > 0, x, x * self._alpha)

    def __repr__(self):
        return f"LeakyReLU({self._alpha})"


class PReLU(HybridBlock):
    """LeakyReLU with a learned slope (one per channel with ``in_channels`` > 1, on axis 1)."""

    def __init__(self, alpha_initializer=initializer.Constant(0.25), in_channels=1):
        super().__init__()
        self.alpha = Parameter("alpha", shape=(in_channels,), init=alpha_initializer)

    def forward(self, x):
        alpha = self.alpha.data(x.device)
        if alpha.shape[0] > 1:
            alpha = alpha.reshape((1, -1) + (1,) * (x.ndim - 2))
        return np.where(x > 0, x, x * alpha)


class ELU(HybridBlock):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def forward(self, x):
        return np.where(x > 0, x, self._alpha * (np.exp(np.minimum(x, 0)) - 1))


class SELU(HybridBlock):
    """Scaled ELU with the self-normalizing constants (correct gradient for x < 0)."""

    _ALPHA = 1.6732632423543772848170429916717
    _SCALE = 1.0507009873554804934193349852946

    def forward(self, x):
        neg = self._ALPHA * (np.exp(np.minimum(x, 0)) - 1)
        return self._SCALE * np.where(x > 0, x, neg)


class GELU(HybridBlock):
    """Gaussian error linear unit: the erf form, or the tanh approximation."""

    def __init__(self, approximation="erf"):
        super().__init__()
        if approximation not in ("erf", "tanh"):
            raise ValueError(f"approximation must be 'erf' or 'tanh', got {approximation!r}")
        self._approximation = approximation

    def forward(self, x):
        if self._approximation == "tanh":
            inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
            return 0.5 * x * (1 + np.tanh(inner))
        return npx.leaky_relu(x, act_type="gelu")


class SiLU(HybridBlock):
    """x * sigmoid(x)."""

    def forward(self, x):
        return x * npx.sigmoid(x)


class Swish(HybridBlock):
    """x * sigmoid(beta * x)."""

    def __init__(self, beta=1.0):
        super().__init__()
        self._beta = beta

    def forward(self, x):
        return x * npx.sigmoid(self._beta * x)
