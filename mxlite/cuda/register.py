"""The hand-written kernels as GPU implementations of ops, declared by op name.

A declaration is one decorated function::

    @kernel("softmax", covers=lambda xp, x, axis=-1, temperature=None: ...)
    def _(k, xp, x, axis=-1, temperature=None):
        return k.softmax_forward(x)

``kernel(op_name, phase, covers)`` makes ``impl(k, *args)`` the GPU forward (or backward) of
the op named ``op_name`` for the calls ``covers(*args)`` accepts; every other call runs the
implementation the op had before, so results never depend on whether a kernel exists.
``k.<wrapper>`` is a ``mxlite.cuda.ops`` wrapper ready to launch. Outputs, gradients and aux
keep the generic op's shapes, dtypes and meaning (an aux that only caches work for the backward,
like convolution's columns, may be None). Pure elementwise ops get their kernel from
one ``mxlite.cuda.elementwise`` declaration and one ``elementwise_op(name)`` line here.

Some ops need no backward of their own: their generic backward calls a helper op through
``ctx.call`` (max pooling scatters with ``max_pool_scatter``, embedding with
``embedding_grad``, ...), and those helpers get kernel forwards here, which then serve the raw
backward and ``create_graph=True`` alike.

This module knows op names, never ops (it sits below the op layer): ``mxlite.ops.gpu_kernels``
attaches ``kernel_implementations(run, generic)`` to the ops. ``run(wrapper)`` returns a
callable launching a wrapper (CuPy on the current GPU in production, the CPU executor with
numpy in tests) and ``generic(op_name)`` the fallback ``(forward, backward)`` pair. Importing
this module does not import CuPy.
"""
import functools

import numpy

from . import elementwise, ops

__all__ = ["kernel", "elementwise_op", "kernel_implementations", "declared_ops", "current_gpu",
           "PhiloxMask"]

FLOAT_DTYPES = ("float32", "float16", "bfloat16")
CONV_DTYPES = ("float32", "float16")  # im2col/col2im, embedding and pick kernels
_PHASES = ("forward", "backward")

_declared = {}  # (op name, phase) -> (covers, impl)


def kernel(op_name, phase="forward", covers=None):
    """Declare the decorated ``impl(k, *args)`` as the GPU ``phase`` ('forward' or 'backward')
    of the op named ``op_name``, for the calls ``covers(*args)`` accepts (all, when None)."""
    if phase not in _PHASES:
        raise ValueError(f"phase must be 'forward' or 'backward', got {phase!r}")

    def declare(impl):
        if (op_name, phase) in _declared:
            raise ValueError(f"the {phase} of {op_name!r} already has a kernel")
        _declared[op_name, phase] = (covers, impl)
        return impl
    return declare


def declared_ops():
    """The names of the ops that have a kernel."""
    return sorted({name for name, _ in _declared})


def current_gpu(wrapper):
    """``wrapper`` run with CuPy and its kernel compiled for the GPU current at call time
    (op implementations run with their arrays' GPU current)."""
    import cupy

    from .loader import load_module

    stem = wrapper.kernel_file

    def call(*args, **kwargs):
        return wrapper(load_module(stem), cupy, *args, **kwargs)
    return call


class _Wrappers:
    """``k.<name>``: the ``mxlite.cuda.ops`` (or elementwise) wrapper ``name`` passed through
    ``run``, bound on first use."""

    def __init__(self, run):
        self._run = run

    def __getattr__(self, name):
        wrapper = getattr(ops, name, None) or elementwise.wrapper(name)
        bound = self._run(wrapper)
        setattr(self, name, bound)
        return bound


def _guarded(covers, impl, fallback):
    """The one place a kernel meets its fallback."""
    if covers is None:
        return impl

    def implementation(*args, **kwargs):
        if covers(*args, **kwargs):
            return impl(*args, **kwargs)
        return fallback(*args, **kwargs)
    return implementation


def kernel_implementations(run, generic):
    """``{op name: (forward or None, backward or None)}``: the declared kernels bound through
    ``run``, each falling back to ``generic(op_name)`` for the calls it does not cover."""
    k = _Wrappers(run)
    impls = {}
    for (name, phase), (covers, impl) in _declared.items():
        index = _PHASES.index(phase)
        pair = impls.setdefault(name, [None, None])
        pair[index] = _guarded(covers, functools.partial(impl, k), generic(name)[index])
    return {name: tuple(pair) for name, pair in impls.items()}


