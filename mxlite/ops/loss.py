"""Fused loss ops: one op where a chain of ops would keep large intermediates for backward.

``softmax_cross_entropy`` is ``-pick(log_softmax(logits), labels)`` as one op: its aux is the
gradient for a unit head (softmax - onehot), so backward is one product, and on a GPU one
kernel computes both (``kernels/softmax.cu``). ``gluon.loss.SoftmaxCrossEntropyLoss`` uses it
for sparse labels over the last axis.

``ctc_loss`` is MXNet's ``_npx_ctc_loss`` (connectionist temporal classification): one op
whose forward runs the alpha-beta recursions in log space, vectorized over the batch and
the extended label, and keeps d(loss)/d(activations) as its aux, so backward is one product.
``gluon.loss.CTCLoss`` uses it with ``blank_label='last'``.
"""
import numpy as _np

from ..autograd import apply, defop
from ..backend import CPU, GPU
from ..ndarray import wrap_constant
from . import to_nd
from .elemwise import where
from .reduce import any as any_, argmax

__all__ = ["ctc_loss"]


def _onehot(xp, labels, classes, dtype):
    """Labels clipped into range (pick's mode 'clip') as one-hot rows."""
    index = xp.clip(labels.astype(_np.int64), 0, classes - 1)
    return (index[..., None] == xp.arange(classes)).astype(dtype)


@defop("softmax_cross_entropy", has_aux=True)
class _softmax_cross_entropy:
    """Cross entropy of softmax(logits) over the last axis with class-index labels."""

    def forward(xp, logits, labels):
        shifted = logits - logits.max(axis=-1, keepdims=True)
        exp = xp.exp(shifted)
        total = exp.sum(axis=-1, keepdims=True)
        onehot = _onehot(xp, labels, logits.shape[-1], logits.dtype)
        loss = (xp.log(total) - (shifted * onehot).sum(axis=-1, keepdims=True))[..., 0]
        return loss.astype(logits.dtype, copy=False), exp / total - onehot

    def backward(ctx, g):
        """The formula from the inputs, so that ``create_graph=True`` differentiates it."""
        xp = ctx.xp
        logits, labels = ctx.inputs
        exp = xp.exp(logits - logits.max(axis=-1, keepdims=True))
        softmax = exp / exp.sum(axis=-1, keepdims=True)
        return g[..., None] * (softmax - _onehot(xp, labels, logits.shape[-1], logits.dtype)), None


def _backward_from_aux(ctx, g):
    return g[..., None] * ctx.aux, None


_softmax_cross_entropy.register(CPU, backward=_backward_from_aux)
_softmax_cross_entropy.register(GPU, backward=_backward_from_aux)


def softmax_cross_entropy(logits, labels):
    """Per-row loss (shape ``logits.shape[:-1]``); ``labels`` of that shape hold class indices."""
    logits = to_nd(logits)
    labels = to_nd(labels, like=logits)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"sparse labels must have shape {logits.shape[:-1]} for logits of shape "
                         f"{logits.shape}; got {labels.shape}")
    return apply(_softmax_cross_entropy, (logits, labels))


# -- CTC ------------------------------------------------------------------------------------

def _shift_right(xp, a, k, fill):
    out = xp.full_like(a, fill)
    out[:, k:] = a[:, :-k]
    return out


def _shift_left(xp, a, k, fill):
    out = xp.full_like(a, fill)
    out[:, :-k] = a[:, k:]
    return out


