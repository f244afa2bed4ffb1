"""Event handlers: what the Estimator runs at train/epoch/batch begin and end.

A handler subclasses the event classes it reacts to; ``batch_end`` and ``epoch_end`` return
True to stop training. Handlers run in ascending ``priority`` (the gradient update first,
then metrics and validation, logging last)."""
import math
import os
import re
import time
import warnings

from ...metric import CompositeEvalMetric, EvalMetric
from ...metric import Loss as LossMetric
from .utils import _check_metrics, _instances

__all__ = ["EventHandler", "TrainBegin", "TrainEnd", "EpochBegin", "EpochEnd", "BatchBegin",
           "BatchEnd", "StoppingHandler", "MetricHandler", "ValidationHandler",
           "LoggingHandler", "CheckpointHandler", "EarlyStoppingHandler",
           "GradientUpdateHandler"]


class EventHandler:
    """Base of every handler."""


def _check_event_handlers(handlers):
    return _instances(handlers, EventHandler, "event_handlers")


class TrainBegin(EventHandler):
    def train_begin(self, estimator, *args, **kwargs):
        pass


class TrainEnd(EventHandler):
    def train_end(self, estimator, *args, **kwargs):
        pass


class EpochBegin(EventHandler):
    def epoch_begin(self, estimator, *args, **kwargs):
        pass


class EpochEnd(EventHandler):
    def epoch_end(self, estimator, *args, **kwargs):
        return False


class BatchBegin(EventHandler):
    def batch_begin(self, estimator, *args, **kwargs):
        pass


class BatchEnd(EventHandler):
    def batch_end(self, estimator, *args, **kwargs):
        return False


class StoppingHandler(TrainBegin, BatchEnd, EpochEnd):
    """Stop after ``max_epoch`` epochs or ``max_batch`` batches (the estimator's, read at
    train begin)."""

    def __init__(self, max_epoch=None, max_batch=None):
        self.max_epoch = max_epoch
        self.max_batch = max_batch
        self.current_batch = 0
        self.current_epoch = 0
        self.stop_training = False

    def train_begin(self, estimator, *args, **kwargs):
        self.max_epoch = estimator.max_epoch
        self.max_batch = estimator.max_batch
        self.current_batch = 0
        self.current_epoch = 0
        self.stop_training = False

    def batch_end(self, estimator, *args, **kwargs):
        self.current_batch += 1
        if self.current_batch == self.max_batch:
            self.stop_training = True
        return self.stop_training

    def epoch_end(self, estimator, *args, **kwargs):
        self.current_epoch += 1
        if self.current_epoch == self.max_epoch:
            self.stop_training = True
        return self.stop_training


class MetricHandler(EpochBegin, BatchEnd):
    """Reset ``metrics`` at epoch begin and update them at batch end: loss metrics
    (``gluon.metric.Loss``) from the batch's losses, the others from labels and predictions.
    Its priority (-1000) runs it before handlers that read the metrics."""

    def __init__(self, metrics, priority=-1000):
        self.metrics = _check_metrics(metrics)
        self.priority = priority

    def epoch_begin(self, estimator, *args, **kwargs):
        for metric in self.metrics:
            metric.reset()

    def batch_end(self, estimator, *args, **kwargs):
        pred, label, loss = kwargs["pred"], kwargs["label"], kwargs["loss"]
        for metric in self.metrics:
            if isinstance(metric, LossMetric):
                metric.update(0, loss)
            else:
                metric.update(label, pred)


