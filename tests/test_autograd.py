import gc
import math
import threading
import weakref

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.base import DeviceMismatchError, MXNetError


def test_default_state_and_scopes():
    assert not autograd.is_recording() and not autograd.is_training()
    with autograd.record():
        assert autograd.is_recording() and autograd.is_training()
        with autograd.pause():
            assert not autograd.is_recording() and not autograd.is_training()
            with autograd.train_mode():
                assert autograd.is_training() and not autograd.is_recording()
        assert autograd.is_recording() and autograd.is_training()
        with autograd.predict_mode():
            assert autograd.is_recording() and not autograd.is_training()
    with autograd.record(train_mode=False):
        assert autograd.is_recording() and not autograd.is_training()
    assert not autograd.is_recording() and not autograd.is_training()


def test_set_functions_return_previous():
    assert autograd.set_recording(True) is False
    assert autograd.set_recording(False) is True
    assert autograd.set_training(True) is False
    assert autograd.set_training(False) is True


def test_scope_restores_after_exception():
    with pytest.raises(KeyError):
        with autograd.record():
            raise KeyError
    assert not autograd.is_recording()


def test_recording_is_per_thread():
    seen = {}
    with autograd.record():
        t = threading.Thread(target=lambda: seen.setdefault("rec", autograd.is_recording()))
        t.start()
        t.join()
    assert seen["rec"] is False


def test_tutorial_gradient(device):
    x = mx.np.array([1, 2, 3], device=device)
    x.attach_grad()
    with autograd.record():
        y = 2 * x ** 2
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [4, 8, 12])
    assert x.grad.device == device


def test_only_ops_on_graph_arrays_are_recorded():
    a = mx.np.ones(3)
    with autograd.record():
        b = a * 2
    assert b._node is None
    with pytest.raises(MXNetError, match="not in a computational graph"):
        b.backward()


def test_backward_twice_needs_retain_graph():
    x = mx.np.array([1.0, 2.0])
    x.attach_grad(grad_req="add")
    with autograd.record():
        y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [4, 8])
    with pytest.raises(MXNetError, match="retain_graph=True"):
        y.backward()


def test_non_scalar_head_uses_ones_and_head_grad_shape_is_checked():
    x = mx.np.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = x * 3
    with pytest.raises(ValueError, match=r"head gradient of shape \(2,\)"):
        y.backward(mx.np.ones(2), retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [3, 3, 3])


def test_grad_req_write_add_null():
    x = mx.np.array([1.0, 2.0])
    x.attach_grad()
    for _ in range(2):
        with autograd.record():
            y = (x * 3).sum()
        y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [3, 3])
    x.attach_grad(grad_req="add")
    for _ in range(2):
        with autograd.record():
            y = (x * 3).sum()
        y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [6, 6])
    z = mx.np.array([1.0])
    z.attach_grad(grad_req="null")
    with autograd.record():
        w = (z * 2).sum()
    with pytest.raises(MXNetError, match="no inputs in computation graph that require"):
        w.backward()


def test_attach_grad_resets_and_uses_are_summed():
    x = mx.np.array([2.0])
    x.attach_grad(grad_req="add")
    with autograd.record():
        y = x * x + x
    y.backward()
    assert x.grad.item() == 5.0
    x.attach_grad()
    assert x.grad.item() == 0.0


def test_attach_grad_on_intermediate_keeps_flowing():
    x = mx.np.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = x * 2
        y.attach_grad()
        z = (y * y).sum()
    z.backward()
    np.testing.assert_allclose(y.grad.asnumpy(), [4, 8])
    np.testing.assert_allclose(x.grad.asnumpy(), [8, 16])
    y.drop_grad()
    assert y.grad is None


def test_detach_stops_gradient():
    x = mx.np.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = x.detach() * x
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [1, 2])


def test_grad_returns_without_touching_buffers():
    x = mx.np.array([3.0])
    x.attach_grad()
    with autograd.record():
        y = x ** 2
    (g,) = autograd.grad(y, [x])
    assert g.item() == 6.0 and x.grad.item() == 0.0


def test_grad_of_unmarked_variable_is_an_error():
    x = mx.np.array([3.0])
    w = mx.np.array([1.0])
    x.attach_grad()
    with autograd.record():
        y = x * w
    with pytest.raises(MXNetError, match="0-th variable"):
        autograd.grad(y, [w])


def test_second_order():
    x = mx.np.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = x ** 3
        (dy,) = autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(dy.asnumpy(), [3, 12])
    dy.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [6, 12])  # 6x


