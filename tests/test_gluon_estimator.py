"""gluon.contrib.estimator: the fit loop against a hand-written one, its argument checks,
and each event handler's counters, files and log lines (MXNet 2.x's semantics)."""
import io
import logging
import os
import re
import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import nn
from mxlite.gluon.contrib.estimator import (
    BatchBegin, BatchEnd, BatchProcessor, CheckpointHandler, EarlyStoppingHandler, EpochBegin,
    EpochEnd, Estimator, GradientUpdateHandler, LoggingHandler, MetricHandler,
    StoppingHandler, TrainBegin, TrainEnd, ValidationHandler)


def _regression_net():
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu", flatten=False))
    return net


def _regression_data(n=10, batch_size=4):
    x = mx.np.random.uniform(size=(n, 3))
    y = mx.np.random.uniform(size=(n, 4))
    return gluon.data.DataLoader(gluon.data.ArrayDataset(x, y), batch_size=batch_size)


def _classifier(net=None):
    net = nn.Sequential() if net is None else net
    net.add(nn.Dense(16, activation="relu", flatten=False), nn.Dense(10))
    return net


def _class_data(n=32, batch_size=8):
    x = mx.np.random.uniform(size=(n, 20))
    y = mx.np.array(np.arange(n) % 10, dtype="float32")
    return gluon.data.DataLoader(gluon.data.ArrayDataset(x, y), batch_size=batch_size)


def _quiet(est):
    est.logger.handlers[:] = [logging.NullHandler()]
    return est


