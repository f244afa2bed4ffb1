"""Convolution, deconvolution and pooling of ``mx.npx`` (1-D, 2-D and 3-D; channel-first
layouts, and the channel-last NWC/NHWC/NDHWC as MXNet's, by moving the channel axis).

CPU formulation: a strided window view of the padded input (no copy) is gathered once
into a column matrix and contracted with the weights by one batched matmul (BLAS); the
data gradient multiplies back and adds the columns into place with one strided slice
per kernel offset, never a loop over pixels. Convolution, its data gradient and its
weight gradient are three ops, each differentiable through the other two, so
``create_graph=True`` works through them; deconvolution is the data-gradient op.

Deformable convolutions (v1 and the modulated v2, 2-D) sample each tap bilinearly at a
learned offset (one gather per bilinear corner) and contract the samples by a matmul; the
sampling's gradients scatter-add into the input and differentiate the bilinear weights.
"""
import numpy as _np

from ..autograd import apply, defop
from ..base import is_floating
from . import add_at, same_dtype_matmul as _same_dtype_matmul, to_nd
from .elemwise import add
from .linalg import matmul
from .shape import moveaxis, reshape

__all__ = ["convolution", "deconvolution", "pooling", "deformable_convolution",
           "modulated_deformable_convolution"]


def _tuple(value, d, name):
    if value is None or value == ():
        return None
    if isinstance(value, int):
        return (value,) * d
    value = tuple(int(v) for v in value)
    if len(value) != d:
        raise ValueError(f"{name}={value} must have {d} entries for a {d}-D kernel")
    return value


def _windows(xp, x, kernel, stride, dilate, out):
    """View of shape (N, C, *out, *kernel) over ``x`` (N, C, *spatial); no copy."""
    st = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=x.shape[:2] + tuple(out) + tuple(kernel),
        strides=st[:2] + tuple(s * t for s, t in zip(st[2:], stride))
        + tuple(s * d for s, d in zip(st[2:], dilate)))


def _pad(xp, x, pad, value=0, extra=None):
    """``x`` padded with ``value`` on its spatial axes (``extra`` more at the far end): a
    filled array and one copy, 3.4x faster than ``numpy.pad`` on LeNet's input."""
    extra = extra or (0,) * len(pad)
    if not any(pad) and not any(extra):
        return x
    shape = x.shape[:2] + tuple(s + 2 * p + e for s, p, e in zip(x.shape[2:], pad, extra))
    out = xp.empty_like(x, shape=shape)  # x's layout (a batch-innermost one stays so)
    out.fill(value)
    out[(slice(None),) * 2 + tuple(slice(p, p + s) for p, s in zip(pad, x.shape[2:]))] = x
    return out


def _out_size(size, kernel, stride, pad, dilate):
    return tuple((s + 2 * p - d * (k - 1) - 1) // t + 1
                 for s, k, t, p, d in zip(size, kernel, stride, pad, dilate))


BATCH_INNER_BELOW = 16  # output rows shorter than this gather with the batch innermost


def _batch_inner(n, out):
    """Whether the columns put the batch innermost, (G, Cg*K, P*N), not (G, Cg*K, N*P).

    A gathered run is one output row, out[-1] elements (stride 1), batch-outer; batch-inner
    it is out[-1]*N, at the price of transposing the input, the output and (for the weight
    gradient) the output gradient. Measured (one thread): LeNet's 10x10 outputs 0.97 -> 0.65
    ms per forward, its 28x28 ones 1.13 -> 1.29, ResNet's 28x28 3x3 35.5 -> 37.8; longer
    rows lost up to 2.3x with the weight gradient counted (bench/README.md, "Convolution"
    and "Tried and not kept")."""
    return n > 1 and out[-1] < BATCH_INNER_BELOW


