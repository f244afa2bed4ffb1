"""Neural-network operators of ``mx.npx`` (MXNet names and argument names).

Normalization layers live in ``ops.norm``, convolution and pooling in ``ops.conv``,
special functions in ``ops.special``; composites (logsumexp, one_hot, topk, sequence_mask,
batch_dot) in ``ops.composite``.
"""
import math as _math

import numpy as _np

from ..autograd import apply, apply1, defop, is_training
from ..backend import CPU
from ..base import default_float
from ..ndarray import wrap
from . import add_at, on_inputs_device, same_dtype_matmul as _same_dtype_matmul, to_nd
from .elemwise import split_into, where
from .special import _erf_op, erf_forward

__all__ = ["relu", "sigmoid", "softmax", "log_softmax", "dropout", "fully_connected", "pick",
           "activation", "silu", "leaky_relu", "gelu", "masked_softmax", "masked_log_softmax",
           "embedding", "batch_flatten", "reshape_like", "arange_like", "stop_gradient"]


@defop("relu")
class _relu:
    def forward(xp, x):
        return xp.maximum(x, 0)

    def backward(ctx, g):
        return (g * (ctx.inputs[0] > 0),)  # MXNet's formula; a mask multiply beats where()


# The CPU's ReLU (registered for relu and activation below; the formulas above stay the
# generic ones, which CuPy and create_graph run). numpy's maximum against a scalar misses
# its SIMD loop: against a zero-filled array it is 1.5-2.3x faster, filling included; the
# gradient's mask cast to g's dtype once, then multiplied in place, is 10-37% faster than a
# bool operand (bench/README.md, "ReLU and max pooling"). Ints and bools keep the formulas
# (and numpy's promotion).
def _relu_cpu(x):
    if x.dtype.kind != "f":
        return _np.maximum(x, 0)
    return split_into(_relu_into, (x,), _np.empty_like(x))


def _relu_into(x, out):
    out.fill(0)
    _np.maximum(x, out, out=out)


def _relu_grad_cpu(g, x):
    if g.dtype.kind != "f":
        return g * (x > 0)
    y = _np.empty_like(x, dtype=g.dtype)  # x's layout: the mask is written in order
    return split_into(_relu_grad_into, (g, x), y)


def _relu_grad_into(g, x, out):
    _np.copyto(out, x > 0)
    out *= g


_relu.register(CPU, forward=lambda xp, x: _relu_cpu(x),
               backward=lambda ctx, g: (_relu_grad_cpu(g, ctx.inputs[0]),))


@defop("sigmoid", save_out=True)
class _sigmoid:
    def forward(xp, x):
        return 1 / (1 + xp.exp(-x))  # exp(-x) = inf gives the limit, 0 (as the CUDA kernel)

    def backward(ctx, g):
        y = ctx.out
        return (g * y * (1 - y),)


def _sigmoid_cpu(x):
    """The generic formula in one buffer: numpy's exp is vectorized where its tanh is not, and
    keeps the relative precision of tiny outputs. float16 works in float32 (its exp overflows
    from 11 on); integers give float64, as numpy's exp does."""
    out = x.dtype if x.dtype.kind == "f" else _np.dtype(_np.float64)
    work = _np.dtype(_np.float32) if out == _np.float16 else out
    y = split_into(_sigmoid_into, (x,), _np.empty_like(x, dtype=work))  # x's layout
    return y.astype(out, copy=False)


def _sigmoid_into(x, out):
    _np.negative(x, out=out, dtype=out.dtype)  # integers negated in the float
    with _np.errstate(over="ignore"):
        _np.exp(out, out=out)
    out += 1
    _np.divide(1, out, out=out)


def _sigmoid_grad_cpu(g, y):
    return split_into(_sigmoid_grad_into, (g, y), _np.empty_like(y))


def _sigmoid_grad_into(g, y, out):
    _np.subtract(1, y, out=out)
    out *= y
    out *= g


_sigmoid.register(CPU, forward=lambda xp, x: _sigmoid_cpu(x),
                  backward=lambda ctx, g: (_sigmoid_grad_cpu(g, ctx.out),))


def relu(data):
    return apply1(_relu, to_nd(data))


def sigmoid(data):
    return apply1(_sigmoid, to_nd(data))


