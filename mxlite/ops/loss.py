"""Fused loss ops: one op where a chain of ops would keep large intermediates for backward.

``softmax_cross_entropy`` is ``-pick(log_softmax(logits), labels)`` as one op: its aux is the
gradient for a unit head (softmax - onehot), so backward is one product, and on a GPU one
kernel computes both (``kernels/softmax.cu``). ``gluon.loss.SoftmaxCrossEntropyLoss`` uses it
for sparse labels over the last axis.
"""
import numpy as _np

from ..autograd import apply, defop
from ..backend import CPU, GPU
from . import to_nd

__all__ = []


def _onehot(xp, labels, classes, dtype):
    """Labels clipped into range (pick's mode 'clip') as one-hot rows."""
    index = xp.clip(labels.astype(_np.int64), 0, classes - 1)
    return (index[..., None] == xp.arange(classes)).astype(dtype)


@defop("softmax_cross_entropy", has_aux=True)
class _softmax_cross_entropy:
    """Cross entropy of softmax(logits) over the last axis with class-index labels."""

    def forward(xp, logits, labels):
        shifted = logits - logits.max(axis=-1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=-1, keepdims=True)
        onehot = _onehot(xp, labels, logits.shape[-1], logits.dtype)
        loss = (xp.log(total) - (shifted * onehot).sum(axis=-1, keepdims=True))[..., 0]
        return loss.astype(logits.dtype, copy=False), exp / total - onehot

    def backward(ctx, g):
        """The formula from the inputs, so that ``create_graph=True`` differentiates it."""
        xp = ctx.xp
        logits, labels = ctx.inputs
        exp = xp.exp(logits - logits.max(axis=-1, keepdims=True))
        softmax = exp / exp.sum(axis=-1, keepdims=True)
        return g[..., None] * (softmax - _onehot(xp, labels, logits.shape[-1], logits.dtype)), None


def _backward_from_aux(ctx, g):
    return g[..., None] * ctx.aux, None


_softmax_cross_entropy.register(CPU, backward=_backward_from_aux)
_softmax_cross_entropy.register(GPU, backward=_backward_from_aux)


def softmax_cross_entropy(logits, labels):
    """Per-row loss (shape ``logits.shape[:-1]``); ``labels`` of that shape hold class indices."""
    logits = to_nd(logits)
    labels = to_nd(labels, like=logits)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"sparse labels must have shape {logits.shape[:-1]} for logits of shape "
                         f"{logits.shape}; got {labels.shape}")
    return apply(_softmax_cross_entropy, (logits, labels))
