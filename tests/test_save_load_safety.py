"""Saved files: a failed save never destroys the previous file, states files carry no code,
and a bad file raises an error naming it without changing the model or the trainer."""
import errno
import json
import pickle

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, fileio, gluon
from mxlite.base import MXNetError
from mxlite.gluon import nn


def _net(units=3, in_units=4):
    mx.np.random.seed(0)
    net = nn.HybridSequential()
    net.add(nn.Dense(units, in_units=in_units), nn.Dense(2, in_units=units))
    net.initialize()
    return net


def _train(net, trainer, steps, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = mx.np.array(rng.standard_normal((5, 4)), dtype=net[0].weight.dtype)
        with autograd.record():
            loss = (net(x) ** 2).sum()
        loss.backward()
        trainer.step(5)


def _weights(net):
    return {k: p.data().asnumpy().copy() for k, p in net.collect_params().items()}


def _set_weights(net, weights):
    for k, p in net.collect_params().items():
        p.set_data(weights[k])


# -- a failed save leaves the old file ---------------------------------------------------------
class _FailingFile:
    """A file that accepts ``limit`` bytes, then raises ``error`` (a full disk, Ctrl-C)."""

    def __init__(self, f, limit, error):
        self._f, self._left, self._error = f, limit, error

    def write(self, data):
        data = bytes(data)
        if len(data) > self._left:
            self._f.write(data[:self._left])
            self._left = 0
            raise self._error
        self._left -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def _save_parameters(path):
    _net(units=30).save_parameters(path)


def _save_states(path):
    net = _net(units=30)
    trainer = gluon.Trainer(net.collect_params(), "adam")
    _train(net, trainer, 1)
    trainer.save_states(path)


def _npx_save(path):
    mx.npx.save(path, {"a": mx.np.ones((40, 40))})


@pytest.mark.parametrize("save", [_save_parameters, _save_states, _npx_save])
@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   KeyboardInterrupt()], ids=["ENOSPC", "KeyboardInterrupt"])
def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch,
                                                                       save, error):
    path = tmp_path / "model.file"
    save(str(path))
    before = path.read_bytes()
    assert len(before) > 300
    real_open = open
    monkeypatch.setattr(fileio, "open",
                        lambda *a, **k: _FailingFile(real_open(*a, **k), 200, error), raising=False)
    with pytest.raises(type(error)):
        save(str(path))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.file"]
    save(str(path))  # and a save that succeeds replaces it, still alone in its folder
    assert [p.name for p in tmp_path.iterdir()] == ["model.file"]


def test_a_save_keeps_the_permissions_and_links_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "x.npz"
    mx.npx.save(str(path), [mx.np.ones(2)])
    path.chmod(0o640)
    mx.npx.save(str(path), [mx.np.zeros(2)])
    assert path.stat().st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(mx.npx.load(str(path))["arr_0"].asnumpy(), np.zeros(2))
    link = tmp_path / "link.npz"
    link.symlink_to(path)
    mx.npx.save(str(link), [mx.np.full(2, 7.0)])  # writes through the link, which stays one
    assert link.is_symlink()
    np.testing.assert_array_equal(mx.npx.load(str(path))["arr_0"].asnumpy(), np.full(2, 7.0))
    with pytest.raises(FileNotFoundError, match="cannot save '.*no-such-folder/x.npz'"):
        mx.npx.save(str(tmp_path / "no-such-folder" / "x.npz"), [mx.np.ones(2)])


# -- states files carry no code ----------------------------------------------------------------
class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")  # unpickling would create the marker file


def test_a_crafted_pickle_states_file_is_refused_and_its_payload_does_not_run(tmp_path):
    marker = tmp_path / "ran"
    crafted = tmp_path / "evil.states"
    crafted.write_bytes(pickle.dumps({"states": {}, "optimizer": _Payload(str(marker))}))
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "sgd")
    with pytest.raises(MXNetError, match="(?s)evil.states.*can run arbitrary code.*"
                                         "allow_pickle=True"):
        trainer.load_states(str(crafted))
    with pytest.raises(MXNetError, match="allow_pickle=True"):
        mx.optimizer.Updater(mx.optimizer.create("sgd")).set_states(crafted.read_bytes())
    assert not marker.exists()


def test_the_states_file_is_an_npz_of_arrays_and_old_pickles_load_with_the_opt_in(tmp_path):
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"momentum": 0.9})
    _train(net, trainer, 2)
    path = tmp_path / "t.states"
    trainer.save_states(str(path))
    with np.load(str(path), allow_pickle=False) as npz:  # arrays only, no objects
        assert all(npz[k].dtype != object for k in npz.files)

    (updater,) = trainer._updaters.values()
    legacy = tmp_path / "legacy.states"
    host = updater._host_view()
    old_sign = {i: -s for i, s in host.items()}  # the pickle era kept the step subtracted
    legacy.write_bytes(pickle.dumps({"states": {str(mx.cpu()): pickle.dumps(old_sign)},
                                     "optimizer": trainer.optimizer}))
    fresh = gluon.Trainer(net.collect_params(), "sgd", {"momentum": 0.9})
    fresh.load_states(str(legacy), allow_pickle=True)
    (loaded,) = fresh._updaters.values()
    for i, state in host.items():
        np.testing.assert_array_equal(loaded._host_states[i], state)


