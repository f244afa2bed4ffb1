"""The hand-written kernels as the GPU implementations of the ops that have one.

``register_gpu_kernels()`` installs them with ``Op.register(GPU, ...)``. Every installed
function first checks that its kernel covers the call (dtype, axis, layout, options) and
otherwise runs the implementation the op had before, so results never depend on whether a
kernel exists. Outputs, gradients and aux keep the generic op's shapes, dtypes and meaning.

Some ops need no backward of their own: their generic backward calls a helper op through
``ctx.call`` (max pooling scatters with ``max_pool_scatter``, embedding with
``embedding_grad``, ...), and those helpers get kernel forwards here, which then serve the raw
backward and ``create_graph=True`` alike.

``kernel_implementations(run, generic)`` builds the functions without installing them:
``run(wrapper)`` returns a callable running a ``mxlite.cuda.ops`` wrapper (CuPy on the current
GPU in production, the CPU executor with numpy in tests) and ``generic(op)`` the fallback
``(forward, backward)`` pair. Importing this module does not import CuPy.
"""
import numpy

from ..backend import GPU
from ..ops import conv as _conv_ops
from ..ops import elemwise as _elemwise_ops
from ..ops import nn as _nn_ops
from ..ops import norm as _norm_ops
from . import ops

__all__ = ["register_gpu_kernels", "kernel_implementations", "current_gpu", "PhiloxMask"]

FLOAT_DTYPES = ("float32", "float16", "bfloat16")
CONV_DTYPES = ("float32", "float16")  # im2col/col2im, embedding and pick kernels


def current_gpu(wrapper):
    """``wrapper`` run with CuPy and its kernel file compiled for the GPU current at call time
    (op implementations run with their arrays' GPU current)."""
    import cupy

    from .loader import load_module

    stem = wrapper.kernel_file

    def call(*args, **kwargs):
        return wrapper(load_module(stem), cupy, *args, **kwargs)
    return call


_gpu_generic = {}  # op -> its GPU (forward, backward) before the first registration


def _gpu_original(op):
    return _gpu_generic.setdefault(op, (op.forward_impls[GPU], op.backward_impls[GPU]))


def register_gpu_kernels(run=current_gpu):
    """Install the kernel implementations for the GPU kind (idempotent: the fallbacks stay the
    implementations the ops had before the first call)."""
    for op, (forward, backward) in kernel_implementations(run, _gpu_original).items():
        op.register(GPU, forward=forward, backward=backward)


def _covered(dtypes, *arrays):
    """Whether non-empty arrays of one dtype among ``dtypes`` (the kernels' own) are given."""
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


def kernel_implementations(run, generic):
    """``{op: (forward or None, backward or None)}``: the kernel-backed implementations, each
    falling back to ``generic(op)`` for the calls its kernel does not cover."""
    impls = {}
    for build in (_activation_impls, _softmax_impls, _dropout_impls, _norm_impls, _pool_impls,
                  _conv_impls, _index_impls):
        impls.update(build(run, generic))
    return impls


# ---- activations ----

def _activation_impls(run, generic):
    forward_kernel = run(ops.activation_forward)
    backward_kernel = run(ops.activation_backward)
    impls = {}

    def unary(op, act):
        """relu, sigmoid and tanh: x -> act(x); the backward recomputes act'(x) from x."""
        fallback_forward, fallback_backward = generic(op)

        def forward(xp, x):
            if _covered(FLOAT_DTYPES, x):
                return forward_kernel(x, act)
            return fallback_forward(xp, x)

        def backward(ctx, g):
            x = ctx.inputs[0]
            if _covered(FLOAT_DTYPES, x, g):
                return (backward_kernel(g, x, act),)
            return fallback_backward(ctx, g)
        impls[op] = (forward, backward)

    unary(_nn_ops._relu, "relu")
    unary(_nn_ops._sigmoid, "sigmoid")
    unary(_elemwise_ops.tanh.op, "tanh")

    activation_kernels = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "silu": "silu"}
    activation_forward, activation_backward = generic(_nn_ops._activation)

    def forward_activation(xp, x, act_type):
        act = activation_kernels.get(act_type)
        if act is not None and _covered(FLOAT_DTYPES, x):
            return forward_kernel(x, act)
        return activation_forward(xp, x, act_type)

    def backward_activation(ctx, g):
        x = ctx.inputs[0]
        act = activation_kernels.get(ctx.params["act_type"])
        if act is not None and _covered(FLOAT_DTYPES, x, g):
            return (backward_kernel(g, x, act),)
        return activation_backward(ctx, g)
    impls[_nn_ops._activation] = (forward_activation, backward_activation)

    leaky_kernels = {"leaky": "leaky_relu", "gelu": "gelu", "gelu_tanh": "gelu_tanh"}
    leaky_forward, leaky_backward = generic(_nn_ops._leaky_relu)

    def forward_leaky(xp, x, gamma, act_type, slope):
        act = leaky_kernels.get(act_type)
        if act is not None and _covered(FLOAT_DTYPES, x):
            return forward_kernel(x, act, slope=slope)
        return leaky_forward(xp, x, gamma, act_type, slope)

    def backward_leaky(ctx, g):
        x = ctx.inputs[0]
        act = leaky_kernels.get(ctx.params["act_type"])
        if act is not None and _covered(FLOAT_DTYPES, x, g):
            return backward_kernel(g, x, act, slope=ctx.params["slope"]), None
        return leaky_backward(ctx, g)
    impls[_nn_ops._leaky_relu] = (forward_leaky, backward_leaky)
    return impls


