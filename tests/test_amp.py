"""mx.amp: the op table's precisions (checked per op), the loss scaler's schedule and skipped
steps, float32 master weights in every optimizer, bfloat16 arrays, conversion, and training
under AMP against the float32 run."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import amp, autograd, gluon
from mxlite.amp import lists
from mxlite.autograd import registered_op
from mxlite.gluon import nn

F16, BF16, F32 = np.dtype("float16"), np.dtype("bfloat16"), np.dtype("float32")


@pytest.fixture
def amp_on(request):
    """AMP in the parametrized target dtype (float16 by default), off again afterwards."""
    target = getattr(request, "param", "float16")
    amp.init(target)
    yield np.dtype(target)
    amp.reset()


def _spy(monkeypatch, name):
    """Record the dtypes of the array inputs each forward of op ``name`` receives."""
    op = registered_op(name)
    seen = []
    forward = op.forward_impls[0]

    def recording(xp, *args, **params):
        seen.append([a.dtype for a in args if isinstance(a, np.ndarray)])
        return forward(xp, *args, **params)
    monkeypatch.setattr(op, "forward_impls", [recording, op.forward_impls[1]])
    return seen


def _h(shape=(3, 4), low=0.5, high=1.5, dtype=F16):
    rng = np.random.default_rng(0)
    return mx.np.array(rng.uniform(low, high, shape).astype(dtype))


def _spd(dtype):
    a = np.array([[2.0, 0.5, 0.1], [0.5, 3.0, 0.2], [0.1, 0.2, 1.5]])
    return mx.np.array(a.astype(dtype))


def _labels():
    return mx.np.array([0, 2, 1])


# One call per float32-list op, on 16-bit inputs (``dtype``); the op must see float32.
FLOAT32_CALLS = {
    "softmax": lambda d: mx.npx.softmax(_h(dtype=d)),
    "log_softmax": lambda d: mx.npx.log_softmax(_h(dtype=d)),
    "masked_softmax": lambda d: mx.npx.masked_softmax(_h(dtype=d), mx.np.ones((3, 4), dtype=bool)),
    "softmax_cross_entropy": lambda d: gluon.loss.SoftmaxCrossEntropyLoss()(_h(dtype=d), _labels()),
    "ctc_loss": lambda d: gluon.loss.CTCLoss()(_h((2, 5, 4), dtype=d), mx.np.array([[1, 2], [2, 1]])),
    "exp": lambda d: mx.np.exp(_h(dtype=d)),
    "exp2": lambda d: mx.np.exp2(_h(dtype=d)),
    "expm1": lambda d: mx.np.expm1(_h(dtype=d)),
    "log": lambda d: mx.np.log(_h(dtype=d)),
    "log2": lambda d: mx.np.log2(_h(dtype=d)),
    "log10": lambda d: mx.np.log10(_h(dtype=d)),
    "log1p": lambda d: mx.np.log1p(_h(dtype=d)),
    "logaddexp": lambda d: mx.np.logaddexp(_h(dtype=d), _h(dtype=d)),
    "logaddexp2": lambda d: mx.np.logaddexp2(_h(dtype=d), _h(dtype=d)),
    "power": lambda d: mx.np.power(_h(dtype=d), _h(dtype=d)),
    "reciprocal": lambda d: mx.np.reciprocal(_h(dtype=d)),
    "erfinv": lambda d: mx.npx.erfinv(_h(low=-0.5, high=0.5, dtype=d)),
    "gamma": lambda d: mx.npx.gamma(_h(dtype=d)),
    "gammaln": lambda d: mx.npx.gammaln(_h(dtype=d)),
    "digamma": lambda d: mx.npx.digamma(_h(dtype=d)),
    "normalize": lambda d: mx.npx.layer_norm(_h(dtype=d), mx.np.ones(4, dtype=d), mx.np.zeros(4, dtype=d)),
    "normalize_global": lambda d: mx.npx.batch_norm(
        _h((2, 3, 2), dtype=d), mx.np.ones(3, dtype=d), mx.np.zeros(3, dtype=d), mx.np.zeros(3),
        mx.np.ones(3), use_global_stats=True),
    "norm2": lambda d: mx.np.linalg.norm(_h(dtype=d)),
    "sum": lambda d: mx.np.sum(_h(dtype=d)),
    "mean": lambda d: mx.np.mean(_h(dtype=d), axis=0),
    "prod": lambda d: mx.np.prod(_h(dtype=d)),
    "var": lambda d: mx.np.var(_h(dtype=d)),
    "cumsum": lambda d: mx.np.cumsum(_h(dtype=d), axis=1),
    "cholesky": lambda d: mx.np.linalg.cholesky(_spd(d)),
    "det": lambda d: mx.np.linalg.det(_spd(d)),
    "slogdet": lambda d: mx.np.linalg.slogdet(_spd(d))[1],
    "inv": lambda d: mx.np.linalg.inv(_spd(d)),
    "solve": lambda d: mx.np.linalg.solve(_spd(d), _h((3, 2), dtype=d)),
    "svd": lambda d: mx.np.linalg.svd(_spd(d))[1],
}


def _float32_ops():
    return sorted(name for name, kind in lists.OPS.items() if kind == lists.FLOAT32)


def test_every_row_names_a_declared_op_and_every_float32_op_is_checked():
    for name in lists.OPS:
        registered_op(name)
    assert sorted(FLOAT32_CALLS) == _float32_ops()
    assert {lists.OPS[n] for n in ("matmul", "fully_connected", "convolution")} == {lists.TARGET}
    assert lists.OPS["add"] == lists.WIDEST and "relu" not in lists.OPS


@pytest.mark.parametrize("amp_on", ["float16", "bfloat16"], indirect=True)
@pytest.mark.parametrize("name", _float32_ops())
def test_float32_op_computes_in_float32(monkeypatch, amp_on, name):
    seen = _spy(monkeypatch, name)
    out = FLOAT32_CALLS[name](amp_on)
    assert seen, f"{name} did not run"
    floats = [dt for call in seen for dt in call if dt.kind == "f" or dt == BF16]
    assert floats and all(dt == F32 for dt in floats), (name, seen)
    assert out.dtype == F32


@pytest.mark.parametrize("amp_on", ["float16", "bfloat16"], indirect=True)
def test_target_ops_run_in_the_target_dtype(monkeypatch, amp_on):
    seen = {name: _spy(monkeypatch, name) for name in ("matmul", "fully_connected", "convolution")}
    a, b = _h((3, 4), dtype=F32), _h((4, 2), dtype=F32)
    assert (a @ b).dtype == amp_on
    assert mx.npx.fully_connected(a, _h((5, 4), dtype=F32), _h((5,), dtype=F32),
                                  num_hidden=5).dtype == amp_on
    y = mx.npx.convolution(_h((1, 2, 5, 5), dtype=F32), _h((3, 2, 3, 3), dtype=F32), None,
                           kernel=(3, 3), num_filter=3, no_bias=True)
    assert y.dtype == amp_on
    for name, calls in seen.items():
        assert calls and all(dt == amp_on for call in calls for dt in call), (name, calls)


def test_widest_ops_meet_in_the_widest_dtype_and_others_pass_through(amp_on):
    h, f = _h(dtype=F16), _h(dtype=F32)
    assert (h + f).dtype == F32
    assert (h * h).dtype == F16
    assert (h + _h(dtype=BF16)).dtype == F32  # float16 with bfloat16: neither holds the other
    assert mx.np.where(h > 1, h, f).dtype == F32
    assert mx.npx.relu(h).dtype == F16  # not in the table: runs on what it gets
    assert mx.np.concatenate([h, f]).dtype == F32


def test_gradients_reach_each_parameter_in_its_own_dtype_and_match_float32():
    rng = np.random.default_rng(1)
    x = mx.np.array(rng.standard_normal((4, 6)).astype(np.float32))
    w = mx.np.array(rng.standard_normal((3, 6)).astype(np.float32) * 0.3)

    def grad():
        w.attach_grad()
        with autograd.record():
            loss = mx.npx.log_softmax(mx.npx.fully_connected(x, w, None, num_hidden=3,
                                                             no_bias=True)).sum()
        loss.backward()
        return loss, w.grad.asnumpy()
    loss32, g32 = grad()
    amp.init("float16")
    try:
        loss16, g16 = grad()
    finally:
        amp.reset()
    assert loss16.dtype == F32 and g16.dtype == np.float32
    np.testing.assert_allclose(g16, g32, rtol=2e-2, atol=2e-2)
    assert not np.array_equal(g16, g32)  # the product really ran in float16


def test_init_checks_its_arguments():
    with pytest.raises(ValueError, match="'float16' or 'bfloat16'"):
        amp.init("float64")
    with pytest.raises(ValueError, match="no op is declared as 'FullyConnected'"):
        amp.init(fp32_ops=["FullyConnected"])
    with pytest.raises(ValueError, match="fp32_ops"):
        amp.init(conditional_fp32_ops=[("activation", "act_type", ["softrelu"])])
    assert not amp.is_initialized()
    trainer = gluon.Trainer(_net().collect_params(), "sgd")
    with pytest.raises(RuntimeError, match="amp.init"):
        amp.init_trainer(trainer)
    with pytest.raises(RuntimeError, match="init_trainer"):
        with amp.scale_loss(mx.np.ones(1), trainer):
            pass


def test_init_overrides_move_ops_between_rows(monkeypatch):
    amp.init("float16", fp32_ops=["matmul"], target_precision_ops=["relu"])
    try:
        assert amp.target_dtype() == F16
        assert (_h(dtype=F16) @ _h((4, 2), dtype=F16)).dtype == F32
        assert mx.npx.relu(_h(dtype=F32)).dtype == F16
    finally:
        amp.reset()
    assert amp.target_dtype() is None


# ---- loss scaling ------------------------------------------------------------------------

def _net(units=3, device=None):
    net = nn.HybridSequential()
    net.add(nn.Dense(8, activation="relu", in_units=5), nn.Dense(units, in_units=8))
    net.initialize(mx.init.Xavier(), device=device)
    return net


def _weights(net, device=None):
    return [p.data(device).asnumpy().copy() for p in net.collect_params().values()]


def test_scaler_has_mxnet_defaults_and_grows_on_schedule():
    scaler = amp.LossScaler()
    assert (scaler.loss_scale, scaler.scale_factor, scaler.scale_window) == (2.0 ** 16, 2.0, 2000)
    clean = [mx.np.ones(3)]
    for step in range(1, 2 * 2000 + 1):
        assert not scaler.has_overflow(clean)
        expected = 2.0 ** 16 * (2 if step >= 2000 else 1) * (2 if step >= 4000 else 1)
        assert scaler.loss_scale == expected, step
    assert scaler.has_overflow([mx.np.array([1.0, np.inf])])
    assert scaler.loss_scale == 2.0 ** 17 and scaler.clean_steps == 0
    capped = amp.LossScaler(init_scale=2.0 ** 24, scale_window=1)
    capped.has_overflow(clean)
    assert capped.loss_scale == 2.0 ** 24
    with pytest.raises(ValueError, match="scale_factor > 1"):
        amp.LossScaler(scale_factor=1.0)


def test_forced_overflow_skips_exactly_those_steps_and_halves_the_scale(amp_on, device):
    net = _net(device=device)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    amp.init_trainer(trainer)
    scaler = trainer._amp_loss_scaler
    scaler.scale_window = 3
    scaler.loss_scale = s = 2.0 ** 10  # low enough that only the forced steps overflow
    x = mx.np.array(np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32),
                    device=device)
    y = mx.np.array([0, 1, 2, 1], device=device)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    overflow_at = {2, 3, 7}
    scales = []
    for step in range(10):
        before = _weights(net, device)
        scales.append(scaler.loss_scale)
        with autograd.record():
            loss = loss_fn(net(x), y)
            if step in overflow_at:
                with np.errstate(invalid="ignore"):
                    loss = loss * np.inf
            with amp.scale_loss(loss, trainer) as scaled:
                autograd.backward(scaled)
        trainer.step(4)
        after = _weights(net, device)
        changed = any(not np.array_equal(b, a) for b, a in zip(before, after))
        assert changed == (step not in overflow_at), step
    assert scaler.skipped_steps == 3
    # steps 0,1 clean; 2 and 3 overflow (halve twice); 4,5,6 clean (grow after 3); 7 halves
    assert scales == [s, s, s, s / 2, s / 4, s / 4, s / 4, s / 2, s / 4, s / 4]


def test_scaled_gradients_unscale_to_the_plain_gradients():
    x = mx.np.array(np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32))
    y = mx.np.array([0, 1, 2, 1])
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    net = _net()
    plain = gluon.Trainer(net.collect_params(), "sgd")
    with autograd.record():
        loss = loss_fn(net(x), y)
    loss.backward()
    expected = [p.grad().asnumpy().copy() for p in net.collect_params().values()]
    amp.init("bfloat16", target_precision_ops=[], fp32_ops=["fully_connected", "matmul"])
    try:
        trainer = gluon.Trainer(net.collect_params(), "sgd")
        amp.init_trainer(trainer)
        trainer._amp_loss_scaler.loss_scale = 1024.0
        with autograd.record():
            loss = loss_fn(net(x), y)
            with amp.scale_loss([loss], trainer) as scaled:
                assert isinstance(scaled, list)
                autograd.backward(scaled)
        got = [p.grad().asnumpy() for p in net.collect_params().values()]
        np.testing.assert_allclose(got[0], expected[0] * 1024, rtol=1e-5, atol=1e-6)
        assert trainer._scale == 1 / 1024
        amp.unscale(trainer)
        assert trainer._scale == 1.0
        for g, e in zip([p.grad().asnumpy() for p in net.collect_params().values()], expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7)
    finally:
        amp.reset()
    del plain


def test_all_finite_on_the_cpu():
    arrays = [mx.np.ones((2, 3), dtype="float16"), mx.np.zeros(0), mx.np.ones(4, dtype="bfloat16")]
    assert amp.all_finite(arrays)
    for bad in (np.nan, np.inf, -np.inf):
        for dtype in ("float16", "bfloat16", "float32"):
            a = np.ones(5, dtype=np.float32)
            a[3] = bad
            assert not amp.all_finite(arrays + [mx.np.array(a.astype(dtype))])


# ---- master weights ----------------------------------------------------------------------

def _optimizers():
    from mxlite.optimizer.optimizer import _REGISTRY
    return sorted(_REGISTRY)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", _optimizers())
def test_every_optimizer_keeps_float32_masters_of_16_bit_weights(name, dtype):
    """Two steps on a 16-bit weight update the float32 master exactly as the same optimizer
    updates a float32 weight from the same (16-bit) gradients; the weight is the rounded
    master and the master stays float32."""
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((3, 4)).astype(np.float32).astype(dtype).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(2)]
    kwargs = {"learning_rate": 0.01, "wd": 0.01}
    mp = mx.optimizer.create(name, multi_precision=True, **kwargs)
    ref = mx.optimizer.create(name, **kwargs)
    mx.random.seed(5)
    weight = mx.np.array(w0.astype(dtype))
    state = mp.create_state_multi_precision(0, weight)
    for g in grads:
        mp.update(0, weight, mx.np.array(g), state)
    mx.random.seed(5)
    weight32 = mx.np.array(w0)
    state32 = ref.create_state_multi_precision(0, weight32)
    for g in grads:
        ref.update(0, weight32, mx.np.array(g.astype(np.float32)), state32)
    master = state[0]
    assert weight.dtype == np.dtype(dtype) and master.dtype == np.float32
    np.testing.assert_allclose(master.asnumpy(), weight32.asnumpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(weight.asnumpy(), master.asnumpy().astype(dtype))
    assert not np.array_equal(master.asnumpy(), w0)


def test_init_trainer_turns_on_master_weights_and_they_stay_float32(device):
    """On a GPU the fused Adam kernel updates master and float16 weight in one pass."""
    amp.init("float16")
    try:
        net = _net(device=device)
        net.cast("float16")
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
        amp.init_trainer(trainer)
        assert trainer.optimizer.multi_precision
        x = mx.np.ones((2, 5), dtype="float16", device=device)
        for _ in range(3):
            with autograd.record():
                loss = gluon.loss.L2Loss()(net(x), mx.np.zeros((2, 3), dtype="float16",
                                                               device=device))
                with amp.scale_loss(loss, trainer) as scaled:
                    autograd.backward(scaled)
            trainer.step(2)
        assert trainer._amp_loss_scaler.skipped_steps < 3
        updater = next(iter(trainer._updaters.values()))
        for index, p in enumerate(trainer._params):
            master, _ = updater.states[index]
            assert p.data(device).dtype == F16 and master.dtype == F32
            np.testing.assert_array_equal(p.data(device).asnumpy(), master.asnumpy().astype(F16))
    finally:
        amp.reset()


# ---- bfloat16 arrays ---------------------------------------------------------------------

def test_bfloat16_cast_print_and_math():
    x = mx.np.array([1.0, 2.5, 3.0078125]).astype("bfloat16")
    assert x.dtype == BF16 and x.astype(mx.np.bfloat16).dtype == BF16
    assert "bfloat16" in repr(x) and str(x) == "[1 2.5 3]"  # 3.0078125 rounds to 3 in 8 bits
    np.testing.assert_array_equal((x * 2).astype("float32").asnumpy(), [2, 5, 6])
    assert mx.np.finfo("bfloat16").eps == 2.0 ** -7
    x.attach_grad()
    with autograd.record():
        y = (x * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.astype("float32").asnumpy(), [2, 5, 6])


def test_bfloat16_save_and_load(tmp_path):
    x = mx.np.array([1.0, -2.5, 65280.0]).astype("bfloat16")
    mx.npx.save(str(tmp_path / "a.npz"), [x])
    loaded = mx.npx.load(str(tmp_path / "a.npz"))["arr_0"]
    assert loaded.dtype == BF16
    np.testing.assert_array_equal(loaded.asnumpy(), x.asnumpy())
    mx.npx.savez(str(tmp_path / "b.npz"), w=x)
    assert mx.npx.load(str(tmp_path / "b.npz"))["w"].dtype == BF16
    net = _net()
    net.cast("bfloat16")
    net.save_parameters(str(tmp_path / "net.params"))
    other = _net()
    other.cast("bfloat16")
    other.load_parameters(str(tmp_path / "net.params"))
    for a, b in zip(net.collect_params().values(), other.collect_params().values()):
        assert b.data().dtype == BF16
        np.testing.assert_array_equal(a.data().asnumpy(), b.data().asnumpy())


# ---- conversion --------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["float16", "bfloat16"])
def test_convert_hybrid_block_runs_in_the_target_dtype(target):
    net = nn.HybridSequential()
    net.add(nn.Dense(6, in_units=5), nn.BatchNorm(in_channels=6), nn.Dense(3, in_units=6))
    net.initialize(mx.init.Xavier())
    x = mx.np.array(np.random.default_rng(6).standard_normal((4, 5)).astype(np.float32))
    expected = net(x).asnumpy()
    converted = amp.convert_hybrid_block(net, target)
    assert not amp.is_initialized()
    out = converted(x)
    assert out.dtype == np.dtype(target) and not amp.is_initialized()
    assert net[0].weight.data().dtype == np.dtype(target)
    assert net[1].gamma.data().dtype == F32 and net[1].running_var.data().dtype == F32
    np.testing.assert_allclose(out.astype("float32").asnumpy(), expected, rtol=5e-2, atol=5e-2)
    with pytest.raises(TypeError, match="HybridBlock"):
        amp.convert_hybrid_block(lambda x: x)


def test_convert_model_casts_parameter_dicts():
    net = _net()
    args = {"dense0_weight": mx.np.ones((2, 2)), "bn_gamma": mx.np.ones(2)}
    aux = {"bn_running_var": mx.np.ones(2)}
    converted, args16, aux16 = amp.convert_model(net, args, aux, target_dtype="float16")
    assert args16["dense0_weight"].dtype == F16 and args16["bn_gamma"].dtype == F32
    assert aux16["bn_running_var"].dtype == F32
    assert converted(mx.np.ones((1, 5))).dtype == F16
    with pytest.raises(TypeError, match="no symbolic graphs"):
        amp.convert_model("symbol", {}, {})


# ---- training ------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["float16", "bfloat16"])
def test_training_under_amp_reaches_the_float32_accuracy(tmp_path, target):
    train_module = pytest.importorskip("mxlite.examples.train")
    pytest.importorskip("sklearn")
    settings = dict(epochs=3, batch_size=32, lr=3e-3, seed=0, model="mlp", progress=False,
                    log=lambda line: None)
    fp32 = train_module.train(run_dir=str(tmp_path / "fp32"), **settings)
    mixed = train_module.train(run_dir=str(tmp_path / target), amp=target, **settings)
    assert not amp.is_initialized()
    assert fp32["test_accuracy"] >= 0.9
    assert mixed["test_accuracy"] >= fp32["test_accuracy"] - 0.005