class ValidationHandler(TrainBegin, BatchEnd, EpochEnd):
    """Run ``eval_fn(val_data=...)`` (usually ``Estimator.evaluate``) every ``epoch_period``
    epochs and, if set, every ``batch_period`` batches. ``event_handlers`` are passed on to
    ``eval_fn`` when given."""

    def __init__(self, val_data, eval_fn, epoch_period=1, batch_period=None, priority=-1000,
                 event_handlers=None):
        self.val_data = val_data
        self.eval_fn = eval_fn
        self.epoch_period = epoch_period
        self.batch_period = batch_period
        self.current_batch = 0
        self.current_epoch = 0
        self.priority = priority
        self.event_handlers = event_handlers

    def _evaluate(self, estimator):
        kwargs = {"val_data": self.val_data, "batch_axis": estimator.batch_axis}
        if self.event_handlers is not None:
            kwargs["event_handlers"] = self.event_handlers
        self.eval_fn(**kwargs)

    def train_begin(self, estimator, *args, **kwargs):
        self.current_batch = 0
        self.current_epoch = 0

    def batch_end(self, estimator, *args, **kwargs):
        self.current_batch += 1
        if self.batch_period and self.current_batch % self.batch_period == 0:
            self._evaluate(estimator)

    def epoch_end(self, estimator, *args, **kwargs):
        self.current_epoch += 1
        if self.epoch_period and self.current_epoch % self.epoch_period == 0:
            self._evaluate(estimator)


def _metric_text(metrics):
    return ", ".join("%s: %.4f" % metric.get() for metric in metrics)


class LoggingHandler(TrainBegin, TrainEnd, EpochBegin, EpochEnd, BatchBegin, BatchEnd):
    """Log the optimizer and learning rate, each epoch's time and ``metrics``, and with an
    integer ``log_interval`` every k-th batch, to ``estimator.logger``. Runs last
    (priority inf), after the metrics it reads are updated."""

    def __init__(self, log_interval="epoch", metrics=None, priority=math.inf):
        if log_interval != "epoch" and (not isinstance(log_interval, int)
                                        or isinstance(log_interval, bool) or log_interval < 1):
            raise ValueError(f"log_interval must be a positive integer or 'epoch', "
                             f"got {log_interval!r}")
        self.metrics = _check_metrics(metrics)
        self.log_interval = log_interval
        self.priority = priority
        self.batch_index = 0
        self.current_epoch = 0
        self.processed_samples = 0
        self.log_interval_time = 0
        self.train_start = self.epoch_start = self.batch_start = None

    def train_begin(self, estimator, *args, **kwargs):
        self.train_start = time.time()
        trainer = estimator.trainer
        estimator.logger.info("Training begin: using optimizer %s with current learning "
                              "rate %.4f ", type(trainer.optimizer).__name__,
                              trainer.learning_rate)
        if estimator.max_epoch:
            estimator.logger.info("Train for %d epochs.", estimator.max_epoch)
        else:
            estimator.logger.info("Train for %d batches.", estimator.max_batch)
        self.current_epoch = 0
        self.batch_index = 0
        self.processed_samples = 0
        self.log_interval_time = 0

    def train_end(self, estimator, *args, **kwargs):
        msg = "Train finished using total %ds with %d epochs. " % (
            time.time() - self.train_start, self.current_epoch)
        estimator.logger.info((msg + _metric_text(self.metrics)).rstrip(", "))

    def batch_begin(self, estimator, *args, **kwargs):
        if isinstance(self.log_interval, int):
            self.batch_start = time.time()

    def batch_end(self, estimator, *args, **kwargs):
        if isinstance(self.log_interval, int):
            self.log_interval_time += time.time() - self.batch_start
            self.processed_samples += kwargs["batch"][0].shape[0]
            if self.batch_index % self.log_interval == 0:
                msg = "[Epoch %d][Batch %d][Samples %s] time/interval: %.3fs " % (
                    self.current_epoch, self.batch_index, self.processed_samples,
                    self.log_interval_time)
                self.log_interval_time = 0
                estimator.logger.info((msg + _metric_text(self.metrics)).rstrip(", "))
        self.batch_index += 1

    def epoch_begin(self, estimator, *args, **kwargs):
        self.epoch_start = time.time()
        # the Estimator names its metrics 'training ...' and 'validation ...'
        if any("training" in metric.name for metric in self.metrics):
            estimator.logger.info("[Epoch %d] Begin, current learning rate: %.4f",
                                  self.current_epoch, estimator.trainer.learning_rate)
        else:
            estimator.logger.info("Validation Begin")

    def epoch_end(self, estimator, *args, **kwargs):
        msg = "[Epoch %d] Finished in %.3fs, " % (self.current_epoch,
                                                   time.time() - self.epoch_start)
        estimator.logger.info((msg + _metric_text(self.metrics)).rstrip(", "))
        self.current_epoch += 1
        self.batch_index = 0