@pytest.mark.parametrize("optimizer,params,dtype", [
    ("sgd", {"momentum": 0.9}, "float32"),
    ("sgd", {"momentum": 0.9, "multi_precision": True}, "float16"),
    ("nag", {"momentum": 0.9}, "float32"),
    ("adam", {}, "float32"),
])
def test_version_1_states_files_load_with_mxnets_momentum_sign(tmp_path, optimizer, params, dtype):
    """Version 1 kept SGD's and NAG's momentum negated; loading one gives MXNet's sign, and
    the other optimizers' states unchanged."""
    net = _net()
    net.cast(dtype)
    trainer = gluon.Trainer(net.collect_params(), optimizer, dict(params))
    _train(net, trainer, 2)
    path, old = tmp_path / "t.states", tmp_path / "v1.states"
    trainer.save_states(str(path))
    negate = optimizer in ("sgd", "nag")
    with np.load(str(path), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop("__mxlite_states__").tobytes())
    meta["version"] = 1
    for layout in meta["states"].values():
        for _, state in layout:
            key = state[1] if isinstance(state, list) else state  # (master, momentum)
            if negate:
                arrays[key] = -arrays[key]
    arrays["__mxlite_states__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(old, "wb") as f:
        np.savez(f, **arrays)
    fresh = gluon.Trainer(net.collect_params(), optimizer, dict(params))
    fresh.load_states(str(old))
    (saved,), (loaded,) = trainer._updaters.values(), fresh._updaters.values()
    for i, state in saved._host_view().items():
        for a, b in zip(*(s if isinstance(s, tuple) else (s,)
                          for s in (state, loaded._host_states[i]))):
            np.testing.assert_array_equal(a, b)


# -- round trips continue training identically ---------------------------------------------------
@pytest.mark.parametrize("optimizer,params,dtype", [
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}, "float32"),
    ("adam", {"learning_rate": 0.01}, "float32"),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "multi_precision": True}, "float16"),
    ("adam", {"learning_rate": 0.01, "lr_scheduler": mx.lr_scheduler.FactorScheduler(1, 0.9),
              "multi_precision": True}, "float16"),
], ids=["sgd-momentum", "adam", "sgd-multi-precision", "adam-scheduler-multi-precision"])
def test_states_round_trip_continues_training_identically(tmp_path, optimizer, params, dtype):
    def make():
        net = _net()
        net.cast(dtype)
        return net

    net = make()
    trainer = gluon.Trainer(net.collect_params(), optimizer, dict(params))
    _train(net, trainer, 3)
    trainer.save_states(str(tmp_path / "t.states"))
    saved = _weights(net)
    _train(net, trainer, 3, seed=2)
    expected = _weights(net)

    if "lr_scheduler" in params:  # a fresh schedule: the saved one (its count) comes from the file
        params["lr_scheduler"] = mx.lr_scheduler.FactorScheduler(1, 0.9)
    other = make()
    _set_weights(other, saved)
    fresh = gluon.Trainer(other.collect_params(), optimizer, dict(params))
    fresh.load_states(str(tmp_path / "t.states"))
    _train(other, fresh, 3, seed=2)
    for k, v in _weights(other).items():
        np.testing.assert_array_equal(v, expected[k])


def test_updater_states_round_trip_with_the_optimizer(tmp_path):
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    _train(net, trainer, 2)
    (updater,) = trainer._updaters.values()
    blob = updater.get_states(dump_optimizer=True)
    assert isinstance(blob, bytes) and blob[:2] == b"PK"
    copy = mx.optimizer.Updater(mx.optimizer.create("adam"), updater.device_key)
    copy.set_states(blob)
    assert copy.optimizer.learning_rate == 0.01
    assert copy.optimizer.num_update == updater.optimizer.num_update == 2
    for i, (mean, var) in updater.states.items():
        np.testing.assert_array_equal(copy._host_states[i][0], mean.asnumpy())
        np.testing.assert_array_equal(copy._host_states[i][1], var.asnumpy())


# -- bad files raise errors naming them, and change nothing -----------------------------------
def test_npx_load_of_a_file_that_is_no_npz_names_it_and_the_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(MXNetError, match="notes.txt' is not an .npz archive.*npx.save"):
        mx.npx.load(str(path))


