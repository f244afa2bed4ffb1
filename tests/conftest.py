"""The ``device`` fixture reruns a test on every device kind: CPU always, GPU when usable.

With ``MXLITE_FAKE_GPU=1`` the CuPy stand-in (:mod:`mxlite.testing.fakecupy`) is ``cupy``
before mxlite first imports it, and only the ``device`` fixture's GPU cases run, on gpu(0)
and gpu(1): the real GpuBackend, pools, allocator hook and kernel registrations, with the
kernels launched on the CPU executor. No GPU case may skip there.
"""
import os

import numpy as np
import pytest

FAKE_GPU = os.environ.get("MXLITE_FAKE_GPU", "") not in ("", "0")
if FAKE_GPU:
    from mxlite.testing import fakecupy
    fakecupy.install(2)

import mxlite as mx  # noqa: E402  (after the stand-in, when there is one)
from mxlite.test_utils import gpu_unusable_reason  # noqa: E402

# gpu(1) runs where a second GPU exists (or is stood in for), so a one-card run skips nothing.
GPU_IDS = (0, 1) if FAKE_GPU or gpu_unusable_reason(1) is None else (0,)


@pytest.fixture(params=["cpu"] + [f"gpu{i}" for i in GPU_IDS])
def device(request):
    if request.param == "cpu":
        return mx.cpu(0)
    device_id = int(request.param[3:])
    reason = gpu_unusable_reason(device_id)
    if reason is not None:
        if FAKE_GPU:
            pytest.fail(f"the CuPy stand-in must make gpu({device_id}) usable: {reason}")
        pytest.skip(f"no usable GPU: {reason}")
    return mx.gpu(device_id)


def pytest_collection_modifyitems(config, items):
    if not FAKE_GPU:
        return
    keep, drop = [], []
    for item in items:
        param = getattr(getattr(item, "callspec", None), "params", {}).get("device")
        (keep if isinstance(param, str) and param.startswith("gpu") else drop).append(item)
    items[:] = keep
    config.hook.pytest_deselected(items=drop)


@pytest.fixture(autouse=True)
def _fresh_autograd_state():
    """Every test starts outside record() and with a fixed seed."""
    mx.autograd.set_recording(False)
    mx.autograd.set_training(False)
    mx.np.random.seed(0)
    np.random.seed(0)
    yield
    mx.autograd.set_recording(False)
    mx.autograd.set_training(False)
