"""SyncBatchNorm over per-device shards equals BatchNorm over the whole batch: outputs,
gradients of the input and of gamma/beta, and the running statistics."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.gluon import nn

RNG = np.random.default_rng(3)


def _layer(cls, devices, **kwargs):
    layer = cls(in_channels=3, **kwargs)
    layer.initialize(device=devices)
    layer.cast("float64")
    layer.gamma.set_data(mx.np.array(RNG.uniform(0.5, 1.5, 3)))
    layer.beta.set_data(mx.np.array(RNG.standard_normal(3)))
    return layer


@pytest.mark.parametrize("shape", [(6, 3), (5, 3, 4), (4, 3, 2, 3)])
def test_split_batches_equal_batchnorm_on_the_whole_batch(shape):
    x = RNG.standard_normal(shape) * 2 + 1
    head = RNG.standard_normal(shape)
    cut = 2  # uneven shards: the counts, not the shard means, must be averaged
    devices = [mx.cpu(0), mx.cpu(1)]
    whole = _layer(nn.BatchNorm, [mx.cpu(0)], momentum=0.8)
    sync = _layer(nn.SyncBatchNorm, devices, momentum=0.8, num_devices=2)
    sync.gamma.set_data(whole.gamma.data())
    sync.beta.set_data(whole.beta.data())

    xw = mx.np.array(x, dtype="float64")
    xw.attach_grad()
    with autograd.record():
        yw = whole(xw)
    yw.backward(mx.np.array(head))

    shards = [mx.np.array(x[:cut], dtype="float64", device=devices[0]), mx.np.array(x[cut:], dtype="float64", device=devices[1])]
    for s in shards:
        s.attach_grad()
    with autograd.record():
        ys = sync(shards)
    autograd.backward(ys, [mx.np.array(head[:cut], device=devices[0]),
                           mx.np.array(head[cut:], device=devices[1])])
    assert [y.device for y in ys] == devices

    np.testing.assert_allclose(np.concatenate([y.asnumpy() for y in ys]), yw.asnumpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([s.grad.asnumpy() for s in shards]),
                               xw.grad.asnumpy(), rtol=1e-9, atol=1e-12)
    for name in ("gamma", "beta"):
        per_device = sum(g.asnumpy() for g in getattr(sync, name).list_grad())
        np.testing.assert_allclose(per_device, getattr(whole, name).grad().asnumpy(),
                                   rtol=1e-9, atol=1e-12)
    axes = (0,) + tuple(range(2, len(shape)))
    for device in devices:  # running = 0.8 * init + 0.2 * batch statistics (biased var)
        np.testing.assert_allclose(sync.running_mean.data(device).asnumpy(),
                                   0.2 * x.mean(axis=axes), rtol=1e-10)
        np.testing.assert_allclose(sync.running_var.data(device).asnumpy(),
                                   0.8 + 0.2 * x.var(axis=axes), rtol=1e-10)


def test_inference_uses_running_statistics_and_single_arrays_work():
    x = RNG.standard_normal((4, 3, 2))
    sync = _layer(nn.SyncBatchNorm, [mx.cpu(0)])
    whole = _layer(nn.BatchNorm, [mx.cpu(0)])
    sync.gamma.set_data(whole.gamma.data())
    sync.beta.set_data(whole.beta.data())
    for train in (True, False):
        with autograd.record(train_mode=train):
            got, want = sync(mx.np.array(x)), whole(mx.np.array(x))
        np.testing.assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-10, atol=1e-12)


def test_shard_errors_name_the_problem():
    sync = _layer(nn.SyncBatchNorm, [mx.cpu(0)], num_devices=2)
    with autograd.record():
        with pytest.raises(ValueError, match="num_devices=2.*3 shards"):
            sync([mx.np.ones((2, 3))] * 3)
        with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
            sync([mx.np.ones((2, 3, 4)), mx.np.ones((2, 3, 5))])


class _TwinRanks(mx.kv.KVStore):
    """A store of two workers that hold the same data: the allreduce doubles."""

    @property
    def num_workers(self):
        return 2

    def allreduce_host(self, arr):
        return arr * 2

    def start_allreduce(self, data, device):
        return _Finished(data * 2)


class _Finished:
    def __init__(self, value):
        self.value = value

    def wait(self):
        return self.value


def test_statistics_are_allreduced_over_the_kvstore_workers():
    x = RNG.standard_normal((3, 3, 2))
    head = RNG.standard_normal(x.shape)
    whole = _layer(nn.BatchNorm, [mx.cpu(0)])
    sync = _layer(nn.SyncBatchNorm, [mx.cpu(0)], kvstore=_TwinRanks())
    sync.gamma.set_data(whole.gamma.data())
    sync.beta.set_data(whole.beta.data())
    xs, xw = mx.np.array(x, dtype="float64"), mx.np.array(np.concatenate([x, x]),
                                                          dtype="float64")
    for a in (xs, xw):
        a.attach_grad()
    with autograd.record():
        ys, yw = sync(xs), whole(xw)
    ys.backward(mx.np.array(head))
    yw.backward(mx.np.array(np.concatenate([head, head])))
    np.testing.assert_allclose(ys.asnumpy(), yw.asnumpy()[:3], rtol=1e-10, atol=1e-12)
    # each rank's input gradient is its part of the whole batch's
    np.testing.assert_allclose(xs.grad.asnumpy(), xw.grad.asnumpy()[:3], rtol=1e-9,
                               atol=1e-12)
