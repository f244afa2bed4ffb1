"""MXNet 2.x's ``mx.image`` (``python/mxnet/image/image.py``) in numpy mode: reading,
decoding, resizing and cropping (H, W, C) ``mx.np`` images, the ``Augmenter`` classes,
``CreateAugmenter`` and the ``ImageIter`` data iterator.

Decoding is Pillow's (the ``gluon.data.vision`` decoder); resizing, rotation and the colour
formulas are ``mxlite.ops.image``'s (OpenCV's interpolation codes: 0 nearest, 1 bilinear,
2 bicubic, 3 area, 4 Lanczos-4; 9 and 10 as MXNet's ``_get_interp_method``).

Randomness is MXNet's: Python's ``random`` module for crops, interpolation code 10, the
jitter factors, flips, gray conversion, ``RandomOrderAug`` and ``ImageIter``'s shuffle
(``random.seed``); numpy's global generator for ``LightingAug`` and ``random_rotate``
(``numpy.random.seed``). The detection augmenters (``image/detection.py``) are not part of
mxlite."""
import json
import logging
import os
import random
import warnings
from numbers import Number

import numpy as np

from .. import io
from .. import numpy as _mx_np
from .. import recordio
from ..gluon.data.vision.datasets import imdecode as _pil_imdecode
from ..ndarray import ndarray as _ndarray
from ..ops import image as _ops

__all__ = ["imread", "imdecode", "imresize", "scale_down", "copyMakeBorder", "resize_short",
           "fixed_crop", "random_crop", "center_crop", "color_normalize", "random_size_crop",
           "imrotate", "random_rotate", "Augmenter", "SequentialAug", "ResizeAug",
           "ForceResizeAug", "RandomCropAug", "RandomSizedCropAug", "CenterCropAug",
           "RandomOrderAug", "BrightnessJitterAug", "ContrastJitterAug", "SaturationJitterAug",
           "HueJitterAug", "ColorJitterAug", "LightingAug", "ColorNormalizeAug",
           "RandomGrayAug", "HorizontalFlipAug", "CastAug", "CreateAugmenter", "ImageIter"]

numeric_types = (float, int, np.generic)


def _as_np(x):
    return x if isinstance(x, _ndarray) else _mx_np.array(x)


def _host(x):
    return x.asnumpy() if isinstance(x, _ndarray) else np.asarray(x)


def _like(out, dtype):
    """A float result in ``dtype``: floats cast, integers clipped and truncated (MXNet's
    saturate_cast)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return out.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    return _mx_np.clip(_mx_np.trunc(out), info.min, info.max).astype(dtype)


# -- reading and decoding ------------------------------------------------------------------------

def imdecode(buf, flag=1, to_rgb=True):
    """Decode an encoded image (bytes, bytearray, a numpy or ``mx.np`` uint8 buffer) into an
    (H, W, C) uint8 ``mx.np`` array: 3 channels with ``flag=1``, 1 gray channel with
    ``flag=0``; RGB order, or OpenCV's BGR with ``to_rgb=False``."""
    if isinstance(buf, _ndarray):
        buf = buf.asnumpy()
    if not isinstance(buf, (bytes, bytearray, np.ndarray)):
        raise ValueError("buf must be of type bytes, bytearray or numpy.ndarray, if you would "
                         "like to input type str, please convert to bytes")
    if isinstance(buf, np.ndarray):
        buf = np.ascontiguousarray(buf, dtype=np.uint8).tobytes()
    try:
        img = _pil_imdecode(bytes(buf), flag=flag)
    except ImportError:
        raise
    except Exception as e:  # Pillow's UnidentifiedImageError, truncated files, ...
        raise ValueError(f"imdecode: cannot decode the image ({e})") from e
    if not to_rgb and img.shape[2] == 3:
        img = img[:, :, ::-1]
    return img


def imread(filename, flag=1, to_rgb=True):
    """Read and decode the image file ``filename`` (see ``imdecode``)."""
    with open(filename, "rb") as f:
        buf = f.read()
    return imdecode(buf, flag=flag, to_rgb=to_rgb)


# -- geometry --------------------------------------------------------------------------------------

