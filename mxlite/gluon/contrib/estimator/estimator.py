"""The Estimator: MXNet's ready-made training loop over a Gluon net, loss, metrics and
Trainer, extended through event handlers and a BatchProcessor."""
import copy
import logging
import sys
import warnings

from ....device import Device, cpu, gpu, num_gpus
from ...data import DataLoader
from ...loss import Loss
from ...metric import Loss as LossMetric
from ...trainer import Trainer
from .batch_processor import BatchProcessor
from .event_handler import (BatchBegin, BatchEnd, EpochBegin, EpochEnd, GradientUpdateHandler,
                            LoggingHandler, MetricHandler, StoppingHandler, TrainBegin,
                            TrainEnd, ValidationHandler, _check_event_handlers)
from .utils import _check_handler_metric_ref, _check_metrics, _suggest_metric_for_loss

__all__ = ["Estimator"]


class Estimator:
    """Train ``net`` on ``loss`` with ``fit`` and evaluate it with ``evaluate``.

    ``train_metrics`` / ``val_metrics``: EvalMetric or list (default: accuracy for
    SoftmaxCrossEntropyLoss, plus the running loss); they are renamed 'training ...' and
    'validation ...', validation ones copied from the training ones when not given.
    ``initializer`` initializes what ``net`` has not; ``trainer`` defaults to SGD with
    learning rate 0.001. ``device`` (or MXNet 1.x's ``context``): a Device or list; the batch
    is split across them. ``val_net`` / ``val_loss`` are used by ``evaluate`` (default: the
    training ones). ``batch_processor`` supplies ``fit_batch`` and ``evaluate_batch``.
    ``logger`` is this estimator's own ``logging.Logger``, writing INFO to stdout.
    """

    def __init__(self, net, loss, train_metrics=None, val_metrics=None, initializer=None,
                 trainer=None, device=None, val_net=None, val_loss=None,
                 batch_processor=None, context=None):
        self.net = net
        self.loss = self._check_loss(loss)
        self._train_metrics = _check_metrics(train_metrics)
        self._val_metrics = _check_metrics(val_metrics)
        self._add_default_training_metrics()
        self._add_validation_metrics()
        self.val_loss = self.loss if val_loss is None else self._check_loss(val_loss)
        self.val_net = self.net if val_net is None else val_net
        self.logger = logging.Logger(name="Estimator", level=logging.INFO)
        self.logger.addHandler(logging.StreamHandler(sys.stdout))
        self.device = self._check_devices(device if device is not None else context)
        self._initialize(initializer)
        self.trainer = self._check_trainer(trainer)
        self.batch_processor = self._check_batch_processor(batch_processor)
        self.max_epoch = self.max_batch = None
        self.batch_axis = 0

    @property
    def context(self):
        """MXNet 1.x's name for ``device``."""
        return self.device

    @property
    def train_metrics(self):
        return self._train_metrics

    @property
    def val_metrics(self):
        return self._val_metrics

    @staticmethod
    def _check_loss(loss):
        if not isinstance(loss, Loss):
            raise ValueError(f"loss must be a gluon.loss.Loss, got {loss!r}")
        return loss

    @staticmethod
    def _check_devices(device):
        available = [gpu(i) for i in range(num_gpus())]
        if not device:
            if len(available) > 1:
                warnings.warn("You have multiple GPUs, gpu(0) will be used by default. To use "
                              "all of them, pass device=[mx.gpu(0), mx.gpu(1), ...]")
            return [available[0] if available else cpu()]
        if isinstance(device, Device):
            device = [device]
        elif not (isinstance(device, list) and device
                  and all(isinstance(d, Device) for d in device)):
            raise ValueError(f"device must be a Device or a list of Devices, for example "
                             f"mx.cpu() or [mx.gpu(0), mx.gpu(1)], got {device!r}")
        for d in device:
            if not (d.is_host or d in available):
                # AssertionError, as MXNet raises here
                raise AssertionError(f"{d} is not available; use mx.cpu()" + "".join(
                    f", {g}" for g in available))
        return device

    def _is_initialized(self):
        for param in self.net.collect_params().values():
            try:
                param.list_device()
            except RuntimeError:
                return False
        return True

    def _initialize(self, initializer):
        if not self._is_initialized():
            # initialize only what is not yet: a partly initialized net is fine-tuning
            if initializer:
                self.net.initialize(init=initializer, device=self.device)
            else:
                self.net.initialize(device=self.device)
        elif initializer:
            warnings.warn("Network already fully initialized, skipping initialization. You "
                          "don't need to pass initializer if you already initialized your "
                          "net. Use net.initialize(init=your_initializer, force_reinit=True) "
                          "to re-initialize it.")

    def _check_trainer(self, trainer):
        if not trainer:
            warnings.warn("No trainer specified, default SGD optimizer with learning rate "
                          "0.001 is used.")
            return Trainer(self.net.collect_params(), "sgd", {"learning_rate": 0.001})
        if not isinstance(trainer, Trainer):
            raise ValueError(f"trainer must be a gluon.Trainer, got {trainer!r}")
        return trainer

    @staticmethod
    def _check_batch_processor(batch_processor):
        if batch_processor is None:
            return BatchProcessor()
        if not (callable(getattr(batch_processor, "fit_batch", None))
                and callable(getattr(batch_processor, "evaluate_batch", None))):
            raise ValueError("batch_processor must have fit_batch() and evaluate_batch() "
                             "methods; subclass gluon.contrib.estimator.BatchProcessor")
        return batch_processor

    def _add_default_training_metrics(self):
        if not self._train_metrics:
            suggested = _suggest_metric_for_loss(self.loss)
            if suggested:
                self._train_metrics = [suggested]
            self._train_metrics.append(LossMetric(type(self.loss).__name__.lower()))
        for metric in self._train_metrics:
            # the prefix tells handlers training metrics from validation ones; a metric
            # reused by a second estimator keeps a single one
            if not metric.name.startswith("training "):
                metric.name = "training " + metric.name

    def _add_validation_metrics(self):
        if not self._val_metrics:
            self._val_metrics = [copy.deepcopy(metric) for metric in self._train_metrics]
        for metric in self._val_metrics:
            if "training" in metric.name:
                metric.name = metric.name.replace("training", "validation")
            else:
                metric.name = "validation " + metric.name

    @staticmethod
    def _check_data(data, what):
        if not isinstance(data, DataLoader):
            raise ValueError(f"Estimator takes {what} as a gluon.data.DataLoader, got "
                             f"{type(data).__name__}; wrap arrays in gluon.data.ArrayDataset "
                             "and a DataLoader")

    def evaluate(self, val_data, batch_axis=0, event_handlers=None):
        """Run ``val_net`` over ``val_data`` and update ``val_metrics``; a MetricHandler and a
        LoggingHandler on the validation metrics are added unless given."""
        self._check_data(val_data, "val_data")
        for metric in self.val_metrics:
            metric.reset()
        handlers = self._prepare_default_validation_handlers(event_handlers)
        _, epoch_begin, batch_begin, batch_end, epoch_end, _ = \
            self._categorize_handlers(handlers)
        for handler in epoch_begin:
            handler.epoch_begin(self)
        for batch in val_data:
            for handler in batch_begin:
                handler.batch_begin(self, batch=batch)
            _, label, pred, loss = self.batch_processor.evaluate_batch(self, batch, batch_axis)
            for handler in batch_end:
                handler.batch_end(self, batch=batch, pred=pred, label=label, loss=loss)
        for handler in epoch_end:
            handler.epoch_end(self)

    def fit(self, train_data, val_data=None, epochs=None, event_handlers=None, batches=None,
            batch_axis=0):
        """Train for ``epochs`` epochs or ``batches`` batches (exactly one of them). Adds a
        StoppingHandler, a GradientUpdateHandler, a MetricHandler, a LoggingHandler and,
        with ``val_data``, a ValidationHandler, unless handlers of those kinds are given."""
        self._check_data(train_data, "train_data")
        if val_data is not None:
            self._check_data(val_data, "val_data")
        if (not epochs) == (not batches):
            raise ValueError(f"fit() trains for a number of epochs or of batches: give exactly "
                             f"one of them (got epochs={epochs}, batches={batches})")
        self.max_epoch, self.max_batch, self.batch_axis = epochs, batches, batch_axis
        handlers = self._prepare_default_handlers(val_data, event_handlers)
        train_begin, epoch_begin, batch_begin, batch_end, epoch_end, train_end = \
            self._categorize_handlers(handlers)
        for handler in train_begin:
            handler.train_begin(self)
        while True:
            for handler in epoch_begin:
                handler.epoch_begin(self)
            for batch in train_data:
                for handler in batch_begin:
                    handler.batch_begin(self, batch=batch)
                _, label, pred, loss = self.batch_processor.fit_batch(self, batch, batch_axis)
                # every handler sees the batch end, even after one asked to stop
                stops = [handler.batch_end(self, batch=batch, pred=pred, label=label,
                                           loss=loss) for handler in batch_end]
                if any(stops):
                    break
            if any([handler.epoch_end(self) for handler in epoch_end]):
                break
        for handler in train_end:
            handler.train_end(self)

    def _prepare_default_handlers(self, val_data, event_handlers):
        handlers = _check_event_handlers(event_handlers)
        added = [StoppingHandler(self.max_epoch, self.max_batch)]
        if not any(isinstance(h, GradientUpdateHandler) for h in handlers):
            added.append(GradientUpdateHandler())
        if not any(isinstance(h, MetricHandler) for h in handlers):
            added.append(MetricHandler(metrics=self.train_metrics))
        if val_data is not None and not any(isinstance(h, ValidationHandler) for h in handlers):
            added.append(ValidationHandler(val_data=val_data, eval_fn=self.evaluate))
        if not any(isinstance(h, LoggingHandler) for h in handlers):
            added.append(LoggingHandler(metrics=self.train_metrics))
        return self._merge_handlers(handlers, added, self.train_metrics + self.val_metrics)

    def _prepare_default_validation_handlers(self, event_handlers):
        handlers = _check_event_handlers(event_handlers)
        added = []
        if not any(isinstance(h, MetricHandler) for h in handlers):
            added.append(MetricHandler(metrics=self.val_metrics))
        if not any(isinstance(h, LoggingHandler) for h in handlers):
            added.append(LoggingHandler(metrics=self.val_metrics))
        return self._merge_handlers(handlers, added, self.val_metrics)

    @staticmethod
    def _merge_handlers(handlers, added, known_metrics):
        """User handlers plus the defaults, sorted by priority (stable). When both are present
        every handler must use the estimator's metrics, which the defaults update."""
        if handlers and added:
            for handler in handlers:
                _check_handler_metric_ref(handler, known_metrics)
        merged = handlers + added
        merged.sort(key=lambda handler: getattr(handler, "priority", 0))
        return merged

    @staticmethod
    def _categorize_handlers(event_handlers):
        """The handlers of each of the six events, so empty methods are never called."""
        kinds = (TrainBegin, EpochBegin, BatchBegin, BatchEnd, EpochEnd, TrainEnd)
        return tuple([h for h in event_handlers if isinstance(h, kind)] for kind in kinds)
