"""``python -m mxlite info`` (console script ``mxlite info``): what this machine offers.

Prints versions, devices and their memory, the pool settings and which CUDA kernels
compile and load here. Every probe degrades to a one-line reason; the command exits
0 on machines without a GPU.
"""
import argparse
import glob
import os
import platform
import sys

KERNELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "kernels")


def _version(module_name):
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    except Exception as err:  # a broken install must not stop the report
        return f"unusable ({type(err).__name__}: {err})"
    return getattr(module, "__version__", "unknown")


def _cuda_version(number):
    return f"{number // 1000}.{number % 1000 // 10}"


def _cuda_versions():
    """(runtime, driver, nvrtc) version strings, each with a reason when unknown."""
    try:
        import cupy
    except ImportError:
        return ("unknown (CuPy not installed)",) * 3
    runtime = cupy.cuda.runtime
    try:
        cuda_runtime = _cuda_version(runtime.runtimeGetVersion())
    except Exception as err:
        cuda_runtime = f"unknown ({err})"
    try:
        from .device_info import driver_versions
        versions = driver_versions()
        driver = f"{versions['driver']} (CUDA {versions['cuda_driver']})"
    except Exception as nvml_err:
        try:
            number = runtime.driverGetVersion()
            driver = f"CUDA {_cuda_version(number)}" if number else "none found"
        except Exception:
            driver = f"none found ({nvml_err})"
    try:
        major, minor = cupy.cuda.nvrtc.getVersion()
        nvrtc = f"{major}.{minor}"
    except Exception as err:
        nvrtc = f"not available ({type(err).__name__}: {err})"
    return cuda_runtime, driver, nvrtc


def _gpu_reason():
    """Why no GPU can be used here, or None when gpu(0) can."""
    from .backend.gpu import gpu_unusable_reason
    return gpu_unusable_reason(0)


def _format_bytes(n):
    from .storage.pool import format_bytes
    return format_bytes(n)


def _print_devices(out, gpu_reason):
    from .device import cpu, gpu, num_gpus
    from .device_info import device_info
    info = device_info(cpu(0))
    print(f"  cpu(0): {info['name']}, {info['cores']} cores, "
          f"{_format_bytes(info['free_memory'])} free of "
          f"{_format_bytes(info['total_memory'])}", file=out)
    if gpu_reason is not None:
        print("  no usable GPU (see the first line)", file=out)
        return
    for device_id in range(num_gpus()):
        try:
            info = device_info(gpu(device_id))
        except Exception as err:
            print(f"  gpu({device_id}): unavailable ({err})", file=out)
            continue
        utilization = ("" if info["utilization_gpu"] is None
                       else f", {info['utilization_gpu']}% busy")
        print(f"  gpu({device_id}): {info['name']}, compute capability "
              f"{info['compute_capability']}, {_format_bytes(info['free_memory'])} free "
              f"of {_format_bytes(info['total_memory'])}{utilization}", file=out)


def _print_pools(out):
    from .storage import POOL_MIN_BYTES
    from .storage.config import config_from_env
    for device_type in ("gpu", "cpu"):
        try:
            description = config_from_env(device_type).describe()
        except ValueError as err:
            description = f"invalid setting: {err}"
        print(f"  {device_type}: {description}", file=out)
    print(f"  cpu arrays under {_format_bytes(POOL_MIN_BYTES)} use numpy's allocator",
          file=out)


def _print_kernels(out, gpu_reason):
    paths = sorted(glob.glob(os.path.join(KERNELS_DIR, "*.cu")))
    if not paths:
        print(f"  no kernel sources found in {KERNELS_DIR}", file=out)
        return
    try:
        from .testing import nvrtc_check
    except ImportError as err:
        print(f"  {len(paths)} kernel files cannot be checked: mxlite.testing.nvrtc_check "
              f"is not importable ({err})", file=out)
        return
    if not hasattr(nvrtc_check, "check_kernels"):
        print(f"  {len(paths)} kernel files cannot be checked: mxlite.testing.nvrtc_check "
              f"has no check_kernels()", file=out)
        return
    try:
        results = nvrtc_check.check_kernels(paths, load=gpu_reason is None)
    except Exception as err:  # e.g. NVRTC missing: report it and finish the report
        print(f"  kernels cannot be checked: {type(err).__name__}: {err}", file=out)
        return
    for result in results:
        name = os.path.basename(result.path)
        if not result.compiled:
            status = f"does not compile: {result.message}"
        elif result.loaded is None:
            status = "compiles (not loaded: no GPU)"
        elif result.loaded:
            status = "compiles and loads"
        else:
            status = f"compiles but does not load: {result.message}"
        print(f"  {name}: {status}", file=out)


def info(out=sys.stdout):
    """Print the machine report; returns the exit status."""
    from . import __version__
    import numpy
    gpu_reason = _gpu_reason()
    if gpu_reason is not None:
        print(f"CPU only: no usable GPU ({gpu_reason})", file=out)
    print(f"mxlite {__version__}, Python {platform.python_version()}, "
          f"numpy {numpy.__version__}, CuPy {_version('cupy')}", file=out)
    cuda_runtime, driver, nvrtc = _cuda_versions()
    print(f"CUDA runtime {cuda_runtime}, driver {driver}, NVRTC {nvrtc}", file=out)
    print("devices:", file=out)
    _print_devices(out, gpu_reason)
    print("memory pools (MXLITE_<DEV>_MEM_*):", file=out)
    _print_pools(out)
    print(f"kernels ({KERNELS_DIR}):", file=out)
    _print_kernels(out, gpu_reason)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mxlite", description="mxlite utilities")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("info", help="versions, devices, memory pools and kernels")
    args = parser.parse_args(argv)
    if args.command in (None, "info"):
        return info()
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