@defop("softmax", save_out=True)
class _softmax:
    def forward(xp, x, axis=-1, temperature=None):
        if x.size == 0:
            return xp.zeros_like(x)  # nothing to normalize (numpy's max has no identity)
        if temperature is not None and temperature != 1:
            x = x / temperature
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return e / xp.sum(e, axis=axis, keepdims=True)

    def backward(ctx, g):
        y = ctx.out
        p = ctx.params
        gx = y * (g - ctx.xp.sum(g * y, axis=p["axis"], keepdims=True))
        t = p.get("temperature")
        return (gx / t if t is not None and t != 1 else gx,)


@defop("log_softmax", save_out=True)
class _log_softmax:
    def forward(xp, x, axis=-1, temperature=None):
        if x.size == 0:
            return xp.zeros_like(x)
        if temperature is not None and temperature != 1:
            x = x / temperature
        shifted = x - xp.max(x, axis=axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def backward(ctx, g):
        xp = ctx.xp
        p = ctx.params
        gx = g - xp.exp(ctx.out) * xp.sum(g, axis=p["axis"], keepdims=True)
        t = p.get("temperature")
        return (gx / t if t is not None and t != 1 else gx,)


def _softmax_call(o, data, axis, length, temperature, use_length, dtype, log):
    data = to_nd(data)
    if use_length:
        if length is None:
            raise ValueError("softmax(use_length=True) needs length= (one per row)")
        res = apply(_masked_softmax, (data, _length_mask(data, length, axis)),
                    {"axis": axis, "temperature": temperature or 1.0, "log": log})
    else:
        res = apply(o, (data,), {"axis": axis, "temperature": temperature})
    return res.astype(dtype) if dtype is not None else res


def softmax(data, axis=-1, length=None, temperature=None, use_length=False, dtype=None):
    """Softmax over ``axis``; with ``use_length`` only the first ``length`` entries of
    each row count and the rest are 0 (``length`` is shaped like data without ``axis``)."""
    return _softmax_call(_softmax, data, axis, length, temperature, use_length, dtype, False)


def log_softmax(data, axis=-1, length=None, temperature=None, use_length=False, dtype=None):
    """Log-softmax; with ``use_length`` entries beyond ``length`` are -inf."""
    return _softmax_call(_log_softmax, data, axis, length, temperature, use_length, dtype,
                         True)


@defop("dropout", has_aux=True, seed_arg=3)
class _dropout:
    """The keep-mask comes from a generator seeded per call from the device's generator,
    so ``mx.np.random.seed`` reproduces it (and a GPU kernel can regenerate it)."""

    def forward(xp, x, p, axes, seed):
        shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
        if p >= 1:
            mask = xp.zeros(shape, dtype=x.dtype)
        else:
            keep = xp.random.default_rng(seed).random(shape, dtype="float32") >= p
            mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
        return x * mask, mask

    def backward(ctx, g):
        return g * ctx.aux, None, None, None


def dropout(data, p=0.5, mode="training", axes=(), cudnn_off=True, **kwargs):
    """Zero elements with probability ``p`` and scale the rest by ``1/(1-p)``.

    Active while training (``autograd.record()`` or ``train_mode()``), or always with
    ``mode='always'``; otherwise the identity. ``axes`` share one mask along them.
    """
    data = to_nd(data)
    if mode not in ("training", "always"):
        raise ValueError(f"mode must be 'training' or 'always', got {mode!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if p == 0 or (mode == "training" and not is_training()):
        return data
    axes = tuple(a % data.ndim for a in axes)
    seed = data._device.backend.next_seed()  # on the host: no device sync per call
    return apply(_dropout, (data, p, axes, seed))


@defop("fully_connected")
class _fully_connected:
    def forward(xp, x, w, b, flatten):
        x2 = xp.reshape(x, (x.shape[0], w.shape[1])) if flatten else x
        y = _same_dtype_matmul(xp, x2, w.T)
        if b is not None:
            y += b
        return y

    def backward(ctx, g):
        x, w, b = ctx.inputs
        xp = ctx.xp
        flatten = ctx.params["flatten"]
        x2 = xp.reshape(x, (x.shape[0], w.shape[1])) if flatten else x
        gx = gw = gb = None
        if ctx.need[0]:
            gx = xp.reshape(_same_dtype_matmul(xp, g, w), x.shape)
        g2 = xp.reshape(g, (-1, g.shape[-1]))
        if ctx.need[1]:
            gw = _same_dtype_matmul(xp, g2.T, xp.reshape(x2, (-1, x2.shape[-1])))
        if ctx.need[2]:
            gb = xp.sum(g2, axis=0)
        return gx, gw, gb


def fully_connected(x, weight, bias=None, num_hidden=None, no_bias=False, flatten=True):
    """``x @ weight.T + bias``; with ``flatten`` every axis after the first is folded."""
    x = to_nd(x)
    in_units = _math.prod(x.shape[1:]) if flatten and x.ndim else x.shape[-1]
    if weight.ndim != 2 or weight.shape[1] != in_units:
        raise ValueError(f"fully_connected: weight of shape {weight.shape} does not fit input "
                         f"of shape {x.shape} (expects (num_hidden, {in_units}))")
    if num_hidden is not None and weight.shape[0] != num_hidden:
        raise ValueError(f"fully_connected: num_hidden={num_hidden} but weight has "
                         f"{weight.shape[0]} rows")
    if no_bias:
        bias = None
    elif bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"fully_connected: bias of shape {bias.shape} does not match "
                         f"{weight.shape[0]} hidden units")
    return apply(_fully_connected, (x, weight, bias), {"flatten": flatten})


@defop("pick")
class _pick:
    def forward(xp, x, index, axis, keepdims):
        idx = xp.expand_dims(index, axis)
        out = xp.take_along_axis(x, idx, axis=axis)
        return out if keepdims else xp.squeeze(out, axis=axis)

    def backward(ctx, g):
        x, index = ctx.inputs[:2]
        p = ctx.params
        return ctx.call(_pick_scatter, g, index, shape=x.shape, axis=p["axis"],
                        keepdims=p["keepdims"]), None


@defop("pick_scatter")
class _pick_scatter:
    def forward(xp, g, index, shape, axis, keepdims):
        out = xp.zeros(shape, dtype=g.dtype)
        gk = g if keepdims else xp.expand_dims(g, axis)
        xp.put_along_axis(out, xp.expand_dims(index, axis), gk, axis=axis)
        return out

    def backward(ctx, g):
        p = ctx.params
        return ctx.call(_pick, g, ctx.inputs[1], axis=p["axis"], keepdims=p["keepdims"]), None


@on_inputs_device
def pick(data, index, axis=-1, mode="clip", keepdims=False):
    """``data`` picked at ``index`` along ``axis`` (float indices accepted, as MXNet)."""
    data = to_nd(data)
    index = to_nd(index, data)
    axis = axis % data.ndim
    n = data.shape[axis]
    xp = data._device.backend.xp
    raw = index._data.astype("int64")
    raw = xp.clip(raw, 0, n - 1) if mode == "clip" else xp.mod(raw, n)
    return apply(_pick, (data, wrap(raw, data._device)), {"axis": axis, "keepdims": keepdims})


# -- activations -----------------------------------------------------------------------------
def _sigmoid_of(xp, x):
    return (xp.tanh(x * 0.5) + 1) * 0.5


def _softplus_of(xp, x):
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


_ACT_TYPES = ("relu", "sigmoid", "tanh", "softrelu", "softsign", "log_sigmoid", "mish", "silu")


@defop("activation")
class _activation:
    """MXNet's Activation: one op, ``act_type`` picks the function (a GPU kernel may
    replace the forward and backward per ``act_type``)."""

    def forward(xp, x, act_type):
        if act_type == "relu":
            return xp.maximum(x, 0)
        if act_type == "sigmoid":
            return _sigmoid_of(xp, x)
        if act_type == "tanh":
            return xp.tanh(x)
        if act_type == "softrelu":
            return _softplus_of(xp, x)
        if act_type == "softsign":
            return x / (1 + xp.abs(x))
        if act_type == "log_sigmoid":
            return -_softplus_of(xp, -x)
        if act_type == "mish":
            return x * xp.tanh(_softplus_of(xp, x))
        return x * _sigmoid_of(xp, x)  # silu

    def backward(ctx, g):
        x = ctx.inputs[0]
        xp = ctx.xp
        act = ctx.params["act_type"]
        if act == "relu":
            return (g * (x > 0),)
        if act == "sigmoid":
            s = _sigmoid_of(xp, x)
            return (g * s * (1 - s),)
        if act == "tanh":
            t = xp.tanh(x)
            return (g * (1 - t * t),)
        if act == "softrelu":
            return (g * _sigmoid_of(xp, x),)
        if act == "softsign":
            d = 1 + xp.abs(x)
            return (g / (d * d),)
        if act == "log_sigmoid":
            return (g * _sigmoid_of(xp, -x),)
        s = _sigmoid_of(xp, x)
        if act == "mish":
            t = xp.tanh(_softplus_of(xp, x))
            return (g * (t + x * s * (1 - t * t)),)
        return (g * s * (1 + x * (1 - s)),)  # silu


# ``_generic`` is bound before register() below replaces the CPU slot with this function
def _activation_cpu_forward(xp, x, act_type, _generic=_activation.forward_impls[CPU]):
    return _relu_cpu(x) if act_type == "relu" else _generic(xp, x, act_type)


def _activation_cpu_backward(ctx, g):
    if ctx.params["act_type"] == "relu":
        return (_relu_grad_cpu(g, ctx.inputs[0]),)
    return _activation.backward(ctx, g)


_activation.register(CPU, forward=_activation_cpu_forward, backward=_activation_cpu_backward)


def activation(data, act_type="relu", **kwargs):
    """``act_type`` one of relu, sigmoid, tanh, softrelu, softsign, log_sigmoid, mish
    (and silu)."""
    if act_type not in _ACT_TYPES:
        raise ValueError(f"activation: unknown act_type {act_type!r}; choose one of "
                         f"{', '.join(_ACT_TYPES)}")
    return apply1(_activation, to_nd(data), {"act_type": act_type})


def silu(data):
    """x * sigmoid(x) (swish with beta 1)."""
    return activation(data, "silu")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946
_SQRT_2 = 2 ** 0.5
_SQRT_2_OVER_PI = (2 / 3.141592653589793) ** 0.5
_LEAKY_TYPES = ("leaky", "prelu", "elu", "selu", "gelu", "gelu_tanh")


@defop("leaky_relu")
class _leaky_relu:
    """MXNet's LeakyReLU family; selu's gradient is lambda*alpha*exp(x) for x < 0 (MXNet's
    is wrong there and is not copied)."""

    def forward(xp, x, gamma, act_type, slope):
        if act_type == "leaky":
            return xp.where(x > 0, x, x * slope)
        if act_type == "prelu":
            return xp.where(x > 0, x, x * gamma)
        if act_type == "elu":
            return xp.where(x > 0, x, slope * xp.expm1(xp.minimum(x, 0)))
        if act_type == "selu":
            return _SELU_LAMBDA * xp.where(x > 0, x, _SELU_ALPHA * xp.expm1(xp.minimum(x, 0)))
        if act_type == "gelu":
            return 0.5 * x * (1 + erf_forward(xp, x / _SQRT_2))
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + xp.tanh(inner))

    def backward(ctx, g):
        x, gamma = ctx.inputs
        xp = ctx.xp
        act, slope = ctx.params["act_type"], ctx.params["slope"]
        if act == "leaky":
            return xp.where(x > 0, g, g * slope), None
        if act == "prelu":
            gx = xp.where(x > 0, g, g * gamma)
            gg = xp.where(x > 0, 0, g * x) if ctx.need[1] else None
            return gx, gg
        if act == "elu":
            return xp.where(x > 0, g, g * slope * xp.exp(xp.minimum(x, 0))), None
        if act == "selu":
            return g * _SELU_LAMBDA * xp.where(
                x > 0, 1, _SELU_ALPHA * xp.exp(xp.minimum(x, 0))), None
        if act == "gelu":
            cdf = 0.5 * (1 + ctx.call(_erf_op, x / _SQRT_2))
            pdf = xp.exp(-0.5 * x * x) * (1 / (2 * 3.141592653589793) ** 0.5)
            return g * (cdf + x * pdf), None
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
        t = xp.tanh(inner)
        d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner), None