def _get_interp_method(interp, sizes=()):
    """MXNet's interpolation choice: 0-4 as given (OpenCV's codes), 9 bicubic (2) to enlarge,
    area (3) to shrink, bilinear (1) otherwise (area without ``sizes`` = (old_h, old_w,
    new_h, new_w)), 10 a random code in 0-4 (Python's ``random``)."""
    if interp == 9:
        if sizes:
            assert len(sizes) == 4
            oh, ow, nh, nw = sizes
            if nh > oh and nw > ow:
                return 2
            if nh < oh and nw < ow:
                return 3
            return 1
        return 3
    if interp == 10:
        return random.randint(0, 4)
    if interp not in (0, 1, 2, 3, 4):
        raise ValueError(f"Unknown interp method {interp}")
    return interp


def imresize(src, w, h, interp=1):
    """``src`` (H, W, C) resized to ``w`` x ``h`` with OpenCV's interpolation ``interp``
    (0-4, or 9/10 as ``_get_interp_method``); integer images are rounded."""
    w, h = int(w), int(h)
    if w <= 0 or h <= 0:
        raise ValueError(f"imresize: w and h must be positive, got {w} x {h}")
    src = _as_np(src)
    interp = _get_interp_method(interp, (src.shape[0], src.shape[1], h, w))
    return _ops.resize(src, size=(w, h), interp=interp)


def scale_down(src_size, size):
    """The crop ``size`` (w, h) scaled down, keeping its aspect ratio, to fit an image of
    ``src_size`` (w, h)."""
    w, h = size
    sw, sh = src_size
    if sh < h:
        w, h = float(w * sh) / h, sh
    if sw < w:
        w, h = sw, float(h * sw) / w
    return int(w), int(h)


_BORDERS = {0: "constant", 1: "symmetric", 2: "reflect", 3: "edge", 4: "wrap"}


def copyMakeBorder(src, top, bot, left, right, type=0, value=0.0, values=()):  # noqa: A002
    """Pad (H, W, C) ``src`` by ``top``/``bot`` rows and ``left``/``right`` columns: ``type``
    0 constant (``values`` per channel, else ``value``), 1 reflect (fedcba|abcd), 2 reflect
    101 (dcb|abcd), 3 replicate, 4 wrap (OpenCV's border types)."""
    if type not in _BORDERS:
        raise ValueError(f"copyMakeBorder: type must be one of {sorted(_BORDERS)}, got {type}")
    src = _as_np(src)
    host = src.asnumpy()
    pads = ((int(top), int(bot)), (int(left), int(right))) + ((0, 0),) * (host.ndim - 2)
    if min(v for p in pads for v in p) < 0:
        raise ValueError("copyMakeBorder: margins must be >= 0")
    if type == 0:
        out = np.pad(host, pads, mode="constant")
        fill = np.zeros(host.shape[2] if host.ndim == 3 else 1)
        fill[:] = value
        vals = list(values)[:len(fill)]
        fill[:len(vals)] = vals
        mask = np.ones(out.shape[:2], dtype=bool)
        mask[pads[0][0]:pads[0][0] + host.shape[0], pads[1][0]:pads[1][0] + host.shape[1]] = False
        out[mask] = fill.astype(host.dtype) if host.ndim == 3 else fill[0]
    else:
        out = np.pad(host, pads, mode=_BORDERS[type])
    return _mx_np.array(out, dtype=out.dtype, device=src.device)


def resize_short(src, size, interp=2):
    """``src`` resized so that its shorter edge is ``size`` (the longer one scaled and
    truncated)."""
    h, w = src.shape[0], src.shape[1]
    if h > w:
        new_h, new_w = size * h // w, size
    else:
        new_h, new_w = size, size * w // h
    return imresize(src, new_w, new_h, interp=_get_interp_method(interp, (h, w, new_h, new_w)))


def fixed_crop(src, x0, y0, w, h, size=None, interp=2):
    """The ``w`` x ``h`` region of ``src`` at column ``x0``, row ``y0``, resized to ``size``
    (w, h) when given and different."""
    out = _as_np(src)[y0:y0 + h, x0:x0 + w]
    if size is not None and (w, h) != tuple(size):
        sizes = (h, w, size[1], size[0])
        out = imresize(out, *size, interp=_get_interp_method(interp, sizes))
    return out


