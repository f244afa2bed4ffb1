"""Adam, AdamW, Adamax and LAMB, with MXNet's update formulas."""
import math

from ..ndarray import ndarray
from .optimizer import Optimizer, register

__all__ = ["Adam", "AdamW", "Adamax", "LAMB"]


def _moments(xp, g, mean, var, beta1, beta2):
    """``1 - beta`` is taken in the state's precision, as MXNet's kernels (and ours) do in float32."""
    one = mean.dtype.type(1)
    mean *= beta1
    mean += (one - mean.dtype.type(beta1)) * g
    var *= beta2
    var += (one - var.dtype.type(beta2)) * xp.square(g)


def _bias_correction(beta1, beta2, t):
    """``sqrt(1-beta2^t) / (1-beta1^t)``, the factor of the Adam step (mxlite.cuda.ops' formula)."""
    return math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)


def _moment_arrays(state):
    if (isinstance(state, tuple) and len(state) == 2
            and all(isinstance(s, ndarray) for s in state)):
        return state
    return None


@register
class Adam(Optimizer):
    """Adam as MXNet: bias correction folded into the rate,
    ``lr_t = lr*sqrt(1-beta2^t)/(1-beta1^t)``, and epsilon added to the uncorrected
    ``sqrt(v)``: ``w -= lr_t * m / (sqrt(v) + epsilon)``; ``g`` includes ``wd*w``."""

    default_learning_rate = 0.001

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (self._zeros_like(weight), self._zeros_like(weight))

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        t = self._index_update_count[index]
        lr *= _bias_correction(self.beta1, self.beta2, t)
        g = self._grad(xp, index, weight, grad, wd)
        mean, var = state
        _moments(xp, g, mean, var, self.beta1, self.beta2)
        weight -= lr * mean / (xp.sqrt(var) + self.epsilon)

    def _fused_state_arrays(self, state):
        return _moment_arrays(state)

    def _launch_fused(self, kernels, weights, grads, states, masters, lrs, wds, counts):
        means, variances = states
        kernels.adam_update(
            weights, grads, means, variances, lrs, counts, beta1=self.beta1, beta2=self.beta2,
            epsilon=self.epsilon, wd=wds, rescale_grad=float(self.rescale_grad),
            clip_gradient=self.clip_gradient, master_weights=masters)


@register
class AdamW(Optimizer):
    """Adam with decoupled weight decay, as MXNet's fused ``adamw_update``:
    ``w -= lr_t * (m/(sqrt(v)+eps) + wd*w)``, where ``lr_t`` carries Adam's bias
    correction when ``correct_bias``.
    """

    default_learning_rate = 0.001

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 correct_bias=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.correct_bias = correct_bias

    def create_state(self, index, weight):
        return (self._zeros_like(weight), self._zeros_like(weight))

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        t = self._index_update_count[index]
        lr_t = lr
        if self.correct_bias:
            lr_t *= _bias_correction(self.beta1, self.beta2, t)
        g = self._grad(xp, index, weight, grad)
        mean, var = state
        _moments(xp, g, mean, var, self.beta1, self.beta2)
        step = mean / (xp.sqrt(var) + self.epsilon)
        if wd:
            step += wd * weight
        weight -= lr_t * step

    def _fuses(self):
        return self.beta2 != 1 and self.beta1 != 1  # keeps the bias correction nonzero and finite

    def _fused_state_arrays(self, state):
        return _moment_arrays(state)

    def _launch_fused(self, kernels, weights, grads, states, masters, lrs, wds, counts):
        """The kernel steps by ``lr_i * c(t)``, c the bias correction, and decays by ``lr_i * wd_i``;
        MXNet decays by the step's rate: ``lr_i = lr_t / c(t)`` and ``wd_i = wd * c(t)`` give both."""
        means, variances = states
        corrections = [_bias_correction(self.beta1, self.beta2, t) for t in counts]
        rates = [lr if self.correct_bias else lr / c for lr, c in zip(lrs, corrections)]
        kernels.adamw_update(
            weights, grads, means, variances, rates, counts, beta1=self.beta1, beta2=self.beta2,
            epsilon=self.epsilon, wd=[wd * c for wd, c in zip(wds, corrections)],
            rescale_grad=float(self.rescale_grad), clip_gradient=self.clip_gradient,
            master_weights=masters)


@register
class Adamax(Optimizer):
    """Adam with the infinity norm: ``u = max(beta2*u, |g|)``; ``w -= lr/(1-beta1^t) * m/u``."""

    default_learning_rate = 0.002

    def __init__(self, learning_rate=0.002, beta1=0.9, beta2=0.999, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2

    def create_state(self, index, weight):
        return (self._zeros_like(weight), self._zeros_like(weight))

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        t = self._index_update_count[index]
        lr /= 1 - self.beta1 ** t
        g = self._grad(xp, index, weight, grad, wd)
        mean, u = state
        mean *= self.beta1
        mean += (1 - self.beta1) * g
        xp.maximum(self.beta2 * u, xp.abs(g), out=u)
        weight -= lr * mean / u


@register
class LAMB(Optimizer):
    """Layer-wise adaptive Adam: the step ``m_hat/(sqrt(v_hat)+eps) + wd*w`` is scaled by
    the trust ratio ``||w|| / ||step||`` (||w|| clipped to [lower_bound, upper_bound])."""

    default_learning_rate = 0.001

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 lower_bound=None, upper_bound=None, bias_correction=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.bias_correction = bias_correction

    def create_state(self, index, weight):
        return (self._zeros_like(weight), self._zeros_like(weight))

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        t = self._index_update_count[index]
        g = self._grad(xp, index, weight, grad)
        mean, var = state
        _moments(xp, g, mean, var, self.beta1, self.beta2)
        if self.bias_correction:
            step = (mean / (1 - self.beta1 ** t)) / (
                xp.sqrt(var / (1 - self.beta2 ** t)) + self.epsilon)
        else:
            step = mean / (xp.sqrt(var) + self.epsilon)
        if wd:
            step += wd * weight
        r1 = float(xp.linalg.norm(weight))
        if self.lower_bound is not None:
            r1 = max(r1, self.lower_bound)
        if self.upper_bound is not None:
            r1 = min(r1, self.upper_bound)
        r2 = float(xp.linalg.norm(step))
        ratio = 1.0 if r1 == 0 or r2 == 0 else r1 / r2
        weight -= (lr * ratio) * step