def leaky_relu(data, gamma=None, act_type="leaky", slope=0.25, lower_bound=0.125,
               upper_bound=0.334, **kwargs):
    """``act_type`` leaky (slope), prelu (learned ``gamma``, broadcast along axis 1), elu
    (slope is alpha), selu, gelu (erf form), gelu_tanh, or rrelu (while training a slope
    drawn per element from U(lower_bound, upper_bound), else their mean)."""
    data = to_nd(data)
    if act_type == "rrelu":
        return _rrelu(data, lower_bound, upper_bound)
    if act_type not in _LEAKY_TYPES:
        raise ValueError(f"leaky_relu: unknown act_type {act_type!r}; choose one of "
                         f"{', '.join(_LEAKY_TYPES)}")
    if act_type == "prelu":
        if gamma is None:
            raise ValueError("leaky_relu(act_type='prelu') needs gamma")
        gamma = to_nd(gamma, data)
        if gamma.ndim == 1 and data.ndim > 1 and gamma.shape[0] not in (1,):
            if gamma.shape[0] != data.shape[1]:
                raise ValueError(f"prelu: gamma of shape {gamma.shape} does not match "
                                 f"{data.shape[1]} channels on axis 1 of {data.shape}")
            gamma = gamma.reshape((1, -1) + (1,) * (data.ndim - 2))
    else:
        gamma = None
    return apply(_leaky_relu, (data, gamma), {"act_type": act_type, "slope": float(slope)})


