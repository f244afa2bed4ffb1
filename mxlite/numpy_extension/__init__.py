"""``mx.npx``: MXNet's neural-network operators and runtime helpers."""
from ..device import Device
from ..ops.nn import *  # noqa: F401,F403
from ..numpy import random as _random


def set_np(shape=True, array=True, dtype=False):
    """numpy semantics are always on in mxlite; kept so MXNet scripts run unchanged."""


def reset_np():
    """numpy semantics are always on in mxlite; kept so MXNet scripts run unchanged."""


def is_np_array():
    return True


def is_np_shape():
    return True


def seed(seed, device="all", ctx=None):
    _random.seed(seed, device=device, ctx=ctx)


def waitall():
    """Wait for all queued device work (GPU kernels run asynchronously)."""
    for dev in list(Device._interned.values()):
        if dev._backend is not None:
            dev._backend.synchronize()
