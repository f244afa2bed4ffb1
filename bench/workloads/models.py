"""Training-step workloads: MLP and LeNet (framework layers), LSTM and a transformer
block (one primitive-level definition run by every framework)."""
import numpy as np

from . import Case, Timing, Workload

LR = 0.01
MOMENTUM = 0.9


def _uniform(rng, shape, fan_in):
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def _ms(seconds, data, variant):
    return seconds * 1e3


# -- layer stacks, same weights in every framework -------------------------------------------
MLP_SIZES = (784, 1024, 1024, 10)
MLP_BATCH = 256


def _mlp_data(rng):
    data = {"x": rng.uniform(0, 1, (MLP_BATCH, MLP_SIZES[0])).astype(np.float32),
            "y": rng.integers(0, MLP_SIZES[-1], MLP_BATCH).astype(np.int64)}
    for i, (n_in, n_out) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:])):
        data[f"w{i}"] = _uniform(rng, (n_out, n_in), n_in)
        data[f"b{i}"] = _uniform(rng, (n_out,), n_in)
    _away_from_kinks(rng, data)
    return data


# float32 sums differ between frameworks by ~1e-6 of their size; a ReLU input closer to 0
# than this may round to the other side in one of them and flip a whole gradient row, a
# mismatch that is no bug. Biases of units that come this close are redrawn.
KINK_MARGIN = 1e-4


def _away_from_kinks(rng, data):
    """Redraw hidden-layer biases until every ReLU input is at least KINK_MARGIN from 0."""
    h = data["x"].astype(np.float64)
    for i in range(len(MLP_SIZES) - 2):
        w, b = data[f"w{i}"].astype(np.float64), data[f"b{i}"]
        for _ in range(100):
            z = h @ w.T + b.astype(np.float64)
            close = np.abs(z).min(axis=0) < KINK_MARGIN
            if not close.any():
                break
            b[close] = _uniform(rng, (int(close.sum()),), MLP_SIZES[i])
        else:
            raise RuntimeError(f"mlp_step data: layer {i} keeps ReLU inputs within "
                               f"{KINK_MARGIN} of 0; draw with another seed")
        h = np.maximum(z, 0.0)


LENET_BATCH = 64
# (name, weight shape): conv 1->6 5x5 pad 2, pool, conv 6->16 5x5, pool, fc 400-120-84-10
LENET_PARAMS = (("w0", (6, 1, 5, 5)), ("b0", (6,)), ("w1", (16, 6, 5, 5)), ("b1", (16,)),
                ("w2", (120, 400)), ("b2", (120,)), ("w3", (84, 120)), ("b3", (84,)),
                ("w4", (10, 84)), ("b4", (10,)))
_LENET_FAN_IN = {"0": 25, "1": 150, "2": 400, "3": 120, "4": 84}


def _lenet_data(rng):
    data = {"x": rng.uniform(0, 1, (LENET_BATCH, 1, 28, 28)).astype(np.float32),
            "y": rng.integers(0, 10, LENET_BATCH).astype(np.int64)}
    for name, shape in LENET_PARAMS:
        data[name] = _uniform(rng, shape, _LENET_FAN_IN[name[1]])
    return data


def _param_names(data):
    return [k for k in data if k[0] in "wb" and k[1:].isdigit()]


# torch: nn modules + optim.SGD, the idiomatic PyTorch training step
def _torch_net(fw, kind):
    nn = fw.torch.nn
    if kind == "mlp":
        layers = []
        for n_in, n_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        return nn.Sequential(*layers[:-1])
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def _torch_build(fw, data, kind):
    torch = fw.torch
    net = _torch_net(fw, kind).to(fw.device)
    params = list(net.parameters())
    with torch.no_grad():
        for p, name in zip(params, _param_names(data)):
            p.copy_(torch.from_numpy(data[name]))
    x = torch.from_numpy(data["x"]).to(fw.device)
    y = torch.from_numpy(data["y"]).to(fw.device)
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)
    cross_entropy = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        fw.sync()
        return loss

    def check():
        opt.zero_grad()
        loss = cross_entropy(net(x), y)
        loss.backward()
        out = {"loss": fw.numpy(loss)}
        out.update({"d" + n: fw.numpy(p.grad) for n, p in zip(_param_names(data), params)})
        losses = [fw.numpy(step()) for _ in range(3)]
        out["loss_after_steps"] = np.array(losses)
        return out

    return Case(step, check, api="torch.nn + optim.SGD")


