"""Ops: each differentiable operation with its backward beside its forward.

Adding an op is one edit in one file, written one of two ways:

- An elementwise op (unary, or broadcasting binary) is one row of its module's ``ROWS``
  table (``elemwise``, ``special``)::

      unary("exp", lambda ctx, g: (g * ctx.out,), save_out=True),
      binary("subtract", lambda ctx, g: (g, -g if ctx.need[1] else None)),

  ``unary``/``binary(name, backward, forward=None, save_out=False, alias=None, doc=None)``:
  the forward is ``xp.<name>`` unless ``forward`` names another ``xp`` function or is a
  callable ``forward(xp, *inputs)``; ``backward(ctx, g)`` returns one gradient (or None)
  per input, skipping those ``ctx.need`` does not ask for; ``None`` declares the op not
  differentiable and ``zero_gradient`` gives it a zero gradient. The row makes the op
  (registered as ``name``: kernels attach by that name) and the public function
  ``f(x, out=None, **ufunc_keywords)`` or ``f(x1, x2, out=None, **ufunc_keywords)`` with
  ``f.op`` (numpy's ufunc keywords at their defaults, as MXNet; integers meet floats in the
  float's dtype, see ``elemwise.unary``/``binary``); the public names (``name``
  and ``alias``) and the module's ``__all__`` come from the table
  (``__all__ = export(globals(), ROWS)``), and ``mxlite.numpy`` / ``mxlite.numpy_extension``
  re-export ``__all__``.
- Anything else is an op declared with ``mxlite.autograd.defop`` and the public function
  that applies it, listed in its module's ``__all__``::

      @defop("clip")
      class _clip:
          def forward(xp, x, a_min, a_max): ...
          def backward(ctx, g): ...  # one gradient (or None) per input

      def clip(a, a_min=None, a_max=None):
          return apply(_clip, (to_nd(a), a_min, a_max))

See ``mxlite.autograd.Op`` for what ``forward`` gets and what ``ctx`` offers. A public
function that only calls other ops declares no op of its own: it goes in ``composite``.

Modules: ``elemwise`` (unary/binary math, comparisons, where, clip), ``reduce``,
``shape`` (data movement and indexing), ``linalg`` (products, einsum, numpy.linalg),
``nn`` (npx activations, softmax family, embedding, helpers), ``norm``, ``conv``
(convolution, deconvolution, pooling, deformable convolutions), ``special`` (erf, gamma
family), ``loss`` (fused losses: softmax_cross_entropy, ctc_loss), ``indexing`` (gather_nd,
index_add / index_update, sequence_reverse, ...), ``detection`` (box and multibox ops, ROI
pooling), ``image`` (``npx.image``), ``rnn`` (npx.rnn and the cell math gluon shares),
``control`` (foreach, while_loop, cond) and ``composite``:
public functions built only from other modules' ops (average, nan-reductions, quantiles,
vdot/inner/outer/kron, diagonals and triangles, linalg.norm, logsumexp, topk, one_hot,
sequence_mask, batch_dot, l2_normalization). Op modules import each other only at the top
(``composite`` imports the primitive modules), never at call time.

Where MXNet's gradient is wrong, mxlite is correct instead: prod with zeros (no NaN),
var/std (MXNet: zeros), repeat (MXNet: zeros), selu for x < 0, arctan2 with a scalar
first operand, cumsum on axis=-1, take_along_axis under autograd, and batch_norm's input
gradient with running statistics. Conventions kept from MXNet: ties at max/min
reductions give every tied element the full gradient; maximum/minimum give a tie to
the first operand; relu'(0) = abs'(0) = 0; clip passes the gradient at its bounds;
rounding ops and sign have zero gradient. batch_norm updates its running statistics in
the forward pass (MXNet: in backward).
"""
import functools
import numbers

import numpy as _np

from ..autograd import Op, apply, check_inplace, is_recording
from ..base import MXNetError, default_float
from ..device import current_device
from ..ndarray import ndarray, wrap

__all__ = ["Op", "apply", "is_recording", "to_nd", "is_scalar", "finish_out", "add_at",
           "same_dtype_matmul", "as_axes", "keep_shape", "AxisError", "EmptyReductionError",
           "ShapeError"]


class AxisError(_np.exceptions.AxisError, MXNetError):
    """An axis out of range: numpy's AxisError and, as MXNet raises there, an MXNetError."""


class ShapeError(ValueError, MXNetError):
    """Operand shapes an op cannot combine: numpy's ValueError and MXNet's MXNetError."""


