"""Elementwise ops: unary math, broadcasting binary arithmetic, comparisons, where, clip.

Gradient conventions (MXNet's): relu'(0) = abs'(0) = 0; maximum/minimum give a tie to
the first operand; clip passes the gradient at its (inclusive) bounds; rounding ops
and sign have zero gradient; sqrt'(0) = inf. fmax/fmin send the gradient to the operand
they return (the non-NaN one).
"""
import math

import numpy as _np

from ..autograd import Op, apply, apply1, apply2
from ..base import default_float
from ..ndarray import ndarray, wrap
from . import finish_out, to_nd

__all__ = ["negative", "positive", "abs", "absolute", "sign", "exp", "exp2", "expm1", "log",
           "log1p", "log2", "log10", "sqrt", "cbrt", "square", "reciprocal", "sin", "cos",
           "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
           "arctanh", "degrees", "radians", "deg2rad", "rad2deg", "floor", "ceil", "round",
           "around", "round_", "rint", "trunc", "fix", "clip", "nan_to_num", "isnan", "isinf",
           "isfinite", "isposinf", "isneginf", "signbit",
           "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod",
           "remainder", "fmod", "power", "float_power", "maximum", "minimum", "fmax", "fmin",
           "hypot", "arctan2", "copysign", "ldexp", "logaddexp", "equal", "not_equal", "less",
           "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
           "logical_xor", "logical_not", "where", "isclose", "allclose", "array_equal"]


def unary(save_out=False):
    """Class decorator: an ``Op`` from ``forward``/``backward`` and its public ``f(x, out=None)``."""
    def make(cls):
        o = Op(cls.__name__, cls.forward, getattr(cls, "backward", None), save_out=save_out)

        def f(x, out=None):
            if x.__class__ is not ndarray:
                x = to_nd(x)
            res = apply1(o, x)
            return res if out is None else finish_out(res, out)
        f.__name__ = f.__qualname__ = cls.__name__
        f.__doc__ = cls.__doc__
        f.op = o
        return f
    return make


def _operands(x1, x2):
    """Bring operands to ndarrays or Python scalars, with MXNet's float32 scalar default."""
    if not isinstance(x1, ndarray):
        if isinstance(x2, ndarray):
            x1 = _scalar_or_nd(x1, x2)
        else:
            x1 = to_nd(x1)
            x2 = _scalar_or_nd(x2, x1)
            return x1, x2
    if not isinstance(x2, ndarray):
        x2 = _scalar_or_nd(x2, x1)
    return x1, x2


def _scalar_or_nd(x, like):
    if isinstance(x, _np.generic):  # numpy scalars are weak like Python's: float32 stays float32
        return x.item()
    if isinstance(x, (int, float, bool)):
        return x
    return to_nd(x, like)


def _promote_int_with_float(x1, x2):
    """int array with a Python float gives float32 (MXNet), not numpy's float64."""
    if isinstance(x2, float) and isinstance(x1, ndarray) and x1._data.dtype.kind in "iub":
        x1 = wrap(x1._data.astype(default_float), x1._device)
    elif isinstance(x1, float) and isinstance(x2, ndarray) and x2._data.dtype.kind in "iub":
        x2 = wrap(x2._data.astype(default_float), x2._device)
    return x1, x2


def binary(save_out=False):
    """Class decorator: a broadcasting binary ``Op`` and its public ``f(x1, x2, out=None)``."""
    def make(cls):
        o = Op(cls.__name__, cls.forward, getattr(cls, "backward", None), save_out=save_out)

        def f(x1, x2, out=None):
            c2 = x2.__class__
            if x1.__class__ is not ndarray or (c2 is not ndarray and c2 is not int and (
                    c2 is not float or x1._data.dtype.kind != "f")):
                x1, x2 = _operands(x1, x2)
                x1, x2 = _promote_int_with_float(x1, x2)
                if x1.__class__ is not ndarray:
                    res = apply(o, (x1, x2))
                    return res if out is None else finish_out(res, out)
            res = apply2(o, x1, x2)
            return res if out is None else finish_out(res, out)
        f.__name__ = f.__qualname__ = cls.__name__
        f.__doc__ = cls.__doc__
        f.op = o
        return f
    return make


