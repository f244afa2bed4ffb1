"""mx.npx.image: MXNet 2.x's image operators against hand-computed values and small numpy
references, on uint8 and float images, (H, W, C) and (N, H, W, C) layouts, every device
kind; random ops seeded through mx.np.random.seed; gradients against central differences."""
import colorsys

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError
from mxlite.ops.image import EIGVAL, EIGVEC
from mxlite.test_utils import check_gradient

npx_image = mx.npx.image
LUMA = np.array([0.299, 0.587, 0.114])


def _img(shape=(4, 6, 3), dtype=np.uint8, seed=0):
    rng = np.random.RandomState(seed)
    if np.dtype(dtype).kind == "f":
        return rng.uniform(0, 255, shape).astype(dtype)
    return rng.randint(0, 256, shape).astype(dtype)


def _nd(x, device):
    return mx.np.array(x, dtype=x.dtype, device=device)


def test_the_operator_list_is_mxnets():
    assert sorted(npx_image.__all__) == sorted([
        "to_tensor", "normalize", "flip_left_right", "flip_top_bottom",
        "random_flip_left_right", "random_flip_top_bottom", "random_brightness",
        "random_contrast", "random_saturation", "random_hue", "random_color_jitter",
        "adjust_lighting", "random_lighting", "resize", "crop", "random_crop",
        "random_resized_crop"])
    for name in npx_image.__all__:
        assert callable(getattr(mx.npx.image, name))


# -- to_tensor / normalize ---------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 6, 3), (2, 4, 6, 3), (5, 2, 1)])
def test_to_tensor_transposes_and_scales(shape, device):
    img = _img(shape)
    out = npx_image.to_tensor(_nd(img, device))
    axes = (2, 0, 1) if len(shape) == 3 else (0, 3, 1, 2)
    assert out.dtype == np.float32 and out.device == device
    assert out.shape == tuple(shape[a] for a in axes)
    np.testing.assert_allclose(out.asnumpy(), img.transpose(axes) / np.float32(255), rtol=1e-7)
    as_float = npx_image.to_tensor(_nd(img.astype(np.float64), device))
    assert as_float.dtype == np.float32
    np.testing.assert_allclose(as_float.asnumpy(), out.asnumpy())


def test_to_tensor_gradient_and_errors(device):
    # float32 output: a linear map, so wide differences are exact up to float32 rounding
    tol = {"eps": 0.5, "rtol": 1e-3, "atol": 1e-5}
    check_gradient(npx_image.to_tensor, _img((3, 4, 3), np.float64), device=device, **tol)
    check_gradient(npx_image.to_tensor, _img((2, 3, 4, 1), np.float64), device=device, **tol)
    with pytest.raises(ValueError, match=r"\(H, W, C\).*shape \(4, 4\)"):
        npx_image.to_tensor(mx.np.zeros((4, 4), device=device))


def test_normalize_per_channel_and_scalar(device):
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2) / 10
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    m, s = (np.array(v, np.float32)[:, None, None] for v in (mean, std))
    want = (x - m) / s
    out = npx_image.normalize(_nd(x, device), mean=mean, std=std)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out.asnumpy(), want, rtol=1e-6)
    np.testing.assert_allclose(npx_image.normalize(_nd(x[0], device), mean, std).asnumpy(),
                               want[0], rtol=1e-6)
    np.testing.assert_allclose(npx_image.normalize(_nd(x, device), 0.5, 2.0).asnumpy(),
                               (x - 0.5) / 2, rtol=1e-6)
    np.testing.assert_array_equal(npx_image.normalize(_nd(x, device)).asnumpy(), x)
    as_uint8 = npx_image.normalize(_nd(np.full((1, 2, 2), 51, np.uint8), device), 1.0, 2.0)
    assert as_uint8.dtype == np.float32
    np.testing.assert_allclose(as_uint8.asnumpy(), 25.0)
    assert npx_image.normalize(_nd(x.astype(np.float64), device), mean, std).dtype == np.float64


def test_normalize_gradient_and_errors(device):
    x = _img((3, 2, 4), np.float64) / 255
    check_gradient(lambda a: npx_image.normalize(a, (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)), x,
                   device=device)
    check_gradient(lambda a: npx_image.normalize(a, 0.5, 4.0), x[None], device=device)
    for bad in ((4, 2, 2), (1, 2, 2, 2, 2), (2, 2)):
        with pytest.raises(MXNetError, match=r"shape \(" + ", ".join(map(str, bad))):
            npx_image.normalize(mx.np.ones(bad, device=device))
    with pytest.raises(ValueError, match="mean must have 1 or 3 values"):
        npx_image.normalize(mx.np.ones((3, 2, 2), device=device), mean=(0.1, 0.2))


