"""Special functions of ``mx.npx``: erf, erfinv, gamma, gammaln, digamma.

scipy is not a dependency, so on CPU these are numpy formulations evaluated in float64
and returned in the input's floating dtype (integer inputs give float32):
erf by its power series (|x| <= 2.5) and the continued fraction of erfc beyond;
erfinv by Newton steps on erf from Winitzki's closed-form start; gammaln and gamma by
the Lanczos approximation (g = 7, 9 terms) with reflection for x < 0.5; digamma and the
trigamma used for its gradient by recurrence to x >= 6 and the asymptotic series.
All agree with ``math.erf``/``math.lgamma``/``math.gamma`` to about 1e-13 relative in
float64 (tests check 1e-12). On GPU they use ``cupyx.scipy.special``.

``gamma_sample_op`` carries the implicit reparameterization gradient of standard-gamma
samples in their shape (``np.random.gamma``), by P's series below a + 1 and Legendre's
continued fraction for Q above (agrees with scipy's incomplete gamma to ~1e-7 and better).

Each function is a row of ``ROWS`` (see ``mxlite.ops``); ``in_float64`` is the float64
evaluation their forwards share.
"""
import math

import numpy as _np

from ..autograd import defop, registered_op
from ..base import default_float, is_floating
from .elemwise import export, unary

_SQRT_PI = math.sqrt(math.pi)
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028,
            771.32342877765313, -176.61502916214059, 12.507343278686905,
            -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7)


def in_float64(xp, x, formula):
    """``formula(xp, x64, special)`` evaluated in float64 and returned in ``x``'s float dtype
    (integers: float32); ``special`` is ``cupyx.scipy.special`` on GPU, None on the CPU."""
    out_dtype = x.dtype if is_floating(x.dtype) else default_float()
    special = None
    if xp is not _np:
        import cupyx.scipy.special as special
    return formula(xp, x.astype(_np.float64), special).astype(out_dtype, copy=False)


def _erf(xp, x, special):
    if special is not None:
        return special.erf(x)
    ax = xp.abs(x)
    small = xp.minimum(ax, 2.5)
    term = small.copy()
    total = small.copy()
    two_x2 = 2 * small * small
    for n in range(1, 60):
        term = term * two_x2 / (2 * n + 1)
        total = total + term
    series = 2 / _SQRT_PI * xp.exp(-small * small) * total
    big = xp.maximum(ax, 2.5)
    frac = big.copy()
    for n in range(60, 0, -1):
        frac = big + (n / 2) / frac
    tail = 1 - xp.exp(-big * big) / (_SQRT_PI * frac)
    return xp.sign(x) * xp.where(ax <= 2.5, series, tail)


def _erfinv(xp, y, special):
    if special is not None:
        return special.erfinv(y)
    a = 0.147
    inside = xp.clip(y, -1 + 1e-300, 1 - 1e-16)
    log_term = xp.log1p(-inside * inside)
    first = 2 / (math.pi * a) + log_term / 2
    x = xp.sign(inside) * xp.sqrt(xp.sqrt(first * first - log_term / a) - first)
    for _ in range(4):
        x = x - (_erf(xp, x, None) - inside) / (2 / _SQRT_PI * xp.exp(-x * x))
    x = xp.where(y >= 1, xp.inf, xp.where(y <= -1, -xp.inf, x))
    return xp.where(xp.abs(y) > 1, xp.nan, x)


def _lanczos_lgamma(xp, z):
    """log Gamma(z) for z >= 0.5."""
    z = z - 1
    acc = xp.full(z.shape, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], start=1):
        acc = acc + c / (z + i)
    t = z + _LANCZOS_G + 0.5
    return 0.5 * math.log(2 * math.pi) + (z + 0.5) * xp.log(t) - t + xp.log(acc)


def _gammaln(xp, x, special):
    if special is not None:
        return special.gammaln(x)
    reflect = x < 0.5
    right = _lanczos_lgamma(xp, xp.where(reflect, 1 - x, x))
    sin_term = xp.abs(xp.sin(math.pi * x))
    left = math.log(math.pi) - xp.log(xp.where(reflect, sin_term, 1)) - right
    res = xp.where(reflect, left, right)
    return xp.where(xp.logical_and(x <= 0, x == xp.floor(x)), xp.inf, res)


def _gamma(xp, x, special):
    if special is not None:
        return special.gamma(x)
    reflect = x < 0.5
    right = xp.exp(_lanczos_lgamma(xp, xp.where(reflect, 1 - x, x)))
    left = math.pi / (xp.sin(math.pi * x) * right)
    res = xp.where(reflect, left, right)
    return xp.where(xp.logical_and(x <= 0, x == xp.floor(x)), xp.nan, res)


def _shifted(xp, x, per_step):
    """Shift x up to >= 6 with the recurrence; returns (x + k, sum of per_step terms)."""
    acc = xp.zeros_like(x)
    for _ in range(6):
        low = x < 6
        acc = acc + xp.where(low, per_step(xp.where(low, x, 1)), 0)
        x = xp.where(low, x + 1, x)
    return x, acc


def _digamma(xp, x, special):
    if special is not None:
        return special.digamma(x)
    reflect = x < 0.5
    z, acc = _shifted(xp, xp.where(reflect, 1 - x, x), lambda v: -1 / v)
    inv2 = 1 / (z * z)
    series = inv2 * (-1 / 12 + inv2 * (1 / 120 + inv2 * (-1 / 252 + inv2 * (
        1 / 240 + inv2 * (-1 / 132 + inv2 * (691 / 32760 - inv2 / 12))))))
    right = xp.log(z) - 0.5 / z + series + acc
    tan_term = xp.tan(math.pi * xp.where(reflect, x, 0.25))
    res = xp.where(reflect, right - math.pi / tan_term, right)
    return xp.where(xp.logical_and(x <= 0, x == xp.floor(x)), xp.nan, res)