def _covered(dtypes, *arrays):
    """Whether non-empty arrays of one dtype among ``dtypes`` (the kernels' own) and one shape
    are given."""
    first = arrays[0]
    if not hasattr(first, "dtype") or first.size == 0 or first.dtype.name not in dtypes:
        return False
    return all(hasattr(a, "dtype") and a.dtype == first.dtype and a.shape == first.shape
               for a in arrays[1:])


def _same_dtype(dtype, *arrays):
    return all(a is None or (hasattr(a, "dtype") and a.dtype == dtype) for a in arrays)


class PhiloxMask:
    """A dropout keep-mask held as its Philox stream ``(p, seed)``: the kernel backward
    regenerates it instead of reading a stored tensor. Code that reads the aux as an array
    (the generic backward under ``create_graph=True`` multiplies by it) gets the mask built
    once by ``materialize()``, with the generic forward's values (0 or 1/(1-p), x's dtype)."""

    def __init__(self, shape, dtype, p, seed, materialize):
        self.shape = shape
        self.dtype = dtype
        self.p = p
        self.seed = seed
        self._materialize = materialize
        self._mask = None

    def array(self):
        if self._mask is None:
            self._mask = self._materialize()
        return self._mask

    def __array__(self, dtype=None, copy=None):
        mask = self.array()
        if hasattr(mask, "__cuda_array_interface__"):
            mask = mask.get()
        return numpy.asarray(mask, dtype=dtype)

    @property
    def __cuda_array_interface__(self):
        mask = self.array()
        if not hasattr(mask, "__cuda_array_interface__"):
            raise AttributeError("this dropout mask lives in host memory")
        return mask.__cuda_array_interface__


def _float_input(xp, x, *params, **options):
    return _covered(FLOAT_DTYPES, x)


def _float_input_and_head(ctx, g):
    return _covered(FLOAT_DTYPES, ctx.inputs[0], g)


# ---- elementwise ops: one mxlite.cuda.elementwise declaration and one line here ----

def _elementwise_inputs(arrays):
    """Arrays (no Python scalars) of one elementwise-kernel dtype, any broadcastable shapes."""
    first = arrays[0]
    return (hasattr(first, "dtype") and first.dtype.name in elementwise.DTYPES
            and all(hasattr(a, "dtype") and a.dtype == first.dtype and a.size for a in arrays))


def elementwise_op(op_name):
    """The kernels that ``mxlite.cuda.elementwise`` declares for ``op_name`` as its GPU
    implementations (broadcast inputs included)."""
    declaration = elementwise.declared(op_name)
    if declaration.forward is not None:
        forward_name = declaration.kernel_name("forward")
        kernel(op_name, covers=lambda xp, *inputs: _elementwise_inputs(inputs))(
            lambda k, xp, *inputs: getattr(k, forward_name)(*inputs))
    backward_name = declaration.kernel_name("backward")
    reads_out = declaration.reads_out

    def covers(ctx, g):
        return (not reads_out or ctx.out is not None) and _elementwise_inputs([g, *ctx.inputs])

    def backward(k, ctx, g):
        grads = getattr(k, backward_name)(g, *ctx.inputs, *((ctx.out,) if reads_out else ()))
        grads = grads if isinstance(grads, tuple) else (grads,)
        return tuple(grad if need else None for grad, need in zip(grads, ctx.need))
    kernel(op_name, "backward", covers=covers)(backward)


elementwise_op("logaddexp")
elementwise_op("logaddexp2")
elementwise_op("hypot")
elementwise_op("arctan2")


# ---- activations: x -> act(x); the backward recomputes act'(x) from x ----

def activation_op(op_name, act):
    """relu, sigmoid and tanh: one kernel pair with a fixed activation code."""
    kernel(op_name, covers=_float_input)(lambda k, xp, x: k.activation_forward(x, act))
    kernel(op_name, "backward", covers=_float_input_and_head)(
        lambda k, ctx, g: (k.activation_backward(g, ctx.inputs[0], act),))


activation_op("relu", "relu")
activation_op("sigmoid", "sigmoid")
activation_op("tanh", "tanh")

_ACTIVATION_KERNELS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "silu": "silu"}
_LEAKY_KERNELS = {"leaky": "leaky_relu", "gelu": "gelu", "gelu_tanh": "gelu_tanh"}


@kernel("activation", covers=lambda xp, x, act_type: act_type in _ACTIVATION_KERNELS
        and _covered(FLOAT_DTYPES, x))