def _estimator(net, loss, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _quiet(Estimator(net, loss, **kwargs))


def test_fit_matches_a_hand_written_loop(device):
    data = _regression_data(n=12, batch_size=4)
    nets = [_regression_net() for _ in range(2)]
    for net in nets:
        net.initialize(mx.init.Xavier(), device=device)
        net(mx.np.zeros((1, 3), device=device))
    for p, q in zip(nets[0].collect_params().values(), nets[1].collect_params().values()):
        q.set_data(p.data(device))
    trainers = [gluon.Trainer(n.collect_params(), "sgd", {"learning_rate": 0.1,
                                                          "momentum": 0.9}) for n in nets]
    loss = gluon.loss.L2Loss()
    est = _estimator(nets[0], loss, trainer=trainers[0], device=device)
    est.fit(data, epochs=3)
    for _ in range(3):
        for x, y in data:
            x, y = x.to_device(device), y.to_device(device)
            with autograd.record():
                out = loss(nets[1](x), y)
            out.backward()
            trainers[1].step(x.shape[0])
    for p, q in zip(nets[0].collect_params().values(), nets[1].collect_params().values()):
        np.testing.assert_array_equal(p.data(device).asnumpy(), q.data(device).asnumpy())


def test_fit_on_two_devices_splits_each_batch_and_matches_one_device():
    data = _regression_data(n=12, batch_size=4)
    nets = []
    for devices in ([mx.cpu(0)], [mx.cpu(0), mx.cpu(1)]):
        mx.np.random.seed(3)
        net = nn.Dense(4, in_units=3)
        net.initialize(mx.init.Xavier(), device=devices)
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
        _estimator(net, gluon.loss.L2Loss(), trainer=trainer, device=devices).fit(data, epochs=2)
        assert net.weight.list_device() == devices
        nets.append(net)
    np.testing.assert_allclose(nets[1].weight.data(mx.cpu(1)).asnumpy(),
                               nets[0].weight.data().asnumpy(), rtol=1e-5, atol=1e-6)


def test_evaluate_updates_validation_metrics_with_hand_computed_values():
    data = _regression_data(n=10, batch_size=4)
    net = _regression_net()
    net.initialize()
    est = _estimator(net, gluon.loss.L2Loss(), train_metrics=gluon.metric.MAE(),
                     val_metrics=[gluon.metric.MSE(), gluon.metric.Loss("l1")],
                     val_loss=gluon.loss.L1Loss())
    est.evaluate(data)
    x = mx.np.concatenate([b[0] for b in data])
    y = mx.np.concatenate([b[1] for b in data])
    err = net(x).asnumpy() - y.asnumpy()
    mse, l1 = est.val_metrics
    assert (mse.name, l1.name) == ("validation mse", "validation l1")
    np.testing.assert_allclose(mse.get()[1], (err ** 2).mean(), rtol=1e-5)
    # the Loss metric averages val_loss (L1), not the training loss (L2)
    np.testing.assert_allclose(l1.get()[1], np.abs(err).mean(), rtol=1e-5)
    assert [m.name for m in est.train_metrics] == ["training mae"]
    # without val_metrics, validation gets copies of the training metrics
    est = _estimator(net, gluon.loss.L2Loss(), train_metrics=gluon.metric.MAE())
    est.evaluate(data)
    (mae,) = est.val_metrics
    assert mae.name == "validation mae" and mae is not est.train_metrics[0]
    np.testing.assert_allclose(mae.get()[1], np.abs(err).mean(), rtol=1e-5)
    assert np.isnan(est.train_metrics[0].get()[1])


def test_default_metrics_follow_the_loss():
    net = _classifier()
    est = _estimator(net, gluon.loss.SoftmaxCrossEntropyLoss())
    acc, loss = est.train_metrics
    assert isinstance(acc, gluon.metric.Accuracy) and isinstance(loss, gluon.metric.Loss)
    assert (acc.name, loss.name) == ("training accuracy", "training softmaxcrossentropyloss")
    assert [m.name for m in est.val_metrics] == ["validation accuracy",
                                                  "validation softmaxcrossentropyloss"]
    assert all(v is not t for v, t in zip(est.val_metrics, est.train_metrics))
    reg = _estimator(_regression_net(), gluon.loss.L2Loss())
    assert [type(m) for m in reg.train_metrics] == [gluon.metric.Loss]
    # a metric reused by a second estimator is not renamed twice
    again = _estimator(_classifier(), gluon.loss.L2Loss(), train_metrics=acc)
    assert again.train_metrics[0].name == "training accuracy"


def test_training_loss_metric_tracks_the_mean_loss():
    data = _class_data()
    net = _classifier()
    est = _estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(),
                     trainer=None, device=mx.cpu())
    seen = []

    class Record(BatchEnd):
        priority = 10

        def batch_end(self, estimator, *args, **kwargs):
            seen.append(float(kwargs["loss"][0].mean()))

    est.fit(data, epochs=1, event_handlers=[Record()])
    assert len(seen) == 4
    np.testing.assert_allclose(est.train_metrics[1].get()[1], np.mean(seen), rtol=1e-5)


@pytest.mark.filterwarnings("ignore:No trainer specified")
def test_argument_checks():
    data = _regression_data()
    net = _regression_net()
    net.initialize()
    loss = gluon.loss.L2Loss()
    est = _estimator(net, loss)
    it = mx.io.NDArrayIter(data=mx.np.ones((8, 3)), label=mx.np.ones((8, 4)), batch_size=4)
    for bad in (it, [mx.np.ones((10, 3))]):
        with pytest.raises(ValueError, match="DataLoader"):
            est.fit(train_data=bad, epochs=1)
        with pytest.raises(ValueError, match="DataLoader"):
            est.fit(train_data=data, val_data=bad, epochs=1)
        with pytest.raises(ValueError, match="DataLoader"):
            est.evaluate(bad)
    with pytest.raises(ValueError, match="exactly one"):
        est.fit(data)
    with pytest.raises(ValueError, match="exactly one"):
        est.fit(data, epochs=1, batches=2)
    with pytest.raises(ValueError, match="gluon.loss.Loss"):
        Estimator(net, "mse")
    with pytest.raises(ValueError, match="EvalMetric"):
        Estimator(net, loss, train_metrics="acc")
    with pytest.raises(ValueError, match="gluon.Trainer"):
        Estimator(net, loss, trainer="sgd")
    with pytest.raises(ValueError, match="Device"):
        Estimator(net, loss, device="cpu")
    with pytest.raises(AssertionError, match="not available"):
        Estimator(net, loss, device=[mx.gpu(0), mx.gpu(100)])
    with pytest.raises(ValueError, match="fit_batch"):
        Estimator(net, loss, batch_processor=object())
    with pytest.raises(ValueError, match="EventHandler"):
        est.fit(data, epochs=1, event_handlers=["log"])