# ---- softmax and log_softmax ----

def _softmax_impls(run, generic):
    forward_kernel = run(ops.softmax_forward)
    backward_kernel = run(ops.softmax_backward)

    def on_kernel(x, axis, temperature):
        """Last axis and temperature 1: the kernel's case."""
        return (x.ndim > 0 and axis % x.ndim == x.ndim - 1 and temperature in (None, 1)
                and _covered(FLOAT_DTYPES, x))

    def build(op, log):
        fallback_forward, fallback_backward = generic(op)

        def forward(xp, x, axis=-1, temperature=None):
            if on_kernel(x, axis, temperature):
                return forward_kernel(x, log=log)
            return fallback_forward(xp, x, axis=axis, temperature=temperature)

        def backward(ctx, g):
            y = ctx.out
            if on_kernel(y, ctx.params["axis"], ctx.params.get("temperature")) and _covered(FLOAT_DTYPES, y, g):
                return (backward_kernel(g, y, log=log),)
            return fallback_backward(ctx, g)
        return forward, backward

    return {_nn_ops._softmax: build(_nn_ops._softmax, False),
            _nn_ops._log_softmax: build(_nn_ops._log_softmax, True)}


# ---- dropout ----

def _dropout_impls(run, generic):
    """The mask comes from Philox keyed by the op's per-call seed (offset 0): reproducible under
    ``mx.np.random.seed`` like the generic one, but a different draw."""
    dropout_forward = run(ops.dropout_forward)
    dropout_backward = run(ops.dropout_backward)
    fallback_forward, fallback_backward = generic(_nn_ops._dropout)

    def forward(xp, x, p, axes, seed):
        if axes or p >= 1 or not _covered(FLOAT_DTYPES, x):
            return fallback_forward(xp, x, p, axes, seed)

        shape, dtype = x.shape, x.dtype

        def materialize():
            return dropout_forward(xp.ones(shape, dtype=dtype), p, seed, 0)
        return dropout_forward(x, p, seed, 0), PhiloxMask(x.shape, x.dtype, p, seed, materialize)

    def backward(ctx, g):
        mask = ctx.aux
        if not isinstance(mask, PhiloxMask):
            return fallback_backward(ctx, g)
        if _covered(FLOAT_DTYPES, ctx.inputs[0], g):
            return dropout_backward(g, mask.p, mask.seed, 0), None, None, None
        return g * mask.array(), None, None, None
    return {_nn_ops._dropout: (forward, backward)}


# ---- layer norm and batch norm ----

def _channel_parameter(param, shape, dtype):
    """``param`` as the kernels' flat (C,) vector when it is None or shaped ``shape`` in ``dtype``;
    False when the kernel cannot take it."""
    if param is None:
        return None
    if not hasattr(param, "dtype") or param.dtype != dtype or param.shape != shape:
        return False
    return param.reshape(-1)


