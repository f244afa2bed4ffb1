"""Elementwise ops: unary math, broadcasting binary arithmetic, comparisons, where, clip.

Each elementwise op is one row of ``ROWS`` (see ``mxlite.ops`` for the row format); the
module's names and ``__all__`` come from the table, so a row is all a new op needs.

Gradient conventions (MXNet's): relu'(0) = abs'(0) = 0; maximum/minimum give a tie to
the first operand; clip passes the gradient at its (inclusive) bounds; rounding ops
and sign have zero gradient; sqrt'(0) = inf. fmax/fmin send the gradient to the operand
they return (the non-NaN one).
"""
import math

import numpy as _np

from ..autograd import Op, apply, apply1, apply2, defop
from ..backend import CPU
from ..backend.cpu import workers
from ..base import default_float, is_floating
from ..ndarray import ndarray, wrap
from . import finish_out, on_inputs_device, to_nd
from .shape import astype


# -- the row format ------------------------------------------------------------------------
def unary(name, backward, forward=None, save_out=False, alias=None, doc=None):
    """A row: the op ``name`` and its public ``f(x, out=None)``.

    ``backward(ctx, g)`` returns a 1-tuple (None: not differentiable; ``zero_gradient``);
    ``forward`` is ``xp.<name>`` unless it names another ``xp`` function or is a callable
    ``forward(xp, x)``. An op numpy makes float of integers (sin, exp, ...) takes integer
    and bool inputs in the default float (MXNet; numpy would give float16 or float64).
    """
    op = _row_op(name, forward, backward, save_out, doc, arity=1)
    float_valued = not callable(forward) and _float_behaviour(forward or name)[1]

    def f(x, out=None, **kwargs):
        if kwargs:
            check_ufunc_kwargs(name, kwargs)
        if x.__class__ is not ndarray:
            x = to_nd(x)
        if float_valued and x._data.dtype.kind in "biu":
            x = astype(x, default_float())
        res = apply1(op, x)
        return res if out is None else finish_out(res, out)
    return _public(f, op, alias)


def binary(name, backward, forward=None, save_out=False, alias=None, doc=None):
    """A row: the broadcasting op ``name`` and its public ``f(x1, x2, out=None)``; as
    ``unary``, with ``backward`` returning a pair that skips what ``ctx.need`` does not ask;
    an integer or bool array meeting a float array takes the float's dtype (MXNet: int32 +
    float16 is float16, numpy: float64), and in a float-valued op (divide, arctan2, ...) with
    no float operand it becomes the default float (MXNet: int / int is float32)."""
    op = _row_op(name, forward, backward, save_out, doc, arity=2)
    takes_floats, float_valued = (False, False) if callable(forward) else \
        _float_behaviour(forward or name, arity=2)

    def f(x1, x2, out=None, **kwargs):
        if kwargs:
            check_ufunc_kwargs(name, kwargs)
        c2 = x2.__class__
        if float_valued or (takes_floats and c2 is ndarray and x1.__class__ is ndarray and (
                is_floating(x1._data.dtype)) is not is_floating(x2._data.dtype)):
            x1, x2 = _as_float_operands(x1, x2)
        if x1.__class__ is not ndarray or (c2 is not ndarray and c2 is not int and (
                c2 is not float or not is_floating(x1._data.dtype))):
            x1, x2 = _operands(x1, x2)
            x1, x2 = _promote_int_with_float(x1, x2)
            if x1.__class__ is not ndarray:
                res = apply(op, (x1, x2))
                return res if out is None else finish_out(res, out)
        res = apply2(op, x1, x2)
        return res if out is None else finish_out(res, out)
    return _public(f, op, alias)


_UFUNC_DEFAULTS = {"where": True, "casting": "same_kind", "order": "K", "dtype": None,
                   "subok": True}
_CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")