# -- unary ------------------------------------------------------------------------------
@unary()
class negative:
    def forward(xp, x):
        return xp.negative(x)

    def backward(ctx, g):
        return (-g,)


@unary()
class positive:
    def forward(xp, x):
        return xp.positive(x)

    def backward(ctx, g):
        return (g,)


@unary()
class abs:  # noqa: A001 - numpy's name
    def forward(xp, x):
        return xp.abs(x)

    def backward(ctx, g):
        return (g * ctx.xp.sign(ctx.inputs[0]),)


absolute = abs


@unary(save_out=True)
class exp:
    def forward(xp, x):
        return xp.exp(x)

    def backward(ctx, g):
        return (g * ctx.out,)


@unary()
class log:
    def forward(xp, x):
        return xp.log(x)

    def backward(ctx, g):
        return (g / ctx.inputs[0],)


@unary(save_out=True)
class sqrt:
    def forward(xp, x):
        return xp.sqrt(x)

    def backward(ctx, g):
        return (g / (2 * ctx.out),)


@unary()
class square:
    def forward(xp, x):
        return xp.square(x)

    def backward(ctx, g):
        return (g * 2 * ctx.inputs[0],)


@unary(save_out=True)
class tanh:
    def forward(xp, x):
        return xp.tanh(x)

    def backward(ctx, g):
        y = ctx.out
        return (g * (1 - y * y),)


@unary()
class sin:
    def forward(xp, x):
        return xp.sin(x)

    def backward(ctx, g):
        return (g * ctx.xp.cos(ctx.inputs[0]),)


@unary()
class cos:
    def forward(xp, x):
        return xp.cos(x)

    def backward(ctx, g):
        return (-g * ctx.xp.sin(ctx.inputs[0]),)


def _no_grad(ctx, g):
    """Piecewise-constant ops: a zero gradient (MXNet), written so ``write`` overwrites."""
    return (ctx.xp.zeros_like(g),)


def _piecewise_constant(name, doc=None):
    """The numpy function ``name`` as an op with a zero gradient (sign and rounding)."""
    def forward(xp, x):
        return getattr(xp, name)(x)
    return unary()(type(name, (), {"forward": staticmethod(forward),
                                   "backward": staticmethod(_no_grad), "__doc__": doc}))


sign = _piecewise_constant("sign")


@unary(save_out=True)
class exp2:
    def forward(xp, x):
        return xp.exp2(x)

    def backward(ctx, g):
        return (g * ctx.out * math.log(2.0),)


@unary()
class expm1:
    def forward(xp, x):
        return xp.expm1(x)

    def backward(ctx, g):
        return (g * ctx.xp.exp(ctx.inputs[0]),)


@unary()
class log1p:
    def forward(xp, x):
        return xp.log1p(x)

    def backward(ctx, g):
        return (g / (ctx.inputs[0] + 1),)


@unary()
class log2:
    def forward(xp, x):
        return xp.log2(x)

    def backward(ctx, g):
        return (g / (ctx.inputs[0] * math.log(2.0)),)


@unary()
class log10:
    def forward(xp, x):
        return xp.log10(x)

    def backward(ctx, g):
        return (g / (ctx.inputs[0] * math.log(10.0)),)


@unary(save_out=True)
class cbrt:
    def forward(xp, x):
        return xp.cbrt(x)

    def backward(ctx, g):
        y = ctx.out
        return (g / (3 * y * y),)


@unary(save_out=True)
class reciprocal:
    def forward(xp, x):
        return xp.reciprocal(x)

    def backward(ctx, g):
        y = ctx.out
        return (-g * y * y,)