def _activation(k, xp, x, act_type):
    return k.activation_forward(x, _ACTIVATION_KERNELS[act_type])


@kernel("activation", "backward", covers=lambda ctx, g: ctx.params["act_type"] in _ACTIVATION_KERNELS
        and _float_input_and_head(ctx, g))
def _activation_backward(k, ctx, g):
    return (k.activation_backward(g, ctx.inputs[0], _ACTIVATION_KERNELS[ctx.params["act_type"]]),)


@kernel("leaky_relu", covers=lambda xp, x, gamma, act_type, slope: act_type in _LEAKY_KERNELS
        and _covered(FLOAT_DTYPES, x))
def _leaky_relu(k, xp, x, gamma, act_type, slope):
    return k.activation_forward(x, _LEAKY_KERNELS[act_type], slope=slope)


@kernel("leaky_relu", "backward", covers=lambda ctx, g: ctx.params["act_type"] in _LEAKY_KERNELS
        and _float_input_and_head(ctx, g))
def _leaky_relu_backward(k, ctx, g):
    act = _LEAKY_KERNELS[ctx.params["act_type"]]
    return k.activation_backward(g, ctx.inputs[0], act, slope=ctx.params["slope"]), None


# ---- softmax and log_softmax (last axis, temperature 1) ----

def _softmax_covers(x, axis, temperature):
    return (hasattr(x, "ndim") and x.ndim > 0 and axis % x.ndim == x.ndim - 1
            and temperature in (None, 1) and _covered(FLOAT_DTYPES, x))


def softmax_op(op_name, log):
    kernel(op_name, covers=lambda xp, x, axis=-1, temperature=None: _softmax_covers(x, axis, temperature))(
        lambda k, xp, x, axis=-1, temperature=None: k.softmax_forward(x, log=log))
    kernel(op_name, "backward",
           covers=lambda ctx, g: _softmax_covers(ctx.out, ctx.params["axis"], ctx.params.get("temperature"))
           and _covered(FLOAT_DTYPES, ctx.out, g))(
        lambda k, ctx, g: (k.softmax_backward(g, ctx.out, log=log),))


softmax_op("softmax", log=False)
softmax_op("log_softmax", log=True)


# ---- softmax cross entropy with sparse labels (last axis) ----

def _sparse_labels(logits, labels):
    return (_covered(FLOAT_DTYPES, logits) and logits.ndim > 0 and hasattr(labels, "shape")
            and tuple(labels.shape) == logits.shape[:-1])


@kernel("softmax_cross_entropy", covers=lambda xp, logits, labels: _sparse_labels(logits, labels))
def _softmax_cross_entropy(k, xp, logits, labels):
    """The kernel's dlogits (softmax - onehot) is the aux the backward scales."""
    return k.softmax_cross_entropy(logits, labels)


# ---- dropout: the mask comes from Philox keyed by the op's per-call seed (offset 0),
# reproducible under mx.np.random.seed like the generic one, but a different draw ----

@kernel("dropout", covers=lambda xp, x, p, axes, seed: not axes and p < 1 and _covered(FLOAT_DTYPES, x))
def _dropout(k, xp, x, p, axes, seed):
    shape, dtype = x.shape, x.dtype

    def materialize():
        return k.dropout_forward(xp.ones(shape, dtype=dtype), p, seed, 0)
    return k.dropout_forward(x, p, seed, 0), PhiloxMask(x.shape, x.dtype, p, seed, materialize)


@kernel("dropout", "backward", covers=lambda ctx, g: isinstance(ctx.aux, PhiloxMask))
def _dropout_backward(k, ctx, g):
    mask = ctx.aux
    if _covered(FLOAT_DTYPES, ctx.inputs[0], g):
        return k.dropout_backward(g, mask.p, mask.seed, 0), None, None, None
    return g * mask.array(), None, None, None


# ---- layer norm and batch norm: ``normalize`` (y, mean, var) on the layer-norm kernels (last
# axis) and the batch-norm kernels (every axis but 1, float32); ``normalize_global`` on the
# batch-norm inference kernels. The backward recomputes the statistics with the forward kernel,
# as the generic one does. ----

def _channel_parameter(param, shape, dtype):
    """``param`` as the kernels' flat (C,) vector when it is None or shaped ``shape`` in ``dtype``;
    False when the kernel cannot take it."""
    if param is None:
        return None
    if not hasattr(param, "dtype") or param.dtype != dtype or param.shape != shape:
        return False
    return param.reshape(-1)