def random_crop(src, size, interp=2):
    """A random crop of ``size`` (w, h) (scaled down to fit, then resized up to ``size``):
    ``(out, (x0, y0, w, h))``."""
    h, w = src.shape[0], src.shape[1]
    new_w, new_h = scale_down((w, h), size)
    x0 = random.randint(0, w - new_w)
    y0 = random.randint(0, h - new_h)
    out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
    return out, (x0, y0, new_w, new_h)


def center_crop(src, size, interp=2):
    """The centre crop of ``size`` (w, h) (scaled down to fit, then resized up to ``size``):
    ``(out, (x0, y0, w, h))``."""
    h, w = src.shape[0], src.shape[1]
    new_w, new_h = scale_down((w, h), size)
    x0 = int((w - new_w) / 2)
    y0 = int((h - new_h) / 2)
    out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
    return out, (x0, y0, new_w, new_h)


def color_normalize(src, mean, std=None):
    """``(src - mean) / std`` (either may be None). Returns a new array; ``src`` is left
    unchanged."""
    if mean is not None:
        src = src - _as_np(mean)
    if std is not None:
        src = src / _as_np(std)
    return src


def random_size_crop(src, size, area, ratio, interp=2, **kwargs):
    """A crop of random area (fraction ``area`` = min or (min, max) of the image) and aspect
    ratio (log-uniform in ``ratio``), resized to ``size`` (w, h); after 10 misses, the centre
    crop. Returns ``(out, (x0, y0, w, h))``."""
    h, w = src.shape[0], src.shape[1]
    src_area = h * w
    if "min_area" in kwargs:
        warnings.warn("`min_area` is deprecated. Please use `area` instead.",
                      DeprecationWarning)
        area = kwargs.pop("min_area")
    if kwargs:
        raise TypeError(f"unexpected keyword arguments for `random_size_crop`: {sorted(kwargs)}")
    if isinstance(area, numeric_types):
        area = (area, 1.0)
    for _ in range(10):
        target_area = random.uniform(area[0], area[1]) * src_area
        log_ratio = (np.log(ratio[0]), np.log(ratio[1]))
        new_ratio = np.exp(random.uniform(*log_ratio))
        new_w = int(round(np.sqrt(target_area * new_ratio)))
        new_h = int(round(np.sqrt(target_area / new_ratio)))
        if new_w <= w and new_h <= h:
            x0 = random.randint(0, w - new_w)
            y0 = random.randint(0, h - new_h)
            out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
            return out, (x0, y0, new_w, new_h)
    return center_crop(src, size, interp)


def imrotate(src, rotation_degrees, zoom_in=False, zoom_out=False):
    """(C, H, W) float32 image or (N, C, H, W) batch rotated counter-clockwise by
    ``rotation_degrees`` (a number; or one per image for a batch) about its centre, bilinear,
    zero padding; ``zoom_in`` hides the padding, ``zoom_out`` keeps the whole image."""
    if zoom_in and zoom_out:
        raise ValueError("`zoom_in` and `zoom_out` cannot be both True")
    src = _as_np(src)
    if np.dtype(src.dtype) != np.float32:
        raise TypeError("Only `float32` images are supported by this function")
    if src.ndim == 3:
        if not isinstance(rotation_degrees, Number):
            raise TypeError("When a single image is passed the rotation angle is "
                            "required to be a scalar.")
    elif src.ndim != 4:
        raise ValueError("Only 3D and 4D are supported by this function")
    else:
        degrees = np.atleast_1d(_host(rotation_degrees)).astype(np.float64)
        if degrees.size == 1 and isinstance(rotation_degrees, Number):
            degrees = np.repeat(degrees, len(src))
        if len(src) != degrees.size:
            raise ValueError("The number of images must be equal to the number of rotation "
                             "angles")
        rotation_degrees = degrees
    return _ops.rotate(src, rotation_degrees, zoom_in=zoom_in, zoom_out=zoom_out)