class EmptyReductionError(ValueError, MXNetError):
    """A reduction with no identity (max, argmin, ...) over no elements: numpy's ValueError
    and MXNet's MXNetError."""


def on_inputs_device(fn):
    """Run ``fn`` (an op-layer function that calls the array module directly, outside an
    op's dispatch) inside the scope of its first array argument's device: CuPy works on
    the current GPU, so a raw call on a gpu(1) array from outside its scope would land on
    device 0."""
    @functools.wraps(fn)
    def scoped(*args, **kwargs):
        for a in args:
            if isinstance(a, ndarray):
                with a._device.backend.scope():
                    return fn(*args, **kwargs)
        with current_device().backend.scope():
            return fn(*args, **kwargs)
    return scoped


def to_nd(x, like=None):
    """``x`` as an ndarray: lists and host arrays go to ``like``'s device (or the default)."""
    if isinstance(x, ndarray):
        return x
    dev = like._device if isinstance(like, ndarray) else current_device()
    data = dev.backend.asarray(x)
    if data.dtype.kind == "f" and data.dtype.itemsize == 8 and not hasattr(x, "dtype"):
        data = data.astype(default_float())
    return wrap(data, dev)


def is_scalar(x):
    return isinstance(x, numbers.Number) and not isinstance(x, ndarray)


def finish_out(res, out):
    """Implement numpy's ``out=``: copy ``res`` into ``out`` (not differentiable); a bool
    result (isnan, comparisons, ...) needs a bool ``out`` (MXNet: TypeError)."""
    if out is None:
        return res
    if not isinstance(out, ndarray):
        raise TypeError(f"out must be an mxlite ndarray, got {type(out).__name__}")
    if out.shape != res.shape:
        raise ValueError(f"out has shape {out.shape} but the result has shape {res.shape}")
    if res.dtype == _np.bool_ and out.dtype != _np.bool_:
        raise TypeError(f"out must be a bool array for a bool result (MXNet), got {out.dtype}")
    if out._device is not res._device:
        raise ValueError(f"out is on {out._device} but the result is on {res._device}")
    check_inplace(out)
    backend = out._device.backend
    with backend.scope():
        backend.xp.copyto(out._data, res._data, casting="unsafe")
    return out


def add_at(xp, out, key, values):
    """``out[key] += values`` with repeated indices accumulating (numpy's ``add.at``, CuPy's
    ``scatter_add``)."""
    if xp is _np:
        _np.add.at(out, key, values)
    else:
        import cupyx
        cupyx.scatter_add(out, key, values)


def same_dtype_matmul(xp, a, b):
    """``xp.matmul`` in the operands' dtype when they share one: ml_dtypes answers a bfloat16
    product in float32, and a 16-bit product must stay 16-bit (AMP's target-dtype ops)."""
    y = xp.matmul(a, b)
    if y.dtype != a.dtype and a.dtype == b.dtype:
        return y.astype(a.dtype)
    return y


def matmul_transposed(xp, a, b):
    """``a @ b.T`` for ``a`` (..., m, n) and ``b`` (..., k, n), as a gradient wants it.
    OpenBLAS is slow on this product when m is a small batch (8..48 rows) and k > m: there
    ``(b @ a.T).T`` made contiguous takes 0.55-0.87x the time (bench/README.md, "GEMM
    orientation"; the copy keeps later elementwise passes on a C-ordered gradient)."""
    if (xp is _np and a.ndim == 2 and b.ndim == 2 and 8 <= a.shape[0] <= 48
            and b.shape[0] > a.shape[0]):
        return xp.ascontiguousarray(same_dtype_matmul(xp, b, a.T).T)
    return same_dtype_matmul(xp, a, xp.swapaxes(b, -1, -2))


def as_axes(axis, ndim):
    """Normalize ``axis`` (None, int or tuple, negatives allowed) to a sorted tuple."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(a + ndim if a < 0 else a for a in axis)
    else:
        axes = (axis + ndim if axis < 0 else axis,)
    for a in axes:
        if not 0 <= a < max(ndim, 1):
            raise AxisError(f"axis {axis} is out of bounds for an array of "
                                           f"dimension {ndim}")
    return tuple(sorted(axes))


def keep_shape(shape, axis):
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    axes = as_axes(axis, len(shape))
    return tuple(1 if i in axes else s for i, s in enumerate(shape))



from . import gpu_kernels  # noqa: E402,F401 - installs the GPU kernel hook (needs the helpers above)