def test_truncated_parameter_and_states_files_name_the_file_and_change_nothing(tmp_path):
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "adam")
    _train(net, trainer, 1)
    net.save_parameters(str(tmp_path / "p.params"))
    trainer.save_states(str(tmp_path / "t.states"))
    for name in ("p.params", "t.states"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / f"cut-{name}").write_bytes(data[:len(data) // 2])
    _train(net, trainer, 1)
    weights = _weights(net)
    trainer.save_states(str(tmp_path / "now.states"))
    with pytest.raises(MXNetError, match="load_parameters: '.*cut-p.params' is truncated"):
        net.load_parameters(str(tmp_path / "cut-p.params"))
    with pytest.raises(MXNetError, match="load_states: '.*cut-t.states' is truncated"):
        trainer.load_states(str(tmp_path / "cut-t.states"))
    for k, v in _weights(net).items():
        np.testing.assert_array_equal(v, weights[k])
    trainer.save_states(str(tmp_path / "after.states"))
    assert (tmp_path / "after.states").read_bytes() == (tmp_path / "now.states").read_bytes()


def test_load_mismatches_name_full_parameter_names_shapes_and_the_fix(tmp_path):
    path = str(tmp_path / "p.params")
    _net(units=3).save_parameters(path)
    wider = _net(units=6)
    before = _weights(wider)
    with pytest.raises(ValueError, match=r"Parameter '0.weight': shape incompatible, expected "
                                         r"\(6, 4\) but loaded \(3, 4\).*'1.weight'"):
        wider.load_parameters(path)
    for k, v in _weights(wider).items():
        np.testing.assert_array_equal(v, before[k])

    single = nn.Dense(3, in_units=4)
    single.initialize()
    with pytest.raises(ValueError, match=r"not present in the model. Not in the model: "
                                         r"'0.weight' \(shape \(3, 4\)\), '0.bias' \(shape \(3,\)\),"
                                         r".*\(4 in all\).*ignore_extra=True"):
        single.load_parameters(path, allow_missing=True)
    bigger = _net()
    bigger.add(nn.Dense(5, in_units=2))
    bigger[2].initialize()
    with pytest.raises(AssertionError, match=r"Missing: '2.weight' \(shape \(5, 2\)\), '2.bias' "
                                             r"\(shape \(5,\)\) \(2 in all\).*allow_missing=True"):
        bigger.load_parameters(path)


def test_states_of_another_model_or_optimizer_are_refused_and_change_nothing(tmp_path):
    small, big = _net(units=3), _net(units=6)
    small_trainer = gluon.Trainer(small.collect_params(), "sgd", {"momentum": 0.9})
    _train(small, small_trainer, 1)
    small_trainer.save_states(str(tmp_path / "small.states"))
    adam = gluon.Trainer(big.collect_params(), "adam")
    _train(big, adam, 1)
    adam.save_states(str(tmp_path / "adam.states"))

    trainer = gluon.Trainer(big.collect_params(), "sgd", {"momentum": 0.9})
    _train(big, trainer, 1)
    trainer.save_states(str(tmp_path / "before.states"))
    with pytest.raises(ValueError, match=r"small.states.*state of parameter 0 \('0.bias', "
                                         r"shape \(6,\)\) has shape \(3,\)"):
        trainer.load_states(str(tmp_path / "small.states"))
    with pytest.raises(MXNetError, match="optimizer 'adam' but this one is 'sgd'"):
        trainer.load_states(str(tmp_path / "adam.states"))
    trainer.save_states(str(tmp_path / "after.states"))
    assert (tmp_path / "after.states").read_bytes() == (tmp_path / "before.states").read_bytes()


def test_a_tampered_states_file_is_refused_before_the_optimizer_changes(tmp_path):
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"momentum": 0.9})
    _train(net, trainer, 1)
    trainer.save_states(str(tmp_path / "t.states"))
    with np.load(str(tmp_path / "t.states")) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["__mxlite_states__"].tobytes())
    meta["optimizer"]["hyper"].update(lr="fast", _launch_fused=1)
    arrays["__mxlite_states__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(tmp_path / "bad.states", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(MXNetError, match=r"bad.states.*\['_launch_fused', 'lr'\] are unknown"):
        trainer.load_states(str(tmp_path / "bad.states"))
    assert trainer.optimizer.lr == 0.1 and "_launch_fused" not in vars(trainer.optimizer)


def test_npx_load_of_a_bad_npy_names_the_file(tmp_path):
    pickled = tmp_path / "objects.npy"
    np.save(str(pickled), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(MXNetError, match="objects.npy' holds pickled Python objects"):
        mx.npx.load(str(pickled))
    truncated = tmp_path / "cut.npy"
    mx.npx.save(str(truncated), mx.np.ones(100))
    truncated.write_bytes(truncated.read_bytes()[:120])
    with pytest.raises(MXNetError, match="cut.npy' is truncated or corrupt"):
        mx.npx.load(str(truncated))
    with pytest.raises(MXNetError, match=r"an .npz starts with b'PK'\)"):  # npz-only readers
        mx.gluon.nn.Dense(1).load_parameters(str(truncated))
