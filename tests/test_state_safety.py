"""Default device and recording state are per thread and survive exceptions and interrupts."""
import sys
import threading

import pytest

import mxlite as mx
from mxlite import autograd, gluon


def test_device_scopes_interleaved_across_threads():
    """Threads A and B enter the same device, A leaves first: each restores its own default."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen, errors = {}, []

    def thread_a():
        try:
            with mx.cpu(1):
                a_in.set()
                b_in.wait()
                seen["a"] = mx.current_device()
            seen["a_after"] = mx.current_device()
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(repr(err))
        finally:
            a_out.set()

    def thread_b():
        try:
            a_in.wait()
            with mx.cpu(1):  # the same (interned) Device object as thread A's
                b_in.set()
                a_out.wait()
                seen["b"] = mx.current_device()
            seen["b_after"] = mx.current_device()
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(repr(err))

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert seen == {"a": mx.cpu(1), "a_after": mx.cpu(0), "b": mx.cpu(1), "b_after": mx.cpu(0)}
    with mx.cpu(3):
        with mx.cpu(4):
            assert mx.np.zeros(1).device == mx.cpu(4)
        assert mx.current_device() == mx.cpu(3)


def test_one_scope_object_shared_by_threads_and_nested():
    rec = autograd.record()
    seen, barrier = [], threading.Barrier(3)

    def work():
        barrier.wait()
        for _ in range(200):
            with rec:
                with rec:
                    seen.append(autograd.is_recording())
        seen.append(("after", autograd.is_recording(), autograd.is_training()))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen.count(True) == 600 and seen.count(("after", False, False)) == 3


def test_scopes_restore_after_an_exception():
    with pytest.raises(RuntimeError):
        with mx.cpu(3), autograd.record(), autograd.predict_mode():
            raise RuntimeError
    assert not autograd.is_recording() and not autograd.is_training()
    assert mx.current_device() == mx.cpu(0)


def _training_step():
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(8, activation="relu"), gluon.nn.Dropout(0.5), gluon.nn.Dense(2))
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    x, y = mx.np.ones((4, 3)), mx.np.array([0, 1, 0, 1])

    def step():
        with mx.cpu(1):
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(4)
    step()
    return step


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # closed generators
def test_keyboard_interrupt_anywhere_in_a_step_restores_the_state():
    """CPython delivers a signal on entry to a Python function (and on loop back-edges):
    raise KeyboardInterrupt at every such point of a training step, one run per point.
    The scopes' own ``__enter__``/``__exit__`` entries are left out: that window is
    inherent to context managers written in Python (see mxlite.autograd.state)."""
    step = _training_step()
    scope = type(autograd.record())
    scope_code = {scope.__enter__.__code__, scope.__exit__.__code__,
                  mx.Device.__enter__.__code__, mx.Device.__exit__.__code__}
    calls = [0]

    def run(n):
        calls[0] = 0

        def tracer(frame, event, arg):
            if event == "call" and frame.f_code not in scope_code:
                calls[0] += 1
                if calls[0] == n:
                    raise KeyboardInterrupt
            return None
        sys.settrace(tracer)
        try:
            step()
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(None)

    run(0)
    total = calls[0]
    assert total > 100
    stuck = []
    for n in range(1, total + 1):
        run(n)
        state = (autograd.is_recording(), autograd.is_training(), mx.current_device())
        if state != (False, False, mx.cpu(0)):
            stuck.append((n, state))
            autograd.set_recording(False)
            autograd.set_training(False)
    assert stuck == []