def random_rotate(src, angle_limits, zoom_in=False, zoom_out=False):
    """``imrotate`` by angles drawn uniformly in ``angle_limits`` (numpy's global
    generator), one per image of a batch."""
    if src.ndim == 3:
        rotation_degrees = np.random.uniform(*angle_limits)
    else:
        rotation_degrees = np.random.uniform(*angle_limits, size=src.shape[0])
    return imrotate(src, rotation_degrees, zoom_in=zoom_in, zoom_out=zoom_out)


# -- augmenters ------------------------------------------------------------------------------------

class Augmenter:
    """Image Augmenter base class: ``__call__(src)`` returns the augmented image; ``dumps()``
    the JSON ``[name, kwargs]``."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        for k, v in self._kwargs.items():
            if isinstance(v, _ndarray):
                v = v.asnumpy()
            if isinstance(v, np.ndarray):
                self._kwargs[k] = v.tolist()

    def dumps(self):
        """The Augmenter as a JSON string."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __call__(self, src):
        raise NotImplementedError("Must override implementation.")


class SequentialAug(Augmenter):
    """Apply the augmenters ``ts`` in order."""

    def __init__(self, ts):
        super().__init__()
        self.ts = ts

    def dumps(self):
        return [self.__class__.__name__.lower(), [x.dumps() for x in self.ts]]

    def __call__(self, src):
        for aug in self.ts:
            src = aug(src)
        return src


class ResizeAug(Augmenter):
    """Resize the shorter edge to ``size``."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size = size
        self.interp = interp

    def __call__(self, src):
        return resize_short(src, self.size, self.interp)


class ForceResizeAug(Augmenter):
    """Resize to ``size`` (w, h), ignoring the aspect ratio."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size = size
        self.interp = interp

    def __call__(self, src):
        sizes = (src.shape[0], src.shape[1], self.size[1], self.size[0])
        return imresize(src, *self.size, interp=_get_interp_method(self.interp, sizes))


class RandomCropAug(Augmenter):
    """Random crop of ``size`` (w, h)."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size = size
        self.interp = interp

    def __call__(self, src):
        return random_crop(src, self.size, self.interp)[0]


class RandomSizedCropAug(Augmenter):
    """Random crop of random area and aspect ratio, resized to ``size`` (w, h)."""

    def __init__(self, size, area, ratio, interp=2, **kwargs):
        super().__init__(size=size, area=area, ratio=ratio, interp=interp)
        self.size = size
        if "min_area" in kwargs:
            warnings.warn("`min_area` is deprecated. Please use `area` instead.",
                          DeprecationWarning)
            self.area = kwargs.pop("min_area")
        else:
            self.area = area
        self.ratio = ratio
        self.interp = interp
        if kwargs:
            raise TypeError("unexpected keyword arguments for `RandomSizedCropAug`: "
                            f"{sorted(kwargs)}")

    def __call__(self, src):
        return random_size_crop(src, self.size, self.area, self.ratio, self.interp)[0]


class CenterCropAug(Augmenter):
    """Centre crop of ``size`` (w, h)."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size = size
        self.interp = interp

    def __call__(self, src):
        return center_crop(src, self.size, self.interp)[0]


class RandomOrderAug(Augmenter):
    """Apply the augmenters ``ts`` in a random order (``random.shuffle`` of ``ts``)."""

    def __init__(self, ts):
        super().__init__()
        self.ts = ts

    def dumps(self):
        return [self.__class__.__name__.lower(), [x.dumps() for x in self.ts]]

    def __call__(self, src):
        random.shuffle(self.ts)
        for t in self.ts:
            src = t(src)
        return src


class _BlendJitterAug(Augmenter):
    """``_blend(src, a)`` with ``a = 1 + U(-s, s)``, ``s`` the strength kept under the
    attribute ``_strength`` names (MXNet's public attribute)."""
    _strength = None

    def __call__(self, src):
        s = getattr(self, self._strength)
        alpha = 1.0 + random.uniform(-s, s)
        return _like(type(self)._blend(_mx_np, src, alpha), src.dtype)