@on_inputs_device
def _rrelu(data, lower, upper):
    if not is_training():
        return leaky_relu(data, act_type="leaky", slope=(lower + upper) / 2)
    draws = data._device.backend.rng.random(data.shape, dtype=default_float())
    slopes = wrap((draws * (upper - lower) + lower).astype(data.dtype, copy=False), data._device)
    return where(data > 0, data, data * slopes)


def gelu(data, approximation="erf"):
    """GELU, exact (erf) or with the tanh approximation (``approximation='tanh'``)."""
    if approximation not in ("erf", "tanh"):
        raise ValueError(f"gelu: approximation must be 'erf' or 'tanh', got {approximation!r}")
    return leaky_relu(data, act_type="gelu" if approximation == "erf" else "gelu_tanh")


# -- masked softmax ---------------------------------------------------------------------------
@defop("masked_softmax", save_out=True)
class _masked_softmax:
    """Softmax over ``axis`` of the unmasked entries; masked entries give 0 (or -inf for
    the log form) and get no gradient. A fully masked row gives zeros."""
    def forward(xp, x, mask, axis, temperature, log):
        if x.size == 0:
            return xp.zeros(xp.broadcast_shapes(x.shape, mask.shape), dtype=x.dtype)
        if temperature != 1:
            x = x / temperature
        neg_inf = xp.asarray(-xp.inf, dtype=x.dtype)
        masked = xp.where(mask, x, neg_inf)
        top = xp.max(masked, axis=axis, keepdims=True)
        top = xp.where(xp.isfinite(top), top, 0)
        e = xp.where(mask, xp.exp(masked - top), 0)
        total = xp.sum(e, axis=axis, keepdims=True)
        if log:
            return xp.where(mask, masked - top - xp.log(xp.where(total == 0, 1, total)),
                            neg_inf)
        return e / xp.where(total == 0, 1, total)

    def backward(ctx, g):
        x, mask = ctx.inputs
        xp = ctx.xp
        p = ctx.params
        y = ctx.out
        g = xp.where(mask, g, 0)
        if p["log"]:
            prob = xp.where(mask, xp.exp(y), 0)
            gx = g - prob * xp.sum(g, axis=p["axis"], keepdims=True)
        else:
            gx = y * (g - xp.sum(g * y, axis=p["axis"], keepdims=True))
        if p["temperature"] != 1:
            gx = gx / p["temperature"]
        return gx, None


