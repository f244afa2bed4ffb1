"""``mx.runtime``: which optional capabilities this installation has, in MXNet's feature
names (``Features().is_enabled('CUDA')``).

MXNet reports what its native library was compiled with; mxlite has no native library, so a
feature is enabled when what provides it here is installed: CuPy for CUDA (and NVRTC, which
compiles ``kernels/*.cu``), CuPy's NCCL bindings, mpi4py for the distributed kvstore, the CPU
instruction sets numpy dispatches to, and numpy's BLAS. Checking does not import CuPy unless
it is installed, and never touches a GPU."""
import collections
import importlib.util

import numpy as _np

__all__ = ["Feature", "Features", "feature_list"]

_CPU_FLAGS = {"CPU_SSE": "SSE", "CPU_SSE2": "SSE2", "CPU_SSE3": "SSE3",
              "CPU_SSE4_1": "SSE41", "CPU_SSE4_2": "SSE42", "CPU_AVX": "AVX",
              "CPU_AVX2": "AVX2", "SSE": "SSE", "F16C": "F16C"}


class Feature:
    """One named capability and whether this installation has it."""

    __slots__ = ("name", "enabled")

    def __init__(self, name, enabled):
        self.name = name
        self.enabled = bool(enabled)

    def __repr__(self):
        return ("✔ " if self.enabled else "✖ ") + self.name


def _installed(module):
    return importlib.util.find_spec(module) is not None


def _nccl():
    if not _installed("cupy"):
        return False
    try:
        from cupy.cuda import nccl
    except ImportError:
        return False
    return bool(getattr(nccl, "available", True))


def _blas_name():
    try:
        config = _np.show_config(mode="dicts")
        return config["Build Dependencies"]["blas"]["name"].lower()
    except (TypeError, KeyError):  # numpy < 1.26 has no dict mode
        return ""


def _cpu_features():
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    return __cpu_features__


def feature_list():
    """Every feature MXNet 2.x reports, in its order, with this installation's answer."""
    cuda = _installed("cupy")
    cpu = _cpu_features()
    blas = _blas_name()
    values = {
        "CUDA": cuda, "CUDNN": False, "NCCL": _nccl(), "CUDA_RTC": cuda, "TENSORRT": False,
        "CUTENSOR": False,
        **{name: cpu.get(flag, False) for name, flag in _CPU_FLAGS.items()},
        "CPU_SSE4A": False, "OPENMP": False, "JEMALLOC": False,
        "BLAS_OPEN": "openblas" in blas, "BLAS_ATLAS": "atlas" in blas,
        "BLAS_MKL": "mkl" in blas, "BLAS_APPLE": "accelerate" in blas, "LAPACK": True,
        "ONEDNN": False, "OPENCV": False, "PROFILER": True,
        "DIST_KVSTORE": _installed("mpi4py"), "INT64_TENSOR_SIZE": True,
        "SIGNAL_HANDLER": False, "DEBUG": False, "TVM_OP": False,
    }
    order = ["CUDA", "CUDNN", "NCCL", "CUDA_RTC", "TENSORRT", "CUTENSOR", "CPU_SSE",
             "CPU_SSE2", "CPU_SSE3", "CPU_SSE4_1", "CPU_SSE4_2", "CPU_SSE4A", "CPU_AVX",
             "CPU_AVX2", "OPENMP", "SSE", "F16C", "JEMALLOC", "BLAS_OPEN", "BLAS_ATLAS",
             "BLAS_MKL", "BLAS_APPLE", "LAPACK", "ONEDNN", "OPENCV", "PROFILER",
             "DIST_KVSTORE", "INT64_TENSOR_SIZE", "SIGNAL_HANDLER", "DEBUG", "TVM_OP"]
    return [Feature(name, values[name]) for name in order]


class Features(collections.OrderedDict):
    """Feature name -> Feature, computed once (a singleton, as in MXNet)."""

    instance = None

    def __new__(cls):
        if cls.instance is None:
            cls.instance = super().__new__(cls)
            super().__init__(cls.instance, [(f.name, f) for f in feature_list()])
        return cls.instance

    def __init__(self):  # filled once in __new__
        pass

    def __repr__(self):
        return str(list(self.values()))

    def is_enabled(self, feature_name):
        """Whether ``feature_name`` (any case) is enabled; RuntimeError naming the known
        features for an unknown one."""
        name = feature_name.upper()
        if name not in self:
            raise RuntimeError(f"Feature '{feature_name}' is unknown, known features are: "
                               f"{list(self)}")
        return self[name].enabled
