"""bench/gpu_check.sh and its check scripts (bench/gpu_checks/) stay runnable without a card.

Without a GPU the script must stop at its preflight with "no usable GPU: <reason>" and a
non-zero status, writing nothing; each check script's --dry-run (the CPU standing in for the
GPU, small sizes) runs to its PASS lines, so an API change that would break them on the
lent card breaks here first.
"""
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from mxlite.test_utils import gpu_unusable_reason

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / "bench" / "gpu_checks"
SCRIPT = ROOT / "bench" / "gpu_check.sh"


def run_script(*args):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHON": sys.executable})


@pytest.mark.skipif(gpu_unusable_reason(0) is None, reason="a GPU is usable here")
def test_without_a_gpu_the_check_stops_at_the_preflight(tmp_path):
    before = set((ROOT / "bench" / "results").iterdir())
    result = run_script("half1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no usable GPU: " in result.stdout
    assert "CuPy" in result.stdout and "driver" in result.stdout  # the preflight's versions
    assert "== pytest" not in result.stdout  # nothing ran
    assert set((ROOT / "bench" / "results").iterdir()) == before


def test_the_check_refuses_an_unknown_half():
    result = run_script("half3")
    assert result.returncode == 2 and "usage: bash bench/gpu_check.sh" in result.stderr


def test_every_check_script_parses():
    scripts = sorted(CHECKS.glob("*.py"))
    assert {p.stem for p in scripts} >= {"preflight", "odd_sizes", "rows", "large", "fp16",
                                         "pool_streams", "bandwidth"}
    for path in scripts:
        compile(path.read_text(), str(path), "exec")


@pytest.mark.parametrize("name, args", [
    ("odd_sizes", []), ("rows", []), ("large", []), ("fp16", []), ("bandwidth", []),
    ("pool_streams", ["--one"]),  # one process's digest; the four-pool comparison spawns
    ("nccl", []),
])
def test_dry_run_passes_on_the_cpu(name, args, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(CHECKS))
    monkeypatch.setattr(sys, "argv", [name, "--dry-run", *args])
    monkeypatch.delitem(sys.modules, "common", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(CHECKS / f"{name}.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    assert "FAIL" not in out
    assert " passed, 0 failed" in out or out.startswith("DIGEST "), out
    sys.modules.pop("common", None)
