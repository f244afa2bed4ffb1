"""A GPU training step without a GPU: a device of the GPU kind whose backend is numpy and whose
registered op implementations are the CUDA kernels run on the CPU executor.

This exercises what the per-kernel tests cannot: dispatch by backend kind, the kernel
registrations inside real forward and backward passes (with their fallbacks), the fused
optimizer path through ``gluon.Trainer``, and parameters and gradients placed on a GPU-kind
device; the results must match the same step on the CPU.
"""
import contextlib

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon, storage
from mxlite.backend import GPU, CpuBackend
from mxlite.cuda import bind
from mxlite.ops import gpu_kernels
from mxlite.optimizer.fused import bind_kernels
from mxlite.testing import cudasim

_usable, _why = cudasim.available()
pytestmark = pytest.mark.skipif(not _usable, reason=f"CPU CUDA executor unavailable: {_why}")

module_for = cudasim.kernel_module


class SimulatedGpuBackend(CpuBackend):
    """The CPU backend under the GPU kind: ops dispatch to their GPU implementations, which
    launch the kernels on the CPU executor."""
    kind = GPU
    name = "simulated-gpu"

    def __init__(self, device):
        super().__init__(device)
        self.cuda_device = contextlib.nullcontext()


@pytest.fixture
def sim_gpu(monkeypatch):
    dev = mx.gpu(9)
    monkeypatch.setattr(dev, "_backend", SimulatedGpuBackend(dev))
    monkeypatch.setattr(storage._gpu_hook, "installed", lambda: True)
    launched = set()

    def run(wrapper):
        call = bind(wrapper, module_for, np)

        def logged(*args, **kwargs):
            launched.add(wrapper.__name__)
            return call(*args, **kwargs)
        return logged
    gpu_kernels.attach_gpu_kernels(run=run)
    dev._backend.launched = launched
    yield dev
    gpu_kernels.detach_gpu_kernels()


def _net():
    net = gluon.nn.HybridSequential()
    # no conv bias: BatchNorm would cancel it, leaving a zero gradient that Adam turns into
    # rounding-sign noise
    net.add(gluon.nn.Conv2D(4, kernel_size=3, padding=1, activation="relu", use_bias=False),
            gluon.nn.MaxPool2D(pool_size=2),
            gluon.nn.BatchNorm(),
            gluon.nn.Flatten(),
            gluon.nn.Dense(8, activation="relu"),
            gluon.nn.LayerNorm(),
            gluon.nn.Dense(3))
    return net


def _train(device, steps, optimizer, params, fused=None):
    mx.np.random.seed(0)
    rng = np.random.default_rng(1)
    x = mx.np.array(rng.standard_normal((4, 2, 6, 6)), device=device)
    y = mx.np.array(rng.integers(0, 3, 4), device=device)
    net = _net()
    net.initialize(mx.init.Xavier(), device=device)
    trainer = gluon.Trainer(net.collect_params(), optimizer, dict(params))
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    if fused is not None:
        trainer._optimizer.fused_kernels = fused
    losses = []
    for _ in range(steps):
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(4)
        losses.append(loss.asnumpy())
    weights = {k: p.data(device).asnumpy() for k, p in net.collect_params().items()}
    return losses, weights


def _launched_prefixes(names):
    """Wrapper names, with batch norm's several wrappers counted under their family."""
    return set(names) | {"batch_norm_forward" for n in names if n.startswith("batch_norm")}


@pytest.mark.parametrize("optimizer,params", [
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-4}),
    ("adam", {"learning_rate": 0.01}),
])
def test_training_on_the_simulated_gpu_matches_the_cpu(sim_gpu, optimizer, params):
    launches = []

    def fused(device):
        kernels = bind_kernels(module_for, np)
        launches.append(device)
        return kernels
    gpu_losses, gpu_weights = _train(sim_gpu, 2, optimizer, params, fused=fused)
    cpu_losses, cpu_weights = _train(mx.cpu(0), 2, optimizer, params)
    assert launches and all(d == sim_gpu for d in launches)
    assert {"im2col", "max_pool2d_forward", "max_pool2d_backward", "activation_forward",
            "activation_backward", "layer_norm_forward", "layer_norm_backward", "softmax_cross_entropy",
            "batch_norm_forward"} <= _launched_prefixes(sim_gpu._backend.launched)
    for got, want in zip(gpu_losses, cpu_losses):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for name, want in cpu_weights.items():
        np.testing.assert_allclose(gpu_weights[name], want, rtol=1e-4, atol=1e-5, err_msg=name)