class BrightnessJitterAug(_BlendJitterAug):
    """Scale by ``1 + U(-brightness, brightness)``."""
    _strength, _blend = "brightness", staticmethod(_ops.brightness)

    def __init__(self, brightness):
        super().__init__(brightness=brightness)
        self.brightness = brightness


class ContrastJitterAug(_BlendJitterAug):
    """Blend with the image's mean luma: ``src * a + (1 - a) * mean(gray)``,
    ``a = 1 + U(-contrast, contrast)``."""
    _strength, _blend = "contrast", staticmethod(_ops.contrast)

    def __init__(self, contrast):
        super().__init__(contrast=contrast)
        self.contrast = contrast


class SaturationJitterAug(_BlendJitterAug):
    """Blend each pixel with its luma: ``src * a + (1 - a) * gray``,
    ``a = 1 + U(-saturation, saturation)``."""
    _strength, _blend = "saturation", staticmethod(_ops.saturation)

    def __init__(self, saturation):
        super().__init__(saturation=saturation)
        self.saturation = saturation


class HueJitterAug(Augmenter):
    """Rotate the chroma (YIQ) by ``U(-hue, hue) * pi`` radians."""

    def __init__(self, hue):
        super().__init__(hue=hue)
        self.hue = hue
        self.tyiq = _ops.TO_YIQ
        self.ityiq = _ops.FROM_YIQ

    def __call__(self, src):
        alpha = random.uniform(-self.hue, self.hue)
        return _like(_ops.hue_yiq(_mx_np, src, alpha * np.pi), src.dtype)


class ColorJitterAug(RandomOrderAug):
    """Brightness, contrast and saturation jitter (those > 0) in random order."""

    def __init__(self, brightness, contrast, saturation):
        ts = []
        if brightness > 0:
            ts.append(BrightnessJitterAug(brightness))
        if contrast > 0:
            ts.append(ContrastJitterAug(contrast))
        if saturation > 0:
            ts.append(SaturationJitterAug(saturation))
        super().__init__(ts)


class LightingAug(Augmenter):
    """AlexNet's PCA lighting noise: add ``eigvec @ (alpha * eigval)``,
    ``alpha ~ N(0, alphastd)`` (numpy's global generator)."""

    def __init__(self, alphastd, eigval, eigvec):
        super().__init__(alphastd=alphastd, eigval=eigval, eigvec=eigvec)
        self.alphastd = alphastd
        self.eigval = eigval
        self.eigvec = eigvec

    def __call__(self, src):
        alpha = np.random.normal(0, self.alphastd, size=(3,))
        rgb = np.dot(_host(self.eigvec) * alpha, _host(self.eigval))
        return _like(_ops.lighting(_mx_np, src, rgb), src.dtype)


class ColorNormalizeAug(Augmenter):
    """``(src - mean) / std``."""

    def __init__(self, mean, std):
        super().__init__(mean=mean, std=std)
        self.mean = mean if mean is None or isinstance(mean, _ndarray) else _mx_np.array(mean)
        self.std = std if std is None or isinstance(std, _ndarray) else _mx_np.array(std)

    def __call__(self, src):
        return color_normalize(src, self.mean, self.std)


class RandomGrayAug(Augmenter):
    """With probability ``p``, every channel becomes ``0.21 R + 0.72 G + 0.07 B``."""

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p
        self.mat = _mx_np.array([[0.21, 0.21, 0.21], [0.72, 0.72, 0.72], [0.07, 0.07, 0.07]])

    def __call__(self, src):
        if random.random() < self.p:
            src = _like(_mx_np.dot(src, self.mat.astype(src.dtype if src.dtype.kind == "f"
                                                        else np.float32)), src.dtype)
        return src


class HorizontalFlipAug(Augmenter):
    """With probability ``p``, flip left-right."""

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p

    def __call__(self, src):
        if random.random() < self.p:
            src = _mx_np.flip(src, axis=1)
        return src


class CastAug(Augmenter):
    """Cast to ``typ`` (float32)."""

    def __init__(self, typ="float32"):
        super().__init__(type=typ)
        self.typ = typ

    def __call__(self, src):
        return src.astype(self.typ)