def check_ufunc_kwargs(name, kwargs):
    """MXNet's ufunc keywords: numpy's are accepted at their defaults; another value raises
    NotImplementedError, an unknown keyword, dtype or casting rule raises TypeError."""
    for key, value in kwargs.items():
        if key not in _UFUNC_DEFAULTS:
            raise TypeError(f"{key} is an invalid keyword to function '{name}'; it takes "
                            f"out= and numpy's {sorted(_UFUNC_DEFAULTS)} at their defaults")
        if key == "dtype" and value is not None:
            _np.dtype(value)  # TypeError for a name that is no dtype
        if key == "casting" and value not in _CASTINGS:
            raise TypeError(f"{name}: casting must be one of {_CASTINGS}, got {value!r}")
        default = _UFUNC_DEFAULTS[key]
        if value is not default and value != default:
            hint = {"where": f"; for a masked result use np.where(mask, {name}(...), other)",
                    "dtype": "; cast the inputs or the result with .astype(dtype)"}
            raise NotImplementedError(
                f"{name}({key}={value!r}) is not implemented (as in MXNet): leave {key} at "
                f"{default!r}{hint.get(key, '')}")


def _float_behaviour(fname, arity=1):
    """(whether numpy's ``fname`` takes floats for every operand, whether it then also makes
    floats of integers); ldexp's exponent and the bitwise ops take no floats."""
    fn = getattr(_np, fname)
    with _np.errstate(all="ignore"):
        try:
            fn(*(_np.ones(1, _np.float32),) * arity)
        except TypeError:
            return False, False
        return True, fn(*(_np.ones(1, _np.int8),) * arity).dtype.kind == "f"


def _as_float_operands(x1, x2):
    floats = [x._data.dtype for x in (x1, x2)
              if x.__class__ is ndarray and is_floating(x._data.dtype)]
    target = floats[0] if floats else default_float()
    return tuple(astype(x, target) if x.__class__ is ndarray and x._data.dtype.kind in "biu"
                 else x for x in (x1, x2))


def zero_gradient(ctx, g):
    """Piecewise-constant ops: a zero gradient for every input (MXNet), written so ``write``
    overwrites."""
    zero = ctx.xp.zeros_like(g)
    return (zero,) * len(ctx.inputs)


def export(namespace, rows):
    """Put each row's public function, under its name and alias (a name or a tuple of names),
    into ``namespace``; the names, for ``__all__``."""
    public = {}
    for f in rows:
        public[f.__name__] = f
        for alias in f.aliases:
            public[alias] = f
    namespace.update(public)
    return list(public)


def _row_op(name, forward, backward, save_out, doc, arity):
    if callable(forward):
        op = Op(name, forward, backward, save_out=save_out)
        op.elementwise = (arity, None)
    else:
        generic, cpu = _xp_forward(forward or name, arity)
        op = Op(name, generic, backward, save_out=save_out)
        op.register(CPU, forward=cpu,
                    backward=backward and _split_backward(backward, save_out))
        op.elementwise = (arity, forward or name)
    op.doc = doc if doc or backward else f"numpy's {name}: not differentiable."
    return op


def _xp_forward(fname, arity):
    """The forward ``xp.<fname>`` as (generic, CPU): the CPU's binds numpy's function once, so
    a call does no more than ``xp.<fname>(...)`` would, and splits large arrays over the CPU's
    threads; others look it up on their module."""
    fn = getattr(_np, fname)
    if arity == 1:
        def generic(xp, x):
            return getattr(xp, fname)(x)

        def cpu(xp, x):  # ``x`` is always an array here (apply1)
            if x.size >= SPLIT_ELEMENTS:
                return _split_ufunc(fn, (x,))
            return fn(x)
    else:
        def generic(xp, a, b):
            return getattr(xp, fname)(a, b)

        def cpu(xp, a, b):
            if (a.__class__ is _HOST and a.size >= SPLIT_ELEMENTS) or (
                    b.__class__ is _HOST and b.size >= SPLIT_ELEMENTS):
                return _split_ufunc(fn, (a, b))
            return fn(a, b)
    return generic, cpu


# -- large arrays on every CPU thread ---------------------------------------------------------
# From ``SPLIT_ELEMENTS`` elements on, a row's CPU forward and backward run in pieces of at
# least ``PIECE_ELEMENTS`` on the CPU's threads (``mx.util.set_num_threads``). Below, waking a
# second thread (25-100 µs) costs about what it saves (bench/README.md, "Elementwise ops on
# both cores"). Each element is computed by the same loop as unsplit, so results are identical.
SPLIT_ELEMENTS = 1 << 20
PIECE_ELEMENTS = 1 << 18
_HOST = _np.ndarray
_WEAK_SCALARS = (int, float, complex)


