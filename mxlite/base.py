"""Exceptions and dtype defaults shared by every layer."""
import numpy as _np

__all__ = ["MXNetError", "DeviceMismatchError", "GPUUnavailableError", "default_float",
           "float32"]


class MXNetError(RuntimeError):
    """Raised where MXNet raises ``MXNetError``; messages say what to do."""


class DeviceMismatchError(ValueError):
    """Arrays on different devices were used in one operation."""


class GPUUnavailableError(RuntimeError):
    """A GPU device was asked for but cannot be used; the message says why."""


float32 = _np.dtype(_np.float32)
default_float = float32