@on_inputs_device
def _length_mask(data, length, axis):
    """Bool mask: position along ``axis`` < ``length`` (shaped like data without axis)."""
    xp = data._device.backend.xp
    ax = axis % data.ndim
    lengths = to_nd(length, data)._data
    expected = data.shape[:ax] + data.shape[ax + 1:]
    if lengths.shape != expected:
        raise ValueError(f"length of shape {lengths.shape} must match data shape {data.shape} "
                         f"without axis {axis}: {expected}")
    pos = xp.arange(data.shape[ax]).reshape((-1,) + (1,) * (data.ndim - ax - 1))
    return wrap(pos < xp.expand_dims(lengths, ax), data._device)


def _bool_mask(mask, data):
    mask = to_nd(mask, data)
    if mask.dtype != _np.bool_:
        mask = wrap(mask._data != 0, mask._device)
    return mask


def masked_softmax(data, mask, axis=-1, temperature=1.0, normalize=True):
    """Softmax over the entries where ``mask`` (broadcastable, nonzero = keep) is set;
    the rest are 0. The max is always subtracted first (``normalize`` is accepted for
    MXNet compatibility)."""
    data = to_nd(data)
    return apply(_masked_softmax, (data, _bool_mask(mask, data)),
                 {"axis": axis, "temperature": temperature or 1.0, "log": False})


