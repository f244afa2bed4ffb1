"""Saved-tensor version counters (in-place writes after recording are refused at backward,
legitimate writes keep working) and the checks on what a custom Function's backward returns."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.base import MXNetError


def _leaf(values):
    x = mx.np.array(values)
    x.attach_grad()
    return x


def test_write_through_a_view_made_before_recording_is_refused():
    x = _leaf([1.0, 2.0, 3.0, 4.0])
    v = x[0:3]
    with autograd.record():
        y = (x * x).sum()
        v[:] = 0
    with pytest.raises(MXNetError, match=r"`multiply`'s backward \(input 0.*version 0 → 1.*"
                                         r"use a copy, or write before recording"):
        y.backward()


def test_write_to_a_saved_constant_after_recording_is_refused():
    x = _leaf([1.0, 2.0])
    w = mx.np.array([3.0, 4.0])
    with autograd.record():
        y = (x * w).sum()
    w[:] = 0
    with pytest.raises(MXNetError, match=r"`multiply`'s backward \(input 1 \(shape \(2,\)\)\)"):
        y.backward()


@pytest.mark.parametrize("write", [
    lambda w: w.__iadd__(1),
    lambda w: w.reshape(2, 1).__setitem__(slice(None), 0),
    lambda w: mx.np.add(w, 1, out=w),
    lambda w: mx.np.array([5.0, 6.0]).copyto(w),
    lambda w: w.fill(0),
], ids=["iadd", "view of reshape", "out=", "copyto", "fill"])
def test_every_inplace_path_bumps_the_shared_version(write):
    w = mx.np.array([3.0, 4.0])
    view = w[1:]
    write(w)
    assert w._version == view._version == 1


def test_optimizer_step_bumps_parameter_versions_and_refuses_an_old_graph():
    net = gluon.nn.Dense(1, in_units=2)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    x = mx.np.ones((3, 2))
    with autograd.record():
        loss = net(x).sum()
    loss.backward(retain_graph=True)
    before = net.weight.data()._version
    trainer.step(3)
    assert net.weight.data()._version == before + 1
    with pytest.raises(MXNetError, match="modified in place after it was recorded"):
        loss.backward()


def test_legitimate_writes_keep_working():
    x = _leaf([1.0, 2.0, 3.0])
    w = mx.np.array([1.0, 1.0, 1.0])
    scratch = mx.np.zeros(3)
    w[:] = 2  # before recording
    with autograd.record():
        scratch[:] = 5  # no recorded op saved it
        y = (x * w).sum()
    y.backward()
    w[:] = 0  # after backward
    np.testing.assert_allclose(x.grad.asnumpy(), [2.0, 2.0, 2.0])

    net = gluon.nn.Dense(1, in_units=3)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    for _ in range(2):  # optimizer steps between iterations
        with autograd.record():
            loss = net(mx.np.ones((2, 3))).sum()
        loss.backward()
        trainer.step(2)


def test_head_gradient_of_the_wrong_type_names_both_types_and_the_fix():
    x = _leaf([1.0, 2.0])
    with autograd.record():
        y = x * 2
    with pytest.raises(TypeError, match=r"mxlite ndarray, got numpy\.ndarray; wrap it with "
                                        r"mx\.np\.array"):
        y.backward(np.ones(2))


def _function(returns):
    class Bad(autograd.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, g):
            return returns(g)
    return Bad()


@pytest.mark.parametrize("returns, message", [
    (lambda g: (g.asnumpy(), g), r"Bad\.backward: the gradient for input 0 is a "
                                 r"numpy\.ndarray, expected an mxlite ndarray"),
    (lambda g: (g, g.to_device(mx.cpu(1))), r"gradient for input 1 is on cpu\(1\) but the "
                                            r"input is on cpu\(0\)"),
    (lambda g: (g, g[:1]), r"gradient for input 1 has shape \(1,\) but the input has shape "
                           r"\(2,\)"),
    (lambda g: g, r"Bad\.backward returned 1 gradients for 2 inputs"),
], ids=["numpy", "device", "shape", "count"])
def test_custom_function_backward_results_are_checked(returns, message):
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    with autograd.record():
        y = _function(returns)(a, b)
    with pytest.raises(MXNetError, match=message):
        y.backward()
