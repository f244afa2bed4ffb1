"""Optimizer, scheduler and metric behaviour that MXNet's own test files
(test_optimizer.py, test_lr_scheduler.py, test_metric.py) check, pinned against
hand-computed values in MXNet 2.x semantics."""
import json
import math

import numpy as onp
import pytest

import mxlite as mx


def _step(opt, w, g, steps=1):
    """Run ``steps`` updates of one parameter and return the weight as host numpy."""
    weight = mx.np.array(w, dtype="float32")
    grad = mx.np.array(g, dtype="float32")
    state = opt.create_state(0, weight)
    for _ in range(steps):
        opt.update(0, weight, grad, state)
    return weight.asnumpy(), state


def test_sgd_default_rate_clip_rescale_wd():
    """MXNet 2.x SGD: default lr 0.1, ``g = clip(rescale*grad) + wd*w``, ``w -= lr*g``."""
    w, g = onp.array([1.0, -2.0, 0.5]), onp.array([4.0, -0.2, 1.0])
    got, _ = _step(mx.optimizer.SGD(rescale_grad=0.5, clip_gradient=1.0, wd=0.1), w, g)
    expected = w - 0.1 * (onp.clip(0.5 * g, -1.0, 1.0) + 0.1 * w)
    onp.testing.assert_allclose(got, expected, rtol=1e-6)


def test_sgd_momentum_two_steps():
    """The weight after two momentum steps equals MXNet's ``mom = m*mom - lr*g; w += mom``."""
    w, g = onp.array([1.0, 2.0]), onp.array([0.5, -1.0])
    got, _ = _step(mx.optimizer.SGD(learning_rate=0.2, momentum=0.9), w, g, steps=2)
    mom = -0.2 * g
    expected = w + mom
    mom = 0.9 * mom - 0.2 * g
    expected = expected + mom
    onp.testing.assert_allclose(got, expected, rtol=1e-6)


def test_adam_clips_before_adding_weight_decay():
    """MXNet 2.x Adam clips ``rescale*grad`` first, then adds ``wd*w`` (1.x clipped the sum)."""
    w, g = onp.array([2.0, -1.0]), onp.array([3.0, 0.1])
    got, (mean, var) = _step(mx.optimizer.Adam(learning_rate=0.01, clip_gradient=0.5, wd=0.2),
                             w, g)
    gg = onp.clip(g, -0.5, 0.5) + 0.2 * w
    # 1 - beta2 in float32, as MXNet's kernels take it
    m, v = 0.1 * gg, float(onp.float32(1) - onp.float32(0.999)) * gg * gg
    lr = 0.01 * math.sqrt(1 - 0.999) / (1 - 0.9)
    onp.testing.assert_allclose(mean.asnumpy(), m, rtol=1e-5)
    onp.testing.assert_allclose(var.asnumpy(), v, rtol=1e-5)
    onp.testing.assert_allclose(got, w - lr * m / (onp.sqrt(v) + 1e-8), rtol=1e-5)


def test_rmsprop_epsilon_outside_sqrt_and_clip_weights():
    """MXNet 2.x RMSProp: ``w -= lr*g/(sqrt(v)+eps)`` then clip the weights."""
    w, g = onp.array([0.3, -0.3]), onp.array([1.0, -2.0])
    got, _ = _step(mx.optimizer.RMSProp(learning_rate=0.1, rho=0.8, clip_weights=0.25), w, g)
    v = 0.2 * g * g
    onp.testing.assert_allclose(got, onp.clip(w - 0.1 * g / (onp.sqrt(v) + 1e-8), -0.25, 0.25),
                                rtol=1e-6)


@pytest.mark.parametrize("old, new", [("gamma1", "rho"), ("gamma2", "momentum")])
def test_rmsprop_refuses_1x_parameter_names(old, new):
    """The 1.x names are refused, as MXNet 2.x does, and the message names the new one."""
    with pytest.raises(DeprecationWarning, match=f"'{old}' is deprecated. Please use '{new}'"):
        mx.optimizer.RMSProp(**{old: 0.9})


def test_multi_factor_scheduler_through_updater():
    """test_lr_scheduler.py's check on np arrays: the rate drops by ``factor`` after each step."""
    sched = mx.lr_scheduler.MultiFactorScheduler(step=[8, 12], factor=0.1)
    opt = mx.optimizer.create("sgd", learning_rate=0.2, lr_scheduler=sched)
    updater = mx.optimizer.get_updater(opt)
    weight = mx.np.ones((1, 1, 10, 10), dtype="float32")
    grad = mx.np.arange(100, dtype="float32").reshape(1, 1, 10, 10)
    rates = []
    for _ in range(16):
        updater(0, grad, weight)
        rates.append(opt._get_lr(0))
    assert rates[7] == pytest.approx(0.2)
    assert rates[8] == pytest.approx(0.02)
    assert rates[12] == pytest.approx(0.002)


def test_scheduler_refuses_warmup_begin_above_base_lr():
    """A warmup that would start above the rate it warms up to is an error in MXNet 2.x."""
    with pytest.raises(ValueError, match="Base lr has to be higher than warmup_begin_lr"):
        mx.lr_scheduler.FactorScheduler(step=2, base_lr=0.01, warmup_steps=3,
                                        warmup_begin_lr=0.1)
    sched = mx.lr_scheduler.FactorScheduler(step=2, base_lr=0.1, warmup_steps=4,
                                            warmup_begin_lr=0.02)
    assert sched(2) == pytest.approx(0.02 + (0.1 - 0.02) * 2 / 4)


def test_metric_config_round_trips_through_json():
    """test_metric.py on mx.gluon.metric (MXNet 2.x moved mx.metric there)."""
    for metric in (mx.gluon.metric.create("acc", axis=0), mx.gluon.metric.create("f1"),
                   mx.gluon.metric.create("perplexity", -1),
                   mx.gluon.metric.create(["acc", "f1"])):
        again = mx.gluon.metric.create(json.dumps(metric.get_config()))
        assert again.get_config() == metric.get_config()
    acc = mx.gluon.metric.create("acc")
    acc.update([mx.np.array([0, 1, 1])], [mx.np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])])
    assert acc.get() == ("accuracy", pytest.approx(2 / 3))


def test_optimizer_records_mxnets_settings():
    opt = mx.optimizer.SGD(learning_rate=0.1, use_fused_step=True, aggregate_num=4)
    assert (opt.use_fused_step, opt.aggregate_num, opt.lazy_update) == (True, 4, False)
    assert opt.allow_np_array is True
    plain = mx.optimizer.Adam()
    assert (plain.use_fused_step, plain.aggregate_num) == (False, 1)
    # MXNet's Updater works without the attribute (older pickles lack it)
    del plain.allow_np_array
    updater = mx.optimizer.get_updater(plain)
    weight = mx.np.ones((2,))
    updater(0, mx.np.full((2,), 0.5), weight)
    assert (weight.asnumpy() < 1).all()

