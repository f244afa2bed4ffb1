"""Activation layers (``gluon.nn``) over ``npx.activation`` and ``npx.leaky_relu``."""
from ... import initializer
from ... import numpy_extension as npx
from ..block import HybridBlock
from ..parameter import Parameter

__all__ = ["Activation", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "SiLU", "Swish"]


class Activation(HybridBlock):
    """An activation by name: relu, sigmoid, tanh, softrelu, softsign (``npx.activation``)."""

    def __init__(self, activation):
        super().__init__()
        self._act_type = activation

    def forward(self, x):
        return npx.activation(x, act_type=self._act_type)

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
        return npx.leaky_relu(x, act_type="leaky", slope=self._alpha)

    def __repr__(self):
        return f"LeakyReLU({self._alpha})"


class PReLU(HybridBlock):
    """LeakyReLU with a learned slope (one per channel on axis 1 with ``in_channels`` > 1)."""

    def __init__(self, alpha_initializer=initializer.Constant(0.25), in_channels=1):
        super().__init__()
        self.alpha = Parameter("alpha", shape=(in_channels,), init=alpha_initializer)

    def forward(self, x):
        return npx.leaky_relu(x, gamma=self.alpha.data(x.device), act_type="prelu")


class ELU(HybridBlock):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def forward(self, x):
        return npx.leaky_relu(x, act_type="elu", slope=self._alpha)


class SELU(HybridBlock):
    """Scaled ELU with the self-normalizing constants."""

    def forward(self, x):
        return npx.leaky_relu(x, act_type="selu")


class GELU(HybridBlock):
    """Gaussian error linear unit: the erf form, or ``approximation='tanh'``."""

    def __init__(self, approximation="erf"):
        super().__init__()
        if approximation not in ("erf", "tanh"):
            raise ValueError(f"approximation must be 'erf' or 'tanh', got {approximation!r}")
        self._act_type = "gelu" if approximation == "erf" else "gelu_tanh"

    def forward(self, x):
        return npx.leaky_relu(x, act_type=self._act_type)


class SiLU(HybridBlock):
    """x * sigmoid(x)."""

    def forward(self, x):
        return npx.activation(x, act_type="silu")


class Swish(HybridBlock):
    """x * sigmoid(beta * x)."""

    def __init__(self, beta=1.0):
        super().__init__()
        self._beta = beta

    def forward(self, x):
        return x * npx.sigmoid(self._beta * x)