# -- flips -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("shape", [(4, 5, 3), (2, 4, 5, 1)])
def test_flips_mirror_the_width_and_height_axes(shape, dtype, device):
    img = _img(shape, dtype)
    x = _nd(img, device)
    lr, tb = npx_image.flip_left_right(x), npx_image.flip_top_bottom(x)
    assert lr.dtype == dtype and lr.device == device
    np.testing.assert_array_equal(lr.asnumpy(), img[..., ::-1, :])
    np.testing.assert_array_equal(tb.asnumpy(), img[..., ::-1, :, :])
    np.testing.assert_array_equal(npx_image.random_flip_left_right(x, p=1.0).asnumpy(),
                                  img[..., ::-1, :])
    np.testing.assert_array_equal(npx_image.random_flip_top_bottom(x, p=0.0).asnumpy(), img)


def test_random_flips_are_seeded_and_take_both_branches(device):
    img = _img((3, 4, 3))
    x = _nd(img, device)

    def draws():
        mx.np.random.seed(11)
        return [bool((npx_image.random_flip_left_right(x).asnumpy() != img).any())
                for _ in range(24)]

    first = draws()
    assert first == draws() and any(first) and not all(first)
    with pytest.raises(ValueError, match="p must lie in"):
        npx_image.random_flip_top_bottom(x, p=1.5)


def test_flip_gradients(device):
    x = _img((2, 3, 4, 3), np.float64)
    check_gradient(npx_image.flip_left_right, x, device=device)
    check_gradient(npx_image.flip_top_bottom, x[0], device=device)
    check_gradient(lambda a: npx_image.random_flip_left_right(a, p=1.0), x, device=device)


# -- brightness / contrast / saturation / hue ------------------------------------------------

def test_brightness_scales_and_saturates_uint8(device):
    img = np.array([[[200, 101, 0]]], np.uint8)
    out = npx_image.random_brightness(_nd(img, device), 1.5, 1.5)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out.asnumpy(), [[[255, 151, 0]]])  # 151.5 truncated
    half = npx_image.random_brightness(_nd(img, device), 0.5, 0.5).asnumpy()
    np.testing.assert_array_equal(half, [[[100, 50, 0]]])
    f = _img((2, 3, 4, 3), np.float32)
    np.testing.assert_allclose(npx_image.random_brightness(_nd(f, device), 1.5, 1.5).asnumpy(),
                               f * 1.5, rtol=1e-6)  # floats are not clipped
    mx.np.random.seed(2)
    a = npx_image.random_brightness(_nd(f, device), 0.5, 1.5).asnumpy()
    factor = a / f
    assert np.allclose(factor, factor.flat[0], rtol=1e-5) and 0.5 <= factor.flat[0] <= 1.5
    mx.np.random.seed(2)
    np.testing.assert_array_equal(
        npx_image.random_brightness(_nd(f, device), 0.5, 1.5).asnumpy(), a)
    with pytest.raises(ValueError, match="min_factor"):
        npx_image.random_brightness(_nd(f, device), 1.5, 0.5)


def _contrast_ref(f, alpha):
    gray = f @ LUMA if f.shape[-1] == 3 else f[..., 0]
    return f * alpha + (1 - alpha) * gray.mean(axis=(-2, -1), keepdims=True)[..., None]


@pytest.mark.parametrize("shape", [(4, 5, 3), (2, 4, 5, 3), (3, 3, 1)])
def test_contrast_blends_with_each_images_mean_gray(shape, device):
    f = _img(shape, np.float64)
    out = npx_image.random_contrast(_nd(f, device), 0.4, 0.4).asnumpy()
    np.testing.assert_allclose(out, _contrast_ref(f, 0.4), rtol=1e-12)
    u = _img(shape)
    got = npx_image.random_contrast(_nd(u, device), 1.7, 1.7).asnumpy()
    want = np.trunc(np.clip(_contrast_ref(u.astype(np.float64), 1.7), 0, 255))
    np.testing.assert_array_equal(got, want)
    check_gradient(lambda a: npx_image.random_contrast(a, 0.4, 0.4), f, device=device)


