"""mx.image (MXNet 2.x's python/mxnet/image/image.py, numpy mode): decoding, resizing,
crops, augmenters, CreateAugmenter and ImageIter, against hand-computed / numpy values."""
import json
import random

import numpy as np
import pytest

import mxlite as mx
from mxlite.ops.image import resize_xp

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

img_mod = mx.image


def _pixels(h=6, w=8, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8)


def _png(path, arr):
    Image.fromarray(arr).save(path, format="PNG")
    return str(path)


def _f32(arr):
    return mx.np.array(arr.astype(np.float32), dtype="float32")


# -- decoding ---------------------------------------------------------------------------------

def test_imdecode_imread_png_exact(tmp_path):
    arr = _pixels()
    path = _png(tmp_path / "a.png", arr)
    with open(path, "rb") as f:
        buf = f.read()
    for out in (img_mod.imdecode(buf), img_mod.imread(path),
                img_mod.imdecode(np.frombuffer(buf, np.uint8))):
        assert isinstance(out, mx.np.ndarray) and out.dtype == np.uint8
        np.testing.assert_array_equal(out.asnumpy(), arr)
    bgr = img_mod.imdecode(buf, to_rgb=False).asnumpy()
    np.testing.assert_array_equal(bgr, arr[:, :, ::-1])
    gray = img_mod.imread(path, flag=0).asnumpy()
    assert gray.shape == (6, 8, 1)
    ref = arr.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(gray[..., 0] - ref).max() <= 1
    with pytest.raises(ValueError):
        img_mod.imdecode("not bytes")


