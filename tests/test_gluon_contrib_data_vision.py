"""gluon.contrib.data.vision (ImageDataLoader, ImageBboxDataLoader, the bbox transforms and
utilities), gluon.data.vision.ImageListDataset and transforms.RandomGray, on small images
written to disk: values against numpy and boxes against hand computation."""
import io

import numpy as np
import pytest

import mxlite as mx
from mxlite.gluon.contrib.data import vision as cv
from mxlite.gluon.contrib.data.vision.transforms import bbox as B
from mxlite.gluon.contrib.data.vision.transforms.bbox import utils as U
from mxlite.gluon.data.vision import ImageListDataset, transforms as T

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _pixels(h, w, seed):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8)


def _save(path, array, fmt="PNG"):
    Image.fromarray(array).save(path, format=fmt)
    return str(path)


@pytest.fixture
def pngs(tmp_path):
    """Five 16x24 PNGs (H x W) in tmp_path, named img0..img4, and their pixels."""
    arrays = [_pixels(16, 24, seed) for seed in range(5)]
    for i, a in enumerate(arrays):
        _save(tmp_path / f"img{i}.png", a)
    return tmp_path, arrays


def _host(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)


# -- ImageListDataset -----------------------------------------------------------------------

def test_image_list_dataset_from_lst_file(pngs):
    root, arrays = pngs
    (root / "train.lst").write_text("0\t1\t2.5\timg0.png\n7\t3\t-1\timg2.png\n\n")
    ds = ImageListDataset(str(root), "train.lst")
    assert len(ds) == 2
    image, label = ds[1]
    assert image.shape == (16, 24, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image.asnumpy(), arrays[2])
    assert isinstance(label, mx.np.ndarray) and label.dtype == np.float32
    np.testing.assert_array_equal(label.asnumpy(), [3.0, -1.0])
    gray, _ = ImageListDataset(str(root), "train.lst", flag=0)[0]
    expected = np.asarray(Image.fromarray(arrays[0]).convert("L"))
    np.testing.assert_array_equal(gray.asnumpy()[:, :, 0], expected)


def test_image_list_dataset_from_list_entries(pngs):
    root, arrays = pngs
    ds = ImageListDataset(str(root), [[4, "img1.png"], ([1, 2], "img3.png"),
                                      [5, 6, 7, "img4.png"], (np.int64(2), "img0.png")])
    labels = [ds[i][1].asnumpy().tolist() for i in range(len(ds))]
    assert labels == [[4.0], [1.0, 2.0], [5.0, 6.0, 7.0], [2.0]]
    np.testing.assert_array_equal(ds[2][0].asnumpy(), arrays[4])
    # a JPEG (lossy) decodes to what Pillow reads from the file
    path = _save(root / "photo.jpg", arrays[0], "JPEG")
    image, _ = ImageListDataset(str(root), [[0, "photo.jpg"]])[0]
    np.testing.assert_array_equal(image.asnumpy(), np.asarray(Image.open(path).convert("RGB")))


def test_image_list_dataset_errors(pngs):
    root, _ = pngs
    with pytest.raises(ValueError, match="imglist must be"):
        ImageListDataset(str(root))
    with pytest.raises(ValueError, match=r"imglist\[1\] must be"):
        ImageListDataset(str(root), [[0, "img0.png"], ["img1.png", 0]])
    (root / "bad.lst").write_text("0\tcat\timg0.png\n")
    with pytest.raises(ValueError, match="line 1: labels"):
        ImageListDataset(str(root), "bad.lst")
    with pytest.raises(FileNotFoundError):
        ImageListDataset(str(root), [[0, "missing.png"]])[0]


# -- transforms: RandomGray, pass-through, interpolation ------------------------------------

