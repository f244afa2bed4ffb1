"""The CuPy stand-in (mxlite.testing.fakecupy) and the real GpuBackend running on it.

Each case runs in a fresh interpreter: the stand-in must be ``cupy`` before mxlite imports it,
and the rest of the suite must keep seeing the real (device-less) CuPy.
"""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Kernel-backed ops launch kernels/*.cu on the CPU executor through the stand-in's RawModule.
PRELUDE = """
from mxlite.testing import fakecupy
cp = fakecupy.install(2)
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


def test_the_first_use_of_a_gpu_can_be_a_random_draw():
    """The generator's state is allocated through the allocator hook while the backend is
    being made; that used to recurse (backend -> pool -> backend)."""
    _run("""
        import mxlite as mx
        mx.np.random.seed(3)
        a = mx.np.random.uniform(size=3, device=mx.gpu(1))
        b = mx.np.random.normal(size=(2, 2), device=mx.gpu(0))
        assert a.device == mx.gpu(1) and b.device == mx.gpu(0)
        assert fakecupy.allocations[1] > 0 and fakecupy.allocations[0] > 0
    """)


def test_the_stand_in_refuses_host_arrays_and_copies_on_asarray():
    _run("""
        import numpy as np, pytest
        host = np.ones(3)
        dev = cp.asarray(host)
        dev += 1
        assert host.tolist() == [1.0, 1.0, 1.0]  # host to device is a copy, as on a card
        with pytest.raises(TypeError, match="host numpy array"):
            cp.add(dev, host)
        with pytest.raises(TypeError, match="host numpy array"):
            dev * host
        with cp.cuda.Device(1):
            other = cp.zeros(3)
        with pytest.raises(ValueError, match="device"):
            cp.copyto(dev, other)
    """)


def test_training_on_two_gpus_matches_one_cpu_on_the_joint_batch():
    """Trainer over gpu(0) and gpu(1): parameters, gradients and optimizer state stay on their
    own device, gradients are summed across them, and the result is the CPU's."""
    _run("""
        import numpy as np
        import mxlite as mx
        from mxlite import autograd, gluon

        def train(devices):
            mx.np.random.seed(0)
            net = gluon.nn.HybridSequential()
            net.add(gluon.nn.Dense(6, activation="relu"), gluon.nn.Dense(3))
            net.initialize(mx.init.Xavier(), device=devices)
            trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
            loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
            rng = np.random.default_rng(1)
            x = rng.standard_normal((8, 5)).astype(np.float32)
            y = rng.integers(0, 3, 8).astype(np.float32)
            for _ in range(3):
                xs = gluon.utils.split_and_load(mx.np.array(x), devices)
                ys = gluon.utils.split_and_load(mx.np.array(y), devices)
                with autograd.record():
                    losses = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
                autograd.backward(losses)
                trainer.step(8)
            for p in net.collect_params().values():
                for d in devices:
                    assert p.data(d).device == d and p.grad(d).device == d
            return {k: p.data(devices[0]).asnumpy() for k, p in net.collect_params().items()}

        fakecupy.allocations.clear()
        gpus = train([mx.gpu(0), mx.gpu(1)])
        assert fakecupy.allocations[0] > 0 and fakecupy.allocations[1] > 0
        cpu = train([mx.cpu(0)])
        for k in cpu:
            np.testing.assert_allclose(gpus[k], cpu[k], rtol=1e-5, atol=1e-6, err_msg=k)
    """)


def test_each_kernel_module_is_compiled_once_per_gpu():
    _run("""
        import numpy as np
        import mxlite as mx
        x = np.random.default_rng(0).standard_normal((4, 9)).astype(np.float32)
        def run(dev):
            a = mx.np.array(x, device=dev)
            mx.npx.softmax(a).asnumpy(); mx.npx.relu(a).asnumpy()
        for dev in (mx.gpu(0), mx.gpu(1)):
            run(dev)
        built = dict(fakecupy.compiles)
        assert built.get("module", 0) >= 2, built
        for _ in range(5):
            for dev in (mx.gpu(0), mx.gpu(1)):
                run(dev)
        assert dict(fakecupy.compiles) == built  # no rebuild per launch
        from mxlite.cuda import loader
        assert {dev for _, dev in loader._modules} == {0, 1}
    """)


def test_moving_between_devices_gives_the_target_devices_arrays_and_gradients():
    """A CPU-to-GPU move used to wrap the result with the source's backend: the gpu array held
    host memory and the first CuPy op on it failed."""
    _run("""
        import numpy as np
        import mxlite as mx
        from mxlite import autograd
        x = mx.np.array([1.0, 2.0, 3.0])
        x.attach_grad()
        with autograd.record():
            on_gpu = x.to_device(mx.gpu(1))
            back = (on_gpu * on_gpu).to_device(mx.gpu(0)).to_device(mx.cpu())
            loss = back.sum()
        loss.backward()
        assert isinstance(on_gpu._data, cp.ndarray) and on_gpu._data.device.id == 1
        assert type(back._data) is np.ndarray
        np.testing.assert_allclose(x.grad.asnumpy(), [2.0, 4.0, 6.0])
    """)


def test_arrays_made_on_another_stream_never_get_a_block_freed_on_the_first():
    _run("""
        import mxlite as mx
        dev = mx.gpu(0)
        side = cp.cuda.Stream()
        a = mx.np.zeros((256,), device=dev)
        address = a._data.data.ptr
        del a
        with side:
            b = mx.np.zeros((256,), device=dev)
        assert b._data.data.ptr != address
        c = mx.np.zeros((256,), device=dev)
        assert c._data.data.ptr == address
    """)


def test_a_fused_optimizer_step_uploads_its_tables_in_one_copy_and_reads_nothing_back():
    out = _run("""
        import numpy as np
        import mxlite as mx
        from mxlite import optimizer as opt
        dev = mx.gpu(1)
        for name in ("adam", "sgd"):
            o = opt.create(name, learning_rate=0.1, momentum=0.9) if name == "sgd" else \\
                opt.create(name, learning_rate=0.1)
            weights = [mx.np.ones(shape, device=dev) for shape in ((3, 4), (5,), (2, 2, 2), (7,))]
            grads = [mx.np.full(w.shape, 0.5, device=dev) for w in weights]
            states = [o.create_state_multi_precision(i, w) for i, w in enumerate(weights)]
            fakecupy.uploads.clear(); fakecupy.syncs.clear()
            o.update_multi(list(range(4)), weights, grads, states)
            assert dict(fakecupy.uploads) == {1: 1}, (name, dict(fakecupy.uploads))
            assert not fakecupy.syncs, (name, dict(fakecupy.syncs))
            want = 1 - 0.1 * 0.5 if name == "sgd" else 1 - 0.1
            np.testing.assert_allclose(weights[2].asnumpy(), want, rtol=1e-4)
        print("ok")
    """)
    assert out.strip().endswith("ok")
