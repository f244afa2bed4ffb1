"""Host wrappers for the kernels in kernels/*.cu.

Every wrapper is written once against a pair ``(k, xp)``: ``k`` is the compiled module of the
wrapper's kernel file (``k.get_function(name)`` returns a launchable called as
``kernel(grid, block, args, shared_mem=0)``) and ``xp`` is the array module that owns the arrays.
On a GPU that is ``(mxlite.cuda.loader.load_module(stem), cupy)``; in CPU tests it is
``(mxlite.testing.cudasim.Module(path, ...), numpy)``. ``fn.kernel_file`` names the file stem a
wrapper needs; ``mxlite.cuda.bind`` pairs a wrapper with its module.

Each wrapper's docstring gives its dtypes and what it returns (f32 = float32, f16 = float16,
bf16 = bfloat16 where the array module has it); kernels/README.md gives each kernel's launch
shape and the bytes it moves.
"""
import math

import numpy

from . import loader
from .philox import keep_threshold

BLOCK = 256
MAX_BLOCKS = 8192  # grid-stride kernels loop beyond this
OPTIMIZER_CHUNK = 1 << 16

ACTIVATIONS = loader.enum_values("activation", "Activation")  # the codes of kernels/activation.cu
_TYPE_NAMES = {"float32": "float", "float16": "__half", "bfloat16": "__nv_bfloat16"}
_FLOATING = ("float32", "float16", "bfloat16")


def _uses(stem):
    """Records which kernels/<stem>.cu a wrapper launches from (read by mxlite.cuda.bind)."""
    def mark(fn):
        fn.kernel_file = stem
        return fn
    return mark


def device_pointer(a):
    """Address of an array's data as the kernel sees it: ``a.ctypes.data`` on numpy, ``a.data.ptr`` on CuPy."""
    if isinstance(a, numpy.ndarray):
        return a.ctypes.data
    return a.data.ptr


def _template(name, dtype, allowed=_FLOATING):
    dtype_name = numpy.dtype(dtype).name
    if dtype_name not in allowed:
        raise TypeError(f"{name} supports dtypes {', '.join(allowed)}; got {dtype_name}")
    return f"{name}<{_TYPE_NAMES[dtype_name]}>"


def _require_float32(name, *arrays):
    for a in arrays:
        if a is not None and a.dtype != numpy.float32:
            raise TypeError(f"{name} supports float32 only; got {a.dtype}")


