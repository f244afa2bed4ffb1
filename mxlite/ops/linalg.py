"""Products: dot, matmul, tensordot (batch axes of matmul broadcast)."""
import numpy as _np

from ..autograd import Op, apply
from . import to_nd, finish_out

__all__ = ["matmul", "dot", "tensordot"]


class _Matmul:
    def forward(xp, a, b):
        return xp.matmul(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if ctx.need[0]:
            b2 = b if b.ndim > 1 else xp.reshape(b, b.shape + (1,))
            ga = xp.matmul(g2, xp.swapaxes(b2, -1, -2))  # summed to a's shape by the engine
        if ctx.need[1]:
            a2 = a if a.ndim > 1 else xp.reshape(a, (1,) + a.shape)
            gb = xp.matmul(xp.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                gb = xp.reshape(gb, gb.shape[:-1])
        return ga, gb


_matmul = Op("matmul", _Matmul.forward, _Matmul.backward)


def _check_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul does not accept 0-d arrays; use multiply")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"({k_a} != {k_b} on the contracted axis)")


def matmul(a, b, out=None):
    a = to_nd(a)
    b = to_nd(b, a)
    _check_matmul(a, b)
    return finish_out(apply(_matmul, (a, b)), out)


class _Tensordot:
    def forward(xp, a, b, axes):
        return xp.tensordot(a, b, axes=axes)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        ax_a, ax_b = ctx.params["axes"]
        free_a = [i for i in range(a.ndim) if i not in ax_a]
        free_b = [i for i in range(b.ndim) if i not in ax_b]
        out_a = list(range(len(free_a)))
        out_b = list(range(len(free_a), len(free_a) + len(free_b)))
        ga = gb = None
        if ctx.need[0]:
            t = xp.tensordot(g, b, axes=(out_b, free_b))  # axes: free_a + ax_a
            ga = xp.transpose(t, tuple(_np.argsort(free_a + list(ax_a))))
        if ctx.need[1]:
            t = xp.tensordot(a, g, axes=(free_a, out_a))  # axes: ax_b + free_b
            gb = xp.transpose(t, tuple(_np.argsort(list(ax_b) + free_b)))
        return ga, gb


_tensordot = Op("tensordot", _Tensordot.forward, _Tensordot.backward)


def tensordot(a, b, axes=2):
    a = to_nd(a)
    b = to_nd(b, a)
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a = [x % a.ndim for x in ax_a]
    ax_b = [x % b.ndim for x in ax_b]
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: shape mismatch for sum over axes {ax_a} of {a.shape} "
                         f"and {ax_b} of {b.shape}")
    return apply(_tensordot, (a, b), {"axes": (tuple(ax_a), tuple(ax_b))})


def dot(a, b, out=None):
    """numpy's dot: products for 0-d, matmul up to 2-D, sum-product over the last axis
    of ``a`` and the second-to-last of ``b`` otherwise."""
    a = to_nd(a)
    b = to_nd(b, a)
    if a.ndim == 0 or b.ndim == 0:
        return finish_out(a * b, out)
    if b.ndim <= 2 or a.ndim == 1:
        _check_matmul(a, b)
        return finish_out(apply(_matmul, (a, b)), out)
    return finish_out(tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2])), out)
