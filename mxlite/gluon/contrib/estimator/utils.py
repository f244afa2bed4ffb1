"""Checks shared by the Estimator and its event handlers."""
from ...loss import SoftmaxCrossEntropyLoss
from ...metric import Accuracy, CompositeEvalMetric, EvalMetric


def _instances(value, kind, what):
    """``value`` (one ``kind`` instance, a list of them, or None) as a list."""
    if isinstance(value, kind):
        return [value]
    items = list(value or [])
    bad = [v for v in items if not isinstance(v, kind)]
    if bad:
        raise ValueError(f"{what} must be a {kind.__name__} or a list of {kind.__name__}, "
                         f"got {bad[0]!r} in {items!r}")
    return items


def _check_metrics(metrics):
    """A flat list of EvalMetrics (mx.gluon.metric) from one metric, a list, or a
    CompositeEvalMetric (whose members are updated and logged one by one)."""
    if isinstance(metrics, CompositeEvalMetric):
        return [m for metric in metrics.metrics for m in _check_metrics(metric)]
    return _instances(metrics, EvalMetric, "metrics")


def _suggest_metric_for_loss(loss):
    """The metric the Estimator adds when none is given: accuracy for a classification loss."""
    return Accuracy() if isinstance(loss, SoftmaxCrossEntropyLoss) else None


def _check_handler_metric_ref(handler, known_metrics):
    """Raise if ``handler`` holds a metric the Estimator does not update: a mix of default and
    user handlers must share the estimator's metric objects, or the user's would stay empty.
    Monitors are not checked (as in MXNet): a stale monitor only warns at epoch end."""
    known = {id(m) for m in known_metrics}
    for attribute, value in vars(handler).items():
        if "metric" not in attribute or not value:
            continue
        for metric in value if isinstance(value, (list, tuple)) else [value]:
            if id(metric) not in known:
                raise ValueError(
                    f"{type(handler).__name__}.{attribute} holds the metric "
                    f"'{getattr(metric, 'name', metric)}', which the estimator does not "
                    "manage: pass it to the Estimator as train_metrics or val_metrics, or use "
                    "est.train_metrics / est.val_metrics in the handler")