@unary(save_out=True)
class tan:
    def forward(xp, x):
        return xp.tan(x)

    def backward(ctx, g):
        y = ctx.out
        return (g * (1 + y * y),)


@unary()
class arcsin:
    def forward(xp, x):
        return xp.arcsin(x)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (g / ctx.xp.sqrt(1 - x * x),)


@unary()
class arccos:
    def forward(xp, x):
        return xp.arccos(x)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (-g / ctx.xp.sqrt(1 - x * x),)


@unary()
class arctan:
    def forward(xp, x):
        return xp.arctan(x)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (g / (1 + x * x),)


@unary()
class sinh:
    def forward(xp, x):
        return xp.sinh(x)

    def backward(ctx, g):
        return (g * ctx.xp.cosh(ctx.inputs[0]),)


@unary()
class cosh:
    def forward(xp, x):
        return xp.cosh(x)

    def backward(ctx, g):
        return (g * ctx.xp.sinh(ctx.inputs[0]),)


@unary()
class arcsinh:
    def forward(xp, x):
        return xp.arcsinh(x)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (g / ctx.xp.sqrt(x * x + 1),)


@unary()
class arccosh:
    def forward(xp, x):
        return xp.arccosh(x)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (g / ctx.xp.sqrt(x * x - 1),)


@unary()
class arctanh:
    def forward(xp, x):
        return xp.arctanh(x)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (g / (1 - x * x),)


@unary()
class degrees:
    def forward(xp, x):
        return xp.degrees(x)

    def backward(ctx, g):
        return (g * (180.0 / math.pi),)


@unary()
class radians:
    def forward(xp, x):
        return xp.radians(x)

    def backward(ctx, g):
        return (g * (math.pi / 180.0),)


rad2deg = degrees
deg2rad = radians


floor = _piecewise_constant("floor")
ceil = _piecewise_constant("ceil")
rint = _piecewise_constant(
    "rint", "Half to even, as numpy (MXNet's rint sends n.5 toward -inf; not copied).")
trunc = _piecewise_constant("trunc")
fix = _piecewise_constant("fix")


def _round_forward(xp, x, decimals=0):
    return xp.round(x, decimals)


_round = Op("round", _round_forward, _no_grad)


def round(x, decimals=0, out=None):  # noqa: A001 - numpy's name
    """Round half to even (numpy and MXNet agree); zero gradient."""
    x = to_nd(x)
    res = apply(_round, (x,), {"decimals": int(decimals)})
    return res if out is None else finish_out(res, out)


around = round_ = round


class _NanToNum:
    """Replacements are constants: the gradient passes only where ``x`` was finite."""
    def forward(xp, x, nan, posinf, neginf):
        return xp.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    def backward(ctx, g):
        return (ctx.xp.where(ctx.xp.isfinite(ctx.inputs[0]), g, 0),)


_nan_to_num = Op("nan_to_num", _NanToNum.forward, _NanToNum.backward)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """numpy's nan_to_num (always a new array: in-place edits would bypass the tape)."""
    x = to_nd(x)
    if x.dtype.kind not in "fc":
        return x.copy() if copy else x
    return apply(_nan_to_num, (x,), {"nan": nan, "posinf": posinf, "neginf": neginf})


def _predicate(name):
    def forward(xp, x):
        return getattr(xp, name)(x)
    return unary()(type(name, (), {"forward": staticmethod(forward), "__doc__":
                                   f"numpy's {name}: a bool array, not differentiable."}))


isnan = _predicate("isnan")
isinf = _predicate("isinf")
isfinite = _predicate("isfinite")
isposinf = _predicate("isposinf")
isneginf = _predicate("isneginf")
signbit = _predicate("signbit")


@unary()
class logical_not:
    def forward(xp, x):
        return xp.logical_not(x)


# -- binary -----------------------------------------------------------------------------
@binary()
class add:
    def forward(xp, a, b):
        return xp.add(a, b)

    def backward(ctx, g):
        return g, g


