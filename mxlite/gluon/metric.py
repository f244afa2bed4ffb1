"""Evaluation metrics (``gluon.metric``), as MXNet 2.x has them: accumulate over
``update(labels, preds)`` calls, read with ``get()``. Values are computed on the host in
float64, so a metric never holds device memory or changes the arrays it is given.

MXNet 2.x keeps one running total per metric (``reset``/``get``); the 1.x pair
``reset_local``/``get_global`` is gone there and is not offered here."""
import json
import math
from collections import OrderedDict

import numpy as _np

from ..ndarray import ndarray

__all__ = ["EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "Fbeta",
           "BinaryAccuracy", "MCC", "PCC", "MAE", "MSE", "RMSE", "MeanPairwiseDistance",
           "MeanCosineSimilarity", "CrossEntropy", "NegativeLogLikelihood", "Perplexity",
           "PearsonCorrelation", "Loss", "Torch", "CustomMetric", "np", "create", "register",
           "check_label_shapes"]

_REGISTRY = {}


def register(klass, *aliases):
    """Make ``klass`` creatable by ``create(name)`` under its lower-cased name and ``aliases``."""
    for name in (klass.__name__.lower(),) + aliases:
        _REGISTRY[name.lower()] = klass
    return klass


def create(metric, *args, **kwargs):
    """A metric from an instance, a name ('acc', 'f1', ...), a ``feval(label, pred)`` callable
    (a CustomMetric), a list of those (a CompositeEvalMetric), or a ``get_config()`` dict or
    its JSON text."""
    if isinstance(metric, EvalMetric):
        return metric
    if isinstance(metric, str) and metric.lstrip().startswith("{"):
        metric = json.loads(metric)
    if isinstance(metric, dict):
        config = dict(metric)
        if "metric" not in config:
            raise ValueError(f"a metric config needs its 'metric' class name, got {config}")
        return create(config.pop("metric"), *args, **{**config, **kwargs})
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, (list, tuple)):
        return CompositeEvalMetric([create(m, *args, **kwargs) for m in metric])
    klass = _REGISTRY.get(str(metric).lower()) if isinstance(metric, str) else None
    if klass is None:
        raise ValueError(f"Metric must be an EvalMetric, a callable or one of "
                         f"{sorted(_REGISTRY)}, got {metric!r}")
    return klass(*args, **kwargs)


def _host(x):
    if isinstance(x, ndarray):
        return x.asnumpy()
    return _np.asarray(x)


def check_label_shapes(labels, preds, wrap=False, shape=False):
    """Raise when the number (or with ``shape``, the shapes) of labels and predictions differ;
    with ``wrap`` a single array becomes a one-element list."""
    if wrap:
        if isinstance(labels, (ndarray, _np.ndarray)):
            labels = [labels]
        if isinstance(preds, (ndarray, _np.ndarray)):
            preds = [preds]
    got = (labels.shape, preds.shape) if shape else (len(labels), len(preds))
    if got[0] != got[1]:
        raise ValueError(f"Shape of labels {got[0]} does not match shape of predictions {got[1]}")
    return labels, preds


def _pairs(labels, preds):
    labels, preds = check_label_shapes(labels, preds, wrap=True)
    return [(_host(label), _host(pred)) for label, pred in zip(labels, preds)]


