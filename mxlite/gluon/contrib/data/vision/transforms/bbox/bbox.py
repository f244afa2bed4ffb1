"""Bounding-box transforms: Blocks called as ``block(image, bbox)`` that return
``(new_image, new_bbox)``, moving the boxes with the image.

The image is (H, W, C) (uint8 from the datasets) and keeps its dtype; ``bbox`` is (N, 4+)
``(xmin, ymin, xmax, ymax, extra...)`` in pixels, extra columns untouched. Both come back as
``mx.np`` arrays. Random choices draw from numpy's global generator."""
import numbers

import numpy as _np

from ....... import numpy as mnp
from .......ndarray import ndarray
from ......block import Block
from .......ops.image import INTERPOLATIONS
from ......data.vision.transforms.image import Resize
from .utils import (_check_bbox_shape, bbox_crop, bbox_random_crop_with_constraints,
                    bbox_resize, bbox_translate, BboxError)

__all__ = ["ImageBboxRandomFlipLeftRight", "ImageBboxCrop", "ImageBboxRandomCropWithConstraints",
           "ImageBboxRandomExpand", "ImageBboxResize"]


def _host(x):
    return x.asnumpy() if isinstance(x, ndarray) else _np.asarray(x)


def _out(img, bbox):
    """``(image, bbox)`` as ``mx.np`` arrays; the image keeps its dtype."""
    return mnp.array(_np.ascontiguousarray(img), dtype=img.dtype), mnp.array(bbox)


def _hwc(img, what):
    if img.ndim != 3:
        raise NotImplementedError(f"{what} only supports images in HWC format, given shape "
                                  f"{img.shape}")
    return img


class ImageBboxRandomFlipLeftRight(Block):
    """Mirror the image and its boxes left to right with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, img, bbox):
        img, bbox = _host(img), _host(bbox)
        _check_bbox_shape(bbox)
        if _np.random.uniform() < self.p:
            img = img[..., ::-1, :]
            bbox = bbox.copy()
            bbox[:, [0, 2]] = img.shape[-2] - bbox[:, [2, 0]]
        return _out(img, bbox)


class ImageBboxCrop(Block):
    """Crop the image to ``crop`` = (x, y, width, height) and the boxes with it (clipped,
    shifted; empty ones dropped, and with ``allow_outside_center=False`` those whose centre
    falls outside). A crop reaching past the image leaves both unchanged, as in MXNet."""

    def __init__(self, crop, allow_outside_center=False):
        super().__init__()
        if len(crop) != 4:
            raise BboxError(f"expect crop to be (x, y, width, height), given {crop!r}")
        x, y, width, height = crop
        if x < 0 or y < 0 or width <= 0 or height <= 0:
            raise BboxError(f"crop (x={x}, y={y}, width={width}, height={height}) needs x, y "
                            f">= 0 and width, height > 0")
        self._crop = tuple(int(c) for c in crop)
        self._allow_outside_center = allow_outside_center

    def forward(self, img, bbox):
        img, bbox = _host(img), _host(bbox)
        _check_bbox_shape(bbox)
        x, y, width, height = self._crop
        if x + width > img.shape[-2] or y + height > img.shape[-3]:
            return _out(img, bbox)
        new_img = img[..., y:y + height, x:x + width, :]
        return _out(new_img, bbox_crop(bbox, self._crop, self._allow_outside_center))


class ImageBboxRandomCropWithConstraints(Block):
    """With probability ``p``, SSD's random crop under IoU constraints
    (``utils.bbox_random_crop_with_constraints``, which documents the arguments)."""

    def __init__(self, p=0.5, min_scale=0.3, max_scale=1, max_aspect_ratio=2, constraints=None,
                 max_trial=50):
        super().__init__()
        self.p = p
        self._args = {"min_scale": min_scale, "max_scale": max_scale,
                      "max_aspect_ratio": max_aspect_ratio, "constraints": constraints,
                      "max_trial": max_trial}

    def forward(self, img, bbox):
        img, bbox = _host(img), _host(bbox)
        _check_bbox_shape(bbox)
        if _np.random.uniform() >= self.p:
            return _out(img, bbox)
        size = (img.shape[-2], img.shape[-3])
        new_bbox, (x, y, width, height) = bbox_random_crop_with_constraints(bbox, size,
                                                                            **self._args)
        return _out(img[..., y:y + height, x:x + width, :], new_bbox)


class ImageBboxRandomExpand(Block):
    """With probability ``p`` (and ``max_ratio`` > 1), place the image at a random offset on
    a canvas 1 to ``max_ratio`` times its size filled with ``fill`` (a number, or one value
    per channel), moving the boxes with it; ``keep_ratio`` scales both sides alike."""

    def __init__(self, p=0.5, max_ratio=4, fill=0, keep_ratio=True):
        super().__init__()
        self.p = p
        self._max_ratio = max_ratio
        self._fill = fill
        self._keep_ratio = keep_ratio

    def forward(self, img, bbox):
        img, bbox = _host(img), _host(bbox)
        _check_bbox_shape(bbox)
        if self._max_ratio <= 1 or _np.random.uniform() >= self.p:
            return _out(img, bbox)
        h, w, c = _hwc(img, "ImageBboxRandomExpand").shape
        ratio_x = _np.random.uniform(1, self._max_ratio)
        ratio_y = ratio_x if self._keep_ratio else _np.random.uniform(1, self._max_ratio)
        out_h, out_w = int(h * ratio_y), int(w * ratio_x)
        off_y = _np.random.randint(0, out_h - h + 1)
        off_x = _np.random.randint(0, out_w - w + 1)
        if isinstance(self._fill, numbers.Number):
            fill = self._fill
        else:
            fill = _np.asarray(self._fill, dtype=img.dtype).reshape(-1)
            if fill.size != c:
                raise ValueError(f"Channel and fill size mismatch, {c} vs {fill.size}")
        canvas = _np.empty((out_h, out_w, c), dtype=img.dtype)
        canvas[...] = fill
        canvas[off_y:off_y + h, off_x:off_x + w, :] = img
        return _out(canvas, bbox_translate(bbox, off_x, off_y))


class ImageBboxResize(Block):
    """Resize the image to ``width`` x ``height`` and scale the boxes to match;
    ``interp`` is an OpenCV interpolation code (0-5; -1 picks one at random per call)."""

    def __init__(self, width, height, interp=1):
        super().__init__()
        if interp != -1 and interp not in INTERPOLATIONS:
            raise ValueError(f"ImageBboxResize: interp {interp} is not supported: -1 (random) "
                             f"or one of {INTERPOLATIONS}")
        self._size = (int(width), int(height))
        self._interp = interp

    def forward(self, img, bbox):
        img, bbox = _host(img), _host(bbox)
        _check_bbox_shape(bbox)
        _hwc(img, "ImageBboxResize")
        interp = _np.random.randint(0, 6) if self._interp == -1 else self._interp
        new_bbox = bbox_resize(bbox, (img.shape[1], img.shape[0]), self._size)
        return Resize(self._size, interpolation=interp)(img), mnp.array(new_bbox)
