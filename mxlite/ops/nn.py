"""Neural-network operators of ``mx.npx`` (MXNet names and argument names)."""
from ..autograd import Op, apply, is_training
from . import to_nd

__all__ = ["relu", "sigmoid", "softmax", "log_softmax", "dropout", "fully_connected", "pick"]


class _Relu:
    def forward(xp, x):
        return xp.maximum(x, 0)

    def backward(ctx, g):
        return (ctx.xp.where(ctx.inputs[0] > 0, g, 0),)


class _Sigmoid:
    def forward(xp, x):
        return (xp.tanh(x * 0.5) + 1) * 0.5  # stable for large |x|

    def backward(ctx, g):
        y = ctx.out
        return (g * y * (1 - y),)


_relu = Op("relu", _Relu.forward, _Relu.backward)
_sigmoid = Op("sigmoid", _Sigmoid.forward, _Sigmoid.backward, save_out=True)


def relu(data):
    return apply(_relu, (to_nd(data),))


def sigmoid(data):
    return apply(_sigmoid, (to_nd(data),))


class _Softmax:
    def forward(xp, x, axis=-1, temperature=None):
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


class _LogSoftmax:
    def forward(xp, x, axis=-1, temperature=None):
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


_softmax = Op("softmax", _Softmax.forward, _Softmax.backward, save_out=True)
_log_softmax = Op("log_softmax", _LogSoftmax.forward, _LogSoftmax.backward, save_out=True)


def softmax(data, axis=-1, length=None, temperature=None, use_length=False, dtype=None):
    data = to_nd(data)
    if use_length or length is not None:
        raise NotImplementedError("softmax with length= is provided by npx.masked_softmax")
    res = apply(_softmax, (data,), {"axis": axis, "temperature": temperature})
    return res.astype(dtype) if dtype is not None else res


def log_softmax(data, axis=-1, length=None, temperature=None, use_length=False, dtype=None):
    data = to_nd(data)
    if use_length or length is not None:
        raise NotImplementedError("log_softmax with length= is provided by npx.masked_log_softmax")
    res = apply(_log_softmax, (data,), {"axis": axis, "temperature": temperature})
    return res.astype(dtype) if dtype is not None else res


class _Dropout:
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


_dropout = Op("dropout", _Dropout.forward, _Dropout.backward, has_aux=True)


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
    seed = int(data._device.backend.rng.integers(0, 2**63 - 1))
    return apply(_dropout, (data, p, axes, seed))


class _FullyConnected:
    def forward(xp, x, w, b, flatten):
        x2 = xp.reshape(x, (x.shape[0], -1)) if flatten else x
        y = xp.matmul(x2, w.T)
        if b is not None:
            y += b
        return y

    def backward(ctx, g):
        x, w, b = ctx.inputs
        xp = ctx.xp
        flatten = ctx.params["flatten"]
        x2 = xp.reshape(x, (x.shape[0], -1)) if flatten else x
        gx = gw = gb = None
        if ctx.need[0]:
            gx = xp.reshape(xp.matmul(g, w), x.shape)
        g2 = xp.reshape(g, (-1, g.shape[-1]))
        if ctx.need[1]:
            gw = xp.matmul(g2.T, xp.reshape(x2, (-1, x2.shape[-1])))
        if ctx.need[2]:
            gb = xp.sum(g2, axis=0)
        return gx, gw, gb


_fully_connected = Op("fully_connected", _FullyConnected.forward, _FullyConnected.backward)


def fully_connected(x, weight, bias=None, num_hidden=None, no_bias=False, flatten=True):
    """``x @ weight.T + bias``; with ``flatten`` every axis after the first is folded."""
    x = to_nd(x)
    in_units = x.size // x.shape[0] if flatten and x.ndim else x.shape[-1]
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


class _Pick:
    def forward(xp, x, index, axis, keepdims):
        idx = xp.expand_dims(index, axis)
        out = xp.take_along_axis(x, idx, axis=axis)
        return out if keepdims else xp.squeeze(out, axis=axis)

    def backward(ctx, g):
        x, index = ctx.inputs[:2]
        p = ctx.params
        return ctx.call(_pick_scatter, g, index, shape=x.shape, axis=p["axis"],
                        keepdims=p["keepdims"]), None


class _PickScatter:
    def forward(xp, g, index, shape, axis, keepdims):
        out = xp.zeros(shape, dtype=g.dtype)
        gk = g if keepdims else xp.expand_dims(g, axis)
        xp.put_along_axis(out, xp.expand_dims(index, axis), gk, axis=axis)
        return out

    def backward(ctx, g):
        p = ctx.params
        return ctx.call(_pick, g, ctx.inputs[1], axis=p["axis"], keepdims=p["keepdims"]), None


_pick = Op("pick", _Pick.forward, _Pick.backward)
_pick_scatter = Op("pick_scatter", _PickScatter.forward, _PickScatter.backward)


def pick(data, index, axis=-1, mode="clip", keepdims=False):
    """``data`` picked at ``index`` along ``axis`` (float indices accepted, as MXNet)."""
    data = to_nd(data)
    index = to_nd(index, data)
    axis = axis % data.ndim
    n = data.shape[axis]
    xp = data._device.backend.xp
    raw = index._data.astype("int64")
    raw = xp.clip(raw, 0, n - 1) if mode == "clip" else xp.mod(raw, n)
    from ..ndarray import wrap
    return apply(_pick, (data, wrap(raw, data._device)), {"axis": axis, "keepdims": keepdims})