def _norm_layout(x, gamma, beta, axes):
    """('layer' or 'batch', C, flat gamma, flat beta), or None where no kernel applies."""
    if axes == (x.ndim - 1,) and _covered(FLOAT_DTYPES, x):
        kind, channel_axis = "layer", x.ndim - 1
    elif x.ndim >= 2 and axes == (0,) + tuple(range(2, x.ndim)) and _covered(("float32",), x):
        kind, channel_axis = "batch", 1
    else:
        return None
    channels = x.shape[channel_axis]
    shape = tuple(channels if i == channel_axis else 1 for i in range(x.ndim))
    flat_gamma = _channel_parameter(gamma, shape, x.dtype)
    flat_beta = _channel_parameter(beta, shape, x.dtype)
    if flat_gamma is False or flat_beta is False:
        return None
    return kind, channels, flat_gamma, flat_beta


def _statistics(k, xp, x, kind, channels, gamma, beta, eps):
    """y, mean and var (float32, flat) and inv_std from the forward kernel."""
    if kind == "layer":
        if gamma is None:
            gamma = xp.ones(channels, dtype=x.dtype)
        if beta is None:
            beta = xp.zeros(channels, dtype=x.dtype)
        y, mean, inv_std = k.layer_norm_forward(x, gamma, beta, eps=eps)
        return y, mean, 1 / (inv_std * inv_std) - numpy.float32(eps), inv_std
    # momentum 0 makes the kernel's running statistics the batch mean and biased variance.
    mean_out = xp.zeros(channels, dtype=numpy.float32)
    var_out = xp.zeros(channels, dtype=numpy.float32)
    y, mean, inv_std = k.batch_norm_forward(x, gamma, beta, mean_out, var_out, eps=eps, momentum=0.0,
                                            training=True)
    return y, mean_out, var_out, inv_std


@kernel("normalize", covers=lambda xp, x, gamma, beta, axes, eps, fix_gamma:
        _norm_layout(x, gamma, beta, axes) is not None)
def _normalize(k, xp, x, gamma, beta, axes, eps, fix_gamma):
    kind, channels, flat_gamma, flat_beta = _norm_layout(x, gamma, beta, axes)
    y, mean, var, _ = _statistics(k, xp, x, kind, channels, None if fix_gamma else flat_gamma,
                                  flat_beta, eps)
    stat_shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    return (y, mean.reshape(stat_shape).astype(x.dtype, copy=False),
            var.reshape(stat_shape).astype(x.dtype, copy=False))


def _normalize_backward_covers(ctx, gs):
    x, gamma, beta = ctx.inputs
    gy, gmean, gvar = gs
    return (gmean is None and gvar is None and _covered(FLOAT_DTYPES, x, gy)
            and _norm_layout(x, gamma, beta, ctx.params["axes"]) is not None)


@kernel("normalize", "backward", covers=_normalize_backward_covers)
def _normalize_backward(k, ctx, gs):
    x, gamma, beta = ctx.inputs
    gy = gs[0]
    params = ctx.params
    xp = ctx.xp
    kind, channels, flat_gamma, _ = _norm_layout(x, gamma, beta, params["axes"])
    if flat_gamma is None or params["fix_gamma"]:
        flat_gamma = xp.ones(channels, dtype=x.dtype)
    _, mean, _, inv_std = _statistics(k, xp, x, kind, channels, flat_gamma, None, params["eps"])
    if kind == "layer":
        gx, ggamma, gbeta = k.layer_norm_backward(gy, x, flat_gamma, mean, inv_std)
    else:
        gx, ggamma, gbeta = k.batch_norm_backward(gy, x, mean, inv_std, flat_gamma)
    return gx, _parameter_gradient(xp, ggamma, gamma, ctx.need[1], params["fix_gamma"]), \
        _parameter_gradient(xp, gbeta, beta, ctx.need[2], False)


def _global_layout(x, gamma, beta, mean, var):
    """Flat (gamma, beta, mean, var) for the batch-norm inference kernels, or None."""
    if x.ndim < 2 or not _covered(("float32",), x) or gamma is None or beta is None:
        return None
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    flat = [_channel_parameter(a, shape, x.dtype) for a in (gamma, beta, mean, var)]
    return None if any(a is False for a in flat) else flat


@kernel("normalize_global", covers=lambda xp, x, gamma, beta, mean, var, eps, fix_gamma:
        _global_layout(x, gamma, beta, mean, var) is not None)
