"""asnumpy(copy=False): a zero-copy, read-only view on CPU; the default stays a copy."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.test_utils import gpu_unusable_reason


def test_asnumpy_view_shares_memory_and_is_read_only():
    x = mx.np.arange(6).reshape(2, 3)
    view = x.asnumpy(copy=False)
    assert np.shares_memory(view, x.asnumpy(copy=False))
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0] = 5
    x[0, 0] = 7  # an in-place write to the array shows in the view
    assert view[0, 0] == 7


def test_asnumpy_default_is_an_owned_copy():
    x = mx.np.ones((2, 2))
    a = x.asnumpy()
    a[0, 0] = 3
    assert a.flags.writeable and float(x[0, 0]) == 1.0
    assert not np.shares_memory(a, x.asnumpy(copy=False))


def test_from_dlpack_round_trip_with_numpy():
    host = np.arange(4, dtype=np.float32)
    x = mx.np.from_dlpack(host)
    assert x.shape == (4,) and np.array_equal(np.from_dlpack(x), host)


def test_torch_from_dlpack_shares_memory(device):
    x = mx.np.arange(6, device=device).reshape(2, 3)
    if type(x._data).__module__ == "mxlite.testing.fakecupy":
        pytest.skip("the CuPy stand-in's arrays are host memory: torch cannot take them as CUDA")
    torch = pytest.importorskip("torch")
    t = torch.from_dlpack(x)
    assert tuple(t.shape) == (2, 3) and t.device.type == ("cuda" if device.device_type == "gpu"
                                                          else "cpu")
    assert np.array_equal(t.cpu().numpy(), x.asnumpy())
    back = mx.np.from_dlpack(t)
    assert back.device == device and np.array_equal(back.asnumpy(), x.asnumpy())


def test_cupy_from_dlpack_on_gpu():
    reason = gpu_unusable_reason(0)
    if reason is not None:
        pytest.skip(f"no usable GPU: {reason}")
    import cupy
    x = mx.np.arange(4, device=mx.gpu(0))
    c = cupy.from_dlpack(x)
    assert c.shape == (4,) and np.array_equal(cupy.asnumpy(c), x.asnumpy())
    assert np.array_equal(mx.np.from_dlpack(c).asnumpy(), x.asnumpy())
