"""Dynamic loss scaling: float16 gradients underflow to zero unless the loss is scaled up
before backward; a step whose gradients overflowed is skipped and the scale halved.

MXNet's defaults: start at 2**16, halve on inf/nan (skipping that update), double after
2000 clean steps in a row, never above 2**24. The overflow test over all gradients of a
device is one pass: a numpy pass per array on the CPU, one kernel launch over every
gradient (``kernels/amp.cu``) on a GPU, then one flag read back.
"""
import functools

import numpy as _np

__all__ = ["LossScaler", "all_finite", "gpu_finite_check"]


class LossScaler:
    """The loss scale and its schedule.

    ``dynamic=False`` keeps the scale fixed (bfloat16 has float32's range and trains at
    scale 1) while still skipping steps whose gradients are not finite.
    """

    def __init__(self, init_scale=2.0 ** 16, scale_factor=2.0, scale_window=2000,
                 max_scale=2.0 ** 24, dynamic=True):
        if not init_scale > 0 or not scale_factor > 1 or int(scale_window) < 1:
            raise ValueError(f"LossScaler needs init_scale > 0, scale_factor > 1 and "
                             f"scale_window >= 1; got {init_scale}, {scale_factor}, "
                             f"{scale_window}")
        self.loss_scale = float(init_scale)
        self.scale_factor = float(scale_factor)
        self.scale_window = int(scale_window)
        self.max_scale = float(max_scale)
        self.dynamic = dynamic
        self.clean_steps = 0  # steps without overflow since the scale last changed
        self.skipped_steps = 0

    # device -> the one-launch test of that GPU's gradients (None: ``gpu_finite_check``); the
    # seam tests rebind
    gpu_finite_check = None

    def has_overflow(self, grads):
        """Whether any of ``grads`` (ndarrays) holds inf or nan; updates the scale for the
        next step (MXNet's ``has_overflow``): halve on overflow, grow after a clean window."""
        overflow = not all_finite(grads, self.gpu_finite_check)
        if overflow:
            self.skipped_steps += 1
            self.clean_steps = 0
            if self.dynamic:
                self.loss_scale = max(self.loss_scale / self.scale_factor, 1.0)
        else:
            self.clean_steps += 1
            if self.dynamic and self.clean_steps == self.scale_window:
                self.loss_scale = min(self.loss_scale * self.scale_factor, self.max_scale)
                self.clean_steps = 0
        return overflow

    def __repr__(self):
        return (f"LossScaler(loss_scale={self.loss_scale:g}, dynamic={self.dynamic}, "
                f"clean_steps={self.clean_steps}/{self.scale_window})")


def all_finite(arrays, gpu_check=None):
    """Whether every element of every ndarray in ``arrays`` is finite; the arrays of a GPU
    go to ``gpu_check(device)(backend arrays)`` (default ``gpu_finite_check``) in one call."""
    by_device = {}
    for a in arrays:
        by_device.setdefault(a._device, []).append(a._data)
    for device, data in by_device.items():
        if device.device_type == "gpu":
            if not (gpu_check or gpu_finite_check)(device)(data):
                return False
        elif not all(_np.isfinite(d).all() for d in data if d.size):
            return False
    return True


def gpu_finite_check(device):
    """``mxlite.cuda.ops.multi_all_finite`` compiled for GPU ``device``, as a function of a
    list of CuPy arrays returning a bool."""
    return _gpu_all_finite(device.device_id)


@functools.lru_cache(maxsize=None)
def _gpu_all_finite(device_id):
    import cupy

    from ..cuda import bind, ops
    from ..cuda.loader import load_module

    call = bind(ops.multi_all_finite, lambda stem: load_module(stem, device_id), cupy)

    def run(data):
        with cupy.cuda.Device(device_id):
            return bool(int(call(data)[0]))
    return run
