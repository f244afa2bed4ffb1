"""mxlite: MXNet 2.x numpy-style code on numpy (CPU) or CuPy (GPU), with a tape autograd."""
from . import base, device, storage
from .base import MXNetError
from .storage import OutOfMemoryError
from .storage import OutOfMemoryError as MemoryError  # noqa: A001 - MXNet-style name
from .device import (Device, Context, cpu, gpu, cpu_pinned, current_context, current_device,
                     num_gpus)
from .ndarray import ndarray
from . import autograd, profiler
from . import numpy as np
from . import numpy_extension as npx
from . import initializer, lr_scheduler, optimizer
from . import initializer as init
from . import gluon
from . import amp
from . import symbol, test_utils
from . import context, engine, random, runtime, util
# MXNet 2.x's top-level util aliases (mx.np_shape, mx.use_np, ...)
from .util import (is_np_shape, set_np_shape, np_shape, use_np_shape, is_np_array, np_array,
                   use_np_array, use_np)
from . import io, kvstore, recordio
from . import kvstore as kv
from . import image  # noqa: F401
from . import image as img  # noqa: F401  (MXNet's short name)

_LEGACY = {"nd": "mx.np and mx.npx (MXNet 2.x's numpy-style API)",
           "sym": "mx.np inside a HybridBlock (MXNet 2.x's numpy-style API)",
           "mod": "gluon.Block, gluon.Trainer and a training loop"}


def __getattr__(name):
    if name in _LEGACY:
        raise AttributeError(f"mxlite has no mx.{name} (MXNet's legacy API, out of scope): use "
                             f"{_LEGACY[name]}")
    raise AttributeError(f"module 'mxlite' has no attribute {name!r}")

__version__ = "0.1.0"
__all__ = ["MXNetError", "Device", "Context", "cpu", "gpu", "cpu_pinned", "current_device",
           "num_gpus", "ndarray", "autograd", "np", "npx", "base", "device", "storage",
           "OutOfMemoryError", "MemoryError", "gluon", "init", "initializer", "optimizer",
           "lr_scheduler", "symbol", "test_utils", "context", "random", "util", "profiler",
           "is_np_shape", "set_np_shape", "np_shape", "use_np_shape", "is_np_array", "np_array",
           "use_np_array", "use_np"]