def _normalize_global(k, xp, x, gamma, beta, mean, var, eps, fix_gamma):
    flat_gamma, flat_beta, flat_mean, flat_var = _global_layout(x, gamma, beta, mean, var)
    if fix_gamma:
        flat_gamma = xp.ones_like(flat_gamma)
    return k.batch_norm_forward(x, flat_gamma, flat_beta, flat_mean, flat_var, eps=eps, training=False)[0]


@kernel("normalize_global", "backward", covers=lambda ctx, g: _covered(FLOAT_DTYPES, ctx.inputs[0], g)
        and _global_layout(*ctx.inputs) is not None)
def _normalize_global_backward(k, ctx, g):
    x, gamma, beta, mean, var = ctx.inputs
    xp = ctx.xp
    params = ctx.params
    flat_gamma, _, flat_mean, flat_var = _global_layout(x, gamma, beta, mean, var)
    if params["fix_gamma"]:
        flat_gamma = xp.ones_like(flat_gamma)
    inv_std = (1 / xp.sqrt(flat_var + numpy.float32(params["eps"]))).astype(numpy.float32)
    gx, ggamma, gbeta = k.batch_norm_backward(g, x, flat_mean, inv_std, flat_gamma, use_global_stats=True)
    return (gx, _parameter_gradient(xp, ggamma, gamma, ctx.need[1], params["fix_gamma"]),
            _parameter_gradient(xp, gbeta, beta, ctx.need[2], False), None, None)


def _parameter_gradient(xp, flat_gradient, param, needed, zero):
    """A kernel's (C,) parameter gradient in the parameter's shape and dtype (None when the
    parameter is absent or not wanted; zeros for a fixed gamma, as the generic backward)."""
    if param is None or not needed:
        return None
    if zero:
        return xp.zeros_like(param)
    return flat_gradient.reshape(param.shape).astype(param.dtype, copy=False)


# ---- pooling (2-D, float32/float16/bfloat16, 'valid' windows). Max pooling keeps the generic aux (the
# maximum's flat index within its window, int8 or int64) so every consumer reads it alike; the
# kernels' index within the H*W plane is converted on the way in and out. ----

def _pool_window(x_shape, kernel_size, stride, pad, extra):
    """Whether the pooling kernels take this geometry: NCHW, a 2-D window, no 'full' extra,
    padding smaller than the window."""
    return (len(x_shape) == 4 and len(kernel_size) == 2 and not any(extra)
            and all(p < k for p, k in zip(pad, kernel_size)))


def _window_origins(xp, out, stride, pad):
    """Row and column of each output's window origin in the unpadded input: (OH, 1), (1, OW)."""
    rows = (xp.arange(out[0]) * stride[0] - pad[0]).reshape(-1, 1)
    cols = (xp.arange(out[1]) * stride[1] - pad[1]).reshape(1, -1)
    return rows, cols


@kernel("max_pool", covers=lambda xp, x, kernel, stride, pad, extra:
        _pool_window(x.shape, kernel, stride, pad, extra) and _covered(FLOAT_DTYPES, x))
