"""mxlite: MXNet 2.x numpy-style code on numpy (CPU) or CuPy (GPU), with a tape autograd."""
from . import base, device
from .base import MXNetError
from .device import Device, Context, cpu, gpu, cpu_pinned, current_device, num_gpus
from .ndarray import ndarray
from . import autograd
from . import numpy as np
from . import numpy_extension as npx

__version__ = "0.1.0"
__all__ = ["MXNetError", "Device", "Context", "cpu", "gpu", "cpu_pinned", "current_device",
           "num_gpus", "ndarray", "autograd", "np", "npx", "base", "device"]