# MXNet 1.x and mxlite: Gluon blocks + Trainer, the idiomatic MXNet training step
def _gluon_net(fw, kind):
    nn = fw.mx.gluon.nn
    net = nn.HybridSequential() if getattr(fw, "hybrid", False) else nn.Sequential()
    if kind == "mlp":
        sizes = MLP_SIZES
        for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
            net.add(nn.Dense(n_out, activation="relu", in_units=n_in))
        net.add(nn.Dense(sizes[-1], in_units=sizes[-2]))
    else:
        net.add(nn.Conv2D(6, kernel_size=5, padding=2, in_channels=1, activation="relu"),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Conv2D(16, kernel_size=5, in_channels=6, activation="relu"),
                nn.MaxPool2D(pool_size=2, strides=2),
                nn.Dense(120, activation="relu", in_units=400),
                nn.Dense(84, activation="relu", in_units=120),
                nn.Dense(10, in_units=84))
    return net


def _gluon_build(fw, data, kind):
    mx = fw.mx
    gluon, autograd = mx.gluon, mx.autograd
    net = _gluon_net(fw, kind)
    net.initialize(ctx=fw.device)
    params = list(net.collect_params().values())
    for p, name in zip(params, _param_names(data)):
        p.set_data(fw.array(data[name]))
    x = fw.array(data["x"])
    y = fw.array(data["y"])
    batch = data["x"].shape[0]
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    if getattr(fw, "hybrid", False):
        net.hybridize()
        loss_fn.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd",
                            {"learning_rate": LR, "momentum": MOMENTUM})

    def step():
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(batch)
        fw.sync()
        return loss

    def check():
        with autograd.record():
            loss = loss_fn(net(x), y).mean()
        loss.backward()
        out = {"loss": fw.numpy(loss)}
        out.update({"d" + n: fw.numpy(p.grad()) for n, p in zip(_param_names(data), params)})
        out["loss_after_steps"] = np.array([fw.numpy(step()).mean() for _ in range(3)])
        return out

    return Case(step, check, api="gluon.nn + gluon.Trainer(sgd)")


# mxlite before Gluon: npx operators and a hand-written SGD-momentum update
def _mxlite_functional_build(fw, data, kind):
    np_, npx, autograd = fw.np, fw.npx, fw.mx.autograd
    names = _param_names(data)
    params = [fw.array(data[n], grad=True) for n in names]
    moms = [np_.zeros_like(p) for p in params]
    x = fw.array(data["x"])
    y = fw.array(data["y"])

    def forward():
        h = x
        if kind == "lenet":
            w0, b0, w1, b1 = params[:4]
            h = npx.pooling(npx.relu(npx.convolution(h, w0, b0, kernel=(5, 5), pad=(2, 2),
                                                     num_filter=6)),
                            kernel=(2, 2), stride=(2, 2), pool_type="max")
            h = npx.pooling(npx.relu(npx.convolution(h, w1, b1, kernel=(5, 5), num_filter=16)),
                            kernel=(2, 2), stride=(2, 2), pool_type="max")
            dense = params[4:]
        else:
            dense = params
        for i in range(0, len(dense) - 2, 2):
            h = npx.relu(npx.fully_connected(h, dense[i], dense[i + 1],
                                             num_hidden=dense[i].shape[0]))
        z = npx.fully_connected(h, dense[-2], dense[-1], num_hidden=dense[-2].shape[0])
        return -npx.pick(npx.log_softmax(z), y).mean()

    def step():
        with autograd.record():
            loss = forward()
        loss.backward()
        with autograd.pause():
            for p, m in zip(params, moms):
                m *= MOMENTUM
                m -= LR * p.grad
                p += m
        fw.sync()
        return loss

    def check():
        with autograd.record():
            loss = forward()
        loss.backward()
        out = {"loss": fw.numpy(loss)}
        out.update({"d" + n: fw.numpy(p.grad) for n, p in zip(names, params)})
        out["loss_after_steps"] = np.array([fw.numpy(step()) for _ in range(3)])
        return out

    return Case(step, check, api="npx ops + hand-written SGD momentum")