def _same_layout(arrays, shape):
    """Whether every array with dimensions has ``shape`` and is C-ordered: their flat pieces
    then line up (0-d arrays and Python scalars go to every piece whole)."""
    for x in arrays:
        if x.__class__ is _HOST:
            if x.ndim and (x.shape != shape or not x.flags.c_contiguous):
                return False
        elif x.__class__ not in _WEAK_SCALARS:
            return False
    return True


def _pieces_of(arrays, size):
    """``(count, step, piece)`` for arrays of ``size`` elements that line up
    (``_same_layout``): ``piece(i)`` is the i-th run of ``step`` flat elements of each."""
    count = max(workers.threads, size // PIECE_ELEMENTS)
    step = -(-size // count)
    flat = [x.reshape(-1) if x.__class__ is _HOST and x.ndim else None for x in arrays]

    def piece(i):
        s = slice(i * step, (i + 1) * step)
        return [x if f is None else f[s] for x, f in zip(arrays, flat)]
    return count, step, piece


def _split_ufunc(fn, args):
    """``fn(*args)`` computed in pieces written straight into the result."""
    shape = next(x.shape for x in args if x.__class__ is _HOST and x.ndim)
    if workers.threads < 2 or fn.nout != 1 or not _same_layout(args, shape):
        return fn(*args)
    dtypes = tuple(x.dtype if x.__class__ is _HOST else x.__class__ for x in args)
    try:
        dtype = fn.resolve_dtypes(dtypes + (None,))[-1]
    except (TypeError, ValueError):  # no loop for these operands: numpy's own call says so
        return fn(*args)
    return split_into(fn, args, _np.empty(shape, dtype))


def split_into(fn, args, out):
    """``fn(*args, out=out)`` for an elementwise ``fn``, in pieces on the CPU's threads when
    ``out`` is large and ``args`` (arrays of ``out``'s shape, 0-d arrays, Python scalars)
    line up with it in C order; returns ``out``. For CPU kernels outside the table (npx's
    relu and sigmoid)."""
    size = out.size
    if (size < SPLIT_ELEMENTS or workers.threads < 2 or not out.flags.c_contiguous
            or not _same_layout(args, out.shape)):
        fn(*args, out=out)
        return out
    count, _, operands = _pieces_of((*args, out), size)

    def piece(i):
        *inputs, into = operands(i)
        fn(*inputs, out=into)
    workers.run(piece, count)
    return out


class _PieceContext:
    """A backward formula's context cut down to one piece of its arrays."""
    __slots__ = ("xp", "inputs", "out", "need", "params", "call")

    def __init__(self, ctx, inputs, out):
        self.xp, self.inputs, self.out = ctx.xp, inputs, out
        self.need, self.params, self.call = ctx.need, ctx.params, ctx.call


def _split_backward(backward, save_out):
    """The row's ``backward`` on the CPU: large gradients are computed in pieces on the CPU's
    threads, each piece copied into its place in the result (a pass-through gradient, such
    as add's, stays the arriving array)."""
    def split(ctx, g):
        if g.__class__ is not _HOST or g.size < SPLIT_ELEMENTS or workers.threads < 2:
            return backward(ctx, g)
        out = ctx.out if save_out else None
        arrays = (g, *ctx.inputs) if out is None else (g, out, *ctx.inputs)
        if not g.flags.c_contiguous or not _same_layout(arrays, g.shape):
            return backward(ctx, g)
        count, step, operands = _pieces_of(arrays, g.size)

        def piece_grads(i):
            pieces = operands(i)
            if out is None:
                return pieces[0], backward(_PieceContext(ctx, pieces[1:], None), pieces[0])
            return pieces[0], backward(_PieceContext(ctx, pieces[2:], pieces[1]), pieces[0])
        g0, first = piece_grads(0)
        results = []
        for r in first:
            if r is None or r is g0:  # pass-through: the arriving gradient, whole
                results.append(None if r is None else g)
            elif r.__class__ is _HOST and r.shape == g0.shape:
                full = _np.empty(g.shape, r.dtype)
                full.reshape(-1)[:step] = r
                results.append(full)
            else:  # a formula whose pieces are not elementwise pieces of the result
                return backward(ctx, g)
        if all(r is None or r is g for r in results):
            return tuple(results)
        flat = [None if r is None or r is g else r.reshape(-1) for r in results]

        def piece(i):
            _, grads = piece_grads(i + 1)
            s = slice((i + 1) * step, (i + 2) * step)
            for f, r in zip(flat, grads):
                if f is not None:
                    _np.copyto(f[s], r)
        workers.run(piece, count - 1)
        return tuple(results)
    return split


def _public(f, op, alias):
    f.__name__ = f.__qualname__ = op.name
    f.__doc__ = op.doc
    f.op = op
    f.aliases = (alias,) if isinstance(alias, str) else tuple(alias or ())
    return f


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
    """An integer or bool array with a Python float gives float64, as MXNet 2.x's scalar
    ops infer (``NumpyBinaryScalarType``: an int input with a non-int scalar is float64)
    and numpy does; a float-valued op (divide, ...) has made the array the default float
    before this. A bool array with a Python int gives int64 (MXNet and numpy)."""
    if isinstance(x2, float) and isinstance(x1, ndarray) and x1._data.dtype.kind in "iub":
        x1 = wrap(x1._data.astype(_np.float64), x1._device)
    elif isinstance(x1, float) and isinstance(x2, ndarray) and x2._data.dtype.kind in "iub":
        x2 = wrap(x2._data.astype(_np.float64), x2._device)
    return x1, x2


# -- backward formulas too long for a row ----------------------------------------------------
_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _d_multiply(ctx, g):
    a, b = ctx.inputs
    need = ctx.need
    return (g * b if need[0] else None), (g * a if need[1] else None)


def _d_divide(ctx, g):
    a, b = ctx.inputs
    need = ctx.need
    return (g / b if need[0] else None), (-g * a / (b * b) if need[1] else None)


def _d_mod(ctx, g):
    if g.dtype.kind in "iub":  # MXNet: integer mod has zero gradient (g has the result's
        return g * 0, (g * 0 if ctx.need[1] else None)  # dtype; an input may be a scalar)
    return g, (-g * ctx.xp.floor_divide(*ctx.inputs) if ctx.need[1] else None)


def _d_fmod(ctx, g):
    a, b = ctx.inputs
    if g.dtype.kind in "iub":
        return g * 0, (g * 0 if ctx.need[1] else None)
    return g, (-g * ctx.xp.trunc(a / b) if ctx.need[1] else None)


def _d_power(name):
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


def _to_first(g, first):
    """maximum, minimum, fmax, fmin: the gradient goes to the operand returned."""
    return g * first, g * ~first


def _first_unless_nan(ctx, compare):
    a, b = ctx.inputs
    return ctx.xp.logical_or(compare(a, b), ctx.xp.isnan(b))


def _d_hypot(ctx, g):
    a, b = ctx.inputs
    scale = g / ctx.xp.where(ctx.out == 0, 1, ctx.out)  # subgradient 0 at the origin
    return (scale * a if ctx.need[0] else None), (scale * b if ctx.need[1] else None)


def _d_arctan2(ctx, g):
    a, b = ctx.inputs
    scale = g / (a * a + b * b)
    return (scale * b if ctx.need[0] else None), (-scale * a if ctx.need[1] else None)


def _d_copysign(ctx, g):
    a, b = ctx.inputs
    xp = ctx.xp
    flipped = xp.not_equal(xp.signbit(a), xp.signbit(b))
    return (xp.where(flipped, -g, g) if ctx.need[0] else None), \
        (xp.zeros_like(g) if ctx.need[1] else None)


def _d_logaddexp(ctx, g):
    a, b = ctx.inputs
    xp = ctx.xp
    return (g * xp.exp(a - ctx.out) if ctx.need[0] else None), \
        (g * xp.exp(b - ctx.out) if ctx.need[1] else None)


def _d_logaddexp2(ctx, g):
    a, b = ctx.inputs
    xp = ctx.xp
    return (g * xp.exp2(a - ctx.out) if ctx.need[0] else None), \
        (g * xp.exp2(b - ctx.out) if ctx.need[1] else None)


# -- the table -------------------------------------------------------------------------------
ROWS = (
    unary("negative", lambda ctx, g: (-g,)),
    unary("positive", lambda ctx, g: (g,)),
    unary("abs", lambda ctx, g: (g * ctx.xp.sign(ctx.inputs[0]),), alias="absolute"),
    unary("exp", lambda ctx, g: (g * ctx.out,), save_out=True),
    unary("exp2", lambda ctx, g: (g * ctx.out * _LN2,), save_out=True),
    unary("expm1", lambda ctx, g: (g * ctx.xp.exp(ctx.inputs[0]),)),
    unary("log", lambda ctx, g: (g / ctx.inputs[0],)),
    unary("log1p", lambda ctx, g: (g / (ctx.inputs[0] + 1),)),
    unary("log2", lambda ctx, g: (g / (ctx.inputs[0] * _LN2),)),
    unary("log10", lambda ctx, g: (g / (ctx.inputs[0] * _LN10),)),
    unary("sqrt", lambda ctx, g: (g / (2 * ctx.out),), save_out=True),
    unary("cbrt", lambda ctx, g: (g / (3 * ctx.out * ctx.out),), save_out=True),
    unary("square", lambda ctx, g: (g * 2 * ctx.inputs[0],)),
    unary("reciprocal", lambda ctx, g: (-g * ctx.out * ctx.out,), save_out=True),
    unary("sin", lambda ctx, g: (g * ctx.xp.cos(ctx.inputs[0]),)),
    unary("cos", lambda ctx, g: (-g * ctx.xp.sin(ctx.inputs[0]),)),
    unary("tan", lambda ctx, g: (g * (1 + ctx.xp.square(ctx.out)),), save_out=True),
    unary("arcsin", lambda ctx, g: (g / ctx.xp.sqrt(1 - ctx.xp.square(ctx.inputs[0])),),
          alias="asin"),
    unary("arccos", lambda ctx, g: (-g / ctx.xp.sqrt(1 - ctx.xp.square(ctx.inputs[0])),),
          alias="acos"),
    unary("arctan", lambda ctx, g: (g / (1 + ctx.xp.square(ctx.inputs[0])),), alias="atan"),
    unary("sinh", lambda ctx, g: (g * ctx.xp.cosh(ctx.inputs[0]),)),
    unary("cosh", lambda ctx, g: (g * ctx.xp.sinh(ctx.inputs[0]),)),
    unary("tanh", lambda ctx, g: (g * (1 - ctx.xp.square(ctx.out)),), save_out=True),
    unary("arcsinh", lambda ctx, g: (g / ctx.xp.sqrt(ctx.xp.square(ctx.inputs[0]) + 1),),
          alias="asinh"),
    unary("arccosh", lambda ctx, g: (g / ctx.xp.sqrt(ctx.xp.square(ctx.inputs[0]) - 1),),
          alias="acosh"),
    unary("arctanh", lambda ctx, g: (g / (1 - ctx.xp.square(ctx.inputs[0])),), alias="atanh"),
    unary("degrees", lambda ctx, g: (g * (180.0 / math.pi),), alias="rad2deg"),
    unary("radians", lambda ctx, g: (g * (math.pi / 180.0),), alias="deg2rad"),
    *(unary(name, zero_gradient) for name in ("sign", "floor", "ceil", "trunc", "fix")),
    unary("rint", zero_gradient,
          doc="Half to even, as numpy (MXNet's rint sends n.5 toward -inf; not copied)."),
    *(unary(name, None) for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf",
                                     "signbit", "logical_not")),
    unary("invert", None, alias=("bitwise_not", "bitwise_invert")),

    binary("add", lambda ctx, g: (g, g)),
    binary("subtract", lambda ctx, g: (g, -g if ctx.need[1] else None)),
    binary("multiply", _d_multiply),
    binary("divide", _d_divide, forward="true_divide", alias="true_divide"),
    binary("floor_divide", zero_gradient, doc="Zero gradient: the result is piecewise constant."),
    binary("mod", _d_mod, alias="remainder"),
    binary("fmod", _d_fmod, doc="C's fmod (sign of the dividend); d/dx2 = -trunc(x1/x2)."),
    binary("power", _d_power("power"), save_out=True, alias="pow"),
    binary("float_power", _d_power("float_power"), save_out=True,
           doc="numpy's float_power: computed and returned in float64, as numpy does."),
    binary("maximum", lambda ctx, g: _to_first(g, ctx.xp.greater_equal(*ctx.inputs))),
    binary("minimum", lambda ctx, g: _to_first(g, ctx.xp.less_equal(*ctx.inputs))),
    binary("fmax", lambda ctx, g: _to_first(g, _first_unless_nan(ctx, ctx.xp.greater_equal))),
    binary("fmin", lambda ctx, g: _to_first(g, _first_unless_nan(ctx, ctx.xp.less_equal))),
    binary("hypot", _d_hypot, save_out=True),
    binary("arctan2", _d_arctan2, alias="atan2"),
    binary("copysign", _d_copysign, doc="d/dx1 is +-1 (whether the sign flipped); d/dx2 is 0."),
    binary("ldexp", lambda ctx, g: (g * ctx.xp.exp2(ctx.inputs[1]).astype(g.dtype), None),
           save_out=True, doc="``x1 * 2**x2`` with integer exponents; differentiable in x1 only."),
    binary("logaddexp", _d_logaddexp, save_out=True),
    binary("logaddexp2", _d_logaddexp2, save_out=True),
    # MXNet gives comparisons and logical ops a zero gradient, so a loss that ends in one
    # still runs backward (its inputs get zeros)
    *(binary(name, zero_gradient) for name in ("equal", "not_equal", "less", "less_equal",
                                               "greater", "greater_equal", "logical_and",
                                               "logical_or", "logical_xor")),
    *(binary(name, None) for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "gcd",
                                      "lcm")),
    binary("left_shift", None),  # bitwise_left_shift / bitwise_right_shift: plain functions
    binary("right_shift", None),  # below (MXNet gives them no ufunc keywords)
)

