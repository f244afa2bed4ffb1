"""Image transforms (``gluon.data.vision.transforms.image``), as MXNet 2.x has them.

Images are (H, W, C) arrays, or (N, H, W, C) batches, of any dtype (uint8 from the
datasets); sizes are given as ``(width, height)`` or one int for both, as in MXNet.
The math is ``mxlite.ops.image``'s, shared with ``mx.npx.image``: ToTensor, Normalize and
the flips are those ops (on the input's device, differentiable); crops, resizing and the
colour transforms run its formulas on the host in float64 and return ``mx.np`` arrays of the
input's dtype (integer results rounded; npx's colour ops truncate, as MXNet's). Resizing
follows OpenCV's pixel-centre convention for its ``interpolation`` codes, which MXNet passes
on (0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 Lanczos, 5 bilinear; uint8 results are
rounded, so they may differ from OpenCV's fixed-point arithmetic by one).
Random transforms draw from numpy's global generator, so ``numpy.random.seed`` makes them
reproducible.

As in MXNet, every transform takes extra inputs after the image and returns them untouched
(``(image, bbox)`` in, ``(new_image, bbox)`` out), so image transforms chain with the
bounding-box ones of ``gluon.contrib.data.vision`` in one Sequential."""
import math

import numpy as _np

from ..... import numpy as mnp
from .....base import MXNetError
from .....numpy_extension import image as _npx_image
from .....ops import image as _ops
from .....ndarray import ndarray
from ....block import Block

__all__ = ["ToTensor", "Normalize", "Resize", "CenterCrop", "CropResize", "RandomCrop",
           "RandomResizedCrop", "RandomFlipLeftRight", "RandomFlipTopBottom",
           "RandomBrightness", "RandomContrast", "RandomSaturation", "RandomHue",
           "RandomColorJitter", "RandomLighting", "RandomGray", "Rotate", "RandomRotation"]


class _ImageTransform(Block):
    """``forward(image, *rest)``: ``_apply`` to the image, the rest passed through."""

    def forward(self, x, *args):
        out = self._apply(x)
        return (out,) + args if args else out


def _as_array(x):
    return x if isinstance(x, ndarray) else mnp.array(_np.asarray(x))


def _host_image(x, what):
    x = x.asnumpy() if isinstance(x, ndarray) else _np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{what} expects an (H, W, C) image or an (N, H, W, C) batch, got "
                         f"shape {x.shape}")
    return x


def _back(x, like):
    """A host result as an ``mx.np`` array of ``like``'s dtype."""
    if _np.issubdtype(like.dtype, _np.integer) and not _np.issubdtype(x.dtype, _np.integer):
        info = _np.iinfo(like.dtype)
        x = _np.clip(_np.rint(x), info.min, info.max)
    return mnp.array(_np.ascontiguousarray(x.astype(like.dtype, copy=False)), dtype=like.dtype)


class TransformArgumentError(ValueError, MXNetError):
    """A transform's size, mean/std or input shape it cannot work with (MXNet raises
    MXNetError; numpy code expects ValueError)."""


def _size(size, what):
    """``(width, height)`` from an int or a pair."""
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise TransformArgumentError(f"{what}: size must be a positive int or (width, "
                                     f"height), got {size}")
    return size


def _resize(img, width, height, interpolation):
    """Resize the H and W axes (-3, -2) of a host image or batch (float64 result, or the
    image itself when its size is already right): ``ops.image``'s OpenCV weights."""
    _ops.check_interpolation(interpolation)
    if (img.shape[-3], img.shape[-2]) == (height, width):
        return img
    return _ops.resize_xp(_np, img.astype(_np.float64), width, height, interpolation)


class ToTensor(_ImageTransform):
    """(H, W, C) or (N, H, W, C) uint8 in [0, 255] -> (C, H, W) / (N, C, H, W) float32 in [0, 1]."""

    def _apply(self, x):
        x = _as_array(x)
        if x.ndim not in (3, 4):
            raise ValueError(f"ToTensor expects (H, W, C) or (N, H, W, C) input, got shape {x.shape}")
        return _npx_image.to_tensor(x)


