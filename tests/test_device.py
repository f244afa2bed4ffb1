import threading

import pytest

import mxlite as mx
from mxlite.device import GPUUnavailableError
from mxlite.test_utils import gpu_unusable_reason


def test_devices_compare_by_type_and_id():
    assert mx.cpu(0) == mx.cpu() and mx.cpu(0) is mx.Device("cpu", 0)
    assert mx.cpu(0) != mx.cpu(1)
    assert mx.cpu(1) != mx.gpu(1)
    assert hash(mx.gpu(1)) == hash(mx.Device("gpu", 1))
    assert str(mx.cpu(0)) == "cpu(0)" and str(mx.gpu(1)) == "gpu(1)"
    assert mx.Context is mx.Device


def test_bad_device_spec():
    with pytest.raises(ValueError, match="unknown device type"):
        mx.Device("tpu", 0)
    with pytest.raises(ValueError, match=">= 0"):
        mx.cpu(-1)


def test_default_device_scope_nests_and_restores():
    assert mx.device.current_device() == mx.cpu(0)
    with mx.cpu(1):
        assert mx.np.zeros(2).device == mx.cpu(1)
        with mx.cpu(2):
            assert mx.device.current_device() == mx.cpu(2)
        assert mx.device.current_device() == mx.cpu(1)
    assert mx.np.ones(1).device == mx.cpu(0)


def test_default_device_is_per_thread():
    seen = {}

    def worker():
        seen["other"] = mx.device.current_device()

    with mx.cpu(3):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["other"] == mx.cpu(0)


def test_virtual_cpus_hold_separate_arrays():
    a = mx.np.array([1.0, 2.0], device=mx.cpu(1))
    b = a.to_device(mx.cpu(2))
    b[0] = 5
    assert a.device == mx.cpu(1) and b.device == mx.cpu(2)
    assert a.asnumpy().tolist() == [1.0, 2.0]


def test_num_gpus_never_raises():
    assert mx.device.num_gpus() >= 0


def test_unusable_gpu_says_why():
    reason = gpu_unusable_reason(0)
    if reason is None:
        pytest.skip("a GPU is usable here")
    with pytest.raises(GPUUnavailableError, match="cannot use gpu"):
        mx.np.zeros(2, device=mx.gpu(0))
    assert mx.device.current_device() == mx.cpu(0)


def test_gpu_id_out_of_range():
    if gpu_unusable_reason(0) is not None:
        pytest.skip("no usable GPU")
    with pytest.raises(GPUUnavailableError, match="only"):
        mx.np.zeros(1, device=mx.gpu(64))
