"""What the card under test is, before anything runs on it; exits 2 with "no usable GPU:
<reason>" when gpu(0) cannot run mxlite.

Prints the driver, the CUDA version it supports, the CUDA runtime CuPy was built for, the
CuPy and nvidia-ml-py versions, each visible card's name and memory and MIG mode, and last a
``card: <slug>`` line that names the results folder.

    python3 bench/gpu_checks/preflight.py
"""
import datetime
import platform
import re
import sys

from common import NO_GPU_EXIT, gpu_unusable_reason

import mxlite as mx
from mxlite import device_info


def _versions():
    lines = [f"python {platform.python_version()}, mxlite {mx.__version__}"]
    try:
        versions = device_info.driver_versions()
        lines.append(f"driver {versions['driver'] or 'unknown'}, supports CUDA {versions['cuda_driver']}")
    except Exception as err:  # the reason is the report
        lines.append(f"driver: not found ({err})")
    try:
        import cupy
        runtime = cupy.cuda.runtime.runtimeGetVersion()
        lines.append(f"CuPy {cupy.__version__}, CUDA runtime {runtime // 1000}.{runtime % 1000 // 10}")
    except Exception as err:
        lines.append(f"CuPy: not usable ({type(err).__name__}: {err})")
    try:
        import pynvml
        lines.append(f"nvidia-ml-py {getattr(pynvml, '__version__', 'unknown version')}")
    except ImportError:
        lines.append("nvidia-ml-py: not installed (memory figures come from CuPy)")
    return lines


def _mig_mode():
    """'on', 'off' or 'unknown (...)' for the first card, from NVML."""
    try:
        import pynvml
        pynvml.nvmlInit()
        try:
            current, _pending = pynvml.nvmlDeviceGetMigMode(pynvml.nvmlDeviceGetHandleByIndex(0))
            return "on" if current == device_info.MIG_ENABLED else "off"
        finally:
            pynvml.nvmlShutdown()
    except Exception as err:  # not MIG-capable, or no NVML
        return f"unknown ({type(err).__name__}: {err})"


def main():
    for line in _versions():
        print(line, flush=True)
    reason = gpu_unusable_reason(0)
    if reason is not None:
        print(f"no usable GPU: {reason}", flush=True)
        return NO_GPU_EXIT
    name = "gpu"
    for device_id in range(mx.device.num_gpus()):
        info = device_info.device_info(mx.gpu(device_id))
        name = name if device_id else info["name"]
        print(f"gpu({device_id}): {info['name']}, compute capability {info['compute_capability']}, "
              f"{info['free_memory'] / 2**30:.1f} GiB free of {info['total_memory'] / 2**30:.1f} GiB "
              f"({info['source']})", flush=True)
    print(f"MIG mode (gpu 0): {_mig_mode()}")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("nvidia", "")).strip("-")
    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"card: {slug}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