def test_gpu_kind_ops_use_the_kernels(sim_gpu):
    from mxlite.ops import nn as nn_ops
    assert nn_ops._softmax.forward_impls[GPU] is not nn_ops._softmax.forward_impls[0]
    x = mx.np.array(np.random.default_rng(2).standard_normal((3, 5)), device=sim_gpu)
    x.attach_grad()
    with autograd.record():
        y = (mx.npx.log_softmax(mx.npx.relu(x)) * mx.np.arange(5, device=sim_gpu)).sum()
    y.backward()
    host = mx.np.array(x.asnumpy())
    host.attach_grad()
    with autograd.record():
        z = (mx.npx.log_softmax(mx.npx.relu(host)) * mx.np.arange(5)).sum()
    z.backward()
    np.testing.assert_allclose(y.item(), z.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad.asnumpy(), host.grad.asnumpy(), rtol=1e-5, atol=1e-6)
    assert x.grad.device == sim_gpu


def test_amp_overflow_check_is_one_kernel_launch_per_step_on_the_gpu(sim_gpu):
    """Under mx.amp the loss scaler tests a GPU's gradients with kernels/amp.cu (one launch
    over all of them, read back once) and skips the step whose gradients are not finite."""
    from mxlite import amp
    from mxlite.cuda import ops

    checks = []

    def finite_check(device):
        call = bind(ops.multi_all_finite, module_for, np)

        def check(data):
            checks.append((device, len(data)))
            return bool(call(data)[0])
        return check

    rng = np.random.default_rng(3)
    x = mx.np.array(rng.standard_normal((4, 5)), device=sim_gpu)
    y = mx.np.array([0, 1, 2, 1], device=sim_gpu)
    net = gluon.nn.Dense(3, in_units=5)
    net.initialize(mx.init.Xavier(), device=sim_gpu)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    trainer._optimizer.fused_kernels = lambda device: bind_kernels(module_for, np)
    amp.init("float16")
    try:
        amp.init_trainer(trainer)
        trainer._amp_loss_scaler.gpu_finite_check = finite_check
        trainer._amp_loss_scaler.loss_scale = 2.0 ** 8
        for step in range(3):
            before = net.weight.data(sim_gpu).asnumpy().copy()
            with autograd.record():
                loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(x), y)
                if step == 1:
                    with np.errstate(invalid="ignore"):
                        loss = loss * np.inf
                with amp.scale_loss(loss, trainer) as scaled:
                    autograd.backward(scaled)
            trainer.step(4)
            changed = not np.array_equal(before, net.weight.data(sim_gpu).asnumpy())
            assert changed == (step != 1), step
    finally:
        amp.reset()
    assert checks == [(sim_gpu, 2)] * 3  # weight and bias in one launch, every step
    assert trainer._amp_loss_scaler.skipped_steps == 1
    assert trainer._amp_loss_scaler.loss_scale == 2.0 ** 7


def test_amp_training_step_on_the_simulated_gpu_matches_the_cpu(sim_gpu):
    """float16 AMP through the kernels: 16-bit convolution columns, activation and pooling,
    float32 norms and loss; the same step on the CPU gives the same losses and weights within
    half precision."""
    from mxlite import amp

    def fused(device):
        return bind_kernels(module_for, np)
    amp.init("float16")
    try:
        gpu_losses, gpu_weights = _train(sim_gpu, 2, "sgd", {"learning_rate": 0.1}, fused=fused)
        cpu_losses, cpu_weights = _train(mx.cpu(0), 2, "sgd", {"learning_rate": 0.1})
    finally:
        amp.reset()
    assert {"im2col", "activation_forward", "max_pool2d_forward", "max_pool2d_backward",
            "layer_norm_forward"} <= _launched_prefixes(sim_gpu._backend.launched)
    for got, want in zip(gpu_losses, cpu_losses):
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2)
    for name, want in cpu_weights.items():
        np.testing.assert_allclose(gpu_weights[name], want, rtol=1e-2, atol=1e-2, err_msg=name)