def test_saturation_blends_with_the_luma(device):
    f = _img((2, 3, 4, 3), np.float64)
    want = f * 0.3 + 0.7 * (f @ LUMA)[..., None]
    np.testing.assert_allclose(npx_image.random_saturation(_nd(f, device), 0.3, 0.3).asnumpy(),
                               want, rtol=1e-12)
    u = _img((3, 4, 3))
    np.testing.assert_array_equal(
        npx_image.random_saturation(_nd(u, device), 2.0, 2.0).asnumpy(),
        np.trunc(np.clip(u * 2.0 - (u @ LUMA)[..., None], 0, 255)))
    gray = _img((3, 4, 1))
    np.testing.assert_array_equal(
        npx_image.random_saturation(_nd(gray, device), 0.0, 0.0).asnumpy(), gray)
    check_gradient(lambda a: npx_image.random_saturation(a, 0.3, 0.3), f, device=device)
    with pytest.raises(ValueError, match=r"channel.*\(3, 4, 2\)"):
        npx_image.random_saturation(mx.np.ones((3, 4, 2), device=device), 0.5, 1.5)


def _hue_ref(f, alpha):
    out = np.empty_like(f)
    for idx in np.ndindex(f.shape[:-1]):
        h, l, s = colorsys.rgb_to_hls(*(f[idx] / 255))
        out[idx] = np.array(colorsys.hls_to_rgb((h + alpha) % 1.0, l, s)) * 255
    return out


def test_hue_turns_hls_hue(device):
    f = _img((2, 3, 4, 3), np.float64)
    f[0, 0, 0] = [10, 10, 10]  # gray: no hue
    for alpha in (0.0, 0.25, 1.3):
        out = npx_image.random_hue(_nd(f, device), alpha, alpha)
        np.testing.assert_allclose(out.asnumpy(), _hue_ref(f, alpha), atol=1e-9)
    red = np.array([[[255.0, 0.0, 0.0]]])
    np.testing.assert_allclose(npx_image.random_hue(_nd(red, device), 1 / 3, 1 / 3).asnumpy(),
                               [[[0, 255, 0]]], atol=1e-9)
    u = _img((3, 4, 3))
    got = npx_image.random_hue(_nd(u, device), 0.25, 0.25)
    assert got.dtype == np.uint8  # truncated, as MXNet's saturate_cast: allow the last ulp
    want = np.trunc(np.clip(_hue_ref(u.astype(np.float64), 0.25), 0, 255))
    assert np.abs(got.asnumpy() - want).max() <= 1 and (got.asnumpy() == want).mean() > 0.9
    gray = _img((3, 4, 1))
    np.testing.assert_array_equal(npx_image.random_hue(_nd(gray, device), 0.2, 0.4).asnumpy(),
                                  gray)


def test_color_jitter(device):
    f = _img((2, 3, 4, 3), np.float64)
    x = _nd(f, device)
    np.testing.assert_array_equal(npx_image.random_color_jitter(x).asnumpy(), f)
    mx.np.random.seed(5)
    a = npx_image.random_color_jitter(x, 0.3, 0.3, 0.3, 0.1).asnumpy()
    mx.np.random.seed(5)
    np.testing.assert_array_equal(npx_image.random_color_jitter(x, 0.3, 0.3, 0.3, 0.1).asnumpy(), a)
    assert a.shape == f.shape and not np.allclose(a, f)
    factor = npx_image.random_color_jitter(x, brightness=0.5).asnumpy() / f
    assert np.allclose(factor, factor.flat[0]) and 0.5 <= factor.flat[0] <= 1.5
    # brightness, contrast and saturation only: linear, so differentiable end to end
    check_gradient(lambda a: (mx.np.random.seed(3),
                              npx_image.random_color_jitter(a, 0.3, 0.3, 0.3))[1], f,
                   device=device)
    with pytest.raises(ValueError, match="hue must be >= 0"):
        npx_image.random_color_jitter(x, hue=-0.1)


# -- lighting ------------------------------------------------------------------------------------