def CreateAugmenter(data_shape, resize=0, rand_crop=False, rand_resize=False, rand_mirror=False,
                    mean=None, std=None, brightness=0, contrast=0, saturation=0, hue=0,
                    pca_noise=0, rand_gray=0, inter_method=2):
    """MXNet's standard augmenter list for ``data_shape`` (C, H, W): [ResizeAug],
    RandomSizedCropAug / RandomCropAug / CenterCropAug, [HorizontalFlipAug], CastAug,
    [ColorJitterAug], [HueJitterAug], [LightingAug], [RandomGrayAug], [ColorNormalizeAug]
    (``mean``/``std`` True: ImageNet's RGB values)."""
    auglist = []
    if resize > 0:
        auglist.append(ResizeAug(resize, inter_method))
    crop_size = (data_shape[2], data_shape[1])
    if rand_resize:
        if not rand_crop:
            raise ValueError("CreateAugmenter: rand_resize requires rand_crop")
        auglist.append(RandomSizedCropAug(crop_size, 0.08, (3.0 / 4.0, 4.0 / 3.0),
                                          inter_method))
    elif rand_crop:
        auglist.append(RandomCropAug(crop_size, inter_method))
    else:
        auglist.append(CenterCropAug(crop_size, inter_method))
    if rand_mirror:
        auglist.append(HorizontalFlipAug(0.5))
    auglist.append(CastAug())
    if brightness or contrast or saturation:
        auglist.append(ColorJitterAug(brightness, contrast, saturation))
    if hue:
        auglist.append(HueJitterAug(hue))
    if pca_noise > 0:
        auglist.append(LightingAug(pca_noise, _ops.EIGVAL.copy(), _ops.EIGVEC.copy()))
    if rand_gray > 0:
        auglist.append(RandomGrayAug(rand_gray))
    if mean is True:
        mean = _mx_np.array([123.68, 116.28, 103.53])
    elif mean is not None:
        if not (isinstance(mean, (np.ndarray, _ndarray)) and mean.shape[0] in (1, 3)):
            raise ValueError("CreateAugmenter: mean must be True, None or an array of 1 or 3 "
                             "values")
    if std is True:
        std = _mx_np.array([58.395, 57.12, 57.375])
    elif std is not None:
        if not (isinstance(std, (np.ndarray, _ndarray)) and std.shape[0] in (1, 3)):
            raise ValueError("CreateAugmenter: std must be True, None or an array of 1 or 3 "
                             "values")
    if mean is not None or std is not None:
        auglist.append(ColorNormalizeAug(mean, std))
    return auglist


# -- the iterator --------------------------------------------------------------------------------