def _norm_impls(run, generic):
    """``normalize`` (y, mean, var) on the layer-norm kernels (last axis) and the batch-norm
    kernels (every axis but 1, float32); ``normalize_global`` on the batch-norm inference kernels.
    The backward recomputes the statistics with the forward kernel, as the generic one does."""
    layer_forward = run(ops.layer_norm_forward)
    layer_backward = run(ops.layer_norm_backward)
    batch_forward = run(ops.batch_norm_forward)
    batch_backward = run(ops.batch_norm_backward)
    normalize_forward, normalize_backward = generic(_norm_ops._normalize)
    global_forward, global_backward = generic(_norm_ops._normalize_global)

    def layout(x, gamma, beta, axes):
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

    def statistics(xp, x, kind, channels, gamma, beta, eps):
        """y, mean and var (float32, flat) and inv_std from the forward kernel."""
        if kind == "layer":
            if gamma is None:
                gamma = xp.ones(channels, dtype=x.dtype)
            if beta is None:
                beta = xp.zeros(channels, dtype=x.dtype)
            y, mean, inv_std = layer_forward(x, gamma, beta, eps=eps)
            return y, mean, 1 / (inv_std * inv_std) - numpy.float32(eps), inv_std
        # momentum 0 makes the kernel's running statistics the batch mean and biased variance.
        mean_out = xp.zeros(channels, dtype=numpy.float32)
        var_out = xp.zeros(channels, dtype=numpy.float32)
        y, mean, inv_std = batch_forward(x, gamma, beta, mean_out, var_out, eps=eps, momentum=0.0,
                                         training=True)
        return y, mean_out, var_out, inv_std

    def forward_normalize(xp, x, gamma, beta, axes, eps, fix_gamma):
        found = layout(x, gamma, beta, axes)
        if found is None:
            return normalize_forward(xp, x, gamma, beta, axes, eps, fix_gamma)
        kind, channels, flat_gamma, flat_beta = found
        y, mean, var, _ = statistics(xp, x, kind, channels, None if fix_gamma else flat_gamma,
                                     flat_beta, eps)
        stat_shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
        return (y, mean.reshape(stat_shape).astype(x.dtype, copy=False),
                var.reshape(stat_shape).astype(x.dtype, copy=False))

    def backward_normalize(ctx, gs):
        x, gamma, beta = ctx.inputs
        gy, gmean, gvar = gs
        params = ctx.params
        found = layout(x, gamma, beta, params["axes"])
        if found is None or gmean is not None or gvar is not None or not _covered(FLOAT_DTYPES, x, gy):
            return normalize_backward(ctx, gs)
        xp = ctx.xp
        kind, channels, flat_gamma, _ = found
        if flat_gamma is None or params["fix_gamma"]:
            flat_gamma = xp.ones(channels, dtype=x.dtype)
        _, mean, _, inv_std = statistics(xp, x, kind, channels, flat_gamma, None, params["eps"])
        if kind == "layer":
            gx, ggamma, gbeta = layer_backward(gy, x, flat_gamma, mean, inv_std)
        else:
            gx, ggamma, gbeta = batch_backward(gy, x, mean, inv_std, flat_gamma)
        return gx, _parameter_gradient(xp, ggamma, gamma, ctx.need[1], params["fix_gamma"]), \
            _parameter_gradient(xp, gbeta, beta, ctx.need[2], False)

    def global_layout(x, gamma, beta, mean, var):
        """Flat (gamma, beta, mean, var) for the batch-norm inference kernels, or None."""
        if x.ndim < 2 or not _covered(("float32",), x) or gamma is None or beta is None:
            return None
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        flat = [_channel_parameter(a, shape, x.dtype) for a in (gamma, beta, mean, var)]
        return None if any(a is False for a in flat) else flat

    def forward_global(xp, x, gamma, beta, mean, var, eps, fix_gamma):
        flat = global_layout(x, gamma, beta, mean, var)
        if flat is None:
            return global_forward(xp, x, gamma, beta, mean, var, eps, fix_gamma)
        flat_gamma, flat_beta, flat_mean, flat_var = flat
        if fix_gamma:
            flat_gamma = xp.ones_like(flat_gamma)
        return batch_forward(x, flat_gamma, flat_beta, flat_mean, flat_var, eps=eps, training=False)[0]

    def backward_global(ctx, g):
        x, gamma, beta, mean, var = ctx.inputs
        flat = global_layout(x, gamma, beta, mean, var)
        if flat is None or not _covered(FLOAT_DTYPES, x, g):
            return global_backward(ctx, g)
        xp = ctx.xp
        params = ctx.params
        flat_gamma, _, flat_mean, flat_var = flat
        if params["fix_gamma"]:
            flat_gamma = xp.ones_like(flat_gamma)
        inv_std = (1 / xp.sqrt(flat_var + numpy.float32(params["eps"]))).astype(numpy.float32)
        gx, ggamma, gbeta = batch_backward(g, x, flat_mean, inv_std, flat_gamma, use_global_stats=True)
        return (gx, _parameter_gradient(xp, ggamma, gamma, ctx.need[1], params["fix_gamma"]),
                _parameter_gradient(xp, gbeta, beta, ctx.need[2], False), None, None)

    return {_norm_ops._normalize: (forward_normalize, backward_normalize),
            _norm_ops._normalize_global: (forward_global, backward_global)}


