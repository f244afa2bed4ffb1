"""Bounding-box arithmetic on host numpy arrays, as MXNet's (GluonCV's) ``bbox.utils``.

Boxes are (N, 4+) arrays ``(xmin, ymin, xmax, ymax, extra...)`` in pixels; the extra
columns (class id, difficulty, ...) ride along untouched. Sizes are ``(width, height)``.
Random crops draw from numpy's global generator, as the image transforms do."""
import numpy as np

__all__ = ["BboxError", "bbox_crop", "bbox_flip", "bbox_resize", "bbox_translate", "bbox_iou",
           "bbox_xywh_to_xyxy", "bbox_xyxy_to_xywh", "bbox_clip_xyxy",
           "bbox_random_crop_with_constraints"]


class BboxError(ValueError, AssertionError):
    """A bad box array or argument: a ValueError, and an AssertionError as MXNet raises."""


def _check_bbox_shape(bbox):
    if len(bbox.shape) != 2 or bbox.shape[1] < 4:
        raise BboxError(f"bbox requires shape of (N, 4+), given: {tuple(bbox.shape)}")


def _pair(value, name):
    if len(value) != 2:
        raise ValueError(f"{name} requires a (width, height) pair, given {value!r}")
    return value


def bbox_crop(bbox, crop_box=None, allow_outside_center=True):
    """The boxes clipped to ``crop_box`` = (x, y, width, height) and shifted to its origin;
    boxes left empty are dropped, and with ``allow_outside_center=False`` so are boxes whose
    centre lies outside the crop. A None in ``crop_box`` leaves that side unbounded."""
    bbox = np.array(bbox, copy=True)
    if crop_box is None:
        return bbox
    if len(crop_box) != 4:
        raise ValueError(f"Invalid crop_box parameter, requires length 4, given {crop_box!r}")
    if all(c is None for c in crop_box):
        return bbox
    left, top, width, height = crop_box
    left, top = left or 0, top or 0
    corner = np.array((left, top), dtype=np.float64)
    far = np.array((left + (width or np.inf), top + (height or np.inf)))
    keep = np.ones(len(bbox), dtype=bool)
    if not allow_outside_center:
        centres = (bbox[:, :2] + bbox[:, 2:4]) / 2
        keep = ((corner <= centres) & (centres < far)).all(axis=1)
    bbox[:, :2] = np.maximum(bbox[:, :2], corner) - corner
    bbox[:, 2:4] = np.minimum(bbox[:, 2:4], far) - corner
    keep &= (bbox[:, :2] < bbox[:, 2:4]).all(axis=1)
    return bbox[keep]


def bbox_flip(bbox, size, flip_x=False, flip_y=False):
    """The boxes of an image of ``size`` = (width, height) mirrored horizontally
    (``flip_x``) and/or vertically (``flip_y``)."""
    width, height = _pair(size, "size")
    bbox = np.array(bbox, copy=True)
    if flip_y:
        bbox[:, [1, 3]] = height - bbox[:, [3, 1]]
    if flip_x:
        bbox[:, [0, 2]] = width - bbox[:, [2, 0]]
    return bbox


def bbox_resize(bbox, in_size, out_size):
    """The boxes scaled from an image of ``in_size`` to one of ``out_size`` (both
    (width, height)), as float64."""
    in_w, in_h = _pair(in_size, "in_size")
    out_w, out_h = _pair(out_size, "out_size")
    bbox = np.array(bbox, dtype=np.float64, copy=True)
    bbox[:, [0, 2]] *= out_w / in_w
    bbox[:, [1, 3]] *= out_h / in_h
    return bbox


def bbox_translate(bbox, x_offset=0, y_offset=0):
    """The boxes moved by (``x_offset``, ``y_offset``)."""
    bbox = np.array(bbox, copy=True)
    bbox[:, :4] += (x_offset, y_offset, x_offset, y_offset)
    return bbox


def bbox_iou(bbox_a, bbox_b, offset=0):
    """(N, M) intersection over union of the boxes of ``bbox_a`` (N, 4+) and ``bbox_b``
    (M, 4+); ``offset`` 1 counts ``right - left + 1`` pixels (integer pixel boxes), 0 for
    normalized ones."""
    if bbox_a.shape[1] < 4 or bbox_b.shape[1] < 4:
        raise IndexError(f"Bounding boxes axis 1 must have at least length 4, given "
                         f"{bbox_a.shape} and {bbox_b.shape}")
    top_left = np.maximum(bbox_a[:, None, :2], bbox_b[:, :2])
    bottom_right = np.minimum(bbox_a[:, None, 2:4], bbox_b[:, 2:4])
    inter = np.prod(bottom_right - top_left + offset, axis=2) * \
        (top_left < bottom_right).all(axis=2)
    area_a = np.prod(bbox_a[:, 2:4] - bbox_a[:, :2] + offset, axis=1)
    area_b = np.prod(bbox_b[:, 2:4] - bbox_b[:, :2] + offset, axis=1)
    return inter / (area_a[:, None] + area_b - inter)