@defop("ctc_loss", has_aux=True)
class _ctc_loss:
    """CTC loss of (T, N, C) unnormalized activations; ``labels`` (N, L) int64 holding
    ``label_lengths`` (N,) valid entries each, ``data_lengths`` (N,) valid steps each,
    ``blank`` the blank class. A label no alignment fits gives an infinite loss and a zero
    gradient."""

    def forward(xp, acts, labels, data_lengths, label_lengths, blank):
        t_max, n, c = acts.shape
        labels = labels.astype(_np.int64)
        data_lengths = data_lengths.astype(_np.int64)
        label_lengths = label_lengths.astype(_np.int64)
        in_label = xp.arange(labels.shape[1])[None, :] < label_lengths[:, None]
        bad = in_label & ((labels < 0) | (labels >= c) | (labels == blank))
        if bool(bad.any()):
            row = int(xp.argmax(bad.any(axis=1)))
            value = int(labels[row][bad[row]][0])
            raise ValueError(f"ctc_loss: label value {value} (batch entry {row}) is not a class "
                             f"of the {c} classes other than the blank {blank}")
        if bool(((data_lengths < 0) | (data_lengths > t_max)).any()):
            raise ValueError(f"ctc_loss: data_lengths must be in [0, {t_max}] (the data's "
                             f"sequence length)")
        shifted = acts - xp.max(acts, axis=2, keepdims=True)
        logp = shifted - xp.log(xp.sum(xp.exp(shifted), axis=2, keepdims=True))
        s_max = 2 * labels.shape[1] + 1
        ext = xp.full((n, s_max), blank, dtype=_np.int64)
        ext[:, 1::2] = xp.where(in_label, labels, blank)
        s_len = 2 * label_lengths + 1
        pos = xp.arange(s_max)[None, :]
        valid = pos < s_len[:, None]
        skip = xp.zeros((n, s_max), dtype=bool)
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        neg_inf = xp.asarray(-xp.inf, dtype=logp.dtype)
        emit = xp.stack([xp.take_along_axis(logp[t], ext, axis=1) for t in range(t_max)])

        alpha = xp.full((t_max, n, s_max), neg_inf, dtype=logp.dtype)
        alpha[0, :, 0] = emit[0, :, 0]
        alpha[0, :, 1] = xp.where(s_len > 1, emit[0, :, 1], neg_inf)
        for t in range(1, t_max):
            prev = alpha[t - 1]
            total = xp.logaddexp(prev, _shift_right(xp, prev, 1, neg_inf))
            total = xp.logaddexp(total, xp.where(skip, _shift_right(xp, prev, 2, neg_inf),
                                                 neg_inf))
            alpha[t] = xp.where(valid, total + emit[t], neg_inf)

        last = xp.clip(data_lengths - 1, 0, t_max - 1)
        rows = xp.arange(n)
        end = alpha[last, rows]
        final = xp.take_along_axis(end, (s_len - 1)[:, None], axis=1)[:, 0]
        before = xp.take_along_axis(end, xp.maximum(s_len - 2, 0)[:, None], axis=1)[:, 0]
        log_p = xp.logaddexp(final, xp.where(s_len > 1, before, neg_inf))
        log_p = xp.where(data_lengths > 0, log_p, xp.where(label_lengths == 0, 0.0, neg_inf))

        beta = xp.full((t_max, n, s_max), neg_inf, dtype=logp.dtype)
        end_mask = valid & (pos >= (s_len - 2)[:, None])
        skip_next = xp.zeros_like(skip)
        skip_next[:, :-2] = skip[:, 2:]
        for t in range(t_max - 1, -1, -1):
            start = xp.where(end_mask, emit[t], neg_inf)
            if t + 1 < t_max:
                nxt = beta[t + 1]
                total = xp.logaddexp(nxt, _shift_left(xp, nxt, 1, neg_inf))
                total = xp.logaddexp(total, xp.where(skip_next, _shift_left(xp, nxt, 2, neg_inf),
                                                     neg_inf))
                rec = xp.where(valid, total + emit[t], neg_inf)
            else:
                rec = xp.full_like(start, neg_inf)
            here = (t == last)[:, None]
            inside = (t < last)[:, None]
            beta[t] = xp.where(here, start, xp.where(inside, rec, neg_inf))

        with _np.errstate(invalid="ignore", over="ignore"):
            occupancy = xp.exp(alpha + beta - emit - log_p[None, :, None])
        occupancy = xp.where(xp.isfinite(occupancy), occupancy, 0)
        onehot = (ext[:, :, None] == xp.arange(c)[None, None, :]) & valid[:, :, None]
        expected = xp.einsum("tns,nsc->tnc", occupancy, onehot.astype(logp.dtype))
        in_time = (xp.arange(t_max)[:, None] < data_lengths[None, :])[:, :, None]
        grad = xp.where(in_time, xp.exp(logp) - expected, 0)
        grad = xp.where(xp.isfinite(log_p)[None, :, None], grad, 0)
        return (-log_p).astype(acts.dtype, copy=False), grad.astype(acts.dtype, copy=False)

    def backward(ctx, g):
        return g[None, :, None] * ctx.aux, None, None, None, None


