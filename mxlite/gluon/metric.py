"""Evaluation metrics (``gluon.metric``): accumulate over ``update(labels, preds)`` calls,
read with ``get()``. Values are computed on the host in float64."""
import math

import numpy as _np

from ..ndarray import ndarray

__all__ = ["EvalMetric", "Accuracy", "TopKAccuracy", "F1", "MAE", "MSE", "RMSE",
           "CrossEntropy", "Perplexity", "Loss", "CompositeEvalMetric", "create"]

_REGISTRY = {}


def _register(klass, *aliases):
    for name in (klass.__name__.lower(),) + aliases:
        _REGISTRY[name] = klass
    return klass


def create(metric, *args, **kwargs):
    """A metric from an instance, a name ('acc', 'mse', ...), a callable or a list of those."""
    if isinstance(metric, EvalMetric):
        return metric
    if isinstance(metric, (list, tuple)):
        return CompositeEvalMetric([create(m, *args, **kwargs) for m in metric])
    klass = _REGISTRY.get(str(metric).lower())
    if klass is None:
        raise ValueError(f"Metric must be either callable or in {sorted(_REGISTRY)}, "
                         f"got {metric!r}")
    return klass(*args, **kwargs)


def _host(x):
    return x.asnumpy() if isinstance(x, ndarray) else _np.asarray(x)


def _pairs(labels, preds):
    if isinstance(labels, (ndarray, _np.ndarray)):
        labels = [labels]
    if isinstance(preds, (ndarray, _np.ndarray)):
        preds = [preds]
    if len(labels) != len(preds):
        raise ValueError(f"Size of labels {len(labels)} does not match size of predictions "
                         f"{len(preds)}")
    return [(_host(label), _host(pred)) for label, pred in zip(labels, preds)]


class EvalMetric:
    """Base class: ``sum_metric / num_inst`` (nan before the first update)."""

    def __init__(self, name, output_names=None, label_names=None):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self.reset()

    def reset(self):
        self.num_inst = 0
        self.sum_metric = 0.0

    def update(self, labels, preds):
        raise NotImplementedError(f"{type(self).__name__} must implement update")

    def get(self):
        if self.num_inst == 0:
            return self.name, float("nan")
        return self.name, self.sum_metric / self.num_inst

    def get_name_value(self):
        name, value = self.get()
        if not isinstance(name, list):
            name, value = [name], [value]
        return list(zip(name, value))

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"


@_register
class Accuracy(EvalMetric):
    """Fraction of predictions equal to the labels (class scores are argmax'ed on ``axis``)."""

    def __init__(self, axis=1, name="accuracy", **kwargs):
        super().__init__(name, **kwargs)
        self.axis = axis

    def update(self, labels, preds):
        for label, pred in _pairs(labels, preds):
            if pred.shape != label.shape:
                pred = _np.argmax(pred, axis=self.axis)
            pred = pred.astype(_np.int64).ravel()
            label = label.astype(_np.int64).ravel()
            if pred.shape != label.shape:
                raise ValueError(f"Accuracy: {pred.shape[0]} predictions for {label.shape[0]} "
                                 "labels")
            self.sum_metric += float((pred == label).sum())
            self.num_inst += len(pred)


_REGISTRY["acc"] = Accuracy