def _comparison(monitor, mode, handler):
    """The improvement test for ``monitor``: greater for accuracy and F1 under 'auto' (MXNet
    picks greater for every metric there, a bug), less otherwise."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{handler} mode {mode!r} is unknown, falling back to 'auto': greater "
                      "is better for accuracy and F1 metrics, less for the others",
                      RuntimeWarning)
        mode = "auto"
    if mode == "min":
        return "less"
    if mode == "max":
        return "greater"
    name = monitor.get()[0].lower()
    direction = "greater" if ("acc" in name or "f1" in name) else "less"
    warnings.warn(f"`{direction}` will be used to determine if {monitor.get()[0]} has "
                  "improved. Specify mode='min' or mode='max' to choose it and silence this "
                  "warning.")
    return direction


def _improved(direction, value, best):
    return value > best if direction == "greater" else value < best


class CheckpointHandler(TrainBegin, BatchEnd, EpochEnd):
    """Save parameters (``.params``) and trainer states (``.states``) as
    ``{model_prefix}-epoch{E}batch{B}`` every ``epoch_period`` epochs or ``batch_period``
    batches, keeping the newest ``max_checkpoints``; the graph of a hybridized net as
    ``{model_prefix}-symbol.json`` after the first batch; with ``save_best``, also
    ``{model_prefix}-best`` whenever ``monitor`` improves. ``resume_from_checkpoint`` loads
    the newest checkpoint in ``model_dir`` and trains only the epochs or batches left."""

    def __init__(self, model_dir, model_prefix="model", monitor=None, verbose=0,
                 save_best=False, mode="auto", epoch_period=1, batch_period=None,
                 max_checkpoints=5, resume_from_checkpoint=False):
        if save_best and not isinstance(monitor, EvalMetric):
            raise ValueError("save_best=True needs a monitor: one of the metric objects in "
                             "estimator.train_metrics or estimator.val_metrics")
        self.monitor = monitor
        self.verbose = verbose
        os.makedirs(model_dir, exist_ok=True)
        self.model_dir = model_dir
        self.model_prefix = model_prefix
        self.save_best = save_best
        self.epoch_period = epoch_period
        self.batch_period = batch_period
        self.max_checkpoints = max_checkpoints
        self.resume_from_checkpoint = resume_from_checkpoint
        self.current_batch = 0
        self.current_epoch = 0
        self.trained_epoch = self.trained_batch = -1
        self.saved_checkpoints = []
        if save_best:
            self._direction = _comparison(monitor, mode, "CheckpointHandler")
            self.best = -math.inf if self._direction == "greater" else math.inf

    def train_begin(self, estimator, *args, **kwargs):
        self.current_epoch = 0
        self.current_batch = 0
        if self.save_best:
            self.best = -math.inf if self._direction == "greater" else math.inf
        if self.resume_from_checkpoint:
            by_batch, by_epoch = bool(estimator.max_batch), bool(estimator.max_epoch)
            if (by_batch and (not self.batch_period or self.epoch_period)) or \
                    (by_epoch and (not self.epoch_period or self.batch_period)):
                raise ValueError(
                    "resume_from_checkpoint needs checkpoints saved by the same kind of period "
                    "the training counts: epoch_period (and batch_period=None) when fit() is "
                    "given epochs, batch_period (and epoch_period=None) when it is given "
                    "batches")
            self._resume(estimator)

    def batch_end(self, estimator, *args, **kwargs):
        if self.current_batch == 0:
            self._save_symbol(estimator)
        if self.batch_period and (self.current_batch + 1) % self.batch_period == 0:
            self._save_checkpoint(estimator)
        self.current_batch += 1

    def epoch_end(self, estimator, *args, **kwargs):
        if self.epoch_period and (self.current_epoch + 1) % self.epoch_period == 0:
            self._save_checkpoint(estimator)
        self.current_epoch += 1

    def _save_checkpoint(self, estimator):
        epoch, batch = self.current_epoch, self.current_batch
        if self.resume_from_checkpoint:
            epoch += self.trained_epoch + 1
            # at an epoch end the batch counter has already moved past the last batch
            batch += self.trained_batch + (0 if estimator.max_epoch else 1)
        prefix = "%s-epoch%dbatch%d" % (self.model_prefix, epoch, batch)
        self._save_params_and_trainer(estimator, prefix)
        if self.verbose > 0:
            estimator.logger.info("[Epoch %d] CheckpointHandler: trained total %d batches, "
                                  "saving model at %s with prefix: %s", self.current_epoch,
                                  self.current_batch + 1, self.model_dir, prefix)
        if not self.save_best:
            return
        name, value = self.monitor.get()
        if math.isnan(value):
            warnings.warn(f"CheckpointHandler: skipping save_best because {name} has no value; "
                          "pass one of estimator.train_metrics or estimator.val_metrics as "
                          "the monitor", RuntimeWarning)
        elif _improved(self._direction, value, self.best):
            self._save_params_and_trainer(estimator, self.model_prefix + "-best")
            if self.verbose > 0:
                estimator.logger.info("[Epoch %d] CheckpointHandler: %s improved from %0.5f "
                                      "to %0.5f, updating best model at %s with prefix: %s",
                                      self.current_epoch, name, self.best, value,
                                      self.model_dir, self.model_prefix + "-best")
            self.best = value
        elif self.verbose > 0:
            estimator.logger.info("[Epoch %d] CheckpointHandler: %s did not improve from "
                                  "%0.5f, skipping updating best model", self.current_epoch,
                                  name, self.best)

    def _save_symbol(self, estimator):
        symbol_file = os.path.join(self.model_dir, self.model_prefix + "-symbol.json")
        net = estimator.net
        if getattr(net, "_cached_graph", None) is not None and net._cached_graph.latest:
            net._save_graph(symbol_file)
        else:
            estimator.logger.info(
                "Model architecture (symbol file) is not saved: build the model from "
                "HybridBlocks and call net.hybridize() before fit() to save it as %s.",
                symbol_file)

    def _save_params_and_trainer(self, estimator, prefix):
        estimator.net.save_parameters(os.path.join(self.model_dir, prefix + ".params"))
        estimator.trainer.save_states(os.path.join(self.model_dir, prefix + ".states"))
        if "best" in prefix:
            return
        self.saved_checkpoints.append(prefix)
        while len(self.saved_checkpoints) > self.max_checkpoints:
            old = self.saved_checkpoints.pop(0)
            for suffix in (".params", ".states"):
                path = os.path.join(self.model_dir, old + suffix)
                if os.path.exists(path):
                    os.remove(path)

    def _resume(self, estimator):
        found = self._checkpoints()
        self.saved_checkpoints = ["%s-epoch%dbatch%d" % (self.model_prefix, e, b)
                                  for e, b in found]
        if not found:
            self.trained_epoch = self.trained_batch = -1
            left = ("%d batches" % estimator.max_batch if estimator.max_batch
                    else "%d epochs" % estimator.max_epoch)
            estimator.logger.info("CheckpointHandler: no checkpoint found, training from "
                                  "scratch for %s", left)
            return
        self.trained_epoch, self.trained_batch = found[-1]
        msg = "CheckpointHandler: checkpoint resumed from epoch %d batch %d, continue to " \
              "train for " % (self.trained_epoch, self.trained_batch)
        if estimator.max_epoch:
            if self.trained_epoch >= estimator.max_epoch - 1:
                raise ValueError(f"the checkpoints in {self.model_dir} already reach "
                                 f"{estimator.max_epoch} epochs; set "
                                 "resume_from_checkpoint=False to train from scratch")
            estimator.max_epoch -= self.trained_epoch + 1
            msg += "%d epochs " % estimator.max_epoch
        if estimator.max_batch:
            if self.trained_batch >= estimator.max_batch - 1:
                raise ValueError(f"the checkpoints in {self.model_dir} already reach "
                                 f"{estimator.max_batch} batches; set "
                                 "resume_from_checkpoint=False to train from scratch")
            estimator.max_batch -= self.trained_batch + 1
            msg += "%d batches " % estimator.max_batch
        stem = os.path.join(self.model_dir, self.saved_checkpoints[-1])
        if not os.path.exists(stem + ".states"):
            raise FileNotFoundError(f"cannot resume: {stem}.states does not exist beside "
                                    f"{stem}.params")
        estimator.net.load_parameters(stem + ".params", device=estimator.device)
        estimator.trainer.load_states(stem + ".states")
        estimator.logger.warning(msg)

    def _checkpoints(self):
        """(epoch, batch) of this prefix's checkpoints in ``model_dir``, oldest first."""
        head = self.model_prefix + "-epoch"
        pattern = re.compile(re.escape(head) + r"(\d+)batch(\d+)\.params")
        found = []
        for fname in os.listdir(self.model_dir):
            if not (fname.startswith(head) and fname.endswith(".params")):
                continue
            match = pattern.fullmatch(fname)
            if match is None:
                raise ValueError(f"cannot parse checkpoint {fname!r} in {self.model_dir}: "
                                 "names must read {model_prefix}-epoch{E}batch{B}.params, "
                                 "each with a .states file beside it")
            found.append((int(match.group(1)), int(match.group(2))))
        return sorted(found)


