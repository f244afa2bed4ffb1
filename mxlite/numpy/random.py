"""``mx.np.random``: draws come from the target device's own generator.

``seed(s)`` reseeds every device's generator (and those created later), so results
are reproducible per device; without a seed, generators start from OS entropy.
"""
import numpy as _np

from ..backend import set_default_seed
from ..base import default_float
from ..device import Device, current_device
from ..ndarray import ndarray, untraceable, wrap
from ..ops import finish_out

__all__ = ["seed", "uniform", "normal", "randint", "rand", "randn", "shuffle", "choice"]


def seed(seed, device="all", ctx=None):
    """Reseed the generator of ``device`` (default: every device)."""
    device = ctx or device
    if device == "all":
        _seed_all(int(seed))
    else:
        Device(device).backend.seed(int(seed))


def _seed_all(value):
    set_default_seed(value)
    for dev in list(Device._interned.values()):
        if dev._backend is not None:
            dev._backend.seed(value)


def _dev(device, ctx):
    untraceable("a random draw (mx.np.random), which a recorded graph would replay as a "
                "constant; use npx.dropout or draw outside the block")
    return Device(device or ctx or current_device())


def _size(size):
    return () if size is None else ((size,) if isinstance(size, int) else tuple(size))


# Only ``random``, ``standard_normal`` and ``integers`` are used from the generators:
# numpy's and CuPy's Generator both have those three with the same meaning.
def _params(dev, size, *params):
    """The parameters as scalars or raw arrays on ``dev`` (MXNet takes arrays of them, each
    draw using its element), and the draw's shape: ``size``, else the parameters' broadcast
    shape."""
    raw = [v.to_device(dev)._data if isinstance(v, ndarray) else v for v in params]
    if size is None:
        shape = _np.broadcast_shapes(*[getattr(v, "shape", ()) for v in raw])
    else:
        shape = _size(size)
    return shape, raw


def _finish(data, dev, out):
    res = wrap(data, dev)
    return res if out is None else finish_out(res, out)


def _draw(draw, size, dtype, name, shift, scale, xp=None):
    """``draw(size) * scale + shift`` in ``dtype``: the generators make float32 and float64
    only, so float16 (which MXNet's tests ask for) is drawn in float32 and cast; with ``xp``
    the cast result is kept below ``shift + scale`` (uniform's half-open interval)."""
    dtype = _np.dtype(dtype or default_float())
    if dtype.kind != "f":
        raise TypeError(f"random.{name}: dtype must be float16, float32 or float64, got "
                        f"{dtype}")
    drawn = draw(size, dtype=_np.float64 if dtype.itemsize == 8 else _np.float32)
    data = (drawn * scale + shift).astype(dtype, copy=False)
    if xp is not None and dtype.itemsize < 4:
        top = (xp.asarray(shift) + scale).astype(dtype)
        data = xp.where(data >= top, xp.nextafter(top, dtype.type(-_np.inf)), data)
    return data


def uniform(low=0.0, high=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples from [low, high), drawn in ``dtype`` (float32 default) on the device; ``low``
    and ``high`` may be arrays (broadcast against each other and ``size``)."""
    dev = _dev(device, ctx)
    shape, (low, high) = _params(dev, size, low, high)
    with dev.backend.scope():
        data = _draw(dev.backend.rng.random, shape, dtype, "uniform", low, high - low,
                     dev.backend.xp)
    return _finish(data, dev, out)


def normal(loc=0.0, scale=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples of N(loc, scale**2); ``loc`` and ``scale`` may be arrays, as in ``uniform``."""
    dev = _dev(device, ctx)
    shape, (loc, scale) = _params(dev, size, loc, scale)
    with dev.backend.scope():
        data = _draw(dev.backend.rng.standard_normal, shape, dtype, "normal", loc, scale)
    return _finish(data, dev, out)


def randint(low, high=None, size=None, dtype=None, device=None, ctx=None):
    dev = _dev(device, ctx)
    if high is None:
        low, high = 0, low
    with dev.backend.scope():
        data = dev.backend.rng.integers(low, high, _size(size)).astype(dtype or "int64")
    return wrap(data, dev)


def rand(*size, **kwargs):
    return uniform(size=size, **kwargs)


def randn(*size, **kwargs):
    return normal(size=size, **kwargs)


def shuffle(x):
    """Shuffle ``x`` in place along its first axis."""
    untraceable("random.shuffle, a random in-place write", x)
    be = x._device.backend
    if len(x._data):
        with be.scope():
            order = be.xp.argsort(be.rng.random(len(x._data)))
            x._data[...] = x._data[order]




def choice(a, size=None, replace=True, p=None, device=None, ctx=None, out=None):
    """Samples from ``arange(a)`` (an int) or the 1-D array ``a``, uniformly or with
    probabilities ``p``, with or without replacement (MXNet's ``np.random.choice``).
    Drawn on the device: with replacement by inverting the cumulative ``p``; without, by
    taking the smallest ``-log(u) / p`` keys (exponential races, exact for weights)."""
    dev = _dev(device, ctx)
    shape = _size(size)
    count = int(_np.prod(shape)) if shape else 1
    pool = None
    if isinstance(a, (int, _np.integer)):
        n = int(a)
    else:
        pool = a.to_device(dev) if isinstance(a, ndarray) else wrap(dev.backend.asarray(
            _np.asarray(a)), dev)
        if pool.ndim != 1:
            raise ValueError("random.choice: a must be an int or a 1-D array")
        n = pool.shape[0]
    if n <= 0:
        raise ValueError("random.choice: a must be positive (or a non-empty array)")
    if not replace and count > n:
        raise ValueError(f"random.choice: cannot take {count} samples without replacement "
                         f"from {n}")
    with dev.backend.scope():
        xp, rng = dev.backend.xp, dev.backend.rng
        probs = None
        if p is not None:
            probs = p.to_device(dev)._data if isinstance(p, ndarray) else xp.asarray(p)
            probs = probs.astype(_np.float64)
            if probs.shape != (n,):
                raise ValueError("random.choice: p must be 1-D and as long as a")
            probs = probs / probs.sum()
        if replace:
            if probs is None:
                idx = rng.integers(0, n, count)
            else:
                cdf = xp.cumsum(probs)
                idx = xp.minimum(xp.searchsorted(cdf, rng.random(count), side="right"), n - 1)
        else:
            keys = rng.random(n)
            if probs is not None:
                keys = -xp.log1p(-keys) / xp.where(probs > 0, probs, 1e-300)
            idx = xp.argsort(keys)[:count]
        idx = idx.astype(_np.int64).reshape(shape)
        data = idx if pool is None else pool._data[idx]
    return _finish(data, dev, out)