class Normalize(_ImageTransform):
    """``(x - mean) / std`` per channel of a (C, H, W) or (N, C, H, W) float tensor."""

    def __init__(self, mean=0.0, std=1.0):
        super().__init__()
        self._mean = _np.asarray(mean, dtype=_np.float32)
        self._std = _np.asarray(std, dtype=_np.float32)
        for name, value in (("mean", self._mean), ("std", self._std)):
            if value.ndim > 1:
                raise TransformArgumentError(f"Normalize: {name} must be a number or one value "
                                             f"per channel, got shape {value.shape}")

    def _apply(self, x):  # npx.image.normalize checks the layout and the value counts
        return _npx_image.normalize(_as_array(x), mean=self._mean, std=self._std)


class Resize(_ImageTransform):
    """Resize to ``size`` = (width, height); with ``keep_ratio`` and an int size the shorter
    side becomes ``size`` and the other keeps the aspect ratio. ``interpolation`` 0 is
    nearest, 1 bilinear."""

    def __init__(self, size, keep_ratio=False, interpolation=1):
        super().__init__()
        if isinstance(size, int) and size <= 0:
            raise TransformArgumentError(f"Resize: size must be positive, got {size}")
        self._keep_ratio = keep_ratio and isinstance(size, int)
        self._short = size if self._keep_ratio else None
        self._size = None if self._keep_ratio else _size(size, "Resize")
        self._interpolation = interpolation

    def _apply(self, x):
        img = _host_image(x, "Resize")
        h, w = img.shape[-3], img.shape[-2]
        if self._keep_ratio:
            if h < w:
                size = (int(w * self._short / h), self._short)
            else:
                size = (self._short, int(h * self._short / w))
        else:
            size = self._size
        return _back(_resize(img, size[0], size[1], self._interpolation), img)


def _crop(img, x0, y0, w, h):
    return img[..., y0:y0 + h, x0:x0 + w, :]


class CropResize(_ImageTransform):
    """The ``width`` x ``height`` region at column ``x``, row ``y``; resized to ``size``
    when given."""

    def __init__(self, x, y, width, height, size=None, interpolation=1):
        super().__init__()
        self._box = (int(x), int(y), int(width), int(height))
        self._size = None if size is None else _size(size, "CropResize")
        self._interpolation = interpolation

    def _apply(self, x):
        img = _host_image(x, "CropResize")
        x0, y0, w, h = self._box
        if x0 < 0 or y0 < 0 or x0 + w > img.shape[-2] or y0 + h > img.shape[-3]:
            raise ValueError(f"CropResize: box (x={x0}, y={y0}, width={w}, height={h}) is "
                             f"outside the {img.shape[-2]}x{img.shape[-3]} image")
        out = _crop(img, x0, y0, w, h)
        if self._size is not None:
            out = _resize(out, *self._size, self._interpolation)
        return _back(out, img)


