import threading

import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd, gluon
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


# -- MXNet's host devices: cpu_pinned and cpu_shared ------------------------------------------
def test_pinned_and_shared_are_distinct_host_devices_with_mxnets_type_ids():
    pinned, shared = mx.cpu_pinned(1), mx.Context("cpu_shared", 0)
    assert (pinned.device_type, pinned.device_id, pinned.device_typeid) == ("cpu_pinned", 1, 3)
    assert (shared.device_typeid, mx.cpu().device_typeid, mx.gpu().device_typeid) == (5, 1, 2)
    assert pinned != mx.cpu(1) and str(pinned) == "cpu_pinned(1)" and pinned.is_host
    assert not mx.gpu(0).is_host
    x = mx.np.arange(3.0)
    y = x.to_device(mx.cpu_pinned(0))
    assert y.device == mx.cpu_pinned(0) and not mx.np.shares_memory(x, y)
    y[0] = 7.0
    assert x[0] == 0.0  # a copy, as in MXNet
    with pytest.raises(ValueError, match="unknown device type 'tpu'.*'cpu_pinned'"):
        mx.Device("tpu", 0)


def test_host_arrays_mix_with_pinned_ones_and_gradients_reach_both():
    x = mx.np.array([1.0, 2.0])
    p = mx.np.array([3.0, 4.0], device=mx.cpu_pinned(0))
    x.attach_grad()
    p.attach_grad()
    with autograd.record():
        y = (p * x).sum()
    y.backward()
    assert y.device == mx.cpu_pinned(0)  # the first array's device, as MXNet
    np.testing.assert_array_equal(x.grad.asnumpy(), [3.0, 4.0])
    np.testing.assert_array_equal(p.grad.asnumpy(), [1.0, 2.0])
    assert (x.grad.device, p.grad.device) == (mx.cpu(0), mx.cpu_pinned(0))
    assert (x + p).device == mx.cpu(0)
    with pytest.raises(mx.base.DeviceMismatchError, match=r"cpu\(0\) and cpu\(1\)"):
        x + mx.np.ones(2, device=mx.cpu(1))  # two cpu ids stay distinct devices


def test_a_pinned_batch_runs_through_a_net_on_the_cpu():
    """MXNet's Parameter.data(cpu_pinned(i)) reads the cpu(i) copy, so DataLoader's
    pin_memory batches feed a net initialised on the CPU."""
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize()
    x = mx.np.ones((2, 4), device=mx.cpu_pinned(0))
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    np.testing.assert_array_equal(net.weight.grad().asnumpy(), np.full((3, 4), 2.0))
    assert net.weight.data(mx.cpu_pinned(0)) is net.weight.data(mx.cpu(0))


@pytest.mark.parametrize("kwargs,device", [
    ({}, mx.cpu(0)), ({"pin_memory": True}, mx.cpu_pinned(0)),
    ({"pin_memory": True, "pin_device_id": 1}, mx.cpu_pinned(1)),
    ({"pin_memory": True, "num_workers": 1}, mx.cpu_pinned(0)),
    ({"pin_memory": True, "batchify_fn": lambda s: mx.np.array(np.stack([d for d, _ in s]))},
     mx.cpu_pinned(0)),
    ({"pin_memory": True, "batchify_fn": lambda s: np.stack([d for d, _ in s])}, None),
])
def test_dataloader_pin_memory_delivers_on_cpu_pinned(kwargs, device):
    """As MXNet: the batches' mxlite arrays go to cpu_pinned; a batchify_fn's numpy stays."""
    data = gluon.data.ArrayDataset(np.arange(20.0).reshape(10, 2), np.arange(10))
    for batch in gluon.data.DataLoader(data, 4, **kwargs):
        for arr in batch if isinstance(batch, (list, tuple)) else [batch]:
            if device is None:
                assert isinstance(arr, np.ndarray)
            else:
                assert arr.device == device