def test_adjust_and_random_lighting(device):
    alpha = (0.1, -0.2, 0.3)
    shift = EIGVEC @ (np.array(alpha) * EIGVAL)
    # by hand: R = 55.46 * -0.5675 * 0.1 + 4.794 * 0.7192 * -0.2 + 1.148 * 0.4009 * 0.3
    assert shift[0] == pytest.approx(55.46 * -0.5675 * 0.1 + 4.794 * 0.7192 * -0.2
                                     + 1.148 * 0.4009 * 0.3)
    f = _img((2, 3, 4, 3), np.float64)
    np.testing.assert_allclose(npx_image.adjust_lighting(_nd(f, device), alpha).asnumpy(),
                               f + shift, rtol=1e-12)
    u = np.array([[[0, 128, 255]]], np.uint8)
    np.testing.assert_array_equal(npx_image.adjust_lighting(_nd(u, device), alpha).asnumpy(),
                                  np.trunc(np.clip(u + shift, 0, 255)))
    gray = _img((3, 4, 1))
    np.testing.assert_array_equal(npx_image.adjust_lighting(_nd(gray, device), alpha).asnumpy(),
                                  gray)
    np.testing.assert_array_equal(npx_image.random_lighting(_nd(f, device), 0.0).asnumpy(), f)
    mx.np.random.seed(9)
    a = npx_image.random_lighting(_nd(f, device)).asnumpy()
    mx.np.random.seed(9)
    np.testing.assert_array_equal(npx_image.random_lighting(_nd(f, device)).asnumpy(), a)
    d = a - f  # one constant shift per channel
    np.testing.assert_allclose(d, np.broadcast_to(d[0, 0, 0], d.shape), atol=1e-9)
    check_gradient(lambda a: npx_image.adjust_lighting(a, alpha), f, device=device)
    with pytest.raises(ValueError, match="alpha must have 3 values"):
        npx_image.adjust_lighting(_nd(f, device), (0.1, 0.2))


# -- resize / crop ----------------------------------------------------------------------------

