"""gluon.contrib's namespaces: MXNet 2.x's contrib names resolve to the layers and samplers
they name, and the concurrent containers concatenate their children's outputs."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.gluon import contrib, nn


@pytest.mark.parametrize("hybridize", [False, True])
def test_hybrid_concurrent_concatenates_children_outputs(device, hybridize):
    net = contrib.nn.HybridConcurrent(axis=1)
    net.add(nn.Dense(3, in_units=4), nn.Dense(2, in_units=4), contrib.nn.Identity())
    net.initialize(mx.init.Uniform(), device=device)
    if hybridize:
        net.hybridize()
    x = mx.np.random.uniform(size=(5, 4), device=device)
    out = net(x)
    d0, d1 = net[0], net[1]
    want = np.concatenate([x.asnumpy() @ d.weight.data(device).asnumpy().T
                           + d.bias.data(device).asnumpy() for d in (d0, d1)]
                          + [x.asnumpy()], axis=1)
    np.testing.assert_allclose(out.asnumpy(), want, rtol=1e-6)
    with mx.autograd.record():
        y = net(x)
    y.backward()
    # the identity branch passes a ones gradient back alongside the dense branches'
    np.testing.assert_allclose(d1.bias.grad(device).asnumpy(), np.full(2, 5.0))


def test_concurrent_default_axis_is_last():
    net = contrib.nn.Concurrent()
    net.add(nn.Dense(3, flatten=False), nn.Dense(2, flatten=False))
    net.initialize()
    assert net(mx.np.ones((2, 6, 4))).shape == (2, 6, 5)
    assert isinstance(net, nn.Concatenate)


def test_contrib_names_are_gluon_classes():
    assert contrib.cnn.ModulatedDeformableConvolution is \
        contrib.nn.ModulatedDeformableConvolution  # MXNet 1.x's module, used by GluonCV
    assert contrib.cnn.DeformableConvolution is contrib.nn.DeformableConvolution \
        is nn.DeformableConvolution  # MXNet 2.x has them in gluon.nn too
    assert contrib.nn.ModulatedDeformableConvolution is nn.ModulatedDeformableConvolution
    assert contrib.nn.SyncBatchNorm is nn.SyncBatchNorm
    assert contrib.nn.PixelShuffle2D is nn.PixelShuffle2D
    assert contrib.data.IntervalSampler is mx.gluon.data.IntervalSampler
    assert list(contrib.data.IntervalSampler(6, 3)) == [0, 3, 1, 4, 2, 5]
