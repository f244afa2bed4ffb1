"""The ``device`` fixture reruns a test on every device kind: CPU always, GPU when usable."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.test_utils import gpu_unusable_reason


@pytest.fixture(params=["cpu", "gpu"])
def device(request):
    if request.param == "gpu":
        reason = gpu_unusable_reason(0)
        if reason is not None:
            pytest.skip(f"no usable GPU: {reason}")
        return mx.gpu(0)
    return mx.cpu(0)


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
