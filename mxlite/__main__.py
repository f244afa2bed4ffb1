"""``python -m mxlite info`` (console script ``mxlite info``): what this machine offers.

Prints versions, devices and their memory, the pip extra that fits the driver, the pool
settings and which CUDA kernels compile and load here (``--no-kernels`` skips that, the slow
part). Every probe degrades to a one-line reason; the command exits 0 on machines without a GPU.
"""
import argparse
import glob
import os
import platform
import sys

# Drivers' minimum for each CUDA major (NVIDIA's CUDA compatibility table) and the extra that
# installs CuPy and NVRTC for it.
DRIVER_EXTRAS = ((580, 13, "gpu"), (525, 12, "gpu-cuda12"))


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


def extra_for_driver(versions):
    """Which pip extra fits a driver, from ``driver_versions()``'s dict, as one line."""
    driver = versions.get("driver")
    if driver:
        major = int(driver.split(".")[0])
        fits = [(cuda, extra) for minimum, cuda, extra in DRIVER_EXTRAS if major >= minimum]
        have = f"driver {driver}"
    else:
        cuda_major = int(versions["cuda_driver"].split(".")[0])
        fits = [(cuda, extra) for _, cuda, extra in DRIVER_EXTRAS if cuda_major >= cuda]
        have = f"a driver for CUDA {versions['cuda_driver']}"
    if not fits:
        return (f"{have} is too old for mxlite's GPU extras (CUDA 13 needs driver >= 580, "
                f"CUDA 12 >= 525); update the driver")
    cuda, extra = fits[0]
    return f"{have} runs CUDA {cuda}: pip install 'mxlite[{extra}]'"


def _driver_advice():
    from .device_info import driver_versions
    try:
        return extra_for_driver(driver_versions())
    except Exception as err:  # GPUUnavailableError, or a driver answer we cannot parse
        return f"no NVIDIA driver found ({err}); the CPU install needs no extra"


def _default_kernels_dir():
    """Where the runtime loader finds kernels/*.cu (package data, else the checkout)."""
    from .cuda.loader import kernel_dir
    try:
        return str(kernel_dir())
    except Exception as err:  # not installed with its kernels: the report says so
        return f"<not found: {err}>"


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


def _gpu_arch():
    """``sm_XY`` of gpu(0)."""
    from .device import gpu
    from .device_info import device_info
    return "sm_" + device_info(gpu(0))["compute_capability"].replace(".", "")


def _load_kernels(stem, expressions):
    """Load the kernel module ``stem`` on gpu(0) and look up each instantiation; None if it
    works, else the reason."""
    from .cuda.loader import compile_module
    try:
        module = compile_module(stem, 0)
        for expression in expressions:
            module.get_function(expression)
    except Exception as err:  # compile or load failure: reported, not raised
        return f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"
    return None


def _first_error(errors):
    """The first error, with the compiler's first 'error' line when it has a log."""
    lines = errors[0].strip().splitlines()
    detail = next((line.strip() for line in lines[1:] if "error" in line), "")
    return f"{lines[0].rstrip(':')}: {detail}" if detail else lines[0]


def _print_kernels(out, gpu_reason, kernels_dir):
    paths = sorted(glob.glob(os.path.join(kernels_dir, "*.cu")))
    if not paths:
        print(f"  no kernel sources found in {kernels_dir}", file=out)
        return
    try:
        from .testing import nvrtc_check
    except ImportError as err:
        print(f"  {len(paths)} kernel files cannot be checked: mxlite.testing.nvrtc_check "
              f"is not importable ({err})", file=out)
        return
    usable, reason = nvrtc_check.available()
    if not usable:
        print(f"  {len(paths)} kernel files cannot be checked: {reason}", file=out)
        return
    if gpu_reason is None:
        arch = _gpu_arch()
    else:
        arch = nvrtc_check.ARCHITECTURES[-1]
        print(f"  compiled for {arch} only; not loaded: no GPU", file=out)
    for path in paths:
        name = os.path.basename(path)
        try:
            report = nvrtc_check.check_file(path, arch)
        except Exception as err:  # one broken file must not end the report
            print(f"  {name}: cannot be checked ({type(err).__name__}: {err})", file=out)
            continue
        entries = sum(1 for kernel in report.kernels if kernel.entry)
        if not report.ok:
            print(f"  {name}: FAILS for {arch}: {_first_error(report.errors)}", file=out)
            continue
        status = f"compiles for {arch} ({entries} kernels, no spills)"
        if gpu_reason is None:
            failure = _load_kernels(os.path.splitext(name)[0], nvrtc_check.name_expressions(path))
            status += ", loads" if failure is None else f", does not load: {failure}"
        print(f"  {name}: {status}", file=out)


def info(out=sys.stdout, kernels_dir=""):
    """Print the machine report; returns the exit status. ``kernels_dir`` "" means where the
    runtime loads kernels from; None skips the kernel check."""
    from . import __version__
    import numpy
    gpu_reason = _gpu_reason()
    if gpu_reason is not None:
        print(f"CPU only: no usable GPU ({gpu_reason})", file=out)
    print(f"mxlite {__version__}, Python {platform.python_version()}, "
          f"numpy {numpy.__version__}, CuPy {_version('cupy')}", file=out)
    cuda_runtime, driver, nvrtc = _cuda_versions()
    print(f"CUDA runtime {cuda_runtime}, driver {driver}, NVRTC {nvrtc}", file=out)
    print(f"install: {_driver_advice()}", file=out)
    print("devices:", file=out)
    _print_devices(out, gpu_reason)
    print("memory pools (MXLITE_<DEV>_MEM_*):", file=out)
    _print_pools(out)
    if kernels_dir is not None:
        kernels_dir = kernels_dir or _default_kernels_dir()
        print(f"kernels ({kernels_dir}):", file=out)
        _print_kernels(out, gpu_reason, kernels_dir)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mxlite", description="mxlite utilities")
    commands = parser.add_subparsers(dest="command")
    info_parser = commands.add_parser("info",
                                      help="versions, devices, memory pools and kernels")
    info_parser.add_argument("--no-kernels", action="store_true",
                             help="skip compiling the kernels (a few seconds)")
    info_parser.add_argument("--kernels-dir", default="",
                             help="where the .cu files are (default: where mxlite loads "
                                  "them from)")
    args = parser.parse_args(argv)
    if args.command is None:
        return info()
    if args.command == "info":
        return info(kernels_dir=None if args.no_kernels else args.kernels_dir)
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