__all__ = export(globals(), ROWS) + [  # and the functions below, over ops declared with defop
    "bitwise_left_shift", "bitwise_right_shift", "round", "around", "round_", "nan_to_num",
    "where", "clip", "isclose", "allclose", "array_equal"]


# -- ops with parameters or a selection ------------------------------------------------------
@defop("round")
class _round:
    def forward(xp, x, decimals=0):
        return xp.round(x, decimals)

    backward = zero_gradient


def round(x, decimals=0, out=None):  # noqa: A001 - numpy's name
    """Round half to even (numpy and MXNet agree); zero gradient."""
    x = to_nd(x)
    res = apply(_round, (x,), {"decimals": int(decimals)})
    return res if out is None else finish_out(res, out)


around = round_ = round


@defop("nan_to_num")
class _nan_to_num:
    """Replacements are constants: the gradient passes only where ``x`` was finite."""
    def forward(xp, x, nan, posinf, neginf):
        return xp.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    def backward(ctx, g):
        return (ctx.xp.where(ctx.xp.isfinite(ctx.inputs[0]), g, 0),)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """numpy's nan_to_num (always a new array: in-place edits would bypass the tape)."""
    x = to_nd(x)
    if x.dtype.kind not in "fc":
        return x.copy() if copy else x
    return apply(_nan_to_num, (x,), {"nan": nan, "posinf": posinf, "neginf": neginf})