def _parameter_gradient(xp, flat_gradient, param, needed, zero):
    """A kernel's (C,) parameter gradient in the parameter's shape and dtype (None when the
    parameter is absent or not wanted; zeros for a fixed gamma, as the generic backward)."""
    if param is None or not needed:
        return None
    if zero:
        return xp.zeros_like(param)
    return flat_gradient.reshape(param.shape).astype(param.dtype, copy=False)


# ---- pooling (2-D, float32, 'valid' windows) ----

def _pool_window(x_shape, kernel, stride, pad, extra):
    """Whether the pooling kernels take this geometry: NCHW, a 2-D window, no 'full' extra,
    padding smaller than the window."""
    return (len(x_shape) == 4 and len(kernel) == 2 and not any(extra)
            and all(p < k for p, k in zip(pad, kernel)))


def _window_origins(xp, out, stride, pad):
    """Row and column of each output's window origin in the unpadded input: (OH, 1), (1, OW)."""
    rows = (xp.arange(out[0]) * stride[0] - pad[0]).reshape(-1, 1)
    cols = (xp.arange(out[1]) * stride[1] - pad[1]).reshape(1, -1)
    return rows, cols


def _pool_impls(run, generic):
    """Max pooling keeps the generic aux (the maximum's flat index within its window, int8 or
    int64) so every consumer reads it alike; the kernels' index within the H*W plane is
    converted on the way in and out."""
    max_forward = run(ops.max_pool2d_forward)
    max_backward = run(ops.max_pool2d_backward)
    avg_forward = run(ops.avg_pool2d_forward)
    avg_backward = run(ops.avg_pool2d_backward)
    max_fallback, _ = generic(_conv_ops._max_pool)
    scatter_fallback, _ = generic(_conv_ops._max_pool_scatter)
    avg_fallback, _ = generic(_conv_ops._avg_pool)
    spread_fallback, _ = generic(_conv_ops._avg_pool_spread)

    def forward_max(xp, x, kernel, stride, pad, extra):
        if not (_pool_window(x.shape, kernel, stride, pad, extra) and _covered(("float32",), x)):
            return max_fallback(xp, x, kernel, stride, pad, extra)
        y, plane_index = max_forward(x, kernel, stride, pad)
        rows, cols = _window_origins(xp, y.shape[2:], stride, pad)
        width = x.shape[3]
        window_index = (plane_index // width - rows) * kernel[1] + (plane_index % width - cols)
        index_type = numpy.int8 if kernel[0] * kernel[1] < 128 else numpy.int64
        return y, window_index.astype(index_type)

    def forward_scatter(xp, g, arg, shape, kernel, stride, pad, extra):
        if not (_pool_window(shape, kernel, stride, pad, extra) and _covered(("float32",), g)):
            return scatter_fallback(xp, g, arg, shape, kernel, stride, pad, extra)
        rows, cols = _window_origins(xp, g.shape[2:], stride, pad)
        window_index = arg.astype(numpy.int32)
        plane_index = (rows + window_index // kernel[1]) * shape[3] + (cols + window_index % kernel[1])
        return max_backward(g, plane_index.astype(numpy.int32), shape)

    def forward_avg(xp, x, kernel, stride, pad, extra, mode, include_pad):
        if mode != "avg" or not (_pool_window(x.shape, kernel, stride, pad, extra) and _covered(("float32",), x)):
            return avg_fallback(xp, x, kernel, stride, pad, extra, mode, include_pad)
        return avg_forward(x, kernel, stride, pad, count_include_pad=include_pad)

    def forward_spread(xp, g, shape, kernel, stride, pad, extra, mode, include_pad):
        if mode != "avg" or not (_pool_window(shape, kernel, stride, pad, extra) and _covered(("float32",), g)):
            return spread_fallback(xp, g, shape, kernel, stride, pad, extra, mode, include_pad)
        return avg_backward(g, shape, kernel, stride, pad, count_include_pad=include_pad)

    return {_conv_ops._max_pool: (forward_max, None),
            _conv_ops._max_pool_scatter: (forward_scatter, None),
            _conv_ops._avg_pool: (forward_avg, None),
            _conv_ops._avg_pool_spread: (forward_spread, None)}


# ---- convolution (2-D, NCHW): im2col / col2im around batched matmuls ----

def _conv_impls(run, generic):
    """The three convolution ops (forward, data gradient, weight gradient) on the (N, C*KH*KW,
    OH*OW) columns of ``im2col``; each one's generic backward calls the other two, so gradients
    of every order use these forwards. Groups split the column rows, which run channel-major."""
    im2col = run(ops.im2col)
    col2im = run(ops.col2im)
    conv_fallback, _ = generic(_conv_ops._conv)
    data_grad_fallback, _ = generic(_conv_ops._conv_data_grad)
    weight_grad_fallback, _ = generic(_conv_ops._conv_weight_grad)

    def covered(x, w, *others):
        return (x.ndim == 4 and w.ndim == 4 and x.size and w.size and x.dtype.name in CONV_DTYPES
                and _same_dtype(x.dtype, w, *others))

    def out_size(size, kernel, stride, pad, dilate):
        return tuple((s + 2 * p - d * (k - 1) - 1) // t + 1
                     for s, k, t, p, d in zip(size, kernel, stride, pad, dilate))

    def forward_conv(xp, x, w, b, stride, pad, dilate, groups):
        if not covered(x, w, b):
            return conv_fallback(xp, x, w, b, stride, pad, dilate, groups)
        n, filters = x.shape[0], w.shape[0]
        cols = im2col(x, w.shape[2:], stride, pad, dilate)
        cols = cols.reshape(n, groups, -1, cols.shape[-1])
        y = xp.matmul(w.reshape(groups, filters // groups, -1), cols)  # (N, G, F/G, OH*OW)
        y = y.reshape((n, filters) + out_size(x.shape[2:], w.shape[2:], stride, pad, dilate))
        if b is not None:
            y = y + b.reshape(1, filters, 1, 1)
        return y

    def forward_data_grad(xp, g, w, stride, pad, dilate, groups, size):
        if not covered(g, w) or out_size(size, w.shape[2:], stride, pad, dilate) != g.shape[2:]:
            return data_grad_fallback(xp, g, w, stride, pad, dilate, groups, size)
        n, filters = g.shape[:2]
        channels = w.shape[1] * groups
        weights = w.reshape(groups, filters // groups, -1).transpose(0, 2, 1)
        cols = xp.matmul(weights, g.reshape(n, groups, filters // groups, -1))  # (N, G, C/G*K, P)
        return col2im(cols.reshape(n, -1, cols.shape[-1]), (n, channels) + tuple(size), w.shape[2:],
                      stride, pad, dilate)

    def forward_weight_grad(xp, x, g, stride, pad, dilate, groups, kernel):
        if not covered(x, g) or len(kernel) != 2:
            return weight_grad_fallback(xp, x, g, stride, pad, dilate, groups, kernel)
        n, filters = g.shape[:2]
        cols = im2col(x, kernel, stride, pad, dilate)
        cols = cols.reshape(n, groups, -1, cols.shape[-1])
        grads = g.reshape(n, groups, filters // groups, -1)
        per_group = [xp.tensordot(grads[:, i], cols[:, i], axes=([0, 2], [0, 2])) for i in range(groups)]
        return xp.stack(per_group).reshape((filters, x.shape[1] // groups) + tuple(kernel))

    return {_conv_ops._conv: (forward_conv, None),
            _conv_ops._conv_data_grad: (forward_data_grad, None),
            _conv_ops._conv_weight_grad: (forward_weight_grad, None)}


# ---- embedding and pick gradients ----

def _index_impls(run, generic):
    """The scatter-add helpers that the embedding and pick backwards call (indices arrive
    already clipped or wrapped into range, so the kernels' clip mode changes nothing)."""
    embedding_backward = run(ops.embedding_backward)
    pick_backward = run(ops.pick_backward)
    embedding_fallback, _ = generic(_nn_ops._embedding_grad)
    pick_fallback, _ = generic(_nn_ops._pick_scatter)

    def forward_embedding_grad(xp, indices, dy, num_rows):
        if dy.ndim != indices.ndim + 1 or not _covered(CONV_DTYPES, dy):
            return embedding_fallback(xp, indices, dy, num_rows)
        return embedding_backward(indices, dy, num_rows)

    def forward_pick_scatter(xp, g, index, shape, axis, keepdims):
        if not _covered(CONV_DTYPES, g):
            return pick_fallback(xp, g, index, shape, axis, keepdims)
        return pick_backward(index, g, shape, axis=axis)

    return {_nn_ops._embedding_grad: (forward_embedding_grad, None),
            _nn_ops._pick_scatter: (forward_pick_scatter, None)}
