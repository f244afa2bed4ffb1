"""``mx.np.random``: draws come from the target device's own generator.

``seed(s)`` reseeds every device's generator (and those created later), so results
are reproducible per device; without a seed, generators start from OS entropy.

Distributions: uniform, normal, logistic, gumbel, laplace, lognormal, exponential,
rayleigh, weibull, pareto, power, gamma, chisquare, beta, f (plus randint, choice,
shuffle). Each is a fixed function of parameter-free noise drawn on the device, so with
array parameters under ``autograd.record()`` the samples are differentiable in them
(reparameterization, as MXNet); gamma (and beta, chisquare, f through it) differentiates
in its shape implicitly (``ops.special.gamma_sample_op``). Parameters outside their domain
raise ValueError, as MXNet's samplers do.
"""
import numbers

import numpy as _np

from ..backend import set_default_seed
from ..base import default_float
from ..device import Device, current_device
from ..ndarray import ndarray, untraceable, wrap
from ..autograd import apply
from ..ops import elemwise as _ew
from ..ops import finish_out
from ..ops.special import gamma_sample_op

__all__ = ["seed", "uniform", "normal", "randint", "rand", "randn", "shuffle", "choice",
           "logistic", "gumbel", "laplace", "lognormal", "exponential", "rayleigh", "weibull",
           "pareto", "power", "gamma", "chisquare", "beta", "f", "multinomial"]


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
def _finish(data, dev, out):
    res = wrap(data, dev)
    return res if out is None else finish_out(res, out)


def _float_dtype(dtype, name):
    dtype = _np.dtype(dtype or default_float())
    if dtype.kind != "f":
        raise TypeError(f"random.{name}: dtype must be float16, float32 or float64, got "
                        f"{dtype}")
    return dtype


def _work(dtype):
    """The dtype a draw is computed in: the generators make float32 and float64 only, so
    float16 (which MXNet's tests ask for) is drawn in float32 and cast at the end."""
    return _np.dtype(_np.float64 if dtype.itemsize == 8 else _np.float32)


def _check(name, what, value, low=0.0, strict=False):
    """MXNet's ValueError for a parameter (scalar or array) outside its domain."""
    if isinstance(value, ndarray):
        data = value._data
        with value._device.backend.scope():
            bad = bool((data <= low).any() if strict else (data < low).any()) if data.size \
                else False
    else:
        bad = bool(_np.any(_np.asarray(value) <= low if strict else _np.asarray(value) < low))
    if bad:
        raise ValueError(f"random.{name}: {what} must be {'>' if strict else '>='} {low}")


class _Ops:
    """The formula namespace for draws with array parameters: mxlite's ops, so that under
    ``autograd.record()`` the samples are differentiable in their parameters
    (reparameterization: a sample is a fixed function of parameter-free noise)."""
    exp, log, log1p, expm1, sqrt, power = (_ew.exp, _ew.log, _ew.log1p, _ew.expm1,
                                            _ew.sqrt, _ew.power)


def _sample(name, dev, size, dtype, params, noise, formula, out=None):
    """``formula(m, eps, *params)`` with ``eps = noise(be, shape, work_dtype)`` (raw,
    parameter-free noise) in ``dtype``. Array parameters go to ``dev`` in the working
    dtype and the formula runs on mxlite's ops (``m`` is ``_Ops``: differentiable); otherwise
    on raw data (``m`` is the backend's array module)."""
    dtype = _float_dtype(dtype, name)
    work = _work(dtype)
    vals = []
    arrays = False
    for v in params:
        if not isinstance(v, ndarray) and not isinstance(v, numbers.Number):
            v = wrap(dev.backend.asarray(_np.asarray(v, dtype=work)), dev)
        if isinstance(v, ndarray):
            arrays = True
            if v._device is not dev:
                v = v.to_device(dev)
            if v.dtype != work:
                v = v.astype(work)
        vals.append(v)
    shape = _size(size) if size is not None else \
        _np.broadcast_shapes(*[getattr(v, "shape", ()) for v in vals])
    be = dev.backend
    with be.scope():
        eps = noise(be, shape, work)
        if arrays:
            res = formula(_Ops, wrap(eps, dev), *vals)
            if not isinstance(res, ndarray):
                res = wrap(be.asarray(res), dev)
            res = res.astype(dtype, copy=False)
        else:
            res = wrap(be.xp.asarray(formula(be.xp, eps, *vals)).astype(
                dtype, copy=False), dev)
    return res if out is None else finish_out(res, out)