def test_random_gray_formula():
    img = _pixels(3, 4, 0)
    np.random.seed(0)
    out = T.RandomGray(p=1)(mx.np.array(img))
    assert out.dtype == np.float32 and out.shape == (3, 4, 3)
    luma = img.astype(np.float64) @ [0.2989, 0.587, 0.114]
    for c in range(3):
        np.testing.assert_allclose(out.asnumpy()[..., c], luma, rtol=1e-6)
    same = T.RandomGray(p=0)(mx.np.array(img))
    assert same.dtype == np.float32
    np.testing.assert_array_equal(same.asnumpy(), img.astype(np.float32))
    assert T.image.RandomGray is T.RandomGray
    with pytest.raises(ValueError, match="RGB"):
        T.RandomGray(p=1)(mx.np.zeros((2, 2, 1), dtype="uint8"))


def test_image_transforms_pass_extra_inputs_through():
    img = mx.np.array(_pixels(4, 6, 1))
    box = mx.np.array([[1.0, 1.0, 3.0, 2.0, 0.0]])
    tensor, same = T.ToTensor()(img, box)
    assert tensor.shape == (3, 4, 6) and same is box
    a, b = T.Cast("float16")(img, box)
    assert a.dtype == np.float16 and b.dtype == np.float16
    out, kept = T.Compose([T.Resize((3, 2)), T.ToTensor()])(img, box)
    assert out.shape == (3, 2, 3) and kept is box


def test_area_bicubic_lanczos_resize():
    img = np.arange(16 * 3, dtype=np.float32).reshape(4, 4, 3)
    area = T.Resize((2, 2), interpolation=3)(mx.np.array(img)).asnumpy()
    np.testing.assert_allclose(area, img.reshape(2, 2, 2, 2, 3).mean(axis=(1, 3)))
    flat = mx.np.full((5, 7, 3), 77, dtype="uint8")
    for code in (2, 3, 4):
        out = T.Resize((11, 3), interpolation=code)(flat).asnumpy()
        assert out.shape == (3, 11, 3) and (out == 77).all()
    # bicubic (a = -0.75): source centres 0.5 and 2.5, taps at distances 1.5, 0.5, 0.5, 1.5
    # weigh -0.09375, 0.59375, 0.59375, -0.09375; the edge pixel repeats past the border
    row = mx.np.array(np.array([0.0, 0.0, 10.0, 10.0], dtype=np.float32).reshape(1, 4, 1))
    out = T.Resize((2, 1), interpolation=2)(row).asnumpy()[0, :, 0]
    np.testing.assert_allclose(out, [10 * -0.09375, 10 * (2 * 0.59375 - 0.09375)], rtol=1e-6)


# -- ImageDataLoader ------------------------------------------------------------------------

MEAN, STD = (100.0, 120.0, 90.0), (50.0, 60.0, 70.0)


def _expected(array, step):
    """resize the shorter edge 16 -> 8 (x2 down) then centre-crop 8x8, normalized CHW."""
    small = step(array.astype(np.float64))
    crop = small[:, 2:10]
    return ((crop - MEAN) / STD).transpose(2, 0, 1)


def _nearest(a):
    return a[::2, ::2]


def _area(a):
    return np.rint(a.reshape(8, 2, 12, 2, 3).mean(axis=(1, 3)))


@pytest.mark.parametrize("inter_method, step", [(0, _nearest), (3, _area)])
def test_image_data_loader_values(pngs, inter_method, step):
    root, arrays = pngs
    imglist = [[i, f"img{i}.png"] for i in range(5)]
    loader = cv.ImageDataLoader(2, (3, 8, 8), imglist=imglist, path_root=str(root), resize=8,
                                mean=MEAN, std=STD, inter_method=inter_method, dtype="int32")
    batches = list(loader)
    assert len(loader) == 3 and [b[0].shape[0] for b in batches] == [2, 2, 1]
    data, label = batches[0]
    assert data.shape == (2, 3, 8, 8) and data.dtype == np.float32
    assert label.shape == (2, 1) and label.dtype == np.int32
    for i in range(2):
        np.testing.assert_allclose(data.asnumpy()[i], _expected(arrays[i], step), rtol=1e-5,
                                   atol=1e-5)
    np.testing.assert_array_equal(batches[2][1].asnumpy(), [[4]])