def has_gluon(fw, kind):
    """Whether the framework has the Gluon pieces this model's step needs."""
    gluon = getattr(fw.mx, "gluon", None)
    nn = getattr(gluon, "nn", None)
    layers = ("Dense",) if kind == "mlp" else ("Dense", "Conv2D", "MaxPool2D")
    return (nn is not None and all(hasattr(nn, n) for n in layers + ("Sequential",))
            and hasattr(gluon, "Trainer") and hasattr(getattr(gluon, "loss", None),
                                                        "SoftmaxCrossEntropyLoss"))


def _layers_build(kind):
    def build(fw, data, variant):
        if fw.name == "torch":
            return _torch_build(fw, data, kind)
        if has_gluon(fw, kind):
            return _gluon_build(fw, data, kind)
        if fw.name in ("mxlite", "mxlite_hybrid"):
            return _mxlite_functional_build(fw, data, kind)
        raise NotImplementedError(f"{fw.name} has no Gluon layers for {kind}")
    return build


mlp_step = Workload(
    name="mlp_step", unit="ms/step", lower_is_better=True,
    make_data=_mlp_data, build=_layers_build("mlp"), metric=_ms,
    full=Timing(warmup=5, rounds=8, per_round=5),
    quick=Timing(warmup=2, rounds=3, per_round=3),
    rtol=2e-4,
    note="MLP 784-1024-1024-10, ReLU, softmax cross-entropy, batch 256, SGD momentum 0.9: "
         "zero-grad, forward, backward, update")

lenet_step = Workload(
    name="lenet_step", unit="ms/step", lower_is_better=True,
    make_data=_lenet_data, build=_layers_build("lenet"), metric=_ms,
    full=Timing(warmup=3, rounds=6, per_round=5),
    quick=Timing(warmup=1, rounds=3, per_round=2),
    needs=("npx.convolution", "npx.pooling"),
    rtol=2e-4,
    note="LeNet-5 (conv 6@5x5 pad 2, max-pool, conv 16@5x5, max-pool, fc 120-84-10, ReLU), "
         "batch 64 of 1x28x28, SGD momentum 0.9")


# -- primitive-level models: one definition, every framework -------------------------------
LSTM_SEQ, LSTM_BATCH, LSTM_IN, LSTM_HIDDEN = 16, 32, 64, 128


def _lstm_data(rng):
    h = LSTM_HIDDEN
    return {"x": rng.standard_normal((LSTM_SEQ, LSTM_BATCH, LSTM_IN)).astype(np.float32),
            "wx": _uniform(rng, (LSTM_IN, 4 * h), h), "wh": _uniform(rng, (h, 4 * h), h),
            "b": _uniform(rng, (4 * h,), h)}


def lstm_loss(fw, x, wx, wh, b):
    """An LSTM over the sequence from matmul, slicing, sigmoid and tanh; mean(h_T^2)."""
    hid = LSTM_HIDDEN
    h = c = None
    for t in range(x.shape[0]):
        gates = fw.matmul(x[t], wx) + b
        if h is not None:
            gates = gates + fw.matmul(h, wh)
        i = fw.sigmoid(gates[:, :hid])
        f = fw.sigmoid(gates[:, hid:2 * hid])
        g = fw.tanh(gates[:, 2 * hid:3 * hid])
        o = fw.sigmoid(gates[:, 3 * hid:])
        c = i * g if c is None else f * c + i * g
        h = o * fw.tanh(c)
    return fw.mean(h * h)


TF_BATCH, TF_SEQ, TF_DIM, TF_HEADS, TF_FF = 8, 32, 128, 4, 512


def _tf_data(rng):
    d, ff = TF_DIM, TF_FF
    return {"x": rng.standard_normal((TF_BATCH, TF_SEQ, d)).astype(np.float32),
            "g1": np.ones(d, np.float32), "be1": np.zeros(d, np.float32),
            "wqkv": _uniform(rng, (d, 3 * d), d), "wo": _uniform(rng, (d, d), d),
            "g2": np.ones(d, np.float32), "be2": np.zeros(d, np.float32),
            "w1": _uniform(rng, (d, ff), d), "c1": _uniform(rng, (ff,), d),
            "w2": _uniform(rng, (ff, d), ff), "c2": _uniform(rng, (d,), ff)}