def test_devices_trainer_and_initialization_defaults():
    loss = gluon.loss.L2Loss()
    net = _regression_net()
    with pytest.warns(UserWarning, match="No trainer specified"):
        est = Estimator(net, loss)
    assert est.device == [mx.cpu()] and est.context == est.device
    assert type(est.trainer.optimizer).__name__ == "SGD"
    assert est.trainer.learning_rate == pytest.approx(0.001)
    assert est.val_net is net and est.val_loss is loss
    # deferred: initialized by the estimator, shapes filled on the first batch
    est.fit(_regression_data(), epochs=1)
    assert net[0].weight.shape == (4, 3)
    # MXNet 1.x's context= keyword
    assert _estimator(_regression_net(), loss, context=mx.cpu(0)).device == [mx.cpu(0)]

    done = _regression_net()
    done.initialize(mx.init.One())
    done(mx.np.zeros((1, 3)))
    trainer = gluon.Trainer(done.collect_params(), "sgd")
    with pytest.warns(UserWarning, match="Network already fully initialized"):
        Estimator(done, loss, initializer=mx.init.Zero(), trainer=trainer)
    assert (done[0].weight.data().asnumpy() == 1).all()

    partial = nn.Sequential()
    partial.add(nn.Dense(4, in_units=3), nn.Dense(2, in_units=4))
    partial[0].initialize(mx.init.One())
    _estimator(partial, loss, initializer=mx.init.Constant(0.5))
    assert (partial[0].weight.data().asnumpy() == 1).all()
    assert (partial[1].weight.data().asnumpy() == 0.5).all()


def test_handlers_are_categorized_by_event():
    class One(TrainBegin):
        pass

    class Two(EpochBegin, BatchBegin, TrainEnd):
        pass

    class Three(EpochBegin, BatchBegin, BatchEnd, TrainEnd):
        pass

    est = _estimator(_classifier(), gluon.loss.SoftmaxCrossEntropyLoss())
    lists = est._categorize_handlers([One(), Two(), Three()])
    assert [len(x) for x in lists] == [1, 2, 2, 1, 0, 2]


def test_default_handlers_their_order_and_metric_checks():
    data = _regression_data()
    net = _regression_net()
    net.initialize()
    est = _estimator(net, gluon.loss.L2Loss(), train_metrics=gluon.metric.RMSE())
    est.max_epoch, est.max_batch = 1, None
    early = EarlyStoppingHandler(monitor=est.val_metrics[0], mode="min")
    handlers = est._prepare_default_handlers(None, [early])
    assert [type(h) for h in handlers] == [GradientUpdateHandler, MetricHandler,
                                           EarlyStoppingHandler, StoppingHandler,
                                           LoggingHandler]
    with_val = est._prepare_default_handlers(data, [])
    assert sum(isinstance(h, ValidationHandler) for h in with_val) == 1
    # user handlers on the estimator's metrics mix with the defaults
    est.fit(data, epochs=1, event_handlers=[_quiet_logging(est.train_metrics)])
    est.fit(data, epochs=1, event_handlers=[MetricHandler(est.train_metrics),
                                            _quiet_logging(est.train_metrics)])
    # a metric the estimator never updates would stay empty: refused
    with pytest.raises(ValueError, match="val acc"):
        est.fit(data, epochs=1,
                event_handlers=[LoggingHandler(metrics=[gluon.metric.RMSE("val acc")])])
    with pytest.raises(ValueError, match="log_interval"):
        LoggingHandler(log_interval="batch")


