"""``mx.context``: MXNet's older name for devices (``Context`` is ``Device``), kept so code
written for MXNet 1.x/2.x contexts runs unchanged."""
from .device import (Context, Device, cpu, cpu_pinned, current_context, current_device, gpu,
                     gpu_memory_info, num_gpus)

__all__ = ["Context", "Device", "cpu", "gpu", "cpu_pinned", "current_context", "current_device",
           "num_gpus", "gpu_memory_info"]