def _grid(n):
    return (max(1, min(-(-n // BLOCK), MAX_BLOCKS)),)


def _row_block(length):
    """Threads for a block that reduces one row: a multiple of 32, at most 512."""
    return (min(512, max(32, -(-length // 32) * 32)),)


def _aligned(arrays, alignment):
    return all(device_pointer(a) % alignment == 0 for a in arrays)


def _pair(value, what):
    pair = (int(value),) * 2 if isinstance(value, (int, numpy.integer)) else tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return pair


def conv_output_size(size, kernel, stride, pad, dilate=1):
    """Output length along one axis (MXNet's 'valid' convention)."""
    out = (size + 2 * pad - dilate * (kernel - 1) - 1) // stride + 1
    if out <= 0:
        raise ValueError(f"window {kernel} (dilation {dilate}) does not fit input {size} with padding {pad}")
    return out


# ---- activations ----

def _activation_code(act):
    try:
        return ACTIVATIONS[act]
    except KeyError:
        raise ValueError(f"unknown activation {act!r}; expected one of {', '.join(ACTIVATIONS)}") from None


def _packs(arrays, itemsize, size):
    """How many 16-byte packs the activation kernels may load as vectors (0 unless aligned)."""
    return size // (16 // itemsize) if _aligned(arrays, 16) else 0


@_uses("activation")
def activation_forward(k, xp, x, act, slope=0.25):
    """y = act(x), act one of ACTIVATIONS (slope: leaky_relu's); f32/f16/bf16."""
    x = xp.ascontiguousarray(x)
    y = xp.empty_like(x)
    packs = _packs((x, y), x.itemsize, x.size)
    k.get_function(_template("activation_forward", x.dtype))(
        _grid(max(packs, x.size - packs * (16 // x.itemsize))), (BLOCK,),
        (x, y, numpy.int64(x.size), numpy.int64(packs), numpy.int32(_activation_code(act)),
         numpy.float32(slope)))
    return y


@_uses("activation")
def activation_backward(k, xp, dy, x, act, slope=0.25):
    """dx = dy * act'(x), recomputed from the forward's input x."""
    dy, x = xp.ascontiguousarray(dy), xp.ascontiguousarray(x)
    if dy.shape != x.shape or dy.dtype != x.dtype:
        raise ValueError(f"dy {dy.shape} {dy.dtype} and x {x.shape} {x.dtype} must match")
    dx = xp.empty_like(dy)
    packs = _packs((dy, x, dx), dy.itemsize, dy.size)
    k.get_function(_template("activation_backward", dy.dtype))(
        _grid(max(packs, dy.size - packs * (16 // dy.itemsize))), (BLOCK,),
        (dy, x, dx, numpy.int64(dy.size), numpy.int64(packs), numpy.int32(_activation_code(act)),
         numpy.float32(slope)))
    return dx


# ---- softmax family (last axis) ----

WARP_ROW_MAX = 256  # rows up to this long get one warp each, 8 rows per block


def _row_launch(rows, cols):
    """Grid and block for the softmax kernels: a warp per short row, a block per long row."""
    if cols <= WARP_ROW_MAX:
        return (-(-rows // 8),), (32, 8)
    return (rows,), _row_block(cols)


def _rows(x):
    if x.ndim == 0:
        raise ValueError("softmax needs at least one axis")
    cols = x.shape[-1]
    return (x.size // cols if cols else 0), cols


@_uses("softmax")
def softmax_forward(k, xp, x, log=False):
    """softmax (log_softmax with ``log``) over the last axis; f32/f16/bf16."""
    x = xp.ascontiguousarray(x)
    y = xp.empty_like(x)
    rows, cols = _rows(x)
    if rows:
        k.get_function(_template("softmax_forward", x.dtype))(
            *_row_launch(rows, cols), (x, y, numpy.int64(rows), numpy.int32(cols), numpy.int32(bool(log))))
    return y


@_uses("softmax")
def softmax_backward(k, xp, dy, y, log=False):
    """dx from dy and the forward's output y (log: y is log_softmax)."""
    dy, y = xp.ascontiguousarray(dy), xp.ascontiguousarray(y)
    if dy.shape != y.shape or dy.dtype != y.dtype:
        raise ValueError(f"dy {dy.shape} {dy.dtype} and y {y.shape} {y.dtype} must match")
    dx = xp.empty_like(dy)
    rows, cols = _rows(dy)
    if rows:
        k.get_function(_template("softmax_backward", dy.dtype))(
            *_row_launch(rows, cols), (dy, y, dx, numpy.int64(rows), numpy.int32(cols), numpy.int32(bool(log))))
    return dx


@_uses("softmax")
def softmax_cross_entropy(k, xp, logits, labels):
    """(loss, dlogits) for sparse labels (class indices, clipped into range): loss has
    logits.shape[:-1], dlogits = softmax - onehot (the gradient for a unit head gradient)."""
    logits = xp.ascontiguousarray(logits)
    rows, cols = _rows(logits)
    if tuple(labels.shape) != logits.shape[:-1]:
        raise ValueError(f"labels must have shape {logits.shape[:-1]} (sparse labels); got {labels.shape}")
    labels = xp.ascontiguousarray(labels.astype(numpy.int32))
    loss = xp.empty(logits.shape[:-1], dtype=logits.dtype)
    dlogits = xp.empty_like(logits)
    if rows:
        k.get_function(_template("softmax_cross_entropy", logits.dtype))(
            *_row_launch(rows, cols), (logits, labels, loss, dlogits, numpy.int64(rows), numpy.int32(cols)))
    return loss, dlogits


# ---- dropout ----

def _dropout(k, xp, x, p, seed, offset):
    x = xp.ascontiguousarray(x)
    threshold = keep_threshold(p)
    y = xp.empty_like(x)
    vectorized = _aligned((x, y), 4 * x.itemsize)
    k.get_function(_template("dropout", x.dtype))(
        _grid(-(-x.size // 4)), (BLOCK,),
        (x, y, numpy.int64(x.size), numpy.uint64(seed), numpy.uint64(offset), threshold,
         numpy.float32(1.0 / (1.0 - p)), numpy.int32(vectorized)))
    return y


@_uses("dropout")
def dropout_forward(k, xp, x, p, seed, offset):
    """x masked by Philox 4x32-10 keyed by (seed, offset), kept values scaled by 1/(1-p);
    mxlite.cuda.philox reproduces the mask. f32/f16/bf16."""
    return _dropout(k, xp, x, p, seed, offset)


@_uses("dropout")
def dropout_backward(k, xp, dy, p, seed, offset):
    """Same kernel and (seed, offset) as the forward: the mask is regenerated, not stored."""
    return _dropout(k, xp, dy, p, seed, offset)


# ---- batch norm (axis 1) and layer norm (last axis) ----

def _batch_layout(x):
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs (N, C, ...) input, got shape {x.shape}")
    return x.shape[0], x.shape[1], math.prod(x.shape[2:])


def _channel_reduce_launch(count):
    """Block and number of splits per channel for the batch-norm reductions over `count` elements."""
    block = _row_block(count)
    return block, min(64, max(1, count // (4 * block[0])))


def _plane_launch(planes, positions):
    """Grid and block of the 2-D kernels: blockIdx.y strides over planes, x-threads over a plane's positions."""
    block = _row_block(positions)
    return (max(1, min(-(-positions // block[0]), 64)), max(1, min(planes, 65535))), block


@_uses("norm")
def batch_norm_forward(k, xp, x, gamma, beta, running_mean=None, running_var=None, eps=1e-5,
                       momentum=0.9, training=True):
    """(y, mean, inv_std) over every axis but 1 of (N, C, ...) f32 input; training updates
    running_mean/running_var in place (when given) with the biased variance, inference uses them."""
    _require_float32("batch_norm", x, gamma, beta, running_mean, running_var)
    x = xp.ascontiguousarray(x)
    batch, channels, inner = _batch_layout(x)
    if training:
        mean = xp.empty(channels, dtype=numpy.float32)
        inv_std = xp.empty(channels, dtype=numpy.float32)
        if (running_mean is None) != (running_var is None):
            raise ValueError("pass both running_mean and running_var, or neither")
        if running_mean is None:  # the kernel always updates running stats: give it scratch
            running_mean = xp.zeros(channels, dtype=numpy.float32)
            running_var = xp.ones(channels, dtype=numpy.float32)
        block, splits = _channel_reduce_launch(batch * inner)
        partials = xp.empty(3 * channels * splits, dtype=numpy.float32)
        k.get_function("batch_norm_partial_stats")(
            (channels, splits), block, (x, partials, numpy.int32(batch), numpy.int32(channels), numpy.int32(inner)))
        k.get_function("batch_norm_finalize_stats")(
            _grid(channels), (BLOCK,),
            (partials, mean, inv_std, running_mean, running_var, numpy.int32(channels), numpy.int32(splits),
             numpy.float32(eps), numpy.float32(momentum)))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm inference needs running_mean and running_var")
        mean = xp.ascontiguousarray(running_mean)
        inv_std = (1.0 / xp.sqrt(running_var + numpy.float32(eps))).astype(numpy.float32)
    y = xp.empty_like(x)
    gamma = xp.ones(channels, dtype=numpy.float32) if gamma is None else gamma
    beta = xp.zeros(channels, dtype=numpy.float32) if beta is None else beta
    if x.size:
        k.get_function("batch_norm_apply")(
            *_plane_launch(batch * channels, inner),
            (x, mean, inv_std, gamma, beta, y, numpy.int64(batch * channels), numpy.int32(channels),
             numpy.int32(inner)))
    return y, mean, inv_std


@_uses("norm")
def batch_norm_backward(k, xp, dy, x, mean, inv_std, gamma, use_global_stats=False):
    """(dx, dgamma, dbeta); ``use_global_stats``: dx = gamma * inv_std * dy."""
    _require_float32("batch_norm", dy, x, mean, inv_std, gamma)
    dy, x = xp.ascontiguousarray(dy), xp.ascontiguousarray(x)
    batch, channels, inner = _batch_layout(x)
    dgamma = xp.empty(channels, dtype=numpy.float32)
    dbeta = xp.empty(channels, dtype=numpy.float32)
    block, splits = _channel_reduce_launch(batch * inner)
    partials = xp.empty(2 * channels * splits, dtype=numpy.float32)
    k.get_function("batch_norm_backward_partial")(
        (channels, splits), block,
        (dy, x, mean, inv_std, partials, numpy.int32(batch), numpy.int32(channels), numpy.int32(inner)))
    k.get_function("batch_norm_backward_finalize")(
        _grid(channels), (BLOCK,), (partials, dgamma, dbeta, numpy.int32(channels), numpy.int32(splits)))
    dx = xp.empty_like(x)
    gamma = xp.ones(channels, dtype=numpy.float32) if gamma is None else gamma
    if x.size:
        k.get_function("batch_norm_backward_apply")(
            *_plane_launch(batch * channels, inner),
            (dy, x, mean, inv_std, gamma, dgamma, dbeta, dx, numpy.int64(batch * channels),
             numpy.int32(channels), numpy.int32(inner), numpy.int32(bool(use_global_stats))))
    return dx, dgamma, dbeta


@_uses("norm")
def layer_norm_forward(k, xp, x, gamma, beta, eps=1e-5):
    """(y, mean, inv_std) over the last axis, mean and inv_std float32; f32/f16/bf16."""
    x = xp.ascontiguousarray(x)
    rows, cols = _rows(x)
    gamma, beta = xp.ascontiguousarray(gamma), xp.ascontiguousarray(beta)
    if gamma.shape != (cols,) or beta.shape != (cols,) or gamma.dtype != x.dtype or beta.dtype != x.dtype:
        raise ValueError(f"gamma and beta must have shape ({cols},) and dtype {x.dtype}")
    y = xp.empty_like(x)
    mean = xp.empty(x.shape[:-1], dtype=numpy.float32)
    inv_std = xp.empty(x.shape[:-1], dtype=numpy.float32)
    if rows:
        k.get_function(_template("layer_norm_forward", x.dtype))(
            (rows,), _row_block(cols), (x, gamma, beta, y, mean, inv_std, numpy.int32(cols), numpy.float32(eps)))
    return y, mean, inv_std


@_uses("norm")
def layer_norm_backward(k, xp, dy, x, gamma, mean, inv_std):
    """(dx, dgamma, dbeta) from the forward's mean and inv_std."""
    dy, x, gamma = xp.ascontiguousarray(dy), xp.ascontiguousarray(x), xp.ascontiguousarray(gamma)
    rows, cols = _rows(x)
    dx = xp.empty_like(x)
    dgamma = xp.zeros(cols, dtype=numpy.float32)
    dbeta = xp.zeros(cols, dtype=numpy.float32)
    if rows:
        k.get_function(_template("layer_norm_backward", x.dtype))(
            (rows,), _row_block(cols), (dy, x, gamma, mean, inv_std, dx, numpy.int32(cols)))
        row_groups = min(-(-rows // 8), 128)
        k.get_function(_template("layer_norm_backward_params", x.dtype))(
            (-(-cols // 32), row_groups), (32, 8),
            (dy, x, mean, inv_std, dgamma, dbeta, numpy.int32(rows), numpy.int32(cols)))
    return dx, dgamma.astype(gamma.dtype), dbeta.astype(gamma.dtype)


# ---- fused optimizers (multi-tensor apply) ----

def _per_tensor(value, count, what):
    values = list(value) if isinstance(value, (list, tuple)) else [value] * count
    if len(values) != count:
        raise ValueError(f"{what}: expected one value or {count}, got {len(values)}")
    return values


def _addresses(arrays):
    return numpy.array([device_pointer(a) for a in arrays], dtype=numpy.uint64)


def upload_tables(xp, host_arrays):
    """Copy small 1-d host arrays (pointer tables, sizes, per-tensor rates) to the device in
    one transfer: one packed buffer, 8-byte aligned entries, returned as typed views in order.
    A multi-tensor launch would otherwise pay one host-to-device copy per table."""
    offsets, total = [], 0
    for a in host_arrays:
        offsets.append(total)
        total += -(-a.nbytes // 8) * 8
    packed = numpy.zeros(max(total, 8), dtype=numpy.uint8)
    for a, offset in zip(host_arrays, offsets):
        packed[offset:offset + a.nbytes] = numpy.ascontiguousarray(a).view(numpy.uint8)
    device = xp.asarray(packed)
    return [device[offset:offset + a.nbytes].view(a.dtype) for a, offset in zip(host_arrays, offsets)]


def _chunk_map(arrays, chunk_size):
    """(blocks, [sizes, block_tensor, block_chunk]) of a multi-tensor launch on the host: one
    block per chunk of ``chunk_size`` elements of every array."""
    sizes = numpy.array([a.size for a in arrays], dtype=numpy.int64)
    chunks = -(-sizes // chunk_size)
    block_tensor = numpy.repeat(numpy.arange(len(arrays), dtype=numpy.int32), chunks)
    block_chunk = numpy.concatenate(
        [numpy.arange(c, dtype=numpy.int32) for c in chunks] + [numpy.zeros(0, numpy.int32)])
    return int(chunks.sum()), [sizes, block_tensor, block_chunk]


class _TensorList:
    """Pointer tables, sizes, the block -> (tensor, chunk) map and the per-tensor float values
    (``floats``: lists, one value per tensor) of one multi-tensor launch, uploaded together."""

    def __init__(self, xp, weights, grads, states, master_weights, chunk_size, floats=()):
        count = len(weights)
        if len(grads) != count or any(s is not None and len(s) != count for s in states):
            raise ValueError("weights, gradients and optimizer states must be lists of equal length")
        dtypes = {w.dtype for w in weights}
        if len(dtypes) != 1:
            raise TypeError(f"one launch updates one weight dtype; got {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop()
        if self.dtype.itemsize == 2 and master_weights is None:
            raise ValueError(f"{self.dtype} weights need float32 master_weights")
        if self.dtype == numpy.float32 and master_weights is not None:
            raise ValueError("master_weights are for 16-bit (float16, bfloat16) weights only")
        for i, (w, g) in enumerate(zip(weights, grads)):
            if g.shape != w.shape or g.dtype != w.dtype:
                raise ValueError(f"gradient {i} is {g.shape} {g.dtype}; its weight is {w.shape} {w.dtype}")
            float32_states = [s[i] for s in states if s is not None]
            if master_weights is not None:
                float32_states.append(master_weights[i])
            for a in [w, g] + float32_states:
                if not a.flags.c_contiguous:
                    raise ValueError(f"tensor {i}: fused updates run in place and need C-contiguous arrays")
            for s in float32_states:
                if s.shape != w.shape or s.dtype != numpy.float32:
                    raise ValueError(f"tensor {i}: states and master weights must be float32 of shape {w.shape}")
        # Kernels take no null pointers: a missing table aliases the weights' (and is not read).
        tables = [weights, grads] + [s for s in states if s is not None]
        if master_weights is not None:
            tables.append(master_weights)
        self.blocks, chunk_tables = _chunk_map(weights, chunk_size)
        host = ([_addresses(t) for t in tables] + chunk_tables
                + [numpy.asarray(v, dtype=numpy.float32) for v in floats])
        on_device = upload_tables(xp, host)
        self.weights, self.grads = on_device[0], on_device[1]
        rest = iter(on_device[2:len(tables)])
        self.states = [self.weights if s is None else next(rest) for s in states]
        self.masters = self.weights if master_weights is None else next(rest)
        self.sizes, self.block_tensor, self.block_chunk = on_device[len(tables):len(tables) + 3]
        self.floats = on_device[len(tables) + 3:]
        self.chunk_size = numpy.int64(chunk_size)


def _clip(clip_gradient):
    return numpy.float32(-1.0 if clip_gradient is None else clip_gradient)


@_uses("optimizer")
def sgd_momentum_update(k, xp, weights, grads, moms, lr, momentum=0.0, wd=0.0, rescale_grad=1.0,
                        clip_gradient=None, master_weights=None, chunk_size=OPTIMIZER_CHUNK):
    """SGD, MXNet 2.x convention: mom = momentum*mom - lr*g; w += mom. moms=None: plain SGD."""
    if moms is None and momentum != 0.0:
        raise ValueError("momentum != 0 needs momentum states (moms)")
    if not weights:
        return
    count = len(weights)
    if not any(w.size for w in weights):  # every tensor is empty
        return
    tensors = _TensorList(xp, weights, grads, [moms], master_weights, chunk_size,
                          floats=(_per_tensor(lr, count, "lr"), _per_tensor(wd, count, "wd")))
    lrs, wds = tensors.floats
    k.get_function(_template("sgd_multi_update", tensors.dtype))(
        (tensors.blocks,), (BLOCK,),
        (tensors.weights, tensors.grads, tensors.states[0], tensors.masters, tensors.sizes, lrs, wds,
         tensors.block_tensor, tensors.block_chunk, tensors.chunk_size, numpy.int32(moms is not None),
         numpy.float32(momentum),
         numpy.float32(rescale_grad), _clip(clip_gradient)))


def _adam(k, xp, weights, grads, means, variances, lr, t, beta1, beta2, epsilon, wd, rescale_grad,
          clip_gradient, master_weights, chunk_size, decoupled):
    if not weights:
        return
    count = len(weights)
    if not any(w.size for w in weights):
        return
    lr_list = _per_tensor(lr, count, "lr")
    steps = [l * math.sqrt(1.0 - beta2 ** s) / (1.0 - beta1 ** s)
             for l, s in zip(lr_list, _per_tensor(t, count, "t"))]
    tensors = _TensorList(xp, weights, grads, [means, variances], master_weights, chunk_size,
                          floats=(lr_list, _per_tensor(wd, count, "wd"), steps))
    lrs, wds, lr_steps = tensors.floats
    k.get_function(_template("adam_multi_update", tensors.dtype))(
        (tensors.blocks,), (BLOCK,),
        (tensors.weights, tensors.grads, tensors.states[0], tensors.states[1], tensors.masters, tensors.sizes,
         lrs, wds, lr_steps,
         tensors.block_tensor, tensors.block_chunk, tensors.chunk_size, numpy.float32(beta1),
         numpy.float32(beta2), numpy.float32(epsilon), numpy.float32(rescale_grad), _clip(clip_gradient),
         numpy.int32(decoupled)))


@_uses("optimizer")
def adam_update(k, xp, weights, grads, means, variances, lr, t, beta1=0.9, beta2=0.999, epsilon=1e-8,
                wd=0.0, rescale_grad=1.0, clip_gradient=None, master_weights=None, chunk_size=OPTIMIZER_CHUNK):
    """MXNet Adam; t is the update count (from 1) giving lr_t = lr*sqrt(1-beta2^t)/(1-beta1^t)."""
    _adam(k, xp, weights, grads, means, variances, lr, t, beta1, beta2, epsilon, wd, rescale_grad,
          clip_gradient, master_weights, chunk_size, decoupled=False)


@_uses("optimizer")
def adamw_update(k, xp, weights, grads, means, variances, lr, t, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 wd=0.0, rescale_grad=1.0, clip_gradient=None, master_weights=None, chunk_size=OPTIMIZER_CHUNK):
    """AdamW, decoupled decay: w -= lr_t*m/(sqrt(v)+eps) + lr*wd*w; the gradient has no wd term."""
    _adam(k, xp, weights, grads, means, variances, lr, t, beta1, beta2, epsilon, wd, rescale_grad,
          clip_gradient, master_weights, chunk_size, decoupled=True)


# ---- mixed precision ----

_FINITE_KINDS = {"float32": 0, "float16": 1, "bfloat16": 2}  # the storage codes of kernels/amp.cu


@_uses("amp")
def multi_all_finite(k, xp, arrays, chunk_size=OPTIMIZER_CHUNK):
    """A one-element int32 array: 1 when every element of every array (f32/f16/bf16,
    C-contiguous, any mix) is finite, else 0; one launch over all of them."""
    finite = xp.ones(1, dtype=numpy.int32)
    arrays = [a for a in arrays if a.size]
    for a in arrays:
        if numpy.dtype(a.dtype).name not in _FINITE_KINDS or not a.flags.c_contiguous:
            raise TypeError(f"multi_all_finite takes C-contiguous float32/float16/bfloat16 "
                            f"arrays; got {a.dtype} of shape {a.shape}")
    if not arrays:
        return finite
    blocks, chunk_tables = _chunk_map(arrays, chunk_size)
    kinds = numpy.array([_FINITE_KINDS[numpy.dtype(a.dtype).name] for a in arrays], dtype=numpy.int32)
    pointers, kinds, sizes, block_tensor, block_chunk = upload_tables(
        xp, [_addresses(arrays), kinds] + chunk_tables)
    k.get_function("multi_all_finite")(
        (blocks,), (BLOCK,), (pointers, kinds, sizes, block_tensor, block_chunk,
                              numpy.int64(chunk_size), finite))
    return finite


# ---- convolution and pooling (NCHW) ----

def _conv_geometry(x_shape, kernel, stride, pad, dilate):
    if len(x_shape) != 4:
        raise ValueError(f"expected NCHW input, got shape {tuple(x_shape)}")
    (kh, kw), (sh, sw) = _pair(kernel, "kernel"), _pair(stride, "stride")
    (ph, pw), (dh, dw) = _pair(pad, "pad"), _pair(dilate, "dilate")
    n, c, h, w = x_shape
    oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
    return [numpy.int32(v) for v in (n, c, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw)]


@_uses("conv")
def im2col(k, xp, x, kernel, stride=(1, 1), pad=(0, 0), dilate=(1, 1)):
    """(N, C*KH*KW, OH*OW) columns of NCHW x, for convolution as one batched matmul; f32/f16."""
    x = xp.ascontiguousarray(x)
    geometry = _conv_geometry(x.shape, kernel, stride, pad, dilate)
    n, c, _, _, kh, kw, oh, ow = (int(v) for v in geometry[:8])
    cols = xp.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
    k.get_function(_template("im2col", x.dtype))(
        *_plane_launch(n * c * kh * kw, oh * ow), (x, cols, *geometry))
    return cols


@_uses("conv")
def col2im(k, xp, cols, x_shape, kernel, stride=(1, 1), pad=(0, 0), dilate=(1, 1)):
    """dx of shape x_shape, the columns summed back into the input (a gather: deterministic)."""
    cols = xp.ascontiguousarray(cols)
    geometry = _conv_geometry(x_shape, kernel, stride, pad, dilate)
    n, c, _, _, kh, kw, oh, ow = (int(v) for v in geometry[:8])
    if cols.shape != (n, c * kh * kw, oh * ow):
        raise ValueError(f"cols must have shape {(n, c * kh * kw, oh * ow)}; got {cols.shape}")
    dx = xp.empty(tuple(x_shape), dtype=cols.dtype)
    k.get_function(_template("col2im", cols.dtype))(
        *_plane_launch(n * c, int(geometry[2]) * int(geometry[3])), (cols, dx, *geometry))
    return dx


def _pool_geometry(x_shape, kernel, stride, pad):
    n, c, h, w, kh, kw, oh, ow, sh, sw, ph, pw, _, _ = _conv_geometry(x_shape, kernel, stride, pad, 1)
    if ph >= kh or pw >= kw:
        raise ValueError(f"pooling padding {(int(ph), int(pw))} must be smaller than the window {(int(kh), int(kw))}")
    return numpy.int64(n * c), (h, w), (kh, kw), (oh, ow), (sh, sw), (ph, pw)


@_uses("conv")
def max_pool2d_forward(k, xp, x, kernel, stride, pad=(0, 0)):
    """(y, argmax) of NCHW f32/f16/bf16 x, argmax the index within the H*W plane (first
    maximum)."""
    name = _template("max_pool2d_forward", x.dtype)
    x = xp.ascontiguousarray(x)
    planes, (h, w), (kh, kw), (oh, ow), (sh, sw), (ph, pw) = _pool_geometry(x.shape, kernel, stride, pad)
    y = xp.empty(x.shape[:2] + (int(oh), int(ow)), dtype=x.dtype)
    argmax = xp.empty(y.shape, dtype=numpy.int32)
    k.get_function(name)(
        *_plane_launch(int(planes), int(oh) * int(ow)), (x, y, argmax, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw))
    return y, argmax


@_uses("conv")
def max_pool2d_backward(k, xp, dy, argmax, x_shape):
    """dx of shape x_shape in dy's dtype: dy added at each window's argmax (in float32)."""
    name = _template("max_pool2d_backward", dy.dtype)
    dy = xp.ascontiguousarray(dy)
    n, c, h, w = x_shape
    dx = xp.zeros(tuple(x_shape), dtype=numpy.float32)
    k.get_function(name)(
        *_plane_launch(n * c, dy.shape[2] * dy.shape[3]),
        (dy, xp.ascontiguousarray(argmax), dx, numpy.int64(n * c), numpy.int32(h), numpy.int32(w),
         numpy.int32(dy.shape[2]), numpy.int32(dy.shape[3])))
    return dx.astype(dy.dtype, copy=False)


@_uses("conv")
def avg_pool2d_forward(k, xp, x, kernel, stride, pad=(0, 0), count_include_pad=True):
    """Window means of NCHW f32/f16/bf16 x; ``count_include_pad`` as MXNet."""
    name = _template("avg_pool2d_forward", x.dtype)
    x = xp.ascontiguousarray(x)
    planes, (h, w), (kh, kw), (oh, ow), (sh, sw), (ph, pw) = _pool_geometry(x.shape, kernel, stride, pad)
    y = xp.empty(x.shape[:2] + (int(oh), int(ow)), dtype=x.dtype)
    k.get_function(name)(
        *_plane_launch(int(planes), int(oh) * int(ow)),
        (x, y, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw, numpy.int32(bool(count_include_pad))))
    return y


@_uses("conv")
def avg_pool2d_backward(k, xp, dy, x_shape, kernel, stride, pad=(0, 0), count_include_pad=True):
    """dx of shape x_shape from the window means' dy (f32/f16/bf16)."""
    name = _template("avg_pool2d_backward", dy.dtype)
    dy = xp.ascontiguousarray(dy)
    planes, (h, w), (kh, kw), (oh, ow), (sh, sw), (ph, pw) = _pool_geometry(x_shape, kernel, stride, pad)
    if dy.shape != tuple(x_shape[:2]) + (int(oh), int(ow)):
        raise ValueError(f"dy must have shape {tuple(x_shape[:2]) + (int(oh), int(ow))}; got {dy.shape}")
    dx = xp.empty(tuple(x_shape), dtype=dy.dtype)
    k.get_function(name)(
        *_plane_launch(int(planes), int(h) * int(w)),
        (dy, dx, planes, h, w, kh, kw, oh, ow, sh, sw, ph, pw, numpy.int32(bool(count_include_pad))))
    return dx


# ---- embedding and pick ----

@_uses("indexing")
def embedding_backward(k, xp, indices, dy, num_rows):
    """dweight (num_rows, D) in dy's dtype: dy's rows summed at their (clipped) indices."""
    dy = xp.ascontiguousarray(dy)
    indices = xp.ascontiguousarray(indices.reshape(-1).astype(numpy.int32))
    dim = dy.shape[-1] if dy.ndim else 1
    if dy.size != indices.size * dim:
        raise ValueError(f"dy must have shape indices.shape + (dim,); got {dy.shape} for {indices.size} indices")
    dweight = xp.zeros((num_rows, dim), dtype=numpy.float32)
    if dy.size:
        k.get_function(_template("embedding_backward", dy.dtype))(
            _grid(dy.size), (BLOCK,),
            (indices, dy, dweight, numpy.int64(dy.size), numpy.int32(dim), numpy.int32(num_rows)))
    return dweight.astype(dy.dtype, copy=False)


@_uses("indexing")
def pick_backward(k, xp, index, dy, x_shape, axis=-1, mode="clip"):
    """dx of shape x_shape, zero but dy at each picked index along ``axis``; f32/f16."""
    if mode not in ("clip", "wrap"):
        raise ValueError(f"pick mode must be 'clip' or 'wrap', got {mode!r}")
    x_shape = tuple(x_shape)
    axis = axis % len(x_shape)
    outer, axis_size, inner = math.prod(x_shape[:axis]), x_shape[axis], math.prod(x_shape[axis + 1:])
    if index.size != outer * inner or dy.size != outer * inner:
        raise ValueError(f"index and dy must have {outer * inner} elements (x shape {x_shape} without axis {axis})")
    index = xp.ascontiguousarray(index.reshape(-1).astype(numpy.int32))
    dy = xp.ascontiguousarray(dy)
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    if dy.size:
        k.get_function(_template("pick_backward", dy.dtype))(
            _grid(dy.size), (BLOCK,),
            (index, dy, dx, numpy.int64(dy.size), numpy.int32(axis_size), numpy.int32(inner),
             numpy.int32(mode == "wrap")))
    return dx