def _quiet_logging(metrics, **kwargs):
    return LoggingHandler(metrics=metrics, **kwargs)


def test_batch_processor_subclass_drives_fit_and_evaluate():
    calls = []

    class Counting(BatchProcessor):
        def fit_batch(self, estimator, train_batch, batch_axis=0):
            calls.append("fit")
            return super().fit_batch(estimator, train_batch, batch_axis)

        def evaluate_batch(self, estimator, val_batch, batch_axis=0):
            calls.append("eval")
            return super().evaluate_batch(estimator, val_batch, batch_axis)

    data = _regression_data(n=8, batch_size=4)
    est = _estimator(_regression_net(), gluon.loss.L2Loss(), batch_processor=Counting())
    est.fit(data, val_data=data, epochs=2)
    assert calls == ["fit", "fit", "eval", "eval"] * 2


def test_validation_handler_periods():
    data = _regression_data(n=8, batch_size=4)
    runs = []

    def eval_fn(val_data, batch_axis=0):
        runs.append(batch_axis)

    est = _estimator(_regression_net(), gluon.loss.L2Loss())
    est.fit(data, epochs=3, event_handlers=[
        ValidationHandler(data, eval_fn, epoch_period=2, batch_period=3)])
    # batches 3 and 6 of 6, then the end of epoch 2
    assert runs == [0, 0, 0]


def test_stopping_by_batches_and_custom_stop_handlers():
    class Stop(TrainBegin, BatchEnd, EpochEnd):
        def __init__(self, batch_stop=None, epoch_stop=None):
            self.batch_stop, self.epoch_stop = batch_stop, epoch_stop

        def train_begin(self, estimator, *args, **kwargs):
            self.batches = self.epochs = 0
            self.stop = False

        # a stop request holds: the epoch end after a batch asked to stop ends training
        def batch_end(self, estimator, *args, **kwargs):
            self.batches += 1
            self.stop |= self.batches == self.batch_stop
            return self.stop

        def epoch_end(self, estimator, *args, **kwargs):
            self.epochs += 1
            self.stop |= self.epochs == self.epoch_stop
            return self.stop

    data = _class_data()  # 4 batches an epoch
    est = _estimator(_classifier(), gluon.loss.SoftmaxCrossEntropyLoss())
    stop = Stop(3, 2)
    est.fit(data, epochs=3, event_handlers=[stop])
    assert (stop.batches, stop.epochs) == (3, 1)
    stop = Stop(100, 5)
    est.fit(data, epochs=10, event_handlers=[stop])
    assert (stop.batches, stop.epochs) == (20, 5)
    stop = Stop()
    est.fit(data, batches=6, event_handlers=[stop])
    assert (stop.batches, stop.epochs) == (6, 2)


def test_gradient_update_handler_steps_with_the_batch_size():
    steps = []

    class Spy(gluon.Trainer):
        def step(self, batch_size, ignore_stale_grad=False):
            steps.append(batch_size)
            super().step(batch_size, ignore_stale_grad)

    net = _regression_net()
    net.initialize()
    net(mx.np.zeros((1, 3)))
    est = _estimator(net, gluon.loss.L2Loss(), trainer=Spy(net.collect_params(), "sgd"))
    est.fit(_regression_data(n=10, batch_size=4), epochs=1)
    assert steps == [4, 4, 2]


