"""``mx.npx.random``: MXNet's extension samplers over ``mx.np.random``'s generators.

``bernoulli`` (by ``prob`` or ``logit``), ``uniform_n``/``normal_n`` (a batch of draws per
parameter: the output is ``batch_shape + broadcast(parameter shapes)``), ``categorical``
(class indices, int32) and ``multinomial`` (class counts, int64), and ``seed``.
"""
import numpy as _np

from ..ndarray import ndarray
from ..numpy import random as _np_random

__all__ = ["seed", "bernoulli", "uniform_n", "normal_n", "categorical", "multinomial"]


def seed(seed, device="all", ctx=None):
    """Reseed ``device``'s generator (default: every device's, and those created later)."""
    _np_random.seed(seed, device=device, ctx=ctx)


def _raw(value, dev, dtype=_np.float64):
    if isinstance(value, ndarray):
        return value.to_device(dev)._data.astype(dtype, copy=False)
    return dev.backend.asarray(_np.asarray(value, dtype=dtype))


def bernoulli(prob=None, logit=None, size=None, dtype=None, device=None, ctx=None, out=None):
    """0/1 samples that are 1 with probability ``prob`` (in [0, 1]) or ``sigmoid(logit)``;
    give exactly one of them. ``dtype`` (float32 default) may be a float, int or bool."""
    if (prob is None) == (logit is None):
        raise ValueError("npx.random.bernoulli: give exactly one of prob and logit")
    dev = _np_random._dev(device, ctx)
    be = dev.backend
    with be.scope():
        xp = be.xp
        if prob is not None:
            p = _raw(prob, dev)
            if p.size and bool(((p < 0) | (p > 1)).any()):
                raise ValueError("npx.random.bernoulli: prob must lie in [0, 1]")
        else:
            p = 1 / (1 + xp.exp(-_raw(logit, dev)))
        shape = p.shape if size is None else _np_random._size(size)
        data = (be.rng.random(shape, dtype=_np.float64) < p).astype(
            _np.dtype(dtype or "float32"))
    return _np_random._finish(data, dev, out)


def _batched(draw, name):
    def sample(low_or_loc=None, high_or_scale=None, batch_shape=None, dtype=None, device=None,
               ctx=None, out=None):
        params = [low_or_loc, high_or_scale]
        pshape = _np.broadcast_shapes(*[getattr(v, "shape", ()) for v in params
                                        if v is not None])
        size = _np_random._size(batch_shape) + tuple(pshape)
        kwargs = {k: v for k, v in zip(draw.__code__.co_varnames[:2], params) if v is not None}
        return draw(size=size, dtype=dtype, device=device, ctx=ctx, out=out, **kwargs)
    sample.__name__ = sample.__qualname__ = name
    sample.__doc__ = (f"``np.random.{draw.__name__}`` drawn ``batch_shape`` times per "
                      "parameter: the output's shape is batch_shape + the parameters' "
                      "broadcast shape.")
    return sample


uniform_n = _batched(_np_random.uniform, "uniform_n")
normal_n = _batched(_np_random.normal, "normal_n")


def _categorical_raw(be, p, shape):
    """Class indices for probabilities ``p`` (batch + (k,), normalized here): an array of
    batch + shape, by inverting each row's cumulative sum."""
    xp = be.xp
    k = p.shape[-1]
    cdf = xp.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    batch = p.shape[:-1]
    u = be.rng.random(batch + shape, dtype=_np.float64)
    cdf = cdf.reshape(batch + (1,) * len(shape) + (k,))
    return xp.minimum((u[..., None] >= cdf).sum(axis=-1), k - 1)


def categorical(prob, shape=None, dtype="int32", device=None, ctx=None, out=None):
    """Class indices drawn from the last axis of ``prob`` (batch + (k,)): the output has
    shape batch + ``shape``."""
    dev = _np_random._dev(device, ctx)
    be = dev.backend
    with be.scope():
        data = _categorical_raw(be, _raw(prob, dev), _np_random._size(shape)).astype(dtype)
    return _np_random._finish(data, dev, out)


def multinomial(n, prob, shape=None, dtype="int64", device=None, ctx=None, out=None):
    """Counts of ``n`` trials (batch, int-valued) over the last axis of ``prob``
    (batch + (k,)): the output has shape batch + ``shape`` + (k,)."""
    dev = _np_random._dev(device, ctx)
    be = dev.backend
    with be.scope():
        xp = be.xp
        p = _raw(prob, dev)
        trials = xp.broadcast_to(_raw(n, dev), p.shape[:-1])
        if trials.size and bool((trials < 0).any()):
            raise ValueError("npx.random.multinomial: n must be >= 0")
        shape = _np_random._size(shape)
        most = int(trials.max()) if trials.size else 0
        idx = _categorical_raw(be, p, shape + (most,))
        k = p.shape[-1]
        live = xp.arange(most) < trials.reshape(trials.shape + (1,) * (len(shape) + 1))
        onehot = (idx[..., None] == xp.arange(k)) & live[..., None]
        data = onehot.sum(axis=-2).astype(dtype)
    return _np_random._finish(data, dev, out)