class ImageIter(io.DataIter):
    """Batches of augmented images from a ``.rec`` file (``path_imgrec``, with
    ``path_imgidx`` for shuffling and partitions), an image list file (``path_imglist``:
    ``index<TAB>label(s)<TAB>path`` lines) or ``imglist`` (``[label(s), path]`` items), the
    paths relative to ``path_root``. Data (N, C, H, W) float32, labels (N,) or
    (N, label_width) in ``dtype``; ``last_batch_handle`` 'pad' (fill from the start),
    'discard' or 'roll_over'. ``kwargs`` go to ``CreateAugmenter`` when ``aug_list`` is
    None."""

    def __init__(self, batch_size, data_shape, label_width=1,
                 path_imgrec=None, path_imglist=None, path_root=None, path_imgidx=None,
                 shuffle=False, part_index=0, num_parts=1, aug_list=None, imglist=None,
                 data_name="data", label_name="softmax_label", dtype="float32",
                 last_batch_handle="pad", **kwargs):
        super().__init__(batch_size)
        if not (path_imgrec or path_imglist or isinstance(imglist, list)):
            raise ValueError("ImageIter needs path_imgrec, path_imglist or imglist (a list)")
        if dtype not in ("int32", "float32", "int64", "float64"):
            raise ValueError(f"{dtype} label not supported")
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            raise ValueError("last_batch_handle must be 'pad', 'discard' or 'roll_over', got "
                             f"{last_batch_handle!r}")
        class_name = type(self).__name__
        if path_imgrec:
            logging.info("%s: loading recordio %s...", class_name, path_imgrec)
            if path_imgidx:
                self.imgrec = recordio.MXIndexedRecordIO(path_imgidx, path_imgrec, "r")
                self.imgidx = list(self.imgrec.keys)
            else:
                self.imgrec = recordio.MXRecordIO(path_imgrec, "r")
                self.imgidx = None
        else:
            self.imgrec = None

        imgkeys = None
        if path_imglist:
            logging.info("%s: loading image list %s...", class_name, path_imglist)
            self.imglist, imgkeys = {}, []
            with open(path_imglist) as fin:
                for line in fin:
                    fields = line.strip().split("\t")
                    if len(fields) < 3:
                        if not line.strip():
                            continue
                        raise ValueError(f"{path_imglist}: expected 'index<TAB>label(s)<TAB>"
                                         f"path', got {line!r}")
                    key = int(fields[0])
                    label = _mx_np.array([float(v) for v in fields[1:-1]], dtype=dtype)
                    self.imglist[key] = (label, fields[-1])
                    imgkeys.append(key)
        elif isinstance(imglist, list):
            logging.info("%s: loading image list...", class_name)
            self.imglist, imgkeys = {}, []
            for index, img in enumerate(imglist, 1):
                if len(img) > 2:
                    label = _mx_np.array(img[:-1], dtype=dtype)
                elif isinstance(img[0], numeric_types):
                    label = _mx_np.array([img[0]], dtype=dtype)
                else:
                    label = _mx_np.array(img[0], dtype=dtype)
                self.imglist[index] = (label, img[-1])
                imgkeys.append(index)
        else:
            self.imglist = None
        self.path_root = path_root

        self.check_data_shape(data_shape)
        data_shape = tuple(data_shape)
        self.provide_data = [io.DataDesc(data_name, (batch_size,) + data_shape)]
        label_shape = (batch_size, label_width) if label_width > 1 else (batch_size,)
        self.provide_label = [io.DataDesc(label_name, label_shape, np.dtype(dtype).type,
                                          layout="N")]
        self.data_shape = data_shape
        self.label_width = label_width
        self.dtype = dtype
        self.shuffle = shuffle
        if self.imgrec is None:
            self.seq = imgkeys
        elif shuffle or num_parts > 1 or path_imgidx:
            if self.imgidx is None:
                raise ValueError("ImageIter: shuffle and num_parts > 1 over a .rec file need "
                                 "its index, path_imgidx")
            self.seq = self.imgidx
        else:
            self.seq = None
        if num_parts > 1:
            if not 0 <= part_index < num_parts:
                raise ValueError(f"part_index {part_index} is not in [0, {num_parts})")
            n = len(self.seq) // num_parts
            self.seq = self.seq[part_index * n:(part_index + 1) * n]
        self.auglist = CreateAugmenter(data_shape, **kwargs) if aug_list is None else aug_list
        self.last_batch_handle = last_batch_handle
        self.num_image = len(self.seq) if self.seq is not None else None
        self.hard_reset()

    def reset(self):
        """Start the next epoch (reshuffled); with 'roll_over', a cached partial batch is
        kept and completed by the next batch."""
        if self.seq is not None and self.shuffle:
            random.shuffle(self.seq)
        if self.last_batch_handle != "roll_over" or self._cache_data is None:
            if self.imgrec is not None:
                self.imgrec.reset()
            self.cur = 0
            self._allow_read = True

    def hard_reset(self):
        """Reset, dropping any rolled-over data."""
        if self.seq is not None and self.shuffle:
            random.shuffle(self.seq)
        if self.imgrec is not None:
            self.imgrec.reset()
        self.cur = 0
        self._allow_read = True
        self._cache_data = None
        self._cache_label = None
        self._cache_idx = None

    def next_sample(self):
        """(label, encoded image bytes) of the next sample; StopIteration at the end."""
        if self._allow_read is False:
            raise StopIteration
        if self.seq is not None:
            if self.cur < self.num_image:
                idx = self.seq[self.cur]
            else:
                if self.last_batch_handle != "discard":
                    self.cur = 0
                raise StopIteration
            self.cur += 1
            if self.imgrec is not None:
                header, img = recordio.unpack(self.imgrec.read_idx(idx))
                if self.imglist is None:
                    return header.label, img
                return self.imglist[idx][0], img
            label, fname = self.imglist[idx]
            return label, self.read_image(fname)
        s = self.imgrec.read()
        if s is None:
            if self.last_batch_handle != "discard":
                self.imgrec.reset()
            raise StopIteration
        header, img = recordio.unpack(s)
        return header.label, img

    def _label_slot(self, label):
        label = _host(label).astype(self.dtype).reshape(-1)
        want = self.label_width
        if label.size < want:
            raise ValueError(f"ImageIter: a sample has {label.size} label(s), label_width is "
                             f"{want}")
        return label[:want] if want > 1 else label[0]

    def _batchify(self, batch_data, batch_label, start=0):
        i = start
        try:
            while i < self.batch_size:
                label, s = self.next_sample()
                data = self.imdecode(s)
                try:
                    self.check_valid_image(data)
                except RuntimeError as e:
                    logging.debug("Invalid image, skipping:  %s", str(e))
                    continue
                data = self.augmentation_transform(data)
                batch_data[i] = _host(self.postprocess_data(data))
                batch_label[i] = self._label_slot(label)
                i += 1
        except StopIteration:
            if not i:
                raise
        return i

    def next(self):
        """The next DataBatch (``pad``: how many of its last examples are padding)."""
        c, h, w = self.data_shape
        if self._cache_data is not None:
            batch_data, batch_label, i = self._cache_data, self._cache_label, self._cache_idx
        else:
            batch_data = np.zeros((self.batch_size, c, h, w), dtype=np.float32)
            batch_label = np.zeros(self.provide_label[0].shape, dtype=self.dtype)
            i = self._batchify(batch_data, batch_label)
        pad = self.batch_size - i
        if pad != 0:
            if self.last_batch_handle == "discard":
                raise StopIteration
            if self.last_batch_handle == "roll_over" and self._cache_data is None:
                self._cache_data, self._cache_label, self._cache_idx = batch_data, batch_label, i
                raise StopIteration
            filled = self._batchify(batch_data, batch_label, i)
            if self.last_batch_handle == "pad":
                self._allow_read = False
            else:
                self._cache_data = self._cache_label = self._cache_idx = None
                pad = self.batch_size - filled
        return io.DataBatch([_mx_np.array(batch_data, dtype=np.float32)],
                            [_mx_np.array(batch_label, dtype=batch_label.dtype)], pad=pad)

    def check_data_shape(self, data_shape):
        """Data shape must be (3, H, W)."""
        if not len(data_shape) == 3:
            raise ValueError("data_shape should have length 3, with dimensions CxHxW")
        if not data_shape[0] == 3:
            raise ValueError("This iterator expects inputs to have 3 channels.")

    def check_valid_image(self, data):
        """Raise RuntimeError for an empty image."""
        if len(data[0].shape) == 0:
            raise RuntimeError("Data shape is wrong")

    def imdecode(self, s):
        """Decode ``s`` (see ``mx.image.imdecode``); RuntimeError naming the sample when it
        cannot be decoded."""
        try:
            return imdecode(s)
        except Exception as e:
            where = None
            if self.seq is not None and self.num_image:
                idx = self.seq[(self.cur - 1) % self.num_image]
                where = (f"filename: {self.imglist[idx][1]}" if self.imglist is not None
                         and idx in self.imglist else f"index: {idx}")
            raise RuntimeError(f"Broken image {where or 'record'}, {e}") from e

    def read_image(self, fname):
        """The raw bytes of image file ``fname`` under ``path_root``."""
        path = fname if self.path_root is None else os.path.join(self.path_root, fname)
        with open(path, "rb") as fin:
            return fin.read()

    def augmentation_transform(self, data):
        """``data`` through ``self.auglist``."""
        for aug in self.auglist:
            data = aug(data)
        return data

    def postprocess_data(self, datum):
        """HWC to CHW."""
        return datum.transpose(2, 0, 1)