def test_checkpoints_by_epoch_and_by_batch(tmp_path):
    data = _class_data()
    acc = gluon.metric.Accuracy()
    est = _estimator(_classifier(), gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=acc)
    with pytest.warns(UserWarning, match="greater"):
        ckpt = CheckpointHandler(str(tmp_path), "by_epoch", monitor=acc, save_best=True)
    est.fit(data, epochs=1, event_handlers=[ckpt])
    assert (ckpt.current_batch, ckpt.current_epoch) == (4, 1)
    files = set(os.listdir(tmp_path))
    assert {"by_epoch-best.params", "by_epoch-best.states", "by_epoch-epoch0batch4.params",
            "by_epoch-epoch0batch4.states"} <= files
    assert "by_epoch-symbol.json" not in files  # not hybridized

    net = _classifier(nn.HybridSequential())
    net.hybridize()
    est = _estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=acc)
    ckpt = CheckpointHandler(str(tmp_path), "by_batch", epoch_period=None, batch_period=2,
                             max_checkpoints=2)
    est.fit(data, batches=10, event_handlers=[ckpt])
    assert (ckpt.current_batch, ckpt.current_epoch) == (10, 3)
    kept = sorted(f for f in os.listdir(tmp_path) if f.startswith("by_batch-epoch"))
    assert kept == ["by_batch-epoch1batch7.params", "by_batch-epoch1batch7.states",
                    "by_batch-epoch2batch9.params", "by_batch-epoch2batch9.states"]
    assert os.path.isfile(tmp_path / "by_batch-symbol.json")
    # the saved parameters are the net's
    copy = _classifier(nn.HybridSequential())
    copy.load_parameters(str(tmp_path / "by_batch-epoch2batch9.params"))
    for p, q in zip(net.collect_params().values(), copy.collect_params().values()):
        np.testing.assert_array_equal(p.data().asnumpy(), q.data().asnumpy())
    with pytest.raises(ValueError, match="monitor"):
        CheckpointHandler(str(tmp_path), save_best=True)


def test_save_best_follows_the_monitor(tmp_path):
    values = iter([0.5, 0.3, 0.7])

    class Scripted(gluon.metric.EvalMetric):
        def get(self):
            return self.name, self.value

    acc = Scripted("accuracy")
    acc.value = float("nan")
    saved = []
    ckpt = CheckpointHandler(str(tmp_path), "m", monitor=acc, save_best=True, mode="max")

    class Fake:
        logger = logging.getLogger("quiet")

        class net:
            @staticmethod
            def save_parameters(path):
                saved.append(os.path.basename(path))

        class trainer:
            @staticmethod
            def save_states(path):
                pass

    ckpt.train_begin(type("E", (), {"max_batch": None, "max_epoch": 3})())
    for _ in range(3):
        acc.value = next(values)
        ckpt.epoch_end(Fake)
    assert saved == ["m-epoch0batch0.params", "m-best.params", "m-epoch1batch0.params",
                     "m-epoch2batch0.params", "m-best.params"]
    assert ckpt.best == 0.7


def test_resume_from_checkpoint_trains_what_is_left(tmp_path):
    data = _class_data()
    acc = gluon.metric.Accuracy()
    est = _estimator(_classifier(), gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=acc)
    est.fit(data, epochs=2, event_handlers=[
        CheckpointHandler(str(tmp_path), "net", max_checkpoints=1)])
    assert sorted(os.listdir(tmp_path)) == ["net-epoch1batch8.params", "net-epoch1batch8.states"]
    saved = {k: v.data().asnumpy() for k, v in est.net.collect_params().items()}

    fresh = _classifier()
    est2 = _estimator(fresh, gluon.loss.SoftmaxCrossEntropyLoss(),
                      train_metrics=gluon.metric.Accuracy())
    loaded = []

    class Peek(TrainBegin):
        priority = 1  # after the checkpoint handler loaded

        def train_begin(self, estimator, *args, **kwargs):
            loaded.append({k: v.data().asnumpy()
                           for k, v in estimator.net.collect_params().items()})

    est2.fit(data, epochs=5, event_handlers=[
        CheckpointHandler(str(tmp_path), "net", max_checkpoints=1, resume_from_checkpoint=True),
        Peek()])
    assert est2.max_epoch == 3
    for k in saved:
        np.testing.assert_array_equal(loaded[0][k], saved[k])
    assert sorted(os.listdir(tmp_path)) == ["net-epoch4batch20.params",
                                            "net-epoch4batch20.states"]
    with pytest.raises(ValueError, match="already reach"):
        est2.fit(data, epochs=3, event_handlers=[
            CheckpointHandler(str(tmp_path), "net", resume_from_checkpoint=True)])
    with pytest.raises(ValueError, match="same kind of period"):
        est2.fit(data, batches=3, event_handlers=[
            CheckpointHandler(str(tmp_path), "net", resume_from_checkpoint=True)])