@defop("where")
class _where:
    def forward(xp, cond, x, y):
        return xp.where(cond, x, y)

    def backward(ctx, g):
        cond = ctx.inputs[0]
        xp = ctx.xp
        return (None, xp.where(cond, g, 0) if ctx.need[1] else None,
                xp.where(cond, 0, g) if ctx.need[2] else None)


@on_inputs_device
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


@defop("clip")
class _clip:
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


def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None):  # noqa: A002
    """Clip to ``[a_min, a_max]`` (``min=``/``max=``: NumPy 2's names for them); the
    gradient passes where ``a_min <= a <= a_max``."""
    if min is not None:
        if a_min is not None:
            raise TypeError("clip: give a_min or min, not both")
        a_min = min
    if max is not None:
        if a_max is not None:
            raise TypeError("clip: give a_max or max, not both")
        a_max = max
    if a_min is None and a_max is None:
        raise ValueError("clip needs at least one of a_min and a_max")
    a = to_nd(a)
    res = apply(_clip, (a, a_min, a_max))
    return res if out is None else finish_out(res, out)


@on_inputs_device
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


@on_inputs_device
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


def bitwise_left_shift(x1, x2, out=None):
    """The array-API name of ``left_shift``; as in MXNet it is a plain function, not a
    ufunc wrapper, so a ufunc keyword (``where=``, ``dtype=``, ...) is a TypeError."""
    return left_shift(x1, x2, out=out)


def bitwise_right_shift(x1, x2, out=None):
    """The array-API name of ``right_shift`` (a plain function, as ``bitwise_left_shift``)."""
    return right_shift(x1, x2, out=out)


bitwise_left_shift.op = left_shift.op
bitwise_right_shift.op = right_shift.op
