"""Deformable convolutions (``npx.deformable_convolution`` and
``npx.modulated_deformable_convolution``) and their gluon.contrib.nn layers: zero offsets
give a plain convolution, random offsets match a per-sample loop with MXNet's border rules,
every input's gradient matches float64 central differences, and the layers have MXNet's
parameters."""
import math

import numpy as np
import pytest

import mxlite as mx
from mxlite.test_utils import central_difference, check_gradient

mnp, npx = mx.np, mx.npx
contrib = mx.gluon.contrib.nn
RNG = np.random.default_rng(11)


def _arr(x, device, dtype="float64"):
    return mnp.array(x, dtype=dtype, device=device)


# -- a slow reference ---------------------------------------------------------------------------
def _sample_v1(img, y, x):
    """DCNv1: points off [0, H) x [0, W) read 0; the last row's (column's) band reads it."""
    h, w = img.shape
    if not (0 <= y < h and 0 <= x < w):
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * img[y0, x0] + (1 - ly) * lx * img[y0, x1]
            + ly * (1 - lx) * img[y1, x0] + ly * lx * img[y1, x1])


def _sample_v2(img, y, x):
    """DCNv2: bilinear over the zero-padded image (a corner off the image reads 0)."""
    h, w = img.shape
    if not (-1 < y < h and -1 < x < w):
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0

    def at(r, c):
        return img[r, c] if 0 <= r < h and 0 <= c < w else 0.0
    return ((1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x0 + 1)
            + ly * (1 - lx) * at(y0 + 1, x0) + ly * lx * at(y0 + 1, x0 + 1))


