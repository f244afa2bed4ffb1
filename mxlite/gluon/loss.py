"""Losses (``gluon.loss``), as MXNet's: each returns one value per sample (batch axis kept).

``weight`` scales the loss, ``sample_weight`` (broadcastable to the loss) weighs
samples; losses are averaged over every axis except ``batch_axis``.
"""
import math

from .. import numpy as np
from .. import numpy_extension as npx
from ..ops.loss import ctc_loss, softmax_cross_entropy
from .block import HybridBlock

__all__ = ["Loss", "L2Loss", "L1Loss", "SoftmaxCrossEntropyLoss", "SoftmaxCELoss",
           "SigmoidBinaryCrossEntropyLoss", "SigmoidBCELoss", "KLDivLoss", "HuberLoss",
           "HingeLoss", "SquaredHingeLoss", "LogisticLoss", "CosineEmbeddingLoss",
           "PoissonNLLLoss", "CTCLoss", "TripletLoss", "SDMLLoss"]


def _apply_weighting(loss, weight=None, sample_weight=None):
    if sample_weight is not None:
        loss = loss * sample_weight
    if weight is not None:
        loss = loss * weight
    return loss


def _batch_mean(loss, batch_axis):
    """Mean over every axis but ``batch_axis``."""
    axes = tuple(a for a in range(loss.ndim) if a != batch_axis % max(loss.ndim, 1))
    return np.mean(loss, axis=axes) if axes else loss


def _softrelu_neg_abs(x):
    """log(1 + exp(-|x|)), which never overflows."""
    return np.log1p(np.exp(-np.abs(x)))


class Loss(HybridBlock):
    """Base class: holds ``weight`` and ``batch_axis``."""

    def __init__(self, weight, batch_axis):
        super().__init__()
        self._weight = weight
        self._batch_axis = batch_axis

    def __repr__(self):
        return f"{type(self).__name__}(batch_axis={self._batch_axis}, w={self._weight})"


class L2Loss(Loss):
    """``weight / 2 * (label - pred)^2``."""

    def __init__(self, weight=1.0, batch_axis=0):
        super().__init__(weight, batch_axis)

    def forward(self, pred, label, sample_weight=None):
        label = label.reshape(pred.shape)
        loss = np.square(label - pred)
        loss = _apply_weighting(loss, self._weight / 2, sample_weight)
        return _batch_mean(loss, self._batch_axis)