@_register
class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the ``top_k`` highest scores."""

    def __init__(self, top_k=1, name="top_k_accuracy", **kwargs):
        super().__init__(f"{name}_{top_k}", **kwargs)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k = top_k

    def update(self, labels, preds):
        for label, pred in _pairs(labels, preds):
            if pred.ndim != 2:
                raise ValueError(f"TopKAccuracy expects (N, classes) scores, got {pred.shape}")
            k = min(self.top_k, pred.shape[1])
            top = _np.argpartition(-pred, k - 1, axis=1)[:, :k]
            label = label.astype(_np.int64).reshape(-1, 1)
            self.sum_metric += float((top == label).any(axis=1).sum())
            self.num_inst += pred.shape[0]


_REGISTRY["top_k_acc"] = TopKAccuracy


@_register
class F1(EvalMetric):
    """Binary F1 of the positive class; predictions are (N, 2) scores or (N,) probabilities
    (positive above ``threshold``). ``average='micro'`` pools counts over all updates,
    'macro' averages the F1 of each update."""

    def __init__(self, name="f1", threshold=0.5, average="micro", **kwargs):
        if average not in ("micro", "macro"):
            raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
        self.threshold = threshold
        self.average = average
        super().__init__(name, **kwargs)

    def reset(self):
        super().reset()
        self.tp = self.fp = self.fn = 0

    @staticmethod
    def _f1(tp, fp, fn):
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def update(self, labels, preds):
        for label, pred in _pairs(labels, preds):
            if pred.ndim == 2 and pred.shape[1] == 2:
                pred = _np.argmax(pred, axis=1)
            else:
                pred = (pred.ravel() > self.threshold)
            pred = pred.astype(_np.int64).ravel()
            label = label.astype(_np.int64).ravel()
            if set(_np.unique(label).tolist()) - {0, 1}:
                raise ValueError("F1 currently only supports binary classification (labels 0/1)")
            tp = int(((pred == 1) & (label == 1)).sum())
            fp = int(((pred == 1) & (label == 0)).sum())
            fn = int(((pred == 0) & (label == 1)).sum())
            self.tp += tp
            self.fp += fp
            self.fn += fn
            if self.average == "macro":
                self.sum_metric += self._f1(tp, fp, fn)
                self.num_inst += 1
            else:
                self.num_inst += len(label)

    def get(self):
        if self.num_inst == 0:
            return self.name, float("nan")
        if self.average == "micro":
            return self.name, self._f1(self.tp, self.fp, self.fn)
        return self.name, self.sum_metric / self.num_inst


class _Regression(EvalMetric):
    def _per_sample(self, diff):
        raise NotImplementedError

    def update(self, labels, preds):
        for label, pred in _pairs(labels, preds):
            if label.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1:
                pred = pred.ravel()
            label = label.reshape(pred.shape)
            n = label.shape[0] if label.ndim else 1
            diff = (label.astype(_np.float64) - pred.astype(_np.float64)).reshape(n, -1)
            self.sum_metric += float(self._per_sample(diff).mean(axis=-1).sum())
            self.num_inst += n


@_register
class MAE(_Regression):
    """Mean absolute error."""

    def __init__(self, name="mae", **kwargs):
        super().__init__(name, **kwargs)

    def _per_sample(self, diff):
        return _np.abs(diff)


@_register
class MSE(_Regression):
    """Mean squared error."""

    def __init__(self, name="mse", **kwargs):
        super().__init__(name, **kwargs)

    def _per_sample(self, diff):
        return diff * diff


@_register
class RMSE(MSE):
    """Root of the mean squared error."""

    def __init__(self, name="rmse", **kwargs):
        super().__init__(name, **kwargs)

    def get(self):
        name, value = super().get()
        return name, math.sqrt(value) if value == value else value


class _Likelihood(EvalMetric):
    """Accumulates -log p(label) of (N, classes) probabilities."""

    def __init__(self, name, eps=1e-12, ignore_label=None, axis=-1, **kwargs):
        super().__init__(name, **kwargs)
        self.eps = eps
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels, preds):
        for label, pred in _pairs(labels, preds):
            pred = _np.moveaxis(pred, self.axis, -1).reshape(-1, pred.shape[self.axis])
            label = label.astype(_np.int64).ravel()
            if label.shape[0] != pred.shape[0]:
                raise ValueError(f"{label.shape[0]} labels for {pred.shape[0]} predictions")
            prob = pred[_np.arange(label.shape[0]), _np.clip(label, 0, pred.shape[1] - 1)]
            keep = _np.ones_like(label, dtype=bool) if self.ignore_label is None \
                else label != self.ignore_label
            self.sum_metric += float(-_np.log(_np.maximum(prob[keep], self.eps)).sum())
            self.num_inst += int(keep.sum())


@_register
class CrossEntropy(_Likelihood):
    """Mean of -log p(label)."""

    def __init__(self, eps=1e-12, name="cross-entropy", **kwargs):
        super().__init__(name, eps=eps, **kwargs)


_REGISTRY["ce"] = CrossEntropy


@_register
class Perplexity(_Likelihood):
    """exp(mean of -log p(label)), skipping ``ignore_label``."""

    def __init__(self, ignore_label=None, axis=-1, name="perplexity", eps=1e-12, **kwargs):
        super().__init__(name, eps=eps, ignore_label=ignore_label, axis=axis, **kwargs)

    def get(self):
        name, value = super().get()
        return name, math.exp(value) if value == value else value


@_register
class Loss(EvalMetric):
    """Mean of loss values (``labels`` are ignored)."""

    def __init__(self, name="loss", **kwargs):
        super().__init__(name, **kwargs)

    def update(self, _, preds):
        if isinstance(preds, (ndarray, _np.ndarray)):
            preds = [preds]
        for pred in preds:
            pred = _host(pred)
            self.sum_metric += float(pred.astype(_np.float64).sum())
            self.num_inst += pred.size


class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` returns lists of names and values."""

    def __init__(self, metrics=None, name="composite", **kwargs):
        self.metrics = [create(m) for m in (metrics or [])]
        super().__init__(name, **kwargs)

    def add(self, metric):
        self.metrics.append(create(metric))

    def get_metric(self, index):
        return self.metrics[index]

    def reset(self):
        for m in getattr(self, "metrics", []):
            m.reset()

    def update(self, labels, preds):
        for m in self.metrics:
            m.update(labels, preds)

    def get(self):
        names, values = [], []
        for m in self.metrics:
            name, value = m.get()
            names.extend(name if isinstance(name, list) else [name])
            values.extend(value if isinstance(value, list) else [value])
        return names, values
