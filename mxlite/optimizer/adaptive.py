"""RMSProp, AdaGrad, AdaDelta and Ftrl, with MXNet's update formulas."""
from .optimizer import Optimizer, register

__all__ = ["RMSProp", "AdaGrad", "AdaDelta", "Ftrl"]


@register
class RMSProp(Optimizer):
    """``v = rho*v + (1-rho)*g^2``; ``w -= lr*g/(sqrt(v)+eps)``.

    ``centered`` (Graves): also ``m = rho*m + (1-rho)*g``;
    ``mom = momentum*mom - lr*g/sqrt(v - m^2 + eps)``; ``w += mom``.
    ``clip_weights`` clips the weights after each update.
    """

    default_learning_rate = 0.001

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.9, epsilon=1e-8,
                 centered=False, clip_weights=None, gamma1=None, gamma2=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        # MXNet 2.x renamed these and raises on the old names rather than guessing
        if gamma1 is not None:
            raise DeprecationWarning("parameter 'gamma1' is deprecated. Please use 'rho' instead...")
        if gamma2 is not None:
            raise DeprecationWarning(
                "parameter 'gamma2' is deprecated. Please use 'momentum' instead...")
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        self.clip_weights = clip_weights

    def create_state(self, index, weight):
        if self.centered:
            return (self._zeros_like(weight), self._zeros_like(weight), self._zeros_like(weight))
        return self._zeros_like(weight)

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        g = self._grad(xp, index, weight, grad, wd)
        rho = self.rho
        if not self.centered:
            var = state
            var *= rho
            var += (1 - rho) * xp.square(g)
            weight -= lr * g / (xp.sqrt(var) + self.epsilon)
        else:
            mean, var, mom = state
            mean *= rho
            mean += (1 - rho) * g
            var *= rho
            var += (1 - rho) * xp.square(g)
            mom *= self.momentum
            mom -= lr * g / xp.sqrt(var - xp.square(mean) + self.epsilon)
            weight += mom
        if self.clip_weights:
            xp.clip(weight, -self.clip_weights, self.clip_weights, out=weight)


@register
class AdaGrad(Optimizer):
    """``h += g^2``; ``w -= lr*g/(sqrt(h)+eps)``."""

    def __init__(self, learning_rate=0.01, epsilon=1e-6, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return self._zeros_like(weight)

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        g = self._grad(xp, index, weight, grad, wd)
        state += xp.square(g)
        weight -= lr * g / (xp.sqrt(state) + self.epsilon)


@register
class AdaDelta(Optimizer):
    """``acc_g = rho*acc_g + (1-rho)*g^2``; ``d = sqrt(acc_d+eps)/sqrt(acc_g+eps)*g``;
    ``acc_d = rho*acc_d + (1-rho)*d^2``; ``w -= lr*d``."""

    default_learning_rate = 1.0

    def __init__(self, learning_rate=1.0, rho=0.9, epsilon=1e-6, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (self._zeros_like(weight), self._zeros_like(weight))

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        g = self._grad(xp, index, weight, grad, wd)
        acc_g, acc_delta = state
        acc_g *= self.rho
        acc_g += (1 - self.rho) * xp.square(g)
        delta = xp.sqrt(acc_delta + self.epsilon) / xp.sqrt(acc_g + self.epsilon) * g
        acc_delta *= self.rho
        acc_delta += (1 - self.rho) * xp.square(delta)
        weight -= lr * delta


@register
class Ftrl(Optimizer):
    """Follow the regularized leader (McMahan et al.), as MXNet's ``ftrl_update``:
    ``z += g - (sqrt(n+g^2) - sqrt(n))*w/lr``; ``n += g^2``;
    ``w = (sign(z)*lamda1 - z) / ((beta + sqrt(n))/lr + wd)`` where ``|z| > lamda1``, else 0."""

    default_learning_rate = 0.1

    def __init__(self, learning_rate=0.1, lamda1=0.01, beta=1, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.lamda1 = lamda1
        self.beta = beta

    def create_state(self, index, weight):
        return (self._zeros_like(weight), self._zeros_like(weight))

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        g = self._grad(xp, index, weight, grad)
        z, n = state
        g2 = xp.square(g)
        z += g - (xp.sqrt(n + g2) - xp.sqrt(n)) * weight / lr
        n += g2
        weight[...] = (xp.sign(z) * self.lamda1 - z) / ((self.beta + xp.sqrt(n)) / lr + wd) * (
            xp.abs(z) > self.lamda1)