def test_early_stopping():
    data = _class_data()
    acc = gluon.metric.Accuracy()
    est = _estimator(_classifier(), gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=acc,
                     trainer=None)
    est.trainer.set_learning_rate(0.0)  # the metric stays the same every epoch
    stop = EarlyStoppingHandler(monitor=acc, patience=0, mode="min")
    est.fit(data, epochs=5, event_handlers=[stop])
    assert (stop.current_epoch, stop.stopped_epoch) == (2, 1)
    stop = EarlyStoppingHandler(monitor=acc, patience=2, mode="max")
    est.fit(data, epochs=5, event_handlers=[stop])
    assert (stop.current_epoch, stop.stopped_epoch) == (3, 2)
    stop = EarlyStoppingHandler(monitor=acc, patience=1, mode="max", baseline=2.0)
    est.fit(data, epochs=5, event_handlers=[stop])
    assert stop.current_epoch == 1
    with pytest.raises(ValueError, match="monitor"):
        EarlyStoppingHandler(monitor="acc")
    with pytest.raises(ValueError, match="CompositeEvalMetric"):
        EarlyStoppingHandler(monitor=gluon.metric.CompositeEvalMetric([acc]))


@pytest.mark.parametrize("interval, lines", [(1, 13), (5, 3)])
def test_logging_interval_lines(interval, lines):
    data = _class_data(n=100, batch_size=8)
    acc = gluon.metric.Accuracy()
    est = _estimator(_classifier(), gluon.loss.SoftmaxCrossEntropyLoss(), train_metrics=acc)
    out = io.StringIO()
    est.logger.handlers[:] = [logging.StreamHandler(out)]
    est.fit(data, epochs=1, event_handlers=[LoggingHandler(log_interval=interval,
                                                           metrics=[acc])])
    text = out.getvalue().splitlines()
    batch_lines = [t for t in text if re.fullmatch(
        r"\[Epoch 0\]\[Batch \d+\]\[Samples \d+\] time/interval: \d+\.\d{3}s "
        r"training accuracy: \d\.\d{4}", t)]
    assert len(batch_lines) == lines
    assert batch_lines[-1].startswith(f"[Epoch 0][Batch {(12 // interval) * interval}]"
                                      f"[Samples {min(100, 8 * (12 // interval * interval + 1))}]")
    assert text[0] == "Training begin: using optimizer SGD with current learning rate 0.0010 "
    assert text[1] == "Train for 1 epochs."
    assert re.fullmatch(r"Train finished using total \d+s with 1 epochs. "
                        r"training accuracy: \d\.\d{4}", text[-1])


def test_logging_to_a_file_and_validation_logs(tmp_path):
    data = _class_data()
    est = _estimator(_classifier(), gluon.loss.SoftmaxCrossEntropyLoss())
    path = tmp_path / "log.txt"
    est.logger.addHandler(logging.FileHandler(path))
    handler = LoggingHandler(metrics=est.train_metrics)
    est.fit(data, val_data=data, epochs=3, event_handlers=[handler])
    for h in est.logger.handlers:
        h.close()
    assert (handler.batch_index, handler.current_epoch) == (0, 3)
    text = path.read_text()
    assert text.count("Validation Begin") == 3
    assert re.search(r"validation accuracy: \d\.\d{4}, validation softmaxcrossentropyloss: "
                     r"\d\.\d{4}", text)
