"""What a device is and how much memory it has: NVML first, CuPy as the fallback.

NVML answers without creating a CUDA context (which would take hundreds of MiB of
device memory), so it is preferred. Every failure (no nvidia-ml-py, no driver, no
GPU, a driver that does not answer) becomes a :class:`GPUUnavailableError` that says
why; nothing here crashes or waits forever.
"""
import os
import platform
import threading

from .base import GPUUnavailableError

__all__ = ["gpu_count", "gpu_memory_info", "device_info", "driver_versions",
           "host_memory_info"]

NVML_TIMEOUT_S = 10.0


def _with_timeout(fn, what):
    """``fn()``, or GPUUnavailableError if it does not return within the timeout."""
    result = {}

    def call():
        try:
            result["value"] = fn()
        except BaseException as err:  # re-raised in the caller's thread
            result["error"] = err

    worker = threading.Thread(target=call, name="mxlite-nvml", daemon=True)
    worker.start()
    worker.join(NVML_TIMEOUT_S)
    if worker.is_alive():
        raise GPUUnavailableError(f"{what}: NVML did not answer within "
                                  f"{NVML_TIMEOUT_S:g} s; the driver may be hung")
    if "error" in result:
        raise result["error"]
    return result["value"]


def _nvml_query(query, what):
    """Run ``query(pynvml)`` between nvmlInit and nvmlShutdown."""
    try:
        import pynvml
    except ImportError:
        raise GPUUnavailableError(f"{what}: nvidia-ml-py is not installed "
                                  f"(pip install nvidia-ml-py)") from None

    def run():
        pynvml.nvmlInit()
        try:
            return query(pynvml)
        finally:
            pynvml.nvmlShutdown()

    try:
        return _with_timeout(run, what)
    except pynvml.NVMLError as err:
        raise GPUUnavailableError(f"{what}: NVML failed ({type(err).__name__}: {err})") \
            from None


MIG_ENABLED = 1  # NVML_DEVICE_MIG_ENABLE


def _nvml_devices(nvml):
    """NVML's devices as CUDA numbers them: ``[(handle, parent_handle), ...]``, index = CUDA ordinal.

    NVML counts every GPU in PCI order; CUDA counts what ``CUDA_VISIBLE_DEVICES`` leaves, in
    ``CUDA_DEVICE_ORDER`` (default FASTEST_FIRST), and a GPU in MIG mode stands for its MIG
    instances. Using NVML's index as the CUDA ordinal would describe the wrong card.
    """
    gpus = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
        gpus.append({"handle": handle, "uuid": _text(nvml.nvmlDeviceGetUUID(handle)),
                     "bus": _text(nvml.nvmlDeviceGetPciInfo(handle).busId).lower(),
                     "capability": (major, minor), "migs": _mig_devices(nvml, handle)})
    if os.environ.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST").strip() == "PCI_BUS_ID":
        gpus.sort(key=lambda gpu: gpu["bus"])
    else:
        # NVML cannot rank speed as CUDA does; newest architecture first, ties in PCI order,
        # is exact on the usual machine whose GPUs are all one model.
        gpus.sort(key=lambda gpu: (tuple(-c for c in gpu["capability"]), gpu["bus"]))
    devices = []  # (uuid, handle, parent) in CUDA's enumeration before CUDA_VISIBLE_DEVICES
    for gpu in gpus:
        if gpu["migs"]:
            devices.extend((uuid, mig, gpu["handle"]) for uuid, mig in gpu["migs"])
        else:
            devices.append((gpu["uuid"], gpu["handle"], gpu["handle"]))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [(handle, parent) for _, handle, parent in devices]
    chosen = []
    for token in (t.strip() for t in visible.split(",")):
        match = _visible_match(token, devices)
        if match is None or match in chosen:
            break  # CUDA stops at the first invalid or repeated entry
        chosen.append(match)
    return [(handle, parent) for _, handle, parent in chosen]


def _visible_match(token, devices):
    """The device a CUDA_VISIBLE_DEVICES entry names: an index, or a (unique) UUID prefix."""
    if token.lstrip("+-").isdigit():
        index = int(token)
        return devices[index] if 0 <= index < len(devices) else None
    if not token.startswith(("GPU-", "MIG-")):
        return None
    found = [device for device in devices if device[0].startswith(token)]
    return found[0] if len(found) == 1 else None


def _mig_devices(nvml, handle):
    """``[(uuid, handle), ...]`` of the MIG instances of a GPU in MIG mode, else []."""
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except nvml.NVMLError:  # not MIG-capable
        return []
    if current != MIG_ENABLED:
        return []
    migs = []
    for slot in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except nvml.NVMLError:  # an empty slot
            continue
        migs.append((_text(nvml.nvmlDeviceGetUUID(mig)), mig))
    return migs


def _nvml_handle(nvml, device_id):
    """(handle, parent handle) of CUDA's ``gpu(device_id)``; the parent answers per-card queries."""
    devices = _nvml_devices(nvml)
    if device_id >= len(devices):
        raise GPUUnavailableError(f"gpu({device_id}) requested but only {len(devices)} "
                                  f"GPU(s) are visible (CUDA_VISIBLE_DEVICES="
                                  f"{os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')})")
    return devices[device_id]


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _cupy_runtime():
    try:
        import cupy
    except ImportError:
        raise GPUUnavailableError("CuPy is not installed") from None
    if not cupy.cuda.is_available():
        raise GPUUnavailableError("CuPy finds no usable CUDA driver or GPU")
    return cupy