def _columns(xp, x, kernel, stride, pad, dilate, groups):
    """(G, Cg*K, N*P) or, when ``_batch_inner``, (G, Cg*K, P*N) columns of ``x``, and the
    output spatial size.

    Output positions (and the batch) run last, so each gathered run is a contiguous
    stretch of an input row (for stride 1): the copy streams instead of hopping."""
    n, c = x.shape[:2]
    d = len(kernel)
    out = _out_size(x.shape[2:], kernel, stride, pad, dilate)
    size = int(_np.prod(out)) * n
    if _batch_inner(n, out):  # (C, *padded, N), windows (C, *kernel, *out, N)
        padded = xp.zeros((c,) + tuple(s + 2 * p for s, p in zip(x.shape[2:], pad)) + (n,),
                          dtype=x.dtype)
        interior = (slice(None),) + tuple(slice(p, p + s) for p, s in zip(pad, x.shape[2:]))
        padded[interior] = xp.moveaxis(x, 0, -1)
        st = padded.strides
        win = xp.lib.stride_tricks.as_strided(
            padded, shape=(c,) + tuple(kernel) + tuple(out) + (n,),
            strides=(st[0],) + tuple(s * dl for s, dl in zip(st[1:-1], dilate))
            + tuple(s * t for s, t in zip(st[1:-1], stride)) + (st[-1],))
        return xp.ascontiguousarray(win).reshape(groups, -1, size), out
    win = _windows(xp, _pad(xp, x, pad), kernel, stride, dilate, out)
    win = win.reshape((n, groups, c // groups) + win.shape[2:])
    order = (1, 2) + tuple(range(3 + d, 3 + 2 * d)) + (0,) + tuple(range(3, 3 + d))
    cols = xp.ascontiguousarray(xp.transpose(win, order))
    return cols.reshape(groups, -1, size), out


def _bmm(xp, a, b):
    """Batched matmul over the group axis; one group (the common case) stays a plain 2-D
    BLAS call, which numpy's stacked matmul is not when an operand is transposed."""
    if a.shape[0] == 1:
        return _thin_matmul(xp, a[0], b[0])[None]
    return _same_dtype_matmul(xp, xp.ascontiguousarray(a), xp.ascontiguousarray(b))


THIN_PRODUCT = 1024  # two sizes of a product whose product is at most this make it thin
THIN_CHUNK_ELEMENTS = 1 << 16


def _thin_chunks(m, k, n):
    """How an (m, k) @ (k, n) product is cut: ``("inner", step)`` (k long: the chunks'
    products summed), ``("columns", step)`` (n long: each chunk written in place) or None
    (not thin). A step is about 64 Ki elements of the two small sizes; the long side must
    hold at least four."""
    if m * n <= THIN_PRODUCT:
        side, small, long_size = "inner", m + n, k
    elif m * k <= THIN_PRODUCT:
        side, small, long_size = "columns", m + k, n
    else:
        return None
    step = max(512, 1 << (THIN_CHUNK_ELEMENTS // small).bit_length() - 1)
    return (side, step) if long_size >= 4 * step else None


def _thin_matmul(xp, a, b):
    """``a @ b`` for 2-D operands; thin products (two small sizes, one long: a first
    layer's 6x25 weights against 50,176 columns) go in chunks of the long side.

    OpenBLAS runs such products 1.5-2.5x slower once the long side outgrows its cache
    blocking; cut into ~64 Ki-element pieces they stay in cache (bench/README.md, "Thin
    GEMMs"). A long inner size is summed over chunks, so float rounding may differ."""
    plan = _thin_chunks(a.shape[0], a.shape[1], b.shape[1]) \
        if xp is _np and a.dtype == b.dtype and a.dtype.char in "fd" else None
    if plan is None:
        return _same_dtype_matmul(xp, a, b)
    side, step = plan
    if side == "inner":
        out = a[:, :step] @ b[:step]
        for start in range(step, a.shape[1], step):
            out += a[:, start:start + step] @ b[start:start + step]
        return out
    out = xp.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    for start in range(0, b.shape[1], step):
        xp.matmul(a, b[:, start:start + step], out=out[:, start:start + step])
    return out


def _grouped_grad(xp, g, groups):
    """Output gradient (N, F, *out) as (G, Fg, N*P), or (G, Fg, P*N) when the columns put
    the batch innermost."""
    n, f = g.shape[:2]
    if _batch_inner(n, g.shape[2:]):
        return _grads_batch_inner(xp, g, groups)
    return g.reshape(n, f, -1).transpose(1, 0, 2).reshape(groups, f // groups, -1)


def _grads_batch_inner(xp, g, groups):
    """Output gradient (N, F, *out) as (G, Fg, P*N)."""
    n, f = g.shape[:2]
    grads = xp.moveaxis(g.reshape((n, groups, f // groups, -1)), 0, -1)  # (G, Fg, P, N)
    return xp.ascontiguousarray(grads).reshape(groups, f // groups, -1)


def _with_geometry(ctx, op, *args, **extra):
    """``op`` applied with the calling op's stride, pad, dilate and groups: the three
    convolution ops are each other's gradients."""
    p = ctx.params
    return ctx.call(op, *args, **extra, stride=p["stride"], pad=p["pad"], dilate=p["dilate"],
                    groups=p["groups"])


KEEP_COLUMNS_BYTES = 32 << 20  # a recorded convolution keeps im2col columns up to this size


@defop("convolution", has_aux=True, aux_cache=True)
class _conv:
    def forward(xp, x, w, b, stride, pad, dilate, groups):
        """The output, and (aux) the columns when small enough to keep for the weight
        gradient, which would otherwise gather them again (as PyTorch's CPU convolution
        kept its ``finput``)."""
        n = x.shape[0]
        f = w.shape[0]
        kernel = w.shape[2:]
        cols, out = _columns(xp, x, kernel, stride, pad, dilate, groups)
        y = _bmm(xp, w.reshape(groups, f // groups, -1), cols)  # (G, Fg, N*P) or (.., P*N)
        by_sample = y.reshape(f, -1, n).transpose(2, 0, 1) if _batch_inner(n, out) \
            else y.reshape(f, n, -1).transpose(1, 0, 2)
        if b is None:
            y = xp.ascontiguousarray(by_sample).reshape((n, f) + out)
        else:  # the bias add writes the (N, F, P) layout: one pass instead of copy then add
            y = xp.add(by_sample, b.reshape(1, f, 1)).reshape((n, f) + out)
        return y, (cols if cols.nbytes <= KEEP_COLUMNS_BYTES else None)

    def backward(ctx, g):
        x, w, b = ctx.inputs
        need = ctx.need
        gx = _with_geometry(ctx, _conv_data_grad, g, w, size=x.shape[2:]) if need[0] else None
        gw = _with_geometry(ctx, _conv_weight_grad, x, g, kernel=w.shape[2:],
                            columns=ctx.aux) if need[1] else None
        gb = ctx.xp.sum(g, axis=(0,) + tuple(range(2, g.ndim))) \
            if b is not None and need[2] else None
        return gx, gw, gb


@defop("convolution_data_grad")
class _conv_data_grad:
    def forward(xp, g, w, stride, pad, dilate, groups, size):
        """The adjoint of convolution in its input: (N, F, *out) -> (N, C, *size).

        The columns are scattered back with one shifted add per kernel offset, the batch
        innermost (columns (G*Cg, *kernel, *out, N), gradient (C, *padded, N)) so each add
        moves runs of out[-1]*N contiguous elements, not out[-1]: 1.1-2x faster on LeNet's
        and ResNet's shapes than batch-outer, transposing copies included."""
        n, f = g.shape[:2]
        out = g.shape[2:]
        kernel = w.shape[2:]
        cg = w.shape[1]
        wm = w.reshape(groups, f // groups, -1)
        grads = _grads_batch_inner(xp, g, groups)
        cols = _bmm(xp, wm.transpose(0, 2, 1), grads)  # (G, Cg*K, P*N)
        cols = cols.reshape((groups * cg,) + tuple(kernel) + tuple(out) + (n,))
        padded = tuple(s + 2 * p for s, p in zip(size, pad))
        gx = xp.zeros((groups * cg,) + padded + (n,), dtype=g.dtype)
        for offset in _np.ndindex(*kernel):
            key = (slice(None),) + tuple(slice(k * dl, k * dl + t * (o - 1) + 1, t)
                                         for k, dl, t, o in zip(offset, dilate, stride, out))
            gx[key] += cols[(slice(None),) + offset]
        gx = gx[(slice(None),) + tuple(slice(p, p + s) for p, s in zip(pad, size))]
        return xp.ascontiguousarray(xp.moveaxis(gx, -1, 0))

    def backward(ctx, gz):
        g, w = ctx.inputs
        gg = _with_geometry(ctx, _conv, gz, w, None) if ctx.need[0] else None
        gw = _with_geometry(ctx, _conv_weight_grad, gz, g, kernel=w.shape[2:]) \
            if ctx.need[1] else None
        return gg, gw


@defop("convolution_weight_grad")
class _conv_weight_grad:
    def forward(xp, x, g, stride, pad, dilate, groups, kernel, columns=None):
        """The adjoint of convolution in its weight: (N, F, *out) -> (F, Cg, *kernel);
        ``columns`` are x's im2col columns when the forward kept them."""
        f = g.shape[1]
        cols = _columns(xp, x, kernel, stride, pad, dilate, groups)[0] if columns is None \
            else columns
        # computed transposed, (G, Cg*K, Fg): OpenBLAS runs columns @ g.T 1.3-2x faster
        # than g @ columns.T on these skinny, long-K products
        gw = _bmm(xp, cols, _grouped_grad(xp, g, groups).transpose(0, 2, 1)).transpose(0, 2, 1)
        return gw.reshape((f, x.shape[1] // groups) + tuple(kernel))

    def backward(ctx, gv):
        x, g = ctx.inputs
        gx = _with_geometry(ctx, _conv_data_grad, g, gv, size=x.shape[2:]) \
            if ctx.need[0] else None
        gg = _with_geometry(ctx, _conv, x, gv, None) if ctx.need[1] else None
        return gx, gg


_CHANNEL_FIRST = ("NCW", "NCHW", "NCDHW")
_CHANNEL_LAST = ("NWC", "NHWC", "NDHWC")


def _is_channel_last(layout, d):
    """Whether ``layout`` of a ``d``-D op puts channels last (its weights then too: MXNet's
    (F, *kernel, C/groups)); None means channel-first."""
    if layout in (None, _CHANNEL_FIRST[d - 1]):
        return False
    if layout == _CHANNEL_LAST[d - 1]:
        return True
    raise ValueError(f"layout {layout!r} is not supported for {d}-D data; use "
                     f"{_CHANNEL_FIRST[d - 1]!r} or {_CHANNEL_LAST[d - 1]!r}")


def _channels_first(x):
    return moveaxis(to_nd(x), -1, 1)


def _channels_last(x):
    return moveaxis(x, 1, -1)


def _conv_inputs(name, data, weight, weight_shape):
    """``data`` and ``weight`` as ndarrays and their spatial rank, checked to match (the
    weight described as ``weight_shape``)."""
    data = to_nd(data)
    weight = to_nd(weight, data)
    d = weight.ndim - 2
    if d < 1 or data.ndim != d + 2:
        raise ValueError(f"{name}: data {data.shape} and weight {weight.shape} must be "
                         f"(N, C, *spatial) and {weight_shape} of matching rank")
    return data, weight, d


def convolution(data, weight, bias=None, kernel=None, stride=None, dilate=None, pad=None,
                num_filter=None, num_group=1, workspace=None, no_bias=False, cudnn_tune=None,
                cudnn_off=False, layout=None):
    """N-d convolution (cross-correlation) of (N, C, *spatial) data with
    (num_filter, C / num_group, *kernel) weights; stride, dilate and pad per axis.
    Channel-last layouts take (N, *spatial, C) data and (num_filter, *kernel, C / num_group)
    weights and return (N, *spatial, num_filter)."""
    if _is_channel_last(layout, to_nd(weight).ndim - 2):
        return _channels_last(convolution(
            _channels_first(data), _channels_first(weight), bias, kernel, stride, dilate, pad,
            num_filter, num_group, no_bias=no_bias))
    data, weight, d = _conv_inputs("convolution", data, weight, "(F, C/groups, *kernel)")
    kernel = _tuple(kernel, d, "kernel") or weight.shape[2:]
    if tuple(kernel) != weight.shape[2:]:
        raise ValueError(f"convolution: kernel={kernel} but weight has shape {weight.shape}")
    groups = int(num_group)
    if data.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups:
        raise ValueError(f"convolution: data has {data.shape[1]} channels but weight "
                         f"{weight.shape} with num_group={groups} expects "
                         f"{weight.shape[1] * groups}")
    if num_filter is not None and num_filter != weight.shape[0]:
        raise ValueError(f"convolution: num_filter={num_filter} but weight has "
                         f"{weight.shape[0]} filters")
    stride = _tuple(stride, d, "stride") or (1,) * d
    dilate = _tuple(dilate, d, "dilate") or (1,) * d
    pad = _tuple(pad, d, "pad") or (0,) * d
    if any(o <= 0 for o in _out_size(data.shape[2:], kernel, stride, pad, dilate)):
        raise ValueError(f"convolution: kernel {kernel} (dilate {dilate}) does not fit data "
                         f"{data.shape} with pad {pad}")
    if no_bias:
        bias = None
    elif bias is not None:
        bias = to_nd(bias, data)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"convolution: bias of shape {bias.shape} does not match "
                             f"{weight.shape[0]} filters")
    return apply(_conv, (data, weight, bias),
                 {"stride": stride, "pad": pad, "dilate": dilate, "groups": groups})


def deconvolution(data, weight, bias=None, kernel=None, stride=None, dilate=None, pad=None,
                  adj=None, target_shape=None, num_filter=None, num_group=1, workspace=None,
                  no_bias=True, cudnn_tune=None, cudnn_off=False, layout=None):
    """Transposed convolution: the gradient of a convolution with respect to its input.

    ``weight`` is (C_in, num_filter / num_group, *kernel); the output spatial size is
    ``(in - 1) * stride - 2 * pad + dilate * (kernel - 1) + 1 + adj``. ``target_shape``
    (spatial sizes) sets ``adj`` to reach that size. Channel-last layouts take
    (N, *spatial, C) data and (C, *kernel, F / num_group) weights."""
    if _is_channel_last(layout, to_nd(weight).ndim - 2):
        return _channels_last(deconvolution(
            _channels_first(data), _channels_first(weight), bias, kernel, stride, dilate, pad,
            adj, target_shape, num_filter, num_group, no_bias=no_bias))
    data, weight, d = _conv_inputs("deconvolution", data, weight, "(C, F/groups, *kernel)")
    groups = int(num_group)
    if data.shape[1] != weight.shape[0]:
        raise ValueError(f"deconvolution: data has {data.shape[1]} channels but weight "
                         f"{weight.shape} expects {weight.shape[0]}")
    kernel = weight.shape[2:]
    stride = _tuple(stride, d, "stride") or (1,) * d
    dilate = _tuple(dilate, d, "dilate") or (1,) * d
    pad = _tuple(pad, d, "pad") or (0,) * d
    base = tuple((i - 1) * s - 2 * p + dl * (k - 1) + 1
                 for i, s, p, dl, k in zip(data.shape[2:], stride, pad, dilate, kernel))
    if target_shape:
        target = _tuple(target_shape, d, "target_shape")
        adj = tuple(t - b for t, b in zip(target, base))
    adj = _tuple(adj, d, "adj") or (0,) * d
    if any(a < 0 or a >= max(s, dl) for a, s, dl in zip(adj, stride, dilate)):
        raise ValueError(f"deconvolution: adj {adj} must be in [0, stride) (target_shape "
                         f"{target_shape} gives it; base output size {base})")
    size = tuple(b + a for b, a in zip(base, adj))
    out = apply(_conv_data_grad, (data, weight),
                {"stride": stride, "pad": pad, "dilate": dilate, "groups": groups,
                 "size": size})
    if num_filter is not None and out.shape[1] != num_filter:
        raise ValueError(f"deconvolution: num_filter={num_filter} but weight gives "
                         f"{out.shape[1]} output channels")
    if bias is not None and not no_bias:
        out = out + to_nd(bias, data).reshape((1, -1) + (1,) * d)
    return out


# -- pooling ---------------------------------------------------------------------------------
# Pooling visits the kernel offsets (a handful) and works on whole strided slices of the
# padded input at each one, so no per-window copy is ever made.
def _pool_out(shape, kernel, stride, pad, extra):
    return _out_size(tuple(s + e for s, e in zip(shape[2:], extra)), kernel, stride, pad,
                     (1,) * len(kernel))


def _offset_keys(kernel, stride, out):
    """(flat index, slice key into the padded input) for each kernel offset."""
    for flat, offset in enumerate(_np.ndindex(*kernel)):
        yield flat, (slice(None),) * 2 + tuple(slice(k, k + t * (o - 1) + 1, t)
                                               for k, t, o in zip(offset, stride, out))


def _in_layout_of(xp, a, like):
    """``a``, copied into ``like``'s memory layout when its own differs.

    Pooling keeps its input's layout (a batch-innermost convolution output stays batch-
    innermost, bench/README.md, "Pooling in its input's layout"), but the gradient arriving
    from a flatten is C-ordered; mixed layouts make every elementwise pass stride."""
    if a.flags.c_contiguous and like.flags.c_contiguous or \
            [s // a.itemsize for s in a.strides] == [s // like.itemsize for s in like.strides]:
        return a
    out = xp.empty_like(like, dtype=a.dtype)
    out[...] = a
    return out


def _scatter_windows(xp, part, like, shape, kernel, stride, pad, extra, out, dtype):
    """Add ``part(flat)`` (N, C, *out) into the padded input at each kernel offset; the
    result has ``like``'s layout."""
    size = shape[2:]
    padded = tuple(s + 2 * p + e for s, p, e in zip(size, pad, extra))
    gx = xp.zeros_like(like, dtype=dtype, shape=tuple(shape[:2]) + padded)
    for flat, key in _offset_keys(kernel, stride, out):
        gx[key] += part(flat)
    crop = (slice(None),) * 2 + tuple(slice(p, p + s) for p, s in zip(pad, size))
    return gx[crop]


def _window_sum(xp, x, kernel, stride, pad, extra):
    out = _pool_out(x.shape, kernel, stride, pad, extra)
    padded = _pad(xp, x, pad, 0, extra)
    total = None
    for _, key in _offset_keys(kernel, stride, out):
        total = padded[key].copy(order="K") if total is None else total + padded[key]
    return total


def _pool_counts(xp, shape, kernel, stride, pad, extra, include_pad, dtype):
    if include_pad:
        return float(_np.prod(kernel))
    return _window_sum(xp, xp.ones((1, 1) + tuple(shape[2:]), dtype=dtype), kernel, stride,
                       pad, extra)


@defop("max_pool", has_aux=True)
class _max_pool:
    """Max over windows; the gradient goes to the first maximum of each window. The aux
    is that maximum's flat index within its window (int8 is enough for <= 127 offsets).
    Output, index and gradient keep the input's memory layout (``_in_layout_of``)."""
    def forward(xp, x, kernel, stride, pad, extra):
        fill = -xp.inf if is_floating(x.dtype) else _np.iinfo(x.dtype).min
        out = _pool_out(x.shape, kernel, stride, pad, extra)
        padded = _pad(xp, x, pad, fill, extra)
        index_type = _np.int8 if _np.prod(kernel) < 128 else _np.int64
        pieces = [padded[key] for _, key in _offset_keys(kernel, stride, out)]
        best = pieces[0].copy(order="K")
        for piece in pieces[1:]:  # branch-free: a running maximum, then the first hit
            xp.maximum(best, piece, out=best)
        # the first hit's index is the number of offsets before it that missed: the sum
        # over offsets of "every offset so far missed" (one compare, AND and add each)
        missed = xp.not_equal(pieces[0], best)
        arg = missed.astype(index_type)
        step = xp.empty_like(missed)
        for piece in pieces[1:-1]:
            xp.not_equal(piece, best, out=step)
            missed &= step
            arg += missed
        return best, arg

    def backward(ctx, g):
        x = ctx.inputs[0]
        p = ctx.params
        return (ctx.call(_max_pool_scatter, g, ctx.aux, shape=x.shape, **p),)


def _tiles_input(shape, kernel, stride, pad, extra):
    """Whether the windows tile the input exactly (kernel == stride, no padding, sizes
    divisible), so each input element belongs to exactly one window."""
    return (tuple(kernel) == tuple(stride) and not any(pad) and not any(extra)
            and all(s % k == 0 for s, k in zip(shape[2:], kernel)))


@defop("max_pool_scatter")
class _max_pool_scatter:
    """``g`` (N, C, *out) added at each window's argmax (the adjoint of the gather), in
    ``arg``'s layout (the pooled input's)."""
    def forward(xp, g, arg, shape, kernel, stride, pad, extra):
        g = _in_layout_of(xp, g, arg)
        if _tiles_input(shape, kernel, stride, pad, extra):
            # each offset's share written straight into its strided place: no zeros, no
            # adds, no crop (0.41 -> 0.21 ms on LeNet's first pooling's gradient)
            gx = xp.empty_like(arg, dtype=g.dtype, shape=shape)
            tiles = gx.reshape(tuple(shape[:2]) + sum(((o, k) for o, k in
                                                       zip(g.shape[2:], kernel)), ()))
            for flat, offset in enumerate(_np.ndindex(*kernel)):
                key = (slice(None),) * 2 + sum(((slice(None), k) for k in offset), ())
                xp.multiply(g, arg == flat, out=tiles[key])
            return gx
        return _scatter_windows(xp, lambda flat: g * (arg == flat), arg, shape, kernel,
                                stride, pad, extra, g.shape[2:], g.dtype)

    def backward(ctx, gz):
        p = dict(ctx.params)
        p.pop("shape")
        return ctx.call(_max_pool_gather, gz, ctx.inputs[1], **p), None


@defop("max_pool_gather")
class _max_pool_gather:
    """Each window's element at ``arg``."""
    def forward(xp, x, arg, kernel, stride, pad, extra):
        out = _pool_out(x.shape, kernel, stride, pad, extra)
        padded = _pad(xp, x, pad, 0, extra)
        res = xp.zeros_like(arg, dtype=x.dtype)
        for flat, key in _offset_keys(kernel, stride, out):
            xp.copyto(res, padded[key], where=arg == flat)
        return res

    def backward(ctx, g):
        x, arg = ctx.inputs
        return ctx.call(_max_pool_scatter, g, arg, shape=x.shape, **ctx.params), None


@defop("avg_pool")
class _avg_pool:
    """Window sums divided by ``count`` (1 for sum pooling); linear, so the gradient
    is the adjoint spread and its gradient is this op again."""
    def forward(xp, x, kernel, stride, pad, extra, mode, include_pad):
        total = _window_sum(xp, x, kernel, stride, pad, extra)
        if mode == "sum":
            return total
        counts = _pool_counts(xp, x.shape, kernel, stride, pad, extra, include_pad, x.dtype)
        return (total / counts).astype(x.dtype, copy=False)

    def backward(ctx, g):
        x = ctx.inputs[0]
        return (ctx.call(_avg_pool_spread, g, shape=x.shape, **ctx.params),)


@defop("avg_pool_spread")
class _avg_pool_spread:
    def forward(xp, g, shape, kernel, stride, pad, extra, mode, include_pad):
        if mode != "sum":
            g = g / _pool_counts(xp, shape, kernel, stride, pad, extra, include_pad, g.dtype)
        return _scatter_windows(xp, lambda flat: g, g, shape, kernel, stride, pad, extra,
                                g.shape[2:], g.dtype)

    def backward(ctx, gz):
        p = dict(ctx.params)
        p.pop("shape")
        return (ctx.call(_avg_pool, gz, **p),)


def pooling(data, kernel=None, pool_type="max", global_pool=False, cudnn_off=False,
            pooling_convention="valid", stride=None, pad=None, p_value=None,
            count_include_pad=None, layout=None):
    """Max, average or sum pooling over the spatial axes of (N, C, *spatial) data.

    ``stride`` defaults to 1 per axis (MXNet's operator; Gluon passes the pool size);
    ``global_pool`` pools everything to size 1; ``count_include_pad`` (default True)
    counts padding in averages; ``pooling_convention`` 'valid' floors the output size,
    'full' ceils it. Max pooling sends the gradient to the first maximum of each window.
    Channel-last layouts pool (N, *spatial, C) data."""
    data = to_nd(data)
    d = data.ndim - 2
    if d < 1:
        raise ValueError(f"pooling needs (N, C, *spatial) data, got shape {data.shape}")
    if _is_channel_last(layout, d):
        return _channels_last(pooling(
            _channels_first(data), kernel, pool_type, global_pool, cudnn_off,
            pooling_convention, stride, pad, p_value, count_include_pad))
    if pool_type not in ("max", "avg", "sum"):
        raise ValueError(f"pooling: pool_type must be max, avg or sum, got {pool_type!r}")
    if global_pool:
        kernel, stride, pad = data.shape[2:], (1,) * d, (0,) * d
    else:
        kernel = _tuple(kernel, d, "kernel")
        if kernel is None:
            raise ValueError("pooling needs kernel= unless global_pool=True")
        stride = _tuple(stride, d, "stride") or (1,) * d
        pad = _tuple(pad, d, "pad") or (0,) * d
    if pooling_convention == "valid":
        extra = (0,) * d
    elif pooling_convention == "full":
        extra = tuple((-(s + 2 * p - k) % t)
                      for s, p, k, t in zip(data.shape[2:], pad, kernel, stride))
    else:
        raise ValueError(f"pooling_convention must be 'valid' or 'full', got "
                         f"{pooling_convention!r}")
    if any(s + 2 * p < k for s, p, k in zip(data.shape[2:], pad, kernel)):
        raise ValueError(f"pooling: kernel {kernel} is larger than data {data.shape} with "
                         f"pad {pad}")
    geo = {"kernel": tuple(kernel), "stride": stride, "pad": pad, "extra": extra}
    if pool_type == "max":
        return apply(_max_pool, (data,), geo)
    include = True if count_include_pad is None else bool(count_include_pad)
    return apply(_avg_pool, (data,), dict(geo, mode=pool_type, include_pad=include))


# -- deformable convolution --------------------------------------------------------------------
# MXNet's DeformableConvolution (v1) and ModulatedDeformableConvolution (v2), 2-D NCHW: each
# kernel tap samples the input bilinearly at its grid point plus a learned (dy, dx), and the
# samples are contracted with the weights as convolution's columns are. The sampling
# ("deformable im2col") is the op; the contraction is a matmul, so autograd does the weights.
# Columns are (C, taps, N, positions): a deformable group's input laid out (channels, N*H*W)
# is gathered by one ``take`` along its rows per bilinear corner (4x faster on the CPU than
# ``take_along_axis`` over a batch-outer layout, on an 8x64x32x32 batch), and they are
# already the matmul's operand.
_SECOND_ORDER = ("second-order gradients of a deformable convolution through its offsets "
                 "or mask are not implemented (first-order gradients of every input are)")


def _taps(xp, offset, size, kernel, stride, pad, dilate, groups, modulated):
    """Where every kernel tap of every output position samples: for each of the 4 bilinear
    corners, (index, weight, d weight / d dy, d weight / d dx), each shaped (deformable
    groups, taps, N, positions); the index is into a group's input as (channels, N*H*W).

    The border rules are MXNet's: v2 (``modulated``) interpolates the zero-padded input, so
    a corner off the image reads 0; v1 samples only points with 0 <= y < H and 0 <= x < W
    (others read 0) and clamps y to H-1 (x to W-1), so a point in the last row's band
    [H-1, H) reads that row and has no y-derivative."""
    n = offset.shape[0]
    kh, kw = kernel
    out = offset.shape[2:]
    taps, positions = kh * kw, out[0] * out[1]
    ctype = xp.result_type(offset.dtype, xp.float32)
    off = xp.ascontiguousarray(xp.moveaxis(offset.reshape(n, groups, taps, 2, positions), 0, 3),
                               dtype=ctype)  # C-ordered, so the products below stay so
    grid_y = (xp.arange(kh) * dilate[0]).reshape(kh, 1, 1, 1) \
        + (xp.arange(out[0]) * stride[0] - pad[0]).reshape(1, 1, out[0], 1)
    grid_x = (xp.arange(kw) * dilate[1]).reshape(1, kw, 1, 1) \
        + (xp.arange(out[1]) * stride[1] - pad[1]).reshape(1, 1, 1, out[1])
    shape = (kh, kw) + tuple(out)
    y = xp.broadcast_to(grid_y, shape).reshape(taps, 1, positions).astype(ctype) + off[:, :, 0]
    x = xp.broadcast_to(grid_x, shape).reshape(taps, 1, positions).astype(ctype) + off[:, :, 1]
    if modulated:
        inside = slope_y = slope_x = 1
    else:
        h, w = size
        inside = ((y >= 0) & (y < h) & (x >= 0) & (x < w)).astype(ctype)
        slope_y, slope_x = (y < h - 1).astype(ctype), (x < w - 1).astype(ctype)
        y, x = xp.minimum(y, h - 1), xp.minimum(x, w - 1)
    rows = _neighbours(xp, y, size[0], ctype, inside, slope_y * inside)
    cols = _neighbours(xp, x, size[1], ctype, 1, slope_x)
    image = (xp.arange(n) * (size[0] * size[1])).reshape(n, 1)
    return [(image + r_index * size[1] + c_index, r_weight * c_weight, r_slope * c_weight,
             r_weight * c_slope)
            for r_index, r_weight, r_slope in rows for c_index, c_weight, c_slope in cols]


def _neighbours(xp, coord, size, ctype, scale, slope):
    """The two grid lines around ``coord`` on one axis: (index clipped into the image, linear
    weight, its derivative in ``coord``), a line off the image weighing 0."""
    low = xp.floor(coord)
    frac = coord - low
    low = low.astype(xp.int64)
    res = []
    for line, weight, sign in ((low, 1 - frac, -1), (low + 1, frac, 1)):
        on = ((line >= 0) & (line < size)).astype(ctype)
        res.append((xp.clip(line, 0, size - 1), weight * on * scale, on * (sign * slope)))
    return res


def _channel_major(xp, x, groups):
    """(N, C, H, W) as (deformable groups, C/groups, N*H*W)."""
    n, c = x.shape[:2]
    by_group = xp.moveaxis(x.reshape(n, groups, c // groups, -1), 0, 2)
    return xp.ascontiguousarray(by_group).reshape(groups, c // groups, -1)


def _mask_columns(xp, mask, groups, dtype):
    """A mask (N, groups * taps, H_out, W_out) as a factor of columns, (groups, 1, taps, N,
    positions), C-ordered: multiplied in a transposed layout, every product after it would
    stride."""
    n = mask.shape[0]
    tap_major = xp.moveaxis(mask.reshape(n, groups, mask.shape[1] // groups, -1), 0, 2)
    return xp.ascontiguousarray(tap_major, dtype=dtype)[:, None]


def _gather(xp, src, index):
    """``src`` (groups, Cg, N*H*W) at ``index`` (groups, taps, N, positions), for every
    channel of its group: (groups, Cg, taps, N, positions)."""
    picked = [xp.take(rows, where.reshape(-1), axis=1) for rows, where in zip(src, index)]
    whole = picked[0][None] if len(picked) == 1 else xp.stack(picked)  # one group: no copy
    return whole.reshape(src.shape[:2] + index.shape[1:])


def _masked(xp, g, mask, groups):
    """Column gradient (C, taps, N, positions) as (groups, Cg, taps, N, positions), times the
    mask when there is one: what reaches the bilinear samples."""
    c = g.shape[0]
    g = g.reshape((groups, c // groups) + g.shape[1:])
    return g if mask is None else g * _mask_columns(xp, mask, groups, g.dtype)


@defop("deformable_im2col")
class _deformable_im2col:
    def forward(xp, x, offset, mask, kernel, stride, pad, dilate, groups, modulated):
        """Columns (C, taps, N, positions): x sampled at each tap's deformed point (times the
        mask, when given)."""
        src = _channel_major(xp, x, groups)
        cols = None
        for index, weight, _, _ in _taps(xp, offset, x.shape[2:], kernel, stride, pad, dilate,
                                         groups, modulated):
            term = _gather(xp, src, index) * weight.astype(x.dtype)[:, None]
            if cols is None:
                cols = term
            else:
                cols += term
        if mask is not None:
            cols *= _mask_columns(xp, mask, groups, x.dtype)
        return cols.reshape((x.shape[1],) + cols.shape[2:])

    def backward(ctx, g):
        x, offset, mask = ctx.inputs
        p = ctx.params
        need = ctx.need
        gx = ctx.call(_deformable_col2im, g, offset, mask, size=x.shape[2:], **p) \
            if need[0] else None
        goffset = ctx.call(_deformable_offset_grad, g, x, offset, mask, **p) \
            if need[1] else None
        gmask = None
        if mask is not None and need[2]:  # the unmasked samples, summed over channels
            xp = ctx.xp
            samples = ctx.call(_deformable_im2col, x, offset, None, **p)
            per_group = xp.reshape(g * samples, (p["groups"], -1) + tuple(g.shape[1:]))
            gmask = xp.reshape(xp.moveaxis(xp.sum(per_group, axis=1), 2, 0), mask.shape)
        return gx, goffset, gmask


@defop("deformable_col2im")
class _deformable_col2im:
    def forward(xp, g, offset, mask, size, kernel, stride, pad, dilate, groups, modulated):
        """The adjoint of the sampling in the input: each column entry added, bilinearly
        weighted, into the corners it read (one scatter-add per corner)."""
        c, _, n, _ = g.shape
        gg = _masked(xp, g, mask, groups)
        area = n * size[0] * size[1]
        gx = xp.zeros(c * area, dtype=g.dtype)
        rows = (xp.arange(c) * area).reshape(gg.shape[:2] + (1, 1, 1))
        for index, weight, _, _ in _taps(xp, offset, size, kernel, stride, pad, dilate, groups,
                                         modulated):
            add_at(xp, gx, (rows + index[:, None]).reshape(-1),
                   (gg * weight.astype(g.dtype)[:, None]).reshape(-1))
        by_sample = xp.moveaxis(gx.reshape(c, n, -1), 1, 0)
        return xp.ascontiguousarray(by_sample).reshape((n, c) + tuple(size))

    def backward(ctx, gz):
        g, offset, mask = ctx.inputs
        if ctx.need[1] or ctx.need[2]:
            raise NotImplementedError(_SECOND_ORDER)
        p = dict(ctx.params)
        del p["size"]
        return ctx.call(_deformable_im2col, gz, offset, mask, **p), None, None


@defop("deformable_offset_grad")
class _deformable_offset_grad:
    def forward(xp, g, x, offset, mask, kernel, stride, pad, dilate, groups, modulated):
        """The gradient in the offsets: per tap, the column gradient against the derivative
        of the bilinear sample in dy and in dx, summed over the group's channels."""
        gg = _masked(xp, g, mask, groups)
        src = _channel_major(xp, x, groups)
        dy = dx = 0
        for index, _, slope_y, slope_x in _taps(xp, offset, x.shape[2:], kernel, stride, pad,
                                                dilate, groups, modulated):
            seen = xp.sum(gg * _gather(xp, src, index), axis=1)
            dy = dy + seen * slope_y
            dx = dx + seen * slope_x
        by_sample = xp.moveaxis(xp.stack([dy, dx], axis=2), 3, 0)  # (N, groups, taps, 2, P)
        return xp.ascontiguousarray(by_sample).astype(offset.dtype).reshape(offset.shape)

    def backward(ctx, gz):
        raise NotImplementedError(_SECOND_ORDER)


def _deformable(name, data, offset, mask, weight, bias, kernel, stride, dilate, pad, num_filter,
                num_group, num_deformable_group, no_bias, layout):
    """Checks the shapes (naming them) and runs the sampling, then the grouped matmul."""
    channel_last = _is_channel_last(layout, 2)
    data, offset = to_nd(data), to_nd(offset, data)
    weight = to_nd(weight, data)
    mask = None if mask is None else to_nd(mask, data)
    if channel_last:
        data, offset, weight = (_channels_first(a) for a in (data, offset, weight))
        mask = None if mask is None else _channels_first(mask)
    if data.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"{name} is 2-D only (as MXNet's): data {data.shape} and weight "
                         f"{weight.shape} must be (N, C, H, W) and (F, C/groups, kh, kw)")
    kernel = _tuple(kernel, 2, "kernel") or weight.shape[2:]
    if tuple(kernel) != weight.shape[2:]:
        raise ValueError(f"{name}: kernel={kernel} but weight has shape {weight.shape}")
    groups, dgroups = int(num_group), int(num_deformable_group)
    n, c = data.shape[:2]
    f = weight.shape[0]
    if c != weight.shape[1] * groups:
        raise ValueError(f"{name}: data has {c} channels but weight {weight.shape} with "
                         f"num_group={groups} expects {weight.shape[1] * groups}")
    if f % groups:
        raise ValueError(f"{name}: weight {weight.shape} has {f} filters, which do not split "
                         f"into num_group={groups} groups")
    if c % dgroups:
        raise ValueError(f"{name}: {c} data channels do not split into "
                         f"num_deformable_group={dgroups} groups")
    if num_filter is not None and num_filter != f:
        raise ValueError(f"{name}: num_filter={num_filter} but weight has {f} filters")
    stride = _tuple(stride, 2, "stride") or (1, 1)
    dilate = _tuple(dilate, 2, "dilate") or (1, 1)
    pad = _tuple(pad, 2, "pad") or (0, 0)
    out = _out_size(data.shape[2:], kernel, stride, pad, dilate)
    if any(o <= 0 for o in out):
        raise ValueError(f"{name}: kernel {kernel} (dilate {dilate}) does not fit data "
                         f"{data.shape} with pad {pad}")
    taps = kernel[0] * kernel[1]
    if offset.shape != (n, 2 * dgroups * taps) + out:
        raise ValueError(f"{name}: offset has shape {offset.shape}, expected "
                         f"{(n, 2 * dgroups * taps) + out} (N, 2 * num_deformable_group * kh "
                         f"* kw, H_out, W_out) for data {data.shape} and weight {weight.shape}")
    if mask is not None and mask.shape != (n, dgroups * taps) + out:
        raise ValueError(f"{name}: mask has shape {mask.shape}, expected "
                         f"{(n, dgroups * taps) + out} (N, num_deformable_group * kh * kw, "
                         f"H_out, W_out)")
    if no_bias:
        bias = None
    elif bias is not None:
        bias = to_nd(bias, data)
        if bias.shape != (f,):
            raise ValueError(f"{name}: bias of shape {bias.shape} does not match {f} filters")
    cols = apply(_deformable_im2col, (data, offset, mask),  # v2's border rule comes with its mask
                 {"kernel": tuple(kernel), "stride": stride, "pad": pad, "dilate": dilate,
                  "groups": dgroups, "modulated": mask is not None})
    y = matmul(reshape(weight, (groups, f // groups, -1)),
               reshape(cols, (groups, c // groups * taps, -1)))  # (groups, F/groups, N * P)
    y = moveaxis(reshape(y, (f, n) + out), 1, 0)
    if bias is not None:
        y = add(y, reshape(bias, (1, f, 1, 1)))
    return _channels_last(y) if channel_last else y


def deformable_convolution(data, offset, weight, bias=None, kernel=None, stride=None,
                           dilate=None, pad=None, num_filter=None, num_group=1,
                           num_deformable_group=1, workspace=1024, no_bias=False, layout=None):
    """Deformable convolution v1 (Dai et al., 2017; MXNet's ``DeformableConvolution``).

    Each kernel tap (i, j) of output position p0 reads the input bilinearly at
    p0 + (i, j) * dilate + offset, ``offset`` being (N, 2 * num_deformable_group * kh * kw,
    H_out, W_out): per deformable group (a split of the channels), per tap, a (dy, dx) pair.
    A point outside [0, H) x [0, W) reads 0; one in the last row's (column's) band reads
    that row (column). Weights (F, C / num_group, kh, kw); 2-D only. NHWC takes
    channel-last data, offset and (F, kh, kw, C / num_group) weights (MXNet's op is NCHW
    only). ``workspace`` is accepted and unused."""
    return _deformable("deformable_convolution", data, offset, None, weight, bias, kernel,
                       stride, dilate, pad, num_filter, num_group, num_deformable_group,
                       no_bias, layout)


def modulated_deformable_convolution(data, offset, mask, weight, bias=None, kernel=None,
                                     stride=None, dilate=None, pad=None, num_filter=None,
                                     num_group=1, num_deformable_group=1, workspace=1024,
                                     no_bias=False, im2col_step=64, layout=None):
    """Modulated deformable convolution, DCNv2 (Zhu et al., 2018; MXNet's
    ``ModulatedDeformableConvolution``): ``deformable_convolution`` with every sample
    multiplied by ``mask`` (N, num_deformable_group * kh * kw, H_out, W_out), and v2's
    border rule: the input is interpolated as if zero-padded, so points within one pixel
    outside the image still read its edge partly. ``workspace`` and ``im2col_step`` (a
    memory knob of MXNet's kernel) are accepted and unused."""
    if mask is None:
        raise ValueError("modulated_deformable_convolution needs a mask; without one use "
                         "deformable_convolution (its border rule differs)")
    return _deformable("modulated_deformable_convolution", data, offset, mask, weight, bias,
                       kernel, stride, dilate, pad, num_filter, num_group,
                       num_deformable_group, no_bias, layout)