def _max_pool(k, xp, x, kernel, stride, pad, extra):
    y, plane_index = k.max_pool2d_forward(x, kernel, stride, pad)
    rows, cols = _window_origins(xp, y.shape[2:], stride, pad)
    width = x.shape[3]
    window_index = (plane_index // width - rows) * kernel[1] + (plane_index % width - cols)
    index_type = numpy.int8 if kernel[0] * kernel[1] < 128 else numpy.int64
    return y, window_index.astype(index_type)


@kernel("max_pool_scatter", covers=lambda xp, g, arg, shape, kernel, stride, pad, extra:
        _pool_window(shape, kernel, stride, pad, extra) and _covered(FLOAT_DTYPES, g))
def _max_pool_scatter(k, xp, g, arg, shape, kernel, stride, pad, extra):
    rows, cols = _window_origins(xp, g.shape[2:], stride, pad)
    window_index = arg.astype(numpy.int32)
    plane_index = (rows + window_index // kernel[1]) * shape[3] + (cols + window_index % kernel[1])
    return k.max_pool2d_backward(g, plane_index.astype(numpy.int32), shape)


@kernel("avg_pool", covers=lambda xp, x, kernel, stride, pad, extra, mode, include_pad: mode == "avg"
        and _pool_window(x.shape, kernel, stride, pad, extra) and _covered(FLOAT_DTYPES, x))
def _avg_pool(k, xp, x, kernel, stride, pad, extra, mode, include_pad):
    return k.avg_pool2d_forward(x, kernel, stride, pad, count_include_pad=include_pad)


@kernel("avg_pool_spread", covers=lambda xp, g, shape, kernel, stride, pad, extra, mode, include_pad:
        mode == "avg" and _pool_window(shape, kernel, stride, pad, extra) and _covered(FLOAT_DTYPES, g))
def _avg_pool_spread(k, xp, g, shape, kernel, stride, pad, extra, mode, include_pad):
    return k.avg_pool2d_backward(g, shape, kernel, stride, pad, count_include_pad=include_pad)


# ---- convolution (2-D, NCHW): the three ops (forward, data gradient, weight gradient) on the
# (N, C*KH*KW, OH*OW) columns of im2col; each one's generic backward calls the other two, so
# gradients of every order use these forwards. Groups split the column rows, which run
# channel-major. ----

def _conv_covered(x, w, *others):
    return (x.ndim == 4 and w.ndim == 4 and x.size and w.size and x.dtype.name in CONV_DTYPES
            and _same_dtype(x.dtype, w, *others))


def _conv_out_size(size, kernel_size, stride, pad, dilate):
    return tuple((s + 2 * p - d * (k - 1) - 1) // t + 1
                 for s, k, t, p, d in zip(size, kernel_size, stride, pad, dilate))


@kernel("convolution", covers=lambda xp, x, w, b, stride, pad, dilate, groups: _conv_covered(x, w, b))
def _convolution(k, xp, x, w, b, stride, pad, dilate, groups):
    """The output, and no columns kept (aux): the weight gradient's kernel gathers its own."""
    n, filters = x.shape[0], w.shape[0]
    cols = k.im2col(x, w.shape[2:], stride, pad, dilate)
    cols = cols.reshape(n, groups, -1, cols.shape[-1])
    y = xp.matmul(w.reshape(groups, filters // groups, -1), cols)  # (N, G, F/G, OH*OW)
    y = y.reshape((n, filters) + _conv_out_size(x.shape[2:], w.shape[2:], stride, pad, dilate))
    if b is not None:
        y = y + b.reshape(1, filters, 1, 1)
    return y, None


@kernel("convolution_data_grad", covers=lambda xp, g, w, stride, pad, dilate, groups, size:
        _conv_covered(g, w) and _conv_out_size(size, w.shape[2:], stride, pad, dilate) == g.shape[2:])
def _convolution_data_grad(k, xp, g, w, stride, pad, dilate, groups, size):
    n, filters = g.shape[:2]
    channels = w.shape[1] * groups
    weights = w.reshape(groups, filters // groups, -1).transpose(0, 2, 1)
    cols = xp.matmul(weights, g.reshape(n, groups, filters // groups, -1))  # (N, G, C/G*K, P)
    return k.col2im(cols.reshape(n, -1, cols.shape[-1]), (n, channels) + tuple(size), w.shape[2:],
                    stride, pad, dilate)


@kernel("convolution_weight_grad",
        covers=lambda xp, x, g, stride, pad, dilate, groups, kernel, columns=None:
        _conv_covered(x, g) and len(kernel) == 2)
def _convolution_weight_grad(k, xp, x, g, stride, pad, dilate, groups, kernel, columns=None):
    """``columns`` (the generic forward's layout) are not used: the kernel gathers its own."""
    n, filters = g.shape[:2]
    cols = k.im2col(x, kernel, stride, pad, dilate)
    cols = cols.reshape(n, groups, -1, cols.shape[-1])
    grads = g.reshape(n, groups, filters // groups, -1)
    per_group = [xp.tensordot(grads[:, i], cols[:, i], axes=([0, 2], [0, 2])) for i in range(groups)]
    return xp.stack(per_group).reshape((filters, x.shape[1] // groups) + tuple(kernel))


# ---- embedding and pick gradients: the scatter-add helpers that the embedding and pick
# backwards call (indices arrive already clipped or wrapped into range, so the kernels' clip
# mode changes nothing) ----

@kernel("embedding_grad", covers=lambda xp, indices, dy, num_rows:
        dy.ndim == indices.ndim + 1 and _covered(CONV_DTYPES, dy))
def _embedding_grad(k, xp, indices, dy, num_rows):
    return k.embedding_backward(indices, dy, num_rows)


@kernel("pick_scatter", covers=lambda xp, g, index, shape, axis, keepdims: _covered(CONV_DTYPES, g))
def _pick_scatter(k, xp, g, index, shape, axis, keepdims):
    return k.pick_backward(index, g, shape, axis=axis)
