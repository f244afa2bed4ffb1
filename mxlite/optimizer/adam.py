"""Adam, AdamW, Adamax, Nadam, FTML, LAMB and LANS, with MXNet's update formulas."""
import math

from ..ndarray import ndarray
from .optimizer import Optimizer, register

__all__ = ["Adam", "AdamW", "Adamax", "Nadam", "FTML", "LAMB", "LANS"]


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


def _trust(r1, r2):
    """``r1 / r2``, or 1 where that is 0 or NaN (the LAMB/LANS trust ratio)."""
    ratio = r1 / r2 if r2 else math.nan
    return 1.0 if ratio == 0 or math.isnan(ratio) else ratio


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
        weight -= (lr * _trust(self._weight_norm(xp, weight), float(xp.linalg.norm(step)))) * step

    def _weight_norm(self, xp, weight):
        """``||w||`` clipped to [lower_bound, upper_bound], the numerator of the trust ratio."""
        r1 = float(xp.linalg.norm(weight))
        if self.lower_bound is not None:
            r1 = max(r1, self.lower_bound)
        if self.upper_bound is not None:
            r1 = min(r1, self.upper_bound)
        return r1


@register
class Nadam(Optimizer):
    """Adam with Nesterov momentum and a warming momentum schedule (Dozat, 2016):
    ``mu_t = beta1 * (1 - 0.5 * 0.96^(t*schedule_decay))``; the schedule product is kept by
    the optimizer across all parameters' updates, as in MXNet."""

    default_learning_rate = 0.001

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 schedule_decay=0.004, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay
        self.m_schedule = 1.0

    def create_state(self, index, weight):
        return (self._zeros_like(weight), self._zeros_like(weight))

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        t = self._index_update_count[index]
        g = self._grad(xp, index, weight, grad, wd)
        mu_t = self.beta1 * (1.0 - 0.5 * 0.96 ** (t * self.schedule_decay))
        mu_next = self.beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * self.schedule_decay))
        self.m_schedule *= mu_t
        schedule_next = self.m_schedule * mu_next
        mean, var = state
        _moments(xp, g, mean, var, self.beta1, self.beta2)
        m_bar = (1.0 - mu_t) * g / (1.0 - self.m_schedule) + mu_next * mean / (1.0 - schedule_next)
        weight -= lr * m_bar / (xp.sqrt(var / (1.0 - self.beta2 ** t)) + self.epsilon)


@register
class FTML(Optimizer):
    """Follow the moving leader (Zheng & Kwok, 2017). States (d, v, z):
    ``v = beta2*v + (1-beta2)*g^2``; ``d_t = (1-beta1^t)/lr * (sqrt(v/(1-beta2^t)) + eps)``;
    ``z = beta1*z + (1-beta1)*g - (d_t - beta1*d_{t-1})*w``; ``w = -z/d_t``."""

    default_learning_rate = 0.0025

    def __init__(self, learning_rate=0.0025, beta1=0.6, beta2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (self._zeros_like(weight), self._zeros_like(weight), self._zeros_like(weight))

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        t = self._index_update_count[index]
        g = self._grad(xp, index, weight, grad, wd)
        d, v, z = state
        v *= self.beta2
        v += (1.0 - self.beta2) * xp.square(g)
        sigma = -self.beta1 * d
        d[...] = (xp.sqrt(v / (1.0 - self.beta2 ** t)) + self.epsilon) * ((1.0 - self.beta1 ** t) / lr)
        sigma += d
        z *= self.beta1
        z += (1.0 - self.beta1) * g
        z -= sigma * weight
        weight[...] = -z / d


@register
class LANS(LAMB):
    """LAMB with Nesterov momentum on the normalized gradient (Zheng et al., 2020): the
    gradient is divided by its norm, and the step is the sum of a momentum part (weight
    ``beta1``) and a gradient part (weight ``1 - beta1``), each scaled by its own trust
    ratio ``||w|| / ||part||``."""

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        t = self._index_update_count[index]
        g = grad * self.rescale_grad
        norm = float(xp.linalg.norm(g))
        g = g / norm if norm else g
        if self.clip_gradient is not None:
            g = xp.clip(g, -self.clip_gradient, self.clip_gradient)
        mean, var = state
        _moments(xp, g, mean, var, self.beta1, self.beta2)
        r1 = self._weight_norm(xp, weight)
        denom = xp.sqrt(var / (1.0 - self.beta2 ** t)) + self.epsilon
        part_m = mean / (1.0 - self.beta1 ** t) / denom + wd * weight
        weight -= (lr * _trust(r1, float(xp.linalg.norm(part_m))) * self.beta1) * part_m
        part_g = g / denom + wd * weight
        weight -= (lr * _trust(r1, float(xp.linalg.norm(part_g))) * (1 - self.beta1)) * part_g