class L1Loss(Loss):
    """``weight * |label - pred|``."""

    def __init__(self, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)

    def forward(self, pred, label, sample_weight=None):
        label = label.reshape(pred.shape)
        loss = _apply_weighting(np.abs(label - pred), self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


class SoftmaxCrossEntropyLoss(Loss):
    """Cross entropy of softmax(pred) (or of log-probabilities with ``from_logits``).

    Sparse labels are class indices along ``axis``; dense labels are distributions.
    """

    def __init__(self, axis=-1, sparse_label=True, from_logits=False, weight=None,
                 batch_axis=0):
        super().__init__(weight, batch_axis)
        self._axis = axis
        self._sparse_label = sparse_label
        self._from_logits = from_logits

    def forward(self, pred, label, sample_weight=None):
        if self._sparse_label and not self._from_logits and self._axis % max(pred.ndim, 1) == pred.ndim - 1 \
                and label.size == pred.size // max(pred.shape[-1], 1) and pred.size:
            # one fused op (one kernel on a GPU) instead of log_softmax, pick and negate
            loss = softmax_cross_entropy(pred, label.reshape(pred.shape[:-1]))
            loss = _apply_weighting(loss.reshape(loss.shape + (1,)), self._weight, sample_weight)
            return _batch_mean(loss, self._batch_axis)
        if not self._from_logits:
            pred = npx.log_softmax(pred, axis=self._axis)
        if self._sparse_label:
            loss = -npx.pick(pred, label, axis=self._axis, keepdims=True)
        else:
            label = label.reshape(pred.shape)
            loss = -np.sum(pred * label, axis=self._axis, keepdims=True)
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


SoftmaxCELoss = SoftmaxCrossEntropyLoss


class SigmoidBinaryCrossEntropyLoss(Loss):
    """Binary cross entropy of sigmoid(pred) (or of probabilities with ``from_sigmoid``).

    ``pos_weight`` (passed to forward) weighs the positive term.
    """

    def __init__(self, from_sigmoid=False, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self._from_sigmoid = from_sigmoid

    def forward(self, pred, label, sample_weight=None, pos_weight=None):
        label = label.reshape(pred.shape)
        if not self._from_sigmoid:
            if pos_weight is None:
                loss = npx.relu(pred) - pred * label + _softrelu_neg_abs(pred)
            else:
                log_weight = 1 + (pos_weight - 1) * label
                loss = pred - pred * label + log_weight * (
                    _softrelu_neg_abs(pred) + npx.relu(-pred))
        else:
            eps = 1e-12
            pos = np.log(pred + eps) * label
            if pos_weight is not None:
                pos = pos * pos_weight
            loss = -(pos + np.log(1.0 - pred + eps) * (1.0 - label))
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


SigmoidBCELoss = SigmoidBinaryCrossEntropyLoss


class KLDivLoss(Loss):
    """``label * (log(label) - pred)`` with ``pred`` log-probabilities (``from_logits``)."""

    def __init__(self, from_logits=True, axis=-1, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self._from_logits = from_logits
        self._axis = axis

    def forward(self, pred, label, sample_weight=None):
        if not self._from_logits:
            pred = npx.log_softmax(pred, axis=self._axis)
        loss = label * (np.log(label + 1e-12) - pred)
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


class HuberLoss(Loss):
    """Quadratic for |error| <= rho, linear beyond (smooth L1)."""

    def __init__(self, rho=1, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self._rho = rho

    def forward(self, pred, label, sample_weight=None):
        label = label.reshape(pred.shape)
        err = np.abs(label - pred)
        loss = np.where(err > self._rho, err - 0.5 * self._rho,
                        (0.5 / self._rho) * np.square(err))
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


class HingeLoss(Loss):
    """``max(0, margin - pred * label)`` for labels in {-1, 1}."""

    def __init__(self, margin=1, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self._margin = margin

    def forward(self, pred, label, sample_weight=None):
        label = label.reshape(pred.shape)
        loss = npx.relu(self._margin - pred * label)
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


class SquaredHingeLoss(Loss):
    """``max(0, margin - pred * label)^2`` for labels in {-1, 1}."""

    def __init__(self, margin=1, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self._margin = margin

    def forward(self, pred, label, sample_weight=None):
        label = label.reshape(pred.shape)
        loss = np.square(npx.relu(self._margin - pred * label))
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


class LogisticLoss(Loss):
    """``log(1 + exp(-pred * label))``; labels 'signed' {-1, 1} or 'binary' {0, 1}."""

    def __init__(self, weight=None, batch_axis=0, label_format="signed"):
        super().__init__(weight, batch_axis)
        if label_format not in ("signed", "binary"):
            raise ValueError(f"label_format can only be signed or binary, received "
                             f"{label_format!r}")
        self._label_format = label_format

    def forward(self, pred, label, sample_weight=None):
        label = label.reshape(pred.shape)
        if self._label_format == "binary":
            label = 2 * label - 1
        z = pred * label
        loss = npx.relu(-z) + _softrelu_neg_abs(z)
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


class CosineEmbeddingLoss(Loss):
    """``1 - cos(x1, x2)`` for label 1, ``max(0, cos(x1, x2) - margin)`` for label -1."""

    def __init__(self, weight=None, batch_axis=0, margin=0):
        super().__init__(weight, batch_axis)
        self._margin = margin

    def forward(self, input1, input2, label, sample_weight=None):
        norm1 = np.sqrt(np.sum(np.square(input1), axis=-1))
        norm2 = np.sqrt(np.sum(np.square(input2), axis=-1))
        dot = np.sum(input1 * input2, axis=-1)
        cos_sim = dot / np.maximum(norm1 * norm2, 1e-12)
        label = label.reshape(cos_sim.shape)
        loss = np.where(label == 1, 1 - cos_sim, npx.relu(cos_sim - self._margin))
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return _batch_mean(loss, self._batch_axis)


class TripletLoss(Loss):
    """``max(0, |pred - positive|^2 - |pred - negative|^2 + margin)``, the squared
    distances summed over every axis but ``batch_axis`` (MXNet sums, it does not average)."""

    def __init__(self, margin=1, weight=None, batch_axis=0):
        super().__init__(weight, batch_axis)
        self._margin = margin

    def forward(self, pred, positive, negative, sample_weight=None):
        positive, negative = positive.reshape(pred.shape), negative.reshape(pred.shape)
        gap = np.square(positive - pred) - np.square(negative - pred)
        axes = tuple(a for a in range(gap.ndim) if a != self._batch_axis % max(gap.ndim, 1))
        loss = npx.relu(np.sum(gap, axis=axes) + self._margin)
        return _apply_weighting(loss, self._weight, sample_weight)


class SDMLLoss(Loss):
    """Smoothed deep metric learning: row ``i`` of ``x1`` should be nearest to row ``i`` of
    ``x2`` among the batch. The KL divergence between softmax(-squared distances) and the
    identity smoothed by ``smoothing_parameter``, averaged per row as MXNet 2.x does."""

    def __init__(self, smoothing_parameter=0.3, weight=1., batch_axis=0):
        super().__init__(weight, batch_axis)
        self._kl = KLDivLoss(from_logits=True)
        self._smoothing = smoothing_parameter

    def forward(self, x1, x2):
        if x1.ndim != 2 or x1.shape != x2.shape:
            raise ValueError(f"SDMLLoss takes two (batch, dim) arrays of one shape, got "
                             f"{x1.shape} and {x2.shape}")
        n = x1.shape[0]
        distances = np.sum(np.square(np.expand_dims(x1, 1) - np.expand_dims(x2, 0)), axis=2)
        eye = np.eye(n, dtype=x1.dtype, device=x1.device)
        labels = eye * (1 - self._smoothing) + (1 - eye) * (self._smoothing / max(n - 1, 1))
        return self._kl(npx.log_softmax(-distances, axis=1), labels)


class PoissonNLLLoss(Loss):
    """Negative log-likelihood of ``target`` under Poisson(pred) (the mean over everything).

    With ``from_logits`` ``pred`` is the log of the rate; ``compute_full`` adds the
    Stirling term for targets above 1.
    """

    def __init__(self, weight=None, from_logits=True, batch_axis=0, compute_full=False):
        super().__init__(weight, batch_axis)
        self._from_logits = from_logits
        self._compute_full = compute_full

    def forward(self, pred, target, sample_weight=None, epsilon=1e-08):
        target = target.reshape(pred.shape)
        if self._from_logits:
            loss = np.exp(pred) - target * pred
        else:
            loss = pred - target * np.log(pred + epsilon)
        if self._compute_full:
            safe = np.maximum(target, 1.0)
            stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe)
            loss = loss + np.where(target > 1, stirling, 0.0)
        loss = _apply_weighting(loss, self._weight, sample_weight)
        return np.mean(loss)


class CTCLoss(Loss):
    """Connectionist temporal classification loss (Graves et al.), one value per sample.

    ``pred`` holds unnormalized scores over ``alphabet_size`` classes whose last class is
    the blank; ``label`` holds class indices in ``[0, alphabet_size - 1)`` padded with -1.
    ``pred_lengths``/``label_lengths`` give per-sample lengths (default: all of ``pred``;
    the labels up to the first -1). Layouts: ``layout`` 'NTC' or 'TNC', ``label_layout``
    'NT' or 'TN'.
    """

    def __init__(self, layout="NTC", label_layout="NT", weight=None):
        if layout not in ("NTC", "TNC"):
            raise ValueError(f"Only 'NTC' and 'TNC' layouts for pred are supported, got {layout}")
        if label_layout not in ("NT", "TN"):
            raise ValueError(f"Only 'NT' and 'TN' layouts for label are supported, got "
                             f"{label_layout}")
        super().__init__(weight, label_layout.find("N"))
        self._layout = layout
        self._label_layout = label_layout

    def forward(self, pred, label, pred_lengths=None, label_lengths=None, sample_weight=None):
        if self._layout == "NTC":
            pred = np.swapaxes(pred, 0, 1)
        if self._label_layout == "TN":
            label = np.swapaxes(label, 0, 1)
        if pred_lengths is not None and not isinstance(pred_lengths, np.ndarray):
            pred_lengths = np.array(pred_lengths, device=pred.device)
        if label_lengths is not None and not isinstance(label_lengths, np.ndarray):
            label_lengths = np.array(label_lengths, device=pred.device)
        loss = ctc_loss(pred, label, pred_lengths, label_lengths,
                        use_data_lengths=pred_lengths is not None,
                        use_label_lengths=label_lengths is not None, blank_label="last")
        return _apply_weighting(loss, self._weight, sample_weight)