def _uniform01(be, shape, work):
    return be.rng.random(shape, dtype=work)


def _open01(be, shape, work):
    """Uniform on the open interval (0, 1)."""
    u = be.rng.random(shape, dtype=work)
    return be.xp.where(u > 0, u, _np.finfo(work).tiny)


def _std_normal(be, shape, work):
    return be.rng.standard_normal(shape, dtype=work)


def _std_exponential(be, shape, work):
    return -be.xp.log1p(-be.rng.random(shape, dtype=work))


def _std_logistic(be, shape, work):
    u = _open01(be, shape, work)
    return be.xp.log(u) - be.xp.log1p(-u)


def _std_gumbel(be, shape, work):
    return -be.xp.log(-be.xp.log(_open01(be, shape, work)))


def _std_laplace(be, shape, work):
    u = _open01(be, shape, work) - 0.5
    return -be.xp.sign(u) * be.xp.log1p(-2 * be.xp.abs(u))


def standard_gamma_raw(be, alpha, shape):
    """Gamma(alpha, 1) samples (float64) of ``shape`` on backend ``be``: Marsaglia and
    Tsang's squeeze method, redrawing only the rejected entries (under 5% a round), with
    ``Gamma(a) = Gamma(a + 1) * U**(1/a)`` for a < 1."""
    xp, rng = be.xp, be.rng
    a = xp.broadcast_to(xp.asarray(alpha, dtype=_np.float64), shape).reshape(-1)
    boost = a < 1
    d = xp.where(boost, a + 1, a) - 1.0 / 3
    c = 1 / xp.sqrt(9 * d)
    out = xp.empty(a.shape, dtype=_np.float64)
    todo = xp.arange(a.size)
    while todo.size:
        dd, cc = d[todo], c[todo]
        z = rng.standard_normal(todo.size, dtype=_np.float64)
        u = rng.random(todo.size, dtype=_np.float64)
        v = (1 + cc * z) ** 3
        ok = (v > 0) & (xp.log(xp.where(u > 0, u, 1e-300)) <
                        0.5 * z * z + dd - dd * v + dd * xp.log(xp.where(v > 0, v, 1)))
        out[todo[ok]] = (dd * v)[ok]
        todo = todo[~ok]
    if bool(boost.any()):
        u = rng.random(a.size, dtype=_np.float64)
        out = xp.where(boost, out * u ** (1 / xp.where(boost, a, 1)), out)
    return out.reshape(shape)


def _gamma_of(m, dev, shape, alpha, work):
    """Standard-gamma samples of ``shape`` for shape parameter ``alpha`` (a scalar or an
    ndarray in ``work``): raw data, or with an array ``alpha`` an ndarray that carries
    the implicit reparameterization gradient (``ops.special.gamma_sample_op``)."""
    be = dev.backend
    raw = alpha._data if isinstance(alpha, ndarray) else alpha
    draw = standard_gamma_raw(be, raw, shape).astype(work)
    if isinstance(alpha, ndarray):
        return apply(gamma_sample_op, (alpha, draw))
    return wrap(draw, dev) if m is _Ops else draw


def _shape_only(be, shape, work):
    return be.xp.empty(shape, dtype=work)  # the gamma family draws its own noise


