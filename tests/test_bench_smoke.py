"""The benchmark suite runs: every workload once on mxlite, cross-checked against PyTorch
when it is installed, and the driver and report end to end on the smallest workload."""
import json
import math

import numpy as np
import pytest

from bench import report, run
from bench.workloads import all_workloads
from bench.workloads.frameworks import Mxlite, Torch, available

WORKLOADS = all_workloads()
CASES = [(w.name, v) for w in WORKLOADS.values() for v in w.variants]


SMOKE_BATCH = 8  # the layer models at a tiny batch: same code path, a fraction of the time


def _data(workload):
    data = workload.make_data(np.random.default_rng(run.SEED))
    if workload.name in ("mlp_step", "lenet_step"):
        data["x"], data["y"] = data["x"][:SMOKE_BATCH], data["y"][:SMOKE_BATCH]
    return data


@pytest.mark.parametrize("name,variant", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_workload_runs_and_matches_torch(name, variant):
    workload = WORKLOADS[name]
    missing = run._missing(workload)
    if missing:
        pytest.skip(f"mxlite lacks {', '.join(missing)}")
    data = _data(workload)
    case = workload.build(Mxlite(), data, variant)
    reference = case.check()
    assert reference and all(np.all(np.isfinite(v)) for v in reference.values())
    case.step()
    if "torch" in workload.frameworks and available("torch"):
        other = workload.build(Torch(), data, variant).check()
        err, ok = run.compare(reference, other, workload.rtol)
        assert ok, f"mxlite and torch differ by {err:.2e} (relative) on {name}"


def test_compare_flags_a_wrong_gradient():
    ref = {"g": np.array([1.0, 2.0, 4.0])}
    assert run.compare(ref, {"g": ref["g"] * (1 + 1e-7)}, 1e-5)[1]
    err, ok = run.compare(ref, {"g": np.array([1.0, 2.0, 4.1])}, 1e-5)
    assert not ok and math.isclose(err, 0.1 / 4.0)


def test_driver_and_report_end_to_end(tmp_path):
    results = tmp_path / "results"
    out = results / "cpu-test.jsonl"
    rc = run.main(["--quick", "--workloads", "op_overhead", "--frameworks", "numpy,mxlite",
                   "--threads", "1", "--out", str(out)])
    assert rc == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    timed = {(r["variant"], r["framework"]) for r in records if "value" in r}
    assert {("no_record", "numpy"), ("no_record", "mxlite"), ("record", "mxlite"),
            ("fwd_bwd", "mxlite")} <= timed
    for r in records:
        if "value" in r:
            assert r["q1"] <= r["value"] <= r["q3"] and r["unit"] == "us/op"
            assert r["machine"]["cores"] >= 1 and r["threads"] == 1

    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nintro kept\n")
    plots = available_matplotlib()
    args = ["--results", str(results), "--readme", str(readme), "--plots", str(tmp_path / "plots")]
    assert report.main(args + ([] if plots else ["--no-plots"])) == 0
    text = readme.read_text()
    assert "intro kept" in text and "| op_overhead (no_record) | 1 | us/op |" in text
    if plots:
        assert (tmp_path / "plots" / "cpu-test-op-overhead.png").stat().st_size > 0


def available_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
