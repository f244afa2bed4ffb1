"""Channel-last layouts (NWC, NHWC, NDHWC) of the conv and pooling layers equal the
channel-first path transposed, with gradients checked; the norms over any axis."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import numpy_extension as npx
from mxlite.gluon import nn
from mxlite.test_utils import check_gradient

RNG = np.random.default_rng(7)
FIRST = {1: "NCW", 2: "NCHW", 3: "NCDHW"}
LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}


def _to_last(a):
    return np.moveaxis(a, 1, -1)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("transpose", [False, True])
def test_conv_channel_last_equals_channel_first(d, transpose, device):
    layer_cls = getattr(nn, f"Conv{d}DTranspose" if transpose else f"Conv{d}D")
    kwargs = dict(channels=4, kernel_size=(2,) * d, strides=(2,) + (1,) * (d - 1),
                  padding=(1,) + (0,) * (d - 1), groups=2)
    first = layer_cls(layout=FIRST[d], **kwargs)
    last = layer_cls(layout=LAST[d], **kwargs)
    x = RNG.standard_normal((2, 4) + (5, 4, 3)[:d]).astype("float32")
    for layer in (first, last):
        layer.initialize(device=device)
    first(mx.np.array(x, device=device))
    last(mx.np.array(_to_last(x), device=device))
    w = first.weight.data(device).asnumpy()
    assert w.shape[:2] == (4, 2)
    # channel-last weights put the input-channel (or output-channel) axis last
    assert last.weight.shape == (w.shape[0],) + w.shape[2:] + (w.shape[1],)
    last.weight.set_data(mx.np.array(_to_last(w), device=device))
    last.bias.set_data(first.bias.data(device))
    out_first = first(mx.np.array(x, device=device)).asnumpy()
    out_last = last(mx.np.array(_to_last(x), device=device)).asnumpy()
    np.testing.assert_allclose(out_last, _to_last(out_first), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("transpose", [False, True])
def test_conv_channel_last_gradients(d, transpose):
    x = RNG.standard_normal((2,) + (4, 3)[:d] + (2,))
    if transpose:
        w = RNG.standard_normal((2,) + (2,) * d + (3,))
        fn = lambda x, w, b: npx.deconvolution(x, w, b, stride=(2,) * d, no_bias=False,
                                               layout=LAST[d])
    else:
        w = RNG.standard_normal((3,) + (2,) * d + (2,))
        fn = lambda x, w, b: npx.convolution(x, w, b, pad=(1,) * d, layout=LAST[d])
    check_gradient(fn, x, w, RNG.standard_normal(3))


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("make", [
    lambda d, layout: getattr(nn, f"MaxPool{d}D")(2, 1, 1, layout=layout),
    lambda d, layout: getattr(nn, f"AvgPool{d}D")(2, 2, 0, layout=layout, ceil_mode=True,
                                                  count_include_pad=False),
    lambda d, layout: getattr(nn, f"GlobalMaxPool{d}D")(layout=layout),
    lambda d, layout: getattr(nn, f"GlobalAvgPool{d}D")(layout=layout),
], ids=["max", "avg", "globalmax", "globalavg"])
def test_pool_channel_last_equals_channel_first(d, make, device):
    x = RNG.standard_normal((2, 3) + (5, 4, 3)[:d]).astype("float32")
    want = make(d, FIRST[d])(mx.np.array(x, device=device)).asnumpy()
    got = make(d, LAST[d])(mx.np.array(_to_last(x), device=device)).asnumpy()
    np.testing.assert_allclose(got, _to_last(want), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pool_type", ["max", "avg"])
def test_pool_channel_last_gradients(pool_type):
    x = RNG.permutation(48).reshape(2, 4, 3, 2) / 7.0  # distinct values: max is unique
    check_gradient(lambda x: npx.pooling(x, kernel=(2, 2), pool_type=pool_type, pad=(1, 0),
                                         layout="NHWC"), x)


def test_wrong_layout_is_named():
    with pytest.raises(ValueError, match="'NCHW' or 'NHWC'"):
        nn.Conv2D(2, 3, layout="NCW")
    with pytest.raises(ValueError, match="'NCW' or 'NWC'"):
        nn.MaxPool1D(layout="NHWC")
    with pytest.raises(ValueError, match="'NCHW' or 'NHWC'"):
        npx.pooling(mx.np.ones((1, 2, 3, 3)), kernel=(2, 2), layout="CHWN")


# -- norms over any axis --------------------------------------------------------------------
def _normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def _shaped(p, ndim, axis):
    return p.reshape([-1 if i == axis % ndim else 1 for i in range(ndim)])


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_layer_norm_any_axis(axis, device):
    x = RNG.standard_normal((3, 4, 5))
    c = x.shape[axis]
    gamma, beta = RNG.uniform(0.5, 1.5, c), RNG.standard_normal(c)
    layer = nn.LayerNorm(axis=axis, epsilon=1e-3)
    layer.initialize(device=device)
    layer(mx.np.array(x, device=device))
    layer.gamma.set_data(mx.np.array(gamma, device=device))
    layer.beta.set_data(mx.np.array(beta, device=device))
    got = layer(mx.np.array(x, device=device)).asnumpy()
    want = _normalize(x, axis, 1e-3) * _shaped(gamma, 3, axis) + _shaped(beta, 3, axis)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    check_gradient(lambda x, g, b: npx.layer_norm(x, g, b, axis=axis, eps=1e-3),
                   x, gamma, beta)


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_instance_norm_any_axis(axis, device):
    x = RNG.standard_normal((2, 3, 4, 5))
    c = x.shape[axis]
    gamma, beta = RNG.uniform(0.5, 1.5, c), RNG.standard_normal(c)
    layer = nn.InstanceNorm(axis=axis, epsilon=1e-3, scale=True)
    layer.initialize(device=device)
    layer(mx.np.array(x, device=device))
    layer.gamma.set_data(mx.np.array(gamma, device=device))
    layer.beta.set_data(mx.np.array(beta, device=device))
    got = layer(mx.np.array(x, device=device)).asnumpy()
    spatial = tuple(a for a in range(1, 4) if a != axis % 4)
    want = _normalize(x, spatial, 1e-3) * _shaped(gamma, 4, axis) + _shaped(beta, 4, axis)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    layer.cast("float64")
    check_gradient(lambda x: layer(x), x, device=device)


@pytest.mark.parametrize("axis", [1, -1])
def test_group_norm_axis(axis, device):
    x = RNG.standard_normal((2, 4, 3, 4))
    moved = np.moveaxis(x, axis, 1)
    groups = moved.reshape(2, 2, -1)
    want = _normalize(groups, 2, 1e-5).reshape(moved.shape)
    want = np.moveaxis(want, 1, axis)
    layer = nn.GroupNorm(num_groups=2, axis=axis)
    layer.initialize(device=device)
    got = layer(mx.np.array(x, device=device)).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    layer.cast("float64")
    check_gradient(lambda x: layer(x), x, device=device)


def test_norm_axis_errors_name_the_shape():
    for layer, x in ((nn.InstanceNorm(axis=1), mx.np.ones((2, 3))),
                     (nn.InstanceNorm(axis=3), mx.np.ones((2, 3, 4))),
                     (nn.GroupNorm(num_groups=3), mx.np.ones((2, 4, 5)))):
        layer.initialize()
        with pytest.raises(ValueError, match=r"\(2, 3\)|\(2, 3, 4\)|groups"):
            layer(x)
