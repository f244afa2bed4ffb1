"""SGD (momentum), Adam and AdamW through the fused multi-tensor kernels against the per-array
path: the kernels run on the CPU CUDA executor with numpy (mxlite.testing.cudasim), and on a
real GPU with CuPy where there is one."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import optimizer as opt
from mxlite.optimizer.fused import FusedKernels, bind_kernels
from mxlite.test_utils import gpu_unusable_reason
from mxlite.testing import cudasim

_usable, _why = cudasim.available()
SHAPES = [(7,), (300, 3), (0, 4), (5, 1, 2), (1,), (129,)]
LR_MULT = {1: 0.5, 3: 2.0}
WD_MULT = {0: 0.0, 4: 3.0}
F32 = dict(rtol=1e-6, atol=1e-8)

CONFIGS = {
    "sgd-momentum": ("sgd", dict(learning_rate=0.1, momentum=0.9, wd=0.01, clip_gradient=0.3,
                                 rescale_grad=0.5)),
    "sgd": ("sgd", dict(learning_rate=0.1, wd=0.01, rescale_grad=2.0)),
    "adam": ("adam", dict(learning_rate=0.01, wd=0.01, clip_gradient=0.8, rescale_grad=0.5)),
    "adamw": ("adamw", dict(learning_rate=0.01, wd=0.1, clip_gradient=0.8, rescale_grad=0.5)),
    "adamw-uncorrected": ("adamw", dict(learning_rate=0.01, wd=0.1, correct_bias=False)),
}


@pytest.fixture(scope="module")
def cpu_kernels():
    if not _usable:
        pytest.skip(f"CPU CUDA executor unavailable: {_why}")
    return bind_kernels(cudasim.kernel_module, np)


class LaunchCounter:
    """Fused kernels that count their launches, bound to the optimizer for every device."""

    def __init__(self, kernels):
        self.launches = 0

        def counted(fn):
            def launch(*args, **kwargs):
                self.launches += 1
                return fn(*args, **kwargs)
            return launch
        self.kernels = FusedKernels(*(counted(fn) for fn in kernels))

    def __call__(self, device):
        return self.kernels


def make_optimizer(name, kwargs, multi_precision=False):
    o = opt.create(name, multi_precision=multi_precision, **kwargs)
    o.set_lr_mult(LR_MULT)
    o.set_wd_mult(WD_MULT)
    return o


def make_params(device, dtypes, seed=0):
    """Weights and three steps of gradients, the same values for every call with one seed."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(dt) for s, dt in zip(SHAPES, dtypes)]
    grads = [[rng.standard_normal(s).astype(dt) for s, dt in zip(SHAPES, dtypes)] for _ in range(3)]
    return ([mx.np.array(w, dtype=w.dtype, device=device) for w in weights],
            [[mx.np.array(g, dtype=g.dtype, device=device) for g in step] for step in grads])


def no_kernels(device):
    return None


def train(o, device, dtypes, fused_steps):
    """Three update_multi steps; ``fused_steps[i]`` says whether step i may use ``o.fused_kernels``."""
    weights, grads = make_params(device, dtypes)
    indices = list(range(len(weights)))
    states = [o.create_state_multi_precision(i, w) for i, w in zip(indices, weights)]
    kernels = o.fused_kernels
    for step_grads, fused in zip(grads, fused_steps):
        before = [g.asnumpy() for g in step_grads]
        o.fused_kernels = kernels if fused else no_kernels
        o.update_multi(indices, weights, step_grads, states)
        for g, host in zip(step_grads, before):
            np.testing.assert_array_equal(g.asnumpy(), host)  # gradients are never modified
    return weights, states


def flat_states(state):
    if state is None:
        return []
    if isinstance(state, tuple):
        return [a for s in state for a in flat_states(s)]
    return [state.asnumpy()]


def assert_same_training(fused, reference, tol):
    (weights, states), (ref_weights, ref_states) = fused, reference
    for i, (w, r) in enumerate(zip(weights, ref_weights)):
        assert w.dtype == r.dtype
        wtol = tol if w.dtype == np.float32 else dict(rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(w.asnumpy(), r.asnumpy(), err_msg=f"weight {i}", **wtol)
    for i, (s, r) in enumerate(zip(states, ref_states)):
        got, expected = flat_states(s), flat_states(r)
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, err_msg=f"state {i}", **tol)