@binary()
class subtract:
    def forward(xp, a, b):
        return xp.subtract(a, b)

    def backward(ctx, g):
        return g, (-g if ctx.need[1] else None)


@binary()
class multiply:
    def forward(xp, a, b):
        return xp.multiply(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        need = ctx.need
        return (g * b if need[0] else None), (g * a if need[1] else None)


@binary()
class divide:
    def forward(xp, a, b):
        return xp.true_divide(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        need = ctx.need
        ga = g / b if need[0] else None
        gb = -g * a / (b * b) if need[1] else None
        return ga, gb


true_divide = divide


@binary()
class floor_divide:
    """Zero gradient: the result is piecewise constant."""
    def forward(xp, a, b):
        return xp.floor_divide(a, b)

    def backward(ctx, g):
        zero = ctx.xp.zeros_like(g)
        return zero, zero


@binary()
class mod:
    def forward(xp, a, b):
        return xp.mod(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        return g, (-g * ctx.xp.floor_divide(a, b) if ctx.need[1] else None)


remainder = mod


def _power_backward(name):
    """d(a**b) = b*a**(b-1) da + a**b*log(a) db, with ``name`` the power function; the
    exponent's gradient is taken as 0 where a <= 0 (log undefined)."""
    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        ga = g * b * getattr(xp, name)(a, b - 1) if ctx.need[0] else None
        gb = None
        if ctx.need[1]:
            positive_a = a > 0
            gb = g * ctx.out * xp.log(xp.where(positive_a, a, 1)) * positive_a
        return ga, gb
    return backward


@binary(save_out=True)
class power:
    def forward(xp, a, b):
        return xp.power(a, b)

    backward = _power_backward("power")


@binary()
class maximum:
    def forward(xp, a, b):
        return xp.maximum(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        first = ctx.xp.greater_equal(a, b)
        return g * first, g * ~first


@binary()
class minimum:
    def forward(xp, a, b):
        return xp.minimum(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        first = ctx.xp.less_equal(a, b)
        return g * first, g * ~first


@binary()
class fmod:
    """C's fmod (sign of the dividend); d/dx2 = -trunc(x1/x2)."""
    def forward(xp, a, b):
        return xp.fmod(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        return g, (-g * ctx.xp.trunc(a / b) if ctx.need[1] else None)


@binary(save_out=True)
class float_power:
    """numpy's float_power: computed and returned in float64, as numpy does."""
    def forward(xp, a, b):
        return xp.float_power(a, b)

    backward = _power_backward("float_power")


@binary()
class fmax:
    def forward(xp, a, b):
        return xp.fmax(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        first = xp.logical_or(xp.greater_equal(a, b), xp.isnan(b))
        return g * first, g * ~first


@binary()
class fmin:
    def forward(xp, a, b):
        return xp.fmin(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        first = xp.logical_or(xp.less_equal(a, b), xp.isnan(b))
        return g * first, g * ~first


@binary(save_out=True)
class hypot:
    def forward(xp, a, b):
        return xp.hypot(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        scale = g / xp.where(ctx.out == 0, 1, ctx.out)  # subgradient 0 at the origin
        return (scale * a if ctx.need[0] else None), (scale * b if ctx.need[1] else None)


@binary()
class arctan2:
    def forward(xp, a, b):
        return xp.arctan2(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        scale = g / (a * a + b * b)
        return (scale * b if ctx.need[0] else None), (-scale * a if ctx.need[1] else None)


@binary()
class copysign:
    """d/dx1 is +-1 (whether the sign flipped); d/dx2 is 0."""
    def forward(xp, a, b):
        return xp.copysign(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        flipped = xp.not_equal(xp.signbit(a), xp.signbit(b))
        return (xp.where(flipped, -g, g) if ctx.need[0] else None), \
            (xp.zeros_like(g) if ctx.need[1] else None)


@binary(save_out=True)
class ldexp:
    """``x1 * 2**x2`` with integer exponents; differentiable in ``x1`` only."""
    def forward(xp, a, b):
        return xp.ldexp(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        return g * ctx.xp.exp2(b).astype(g.dtype), None


@binary(save_out=True)
class logaddexp:
    def forward(xp, a, b):
        return xp.logaddexp(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        return (g * xp.exp(a - ctx.out) if ctx.need[0] else None), \
            (g * xp.exp(b - ctx.out) if ctx.need[1] else None)


def _comparison(name):
    def forward(xp, a, b):
        return getattr(xp, name)(a, b)
    return binary()(type(name, (), {"forward": staticmethod(forward)}))


equal = _comparison("equal")
not_equal = _comparison("not_equal")
less = _comparison("less")
less_equal = _comparison("less_equal")
greater = _comparison("greater")
greater_equal = _comparison("greater_equal")
logical_and = _comparison("logical_and")
logical_or = _comparison("logical_or")
logical_xor = _comparison("logical_xor")


# -- selection -----------------------------------------------------------------------------
class _Where:
    def forward(xp, cond, x, y):
        return xp.where(cond, x, y)

    def backward(ctx, g):
        cond = ctx.inputs[0]
        xp = ctx.xp
        return (None, xp.where(cond, g, 0) if ctx.need[1] else None,
                xp.where(cond, 0, g) if ctx.need[2] else None)


_where = Op("where", _Where.forward, _Where.backward)


def where(condition, x=None, y=None):
    """``where(c, x, y)`` picks elementwise; ``where(c)`` is ``nonzero(c)``."""
    if x is None and y is None:
        c = to_nd(condition)
        return tuple(wrap(i, c._device) for i in c._device.backend.xp.nonzero(c._data))
    like = next((a for a in (condition, x, y) if isinstance(a, ndarray)), None)
    condition = to_nd(condition, like)
    x = x if isinstance(x, (ndarray, int, float)) else to_nd(x, like)
    y = y if isinstance(y, (ndarray, int, float)) else to_nd(y, like)
    return apply(_where, (condition, x, y))


class _Clip:
    def forward(xp, x, a_min, a_max):
        return xp.clip(x, a_min, a_max)

    def backward(ctx, g):
        x, lo, hi = ctx.inputs
        xp = ctx.xp
        inside = True
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            inside = xp.logical_and(inside, x <= hi) if lo is not None else x <= hi
        return (g if inside is True else g * inside), None, None


_clip = Op("clip", _Clip.forward, _Clip.backward)


def clip(a, a_min=None, a_max=None, out=None):
    """Clip to ``[a_min, a_max]``; the gradient passes where ``a_min <= a <= a_max``."""
    if a_min is None and a_max is None:
        raise ValueError("clip needs at least one of a_min and a_max")
    a = to_nd(a)
    res = apply(_clip, (a, a_min, a_max))
    return res if out is None else finish_out(res, out)



def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """numpy's isclose: a bool array, not differentiable."""
    a, b = _operands(a, b)
    like = a if isinstance(a, ndarray) else b
    xp = like._device.backend.xp
    raw = [x._data if isinstance(x, ndarray) else x for x in (a, b)]
    return wrap(xp.isclose(raw[0], raw[1], rtol=rtol, atol=atol, equal_nan=equal_nan),
                like._device)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """A Python bool, as numpy's."""
    return bool(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan).all())


def array_equal(a1, a2, equal_nan=False):
    """A Python bool: same shape and elements."""
    a1, a2 = to_nd(a1), to_nd(a2)
    if a1.shape != a2.shape:
        return False
    same = a1._data == a2._data
    if equal_nan and a1.dtype.kind == "f":
        xp = a1._device.backend.xp
        same = same | (xp.isnan(a1._data) & xp.isnan(a2._data))
    return bool(same.all())
