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


def fake_nvml(count=1, init=None, gpus=None):
    """A stand-in for pynvml describing ``count`` H100-like GPUs, or ``gpus``: dicts with
    name, bus, uuid, capability and migs (a list of MIG UUIDs: the GPU is in MIG mode)."""
    if gpus is None:
        gpus = [{"name": "NVIDIA H100 80GB HBM3", "bus": f"00000000:{0x18 + i:02X}:00.0",
                 "uuid": f"GPU-{i:08d}-aaaa", "capability": (9, 0), "migs": []}
                for i in range(count)]
    memory = types.SimpleNamespace(total=80 << 30, free=70 << 30, used=10 << 30)
    rates = types.SimpleNamespace(gpu=42, memory=7)
    migs = {("mig", uuid): gpu for gpu in gpus for uuid in gpu["migs"]}

    def gpu_of(handle):
        return migs.get(handle) or gpus[handle[1]]

    def mig_mode(handle):
        if gpus[handle[1]]["capability"] < (8, 0):
            raise FakeNVMLError("Not Supported")
        return (1 if gpus[handle[1]]["migs"] else 0), 0

    return types.SimpleNamespace(
        NVMLError=FakeNVMLError,
        nvmlInit=init or (lambda: None),
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: len(gpus),
        nvmlDeviceGetHandleByIndex=lambda i: ("handle", i),
        nvmlDeviceGetUUID=lambda h: h[1] if h[0] == "mig" else gpus[h[1]]["uuid"],
        nvmlDeviceGetPciInfo=lambda h: types.SimpleNamespace(busId=gpu_of(h)["bus"].encode()),
        nvmlDeviceGetMigMode=mig_mode,
        nvmlDeviceGetMaxMigDeviceCount=lambda h: 7,
        nvmlDeviceGetMigDeviceHandleByIndex=lambda h, slot: (
            ("mig", gpus[h[1]]["migs"][slot]) if slot < len(gpus[h[1]]["migs"])
            else (_ for _ in ()).throw(FakeNVMLError("Not Found"))),
        nvmlDeviceGetMemoryInfo=lambda handle: memory,
        nvmlDeviceGetCudaComputeCapability=lambda h: gpu_of(h)["capability"],
        nvmlDeviceGetUtilizationRates=lambda handle: rates,
        nvmlDeviceGetName=lambda h: (gpu_of(h)["name"] + (" MIG" if h[0] == "mig" else "")).encode(),
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


MIXED = [  # NVML (PCI) order: an old card first, then two H100s, one of them in MIG mode
    {"name": "Tesla V100", "bus": "00000000:3B:00.0", "uuid": "GPU-volta-1111",
     "capability": (7, 0), "migs": []},
    {"name": "H100 A", "bus": "00000000:5E:00.0", "uuid": "GPU-hopper-2222",
     "capability": (9, 0), "migs": []},
    {"name": "H100 B", "bus": "00000000:86:00.0", "uuid": "GPU-hopper-3333",
     "capability": (9, 0), "migs": ["MIG-aaaa-0001", "MIG-bbbb-0002"]},
]


def visible_names(monkeypatch, visible=None, order=None):
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(gpus=MIXED))
    for name, value in (("CUDA_VISIBLE_DEVICES", visible), ("CUDA_DEVICE_ORDER", order)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return [device_info.device_info(mx.gpu(i))["name"] for i in range(mx.device.num_gpus())]


def test_cuda_ordinals_follow_cuda_device_order_not_nvml_indices(monkeypatch):
    # FASTEST_FIRST (CUDA's default) puts the newer cards first; the MIG GPU is its instances
    assert visible_names(monkeypatch) == ["H100 A", "H100 B MIG", "H100 B MIG", "Tesla V100"]
    assert visible_names(monkeypatch, order="PCI_BUS_ID") == [
        "Tesla V100", "H100 A", "H100 B MIG", "H100 B MIG"]


def test_cuda_visible_devices_by_index_uuid_and_mig_id(monkeypatch):
    assert visible_names(monkeypatch, "3,0", order="PCI_BUS_ID") == ["H100 B MIG", "Tesla V100"]
    assert visible_names(monkeypatch, "GPU-volta, GPU-hopper-2") == ["Tesla V100", "H100 A"]
    assert visible_names(monkeypatch, "MIG-bbbb") == ["H100 B MIG"]
    assert visible_names(monkeypatch, "") == []


def test_cuda_visible_devices_never_overcounts(monkeypatch):
    # CUDA stops at the first bad entry: out of range, unknown, ambiguous or repeated
    assert visible_names(monkeypatch, "1,7,0") == ["H100 B MIG"]
    assert visible_names(monkeypatch, "0,-1,2") == ["H100 A"]
    assert visible_names(monkeypatch, "GPU-,0") == []  # a prefix of two UUIDs
    assert visible_names(monkeypatch, "0,0,1") == ["H100 A"]
    assert visible_names(monkeypatch, "bogus") == []
    assert visible_names(monkeypatch, "3") == ["Tesla V100"]
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(GPUUnavailableError, match=r"gpu\(1\).*only 1.*CUDA_VISIBLE_DEVICES=3"):
        device_info.gpu_memory_info(1)


@pytest.mark.parametrize("versions, extra", [
    ({"driver": "580.65.06", "cuda_driver": "13.0"}, "mxlite[gpu]"),
    ({"driver": "535.183.01", "cuda_driver": "12.2"}, "mxlite[gpu-cuda12]"),
    ({"driver": None, "cuda_driver": "12.8"}, "mxlite[gpu-cuda12]"),
    ({"driver": "470.256.02", "cuda_driver": "11.4"}, "too old"),
])
def test_info_names_the_extra_that_fits_the_driver(versions, extra):
    from mxlite.__main__ import extra_for_driver
    assert extra in extra_for_driver(versions)


def test_info_reads_the_driver_version_through_nvml(monkeypatch):
    from mxlite.__main__ import _driver_advice
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    assert _driver_advice() == "driver 580.65.06 runs CUDA 13: pip install 'mxlite[gpu]'"


def test_installed_wheel_ships_the_kernels_where_info_and_the_loader_look(tmp_path):
    import shutil
    source = tmp_path / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO_ROOT, name), source / name)
    for name in ("mxlite", "kernels"):
        shutil.copytree(os.path.join(REPO_ROOT, name), source / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q",
                            "-w", str(tmp_path / "dist")], capture_output=True, text=True,
                           timeout=300)
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here (no setuptools from an index?): "
                    f"{built.stderr.strip().splitlines()[-1:]}")
    import zipfile
    (wheel,) = (tmp_path / "dist").glob("mxlite-*.whl")
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")  # what pip install puts in site-packages
    probe = ("from mxlite.__main__ import _default_kernels_dir; from mxlite.cuda import loader; "
             "print(_default_kernels_dir()); print(' '.join(loader.kernel_files()))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert result.returncode == 0, result.stderr
    where, stems = result.stdout.splitlines()
    assert where.startswith(str(tmp_path / "site")), where
    assert {"activation", "softmax", "norm", "elementwise"} <= set(stems.split())


def test_without_nvml_the_driver_is_read_from_libcuda(monkeypatch):
    from mxlite.__main__ import _driver_advice
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setattr(device_info, "_libcuda_driver_version", lambda: 12080)
    assert device_info.driver_versions() == {"driver": None, "cuda_driver": "12.8"}
    assert "a driver for CUDA 12.8 runs CUDA 12: pip install 'mxlite[gpu-cuda12]'" == _driver_advice()