def test_second_order_exp_as_mxnet_test_gradient():
    x = mx.np.array([1.0])
    x.attach_grad()
    with autograd.record():
        z = mx.np.exp(x) + x
        (dx,) = autograd.grad(z, [x], create_graph=True)
    assert abs(dx.item() - 3.7182817) < 1e-5
    dx.backward()
    assert abs(x.grad.item() - math.e) < 1e-5


def test_third_order_through_tanh():
    x = mx.np.array([0.3], dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = mx.np.tanh(x)
        (d1,) = autograd.grad(y, [x], create_graph=True)
        (d2,) = autograd.grad(d1, [x], create_graph=True)
    d2.backward()
    t = math.tanh(0.3)
    assert abs(d2.item() - (-2 * t * (1 - t * t))) < 1e-12
    assert abs(x.grad.item() - (-2 * (1 - t * t) ** 2 + 4 * t * t * (1 - t * t))) < 1e-12


def test_mark_variables():
    x = mx.np.array([1.0, 2.0])
    buf = mx.np.zeros(2)
    autograd.mark_variables([x], [buf])
    with autograd.record():
        y = (x * 5).sum()
    autograd.backward(y)
    np.testing.assert_allclose(buf.asnumpy(), [5, 5])
    assert x.grad is buf


def test_backward_of_several_heads():
    x = mx.np.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        a = x * 2
        b = x * x
    autograd.backward([a, b], [None, mx.np.array([1.0, 10.0])])
    np.testing.assert_allclose(x.grad.asnumpy(), [4, 42])


def test_backward_train_mode_flag():
    seen = []

    class Probe(autograd.Function):
        def forward(self, x):
            return x * 1

        def backward(self, dy):
            seen.append(autograd.is_training())
            return dy

    x = mx.np.ones(1)
    x.attach_grad()
    with autograd.record():
        y = Probe()(x)
    y.backward(train_mode=False)
    assert seen == [False]


def test_custom_function():
    class Sigmoid(autograd.Function):
        def forward(self, x):
            y = 1 / (1 + mx.np.exp(-x))
            self.save_for_backward(y)
            return y

        def backward(self, dy):
            (y,) = self.saved_tensors
            return dy * y * (1 - y)

    x = mx.np.array([0.0, 1.0])
    x.attach_grad()
    f = Sigmoid()
    with autograd.record():
        y = f(x)
        z = (y * 2).sum()
    z.backward()
    s = 1 / (1 + np.exp(-np.array([0.0, 1.0])))
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * s * (1 - s), rtol=1e-6)
    with pytest.raises(MXNetError, match="already called"):
        f(x)


def test_function_backward_must_return_one_gradient_per_input():
    class Bad(autograd.Function):
        def forward(self, a, b):
            return a + b

        def backward(self, dy):
            return dy

    a, b = mx.np.ones(1), mx.np.ones(1)
    a.attach_grad()
    with autograd.record():
        y = Bad()(a, b)
    with pytest.raises(MXNetError, match="returned 1 gradients for 2 inputs"):
        y.backward()


def test_inplace_on_graph_array_inside_record_is_refused():
    x = mx.np.ones(3)
    x.attach_grad()
    with autograd.record():
        y = x * 2
        with pytest.raises(MXNetError, match="Inplace operations"):
            y += 1
        with pytest.raises(MXNetError, match="Inplace operations"):
            y[0] = 5
        with pytest.raises(MXNetError, match="Inplace operations"):
            mx.np.add(x, 1, out=y)
        with pytest.raises(MXNetError, match="Inplace operations"):
            y.fill(0)
    assert y.tolist() == [2, 2, 2]  # the refused writes left it untouched
    x += 1  # outside record: fine, as optimizers do
    np.testing.assert_allclose(x.asnumpy(), [2, 2, 2])


def test_graph_spans_devices():
    a = mx.np.array([1.0, 2.0], device=mx.cpu(1))
    a.attach_grad()
    with autograd.record():
        b = a.to_device(mx.cpu(0)) * 3
        c = (b.to_device(mx.cpu(2)) ** 2).sum()
    c.backward()
    np.testing.assert_allclose(a.grad.asnumpy(), [18, 36])
    assert a.grad.device == mx.cpu(1)


def test_mixing_devices_names_both():
    a = mx.np.ones(2, device=mx.cpu(0))
    b = mx.np.ones(2, device=mx.cpu(1))
    with pytest.raises(DeviceMismatchError, match=r"cpu\(0\) and cpu\(1\)"):
        a + b


def test_saved_arrays_are_released_after_backward():
    x = mx.np.ones(1000)
    x.attach_grad()
    with autograd.record():
        y = mx.np.exp(x)
        z = (y * 3).sum()
    saved = weakref.ref(y._data)
    node = weakref.ref(y._node)
    del y
    assert saved() is not None  # kept for backward
    z.backward()
    assert saved() is None  # freed by reference counting alone, no gc needed
    del z
    assert node() is None