class CenterCrop(_ImageTransform):
    """The central ``size`` = (width, height) region. An image smaller than ``size`` gives
    its largest central region of that aspect ratio, resized up to ``size`` (MXNet's
    ``center_crop``)."""

    def __init__(self, size, interpolation=1):
        super().__init__()
        self._size = _size(size, "CenterCrop")
        self._interpolation = interpolation

    def _apply(self, x):
        img = _host_image(x, "CenterCrop")
        h, w = img.shape[-3], img.shape[-2]
        cw, ch = self._size
        if cw > w or ch > h:
            ratio = min(w / cw, h / ch)
            cw, ch = max(1, int(cw * ratio)), max(1, int(ch * ratio))
        out = _crop(img, (w - cw) // 2, (h - ch) // 2, cw, ch)
        return _back(_resize(out, *self._size, self._interpolation), img)


class RandomCrop(_ImageTransform):
    """A random ``size`` = (width, height) region, after padding each side by ``pad``
    pixels of ``pad_value`` when given (the CIFAR recipe: ``RandomCrop(32, pad=4)``)."""

    def __init__(self, size, pad=None, pad_value=0, interpolation=1):
        super().__init__()
        self._size = _size(size, "RandomCrop")
        self._pad = pad
        self._pad_value = pad_value
        self._interpolation = interpolation

    def _apply(self, x):
        img = _host_image(x, "RandomCrop")
        out = img
        if self._pad:
            widths = [(0, 0)] * (img.ndim - 3) + [(self._pad, self._pad)] * 2 + [(0, 0)]
            out = _np.pad(img, widths, constant_values=self._pad_value)
        h, w = out.shape[-3], out.shape[-2]
        cw, ch = self._size
        if cw > w or ch > h:
            out = _resize(out, max(cw, w), max(ch, h), self._interpolation)
            h, w = out.shape[-3], out.shape[-2]
        x0, y0 = _np.random.randint(0, w - cw + 1), _np.random.randint(0, h - ch + 1)
        return _back(_crop(out, x0, y0, cw, ch), img)


class RandomResizedCrop(_ImageTransform):
    """A region of random area (a ``scale`` fraction of the image) and aspect ratio
    (log-uniform in ``ratio``), resized to ``size``; after 10 draws that do not fit, the
    central crop (the Inception recipe)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=1):
        super().__init__()
        self._size = _size(size, "RandomResizedCrop")
        if not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomResizedCrop: need 0 < scale[0] <= scale[1] <= 1 and "
                             f"0 < ratio[0] <= ratio[1], got scale={scale}, ratio={ratio}")
        self._scale, self._ratio = scale, ratio
        self._interpolation = interpolation

    def _box(self, w, h):
        area = w * h
        log_ratio = (math.log(self._ratio[0]), math.log(self._ratio[1]))
        for _ in range(10):
            target = _np.random.uniform(*self._scale) * area
            aspect = math.exp(_np.random.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return _np.random.randint(0, w - cw + 1), _np.random.randint(0, h - ch + 1), cw, ch
        return None

    def _apply(self, x):
        img = _host_image(x, "RandomResizedCrop")
        box = self._box(img.shape[-2], img.shape[-3])
        if box is None:
            return CenterCrop(self._size, self._interpolation)(img)
        return _back(_resize(_crop(img, *box), *self._size, self._interpolation), img)


class _RandomFlip(_ImageTransform):
    def __init__(self, p=0.5):
        super().__init__()
        self._p = p

    def _apply(self, x):
        x = _as_array(x)
        if x.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__} expects an (H, W, C) image or an "
                             f"(N, H, W, C) batch, got shape {x.shape}")
        if _np.random.uniform() < self._p:
            return self._flip(x)
        return x.copy()


class RandomFlipLeftRight(_RandomFlip):
    """Mirror the width axis with probability ``p``."""

    _flip = staticmethod(_npx_image.flip_left_right)


class RandomFlipTopBottom(_RandomFlip):
    """Mirror the height axis with probability ``p``."""

    _flip = staticmethod(_npx_image.flip_top_bottom)


class _RandomColor(_ImageTransform):
    """``ops.image``'s blend ``_blend(x, alpha)`` with alpha uniform in [1 - s, 1 + s]."""

    def __init__(self, strength):
        super().__init__()
        if strength < 0:
            raise ValueError(f"{type(self).__name__}: strength must be >= 0, got {strength}")
        self._strength = strength

    def _apply(self, x):
        img = _host_image(x, type(self).__name__)
        alpha = 1.0 + _np.random.uniform(-self._strength, self._strength)
        return _back(self._blend(img.astype(_np.float64), alpha), img)


class RandomBrightness(_RandomColor):
    """Scale intensities by a random factor in [1 - brightness, 1 + brightness]."""

    def _blend(self, src, alpha):
        return _ops.brightness(_np, src, alpha)


class RandomContrast(_RandomColor):
    """Blend with the image's mean gray level by a random factor in
    [1 - contrast, 1 + contrast]."""

    def _blend(self, src, alpha):
        return _ops.contrast(_np, src, alpha)


class RandomSaturation(_RandomColor):
    """Blend each pixel with its gray level by a random factor in
    [1 - saturation, 1 + saturation] (RGB images)."""

    def _blend(self, src, alpha):
        if src.shape[-1] != 3:
            raise ValueError(f"RandomSaturation needs RGB images, got {src.shape[-1]} channels")
        return _ops.saturation(_np, src, alpha)


class RandomHue(_ImageTransform):
    """Rotate the chroma (I, Q of YIQ) of RGB images by a random angle in
    [-hue, hue] x pi, keeping luma."""

    def __init__(self, hue):
        super().__init__()
        if hue < 0:
            raise ValueError(f"RandomHue: hue must be >= 0, got {hue}")
        self._hue = hue

    def _apply(self, x):
        img = _host_image(x, "RandomHue")
        if img.shape[-1] != 3:
            raise ValueError(f"RandomHue needs RGB images, got {img.shape[-1]} channels")
        angle = _np.random.uniform(-self._hue, self._hue) * _np.pi
        return _back(_ops.hue_yiq(_np, img.astype(_np.float64), angle), img)


class RandomColorJitter(_ImageTransform):
    """Brightness, contrast, saturation and hue jitter (each skipped when 0), applied in a
    random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        super().__init__()
        pairs = ((brightness, RandomBrightness), (contrast, RandomContrast),
                 (saturation, RandomSaturation), (hue, RandomHue))
        self._jitters = [klass(strength) for strength, klass in pairs if strength]

    def _apply(self, x):
        for i in _np.random.permutation(len(self._jitters)):
            x = self._jitters[i](x)
        return _as_array(x)


class RandomLighting(_ImageTransform):
    """Add AlexNet-style PCA lighting noise: ``eigvec @ (alpha * eigval)`` with
    alpha ~ N(0, ``alpha``) per component, to every pixel of RGB images in [0, 255]."""

    def __init__(self, alpha):
        super().__init__()
        self._alpha = alpha

    def _apply(self, x):
        img = _host_image(x, "RandomLighting")
        if img.shape[-1] != 3:
            raise ValueError(f"RandomLighting needs RGB images, got {img.shape[-1]} channels")
        shift = _ops.pca_shift(_np.random.normal(0, self._alpha, size=3))
        return _back(_ops.lighting(_np, img.astype(_np.float64), shift), img)


class RandomGray(_ImageTransform):
    """With probability ``p``, every channel of an RGB image becomes its luma
    ``0.2989 R + 0.587 G + 0.114 B`` (the channel count stays 3); the result is float32
    either way, as MXNet's."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def _apply(self, x):
        img = _host_image(x, "RandomGray").astype(_np.float32)
        if img.shape[-1] != 3:
            raise ValueError(f"RandomGray needs RGB images, got {img.shape[-1]} channels")
        if _np.random.uniform() < self.p:
            luma = img @ _np.array([0.2989, 0.587, 0.114], dtype=_np.float32)
            img = _np.repeat(luma[..., None], 3, axis=-1)
        return mnp.array(_np.ascontiguousarray(img), dtype="float32")


class Rotate(_ImageTransform):
    """Rotate a (C, H, W) float tensor (or an (N, C, H, W) batch) by ``rotation_degrees``
    counter-clockwise about its centre, bilinearly, zeros where nothing maps (MXNet's
    ``image.imrotate``; ``zoom_in`` hides the padding, ``zoom_out`` keeps the whole image);
    use it after ``ToTensor``."""

    def __init__(self, rotation_degrees, zoom_in=False, zoom_out=False):
        super().__init__()
        if zoom_in and zoom_out:
            raise ValueError("Rotate: zoom_in and zoom_out cannot both be True")
        self._args = (rotation_degrees, zoom_in, zoom_out)

    def _apply(self, x):
        return _ops.rotate(_as_array(x), *self._args)


class RandomRotation(_ImageTransform):
    """``Rotate`` by an angle drawn uniformly from ``angle_limits`` (one per image of a
    batch), with probability ``rotate_with_proba``; draws from numpy's global generator."""

    def __init__(self, angle_limits, zoom_in=False, zoom_out=False, rotate_with_proba=1.0):
        super().__init__()
        lower, upper = angle_limits
        if lower >= upper:
            raise ValueError(f"RandomRotation: angle_limits must be (lower, upper) with "
                             f"lower < upper, got {angle_limits}")
        if not 0 <= rotate_with_proba <= 1:
            raise ValueError(f"RandomRotation: rotate_with_proba must lie in [0, 1], got "
                             f"{rotate_with_proba}")
        if zoom_in and zoom_out:
            raise ValueError("RandomRotation: zoom_in and zoom_out cannot both be True")
        self._limits, self._zoom = (lower, upper), (zoom_in, zoom_out)
        self._p = rotate_with_proba

    def _apply(self, x):
        x = _as_array(x)
        if _np.random.random_sample() >= self._p:
            return x
        angles = _np.random.uniform(*self._limits, size=x.shape[0] if x.ndim == 4 else None)
        return _ops.rotate(x, angles, *self._zoom)