class EvalMetric:
    """Base class: ``sum_metric / num_inst`` (nan before the first update)."""

    def __init__(self, name, output_names=None, label_names=None, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._kwargs = kwargs
        self.reset()

    def reset(self):
        self.num_inst = 0
        self.sum_metric = 0.0

    def update(self, labels, preds):
        raise NotImplementedError(f"{type(self).__name__} must implement update")

    def update_dict(self, label, pred):
        """Update from name -> array mappings, keeping ``label_names``/``output_names``."""
        pred = [pred[n] for n in self.output_names] if self.output_names is not None \
            else list(pred.values())
        label = [label[n] for n in self.label_names] if self.label_names is not None \
            else list(label.values())
        self.update(label, pred)

    def get(self):
        if self.num_inst == 0:
            return self.name, float("nan")
        return self.name, float(self.sum_metric / self.num_inst)

    def allreduce(self, kvstore):
        """Pool this metric's totals over the workers of ``kvstore`` (``mx.kv.create(
        'dist_sync')``, or a Trainer's): afterwards every rank holds the figure of all ranks'
        updates, exactly as if one process had seen them all. Call it on every rank, then
        ``get()``."""
        totals = kvstore.allgather(self._totals(), f"allreduce of metric '{self.name}'")
        self.reset()
        for theirs in totals:
            self._merge(theirs)
        return self

    def _totals(self):
        """What ``_merge`` needs to add another worker's updates (picklable)."""
        return self.sum_metric, self.num_inst

    def _merge(self, totals):
        self.sum_metric += totals[0]
        self.num_inst += totals[1]

    def get_name_value(self):
        name, value = self.get()
        if not isinstance(name, list):
            name, value = [name], [value]
        return list(zip(name, value))

    def get_config(self):
        """The arguments that recreate this metric with ``create(**config)``."""
        config = dict(self._kwargs)
        config.update(metric=type(self).__name__, name=self.name,
                      output_names=self.output_names, label_names=self.label_names)
        return config

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"


class _Summed(EvalMetric):
    """Sums the ``(total, count)`` that ``_batch(label, pred)`` gives each pair; every pair of
    an update is computed before any is added, so a bad one leaves the metric as it was."""

    def _batch(self, label, pred):
        raise NotImplementedError

    def update(self, labels, preds):
        results = [self._batch(label, pred) for label, pred in _pairs(labels, preds)]
        for total, count in results:
            self.sum_metric += float(total)
            self.num_inst += int(count)


class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` returns lists of names and values."""

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        self.metrics = [create(m) for m in (metrics or [])]
        super().__init__(name, output_names=output_names, label_names=label_names)

    def add(self, metric):
        self.metrics.append(create(metric))

    def get_metric(self, index):
        if not -len(self.metrics) <= index < len(self.metrics):
            raise IndexError(f"Metric index {index} is out of range 0 and {len(self.metrics)}")
        return self.metrics[index]

    def reset(self):
        for m in self.metrics:
            m.reset()

    def update(self, labels, preds):
        for m in self.metrics:
            m.update(labels, preds)

    def _totals(self):
        return [m._totals() for m in self.metrics]

    def _merge(self, totals):
        for m, t in zip(self.metrics, totals):
            m._merge(t)

    def update_dict(self, labels, preds):
        if self.label_names is not None:
            labels = OrderedDict((k, v) for k, v in labels.items() if k in self.label_names)
        if self.output_names is not None:
            preds = OrderedDict((k, v) for k, v in preds.items() if k in self.output_names)
        for m in self.metrics:
            m.update_dict(labels, preds)

    def get(self):
        names, values = [], []
        for m in self.metrics:
            name, value = m.get()
            names.extend(name if isinstance(name, list) else [name])
            values.extend(value if isinstance(value, list) else [value])
        return names, values

    def get_config(self):
        config = super().get_config()
        config["metrics"] = [m.get_config() for m in self.metrics]
        return config


register(CompositeEvalMetric, "composite")


# ---------------------------------------------------------------- classification

class Accuracy(_Summed):
    """Fraction of predictions equal to the labels (class scores are argmax'ed on ``axis``)."""

    def __init__(self, axis=1, name="accuracy", output_names=None, label_names=None):
        super().__init__(name, axis=axis, output_names=output_names, label_names=label_names)
        self.axis = axis

    def _batch(self, label, pred):
        if pred.shape != label.shape:
            pred = _np.argmax(pred, axis=self.axis)
        pred = pred.astype(_np.int32).ravel()
        label = label.astype(_np.int32).ravel()
        check_label_shapes(label, pred)
        return float((pred == label).sum()), len(pred)


register(Accuracy, "acc")


class TopKAccuracy(_Summed):
    """Fraction of samples whose label is among the ``top_k`` highest scores; the name gets
    ``_<top_k>`` appended, as MXNet's."""

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        super().__init__(f"{name}_{top_k}", top_k=top_k, output_names=output_names,
                         label_names=label_names)
        self.top_k = top_k

    def _batch(self, label, pred):
        label = label.astype(_np.int64).ravel()
        if pred.ndim == 1:
            hit = pred.astype(_np.int64) == label
        elif pred.ndim == 2:
            k = min(self.top_k, pred.shape[1])
            top = _np.argpartition(-pred.astype(_np.float64), k - 1, axis=1)[:, :k]
            hit = (top == label[:, None]).any(axis=1)
        else:
            raise ValueError(f"TopKAccuracy expects (N,) labels or (N, classes) scores, "
                             f"got predictions of shape {pred.shape}")
        check_label_shapes(label, hit)
        return float(hit.sum()), len(label)


register(TopKAccuracy, "top_k_accuracy", "top_k_acc")


def _threshold(pred, threshold):
    threshold = _np.asarray(threshold)
    if threshold.ndim and threshold.shape[-1] != pred.shape[-1]:
        raise ValueError(f"threshold of shape {threshold.shape} does not match predictions of "
                         f"shape {pred.shape} on the last (class) axis")
    return pred > threshold


class _ConfusionCounts:
    """True/false positive/negative counts per class, pooled over updates: the sufficient
    statistics of F1, Fbeta and MCC.

    ``class_type``: 'binary' (labels 0/1; predictions are probabilities, or (N, 2) scores
    whose second column is the positive one, thresholded at ``threshold``), 'multiclass'
    (argmax of (N, classes) scores, one-vs-rest counts) or 'multilabel' ((N, classes)
    probabilities against 0/1 labels)."""

    def __init__(self, class_type="binary", threshold=0.5, beta=1):
        if class_type not in ("binary", "multiclass", "multilabel"):
            raise ValueError(f"Wrong class_type {class_type!r}! Only supports ['binary', "
                             f"'multiclass', 'multilabel']")
        self.class_type, self.threshold, self.beta = class_type, threshold, beta
        self.reset()

    def reset(self):
        self.tp = self.fp = self.fn = self.tn = None

    def _labels_and_predictions(self, label, pred):
        label = label.astype(_np.int64)
        if self.class_type == "binary":
            if label.size and (label.max() > 1 or label.min() < 0):
                raise ValueError("Wrong label for binary classification: labels must be 0 or 1 "
                                 "(use class_type='multiclass')")
            if pred.shape != label.shape:
                if pred.shape[-1] > 2:
                    raise ValueError(f"The shape of prediction {pred.shape} is wrong for binary "
                                     f"classification (use class_type='multiclass')")
                if pred.shape[-1] == 2:
                    pred = pred.reshape(-1, 2)[:, 1]
            return label.reshape(-1, 1), _threshold(pred, self.threshold).reshape(-1, 1)
        num = pred.shape[-1]
        if self.class_type == "multiclass":
            if label.size and label.max() >= num:
                raise ValueError(f"label {label.max()} is out of range for predictions with "
                                 f"{num} classes")
            eye = _np.eye(num, dtype=bool)
            return eye[label.reshape(-1)], eye[_np.argmax(pred, axis=-1).reshape(-1)]
        if pred.shape != label.shape:
            raise ValueError(f"multilabel classification needs labels shaped as predictions, "
                             f"got {label.shape} and {pred.shape}")
        return label.reshape(-1, num) == 1, _threshold(pred, self.threshold).reshape(-1, num)

    def _counts(self, label, pred):
        label, pred = self._labels_and_predictions(label, pred)
        check_label_shapes(label, pred, shape=True)
        return _np.stack([(pred & label).sum(0), (pred & ~label).sum(0),
                          (~pred & label).sum(0), (~pred & ~label).sum(0)]).astype(_np.float64)

    def update(self, pairs):
        """Add the counts of (label, pred) pairs; all are checked before any is added."""
        batches = [self._counts(label, pred) for label, pred in pairs]
        if not batches:
            return
        classes = self.tp.shape[0] if self.tp is not None else batches[0].shape[1]
        for counts in batches:
            if counts.shape[1] != classes:
                raise ValueError(f"Input number of classes has changed from {classes} to "
                                 f"{counts.shape[1]}")
        total = sum(batches) if self.tp is None else \
            sum(batches, _np.stack([self.tp, self.fp, self.fn, self.tn]))
        self.tp, self.fp, self.fn, self.tn = total

    def merge(self, counts):
        """Add another worker's stacked ``(tp, fp, fn, tn)`` (None: it saw nothing)."""
        if counts is None:
            return
        if self.tp is not None:
            if self.tp.shape != counts[0].shape:
                raise ValueError(f"cannot pool counts of {counts[0].shape[0]} classes into "
                                 f"{self.tp.shape[0]}: the workers saw different numbers of "
                                 "classes")
            counts = counts + _np.stack([self.tp, self.fp, self.fn, self.tn])
        self.tp, self.fp, self.fn, self.tn = counts

    @property
    def total(self):
        return 0 if self.tp is None else int(self.tp[0] + self.fp[0] + self.fn[0] + self.tn[0])

    def fscore(self, average):
        """Per-class F-beta (``average=None``), its mean ('macro') or that of pooled counts
        ('micro')."""
        b2 = self.beta ** 2
        if average == "micro":
            tp, fp, fn = self.tp.sum(), self.fp.sum(), self.fn.sum()
            precision = tp / max(tp + fp, 1e-12)
            recall = tp / max(tp + fn, 1e-12)
            if precision + recall == 0:
                return 0.0
            return float((1 + b2) * precision * recall / (b2 * precision + recall))
        precision = self.tp / _np.maximum(self.tp + self.fp, 1e-12)
        recall = self.tp / _np.maximum(self.tp + self.fn, 1e-12)
        score = (1 + b2) * precision * recall / _np.maximum(b2 * precision + recall, 1e-12)
        return float(score.mean()) if average == "macro" else score

    def matthews(self):
        """Binary MCC; zero factors of the denominator count as 1 (MXNet's convention)."""
        if not self.total:
            return 0.0
        tp, fp, fn, tn = (float(c[0]) for c in (self.tp, self.fp, self.fn, self.tn))
        denom = 1.0
        for t in (tp + fp, tp + fn, tn + fp, tn + fn):
            denom *= t if t else 1.0
        return (tp * tn - fp * fn) / math.sqrt(denom)


class _FromCounts(EvalMetric):
    """A score of the confusion counts (``self.counts``) pooled over every update."""

    def reset(self):
        super().reset()
        self.counts.reset()

    def _score(self):
        raise NotImplementedError

    def update(self, labels, preds):
        self.counts.update(_pairs(labels, preds))
        self._refresh()

    def _refresh(self):
        self.num_inst = self.counts.total
        self.sum_metric = self._score() * self.num_inst if self.num_inst else 0.0

    def get(self):
        if self.num_inst == 0:
            return self.name, float("nan")
        return self.name, self._score()

    def _totals(self):
        c = self.counts
        return None if c.tp is None else _np.stack([c.tp, c.fp, c.fn, c.tn])

    def _merge(self, totals):
        self.counts.merge(totals)
        self._refresh()


class F1(_FromCounts):
    """F1 score from counts pooled over every update.

    ``average``: 'micro' pools the counts of all classes, 'macro' averages per-class F1,
    None returns the per-class scores as a numpy array."""

    def __init__(self, name="f1", output_names=None, label_names=None, class_type="binary",
                 threshold=0.5, average="micro", beta=1):
        if average not in ("micro", "macro", None):
            raise ValueError(f"average must be 'micro', 'macro' or None, got {average!r}")
        self.average = average
        self.counts = _ConfusionCounts(class_type, threshold, beta)
        super().__init__(name, output_names=output_names, label_names=label_names,
                         class_type=class_type, threshold=threshold, average=average)

    def _score(self):
        return self.counts.fscore(self.average)


register(F1)


class Fbeta(F1):
    """F-beta: (1 + beta^2) precision recall / (beta^2 precision + recall)."""

    def __init__(self, name="fbeta", output_names=None, label_names=None, class_type="binary",
                 beta=1, threshold=0.5, average="micro"):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         class_type=class_type, threshold=threshold, average=average, beta=beta)
        self._kwargs["beta"] = beta


register(Fbeta)


class BinaryAccuracy(_Summed):
    """Accuracy of ``pred > threshold`` against 0/1 labels (binary or multilabel; a
    per-class threshold array is allowed)."""

    def __init__(self, name="binary_accuracy", output_names=None, label_names=None,
                 threshold=0.5):
        self.threshold = threshold
        super().__init__(name, output_names=output_names, label_names=label_names,
                         threshold=threshold)

    def _batch(self, label, pred):
        pred = _threshold(pred, self.threshold).astype(_np.int32).ravel()
        label = label.astype(_np.int32).ravel()
        check_label_shapes(label, pred)
        return float((pred == label).sum()), len(pred)


register(BinaryAccuracy)


class MCC(_FromCounts):
    """Matthews correlation coefficient of a binary problem (PCC is the multiclass one)."""

    def __init__(self, name="mcc", output_names=None, label_names=None):
        self.counts = _ConfusionCounts()
        super().__init__(name, output_names=output_names, label_names=label_names)

    def _score(self):
        return self.counts.matthews()


register(MCC)


class PCC(EvalMetric):
    """Multiclass Matthews correlation (Gorodkin's R_K) from a confusion matrix that grows
    with the largest class seen; nan while all labels or all predictions are one class."""

    def __init__(self, name="pcc", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def reset(self):
        self.num_inst = 0
        self.confusion = _np.zeros((2, 2), dtype=_np.float64)

    def update(self, labels, preds):
        for label, pred in _pairs(labels, preds):
            label = label.astype(_np.int64).ravel()
            pred = (_np.argmax(pred, axis=1) if pred.shape != label.shape else pred)
            pred = pred.astype(_np.int64).ravel()
            check_label_shapes(label, pred)
            if label.size and min(label.min(), pred.min()) < 0:
                raise ValueError("PCC: class indices must be >= 0")
            k = max(int(max(label.max(), pred.max())) + 1 if label.size else 0,
                    self.confusion.shape[0])
            if k > self.confusion.shape[0]:
                grow = k - self.confusion.shape[0]
                self.confusion = _np.pad(self.confusion, ((0, grow), (0, grow)))
            _np.add.at(self.confusion, (pred, label), 1)
        self.num_inst += 1

    def _totals(self):
        return self.confusion, self.num_inst

    def _merge(self, totals):
        confusion, num_inst = totals
        k = max(confusion.shape[0], self.confusion.shape[0])
        grow = [((0, k - c.shape[0]), (0, k - c.shape[0])) for c in (self.confusion, confusion)]
        self.confusion = _np.pad(self.confusion, grow[0]) + _np.pad(confusion, grow[1])
        self.num_inst += num_inst

    @property
    def sum_metric(self):
        c = self.confusion
        n, x, y = c.sum(), c.sum(axis=1), c.sum(axis=0)
        cov_xx, cov_yy = _np.sum(x * (n - x)), _np.sum(y * (n - y))
        if cov_xx == 0 or cov_yy == 0:
            return float("nan")
        return float(_np.sum(_np.diag(c) * n - x * y) / math.sqrt(cov_xx * cov_yy)) \
            * self.num_inst


register(PCC)


# ---------------------------------------------------------------- regression

class _PerSample(_Summed):
    """Mean over samples (the first axis) of a per-sample value of ``(label, pred)`` rows."""

    def _value(self, label, pred):
        raise NotImplementedError

    def _batch(self, label, pred):
        if label.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred.ravel()
        if label.size != pred.size:
            raise ValueError(f"{self.name}: labels of shape {label.shape} do not match "
                             f"predictions of shape {pred.shape}")
        n = label.shape[0] if label.ndim else 1
        label = label.astype(_np.float64).reshape(n, -1)
        pred = pred.astype(_np.float64).reshape(n, -1)
        return float(self._value(label, pred).sum()), n


class MAE(_PerSample):
    """Mean absolute error."""

    def __init__(self, name="mae", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def _value(self, label, pred):
        return _np.abs(label - pred).mean(axis=-1)


register(MAE)


class MSE(_PerSample):
    """Mean squared error."""

    def __init__(self, name="mse", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def _value(self, label, pred):
        return ((label - pred) ** 2).mean(axis=-1)


register(MSE)


class RMSE(MSE):
    """Root of the mean squared error."""

    def __init__(self, name="rmse", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def get(self):
        name, value = super().get()
        return name, math.sqrt(value) if value == value else value


register(RMSE)


class MeanPairwiseDistance(_PerSample):
    """Mean p-norm distance between each sample's label and prediction (flattened)."""

    def __init__(self, name="mpd", output_names=None, label_names=None, p=2):
        super().__init__(name, output_names=output_names, label_names=label_names, p=p)
        self.p = p

    def _value(self, label, pred):
        return (_np.abs(label - pred) ** self.p).sum(axis=-1) ** (1.0 / self.p)


register(MeanPairwiseDistance)


class MeanCosineSimilarity(_Summed):
    """Mean over vectors of label.pred / max(|label| |pred|, eps), on the last axis."""

    def __init__(self, name="cos_sim", output_names=None, label_names=None, eps=1e-8):
        super().__init__(name, output_names=output_names, label_names=label_names, eps=eps)
        self.eps = eps

    def _batch(self, label, pred):
        label = label.astype(_np.float64)
        pred = pred.astype(_np.float64)
        if label.shape[-1:] != pred.shape[-1:]:
            raise ValueError(f"cos_sim: labels of shape {label.shape} and predictions of "
                             f"shape {pred.shape} differ on the last axis")
        label, pred = _np.broadcast_arrays(label, pred)
        sim = (label * pred).sum(axis=-1) / _np.maximum(
            _np.linalg.norm(label, axis=-1) * _np.linalg.norm(pred, axis=-1), self.eps)
        return float(sim.sum()), sim.size


register(MeanCosineSimilarity)


class CrossEntropy(_Summed):
    """Mean of -log p(label) over the predictions' ``axis`` (the class axis), clipped at
    ``eps``; ``from_logits`` applies a softmax first; ``ignore_label`` entries are skipped."""

    def __init__(self, eps=1e-12, ignore_label=None, axis=-1, from_logits=False,
                 name="cross-entropy", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names, eps=eps,
                         ignore_label=ignore_label, axis=axis, from_logits=from_logits)
        self.eps, self.ignore_label, self.axis, self.from_logits = \
            eps, ignore_label, axis, from_logits

    def _batch(self, label, pred):
        pred = _np.moveaxis(pred.astype(_np.float64), self.axis, -1)
        classes = pred.shape[-1]
        pred = pred.reshape(-1, classes)
        label = label.astype(_np.int64).ravel()
        if label.shape[0] != pred.shape[0]:
            raise ValueError(f"{self.name}: {label.shape[0]} labels for {pred.shape[0]} "
                             f"predictions of {classes} classes")
        if self.from_logits:
            pred = _np.exp(pred - pred.max(axis=-1, keepdims=True))
            pred /= pred.sum(axis=-1, keepdims=True)
        keep = _np.ones(label.shape, dtype=bool) if self.ignore_label is None \
            else label != self.ignore_label
        label, pred = label[keep], pred[keep]
        if label.size and (label.min() < 0 or label.max() >= classes):
            raise ValueError(f"{self.name}: labels must be in [0, {classes}), got "
                             f"{label.min()}..{label.max()}")
        prob = pred[_np.arange(label.shape[0]), label]
        return float(-_np.log(_np.maximum(prob, self.eps)).sum()), int(label.size)


register(CrossEntropy, "ce")


class NegativeLogLikelihood(CrossEntropy):
    """Mean of -log p(label): the cross-entropy of probability predictions, under its name."""

    def __init__(self, eps=1e-12, name="nll-loss", output_names=None, label_names=None):
        super().__init__(eps=eps, name=name, output_names=output_names,
                         label_names=label_names)
        self._kwargs = {"eps": eps}


register(NegativeLogLikelihood, "nll_loss")


class Perplexity(CrossEntropy):
    """exp(mean of -log p(label)), skipping ``ignore_label``."""

    def __init__(self, eps=1e-12, ignore_label=None, axis=-1, from_logits=False,
                 name="perplexity", output_names=None, label_names=None):
        super().__init__(eps=eps, ignore_label=ignore_label, axis=axis, from_logits=from_logits,
                         name=name, output_names=output_names, label_names=label_names)

    def get(self):
        name, value = super().get()
        return name, math.exp(value) if value == value else value


register(Perplexity)


class PearsonCorrelation(EvalMetric):
    """Pearson correlation of all label and prediction values seen so far.

    The running means and co-moments are merged batch by batch (Chan et al.), which is exact
    for any split into updates."""

    def __init__(self, name="pearsonr", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def reset(self):
        super().reset()
        self._n = 0
        self._mean_l = self._mean_p = 0.0
        self._m2_l = self._m2_p = self._co = 0.0

    def update(self, labels, preds):
        for label, pred in _pairs(labels, preds):
            check_label_shapes(label, pred, shape=True)
            label = label.astype(_np.float64).ravel()
            pred = pred.astype(_np.float64).ravel()
            if not label.size:
                continue
            mean_l, mean_p = label.mean(), pred.mean()
            dl, dp = label - mean_l, pred - mean_p
            self._merge((label.size, mean_l, mean_p, (dl * dl).sum(), (dp * dp).sum(),
                         (dl * dp).sum(), 1))

    def _totals(self):
        return (self._n, self._mean_l, self._mean_p, self._m2_l, self._m2_p, self._co,
                self.num_inst)

    def _merge(self, totals):
        n_b, mean_l, mean_p, m2_l, m2_p, co, num_inst = totals
        if n_b:
            n = self._n + n_b
            delta_l, delta_p = mean_l - self._mean_l, mean_p - self._mean_p
            weight = self._n * n_b / n
            self._m2_l += m2_l + delta_l * delta_l * weight
            self._m2_p += m2_p + delta_p * delta_p * weight
            self._co += co + delta_l * delta_p * weight
            self._mean_l += delta_l * n_b / n
            self._mean_p += delta_p * n_b / n
            self._n = n
        self.num_inst += num_inst

    def get(self):
        if self.num_inst == 0:
            return self.name, float("nan")
        return self.name, float(self._co / math.sqrt(self._m2_l * self._m2_p))


register(PearsonCorrelation, "pearsonr")


class Loss(EvalMetric):
    """Mean of loss values (``labels`` are ignored)."""

    def __init__(self, name="loss", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def update(self, _, preds):
        if isinstance(preds, (ndarray, _np.ndarray)):
            preds = [preds]
        for pred in preds:
            pred = _host(pred)
            self.sum_metric += float(pred.astype(_np.float64).sum())
            self.num_inst += pred.size


register(Loss)


class Torch(Loss):
    """The mean of a criterion's outputs under the name 'torch' (MXNet keeps it for
    torch-style criterions)."""

    def __init__(self, name="torch", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)


register(Torch)


class CustomMetric(EvalMetric):
    """A metric from ``feval(label, pred)`` on numpy arrays, returning a value (averaged over
    updates) or a ``(sum_metric, num_inst)`` pair. ``allow_extra_outputs`` ignores
    predictions beyond the labels (an RNN's states)."""

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if name is None:
            name = getattr(feval, "__name__", type(feval).__name__)
            if "<" in name:
                name = f"custom({name})"
        super().__init__(name, output_names=output_names, label_names=label_names,
                         feval=feval, allow_extra_outputs=allow_extra_outputs)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):
        if self._allow_extra_outputs:
            if isinstance(labels, (ndarray, _np.ndarray)):
                labels = [labels]
            if isinstance(preds, (ndarray, _np.ndarray)):
                preds = [preds]
            pairs = [(_host(label), _host(pred)) for label, pred in zip(labels, preds)]
        else:
            pairs = _pairs(labels, preds)
        for label, pred in pairs:
            value = self._feval(label, pred)
            if isinstance(value, tuple):
                total, count = value
                self.sum_metric += float(total)
                self.num_inst += count
            else:
                self.sum_metric += float(value)
                self.num_inst += 1

    def get_config(self):
        raise NotImplementedError("CustomMetric cannot be serialized: its feval is code")


register(CustomMetric, "custom")


def np(numpy_feval, name=None, allow_extra_outputs=False):
    """A CustomMetric from a function of numpy ``(label, pred)`` returning a float."""
    return CustomMetric(numpy_feval, name, allow_extra_outputs)
