"""bench/amp_bench.py: skips clearly without a GPU, and its mxlite step runs (tiny, on the CPU)."""
import numpy as np
import pytest

from bench import amp_bench


def test_skips_without_a_gpu(capsys, tmp_path):
    if amp_bench.gpu_reason() is None:
        pytest.skip("a GPU is usable here: the benchmark would measure")
    assert amp_bench.main(["--out", str(tmp_path / "r.jsonl")]) == 0
    assert capsys.readouterr().out.startswith("SKIPPED: the AMP benchmark needs a usable GPU")
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("amp_dtype", [None, "float16", "bfloat16"])
def test_the_mxlite_step_runs(amp_dtype):
    import mxlite as mx
    x = np.random.default_rng(0).standard_normal((2, 4, 8)).astype(np.float32)
    ms = amp_bench.time_mxlite(x, 1, 2, amp_dtype, device=mx.cpu())
    assert ms > 0 and not mx.amp.is_initialized()