def _boxes(boxes, name):
    """(kind, array): a 4-sequence as one (1, 4) row, an (N, 4) array as it is."""
    if isinstance(boxes, (tuple, list)):
        if len(boxes) != 4:
            raise IndexError(f"Bounding boxes must have 4 elements, given {len(boxes)}")
        return "one", np.asarray(boxes, dtype=np.float64)[None, :]
    if isinstance(boxes, np.ndarray):
        if boxes.size % 4:
            raise IndexError(f"Bounding boxes must have n * 4 elements, given {boxes.shape}")
        return "many", boxes.reshape(-1, 4)
    raise TypeError(f"Expect input {name} a list, tuple or numpy.ndarray, given "
                    f"{type(boxes).__name__}")


def _back(kind, boxes):
    return tuple(boxes[0].tolist()) if kind == "one" else boxes


def bbox_xywh_to_xyxy(xywh):
    """(x, y, w, h) boxes to (xmin, ymin, xmax, ymax) with inclusive pixel corners
    (``xmax = x + w - 1``); a 4-sequence gives a tuple, an (N, 4) array an array."""
    kind, b = _boxes(xywh, "xywh")
    return _back(kind, np.hstack((b[:, :2], b[:, :2] + np.maximum(0, b[:, 2:4] - 1))))


def bbox_xyxy_to_xywh(xyxy):
    """(xmin, ymin, xmax, ymax) boxes with inclusive corners to (x, y, w, h)."""
    kind, b = _boxes(xyxy, "xyxy")
    return _back(kind, np.hstack((b[:, :2], b[:, 2:4] - b[:, :2] + 1)))


def bbox_clip_xyxy(xyxy, width, height):
    """(xmin, ymin, xmax, ymax) boxes clipped to the pixels of a ``width`` x ``height`` image
    (0 .. width - 1, 0 .. height - 1); an (N, 4) array gives an (N, 4) array."""
    kind, b = _boxes(xyxy, "xyxy")
    limit = np.array((width - 1, height - 1, width - 1, height - 1))
    return _back(kind, np.minimum(limit, np.maximum(0, b)))


_SSD_CONSTRAINTS = ((0.1, None), (0.3, None), (0.5, None), (0.7, None), (0.9, None), (None, 1))


def bbox_random_crop_with_constraints(bbox, size, min_scale=0.3, max_scale=1,
                                      max_aspect_ratio=2, constraints=None, max_trial=50):
    """SSD's random crop: ``(cropped boxes, (x, y, width, height))``.

    For each ``(min_iou, max_iou)`` constraint (None: unbounded; SSD's six by default) up to
    ``max_trial`` crops of random scale in [``min_scale``, ``max_scale``] and aspect ratio
    within ``max_aspect_ratio`` are drawn until one's IoU with every box lies in the range.
    One of the found crops, or the whole image, is then picked at random among those that
    keep a box centre (``bbox_crop(..., allow_outside_center=False)``); with no boxes, the
    first crop drawn is taken. Falls back to the whole image."""
    if constraints is None:
        constraints = _SSD_CONSTRAINTS
    w, h = _pair(size, "size")
    candidates = [(0, 0, w, h)]
    for min_iou, max_iou in constraints:
        min_iou = -np.inf if min_iou is None else min_iou
        max_iou = np.inf if max_iou is None else max_iou
        for _ in range(max_trial):
            scale = np.random.uniform(min_scale, max_scale)
            aspect = np.random.uniform(max(1 / max_aspect_ratio, scale * scale),
                                       min(max_aspect_ratio, 1 / (scale * scale)))
            crop_h = min(h, int(h * scale / np.sqrt(aspect)))
            crop_w = min(w, int(w * scale * np.sqrt(aspect)))
            crop_t = np.random.randint(0, h - crop_h + 1)
            crop_l = np.random.randint(0, w - crop_w + 1)
            crop = (crop_l, crop_t, crop_w, crop_h)
            if len(bbox) == 0:
                return bbox, crop
            iou = bbox_iou(bbox, np.array([[crop_l, crop_t, crop_l + crop_w, crop_t + crop_h]]))
            if min_iou <= iou.min() and iou.max() <= max_iou:
                candidates.append(crop)
                break
    while candidates:
        crop = candidates.pop(np.random.randint(0, len(candidates)))
        new_bbox = bbox_crop(bbox, crop, allow_outside_center=False)
        if new_bbox.size:
            return new_bbox, crop
    return bbox, (0, 0, w, h)
