"""The training demo's loop learns the digits (on a subset, in a few seconds)."""
import importlib.util
import json

import numpy as np
import pytest

import mxlite as mx

pytest.importorskip("sklearn")
train_module = pytest.importorskip("mxlite.examples.train")


def test_core_loop_reaches_accuracy_and_saves_best(tmp_path):
    out = tmp_path / "best.params"
    logs = []
    result = train_module.train(epochs=4, batch_size=32, lr=3e-3, seed=0, out=str(out),
                                model="mlp", limit=600, progress=False, log=logs.append,
                                run_dir=str(tmp_path))
    assert result["test_accuracy"] >= 0.85, logs
    assert len(logs) == 6 and "training curve" in logs[-1] and logs[0].startswith("epoch 1: train accuracy")
    saved = np.load(out)
    assert sorted(saved.files) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    assert saved["0.weight"].shape == (128, 64)


def test_cnn_learns_on_a_subset(tmp_path):
    result = train_module.train(epochs=3, batch_size=32, lr=5e-3, seed=0,
                                out=str(tmp_path / "cnn.params"), model="cnn", limit=300,
                                progress=False, log=lambda line: None, run_dir=str(tmp_path))
    assert result["test_accuracy"] >= 0.75


def test_device_choice_falls_back_to_cpu():
    device = train_module.pick_device("auto")
    assert device.device_type in ("cpu", "gpu")
    assert train_module.pick_device("cpu") == mx.cpu()


def test_command_line_runs_into_its_run_folder(tmp_path, capsys):
    rc = train_module.main(["--epochs", "2", "--model", "mlp", "--lr", "0.01", "--device", "cpu",
                            "--seed", "1", "--run-dir", str(tmp_path), "--name", "r1",
                            "--profile"])
    printed = capsys.readouterr().out.splitlines()
    run = tmp_path / "r1"
    assert printed[0] == f"training on cpu(0); outputs in {run}"
    assert printed[1].startswith("epoch 1: train accuracy")
    result_line = next(line for line in printed if line.startswith("best validation"))
    test_accuracy = float(result_line.split("test accuracy ")[1].split()[0])
    assert rc == (0 if test_accuracy >= train_module.EXPECTED_ACCURACY else 1)
    if rc:
        assert "below the expected" in printed[-1]
    assert (run / "best.params").exists()
    curve = json.loads((run / "curve.json").read_text())
    assert curve["epoch"] == [1, 2]
    assert set(curve) == {"epoch", "loss", "train_accuracy", "val_accuracy"}
    assert curve["loss"][1] < curve["loss"][0]
    assert (run / "curve.csv").read_text().splitlines()[0] == \
        "epoch,loss,train_accuracy,val_accuracy"
    assert (run / "curve.png").exists() == (importlib.util.find_spec("matplotlib") is not None)
    names = {e["name"] for e in json.loads((run / "profile.json").read_text())["traceEvents"]}
    assert any(n.startswith("_backward_") for n in names) and "epoch" not in names


def test_zero_epochs_without_saved_parameters_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no saved parameters"):
        train_module.main(["--epochs", "0", "--device", "cpu", "--run-dir", str(tmp_path)])