def _lengths(x, like, batch, what):
    x = to_nd(x, like=like)
    if x.shape != (batch,):
        raise ValueError(f"ctc_loss: {what} must have shape ({batch},) (one length per batch "
                         f"entry), got {x.shape}")
    return x


def ctc_loss(data, label, data_lengths=None, label_lengths=None, use_data_lengths=False,
             use_label_lengths=False, blank_label="first", **kwargs):
    """MXNet's CTC loss (``_npx_ctc_loss``), one value per batch entry, shape (N,).

    ``data`` (T, N, C) holds unnormalized activations (softmax is taken over C inside);
    ``label`` (N, L) class indices. ``blank_label='first'``: class 0 is the blank, labels are
    in [1, C), and without ``use_label_lengths`` each label ends at its first 0;
    ``'last'``: class C-1 is the blank, labels in [0, C-1), padding -1. ``use_data_lengths``
    / ``use_label_lengths`` take the lengths from ``data_lengths`` / ``label_lengths``
    (N,) instead. Differentiable in ``data``.
    """
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"ctc_loss got unexpected keyword arguments {sorted(kwargs)}")
    if blank_label not in ("first", "last"):
        raise ValueError(f"ctc_loss: blank_label must be 'first' or 'last', got {blank_label!r}")
    data = to_nd(data)
    label = to_nd(label, like=data)
    if data.ndim != 3:
        raise ValueError(f"ctc_loss: data must be 3-d (sequence length, batch, alphabet size), "
                         f"got shape {data.shape}")
    if label.ndim != 2:
        raise ValueError(f"ctc_loss: label must be 2-d (batch, label length), got shape "
                         f"{label.shape}")
    steps, batch, classes = data.shape
    if label.shape[0] != batch:
        raise ValueError(f"ctc_loss: data of shape {data.shape} has batch size {batch} but "
                         f"label of shape {label.shape} has {label.shape[0]}")
    if label.shape[1] > steps:
        raise ValueError(f"ctc_loss: the label length {label.shape[1]} (label shape "
                         f"{label.shape}) cannot exceed the data's sequence length {steps} "
                         f"(data shape {data.shape})")
    for given, use, what in ((data_lengths, use_data_lengths, "data_lengths"),
                             (label_lengths, use_label_lengths, "label_lengths")):
        if use and given is None:
            raise ValueError(f"ctc_loss: use_{what}=True needs {what}")
        if given is not None and not use:
            raise ValueError(f"ctc_loss: {what} is given but use_{what}=False")
    if use_data_lengths:
        data_len = _lengths(data_lengths, data, batch, "data_lengths")
    else:
        with data._device.backend.scope():
            data_len = wrap_constant(data._device.backend.xp.full((batch,), steps,
                                                                  dtype=_np.int64), data._device)
    if use_label_lengths:
        label_len = _lengths(label_lengths, data, batch, "label_lengths")
    else:  # up to the first padding value, by ops so that a graph replays it
        padded = label == (0 if blank_label == "first" else -1)
        label_len = where(any_(padded, axis=1), argmax(padded, axis=1), label.shape[1])
    blank = 0 if blank_label == "first" else classes - 1
    return apply(_ctc_loss, (data, label, data_len, label_len, blank))
