"""SGD (with momentum / Nesterov), NAG and Signum, with MXNet's update formulas.

SGD and NAG keep MXNet's momentum state, the step added to the weight
(``mom = momentum*mom - lr*g; w += mom``), in the per-array paths and in the fused kernel
(kernels/optimizer.cu) alike, so states move between devices and between MXNet and mxlite.
"""
import math as _math

import numpy as _np

from ..ndarray import ndarray
from .optimizer import Optimizer, register

__all__ = ["SGD", "NAG", "Signum", "DCASGD", "SGLD", "LARS"]


@register
class SGD(Optimizer):
    """``g = clip(rescale*grad) + wd*w``; ``mom = momentum*mom - lr*g``; ``w += mom``.

    Without momentum ``w -= lr*g``. ``nesterov=True`` uses NAG's look-ahead step (not fused).
    """

    default_learning_rate = 0.1

    def __init__(self, learning_rate=0.1, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.nesterov = nesterov

    def create_state(self, index, weight):
        return self._zeros_like(weight) if self.momentum != 0.0 else None

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        if state is not None and not self.nesterov and self.clip_gradient is None:
            # the same update with lr folded into the gradient scaling: one pass, no temporary
            step = self._scratch_for(xp, index, weight, grad)
            xp.multiply(grad, -lr * self.rescale_grad, out=step, casting="unsafe")
            if wd:
                step -= (lr * wd) * weight
            state *= self.momentum
            state += step
            weight += state
            return
        g = self._grad(xp, index, weight, grad, wd)
        if state is None:
            weight -= lr * g
        elif self.nesterov:
            _nesterov_step(weight, g, state, lr, self.momentum)
        else:
            state *= self.momentum
            state -= lr * g
            weight += state

    def _fuses(self):
        return not self.nesterov

    def _fused_state_arrays(self, state):
        if state is None:
            return ()
        return (state,) if isinstance(state, ndarray) else None

    def _launch_fused(self, kernels, weights, grads, states, masters, lrs, wds, counts):
        moms = states[0] if states else None
        kernels.sgd_momentum_update(
            weights, grads, moms, lrs, momentum=self.momentum if moms is not None else 0.0, wd=wds,
            rescale_grad=float(self.rescale_grad), clip_gradient=self.clip_gradient,
            master_weights=masters)


def _nesterov_step(weight, g, mom, lr, momentum):
    """``mom = momentum*mom - lr*g``; ``w += momentum*mom - lr*g`` (MXNet 2.x's NAG)."""
    mom *= momentum
    mom -= lr * g
    weight += momentum * mom - lr * g


@register
class NAG(Optimizer):
    """Nesterov accelerated gradient: ``mom = momentum*mom - lr*g``;
    ``w += momentum*mom - lr*g`` (``g`` includes ``wd*w``)."""

    default_learning_rate = 0.1

    def __init__(self, learning_rate=0.1, momentum=0.9, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum

    def create_state(self, index, weight):
        return self._zeros_like(weight) if self.momentum != 0.0 else None

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        g = self._grad(xp, index, weight, grad, wd)
        if state is None:
            weight -= lr * g
        else:
            _nesterov_step(weight, g, state, lr, self.momentum)


@register
class Signum(Optimizer):
    """Sign of the momentum: ``mom = momentum*mom - (1-momentum)*(g + wd*w)``;
    ``w = (1 - lr*wd_lh)*w + lr*sign(mom)``. Without momentum (signSGD):
    ``w = (1 - lr*(wd + wd_lh))*w - lr*sign(g)``."""

    def __init__(self, learning_rate=0.01, momentum=0.9, wd_lh=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def create_state(self, index, weight):
        return self._zeros_like(weight) if self.momentum != 0.0 else None

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        if state is None:
            g = self._grad(xp, index, weight, grad)
            weight *= 1 - lr * (wd + self.wd_lh)
            weight -= lr * xp.sign(g)
        else:
            g = self._grad(xp, index, weight, grad, wd)
            state *= self.momentum
            state -= (1 - self.momentum) * g
            weight *= 1 - lr * self.wd_lh
            weight += lr * xp.sign(state)


@register
class DCASGD(Optimizer):
    """Delay-compensated async SGD (Zheng et al., 2016):
    ``d = g + lamda * g*g * (w - w_prev)``; ``mom = momentum*mom - lr*d`` (or ``-lr*d``);
    ``w_prev = w``; ``w += mom`` (``g`` includes ``wd*w``)."""

    default_learning_rate = 0.1

    def __init__(self, learning_rate=0.1, momentum=0.0, lamda=0.04, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.lamda = lamda

    def create_state(self, index, weight):
        previous = self._zeros_like(weight)
        previous._data[...] = weight._data
        return (self._zeros_like(weight) if self.momentum != 0.0 else None, previous)

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        mom, previous = state
        g = self._grad(xp, index, weight, grad, wd)
        d = g + self.lamda * g * g * (weight - previous)
        if mom is None:
            step = -lr * d
        else:
            mom *= self.momentum
            mom -= lr * d
            step = mom
        previous[...] = weight
        weight += step


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics: ``w += -lr/2 * g + N(0, sqrt(lr))`` (the
    noise drawn from the weight's device generator, so ``mx.random.seed`` fixes it)."""

    default_learning_rate = 0.1

    def __init__(self, learning_rate=0.1, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)

    def create_state(self, index, weight):
        return None

    def _update_array(self, index, weight, grad, state, lr, wd):
        self._noise_source = weight._device.backend
        super()._update_array(index, weight, grad, state, lr, wd)

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        backend = self._noise_source
        with backend.scope():
            noise = backend.rng.standard_normal(weight.shape, dtype=_np.float32)
        g = self._grad(xp, index, weight, grad, wd)
        weight += (-lr / 2) * g + _math.sqrt(lr) * noise.astype(weight.dtype, copy=False)


@register
class LARS(Optimizer):
    """Layer-wise adaptive rate scaling (You et al., 2017): the rate of each weight is
    ``lr * eta * |w| / (|rescale*grad| + wd*|w| + epsilon)`` (1 where that is 0 or NaN, and
    for parameters named ``*gamma``, ``*beta``, ``*bias``); then SGD with momentum
    ``mom = momentum*mom - lr*g; w += mom``."""

    default_learning_rate = 0.1

    def __init__(self, learning_rate=0.1, momentum=0.0, eta=0.001, epsilon=1e-8, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.eta = eta
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return self._zeros_like(weight) if self.momentum != 0.0 else None

    def _trust_ratio(self, xp, index, weight, grad, wd):
        name = self.idx2name.get(index, str(index))
        if name.endswith(("gamma", "beta", "bias")):
            return 1.0
        w_norm = float(xp.linalg.norm(weight.astype(_np.float32)))
        g_norm = float(xp.linalg.norm(grad.astype(_np.float32) * self.rescale_grad))
        if w_norm == 0 or g_norm == 0 or _math.isnan(w_norm / g_norm):
            return 1.0
        return self.eta * w_norm / (g_norm + wd * w_norm + self.epsilon)

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        lr *= self._trust_ratio(xp, index, weight, grad, wd)
        g = self._grad(xp, index, weight, grad, wd)
        if state is None:
            weight -= lr * g
        else:
            state *= self.momentum
            state -= lr * g
            weight += state