def _trigamma_formula(xp, x, special):
    if special is not None:
        return special.polygamma(1, x)
    reflect = x < 0.5
    z, acc = _shifted(xp, xp.where(reflect, 1 - x, x), lambda v: 1 / (v * v))
    inv = 1 / z
    inv2 = inv * inv
    series = inv + inv2 / 2 + inv * inv2 * (1 / 6 + inv2 * (-1 / 30 + inv2 * (
        1 / 42 + inv2 * (-1 / 30 + inv2 * (5 / 66 + inv2 * (-691 / 2730 + inv2 * 7 / 6))))))
    right = series + acc
    sin_term = xp.sin(math.pi * xp.where(reflect, x, 0.5))
    return xp.where(reflect, math.pi ** 2 / (sin_term * sin_term) - right, right)


def erf_forward(xp, x):
    return in_float64(xp, x, _erf)


@defop("trigamma")
class _trigamma:
    """digamma's gradient; not itself differentiable: no third derivatives."""
    def forward(xp, x):
        return in_float64(xp, x, _trigamma_formula)


def _digamma_at_input(ctx):
    return ctx.call(registered_op("digamma"), ctx.inputs[0])


ROWS = (
    unary("erf", lambda ctx, g: (g * (2 / _SQRT_PI) * ctx.xp.exp(-ctx.xp.square(ctx.inputs[0])),),
          forward=erf_forward),
    unary("erfinv", lambda ctx, g: (g * (_SQRT_PI / 2) * ctx.xp.exp(ctx.out * ctx.out),),
          forward=lambda xp, x: in_float64(xp, x, _erfinv), save_out=True),
    unary("gammaln", lambda ctx, g: (g * _digamma_at_input(ctx),),
          forward=lambda xp, x: in_float64(xp, x, _gammaln)),
    unary("gamma", lambda ctx, g: (g * ctx.out * _digamma_at_input(ctx),),
          forward=lambda xp, x: in_float64(xp, x, _gamma), save_out=True),
    unary("digamma", lambda ctx, g: (g * ctx.call(_trigamma, ctx.inputs[0]),),
          forward=lambda xp, x: in_float64(xp, x, _digamma)),
)

__all__ = export(globals(), ROWS)
_erf_op = registered_op("erf")  # nn's gelu backward calls it


# -- the gamma sampler's reparameterization gradient ---------------------------------------
def _gamma_sample_dalpha(xp, a, x, special):
    """d x / d a for x ~ Gamma(a, 1) held at its CDF value (implicit reparameterization:
    dx/da = -(dP(a, x)/da) / pdf(x; a)), in float64.

    x < a + 1: P's series P = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n)) gives
    dx/da = -(x/a) * sum_n term_n * (log x - digamma(a+n+1)) (no exponentials, no
    cancellation there). x >= a + 1: Q = x^a e^-x / Gamma(a) * C(a, x) with C Legendre's
    continued fraction, so dx/da = x * ((log x - digamma(a)) * C + dC/da); C and dC/da
    are evaluated bottom-up together (forward-mode derivative)."""
    a, x = xp.broadcast_arrays(a, x)
    tiny = x <= 0
    x = xp.where(tiny, 1.0, x)
    logx = xp.log(x)
    amax = float(xp.max(a)) if a.size else 1.0
    depth = int(min(40 + 10 * math.sqrt(amax), 4000))
    # series (used where x < a + 1)
    xs = xp.minimum(x, a + 1)
    term = xp.ones_like(a)
    psi = _digamma(xp, a + 1, special)
    total = term * (xp.log(xs) - psi)
    for n in range(1, depth):
        term = term * xs / (a + n)
        psi = psi + 1 / (a + n)
        total = total + term * (xp.log(xs) - psi)
    series = -(xs / a) * total
    # continued fraction (used where x >= a + 1): C = 1/(b0 - a1/(b1 - a2/(b2 - ...))),
    # b_i = x + 2i + 1 - a, a_i = i (i - a)
    xc = xp.maximum(x, a + 1)
    n_cf = int(min(30 + 4 * math.sqrt(amax), 2000))
    t = xc + 2 * n_cf + 1 - a
    dt = -xp.ones_like(t)
    for i in range(n_cf, 0, -1):
        ai = i * (i - a)
        t, dt = (xc + 2 * (i - 1) + 1 - a) - ai / t, -1 - (-i * t - ai * dt) / (t * t)
    c, dc = 1 / t, -dt / (t * t)
    frac = xc * ((xp.log(xc) - _digamma(xp, a, special)) * c + dc)
    res = xp.where(x < a + 1, series, frac)
    return xp.where(tiny, 0.0, res)


@defop("gamma_sample_dalpha")
class _gamma_dalpha:
    """d sample / d shape of standard-gamma samples; not itself differentiable."""
    def forward(xp, a, x):
        special = None
        if xp is not _np:
            import cupyx.scipy.special as special
        return _gamma_sample_dalpha(xp, a.astype(_np.float64), x.astype(_np.float64),
                                    special).astype(x.dtype, copy=False)


@defop("gamma_sample", save_out=True)
class gamma_sample_op:
    """Standard-gamma samples ``x`` (drawn outside, a constant) as a function of their shape
    parameter ``a``: the forward passes ``x`` through, the backward is ``g * dx/da``."""
    def forward(xp, a, x):
        return x

    def backward(ctx, g):
        return (g * ctx.call(_gamma_dalpha, ctx.inputs[0], ctx.out), None)
