"""gluon.data.vision.transforms: exact values under MXNet's semantics (sizes are
(width, height), images (H, W, C), resizing with OpenCV's pixel-centre convention)."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.gluon.data.vision import transforms as T


def _image(h=4, w=6, c=3, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, c)).astype(np.uint8)


def test_to_tensor_and_normalize_exact():
    img = _image()
    out = T.ToTensor()(mx.np.array(img))
    assert out.shape == (3, 4, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out.asnumpy(), img.transpose(2, 0, 1) / np.float32(255),
                               rtol=1e-7)
    batch = T.ToTensor()(np.stack([img, img]))
    assert batch.shape == (2, 3, 4, 6)
    norm = T.Normalize(mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 2.0))(out)
    expected = (img.transpose(2, 0, 1) / 255 - np.array([0.1, 0.2, 0.3])[:, None, None]) \
        / np.array([0.5, 0.25, 2.0])[:, None, None]
    np.testing.assert_allclose(norm.asnumpy(), expected, rtol=1e-5)
    assert T.Cast("float16")(img).dtype == np.float16
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        T.ToTensor()(np.zeros((4, 4)))


def test_resize_halving_averages_pixel_pairs_and_keeps_dtype():
    img = _image(4, 6).astype(np.float32)
    out = T.Resize((3, 2))(img)  # (width, height)
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    expected = img.reshape(2, 2, 3, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(out.asnumpy(), expected, rtol=1e-6)
    as_uint8 = T.Resize((3, 2))(img.astype(np.uint8))
    assert as_uint8.dtype == np.uint8
    np.testing.assert_array_equal(as_uint8.asnumpy(), np.rint(expected))


def test_resize_upsampling_matches_the_pixel_centre_formula():
    row = np.array([[0.0, 10.0]], dtype=np.float32)[:, :, None]  # 1 x 2, one channel
    out = T.Resize((4, 1))(row).asnumpy()[0, :, 0]
    # output centres map to source x = -0.25, 0.25, 0.75, 1.25 -> clamped at the borders
    np.testing.assert_allclose(out, [0.0, 2.5, 7.5, 10.0])
    nearest = T.Resize((4, 1), interpolation=0)(row).asnumpy()[0, :, 0]
    np.testing.assert_allclose(nearest, [0.0, 0.0, 10.0, 10.0])
    with pytest.raises(ValueError, match="interpolation 7"):
        T.Resize(4, interpolation=7)(row)


def test_resize_keep_ratio_and_batches():
    img = _image(4, 8)
    assert T.Resize(2, keep_ratio=True)(img).shape == (2, 4, 3)
    assert T.Resize(2, keep_ratio=True)(img.transpose(1, 0, 2)).shape == (4, 2, 3)
    assert T.Resize(5)(np.stack([img] * 3)).shape == (3, 5, 5, 3)


def test_center_crop_and_crop_resize_exact():
    img = _image(5, 7)
    np.testing.assert_array_equal(T.CenterCrop((3, 1))(img).asnumpy(), img[2:3, 2:5])
    np.testing.assert_array_equal(T.CenterCrop(4)(img).asnumpy(), img[0:4, 1:5])
    np.testing.assert_array_equal(T.CropResize(1, 2, 3, 2)(img).asnumpy(), img[2:4, 1:4])
    assert T.CropResize(1, 2, 3, 2, size=(6, 4))(img).shape == (4, 6, 3)
    # larger than the image: its largest central region of that aspect, scaled up
    small = np.arange(4, dtype=np.float32).reshape(2, 2, 1)
    np.testing.assert_allclose(T.CenterCrop(4)(small).asnumpy(),
                               T.Resize(4)(small).asnumpy())
    with pytest.raises(ValueError, match="outside the 7x5 image"):
        T.CropResize(5, 0, 3, 2)(img)


def test_random_resized_crop_is_a_resized_region():
    np.random.seed(3)
    img = np.arange(20 * 30, dtype=np.float32).reshape(20, 30, 1)
    out = T.RandomResizedCrop((8, 6), scale=(0.2, 0.5))(img)
    assert out.shape == (6, 8, 1)
    values = out.asnumpy()
    # rows and columns of a crop of a ramp stay ramps: constant steps along each axis
    assert np.ptp(np.diff(values[:, :, 0], axis=1)) < 1e-3
    assert values.min() >= img.min() and values.max() <= img.max()
    # a full-image crop of aspect ratio 1.5 is the resized image itself
    full = T.RandomResizedCrop((15, 10), scale=(1.0, 1.0), ratio=(1.5, 1.5))(img)
    np.testing.assert_allclose(full.asnumpy(), T.Resize((15, 10))(img).asnumpy())
    with pytest.raises(ValueError, match="scale"):
        T.RandomResizedCrop(4, scale=(0.5, 0.2))


def test_random_crop_with_padding():
    np.random.seed(0)
    img = np.ones((4, 4, 1), np.uint8)
    crops = [T.RandomCrop(4, pad=2)(img).asnumpy() for _ in range(20)]
    assert all(c.shape == (4, 4, 1) for c in crops)
    sums = [int(c.sum()) for c in crops]
    assert min(sums) < 16 and max(sums) <= 16  # some crops include padding zeros
    np.testing.assert_array_equal(T.RandomCrop(4)(img).asnumpy(), img)


def test_flips():
    img = _image(3, 4)
    np.testing.assert_array_equal(T.RandomFlipLeftRight(p=1)(img).asnumpy(), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomFlipTopBottom(p=1)(img).asnumpy(), img[::-1])
    np.testing.assert_array_equal(T.RandomFlipLeftRight(p=0)(img).asnumpy(), img)
    np.random.seed(1)
    flipped = sum(bool((T.RandomFlipLeftRight()(img).asnumpy() != img).any())
                  for _ in range(200))
    assert 60 < flipped < 140


def test_color_jitter_formulas():
    img = _image(2, 3).astype(np.float32)
    np.random.seed(5)
    alpha = 1 + np.random.uniform(-0.4, 0.4)
    np.random.seed(5)
    np.testing.assert_allclose(T.RandomBrightness(0.4)(img).asnumpy(), img * alpha, rtol=1e-6)
    gray = (img @ np.array([0.299, 0.587, 0.114])).mean()
    np.random.seed(5)
    np.testing.assert_allclose(T.RandomContrast(0.4)(img).asnumpy(),
                               img * alpha + gray * (1 - alpha), rtol=1e-5)
    per_pixel = (img @ np.array([0.299, 0.587, 0.114]))[..., None]
    np.random.seed(5)
    np.testing.assert_allclose(T.RandomSaturation(0.4)(img).asnumpy(),
                               img * alpha + per_pixel * (1 - alpha), rtol=1e-5)
    bright = T.RandomBrightness(10.0)(np.full((1, 1, 3), 200, np.uint8)).asnumpy()
    assert bright.dtype == np.uint8 and bright.max() <= 255


def test_compose_pipeline_on_a_dataset():
    from mxlite.gluon import data as gdata
    ds = gdata.ArrayDataset(np.stack([_image(8, 8, seed=i) for i in range(4)]),
                            np.arange(4)).transform_first(
        T.Compose([T.Resize(6), T.CenterCrop(4), T.RandomFlipLeftRight(p=0), T.ToTensor()]))
    x, y = next(iter(gdata.DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 3, 4, 4) and x.dtype == np.float32
    assert float(x.max()) <= 1.0


def test_hue_lighting_and_color_jitter():
    img = _image(2, 3).astype(np.float32)
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.321], [0.211, -0.523, 0.311]])
    np.testing.assert_allclose(T.RandomHue(0)(img).asnumpy(),
                               img @ (np.linalg.inv(to_yiq) @ to_yiq).T, atol=0.5)
    np.random.seed(2)
    angle = np.random.uniform(-0.3, 0.3) * np.pi
    np.random.seed(2)
    out = T.RandomHue(0.3)(img).asnumpy() @ to_yiq.T
    yiq = img @ to_yiq.T
    # luma kept (MXNet's YIQ matrices are inverse to three decimals)
    np.testing.assert_allclose(out[..., 0], yiq[..., 0], atol=0.5)
    rotated = yiq[..., 1] * np.cos(angle) - yiq[..., 2] * np.sin(angle)
    np.testing.assert_allclose(out[..., 1], rotated, atol=0.5)
    np.random.seed(4)
    alpha = np.random.normal(0, 0.1, size=3)
    shift = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                      [-0.5836, -0.6948, 0.4203]]) @ (alpha * np.array([55.46, 4.794, 1.148]))
    np.random.seed(4)
    np.testing.assert_allclose(T.RandomLighting(0.1)(img).asnumpy(), img + shift, rtol=1e-5)
    jitter = T.RandomColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1)
    assert jitter(_image(4, 4)).shape == (4, 4, 3)
    np.testing.assert_array_equal(T.RandomColorJitter()(img).asnumpy(), img)


def test_normalize_and_resize_check_their_arguments_as_mxnet_does():
    transforms = T
    from mxlite.base import MXNetError
    t = transforms.Normalize(mean=0.5, std=(0.5, 0.25, 1.0))
    x = mx.np.ones((3, 2, 2))
    np.testing.assert_allclose(t(x).asnumpy()[:, 0, 0], [1.0, 2.0, 0.5])
    np.testing.assert_allclose(t(mx.np.ones((2, 3, 2, 2))).asnumpy()[1, :, 1, 1], [1, 2, 0.5])
    for bad in (mx.np.ones((1, 3, 2, 2, 2)), mx.np.ones((4, 2, 2)), mx.np.ones((2, 2))):
        with pytest.raises(MXNetError):
            t(bad)
    with pytest.raises(ValueError, match="mean must have 1 or 3 values"):
        transforms.Normalize(mean=(0.1, 0.2))(x)
    for size in (-150, 0, (10, -1)):
        with pytest.raises(MXNetError, match="positive"):
            transforms.Resize(size, keep_ratio=True)


def test_random_apply_and_hybrid_compose():
    img = mx.np.array(np.arange(2 * 3 * 3).reshape(2, 3, 3).astype("uint8"))
    flip = T.HybridCompose([T.RandomFlipLeftRight(1.0), T.Cast("float32")])
    np.testing.assert_array_equal(flip(img).asnumpy(), img.asnumpy()[:, ::-1].astype("f4"))
    with pytest.raises(ValueError, match="not a transform Block"):
        T.HybridCompose([lambda x: x])
    always, never = T.RandomApply(flip, p=1.0), T.HybridRandomApply(flip, p=0.0)
    np.testing.assert_array_equal(always(img).asnumpy(), flip(img).asnumpy())
    assert never(img) is img
    boxes = mx.np.zeros((1, 4))
    out, kept = never(img, boxes)
    assert out is img and kept is boxes
    np.random.seed(0)
    draws = np.random.random_sample(200) < 0.3
    np.random.seed(0)
    applied = [T.RandomApply(T.Cast("float32"), p=0.3)(img).dtype == np.float32
               for _ in range(200)]
    assert applied == list(draws)
    with pytest.raises(ValueError, match="p must lie"):
        T.RandomApply(flip, p=1.5)


def _imrotate_reference(img, degrees, zoom_in=False, zoom_out=False):
    """MXNet's imrotate read literally: a grid about the centre, rotated, normalised,
    scaled, then BilinearSampler (taps off the image read 0)."""
    c, h, w = img.shape
    rad = np.deg2rad(degrees)
    hs, ws = (h - 1) / 2, (w - 1) / 2
    scale = 1.0
    if zoom_in or zoom_out:
        rho, ang = np.sqrt(h * h + w * w), np.arctan(h / w)
        mx_ = max(abs(rho * np.cos(ang + abs(rad))), abs(rho * np.cos(ang - abs(rad))))
        my_ = max(abs(rho * np.sin(ang + abs(rad))), abs(rho * np.sin(ang - abs(rad))))
        scale = max(mx_ / w, my_ / h) if zoom_out else min(w / mx_, h / my_)
    out = np.zeros_like(img, dtype=np.float64)
    for i in range(h):
        for j in range(w):
            xr = ((j - ws) * np.cos(rad) - (i - hs) * np.sin(rad)) / ws * scale
            yr = ((j - ws) * np.sin(rad) + (i - hs) * np.cos(rad)) / hs * scale
            x, y = (xr + 1) * (w - 1) / 2, (yr + 1) * (h - 1) / 2
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
                for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
                    if 0 <= yy <= h - 1 and 0 <= xx <= w - 1:
                        out[:, i, j] += wy * wx * img[:, yy, xx]
    return out


@pytest.mark.parametrize("degrees, zoom", [(90, {}), (37.5, {}), (-120, {"zoom_in": True}),
                                           (25, {"zoom_out": True})])
def test_rotate_is_mxnets_imrotate(degrees, zoom):
    img = np.random.default_rng(1).random((2, 5, 7)).astype("float32")
    got = T.Rotate(degrees, **zoom)(mx.np.array(img)).asnumpy()
    np.testing.assert_allclose(got, _imrotate_reference(img, degrees, **zoom), rtol=1e-5,
                               atol=1e-5)


def test_rotate_batches_angles_gradients_and_random_rotation(device):
    from mxlite.ops import image as ops_image
    from mxlite.test_utils import check_gradient
    square = np.random.default_rng(2).random((2, 3, 4, 4)).astype("float32")
    batch = mx.np.array(square, device=device)
    np.testing.assert_allclose(T.Rotate(90)(batch).asnumpy(), np.rot90(square, axes=(2, 3)),
                               atol=1e-6)
    both = ops_image.rotate(batch, [0, 180]).asnumpy()
    np.testing.assert_allclose(both[0], square[0], atol=1e-6)
    np.testing.assert_allclose(both[1], square[1, :, ::-1, ::-1], atol=1e-6)
    for zoom in ({}, {"zoom_in": True}, {"zoom_out": True}):
        check_gradient(lambda a: ops_image.rotate(a, [30, -50], **zoom),
                       np.random.default_rng(3).random((2, 2, 4, 5)), device=device)
    np.random.seed(4)
    got = T.RandomRotation((-40, 40))(batch).asnumpy()
    np.random.seed(4)
    np.random.random_sample()  # the probability draw comes first, then one angle per image
    want = ops_image.rotate(batch, np.random.uniform(-40, 40, size=2)).asnumpy()
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert T.RandomRotation((-40, 40), rotate_with_proba=0.0)(batch) is batch
    for bad in (lambda: T.RandomRotation((10, -10)),
                lambda: T.RandomRotation((-1, 1), rotate_with_proba=2),
                lambda: T.Rotate(10, zoom_in=True, zoom_out=True)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(TypeError, match="float"):
        T.Rotate(10)(mx.np.zeros((3, 4, 4), dtype="uint8"))
    with pytest.raises(ValueError, match="2 angles for 3 images"):
        ops_image.rotate(mx.np.zeros((3, 1, 4, 4)), [1, 2])