def test_imdecode_jpeg(tmp_path):
    arr = np.full((8, 8, 3), (200, 40, 90), np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.jpg", format="JPEG", quality=95)
    out = img_mod.imread(str(tmp_path / "a.jpg")).asnumpy()
    assert out.shape == (8, 8, 3) and np.abs(out.astype(int) - arr).max() <= 4


# -- geometry ---------------------------------------------------------------------------------

def test_interp_method():
    gim = img_mod.image._get_interp_method
    assert [gim(i) for i in range(5)] == [0, 1, 2, 3, 4]
    assert gim(9, (2, 2, 4, 4)) == 2 and gim(9, (4, 4, 2, 2)) == 3
    assert gim(9, (4, 4, 2, 8)) == 1 and gim(9) == 3
    random.seed(3)
    got = [gim(10) for _ in range(30)]
    random.seed(3)
    assert got == [random.randint(0, 4) for _ in range(30)]
    with pytest.raises(ValueError):
        gim(7)


@pytest.mark.parametrize("interp", [0, 1, 2, 3, 4])
def test_imresize_matches_resize_xp(interp):
    arr = _pixels(7, 9)
    out = img_mod.imresize(mx.np.array(arr, dtype="uint8"), 5, 11, interp=interp)
    assert out.shape == (11, 5, 3) and out.dtype == np.uint8
    ref = np.clip(np.rint(resize_xp(np, arr.astype(np.float64), 5, 11, interp)), 0, 255)
    np.testing.assert_array_equal(out.asnumpy(), ref.astype(np.uint8))


def test_resize_short_and_scale_down():
    assert img_mod.scale_down((640, 480), (720, 120)) == (640, 106)
    assert img_mod.scale_down((100, 100), (50, 200)) == (25, 100)
    arr = _pixels(6, 9)
    out = img_mod.resize_short(mx.np.array(arr, dtype="uint8"), 4)  # interp 2: bicubic
    assert out.shape == (4, 6, 3)
    ref = np.clip(np.rint(resize_xp(np, arr.astype(np.float64), 6, 4, 2)), 0, 255)
    np.testing.assert_array_equal(out.asnumpy(), ref)
    assert img_mod.resize_short(mx.np.array(_pixels(9, 6), dtype="uint8"), 4).shape == (6, 4, 3)


def test_fixed_center_random_crop():
    arr = _pixels(6, 8)
    src = mx.np.array(arr, dtype="uint8")
    np.testing.assert_array_equal(img_mod.fixed_crop(src, 2, 1, 3, 4).asnumpy(),
                                  arr[1:5, 2:5])
    out = img_mod.fixed_crop(src, 2, 1, 3, 4, size=(6, 8), interp=1)
    ref = np.rint(resize_xp(np, arr[1:5, 2:5].astype(np.float64), 6, 8, 1))
    np.testing.assert_array_equal(out.asnumpy(), ref)
    out, box = img_mod.center_crop(src, (4, 2))
    assert box == (2, 2, 4, 2)
    np.testing.assert_array_equal(out.asnumpy(), arr[2:4, 2:6])
    # larger than the image: scaled down to fit, then resized up
    out, box = img_mod.center_crop(src, (16, 6))
    assert box == (0, 1, 8, 3) and out.shape == (6, 16, 3)
    random.seed(5)
    out, (x0, y0, w, h) = img_mod.random_crop(src, (3, 2))
    random.seed(5)
    assert (x0, y0) == (random.randint(0, 5), random.randint(0, 4)) and (w, h) == (3, 2)
    np.testing.assert_array_equal(out.asnumpy(), arr[y0:y0 + 2, x0:x0 + 3])


def test_random_size_crop():
    src = mx.np.array(_pixels(20, 30), dtype="uint8")
    random.seed(1)
    out, (x0, y0, w, h) = img_mod.random_size_crop(src, (8, 8), (0.3, 0.6), (0.75, 1.33))
    assert out.shape == (8, 8, 3)
    assert 0.3 * 600 * 0.8 <= w * h <= 0.6 * 600 * 1.2
    assert x0 + w <= 30 and y0 + h <= 20
    with pytest.warns(DeprecationWarning):
        img_mod.random_size_crop(src, (8, 8), None, (0.75, 1.33), min_area=0.5)
    # impossible ratios fall back to the centre crop
    out, box = img_mod.random_size_crop(src, (5, 5), 1.0, (50.0, 60.0))
    assert box == img_mod.center_crop(src, (5, 5))[1]


def test_color_normalize_and_border():
    arr = _pixels(3, 4).astype(np.float32)
    mean, std = np.array([10., 20., 30.], np.float32), np.array([2., 4., 8.], np.float32)
    src = mx.np.array(arr)
    out = img_mod.color_normalize(src, mx.np.array(mean), mx.np.array(std))
    np.testing.assert_allclose(out.asnumpy(), (arr - mean) / std, rtol=1e-6)
    np.testing.assert_array_equal(src.asnumpy(), arr)
    np.testing.assert_allclose(img_mod.color_normalize(src, mean).asnumpy(), arr - mean)
    b = img_mod.copyMakeBorder(src, 1, 2, 3, 0, values=(1, 2, 3)).asnumpy()
    assert b.shape == (6, 7, 3)
    np.testing.assert_array_equal(b[1:4, 3:], arr)
    np.testing.assert_array_equal(b[0, 0], [1, 2, 3])
    e = img_mod.copyMakeBorder(src, 1, 1, 1, 1, type=3).asnumpy()
    np.testing.assert_array_equal(e, np.pad(arr, ((1, 1), (1, 1), (0, 0)), mode="edge"))


def test_imrotate_calls_rotate():
    chw = _f32(_pixels(5, 7).transpose(2, 0, 1))
    np.testing.assert_allclose(img_mod.imrotate(chw, 0).asnumpy(), chw.asnumpy(), atol=1e-4)
    from mxlite.ops.image import rotate
    np.testing.assert_allclose(img_mod.imrotate(chw, 30).asnumpy(), rotate(chw, 30).asnumpy())
    with pytest.raises(TypeError):
        img_mod.imrotate(chw.astype("uint8"), 10)
    with pytest.raises(ValueError):
        img_mod.imrotate(chw, 10, zoom_in=True, zoom_out=True)
    batch = mx.np.stack([chw, chw])
    with pytest.raises(ValueError):
        img_mod.imrotate(batch, np.array([1.0, 2.0, 3.0]))
    np.random.seed(2)
    out = img_mod.random_rotate(batch, (-20, 20))
    np.random.seed(2)
    angles = np.random.uniform(-20, 20, size=2)
    np.testing.assert_allclose(out.asnumpy(), rotate(batch, angles).asnumpy())


# -- augmenters -------------------------------------------------------------------------------

def _seeded(aug, src, seed=7):
    random.seed(seed)
    return aug(src).asnumpy()


def test_color_jitter_augs():
    arr = _pixels(4, 5).astype(np.float64)
    src = _f32(arr)
    lum = arr @ np.array([0.299, 0.587, 0.114])

    def alpha(r):
        random.seed(7)
        return 1.0 + random.uniform(-r, r)

    a = alpha(0.3)
    np.testing.assert_allclose(_seeded(img_mod.BrightnessJitterAug(0.3), src), arr * a,
                               rtol=1e-5)
    np.testing.assert_allclose(_seeded(img_mod.ContrastJitterAug(0.3), src),
                               arr * a + (1 - a) * lum.mean(), rtol=1e-5)
    np.testing.assert_allclose(_seeded(img_mod.SaturationJitterAug(0.3), src),
                               arr * a + (1 - a) * lum[..., None], rtol=1e-5)
    random.seed(7)
    t = random.uniform(-0.2, 0.2) * np.pi
    bt = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    aug = img_mod.HueJitterAug(0.2)
    ref = arr @ (aug.ityiq @ bt @ aug.tyiq).T
    np.testing.assert_allclose(_seeded(aug, src), ref, rtol=1e-4, atol=1e-3)
    assert img_mod.HueJitterAug(0.2)(src).dtype == np.float32


def test_lighting_gray_flip_cast_normalize_augs():
    arr = _pixels(4, 5).astype(np.float64)
    src = _f32(arr)
    eigval, eigvec = np.array([1.0, 2.0, 3.0]), np.eye(3)
    np.random.seed(4)
    out = img_mod.LightingAug(0.1, eigval, eigvec)(src).asnumpy()
    np.random.seed(4)
    alpha = np.random.normal(0, 0.1, size=(3,))
    np.testing.assert_allclose(out, arr + alpha * eigval, rtol=1e-5)
    gray = _seeded(img_mod.RandomGrayAug(1.0), src)
    np.testing.assert_allclose(gray, np.repeat((arr @ [0.21, 0.72, 0.07])[..., None], 3, 2),
                               rtol=1e-5)
    np.testing.assert_array_equal(_seeded(img_mod.RandomGrayAug(0.0), src), arr)
    np.testing.assert_array_equal(_seeded(img_mod.HorizontalFlipAug(1.0), src), arr[:, ::-1])
    random.seed(0)
    flips = [random.random() < 0.5 for _ in range(6)]
    random.seed(0)
    aug = img_mod.HorizontalFlipAug(0.5)
    for f in flips:
        np.testing.assert_array_equal(aug(src).asnumpy(), arr[:, ::-1] if f else arr)
    u8 = mx.np.array(_pixels(), dtype="uint8")
    assert img_mod.CastAug()(u8).dtype == np.float32
    out = img_mod.ColorNormalizeAug([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])(src).asnumpy()
    np.testing.assert_allclose(out, (arr - [1, 2, 3]) / 2, rtol=1e-6)


def test_geometry_augs_and_order():
    src = mx.np.array(_pixels(10, 14), dtype="uint8")
    assert img_mod.ResizeAug(5)(src).shape == (5, 7, 3)
    assert img_mod.ForceResizeAug((6, 3))(src).shape == (3, 6, 3)
    assert img_mod.CenterCropAug((4, 4))(src).shape == (4, 4, 3)
    assert img_mod.RandomCropAug((4, 6))(src).shape == (6, 4, 3)
    assert img_mod.RandomSizedCropAug((5, 5), 0.2, (0.75, 1.33))(src).shape == (5, 5, 3)
    seq = img_mod.SequentialAug([img_mod.ResizeAug(5), img_mod.CenterCropAug((3, 3))])
    assert seq(src).shape == (3, 3, 3)
    f = _f32(_pixels(3, 3))
    b, c = img_mod.BrightnessJitterAug(0.5), img_mod.ContrastJitterAug(0.5)
    order = img_mod.RandomOrderAug([b, c])
    random.seed(11)
    out = order(f).asnumpy()
    random.seed(11)
    ts = [b, c]
    random.shuffle(ts)
    ref = f
    for t in ts:
        ref = t(ref)
    np.testing.assert_allclose(out, ref.asnumpy(), rtol=1e-6)


def test_dumps():
    assert json.loads(img_mod.ResizeAug(5, 1).dumps()) == ["resizeaug", {"size": 5, "interp": 1}]
    aug = img_mod.ColorNormalizeAug(mx.np.array([1.0, 2.0]), np.array([3.0]))
    assert json.loads(aug.dumps()) == ["colornormalizeaug", {"mean": [1.0, 2.0], "std": [3.0]}]
    assert json.loads(img_mod.CastAug().dumps()) == ["castaug", {"type": "float32"}]
    seq = img_mod.SequentialAug([img_mod.HorizontalFlipAug(0.5)])
    assert seq.dumps() == ["sequentialaug", ['["horizontalflipaug", {"p": 0.5}]']]


def test_create_augmenter():
    types = lambda augs: [type(a).__name__ for a in augs]  # noqa: E731
    assert types(img_mod.CreateAugmenter((3, 8, 8))) == ["CenterCropAug", "CastAug"]
    augs = img_mod.CreateAugmenter((3, 8, 6), resize=10, rand_crop=True, rand_resize=True,
                                   rand_mirror=True, mean=True, std=True, brightness=0.1,
                                   contrast=0.1, saturation=0.1, hue=0.1, pca_noise=0.1,
                                   rand_gray=0.2, inter_method=1)
    assert types(augs) == ["ResizeAug", "RandomSizedCropAug", "HorizontalFlipAug", "CastAug",
                           "ColorJitterAug", "HueJitterAug", "LightingAug", "RandomGrayAug",
                           "ColorNormalizeAug"]
    assert augs[1].size == (6, 8) and augs[1].area == 0.08 and augs[1].interp == 1
    assert types(augs[4].ts) == ["BrightnessJitterAug", "ContrastJitterAug",
                                 "SaturationJitterAug"]
    np.testing.assert_allclose(augs[-1].mean.asnumpy(), [123.68, 116.28, 103.53], rtol=1e-6)
    assert types(img_mod.CreateAugmenter((3, 4, 4), rand_crop=True, contrast=0.2,
                                         mean=np.array([1.0, 2.0, 3.0]))) == \
        ["RandomCropAug", "CastAug", "ColorJitterAug", "ColorNormalizeAug"]
    with pytest.raises(ValueError):
        img_mod.CreateAugmenter((3, 4, 4), rand_resize=True)
    out = src = mx.np.array(_pixels(12, 10), dtype="uint8")
    for a in augs:
        out = a(out)
    assert out.shape == (8, 6, 3) and out.dtype == np.float32 and src.shape == (12, 10, 3)


# -- ImageIter --------------------------------------------------------------------------------

def _images(tmp_path, n=5):
    arrs = [np.full((4, 4, 3), 10 * i, np.uint8) for i in range(n)]
    names = []
    for i, a in enumerate(arrs):
        names.append(f"img{i}.png")
        _png(tmp_path / names[-1], a)
    return arrs, names


def _vals(batch):
    return [float(v) for v in batch.data[0].asnumpy()[:, 0, 0, 0]]


def test_imageiter_imglist_pad(tmp_path):
    _, names = _images(tmp_path)
    lst = tmp_path / "a.lst"
    lst.write_text("".join(f"{i}\t{i * 2}.0\t{n}\n" for i, n in enumerate(names)))
    it = img_mod.ImageIter(2, (3, 4, 4), path_imglist=str(lst), path_root=str(tmp_path))
    assert isinstance(it, mx.io.DataIter)
    assert it.provide_data[0].shape == (2, 3, 4, 4) and it.provide_data[0].name == "data"
    assert it.provide_label[0] == ("softmax_label", (2,))
    batches = list(it)
    assert len(batches) == 3
    assert batches[0].data[0].dtype == np.float32 and batches[0].data[0].shape == (2, 3, 4, 4)
    assert [b.pad for b in batches] == [0, 0, 1]
    assert [_vals(b) for b in batches] == [[0, 10], [20, 30], [40, 0]]
    assert [b.label[0].asnumpy().tolist() for b in batches] == [[0, 2], [4, 6], [8, 0]]
    it.reset()
    assert [_vals(b) for b in it] == [[0, 10], [20, 30], [40, 0]]


def test_imageiter_label_width_discard_rollover(tmp_path):
    _, names = _images(tmp_path)
    imglist = [[[i, i + 0.5], n] for i, n in enumerate(names)]
    it = img_mod.ImageIter(2, (3, 4, 4), label_width=2, imglist=imglist,
                           path_root=str(tmp_path), last_batch_handle="discard")
    assert it.provide_label[0].shape == (2, 2)
    batches = list(it)
    assert len(batches) == 2
    np.testing.assert_array_equal(batches[1].label[0].asnumpy(), [[2, 2.5], [3, 3.5]])
    imglist = [[float(i), n] for i, n in enumerate(names)]
    it = img_mod.ImageIter(2, (3, 4, 4), imglist=imglist, path_root=str(tmp_path),
                           last_batch_handle="roll_over", dtype="int32")
    assert [_vals(b) for b in it] == [[0, 10], [20, 30]]
    it.reset()
    first = it.next()
    assert _vals(first) == [40, 0] and first.pad == 0
    assert first.label[0].dtype == np.int32 and first.label[0].asnumpy().tolist() == [4, 0]
    assert [_vals(b) for b in it] == [[10, 20], [30, 40]]


def test_imageiter_shuffle_parts_augs(tmp_path):
    _, names = _images(tmp_path, 6)
    imglist = [[float(i), n] for i, n in enumerate(names)]
    random.seed(9)
    it = img_mod.ImageIter(3, (3, 4, 4), imglist=imglist, path_root=str(tmp_path),
                           shuffle=True)
    got = [v for b in it for v in b.label[0].asnumpy().tolist()]
    random.seed(9)
    order = list(range(1, 7))
    random.shuffle(order)
    assert got == [float(k - 1) for k in order]
    parts = [img_mod.ImageIter(2, (3, 4, 4), imglist=imglist, path_root=str(tmp_path),
                               part_index=p, num_parts=3) for p in range(3)]
    assert [[v for b in it for v in b.label[0].asnumpy().tolist()] for it in parts] == \
        [[0, 1], [2, 3], [4, 5]]
    it = img_mod.ImageIter(2, (3, 2, 2), imglist=imglist, path_root=str(tmp_path),
                           aug_list=[img_mod.ForceResizeAug((2, 2)), img_mod.CastAug()])
    assert it.next().data[0].shape == (2, 3, 2, 2)
    it = img_mod.ImageIter(2, (3, 2, 2), imglist=imglist, path_root=str(tmp_path),
                           mean=True, std=True)
    np.testing.assert_allclose(it.next().data[0].asnumpy()[0, :, 0, 0],
                               (0 - np.array([123.68, 116.28, 103.53]))
                               / [58.395, 57.12, 57.375], rtol=1e-5)
    with pytest.raises(ValueError):
        img_mod.ImageIter(2, (1, 4, 4), imglist=imglist)


def test_imageiter_recordio(tmp_path):
    arrs, names = _images(tmp_path, 3)
    rec, idx = str(tmp_path / "a.rec"), str(tmp_path / "a.idx")
    w = mx.recordio.MXIndexedRecordIO(idx, rec, "w")
    for i, n in enumerate(names):
        with open(tmp_path / n, "rb") as f:
            w.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(i + 1), i, 0),
                                            f.read()))
    w.close()
    it = img_mod.ImageIter(2, (3, 4, 4), path_imgrec=rec)
    batches = list(it)
    assert [_vals(b) for b in batches] == [[0, 10], [20, 0]] and batches[1].pad == 1
    assert batches[1].label[0].asnumpy().tolist() == [3, 1]
    it = img_mod.ImageIter(1, (3, 4, 4), path_imgrec=rec, path_imgidx=idx, num_parts=3,
                           part_index=2)
    assert [b.label[0].asnumpy().tolist() for b in it] == [[3.0]]
    with pytest.raises(ValueError):
        img_mod.ImageIter(1, (3, 4, 4), path_imgrec=rec, shuffle=True)


def test_mx_img_is_mx_image():
    assert mx.img is mx.image and mx.img.imresize is mx.image.imresize