def test_image_data_loader_lst_rec_and_aug_list(pngs):
    root, arrays = pngs
    (root / "all.lst").write_text("".join(f"{i}\t{i * 10}\timg{i}.png\n" for i in range(5)))
    aug = [T.CenterCrop((8, 8), interpolation=0), T.ToTensor()]
    loader = cv.ImageDataLoader(5, (3, 8, 8), path_imglist="all.lst", path_root=str(root),
                                aug_list=aug)
    data, label = next(iter(loader))
    np.testing.assert_array_equal(label.asnumpy()[:, 0], [0, 10, 20, 30, 40])
    np.testing.assert_allclose(data.asnumpy()[3], arrays[3][4:12, 8:16].transpose(2, 0, 1) / 255,
                               rtol=1e-6)
    # a RecordIO file with one float label per image: labels (N,)
    rec = mx.recordio.MXIndexedRecordIO(str(root / "d.idx"), str(root / "d.rec"), "w")
    for i, a in enumerate(arrays):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="PNG")
        rec.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(i) + 0.5, i, 0),
                                          buf.getvalue()))
    rec.close()
    loader = cv.ImageDataLoader(5, (3, 8, 8), path_imgrec=str(root / "d.rec"),
                                aug_list=T.Compose(aug), dtype="float64")
    data, label = next(iter(loader))
    assert label.shape == (5,)
    np.testing.assert_allclose(label.asnumpy(), [0.5, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(data.asnumpy()[1], arrays[1][4:12, 8:16].transpose(2, 0, 1) / 255,
                               rtol=1e-6)


def test_image_data_loader_shuffle_shards_and_workers(pngs):
    root, _ = pngs
    imglist = [[i, f"img{i}.png"] for i in range(5)]

    def labels(**kwargs):
        loader = cv.ImageDataLoader(2, (3, 8, 8), imglist=imglist, path_root=str(root),
                                    dtype="int64", **kwargs)
        return [int(v) for _, b in loader for v in b.asnumpy().ravel()]

    assert labels(num_parts=2, part_index=0) == [0, 1, 2]
    assert labels(num_parts=2, part_index=1) == [3, 4]
    assert labels(num_parts=3, part_index=2) == [4]
    np.random.seed(3)
    shuffled = labels(shuffle=True)
    assert sorted(shuffled) == [0, 1, 2, 3, 4] and shuffled != [0, 1, 2, 3, 4]
    assert labels(last_batch="discard") == [0, 1, 2, 3]
    assert labels(num_workers=2) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="part_index 2 out of range"):
        labels(num_parts=2, part_index=2)


def test_image_data_loader_errors(pngs):
    root, _ = pngs
    imglist = [[0, "img0.png"]]
    with pytest.raises(AssertionError, match="path_imgrec"):
        cv.ImageDataLoader(1, (3, 8, 8))
    with pytest.raises(ValueError, match="uint8 label not supported"):
        cv.ImageDataLoader(1, (3, 8, 8), imglist=imglist, path_root=str(root), dtype="uint8")
    with pytest.raises(ValueError, match="aug_list must be"):
        cv.ImageDataLoader(1, (3, 8, 8), imglist=imglist, path_root=str(root), aug_list="flip")
    with pytest.raises(AssertionError, match="rand_crop"):
        cv.create_image_augment((3, 8, 8), rand_resize=True)
    with pytest.raises(ValueError, match="mean must be"):
        cv.create_image_augment((3, 8, 8), mean=0.5)
    with pytest.raises(TypeError):
        cv.ImageDataLoader(1, (3, 8, 8), imglist=imglist, path_root=str(root), no_such_aug=1)


def test_create_image_augment_random_pipeline_shapes():
    np.random.seed(0)
    aug = cv.create_image_augment((3, 10, 12), resize=14, rand_crop=True, rand_resize=True,
                                  rand_mirror=True, mean=True, std=True, brightness=0.1,
                                  contrast=0.1, saturation=0.1, hue=0.1, pca_noise=0.1,
                                  rand_gray=0.5, inter_method=10, dtype="float16")
    out = aug(mx.np.array(_pixels(20, 30, 2)))
    assert out.shape == (3, 10, 12) and out.dtype == np.float16


# -- ImageBboxDataLoader --------------------------------------------------------------------

def _det(root, arrays):
    """Two 16x24 images: img0 with one box, img1 with two (normalized im2rec labels)."""
    one = [2, 5, 3, 0.25, 0.25, 0.5, 0.75]
    two = [2, 5, 1, 0.0, 0.0, 0.5, 0.5, 7, 0.5, 0.5, 1.0, 1.0]
    return [one + ["img0.png"], two + ["img1.png"]]


def test_image_bbox_loader_flip_resize_and_padding(pngs):
    root, arrays = pngs
    aug = [B.ImageBboxRandomFlipLeftRight(p=1), B.ImageBboxResize(12, 8, interp=0),
           T.ToTensor()]
    loader = cv.ImageBboxDataLoader(2, (3, 8, 12), imglist=_det(root, arrays),
                                    path_root=str(root), aug_list=aug)
    data, boxes = next(iter(loader))
    assert data.shape == (2, 3, 8, 12) and boxes.shape == (2, 2, 5)
    assert boxes.dtype == np.float32
    # img0: (0.25, 0.25, 0.5, 0.75) of 24x16 -> (6, 4, 12, 12); flipped in width 24 ->
    # (12, 4, 18, 12); halved -> (6, 2, 9, 6); class 3; a -1 row pads it to two objects
    np.testing.assert_allclose(boxes.asnumpy()[0], [[6, 2, 9, 6, 3], [-1, -1, -1, -1, -1]])
    np.testing.assert_allclose(boxes.asnumpy()[1], [[6, 0, 12, 4, 1], [0, 4, 6, 8, 7]])
    np.testing.assert_allclose(data.asnumpy()[0],
                               arrays[0][::2, ::-1][:, ::2].transpose(2, 0, 1) / 255, rtol=1e-6)


def test_image_bbox_loader_default_augment_and_pixel_coords(pngs):
    root, arrays = pngs
    pixel = [[2, 6, 0, 2, 4, 10, 12, 0.5, "img2.png"]]  # label_width 6: one extra column
    loader = cv.ImageBboxDataLoader(1, (3, 32, 48), imglist=pixel, path_root=str(root),
                                    coord_normalized=False, inter_method=1, mean=True)
    data, boxes = next(iter(loader))
    assert data.shape == (1, 3, 32, 48) and data.dtype == np.float32
    np.testing.assert_allclose(boxes.asnumpy(), [[[4, 8, 20, 24, 0, 0.5]]])
    img = T.Resize((48, 32))(mx.np.array(arrays[2])).asnumpy().astype(np.float64)
    expected = (img - (123.68, 116.28, 103.53)).transpose(2, 0, 1)  # mean only: pixel - mean
    np.testing.assert_allclose(data.asnumpy()[0], expected, rtol=1e-5, atol=1e-6)
    ints = cv.ImageBboxDataLoader(1, (3, 32, 48), imglist=pixel, path_root=str(root),
                                  coord_normalized=False, dtype="int32")
    assert next(iter(ints))[1].dtype == np.int32


def test_image_bbox_loader_random_augment_runs(pngs):
    root, arrays = pngs
    np.random.seed(1)
    loader = cv.ImageBboxDataLoader(2, (3, 20, 20), imglist=_det(root, arrays),
                                    path_root=str(root), rand_crop=1, rand_pad=1, rand_gray=0.5,
                                    rand_mirror=True, mean=True, std=True, brightness=0.1,
                                    contrast=0.1, saturation=0.1, hue=0.1, pca_noise=0.1,
                                    inter_method=10, area_range=(0.3, 2.0), shuffle=True)
    for _ in range(3):
        for data, boxes in loader:
            assert data.shape == (2, 3, 20, 20) and boxes.dtype == np.float32
            real = boxes.asnumpy()[boxes.asnumpy()[:, :, 0] >= 0]
            assert (real[:, :2] < real[:, 2:4]).all() and (real[:, 2:4] <= 20 + 1e-4).all()


def test_bbox_label_transform_errors():
    img = mx.np.zeros((4, 4, 3), dtype="uint8")
    t = cv.BboxLabelTransform()
    with pytest.raises(ValueError, match="should >= 5, given 4"):
        t(img, mx.np.array([2, 4, 0, 0, 0, 1, 1]))
    with pytest.raises(ValueError, match="Expected label length >= 7"):
        t(img, mx.np.array([2, 5, 1, 0]))
    with pytest.raises(ValueError, match="Broken label of size 8"):
        t(img, mx.np.array([2, 5, 1, 0, 0, 1, 1, 9]))
    _, boxes = t(img, mx.np.array([3, 5, 99, 1, 0.25, 0.5, 0.75, 1.0]))  # header extra 99
    np.testing.assert_allclose(boxes.asnumpy(), [[1, 2, 3, 4, 1]])


# -- bbox transforms and utils against hand-computed boxes ----------------------------------

IMG = _pixels(6, 8, 4)  # H=6, W=8
BOXES = np.array([[0, 1, 3, 2, 0], [2, 0, 8, 6, 1], [6, 4, 8, 6, 2]], dtype=np.float32)


def test_flip_and_resize_transforms():
    img, boxes = B.ImageBboxRandomFlipLeftRight(p=1)(mx.np.array(IMG), mx.np.array(BOXES))
    np.testing.assert_array_equal(img.asnumpy(), IMG[:, ::-1])
    np.testing.assert_allclose(boxes.asnumpy(), [[5, 1, 8, 2, 0], [0, 0, 6, 6, 1],
                                                 [0, 4, 2, 6, 2]])
    img, boxes = B.ImageBboxRandomFlipLeftRight(p=0)(mx.np.array(IMG), mx.np.array(BOXES))
    np.testing.assert_array_equal(img.asnumpy(), IMG)
    img, boxes = B.ImageBboxResize(16, 3)(mx.np.array(IMG), mx.np.array(BOXES))
    assert img.shape == (3, 16, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img.asnumpy(), T.Resize((16, 3))(mx.np.array(IMG)).asnumpy())
    np.testing.assert_allclose(boxes.asnumpy(), [[0, 0.5, 6, 1, 0], [4, 0, 16, 3, 1],
                                                 [12, 2, 16, 3, 2]])
    with pytest.raises(NotImplementedError, match="HWC"):
        B.ImageBboxResize(4, 4)(mx.np.zeros((2, 6, 8, 3)), mx.np.array(BOXES))
    with pytest.raises(AssertionError, match=r"\(N, 4\+\)"):
        B.ImageBboxRandomFlipLeftRight()(mx.np.array(IMG), mx.np.array([1.0, 2.0, 3.0, 4.0]))


def test_crop_transform():
    img, boxes = B.ImageBboxCrop((2, 1, 6, 4))(mx.np.array(IMG), mx.np.array(BOXES))
    np.testing.assert_array_equal(img.asnumpy(), IMG[1:5, 2:8])  # reaches the right edge
    # box 0 centre (1.5, 1.5) is outside [2, 8) x [1, 5): dropped; box 1 clipped to the crop;
    # box 2 centre (7, 5) is outside (5 is the open bottom edge): dropped
    np.testing.assert_allclose(boxes.asnumpy(), [[0, 0, 6, 4, 1]])
    _, kept = B.ImageBboxCrop((2, 1, 6, 4), allow_outside_center=True)(mx.np.array(IMG),
                                                                       mx.np.array(BOXES))
    np.testing.assert_allclose(kept.asnumpy(), [[0, 0, 1, 1, 0], [0, 0, 6, 4, 1],
                                                [4, 3, 6, 4, 2]])
    img, same = B.ImageBboxCrop((4, 0, 6, 2))(mx.np.array(IMG), mx.np.array(BOXES))
    np.testing.assert_array_equal(img.asnumpy(), IMG)  # past the image: unchanged
    np.testing.assert_allclose(same.asnumpy(), BOXES)
    with pytest.raises(AssertionError, match="width, height > 0"):
        B.ImageBboxCrop((0, 0, 0, 2))


def test_random_crop_with_constraints_transform():
    t = B.ImageBboxRandomCropWithConstraints(p=1, min_scale=0.5)
    np.random.seed(5)
    img, boxes = t(mx.np.array(IMG), mx.np.array(BOXES))
    np.random.seed(5)
    np.random.uniform()  # the draw against p
    new_boxes, (x, y, w, h) = U.bbox_random_crop_with_constraints(BOXES, (8, 6), min_scale=0.5)
    np.testing.assert_array_equal(img.asnumpy(), IMG[y:y + h, x:x + w])
    np.testing.assert_allclose(boxes.asnumpy(), new_boxes)
    np.testing.assert_allclose(new_boxes, U.bbox_crop(BOXES, (x, y, w, h), False))
    img, boxes = B.ImageBboxRandomCropWithConstraints(p=0)(mx.np.array(IMG), mx.np.array(BOXES))
    np.testing.assert_array_equal(img.asnumpy(), IMG)
    # no boxes: the first crop drawn is taken
    np.random.seed(2)
    empty, crop = U.bbox_random_crop_with_constraints(np.zeros((0, 5)), (8, 6))
    assert empty.shape == (0, 5) and crop[0] + crop[2] <= 8 and crop[1] + crop[3] <= 6


def test_random_expand_transform():
    np.random.seed(0)
    img, boxes = B.ImageBboxRandomExpand(p=1, max_ratio=3, fill=(1, 2, 3))(
        mx.np.array(IMG), mx.np.array(BOXES))
    canvas, moved = img.asnumpy(), boxes.asnumpy()
    off_x, off_y = (moved[0, :2] - BOXES[0, :2]).astype(int)
    np.testing.assert_allclose(moved - BOXES, [[off_x, off_y, off_x, off_y, 0]] * 3)
    h, w = canvas.shape[:2]
    assert canvas.dtype == np.uint8 and w / 8 == pytest.approx(h / 6, abs=0.2)
    np.testing.assert_array_equal(canvas[off_y:off_y + 6, off_x:off_x + 8], IMG)
    mask = np.ones((h, w), dtype=bool)
    mask[off_y:off_y + 6, off_x:off_x + 8] = False
    assert (canvas[mask] == [1, 2, 3]).all()
    with pytest.raises(ValueError, match="Channel and fill size mismatch, 3 vs 2"):
        B.ImageBboxRandomExpand(p=1, fill=(1, 2))(mx.np.array(IMG), mx.np.array(BOXES))
    same, _ = B.ImageBboxRandomExpand(p=1, max_ratio=1)(mx.np.array(IMG), mx.np.array(BOXES))
    np.testing.assert_array_equal(same.asnumpy(), IMG)


def test_bbox_utils():
    a = np.array([[0, 0, 2, 2], [1, 1, 3, 3]], dtype=np.float64)
    np.testing.assert_allclose(U.bbox_iou(a, a[1:]), [[1 / 7], [1.0]])
    np.testing.assert_allclose(U.bbox_iou(a, a[1:], offset=1), [[4 / 14], [1.0]])
    assert U.bbox_xywh_to_xyxy((1, 2, 3, 4)) == (1, 2, 3, 5)
    assert U.bbox_xyxy_to_xywh((1, 2, 3, 5)) == (1, 2, 3, 4)
    np.testing.assert_allclose(U.bbox_xywh_to_xyxy(np.array([[1, 2, 3, 4]])), [[1, 2, 3, 5]])
    np.testing.assert_allclose(U.bbox_clip_xyxy(np.array([[-1, 2, 9, 9], [1, 1, 2, 2]]), 8, 6),
                               [[0, 2, 7, 5], [1, 1, 2, 2]])
    np.testing.assert_allclose(U.bbox_flip(BOXES, (8, 6), flip_y=True)[:, :4],
                               [[0, 4, 3, 5], [2, 0, 8, 6], [6, 0, 8, 2]])
    np.testing.assert_allclose(U.bbox_translate(BOXES, 1, -1)[0], [1, 0, 4, 1, 0])
    np.testing.assert_allclose(U.bbox_crop(BOXES, (None, None, 4, None)),
                               [[0, 1, 3, 2, 0], [2, 0, 4, 6, 1]])
    with pytest.raises(IndexError):
        U.bbox_iou(a[:, :3], a)
    with pytest.raises(TypeError):
        U.bbox_xywh_to_xyxy("1 2 3 4")