def gpu_count():
    """How many GPUs CUDA would number (NVML, else CuPy); 0 where neither can tell. Never raises."""
    try:
        return len(_nvml_query(_nvml_devices, "GPU count"))
    except Exception:  # GPUUnavailableError, or a driver error NVML did not wrap
        pass
    try:
        return int(_cupy_runtime().cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def gpu_memory_info(device_id=0):
    """(free, total) bytes of ``gpu(device_id)``, as ``mx.device.gpu_memory_info``."""
    device_id = int(device_id)
    what = f"memory of gpu({device_id})"

    def query(nvml):
        info = nvml.nvmlDeviceGetMemoryInfo(_nvml_handle(nvml, device_id)[0])
        return int(info.free), int(info.total)

    try:
        return _nvml_query(query, what)
    except GPUUnavailableError as nvml_err:
        try:
            cupy = _cupy_runtime()
            with cupy.cuda.Device(device_id):
                free, total = cupy.cuda.runtime.memGetInfo()
            return int(free), int(total)
        except Exception as cupy_err:  # CUDARuntimeError too: bad id, driver gone
            raise GPUUnavailableError(f"{nvml_err}; CuPy fallback: {cupy_err}") from None


def driver_versions():
    """{'driver': '580.65', 'cuda_driver': '13.0'} from NVML, else {'driver': None, 'cuda_driver':
    ...} from libcuda's cuDriverGetVersion; raises GPUUnavailableError if neither answers."""
    def query(nvml):
        cuda = nvml.nvmlSystemGetCudaDriverVersion()
        return {"driver": _text(nvml.nvmlSystemGetDriverVersion()),
                "cuda_driver": f"{cuda // 1000}.{cuda % 1000 // 10}"}

    try:
        return _nvml_query(query, "driver version")
    except GPUUnavailableError as nvml_err:
        try:
            cuda = _libcuda_driver_version()
        except (OSError, AttributeError, RuntimeError) as cuda_err:
            raise GPUUnavailableError(f"{nvml_err}; libcuda: {cuda_err}") from None
        return {"driver": None, "cuda_driver": f"{cuda // 1000}.{cuda % 1000 // 10}"}


def _libcuda_driver_version():
    """The CUDA version the installed driver supports (13000 = 13.0), straight from libcuda."""
    import ctypes
    libcuda = ctypes.CDLL("libcuda.so.1")
    version = ctypes.c_int(0)
    status = libcuda.cuDriverGetVersion(ctypes.byref(version))
    if status != 0:
        raise RuntimeError(f"cuDriverGetVersion failed with CUresult {status}")
    return version.value


def device_info(dev):
    """A dict describing the device ``dev`` (its ``device_type`` and ``device_id``).

    GPU keys: name, compute_capability, total_memory, free_memory, used_memory,
    utilization_gpu / utilization_memory (percent, None where not supported),
    driver_version, cuda_driver_version, source ('nvml' or 'cupy').
    CPU keys: name, cores, total_memory, free_memory.
    """
    if dev.is_host:
        return _cpu_info(dev)
    what = f"information about {dev}"
    try:
        return _nvml_query(lambda nvml: _nvml_gpu_info(nvml, dev), what)
    except GPUUnavailableError as nvml_err:
        try:
            return _cupy_gpu_info(dev)
        except Exception as cupy_err:  # CUDARuntimeError too: bad id, driver gone
            raise GPUUnavailableError(f"{nvml_err}; CuPy fallback: {cupy_err}") from None


def _nvml_gpu_info(nvml, dev):
    handle, parent = _nvml_handle(nvml, dev.device_id)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    major, minor = nvml.nvmlDeviceGetCudaComputeCapability(parent)
    try:
        rates = nvml.nvmlDeviceGetUtilizationRates(parent)
        utilization = (int(rates.gpu), int(rates.memory))
    except nvml.NVMLError:  # not supported on some boards and in some containers
        utilization = (None, None)
    cuda = nvml.nvmlSystemGetCudaDriverVersion()
    return {
        "device": str(dev), "type": "gpu", "name": _text(nvml.nvmlDeviceGetName(handle)),
        "compute_capability": f"{major}.{minor}",
        "total_memory": int(memory.total), "free_memory": int(memory.free),
        "used_memory": int(memory.used),
        "utilization_gpu": utilization[0], "utilization_memory": utilization[1],
        "driver_version": _text(nvml.nvmlSystemGetDriverVersion()),
        "cuda_driver_version": f"{cuda // 1000}.{cuda % 1000 // 10}",
        "source": "nvml",
    }


def _cupy_gpu_info(dev):
    cupy = _cupy_runtime()
    runtime = cupy.cuda.runtime
    props = runtime.getDeviceProperties(dev.device_id)
    with cupy.cuda.Device(dev.device_id):
        free, total = runtime.memGetInfo()
    cuda = runtime.driverGetVersion()
    return {
        "device": str(dev), "type": "gpu", "name": _text(props["name"]),
        "compute_capability": f"{props['major']}.{props['minor']}",
        "total_memory": int(total), "free_memory": int(free),
        "used_memory": int(total - free),
        "utilization_gpu": None, "utilization_memory": None,
        "driver_version": None,
        "cuda_driver_version": f"{cuda // 1000}.{cuda % 1000 // 10}",
        "source": "cupy",
    }


def host_memory_info():
    """(available, total) bytes of host memory; MemAvailable counts reclaimable cache."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return (int(fields["MemAvailable"].split()[0]) * 1024,
                int(fields["MemTotal"].split()[0]) * 1024)
    except (OSError, KeyError, ValueError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_AVPHYS_PAGES") * page, os.sysconf("SC_PHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return 1 << 62, 1 << 62  # unknown: never trigger the reserve rule


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _cpu_info(dev):
    free, total = host_memory_info()
    return {"device": str(dev), "type": "cpu", "name": _cpu_name(),
            "cores": os.cpu_count(), "total_memory": total, "free_memory": free}
