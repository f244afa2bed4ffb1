"""The CuPy stand-in (mxlite.testing.fakecupy) and the real GpuBackend running on it.

Each case runs in a fresh interpreter: the stand-in must be ``cupy`` before mxlite imports it,
and the rest of the suite must keep seeing the real (device-less) CuPy.
"""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The stand-in has no RawModule: ops run their own CuPy implementations, not the kernels.
PRELUDE = """
from mxlite.testing import fakecupy
cp = fakecupy.install(2)
from mxlite.autograd import on_first_dispatch
from mxlite.backend import GPU
on_first_dispatch(GPU, lambda: None)
"""


def _run(body):
    code = PRELUDE + textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_stand_in_scopes_devices_per_thread_and_refuses_mixed_devices():
    _run("""
        import threading, pytest
        with cp.cuda.Device(1):
            a = cp.ones(3)
            seen = []
            t = threading.Thread(target=lambda: seen.append(cp.cuda.runtime.getDevice()))
            t.start(); t.join()
            assert seen == [0] and cp.cuda.runtime.getDevice() == 1
            rng = cp.random.default_rng(0)
        assert a.device.id == 1 and cp.cuda.runtime.getDevice() == 0
        with pytest.raises(ValueError, match="device"):
            a + 1
        with pytest.raises(ValueError, match="device"):
            rng.random(2)
        with pytest.raises(cp.cuda.runtime.CUDARuntimeError):
            cp.cuda.Device(2)
    """)


def test_gpu1_work_allocates_only_on_device_1_through_the_pool():
    out = _run("""
        import mxlite as mx
        from mxlite import autograd, storage
        dev = mx.gpu(1)
        fakecupy.allocations.clear()
        x = mx.np.ones((4, 4), device=dev)
        x.attach_grad()
        with autograd.record():
            y = (x * 2 + 1).sum()
        y.backward()
        assert float(y) == 48.0 and x.grad.device == dev
        assert set(fakecupy.allocations) == {1}, dict(fakecupy.allocations)
        assert storage.pool_for(dev).stats()["peak_reserved_bytes"] > 0  # the hook used the pool
        assert storage.pool_for(dev).stats()["device"] != storage.pool_for(mx.gpu(0)).stats()["device"]
        print("ok")
    """)
    assert out.strip() == "ok"


def test_dropout_on_a_gpu_reads_nothing_back_from_the_device():
    out = _run("""
        import mxlite as mx
        from mxlite import autograd
        x = mx.np.ones((8, 8), device=mx.gpu(1))
        fakecupy.syncs.clear()
        with autograd.train_mode():
            for _ in range(3):
                y = mx.npx.dropout(x, p=0.5)
        assert not fakecupy.syncs, dict(fakecupy.syncs)
        kept = y.asnumpy()
        assert set(kept.ravel().tolist()) <= {0.0, 2.0}
        print("ok")
    """)
    assert out.strip() == "ok"


def test_bfloat16_on_a_gpu_is_refused_with_the_way_out():
    _run("""
        import numpy as np, pytest
        import mxlite as mx
        from mxlite import amp
        x = mx.np.ones(3, device=mx.gpu(0))
        for make in (lambda: x.astype("bfloat16"),
                     lambda: mx.np.array(np.ones(3, "bfloat16"), device=mx.gpu(0)),
                     lambda: mx.np.zeros(3, dtype="bfloat16", device=mx.gpu(0))):
            with pytest.raises(TypeError, match="amp.init\\\\('float16'\\\\)"):
                make()
        amp.init("bfloat16")
        with pytest.raises(TypeError, match="CuPy has no bfloat16"):
            x @ x
        amp.init("float16")
        assert (x @ x).dtype == np.float16
    """)