class EarlyStoppingHandler(TrainBegin, EpochEnd, TrainEnd):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs (starting from ``baseline`` when given)."""

    def __init__(self, monitor, min_delta=0, patience=0, mode="auto", baseline=None):
        if not isinstance(monitor, EvalMetric):
            raise ValueError("EarlyStoppingHandler needs a monitor: one of the metric objects "
                             "in estimator.train_metrics or estimator.val_metrics")
        if isinstance(monitor, CompositeEvalMetric):
            raise ValueError("EarlyStoppingHandler cannot monitor a CompositeEvalMetric; "
                             "pass one of its metrics")
        self.monitor = monitor
        self.baseline = baseline
        self.patience = patience
        self._direction = _comparison(monitor, mode, "EarlyStoppingHandler")
        self.min_delta = min_delta if self._direction == "greater" else -min_delta
        self.wait = 0
        self.stopped_epoch = 0
        self.current_epoch = 0
        self.stop_training = False
        self.best = None

    def train_begin(self, estimator, *args, **kwargs):
        self.wait = 0
        self.stopped_epoch = 0
        self.current_epoch = 0
        self.stop_training = False
        if self.baseline is not None:
            self.best = self.baseline
        else:
            self.best = -math.inf if self._direction == "greater" else math.inf

    def epoch_end(self, estimator, *args, **kwargs):
        name, value = self.monitor.get()
        if math.isnan(value):
            warnings.warn(f"EarlyStoppingHandler: {name} has no value; pass one of "
                          "estimator.train_metrics or estimator.val_metrics as the monitor",
                          RuntimeWarning)
        elif _improved(self._direction, value - self.min_delta, self.best):
            self.best = value
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = self.current_epoch
                self.stop_training = True
        self.current_epoch += 1
        return self.stop_training

    def train_end(self, estimator, *args, **kwargs):
        if self.stopped_epoch > 0:
            estimator.logger.info("[Epoch %d] EarlyStoppingHandler: early stopping due to %s "
                                  "not improving", self.stopped_epoch, self.monitor.get()[0])


class GradientUpdateHandler(BatchEnd):
    """``trainer.step(batch size)`` at batch end, first of all handlers (priority -2000);
    the batch size is the sum of the losses' lengths along the batch axis."""

    def __init__(self, priority=-2000):
        self.priority = priority

    def batch_end(self, estimator, *args, **kwargs):
        loss = kwargs["loss"]
        losses = loss if isinstance(loss, (list, tuple)) else [loss]
        estimator.trainer.step(sum(l.shape[estimator.batch_axis] for l in losses))
