"""Device information (NVML, CuPy fallback) and ``python -m mxlite info``.

NVML is replaced by a fake module where a test needs a GPU's answers, so the NVML
code paths run on machines without a GPU too.
"""
import os
import subprocess
import sys
import threading
import types

import pytest

import mxlite as mx
from mxlite import device_info
from mxlite.device import GPUUnavailableError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FakeNVMLError(Exception):
    pass


def fake_nvml(count=1, init=None):
    """A stand-in for pynvml describing ``count`` H100-like GPUs."""
    memory = types.SimpleNamespace(total=80 << 30, free=70 << 30, used=10 << 30)
    rates = types.SimpleNamespace(gpu=42, memory=7)
    return types.SimpleNamespace(
        NVMLError=FakeNVMLError,
        nvmlInit=init or (lambda: None),
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: count,
        nvmlDeviceGetHandleByIndex=lambda i: ("handle", i),
        nvmlDeviceGetMemoryInfo=lambda handle: memory,
        nvmlDeviceGetCudaComputeCapability=lambda handle: (9, 0),
        nvmlDeviceGetUtilizationRates=lambda handle: rates,
        nvmlDeviceGetName=lambda handle: b"NVIDIA H100 80GB HBM3",
        nvmlSystemGetDriverVersion=lambda: "580.65.06",
        nvmlSystemGetCudaDriverVersion=lambda: 13000,
    )


def test_cpu_device_info():
    info = device_info.device_info(mx.cpu(0))
    assert info["type"] == "cpu" and info["device"] == "cpu(0)"
    assert info["cores"] >= 1
    assert 0 < info["free_memory"] <= info["total_memory"]


def test_gpu_info_from_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    info = device_info.device_info(mx.gpu(0))
    assert info["name"] == "NVIDIA H100 80GB HBM3"
    assert info["compute_capability"] == "9.0"
    assert info["total_memory"] == 80 << 30 and info["free_memory"] == 70 << 30
    assert info["utilization_gpu"] == 42
    assert info["driver_version"] == "580.65.06" and info["cuda_driver_version"] == "13.0"
    assert device_info.gpu_memory_info(0) == (70 << 30, 80 << 30)
    assert device_info.driver_versions() == {"driver": "580.65.06", "cuda_driver": "13.0"}


def test_missing_gpu_index_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(count=1))
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(GPUUnavailableError, match=r"gpu\(3\) requested but only 1"):
        device_info.gpu_memory_info(3)


def test_without_nvml_or_cupy_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(GPUUnavailableError) as info:
        device_info.gpu_memory_info(0)
    assert "nvidia-ml-py is not installed" in str(info.value)
    assert "CuPy is not installed" in str(info.value)
    with pytest.raises(GPUUnavailableError, match="nvidia-ml-py"):
        device_info.device_info(mx.gpu(0))


def test_nvml_failure_is_converted(monkeypatch):
    def no_driver():
        raise FakeNVMLError("Driver Not Loaded")

    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(init=no_driver))
    with pytest.raises(GPUUnavailableError, match="Driver Not Loaded"):
        device_info.driver_versions()


def test_a_hung_driver_does_not_hang_the_caller(monkeypatch):
    released = threading.Event()
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(init=lambda: released.wait(30)))
    monkeypatch.setattr(device_info, "NVML_TIMEOUT_S", 0.05)
    try:
        with pytest.raises(GPUUnavailableError, match="did not answer"):
            device_info.driver_versions()
    finally:
        released.set()


def test_real_machine_answers_or_explains():
    try:
        free, total = device_info.gpu_memory_info(0)
    except GPUUnavailableError as err:
        assert "gpu(0)" in str(err)
    else:
        assert 0 <= free <= total


def run_info(*args, **env):
    return subprocess.run([sys.executable, "-m", "mxlite", "info", *args], cwd=REPO_ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)


GOOD_KERNEL = '''extern "C" __global__ void scale(float* x, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= a;
}
'''


def test_info_command_reports_versions_devices_pools_and_kernels(tmp_path):
    (tmp_path / "good.cu").write_text(GOOD_KERNEL)
    (tmp_path / "broken.cu").write_text("__global__ void broken( {")
    result = run_info("--kernels-dir", str(tmp_path), MXLITE_GPU_MEM_POOL_TYPE="Round")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("mxlite", "numpy", "CuPy", "CUDA runtime", "NVRTC", "cpu(0)",
                 "gpu: Round", "kernels ("):
        assert text in out
    if "cannot be checked" not in out:  # NVRTC present: one line per file
        assert "  good.cu: compiles for sm_" in out
        assert "  broken.cu: FAILS" in out
    if mx.num_gpus() == 0:
        assert out.splitlines()[0].startswith("CPU only")


def test_info_command_reports_a_bad_setting_and_still_succeeds():
    result = run_info("--no-kernels", MXLITE_CPU_MEM_POOL_TYPE="Fancy")
    assert result.returncode == 0, result.stderr
    assert "kernels (" not in result.stdout
    assert "invalid setting" in result.stdout and "MXLITE_CPU_MEM_POOL_TYPE" in result.stdout


def test_num_gpus_asks_nvml_and_never_raises(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(count=4))
    assert mx.device.num_gpus() == 4

    def broken():
        raise FakeNVMLError("driver not loaded")
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(init=broken))
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert mx.device.num_gpus() == 0