def uniform(low=0.0, high=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples from [low, high), drawn in ``dtype`` (float32 default) on the device; ``low``
    and ``high`` may be arrays (broadcast against each other and ``size``), and the samples
    are differentiable in them."""
    dev = _dev(device, ctx)
    res = _sample("uniform", dev, size, dtype, (low, high), _uniform01,
                  lambda m, u, lo, hi: lo + (hi - lo) * u)
    if res.dtype.itemsize < 4 and res._node is None:  # rounding up to high in float16
        xp = dev.backend.xp
        with dev.backend.scope():
            top = (xp.asarray(high._data if isinstance(high, ndarray) else high)).astype(
                res.dtype)
            res._data = xp.where(res._data >= top, xp.nextafter(top, res.dtype.type(-_np.inf)),
                                 res._data)
    return res if out is None else finish_out(res, out)


def _loc_scale(name, noise, doc):
    def draw(loc=0.0, scale=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
        _check(name, "scale", scale)
        return _sample(name, _dev(device, ctx), size, dtype, (loc, scale), noise,
                       lambda m, e, loc, scale: loc + scale * e, out)
    draw.__name__ = draw.__qualname__ = name
    draw.__doc__ = doc + (" ``loc`` and ``scale`` may be arrays (broadcast against each "
                          "other and ``size``); the samples are differentiable in them "
                          "(d/dloc = 1, d/dscale = the standard draw).")
    return draw


normal = _loc_scale("normal", _std_normal, "Samples of N(loc, scale**2).")
logistic = _loc_scale("logistic", _std_logistic, "Samples of the logistic distribution.")
gumbel = _loc_scale("gumbel", _std_gumbel, "Samples of the Gumbel (extreme value) distribution.")
laplace = _loc_scale("laplace", _std_laplace, "Samples of the Laplace distribution.")


def lognormal(mean=0.0, sigma=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """``exp`` of N(mean, sigma**2) samples; differentiable in ``mean`` and ``sigma``."""
    _check("lognormal", "sigma", sigma)
    return _sample("lognormal", _dev(device, ctx), size, dtype, (mean, sigma), _std_normal,
                   lambda m, e, mu, sigma: m.exp(mu + sigma * e), out)


def exponential(scale=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Exponential samples of mean ``scale`` (``scale * E``, E standard exponential);
    differentiable in ``scale``."""
    _check("exponential", "scale", scale)
    return _sample("exponential", _dev(device, ctx), size, dtype, (scale,), _std_exponential,
                   lambda m, e, scale: scale * e, out)


def rayleigh(scale=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Rayleigh samples, ``scale * sqrt(2 E)``; differentiable in ``scale``."""
    _check("rayleigh", "scale", scale)
    return _sample("rayleigh", _dev(device, ctx), size, dtype, (scale,), _std_exponential,
                   lambda m, e, scale: scale * m.sqrt(2 * e), out)


def weibull(a, size=None, dtype=None, device=None, ctx=None, out=None):
    """Weibull samples of shape ``a`` (> 0, as MXNet), ``E ** (1/a)``; differentiable in
    ``a`` (d/da = -x log(x) / a)."""
    _check("weibull", "a", a, strict=True)
    return _sample("weibull", _dev(device, ctx), size, dtype, (a,), _std_exponential,
                   lambda m, e, a: m.power(e, 1 / a), out)


def pareto(a, size=None, dtype=None, device=None, ctx=None, out=None):
    """Pareto II (Lomax) samples of shape ``a`` > 0, as numpy: ``exp(E/a) - 1``;
    differentiable in ``a`` (d/da = -(x + 1) log(x + 1) / a)."""
    _check("pareto", "a", a, strict=True)
    return _sample("pareto", _dev(device, ctx), size, dtype, (a,), _std_exponential,
                   lambda m, e, a: m.expm1(e / a), out)


def power(a, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples in [0, 1] with density ``a x**(a-1)`` (a > 0), ``U ** (1/a)``."""
    _check("power", "a", a, strict=True)
    return _sample("power", _dev(device, ctx), size, dtype, (a,), _uniform01,
                   lambda m, u, a: m.power(u, 1 / a), out)


def gamma(shape=1.0, scale=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Gamma(shape, scale) samples (both > 0, as MXNet). Differentiable in ``scale``
    (the standard draw) and in ``shape`` by implicit reparameterization: a sample held at
    its CDF value moves as dx/dshape = -scale * (dF(x/scale; shape)/dshape) / pdf."""
    _check("gamma", "shape", shape, strict=True)
    _check("gamma", "scale", scale, strict=True)
    dev = _dev(device, ctx)
    return _sample("gamma", dev, size, dtype, (shape, scale), _shape_only,
                   lambda m, e, k, theta: theta * _gamma_of(m, dev, e.shape, k, e.dtype), out)


def chisquare(df, size=None, dtype=None, device=None, ctx=None, out=None):
    """Chi-square samples with ``df`` > 0 degrees of freedom: ``2 * Gamma(df / 2)``."""
    _check("chisquare", "df", df, strict=True)
    dev = _dev(device, ctx)
    return _sample("chisquare", dev, size, dtype, (df,), _shape_only,
                   lambda m, e, df: 2 * _gamma_of(m, dev, e.shape, df / 2, e.dtype), out)


def beta(a, b, size=None, dtype=None, device=None, ctx=None, out=None):
    """Beta(a, b) samples (a, b > 0), ``X / (X + Y)`` for X ~ Gamma(a), Y ~ Gamma(b),
    kept inside the open interval (0, 1) in ``dtype`` (rounding would reach 1 for samples
    within an ulp of it, often with a or b < 1)."""
    _check("beta", "a", a, strict=True)
    _check("beta", "b", b, strict=True)
    dev = _dev(device, ctx)

    def formula(m, e, a, b):
        x = _gamma_of(m, dev, e.shape, a, e.dtype)
        return x / (x + _gamma_of(m, dev, e.shape, b, e.dtype))
    res = _sample("beta", dev, size, dtype, (a, b), _shape_only, formula)
    one = res.dtype.type(1)
    res = _ew.clip(res, float(_np.finfo(res.dtype).tiny), float(_np.nextafter(one, -one)))
    return res if out is None else finish_out(res, out)


def f(dfnum, dfden, size=None, dtype=None, device=None, ctx=None, out=None):
    """F(dfnum, dfden) samples, ``(X / dfnum) / (Y / dfden)`` for chi-square X and Y."""
    _check("f", "dfnum", dfnum, strict=True)
    _check("f", "dfden", dfden, strict=True)
    dev = _dev(device, ctx)

    def formula(m, e, d1, d2):
        x = _gamma_of(m, dev, e.shape, d1 / 2, e.dtype) / d1
        return x / (_gamma_of(m, dev, e.shape, d2 / 2, e.dtype) / d2)
    return _sample("f", dev, size, dtype, (dfnum, dfden), _shape_only, formula, out)


def randint(low, high=None, size=None, dtype=None, device=None, ctx=None):
    dev = _dev(device, ctx)
    if high is None:
        low, high = 0, low
    with dev.backend.scope():
        data = dev.backend.rng.integers(low, high, _size(size), dtype=_np.dtype(dtype or "int64"))
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


def multinomial(n, pvals, size=None, device=None, ctx=None):
    """Counts of ``n`` draws over the categories of ``pvals`` (a list or an array; the last
    takes what the others leave), shape ``size + (len(pvals),)``, int64 (numpy's and
    MXNet's). Drawn on the host by numpy's exact O(categories) sampler, seeded from the
    device's generator, so ``mx.np.random.seed`` makes it reproducible."""
    dev = _dev(device, ctx)
    given = pvals.asnumpy() if isinstance(pvals, ndarray) else _np.asarray(pvals, dtype=float)
    probs = given.astype(_np.float64).reshape(-1)
    if int(n) < 0:
        raise ValueError(f"random.multinomial: n must be non-negative, got {n}")
    leading = probs[:-1].sum()
    slack = 1e-12 if given.dtype == _np.float64 else 4 * _np.finfo(_np.float32).eps * len(probs)
    if (probs < 0).any() or (probs > 1).any() or leading > 1.0 + slack:
        raise ValueError(f"random.multinomial: pvals must lie in [0, 1] and the first "
                         f"{max(len(probs) - 1, 0)} must sum to at most 1, got {probs.tolist()}")
    if leading > 1.0:  # float32 pvals summing to 1 can round above it
        probs[:-1] /= leading
    shape = _size(size) + probs.shape
    if 0 in shape:
        return wrap(dev.backend.xp.zeros(shape, dtype=_np.int64), dev)
    with dev.backend.scope():
        key = int(dev.backend.to_host(dev.backend.rng.integers(0, 2 ** 62, 1))[0])
    counts = _np.random.default_rng(key).multinomial(int(n), probs, size=_size(size) or None)
    return wrap(dev.backend.asarray(counts.astype(_np.int64)), dev)


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