def test_training_loop_does_not_accumulate_nodes():
    w = mx.np.ones((4, 4))
    w.attach_grad()
    x = mx.np.ones((2, 4))
    gc.collect()
    gc.disable()
    try:
        refs = []
        for _ in range(5):
            with autograd.record():
                loss = mx.np.tanh(mx.np.dot(x, w)).sum()
            refs.append(weakref.ref(loss._node))
            loss.backward()
            del loss
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_gradient_buffers_never_alias_arrays_others_hold():
    a, b = mx.np.ones(5), mx.np.ones(5)
    a.attach_grad()
    b.attach_grad()
    with autograd.record():
        z = a + b  # one gradient array flows to both inputs
    z.backward()
    assert a.grad._data is not b.grad._data
    head = mx.np.full(5, 2.0)
    with autograd.record():
        z = +a  # the head gradient reaches a unchanged
    z.backward(head)
    assert a.grad._data is not head._data
    a.grad[:] = 0
    assert head.tolist() == [2.0] * 5

    kept = mx.np.full(5, 7.0)

    class Leak(autograd.Function):
        def forward(self, x):
            return x * 1

        def backward(self, dy):
            return kept  # an array the caller still holds

    with autograd.record():
        z = Leak()(a)
    z.backward()
    a.grad[:] = 0
    assert kept.tolist() == [7.0] * 5


def test_an_unshared_gradient_is_handed_to_its_buffer():
    x = mx.np.ones(1000)
    x.attach_grad()
    grad = x.grad
    with autograd.record():
        y = (x * 3).sum()
    y.backward()
    assert x.grad is grad  # the same ndarray, now holding the computed array
    assert x.grad.asnumpy().tolist() == [3.0] * 1000


@pytest.mark.parametrize("compare", [
    lambda a: a == 2.0, lambda a: a < mx.np.array([[1.0], [3.0]], device=a.device),
    lambda a: mx.np.logical_and(a > 1, a < 5), lambda a: mx.np.not_equal(a, a * 2)])
def test_comparisons_send_a_zero_gradient(compare, device):
    """MXNet gives comparisons and logical ops zero gradients, so backward from one runs."""
    a = mx.np.array([1.0, 2.0, 5.0], device=device)
    a.attach_grad()
    a.grad[:] = 7
    with autograd.record():
        z = compare(a)
    z.backward()
    assert z.dtype == np.bool_
    np.testing.assert_array_equal(a.grad.asnumpy(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("op, dx2", [("mod", lambda c, x: -np.floor(c / x)),
                                     ("fmod", lambda c, x: -np.trunc(c / x))])
def test_scalar_dividend_mod_gradient(op, dx2, device):
    x = mx.np.array([1.5, -2.0, 5.0], dtype="float64", device=device)
    x.attach_grad()
    with autograd.record():
        y = getattr(mx.np, op)(3.7, x) if op == "fmod" else 3.7 % x
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), dx2(3.7, x.asnumpy()))


@pytest.mark.parametrize("key, value_shape", [
    (1, (6,)), ((slice(1, 3), slice(None, None, 2)), (3,)), ((), (4, 6)),
    (np.array([0, 3]), (2, 6)), ((slice(None), 2), (4,))])
def test_assignment_of_a_recorded_value_is_recorded(key, value_shape, device):
    """MXNet records ``x[key] = y`` when x is not on the tape: the gradient at ``key``
    reaches y (summed where y was broadcast); x's old values are constants."""
    weights = np.arange(24.0).reshape(4, 6)
    x = mx.np.zeros((4, 6), dtype="float64", device=device)
    y = mx.np.array(np.ones(value_shape[-1:]), dtype="float64", device=device)
    y.attach_grad()
    with autograd.record():
        x[key] = y * 2
        loss = (x * mx.np.array(weights, device=device)).sum()
    loss.backward()
    region = np.broadcast_to(weights[key], np.zeros((4, 6))[key].shape)
    want = 2 * region.reshape((-1,) + value_shape[-1:]).sum(axis=0)
    np.testing.assert_allclose(y.grad.asnumpy(), want)
    with pytest.raises(MXNetError, match=r"Inplace operations \(\+=, -=, x\[:\]=, etc\) are "
                                         "not supported when recording with"):
        with autograd.record():
            x[0] = y  # x is on the tape now


def test_assignment_of_constants_stays_off_the_tape(device):
    x = mx.np.zeros(3, device=device)
    y = mx.np.ones(3, device=device)  # no gradient attached
    with autograd.record():
        x[:] = y
        x[0] = 5.0
    assert x._node is None and x.asnumpy().tolist() == [5.0, 1.0, 1.0]