def masked_log_softmax(data, mask, axis=-1, temperature=1.0, normalize=True):
    """Log-softmax over the entries where ``mask`` is set; the rest are -inf."""
    data = to_nd(data)
    return apply(_masked_softmax, (data, _bool_mask(mask, data)),
                 {"axis": axis, "temperature": temperature or 1.0, "log": True})


# -- embedding ------------------------------------------------------------------------------


@defop("embedding_indices")
class _embedding_indices:
    """Row indices for ``embedding``: integers clipped into the table (an op, not a raw
    computation around one, so a hybridized graph replays it for each new input)."""
    def forward(xp, data, num_rows):
        return xp.clip(data.astype(_np.int64), 0, num_rows - 1)

    backward = None


@defop("embedding")
class _embedding:
    def forward(xp, indices, weight):
        return xp.take(weight, indices, axis=0)

    def backward(ctx, g):
        indices, weight = ctx.inputs
        return None, ctx.call(_embedding_grad, indices, g, num_rows=weight.shape[0])


@defop("embedding_grad")
class _embedding_grad:
    """Rows of ``dy`` summed into a (num_rows, D) table at ``indices`` (scatter-add)."""
    def forward(xp, indices, dy, num_rows):
        out = xp.zeros((num_rows,) + dy.shape[indices.ndim:], dtype=dy.dtype)
        flat_idx = indices.reshape(-1)
        flat_dy = dy.reshape((flat_idx.shape[0],) + out.shape[1:])
        add_at(xp, out, flat_idx, flat_dy)
        return out

    def backward(ctx, g):
        return None, ctx.call(_embedding, ctx.inputs[0], g)


@on_inputs_device
def embedding(data, weight, input_dim=None, output_dim=None, dtype="float32",
              sparse_grad=False, **kwargs):
    """Rows of ``weight`` at ``data`` (float indices accepted and clipped to the table, as
    MXNet); the gradient scatter-adds, so repeated indices accumulate."""
    data = to_nd(data)
    weight = to_nd(weight, data)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (input_dim, output_dim), got {weight.shape}")
    if input_dim is not None and weight.shape[0] != input_dim:
        raise ValueError(f"embedding: input_dim={input_dim} but weight has {weight.shape[0]} rows")
    if output_dim is not None and weight.shape[1] != output_dim:
        raise ValueError(f"embedding: output_dim={output_dim} but weight has "
                         f"{weight.shape[1]} columns")
    indices = apply(_embedding_indices, (data,), {"num_rows": weight.shape[0]})
    return apply(_embedding, (indices, weight))


# -- small helpers ----------------------------------------------------------------------------


def batch_flatten(data):
    data = to_nd(data)
    return data.reshape((data.shape[0], -1)) if data.ndim else data.reshape((1, 1))


def reshape_like(lhs, rhs, lhs_begin=None, lhs_end=None, rhs_begin=None, rhs_end=None):
    """Reshape ``lhs`` to ``rhs``'s shape, or replace ``lhs.shape[lhs_begin:lhs_end]`` by
    ``rhs.shape[rhs_begin:rhs_end]``."""
    lhs = to_nd(lhs)
    rs = rhs.shape
    if lhs_begin is None and lhs_end is None and rhs_begin is None and rhs_end is None:
        shape = rs
    else:
        ls = lhs.shape
        shape = ls[:lhs_begin or 0] + rs[rhs_begin or 0:rhs_end] + \
            (ls[lhs_end:] if lhs_end is not None else ())
    return lhs.reshape(shape)


@on_inputs_device
def arange_like(data, start=0.0, step=1.0, repeat=1, device=None, axis=None, ctx=None):
    """``start + step * (i // repeat)`` shaped like ``data`` (or its ``axis``), float32."""
    data = to_nd(data)
    xp = data._device.backend.xp
    shape = data.shape if axis is None else (data.shape[axis],)
    n = 1
    for s in shape:
        n *= s
    values = start + step * (xp.arange(n) // repeat)
    return wrap(values.astype(default_float()).reshape(shape), data._device)


def stop_gradient(data):
    """The same values with no history: gradients stop here (MXNet's BlockGrad)."""
    data = to_nd(data)
    return wrap(data._data, data._device)