def compare(kernels, config, device, dtypes, multi_precision=False, fused_steps=(True,) * 3,
            tol=F32):
    """Train with the fused kernels allowed on ``fused_steps`` and with the per-array path only;
    assert both give the same weights and states, and return the number of fused launches."""
    name, kwargs = CONFIGS[config] if isinstance(config, str) else config
    counter = LaunchCounter(kernels)
    fused_opt = make_optimizer(name, kwargs, multi_precision)
    fused_opt.fused_kernels = counter
    reference_opt = make_optimizer(name, kwargs, multi_precision)
    reference_opt.fused_kernels = no_kernels
    fused = train(fused_opt, device, dtypes, fused_steps)
    reference = train(reference_opt, device, dtypes, (False,) * 3)
    assert_same_training(fused, reference, tol)
    return counter.launches


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_fused_float32_matches_per_array(cpu_kernels, config):
    launches = compare(cpu_kernels, config, mx.cpu(), [np.float32] * len(SHAPES))
    assert launches == 3  # every tensor of a step in one launch


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_fused_float16_with_master_weights_matches_per_array(cpu_kernels, config):
    dtypes = [np.float16, np.float32] * (len(SHAPES) // 2)
    launches = compare(cpu_kernels, config, mx.cpu(), dtypes, multi_precision=True)
    assert launches == 6  # one launch per weight dtype per step


def test_uncovered_tensors_and_settings_take_the_per_array_path(cpu_kernels):
    dtypes = [np.float32, np.float64, np.float32, np.float16, np.float32, np.float32]
    # float64, and float16 without multi_precision, stay on the per-array path; the rest is fused
    assert compare(cpu_kernels, "adam", mx.cpu(), dtypes) == 3
    name, kwargs = CONFIGS["sgd-momentum"]
    nesterov = (name, dict(kwargs, nesterov=True))
    assert compare(cpu_kernels, nesterov, mx.cpu(), [np.float32] * len(SHAPES)) == 0


@pytest.mark.parametrize("config", ["sgd-momentum", "adamw"])
def test_switching_paths_between_steps_keeps_the_states(cpu_kernels, config):
    launches = compare(cpu_kernels, config, mx.cpu(), [np.float32] * len(SHAPES),
                       fused_steps=(True, False, True))
    assert launches == 2


def test_sgd_momentum_state_is_mxnets():
    """The state convention the kernel shares, MXNet's: mom = momentum*mom - lr*g; w += mom."""
    o = opt.SGD(learning_rate=0.5, momentum=0.9)
    w = mx.np.array([1.0, 2.0])
    state = o.create_state(0, w)
    o.update(0, w, mx.np.array([1.0, -2.0]), state)
    o.update(0, w, mx.np.array([1.0, -2.0]), state)
    np.testing.assert_allclose(state.asnumpy(), [-0.95, 1.9], rtol=1e-6)
    np.testing.assert_allclose(w.asnumpy(), [1.0 - 0.5 - 0.95, 2.0 + 1.0 + 1.9], rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_fused_gpu_matches_per_array(config):
    reason = gpu_unusable_reason(0)
    if reason is not None:
        pytest.skip(reason)
    device = mx.gpu(0)
    kernels = opt.Optimizer.fused_kernels(device)
    assert kernels is not None
    tol = dict(rtol=1e-5, atol=1e-7)  # the GPU contracts multiply-adds (FMA)
    assert compare(kernels, config, device, [np.float32] * len(SHAPES), tol=tol) == 3
    dtypes = [np.float16, np.float32] * (len(SHAPES) // 2)
    assert compare(kernels, config, device, dtypes, multi_precision=True, tol=tol) == 6


@pytest.mark.parametrize("name,kwargs", [CONFIGS["sgd-momentum"], CONFIGS["adamw"]])
def test_trainer_states_saved_from_the_fused_path_continue_on_the_per_array_path(
        cpu_kernels, tmp_path, name, kwargs):
    """Two devices train three steps; the fused run saves its states after two and reloads them
    and continues the third without kernels."""
    rng = np.random.default_rng(0)
    devices = [mx.cpu(0), mx.cpu(1)]
    data = [mx.np.array(rng.standard_normal((4, 5)), dtype="float32", device=d) for d in devices]
    labels = [mx.np.array(rng.standard_normal((4, 2)), dtype="float32", device=d) for d in devices]

    def train_net(kernels, reload_after=None):
        mx.np.random.seed(3)
        net = mx.gluon.nn.HybridSequential()
        net.add(mx.gluon.nn.Dense(3, activation="tanh"), mx.gluon.nn.Dense(2))
        net.initialize(device=devices)
        o = opt.create(name, **kwargs)
        o.fused_kernels = kernels
        trainer = mx.gluon.Trainer(net.collect_params(), o)
        loss_fn = mx.gluon.loss.L2Loss()
        for step in range(3):
            with mx.autograd.record():
                losses = [loss_fn(net(x), y) for x, y in zip(data, labels)]
            for loss in losses:
                loss.backward()
            trainer.step(8)
            if step == reload_after:
                trainer.save_states(str(tmp_path / "fused.states"))
                trainer.load_states(str(tmp_path / "fused.states"))
                o.fused_kernels = no_kernels
        return net

    counter = LaunchCounter(cpu_kernels)
    fused_net = train_net(counter, reload_after=1)
    reference_net = train_net(no_kernels)
    assert counter.launches == 4  # two steps on two devices; none after the reload
    for (key, p), q in zip(fused_net.collect_params().items(), reference_net.collect_params().values()):
        for a, b in zip(p.list_data(), q.list_data()):
            np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), err_msg=key, **F32)
