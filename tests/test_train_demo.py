"""The training demo's loop learns the digits (on a subset, in a few seconds)."""
import numpy as np
import pytest

import mxlite as mx

pytest.importorskip("sklearn")
train_module = pytest.importorskip("mxlite.examples.train")


def test_core_loop_reaches_accuracy_and_saves_best(tmp_path):
    out = tmp_path / "best.params"
    logs = []
    result = train_module.train(epochs=4, batch_size=32, lr=3e-3, seed=0, out=str(out),
                                model="mlp", limit=600, progress=False, log=logs.append)
    assert result["test_accuracy"] >= 0.85, logs
    assert len(logs) == 5 and logs[0].startswith("epoch 1: train accuracy")
    saved = np.load(out)
    assert sorted(saved.files) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    assert saved["0.weight"].shape == (128, 64)


def test_cnn_learns_on_a_subset(tmp_path):
    result = train_module.train(epochs=3, batch_size=32, lr=5e-3, seed=0,
                                out=str(tmp_path / "cnn.params"), model="cnn", limit=300,
                                progress=False, log=lambda line: None)
    assert result["test_accuracy"] >= 0.75


def test_device_choice_falls_back_to_cpu():
    device = train_module.pick_device("auto")
    assert device.device_type in ("cpu", "gpu")
    assert train_module.pick_device("cpu") == mx.cpu()


def test_command_line_runs_and_reports(tmp_path, capsys):
    out = tmp_path / "cli.params"
    rc = train_module.main(["--epochs", "2", "--model", "mlp", "--lr", "0.01", "--device", "cpu",
                            "--seed", "1", "--out", str(out)])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "training on cpu(0)"
    assert printed[1].startswith("epoch 1: train accuracy")
    test_accuracy = float(printed[-1].split("test accuracy ")[1].split()[0])
    assert rc == (0 if test_accuracy >= 0.95 else 1)
    assert out.exists()
