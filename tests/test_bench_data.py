"""The mlp_step cross-check data keeps every ReLU input away from 0, where float32 rounding in
one framework could flip a gradient row (a mismatch that is not a bug)."""
import numpy as np

from bench import report
from bench.run import SEED
from bench.workloads.models import KINK_MARGIN, MLP_SIZES, _mlp_data


def test_mlp_relu_inputs_clear_the_kink():
    data = _mlp_data(np.random.default_rng(SEED))
    h = data["x"].astype(np.float64)
    for i in range(len(MLP_SIZES) - 2):
        z = h @ data[f"w{i}"].T.astype(np.float64) + data[f"b{i}"]
        assert np.abs(z).min() >= KINK_MARGIN
        h = np.maximum(z, 0.0)


def test_report_header_names_the_run_its_table_shows():
    machine = {"cpu": "c", "cores": 2, "python": "3", "numpy": "2"}
    full = {"run_id": "2026-01-01", "mode": "full", "machine": machine, "workload": "w",
            "threads": 1, "framework": "mxlite", "version": "0.1.0", "value": 1.0}
    quick = dict(full, run_id="2026-02-01", mode="quick", version="0.2.0",
                 machine=dict(machine, cpu="newer"))
    records = [full, quick]
    header = report._context(records, report.latest(records))
    assert "Run: 2026-01-01 (full mode)" in header and "Versions: mxlite 0.1.0" in header
    assert header[0].startswith("Machine: c,")
