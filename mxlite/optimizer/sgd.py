"""SGD (with momentum / Nesterov), NAG and Signum, with MXNet's update formulas.

SGD and NAG keep the momentum as the step taken, ``mom = momentum*mom + lr*g; w -= mom``:
MXNet stores its negative (``mom = momentum*mom - lr*g; w += mom``), which gives the same
weights bit for bit; this sign is the fused kernel's (kernels/optimizer.cu), so the GPU
and per-array paths share their states.
"""
from ..ndarray import ndarray
from .optimizer import Optimizer, register

__all__ = ["SGD", "NAG", "Signum"]


@register
class SGD(Optimizer):
    """``g = clip(rescale*grad) + wd*w``; ``mom = momentum*mom + lr*g``; ``w -= mom``.

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
            xp.multiply(grad, lr * self.rescale_grad, out=step, casting="unsafe")
            if wd:
                step += (lr * wd) * weight
            state *= self.momentum
            state += step
            weight -= state
            return
        g = self._grad(xp, index, weight, grad, wd)
        if state is None:
            weight -= lr * g
        elif self.nesterov:
            _nesterov_step(weight, g, state, lr, self.momentum)
        else:
            state *= self.momentum
            state += lr * g
            weight -= state

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
    """``mom = momentum*mom + lr*g``; ``w -= momentum*mom + lr*g`` (MXNet 2.x's NAG)."""
    mom *= momentum
    mom += lr * g
    weight -= momentum * mom + lr * g


@register
class NAG(Optimizer):
    """Nesterov accelerated gradient: ``mom = momentum*mom + lr*g``;
    ``w -= momentum*mom + lr*g`` (``g`` includes ``wd*w``)."""

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