def _reference(x, offset, mask, w, b, stride, pad, dilate, groups, dgroups):
    """Every output pixel's every tap sampled one at a time, then the grouped contraction."""
    n, c = x.shape[:2]
    f, cg, kh, kw = w.shape
    ho, wo = offset.shape[2:]
    per_group = c // dgroups
    cols = np.zeros((n, c, kh, kw, ho, wo))
    for bi in range(n):
        for ch in range(c):
            g = ch // per_group
            for i in range(kh):
                for j in range(kw):
                    k = i * kw + j
                    for oy in range(ho):
                        for ox in range(wo):
                            y = oy * stride[0] - pad[0] + i * dilate[0] \
                                + offset[bi, (g * kh * kw + k) * 2, oy, ox]
                            xx = ox * stride[1] - pad[1] + j * dilate[1] \
                                + offset[bi, (g * kh * kw + k) * 2 + 1, oy, ox]
                            if mask is None:
                                v = _sample_v1(x[bi, ch], y, xx)
                            else:
                                v = _sample_v2(x[bi, ch], y, xx) \
                                    * mask[bi, g * kh * kw + k, oy, ox]
                            cols[bi, ch, i, j, oy, ox] = v
    fg = f // groups
    out = np.stack([np.einsum("cij,ncijyx->nyx", w[o], cols[:, o // fg * cg:(o // fg + 1) * cg])
                    for o in range(f)], axis=1)
    return out if b is None else out + b[None, :, None, None]


def _out(size, kernel, stride, pad, dilate):
    return tuple((s + 2 * p - d * (k - 1) - 1) // t + 1
                 for s, k, t, p, d in zip(size, kernel, stride, pad, dilate))


def _inputs(xs, ws, stride, pad, dilate, dgroups, offsets, seed=0):
    """x, offset, mask, weight, bias; ``offsets`` 'zero', 'random' (anywhere, fractional) or
    'smooth' (fractional parts in [0.2, 0.8], off every kink of the bilinear sampling). Seeded
    per call, so a case samples the same points (some off the image) however tests are picked."""
    rng = np.random.default_rng(seed)
    out = _out(xs[2:], ws[2:], stride, pad, dilate)
    taps = ws[2] * ws[3]
    oshape = (xs[0], 2 * dgroups * taps) + out
    if offsets == "zero":
        offset = np.zeros(oshape)
    elif offsets == "random":
        offset = rng.uniform(-3, 3, oshape)
    else:
        offset = rng.integers(-2, 3, oshape) + rng.uniform(0.2, 0.8, oshape)
    mask = rng.uniform(0.2, 1.5, (xs[0], dgroups * taps) + out)
    return (rng.standard_normal(xs), offset, mask, rng.standard_normal(ws),
            rng.standard_normal(ws[0]))


def _ops(stride, pad, dilate, groups, dgroups):
    geo = dict(kernel=None, stride=stride, pad=pad, dilate=dilate, num_group=groups,
               num_deformable_group=dgroups)
    v1 = lambda x, o, m, w, b: npx.deformable_convolution(x, o, w, b, **geo)  # noqa: E731
    v2 = lambda x, o, m, w, b: npx.modulated_deformable_convolution(  # noqa: E731
        x, o, m, w, b, **geo)
    return v1, v2


# (data shape, weight shape, stride, pad, dilate, groups, deformable groups)
CASES = [
    ((2, 4, 6, 6), (3, 4, 3, 3), (1, 1), (0, 0), (1, 1), 1, 1),
    ((2, 4, 7, 6), (6, 2, 3, 3), (2, 1), (1, 2), (1, 1), 2, 2),
    ((1, 6, 8, 7), (3, 2, 3, 2), (1, 2), (2, 1), (2, 2), 3, 3),
    ((2, 4, 5, 5), (4, 1, 1, 1), (1, 1), (0, 0), (1, 1), 4, 4),
]


@pytest.mark.parametrize("xs,ws,stride,pad,dilate,groups,dgroups", CASES)
def test_zero_offsets_are_a_convolution(xs, ws, stride, pad, dilate, groups, dgroups, device):
    x, offset, _, w, b = _inputs(xs, ws, stride, pad, dilate, dgroups, "zero")
    ones = np.ones((xs[0], dgroups * ws[2] * ws[3]) + offset.shape[2:])
    want = npx.convolution(_arr(x, device), _arr(w, device), _arr(b, device), kernel=ws[2:],
                           stride=stride, pad=pad, dilate=dilate, num_group=groups).asnumpy()
    for op in _ops(stride, pad, dilate, groups, dgroups):
        got = op(*(_arr(a, device) for a in (x, offset, ones, w, b)))
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("xs,ws,stride,pad,dilate,groups,dgroups", CASES[:3])
def test_random_offsets_match_the_reference(xs, ws, stride, pad, dilate, groups, dgroups,
                                            device):
    x, offset, mask, w, b = _inputs(xs, ws, stride, pad, dilate, dgroups, "random")
    v1, v2 = _ops(stride, pad, dilate, groups, dgroups)
    args = [_arr(a, device) for a in (x, offset, mask, w, b)]
    geo = (stride, pad, dilate, groups, dgroups)
    np.testing.assert_allclose(v1(*args).asnumpy(), _reference(x, offset, None, w, b, *geo),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(v2(*args).asnumpy(), _reference(x, offset, mask, w, b, *geo),
                               rtol=1e-10, atol=1e-10)


def test_border_rules_are_mxnets(device):
    """One 1x1 tap per output pixel of a 3x3 image, moved by hand: v1 reads nothing left of
    (above) the image and all of the last row (column) in its band; v2 fades over one pixel."""
    img = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    offset = np.zeros((1, 2, 3, 3))
    moves = {(0, 0): (-0.5, 0.0), (2, 0): (0.5, 0.0), (0, 2): (0.0, 0.5), (2, 2): (1.0, 0.0),
             (1, 1): (0.25, 0.5), (1, 0): (0.0, -1.0)}
    for (r, c), (dy, dx) in moves.items():
        offset[0, :, r, c] = dy, dx
    v1 = npx.deformable_convolution(_arr(img, device), _arr(offset, device),
                                    _arr(np.ones((1, 1, 1, 1)), device), no_bias=True)
    v2 = npx.modulated_deformable_convolution(
        _arr(img, device), _arr(offset, device), _arr(np.ones((1, 1, 3, 3)), device),
        _arr(np.ones((1, 1, 1, 1)), device), no_bias=True)
    want_v1 = {(0, 0): 0.0, (2, 0): 7.0, (0, 2): 3.0, (2, 2): 0.0, (1, 1): 6.25, (1, 0): 0.0}
    want_v2 = {(0, 0): 0.5, (2, 0): 3.5, (0, 2): 1.5, (2, 2): 0.0, (1, 1): 6.25, (1, 0): 0.0}
    for (r, c) in moves:
        assert v1.asnumpy()[0, 0, r, c] == pytest.approx(want_v1[r, c]), (r, c)
        assert v2.asnumpy()[0, 0, r, c] == pytest.approx(want_v2[r, c]), (r, c)


GRAD_CASES = [
    ((1, 4, 3, 4), (2, 2, 2, 2), (1, 1), (0, 0), (1, 1), 2, 2),
    ((1, 2, 4, 5), (2, 2, 3, 3), (2, 1), (1, 1), (1, 2), 1, 1),
]


@pytest.mark.parametrize("xs,ws,stride,pad,dilate,groups,dgroups", GRAD_CASES)
def test_gradients_of_every_input(xs, ws, stride, pad, dilate, groups, dgroups, device):
    x, offset, mask, w, b = _inputs(xs, ws, stride, pad, dilate, dgroups, "smooth")
    v1, v2 = _ops(stride, pad, dilate, groups, dgroups)
    check_gradient(lambda *a: v1(a[0], a[1], None, a[2], a[3]), x, offset, w, b, device=device)
    check_gradient(v2, x, offset, mask, w, b, device=device)


def test_float32_in_float32_out(device):
    x, offset, mask, w, _ = _inputs((1, 2, 4, 4), (2, 2, 3, 3), (1, 1), (1, 1), (1, 1), 1,
                                    "random")
    y = npx.modulated_deformable_convolution(
        *(_arr(a, device, "float32") for a in (x, offset, mask, w)), pad=(1, 1), no_bias=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.asnumpy(), _reference(x, offset, mask, w, None, (1, 1), (1, 1),
                                                       (1, 1), 1, 1), rtol=1e-4, atol=1e-4)


def test_graph_gradients(device):
    """``create_graph=True``: first-order gradients as without it; the data gradient is
    differentiable again in the weights (a gradient penalty), and a second-order gradient
    through the offsets says plainly that it is not implemented."""
    x, offset, mask, w, _ = _inputs((1, 2, 4, 4), (2, 2, 3, 3), (1, 1), (1, 1), (1, 1), 1,
                                    "smooth")

    def conv(a, o, wd, mod):
        if mod:
            return npx.modulated_deformable_convolution(a, o, _arr(mask, device), wd, pad=(1, 1))
        return npx.deformable_convolution(a, o, wd, pad=(1, 1))

    def penalty(wv, mod, offsets_too=False):
        """The squared data (and offset) gradient of sum(y * y), and the leaves."""
        a, o, wd = _arr(x, device), _arr(offset, device), _arr(wv, device)
        for t in (a, wd) + ((o,) if offsets_too else ()):
            t.attach_grad()
        with mx.autograd.record():
            y = conv(a, o, wd, mod)
            grads = mx.autograd.grad((y * y).sum(), [a, o] if offsets_too else [a],
                                     create_graph=True)
            total = sum((g * g).sum() for g in grads)
        return total, grads[0], a, wd

    for mod in (False, True):
        total, ga, a, wd = penalty(w, mod)
        total.backward()
        numeric = central_difference(lambda wv: float(penalty(wv, mod)[0]), w)
        np.testing.assert_allclose(wd.grad.asnumpy(), numeric, rtol=1e-6, atol=1e-6)
        with mx.autograd.record():
            y = conv(a, _arr(offset, device), _arr(w, device), mod)
            loss = (y * y).sum()
        loss.backward()
        np.testing.assert_allclose(ga.asnumpy(), a.grad.asnumpy(), rtol=1e-10)
    total = penalty(w, True, offsets_too=True)[0]
    with pytest.raises(NotImplementedError, match="second-order"):
        total.backward()


def test_nhwc_is_nchw_transposed(device):
    x, offset, mask, w, b = _inputs((2, 4, 5, 5), (4, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2,
                                    "random")
    kw = dict(pad=(1, 1), num_group=2, num_deformable_group=2)
    nchw = npx.modulated_deformable_convolution(
        *(_arr(a, device) for a in (x, offset, mask, w, b)), **kw)
    last = lambda a: _arr(np.moveaxis(a, 1, -1), device)  # noqa: E731
    nhwc = npx.modulated_deformable_convolution(last(x), last(offset), last(mask), last(w),
                                                _arr(b, device), layout="NHWC", **kw)
    np.testing.assert_allclose(np.moveaxis(nhwc.asnumpy(), -1, 1), nchw.asnumpy(),
                               rtol=1e-12)


def test_shape_errors_name_the_shapes(device):
    x, w = mnp.ones((1, 4, 5, 5), device=device), mnp.ones((2, 4, 3, 3), device=device)
    with pytest.raises(ValueError, match=r"offset has shape \(1, 18, 3, 3\), expected "
                                         r"\(1, 36, 3, 3\)"):
        npx.deformable_convolution(x, mnp.zeros((1, 18, 3, 3), device=device), w,
                                   num_deformable_group=2)
    with pytest.raises(ValueError, match=r"mask has shape \(1, 8, 3, 3\)"):
        npx.modulated_deformable_convolution(x, mnp.zeros((1, 18, 3, 3), device=device),
                                             mnp.ones((1, 8, 3, 3), device=device), w)
    with pytest.raises(ValueError, match="2-D only"):
        npx.deformable_convolution(mnp.ones((1, 4, 5), device=device),
                                   mnp.zeros((1, 6, 3), device=device),
                                   mnp.ones((2, 4, 3), device=device))
    with pytest.raises(ValueError, match="num_deformable_group=3"):
        npx.deformable_convolution(x, mnp.zeros((1, 54, 3, 3), device=device), w,
                                   num_deformable_group=3)
    with pytest.raises(ValueError, match="needs a mask"):
        npx.modulated_deformable_convolution(x, mnp.zeros((1, 18, 3, 3), device=device), None,
                                             w)


# -- gluon layers ------------------------------------------------------------------------------
LAYERS = [contrib.DeformableConvolution, contrib.ModulatedDeformableConvolution]


@pytest.mark.parametrize("layer", LAYERS, ids=["v1", "v2"])
def test_layer_parameters_are_mxnets(layer, device):
    net = layer(6, kernel_size=(3, 2), strides=2, padding=1, groups=2, num_deformable_group=2)
    per_tap = 3 if layer is contrib.ModulatedDeformableConvolution else 2
    offsets = [("offset_weight", (per_tap * 12, -1, 3, 2)), ("offset_bias", (per_tap * 12,))]
    main = [("deformable_conv_weight", (6, -1, 3, 2)), ("deformable_conv_bias", (6,))]
    want = main + offsets if per_tap == 3 else offsets + main
    assert [(k, p.shape) for k, p in net.collect_params().items()] == want
    assert repr(net).startswith(f"{layer.__name__}(None -> 6, kernel_size=(3, 2)")
    net.initialize(device=device)
    y = net(mnp.ones((2, 4, 7, 9), device=device))  # deferred: in_channels 4 from the input
    assert y.shape == (2, 6, 4, 5)
    assert [p.shape[1] for k, p in net.collect_params().items() if k.endswith("weight")] == [2, 2]
    bare = layer(3, 3, in_channels=4, use_bias=False, offset_use_bias=False)
    assert {k: p.shape for k, p in bare.collect_params().items()} == {
        "offset_weight": (per_tap * 9, 4, 3, 3), "deformable_conv_weight": (3, 4, 3, 3)}
    assert bare.deformable_conv_bias is None and bare.offset_bias is None


@pytest.mark.parametrize("layer", LAYERS, ids=["v1", "v2"])
def test_new_layer_is_a_convolution_and_hybridizes(layer, device, tmp_path):
    """Zero-initialised offsets sample the grid (and v2's mask is 2 * sigmoid(0) = 1); the
    hybridized layer, and its exported graph, compute what the eager one does."""
    x = _arr(RNG.standard_normal((2, 3, 6, 6)), device, "float32")
    net = layer(4, kernel_size=3, padding=1)
    net.initialize(device=device)
    conv = mx.gluon.nn.Conv2D(4, 3, padding=1, in_channels=3)
    conv.initialize(device=device)
    y = net(x)
    conv.weight.set_data(net.deformable_conv_weight.data(device))
    conv.bias.set_data(net.deformable_conv_bias.data(device))
    np.testing.assert_allclose(y.asnumpy(), conv(x).asnumpy(), rtol=1e-5, atol=1e-5)
    net.offset_weight.set_data(mnp.array(RNG.normal(0, 0.3, net.offset_weight.shape),
                                         dtype="float32", device=device))
    eager = net(x).asnumpy()
    net.hybridize()
    np.testing.assert_allclose(net(x).asnumpy(), eager, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net(x).asnumpy(), eager, rtol=1e-5, atol=1e-6)
    net.export(str(tmp_path / "dcn"))
    loaded = mx.gluon.SymbolBlock.imports(str(tmp_path / "dcn-symbol.json"), ["data"],
                                          str(tmp_path / "dcn-0000.params"), device=device)
    np.testing.assert_allclose(loaded(x).asnumpy(), eager, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", LAYERS, ids=["v1", "v2"])
def test_training_moves_the_offsets(layer, device):
    x = _arr(RNG.standard_normal((2, 3, 6, 6)), device, "float32")
    head = _arr(RNG.standard_normal((2, 4, 6, 6)), device, "float32")
    net = layer(4, kernel_size=3, padding=1, activation="relu")
    net.initialize(device=device)
    net.hybridize()
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    with mx.autograd.record():
        loss = (net(x) * head).sum()
    loss.backward()
    trainer.step(1)
    assert np.abs(net.offset_weight.data(device).asnumpy()).max() > 0
    assert np.abs(net.offset_bias.data(device).asnumpy()).max() > 0
    assert net(x).asnumpy().min() >= 0  # the activation


def test_nhwc_layer_matches_nchw(device):
    x = RNG.standard_normal((1, 4, 5, 5))
    first = contrib.ModulatedDeformableConvolution(
        2, kernel_size=3, padding=1, offset_weight_initializer=mx.init.Normal(0.3))
    last = contrib.ModulatedDeformableConvolution(2, kernel_size=3, padding=1, layout="NHWC")
    first.initialize(device=device)
    want = first(_arr(x, device, "float32")).asnumpy()
    last.initialize(device=device)
    last(_arr(np.moveaxis(x, 1, -1), device, "float32"))
    for name, p in first.collect_params().items():
        value = p.data(device).asnumpy()
        last.collect_params()[name].set_data(
            _arr(np.moveaxis(value, 1, -1) if value.ndim == 4 else value, device, "float32"))
    got = last(_arr(np.moveaxis(x, 1, -1), device, "float32")).asnumpy()
    np.testing.assert_allclose(np.moveaxis(got, -1, 1), want, rtol=1e-5, atol=1e-5)


def test_layer_errors(device):
    with pytest.raises(ValueError, match="offset convolution.s channels 18 is not divisible"):
        contrib.DeformableConvolution(8, kernel_size=3, groups=4)
    with pytest.raises(ValueError, match="adj"):
        contrib.DeformableConvolution(8, kernel_size=3, adj=(1, 1))
    with pytest.raises(ValueError, match="layout"):
        contrib.ModulatedDeformableConvolution(8, kernel_size=3, layout="NCW")
    net = contrib.DeformableConvolution(4, kernel_size=1, groups=2)
    net.initialize(device=device)
    with pytest.raises(ValueError, match="3 channels, not divisible by groups 2"):
        net(mnp.ones((1, 3, 4, 4), device=device))
