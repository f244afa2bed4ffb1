"""Default device and recording state are per thread (and per asyncio task for the device),
survive exceptions, a scope object reused while open, and interrupts anywhere in a step."""
import asyncio
import sys
import threading

import pytest

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.autograd.state import state as autograd_state


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
    raise KeyboardInterrupt at every such point of a training step, one run per point,
    the scopes' own ``__enter__``/``__exit__`` included."""
    step = _training_step()
    calls = [0]

    def run(n):
        calls[0] = 0

        def tracer(frame, event, arg):
            if event == "call":
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


def _defaults():
    return (autograd.is_recording(), autograd.is_training(), mx.current_device(),
            len(autograd_state.entered))


DEFAULTS = (False, False, mx.cpu(0), 0)


def test_device_scopes_in_interleaved_asyncio_tasks():
    async def task(dev, log):
        with dev:
            await asyncio.sleep(0)
            with mx.cpu(3):
                await asyncio.sleep(0)
                log.append(mx.current_device())
            await asyncio.sleep(0)
            log.append(mx.current_device())
        log.append(mx.current_device())

    async def main():
        logs = [], []
        await asyncio.gather(task(mx.cpu(1), logs[0]), task(mx.cpu(1), logs[1]),
                             task(mx.cpu(2), []))
        return logs

    logs = asyncio.run(main())
    assert logs[0] == logs[1] == [mx.cpu(3), mx.cpu(1), mx.cpu(0)]
    assert mx.current_device() is mx.cpu(0)


def test_a_scope_object_reentered_while_open_restores_each_level():
    training = autograd.train_mode()
    with training:
        with autograd.record(train_mode=False):
            with training:
                assert (autograd.is_recording(), autograd.is_training()) == (True, True)
            assert (autograd.is_recording(), autograd.is_training()) == (True, False)
        assert (autograd.is_recording(), autograd.is_training()) == (False, True)
    assert _defaults() == DEFAULTS


class _InterruptAt:
    """A trace function that raises KeyboardInterrupt at its n-th event (n=None: count):
    'line' and 'return' events too, so also between a scope's switch and its ``with`` body
    and at the ``with`` line on the way out, where no ``__exit__`` call follows."""

    def __init__(self, n=None):
        self.n = n
        self.count = 0
        self.scope_events = []  # event numbers inside the scope code (counting run)

    def __call__(self, frame, event, arg):
        self.count += 1
        if self.count == self.n:
            raise KeyboardInterrupt
        if self.n is None and frame.f_code.co_filename.endswith(
                ("autograd/state.py", "mxlite/device.py")):
            self.scope_events.append(self.count)
        return self


def _step(net, trainer, loss_fn, x, y):
    with mx.cpu(1):
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(x.shape[0], ignore_stale_grad=True)


def _traced(hook, fn, *args):
    sys.settrace(hook)
    try:
        fn(*args)
    except KeyboardInterrupt:
        pass
    finally:
        sys.settrace(None)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # closed generators
@pytest.mark.skipif(sys.gettrace() is not None, reason="another tracer (coverage, debugger) "
                    "owns sys.settrace")
def test_keyboard_interrupt_at_any_trace_event_around_the_scopes_restores_state():
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(8, activation="relu"), gluon.nn.Dropout(0.5), gluon.nn.Dense(2))
    net.initialize(ctx=mx.cpu(1))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    x = mx.np.ones((4, 3), device=mx.cpu(1))
    y = mx.np.array([0, 1, 0, 1], device=mx.cpu(1))
    _step(net, trainer, loss_fn, x, y)  # deferred initialization happens untraced

    counter = _InterruptAt()
    _traced(counter, _step, net, trainer, loss_fn, x, y)
    total = counter.count
    # every event in and around the scopes, and a deterministic sample of the rest
    near = {n + d for n in counter.scope_events for d in (-2, -1, 0, 1, 2)}
    points = sorted({n for n in near if 0 < n <= total} | set(range(1, total, 97)))
    stuck = []
    for n in points:
        _traced(_InterruptAt(n), _step, net, trainer, loss_fn, x, y)
        if _defaults() != DEFAULTS:
            stuck.append((n, _defaults()))
            autograd_state.entered.clear()
            autograd.set_recording(False)
            autograd.set_training(False)
    assert len(points) > 50
    assert stuck == []