def test_resize_exact_values(device):
    img = _img((4, 6, 3), np.float32)
    out = npx_image.resize(_nd(img, device), (3, 2))  # (width, height)
    assert out.shape == (2, 3, 3) and out.dtype == np.float32 and out.device == device
    halved = img.reshape(2, 2, 3, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(out.asnumpy(), halved, rtol=1e-6)
    as_uint8 = npx_image.resize(_nd(img.astype(np.uint8), device), (3, 2))
    assert as_uint8.dtype == np.uint8
    np.testing.assert_array_equal(
        as_uint8.asnumpy(), np.rint(img.astype(np.uint8).reshape(2, 2, 3, 2, 3).mean(axis=(1, 3))))
    row = np.array([[0.0, 10.0]], np.float32)[:, :, None]
    np.testing.assert_allclose(npx_image.resize(_nd(row, device), (4, 1)).asnumpy()[0, :, 0],
                               [0.0, 2.5, 7.5, 10.0])
    np.testing.assert_allclose(
        npx_image.resize(_nd(row, device), (4, 1), interp=0).asnumpy()[0, :, 0], [0, 0, 10, 10])
    batch = npx_image.resize(_nd(np.stack([img, img * 0]), device), (3, 2))
    assert batch.shape == (2, 2, 3, 3)
    np.testing.assert_allclose(batch.asnumpy()[0], halved, rtol=1e-6)
    assert not batch.asnumpy()[1].any()


def test_resize_sizes_and_interpolations(device):
    img = _img((4, 8, 3))
    x = _nd(img, device)
    assert npx_image.resize(x, 2, keep_ratio=True).shape == (2, 4, 3)   # short side 2
    assert npx_image.resize(_nd(img.transpose(1, 0, 2), device), 2, True).shape == (4, 2, 3)
    assert npx_image.resize(_nd(_img((3, 7, 3)), device), 2, True).shape == (2, 4, 3)  # 14 // 3
    assert npx_image.resize(x, 5).shape == (5, 5, 3)
    assert npx_image.resize(x, (5,)).shape == (5, 5, 3)
    flat = _nd(np.full((5, 7, 3), 77.0), device)
    for interp in range(6):
        for size in ((3, 2), (11, 9)):
            np.testing.assert_allclose(npx_image.resize(flat, size, interp=interp).asnumpy(),
                                       77.0, rtol=1e-12)
    for bad in (-1, (3, 0), ()):
        with pytest.raises(ValueError, match="size must be"):
            npx_image.resize(x, bad)
    with pytest.raises(ValueError, match="interpolation 7"):
        npx_image.resize(x, 3, interp=7)


@pytest.mark.parametrize("interp", [0, 1, 2, 3, 4])
def test_resize_gradient_is_the_adjoint(interp, device):
    x = _img((2, 5, 4, 2), np.float64)
    check_gradient(lambda a: npx_image.resize(a, (3, 7), interp=interp), x, device=device)
    check_gradient(lambda a: npx_image.resize(a, (2, 3), interp=interp), x[0], device=device)


def test_crop(device):
    img = _img((2, 5, 7, 3))
    out = npx_image.crop(_nd(img, device), 1, 2, 4, 3)
    assert out.shape == (2, 3, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out.asnumpy(), img[:, 2:5, 1:5])
    np.testing.assert_array_equal(npx_image.crop(_nd(img[0], device), 0, 0, 7, 5).asnumpy(),
                                  img[0])
    x = _img((5, 7, 3), np.float64)
    grads = check_gradient(lambda a: npx_image.crop(a, 1, 2, 4, 3), x, device=device)
    assert not grads[0][:2].any() and not grads[0][:, :1].any() and not grads[0][:, 5:].any()
    with pytest.raises(ValueError, match=r"outside the 7x5 image of shape \(5, 7, 3\)"):
        npx_image.crop(_nd(x, device), 4, 0, 4, 3)


def test_random_crop(device):
    img = _img((6, 8, 3))
    x = _nd(img, device)
    mx.np.random.seed(1)
    out = npx_image.random_crop(x, width=3, height=2).asnumpy()
    windows = [(i, j) for i in range(5) for j in range(6)
               if np.array_equal(img[i:i + 2, j:j + 3], out)]
    assert out.shape == (2, 3, 3) and windows
    mx.np.random.seed(1)
    np.testing.assert_array_equal(npx_image.random_crop(x, width=3, height=2).asnumpy(), out)
    np.testing.assert_array_equal(
        npx_image.random_crop(x, (0, 0), (1, 1), 3, 2).asnumpy(), img[4:6, 0:3])
    batch = _img((2, 6, 8, 3))
    np.testing.assert_array_equal(
        npx_image.random_crop(_nd(batch, device), (0.5, 0.5), (0, 0), 4, 4).asnumpy(),
        batch[:, 0:4, 2:6])
    # smaller than the target: its largest region of the target's aspect ratio, resized up
    small = npx_image.random_crop(x, (0, 0), (0, 0), 16, 6, interp=0).asnumpy()
    np.testing.assert_array_equal(small, npx_image.resize(
        _nd(img[0:3, 0:8], device), (16, 6), interp=0).asnumpy())
    check_gradient(lambda a: npx_image.random_crop(a, (0.5, 0.5), (1, 1), 3, 2), img * 1.0,
                   device=device)
    with pytest.raises(ValueError, match="xrange"):
        npx_image.random_crop(x, (0.5, 1.5), width=2, height=2)
    with pytest.raises(TypeError, match="width and height"):
        npx_image.random_crop(x)


def test_random_resized_crop(device):
    img = _img((2, 20, 30, 3))
    x = _nd(img, device)
    mx.np.random.seed(4)
    out = npx_image.random_resized_crop(x, 8, 6)
    assert out.shape == (2, 6, 8, 3) and out.dtype == np.uint8
    mx.np.random.seed(4)
    np.testing.assert_array_equal(npx_image.random_resized_crop(x, 8, 6).asnumpy(),
                                  out.asnumpy())
    # no trial: the central region of the target's aspect ratio
    np.testing.assert_array_equal(npx_image.random_resized_crop(x, 8, 6, max_trial=0).asnumpy(),
                                  img[:, 7:13, 11:19])
    centre = npx_image.random_resized_crop(x, 60, 30, max_trial=0, interp=0).asnumpy()
    np.testing.assert_array_equal(centre, npx_image.resize(
        _nd(img[:, 2:17, :], device), (60, 30), interp=0).asnumpy())
    check_gradient(lambda a: npx_image.random_resized_crop(a, 14, 10, max_trial=0),
                   _img((9, 12, 1), np.float64), device=device)
    with pytest.raises(ValueError, match="area"):
        npx_image.random_resized_crop(x, 8, 6, area=(0.5, 2.0))


def test_integer_images_take_no_gradient_but_floats_chain(device):
    f = _img((6, 8, 3), np.float64)
    x = _nd(f, device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx_image.to_tensor(npx_image.resize(npx_image.flip_left_right(x), (4, 3)))
        y = npx_image.normalize(y, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    y.backward()
    g = x.grad.asnumpy()
    # halving averages 2 x 2 pixels: each input pixel gets 1/4 * 1/255 * 1/0.25
    np.testing.assert_allclose(g, 1 / 255, rtol=1e-6)