def _layer_norm(fw, x, gamma, beta):
    mu = fw.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    var = fw.mean(xc * xc, axis=-1, keepdims=True)
    return xc / fw.sqrt(var + 1e-5) * gamma + beta


def transformer_loss(fw, x, g1, be1, wqkv, wo, g2, be2, w1, c1, w2, c2):
    """A pre-norm transformer encoder block from primitives; mean(out^2)."""
    bsz, seq, dim = x.shape
    dh = dim // TF_HEADS
    qkv = fw.matmul(_layer_norm(fw, x, g1, be1), wqkv)
    qkv = fw.permute(fw.reshape(qkv, (bsz, seq, 3, TF_HEADS, dh)), (2, 0, 3, 1, 4))
    q, k, v = qkv[0], qkv[1], qkv[2]
    scale = 1.0 / float(np.sqrt(dh))  # a Python float: a numpy float64 would promote
    att = fw.softmax(fw.matmul(q, fw.permute(k, (0, 1, 3, 2))) * scale)
    o = fw.reshape(fw.permute(fw.matmul(att, v), (0, 2, 1, 3)), (bsz, seq, dim))
    x1 = x + fw.matmul(o, wo)
    ff = fw.matmul(fw.relu(fw.matmul(_layer_norm(fw, x1, g2, be2), w1) + c1), w2) + c2
    out = x1 + ff
    return fw.mean(out * out)


def _primitive_build(loss_fn, input_names, param_names):
    def build(fw, data, variant):
        if not hasattr(fw, "backward"):
            raise NotImplementedError(f"{fw.name} has no autograd")
        inputs = [fw.array(data[n]) for n in input_names]
        params = [fw.array(data[n], grad=True) for n in param_names]
        loss_of = fw.jit(lambda *arrays: loss_fn(fw, *arrays))

        def forward_backward():
            fw.clear_grads(params)
            with fw.record():
                loss = loss_of(*inputs, *params)
            fw.backward(loss)
            return loss

        def step():
            forward_backward()
            fw.sgd_(params, LR)
            fw.sync()

        def check():
            loss = forward_backward()
            out = {"loss": fw.numpy(loss)}
            out.update({"d" + n: fw.numpy(fw.grad(p)) for n, p in zip(param_names, params)})
            return out

        return Case(step, check, api="np/npx primitives + plain SGD")
    return build


lstm_step = Workload(
    name="lstm_step", unit="ms/step", lower_is_better=True,
    make_data=_lstm_data, build=_primitive_build(lstm_loss, ["x"], ["wx", "wh", "b"]),
    metric=_ms,
    full=Timing(warmup=3, rounds=8, per_round=5),
    quick=Timing(warmup=1, rounds=3, per_round=3),
    rtol=2e-4,
    note=f"LSTM from primitives (matmul, slices, sigmoid, tanh; no fused cell in any "
         f"framework): seq {LSTM_SEQ}, batch {LSTM_BATCH}, input {LSTM_IN}, hidden "
         f"{LSTM_HIDDEN}; forward, backward, plain SGD")

_TF_PARAMS = ["g1", "be1", "wqkv", "wo", "g2", "be2", "w1", "c1", "w2", "c2"]

transformer_block_step = Workload(
    name="transformer_block_step", unit="ms/step", lower_is_better=True,
    make_data=_tf_data, build=_primitive_build(transformer_loss, ["x"], _TF_PARAMS),
    metric=_ms,
    full=Timing(warmup=3, rounds=8, per_round=5),
    quick=Timing(warmup=1, rounds=3, per_round=3),
    rtol=2e-4,
    note=f"pre-norm encoder block from primitives (layer norm, 4-head attention, ReLU FFN "
         f"{TF_FF}): batch {TF_BATCH}, seq {TF_SEQ}, dim {TF_DIM}; forward, backward, "
         "plain SGD")

WORKLOADS = [mlp_step, lenet_step, lstm_step, transformer_block_step]
