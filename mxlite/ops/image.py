"""Image operators (MXNet 2.x's ``_npx__image_*``, public as ``mx.npx.image``) and the image
math that ``gluon.data.vision.transforms`` shares with them.

Images are (H, W, C) arrays or (N, H, W, C) batches of any dtype (uint8 from the datasets);
``to_tensor`` makes (C, H, W) / (N, C, H, W) float32 tensors in [0, 1], which ``normalize``
takes. Sizes are ``(width, height)``. Everything is written once against the array module
``xp`` (numpy or CuPy); the formulas (``resize_weights``, ``contrast``, ``hue_hls``, ...)
take and return float64 arrays, and the ops cast back to the input's dtype: integer results
are clipped to the dtype's range, then truncated by the colour ops (MXNet's
``saturate_cast``) and rounded by resizing (OpenCV).

Resizing is separable and linear: one (dst, src) weight matrix per axis for OpenCV's
interpolation codes (0 nearest, 1 bilinear, 2 bicubic with a = -0.75, 3 area with OpenCV's
rule for enlarging, 4 Lanczos-4, 5 bilinear), at OpenCV's pixel centres; so a crop and a
resize have an exact adjoint (the transposed matrices), their gradient.

Gradients (MXNet passes the output gradient through unchanged, ``_copy``, for every op but
``normalize`` and ``crop``; mxlite differentiates each op): ``to_tensor`` (transposed back,
/ 255), ``normalize`` (/ std), the flips (flipped back), ``crop`` / ``resize`` /
``random_crop`` / ``random_resized_crop`` (the adjoint of the crop and the resize weights),
brightness, contrast, saturation (their linear maps' adjoints for the factor drawn) and
lighting (identity: a constant shift); ``random_hue`` and the hue step of
``random_color_jitter`` are not differentiable. Integer inputs take no gradient.
"""
import functools
import math

import numpy as _np

from ..autograd import apply, defop
from ..ndarray import untraceable
from . import ShapeError, add_at, to_nd

__all__ = ["to_tensor", "normalize", "flip_left_right", "flip_top_bottom",
           "random_flip_left_right", "random_flip_top_bottom", "random_brightness",
           "random_contrast", "random_saturation", "random_hue", "random_color_jitter",
           "adjust_lighting", "random_lighting", "resize", "crop", "random_crop",
           "random_resized_crop"]

INTERPOLATIONS = {0: "nearest", 1: "bilinear", 2: "bicubic", 3: "area", 4: "Lanczos",
                  5: "bilinear"}
LUMA = (0.299, 0.587, 0.114)
# ImageNet RGB principal components (AlexNet's lighting noise, MXNet's AdjustLighting)
EIGVAL = _np.array([55.46, 4.794, 1.148])
EIGVEC = _np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                    [-0.5836, -0.6948, 0.4203]])
# RGB <-> YIQ, for the gluon RandomHue's rotation about the luma axis (MXNet 1.x HueJitterAug)
TO_YIQ = _np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.321], [0.211, -0.523, 0.311]])
FROM_YIQ = _np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.107, 1.705]])


# -- dtype handling ---------------------------------------------------------------------------

def saturate(xp, f, dtype, rounding):
    """Float result ``f`` in ``dtype``: floats cast; integers clipped to the dtype's range and
    rounded (``rounding=True``, OpenCV's resize) or truncated (MXNet's saturate_cast)."""
    dtype = _np.dtype(dtype)
    if dtype.kind in "fc":
        return f.astype(dtype, copy=False)
    if dtype.kind == "b":
        return f != 0
    info = _np.iinfo(dtype)
    f = xp.rint(f) if rounding else xp.trunc(f)
    return xp.clip(f, info.min, info.max).astype(dtype)


def _f64(xp, x):
    return x.astype(_np.float64, copy=False)


# -- resizing ---------------------------------------------------------------------------------

def check_interpolation(interp):
    if interp not in INTERPOLATIONS:
        raise ValueError(f"interpolation {interp} is not supported: one of "
                         f"{INTERPOLATIONS} (OpenCV's codes)")


@functools.lru_cache(maxsize=256)
def axis_map(src, dst, nearest):
    """Host source indices ``lo``, ``hi`` and weights ``frac`` of ``dst`` output pixels along
    one axis: output i = src[lo] * (1 - frac) + src[hi] * frac (nearest: frac = 0), at
    OpenCV's pixel centres, edges clamped."""
    scale = src / dst
    if nearest:
        lo = _np.minimum(_np.floor(_np.arange(dst) * scale).astype(_np.int64), src - 1)
        return lo, lo, _np.zeros(dst)
    centre = (_np.arange(dst) + 0.5) * scale - 0.5
    lo = _np.floor(centre)
    frac = centre - lo
    frac[lo < 0] = 0.0
    lo = _np.clip(lo, 0, src - 1).astype(_np.int64)
    frac[lo >= src - 1] = 0.0
    return lo, _np.minimum(lo + 1, src - 1), frac


def _linear_matrix(src, dst, nearest):
    """``axis_map`` as a (dst, src) matrix."""
    lo, hi, frac = axis_map(src, dst, nearest)
    out = _np.zeros((dst, src))
    rows = _np.arange(dst)
    _np.add.at(out, (rows, lo), 1.0 - frac)
    _np.add.at(out, (rows, hi), frac)
    return out


def _cubic(d, a=-0.75):
    """OpenCV's bicubic kernel (a = -0.75) at distances ``d``."""
    d = _np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return _np.where(d <= 1, near, _np.where(d < 2, far, 0.0))


def _lanczos4(d):
    return _np.sinc(d) * _np.sinc(d / 4)


def _kernel_matrix(src, dst, taps, kernel):
    """(dst, src) weights of a ``taps``-wide kernel about each output pixel's source centre;
    taps past the border repeat the edge pixel."""
    centre = (_np.arange(dst) + 0.5) * (src / dst) - 0.5
    first = _np.floor(centre).astype(_np.int64) - (taps // 2 - 1)
    index = first[:, None] + _np.arange(taps)
    weights = kernel(centre[:, None] - index)
    weights /= weights.sum(axis=1, keepdims=True)
    out = _np.zeros((dst, src))
    _np.add.at(out, (_np.repeat(_np.arange(dst), taps), _np.clip(index, 0, src - 1).ravel()),
               weights.ravel())
    return out


def _area_matrix(src, dst):
    """(dst, src) weights averaging the source pixels each output pixel covers (shrinking)."""
    scale = src / dst
    start = _np.arange(dst)[:, None] * scale
    pixel = _np.arange(src)[None, :]
    overlap = _np.minimum(pixel + 1, start + scale) - _np.maximum(pixel, start)
    return _np.maximum(overlap, 0.0) / scale


def _area_upscale_matrix(src, dst):
    """OpenCV's INTER_AREA when enlarging: linear weights from the covered fraction."""
    scale = dst / src
    sx = _np.floor(_np.arange(dst) / scale).astype(_np.int64)
    fx = (_np.arange(dst) + 1) - (sx + 1) * scale
    fx = _np.where(fx <= 0, 0.0, fx - _np.floor(fx))
    fx[sx >= src - 1] = 0.0
    sx = _np.minimum(sx, src - 1)
    out = _np.zeros((dst, src))
    out[_np.arange(dst), sx] += 1 - fx
    out[_np.arange(dst), _np.minimum(sx + 1, src - 1)] += fx
    return out


@functools.lru_cache(maxsize=256)
def resize_weights(h, w, height, width, interp):
    """Host (height, h) and (width, w) float64 matrices resizing an h x w image to
    ``height`` x ``width`` with OpenCV's interpolation ``interp``."""
    check_interpolation(interp)
    if interp in (0, 1, 5):
        return (_linear_matrix(h, height, interp == 0), _linear_matrix(w, width, interp == 0))
    if interp == 3:  # OpenCV averages only when neither axis grows
        matrix = _area_matrix if h >= height and w >= width else _area_upscale_matrix
        return matrix(h, height), matrix(w, width)
    taps, kernel = (4, _cubic) if interp == 2 else (8, _lanczos4)
    return _kernel_matrix(h, height, taps, kernel), _kernel_matrix(w, width, taps, kernel)


def _weights(xp, h, w, height, width, interp):
    wy, wx = resize_weights(h, w, height, width, interp)
    return xp.asarray(wy), xp.asarray(wx)


def _separable(xp, src, wy, wx):
    """``wy`` along the H axis and ``wx`` along the W axis of (..., H, W, C) ``src``."""
    *lead, h, w, c = src.shape
    t = xp.matmul(wy, src.reshape(*lead, h, w * c)).reshape(*lead, wy.shape[0], w, c)
    return xp.matmul(wx, t)


def resize_xp(xp, src, width, height, interp):
    """Float64 image or batch ``src`` (..., H, W, C) resized to ``width`` x ``height``."""
    h, w = src.shape[-3], src.shape[-2]
    check_interpolation(interp)
    if (h, w) == (height, width):
        return src
    if interp not in (0, 1, 5):
        return _separable(xp, src, *_weights(xp, h, w, height, width, interp))
    # nearest / bilinear: gather the two taps per axis (the matrices' nonzeros, cheaper)
    y0, y1, fy = (xp.asarray(a) for a in axis_map(h, height, interp == 0))
    x0, x1, fx = (xp.asarray(a) for a in axis_map(w, width, interp == 0))
    fy = fy[:, None, None]
    fx = fx[None, :, None]
    rows0, rows1 = src[..., y0, :, :], src[..., y1, :, :]
    top = rows0[..., :, x0, :] * (1 - fx) + rows0[..., :, x1, :] * fx
    bottom = rows1[..., :, x0, :] * (1 - fx) + rows1[..., :, x1, :] * fx
    return top * (1 - fy) + bottom * fy


@defop("image_crop_resize")
class _crop_resize:
    """The ``box`` = (x, y, width, height) region of (..., H, W, C) ``x``, resized to ``size``
    = (width, height) when that differs."""
    def forward(xp, x, box, size, interp):
        x0, y0, w, h = box
        out = x[..., y0:y0 + h, x0:x0 + w, :]
        if size == (w, h):
            return xp.ascontiguousarray(out)
        return saturate(xp, resize_xp(xp, _f64(xp, out), size[0], size[1], interp), x.dtype,
                        rounding=True)

    def backward(ctx, g):
        return (ctx.call(_crop_resize_adjoint, g, shape=ctx.inputs[0].shape, **ctx.params),)


@defop("image_crop_resize_adjoint")
class _crop_resize_adjoint:
    def forward(xp, g, shape, box, size, interp):
        x0, y0, w, h = box
        if size != (w, h):
            wy, wx = _weights(xp, h, w, size[1], size[0], interp)
            g = _separable(xp, _f64(xp, g), wy.T, wx.T).astype(g.dtype, copy=False)
        out = xp.zeros(shape, dtype=g.dtype)
        out[..., y0:y0 + h, x0:x0 + w, :] = g
        return out

    def backward(ctx, g):
        p = dict(ctx.params)
        p.pop("shape")
        return ctx.call(_crop_resize, g, **p), None


# -- layout and normalisation -------------------------------------------------------------------

@defop("image_to_tensor")
class _to_tensor:
    def forward(xp, x):
        axes = (2, 0, 1) if x.ndim == 3 else (0, 3, 1, 2)
        return xp.ascontiguousarray(xp.transpose(x.astype(_np.float32), axes)) / \
            _np.float32(255.0)

    def backward(ctx, g):
        x = ctx.inputs[0]
        axes = (1, 2, 0) if x.ndim == 3 else (0, 2, 3, 1)
        return ((ctx.xp.transpose(g, axes) / 255.0).astype(x.dtype),)


@defop("image_normalize")
class _normalize:
    """``(x - mean) / std`` per channel (axis -3); mean and std are tuples of 1 or C values."""
    def forward(xp, x, mean, std):
        dtype = x.dtype if x.dtype.kind == "f" else _np.dtype(_np.float32)
        m, s = (xp.asarray(_np.asarray(v, _np.float32).reshape(-1, 1, 1).astype(dtype))
                for v in (mean, std))
        return (x.astype(dtype, copy=False) - m) / s

    def backward(ctx, g):
        return (ctx.call(_normalize, g, mean=(0.0,), std=ctx.params["std"]),)


# -- flips ---------------------------------------------------------------------------------------

@defop("image_flip")
class _flip:
    """``x`` mirrored along ``axis`` (-2: left-right, -3: top-bottom) when ``flip``, else a
    copy."""
    def forward(xp, x, axis, flip):
        return xp.ascontiguousarray(xp.flip(x, axis)) if flip else x.copy()

    def backward(ctx, g):
        return (ctx.call(_flip, g, **ctx.params),)


# -- colour ----------------------------------------------------------------------------------------

def luma(xp, f):
    """ITU-R 601 luma of RGB pixels (..., 3) -> (...)."""
    return LUMA[0] * f[..., 0] + LUMA[1] * f[..., 1] + LUMA[2] * f[..., 2]


def brightness(xp, f, alpha):
    return f * alpha


def contrast(xp, f, alpha):
    """Blend with each image's mean gray level: ``f * alpha + (1 - alpha) * mean(gray)``
    (gray: the luma of RGB images, the first channel otherwise)."""
    gray = luma(xp, f) if f.shape[-1] == 3 else f[..., 0]
    return f * alpha + (1.0 - alpha) * gray.mean(axis=(-2, -1), keepdims=True)[..., None]


def saturation(xp, f, alpha):
    """Blend each RGB pixel with its luma: ``f * alpha + (1 - alpha) * gray``."""
    return f * alpha + (1.0 - alpha) * luma(xp, f)[..., None]


def _coef_rows(xp, s):
    """``s`` (..., 1) times each luma coefficient: (..., 3)."""
    return xp.concatenate([s * LUMA[0], s * LUMA[1], s * LUMA[2]], axis=-1)


def pca_shift(alpha):
    """AlexNet's lighting shift ``eigvec @ (alpha * eigval)`` for 3 alphas: host (3,)."""
    return EIGVEC @ (_np.asarray(alpha, dtype=_np.float64) * EIGVAL)


def lighting(xp, f, shift):
    return f + xp.asarray(_np.asarray(shift, dtype=_np.float64))


def hue_yiq(xp, f, angle):
    """Rotate the chroma (I, Q of YIQ) of RGB pixels by ``angle`` radians, keeping luma."""
    u, w = math.cos(angle), math.sin(angle)
    rotate = _np.array([[1.0, 0.0, 0.0], [0.0, u, -w], [0.0, w, u]])
    return xp.matmul(f, xp.asarray((FROM_YIQ @ rotate @ TO_YIQ).T))


# OpenCV's HLS sector table: for each of the six 60-degree sectors, which of
# (p2, p1, falling, rising) gives blue, green and red
_HLS_SECTORS = _np.array([[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]])


def hue_hls(xp, f, alpha):
    """MXNet's AdjustHue: RGB pixels in [0, 255] to HLS, hue turned by ``alpha`` * 360
    degrees, and back (OpenCV's conversions)."""
    r, g, b = f[..., 0] / 255.0, f[..., 1] / 255.0, f[..., 2] / 255.0
    vmax = xp.maximum(xp.maximum(r, g), b)
    vmin = xp.minimum(xp.minimum(r, g), b)
    diff = vmax - vmin
    light = (vmax + vmin) * 0.5
    chroma = diff > _np.finfo(_np.float32).eps
    safe = xp.where(chroma, diff, 1.0)
    sat = xp.where(light < 0.5, diff / xp.where(chroma, vmax + vmin, 1.0),
                   diff / xp.where(chroma, 2.0 - vmax - vmin, 1.0))
    sat = xp.where(chroma, sat, 0.0)
    hue = xp.where(vmax == r, (g - b) * 60.0 / safe,
                   xp.where(vmax == g, (b - r) * 60.0 / safe + 120.0,
                            (r - g) * 60.0 / safe + 240.0))
    hue = xp.where(hue < 0, hue + 360.0, hue)
    hue = xp.where(chroma, hue, 0.0) + alpha * 360.0
    p2 = xp.where(light <= 0.5, light * (1 + sat), light + sat - light * sat)
    p1 = 2 * light - p2
    h6 = hue / 60.0
    h6 = h6 - 6.0 * xp.floor(h6 / 6.0)
    sector = xp.clip(xp.floor(h6), 0, 5).astype(_np.int64)
    frac = h6 - sector
    tab = xp.stack([p2, p1, p1 + (p2 - p1) * (1 - frac), p1 + (p2 - p1) * frac], axis=-1)
    pick = xp.asarray(_HLS_SECTORS)[sector]  # (..., 3): the tab entries of b, g, r
    bgr = xp.take_along_axis(tab, pick, axis=-1)
    rgb = xp.stack([bgr[..., 2], bgr[..., 1], bgr[..., 0]], axis=-1)
    grey = (sat == 0)[..., None]
    return xp.where(grey, light[..., None], rgb) * 255.0


@defop("image_brightness")
class _brightness:
    def forward(xp, x, alpha):
        return saturate(xp, brightness(xp, _f64(xp, x), alpha), x.dtype, rounding=False)

    def backward(ctx, g):
        return (g * ctx.params["alpha"],)


@defop("image_contrast")
class _contrast:
    def forward(xp, x, alpha):
        return saturate(xp, contrast(xp, _f64(xp, x), alpha), x.dtype, rounding=False)

    def backward(ctx, g):
        alpha = ctx.params["alpha"]
        pixels = g.shape[-3] * g.shape[-2]
        s = g.sum(axis=(-3, -2, -1), keepdims=True) * ((1.0 - alpha) / pixels)
        return (g * alpha + (_coef_rows(ctx.xp, s) if g.shape[-1] == 3 else s),)


@defop("image_saturation")
class _saturation:
    def forward(xp, x, alpha):
        if x.shape[-1] == 1:  # MXNet: a gray image stays as it is
            return x.copy()
        return saturate(xp, saturation(xp, _f64(xp, x), alpha), x.dtype, rounding=False)

    def backward(ctx, g):
        if g.shape[-1] == 1:
            return (g,)
        alpha = ctx.params["alpha"]
        s = g.sum(axis=-1, keepdims=True) * (1.0 - alpha)
        return (g * alpha + _coef_rows(ctx.xp, s),)


@defop("image_lighting")
class _lighting:
    def forward(xp, x, shift):
        if x.shape[-1] == 1:  # MXNet leaves gray images alone
            return x.copy()
        return saturate(xp, lighting(xp, _f64(xp, x), shift), x.dtype, rounding=False)

    def backward(ctx, g):
        return (g,)


@defop("image_hue")
class _hue:
    """Not differentiable (MXNet passes the gradient through unchanged)."""
    def forward(xp, x, alpha):
        if x.shape[-1] == 1:
            return x.copy()
        return saturate(xp, hue_hls(xp, _f64(xp, x), alpha), x.dtype, rounding=False)


# -- public functions (mx.npx.image) --------------------------------------------------------------

def _image(name, data, channels=None):
    """``data`` as an ndarray, checked to be an (H, W, C) image or an (N, H, W, C) batch."""
    data = to_nd(data)
    if data.ndim not in (3, 4):
        raise ShapeError(f"npx.image.{name} expects an (H, W, C) image or an (N, H, W, C) "
                         f"batch, got shape {data.shape}")
    if channels is not None and data.shape[-1] not in channels:
        raise ShapeError(f"npx.image.{name}: the last (channel) axis of shape {data.shape} "
                         f"must have {' or '.join(map(str, channels))} elements")
    return data


def _rng(data):
    """A host generator for one call's random parameters, seeded from the data's device
    generator (``mx.np.random.seed`` / ``npx.random.seed`` make the ops reproducible)."""
    untraceable("an npx.image random op, which draws its parameters on the host")
    return _np.random.default_rng(data._device.backend.next_seed())


def _floats(name, arg, value, counts):
    t = tuple(float(v) for v in _np.atleast_1d(_np.asarray(value, dtype=_np.float64)).ravel())
    if len(t) not in counts:
        raise ShapeError(f"npx.image.{name}: {arg} must have {' or '.join(map(str, counts))} "
                         f"values, got {value!r}")
    return t


def to_tensor(data):
    """(H, W, C) or (N, H, W, C) image(s) in [0, 255] (any dtype) -> (C, H, W) or
    (N, C, H, W) float32 in [0, 1] (``data / 255``)."""
    return apply(_to_tensor, (_image("to_tensor", data),))


def normalize(data, mean=0.0, std=1.0):
    """``(data - mean) / std`` per channel of a (C, H, W) or (N, C, H, W) tensor with 1 or 3
    channels; ``mean`` and ``std`` hold one value or one per channel. Float inputs keep their
    dtype; integer inputs give float32 (MXNet keeps the integer dtype)."""
    data = to_nd(data)
    if data.ndim not in (3, 4):
        raise ShapeError(f"npx.image.normalize expects a (C, H, W) tensor or an (N, C, H, W) "
                         f"batch (to_tensor's layout), got shape {data.shape}")
    channels = data.shape[-3]
    if channels not in (1, 3):
        raise ShapeError(f"npx.image.normalize: the channel axis of shape {data.shape} has "
                         f"{channels} elements; it must have 1 or 3")
    mean = _floats("normalize", "mean", mean, (1, channels))
    std = _floats("normalize", "std", std, (1, channels))
    return apply(_normalize, (data,), {"mean": mean, "std": std})


def flip_left_right(data):
    """Mirror the width axis of an (H, W, C) image or (N, H, W, C) batch."""
    return apply(_flip, (_image("flip_left_right", data),), {"axis": -2, "flip": True})


def flip_top_bottom(data):
    """Mirror the height axis of an (H, W, C) image or (N, H, W, C) batch."""
    return apply(_flip, (_image("flip_top_bottom", data),), {"axis": -3, "flip": True})


def _random_flip(name, axis, data, p):
    data = _image(name, data)
    if not 0 <= p <= 1:
        raise ValueError(f"npx.image.{name}: p must lie in [0, 1], got {p}")
    return apply(_flip, (data,), {"axis": axis, "flip": bool(_rng(data).random() < p)})


def random_flip_left_right(data, p=0.5):
    """Mirror the width axis with probability ``p`` (one draw per call), else a copy."""
    return _random_flip("random_flip_left_right", -2, data, p)


def random_flip_top_bottom(data, p=0.5):
    """Mirror the height axis with probability ``p`` (one draw per call), else a copy."""
    return _random_flip("random_flip_top_bottom", -3, data, p)


def _factor(name, data, min_factor, max_factor):
    if min_factor is None or max_factor is None:
        raise TypeError(f"npx.image.{name}: min_factor and max_factor are required (MXNet)")
    if min_factor < 0 or max_factor < 0 or min_factor > max_factor:
        raise ValueError(f"npx.image.{name}: need 0 <= min_factor <= max_factor, got "
                         f"{min_factor}, {max_factor}")
    return float(_rng(data).uniform(min_factor, max_factor))


def random_brightness(data, min_factor=None, max_factor=None):
    """``data * alpha``, alpha uniform in [min_factor, max_factor] (one draw per call)."""
    data = _image("random_brightness", data)
    alpha = _factor("random_brightness", data, min_factor, max_factor)
    return apply(_brightness, (data,), {"alpha": alpha})


def random_contrast(data, min_factor=None, max_factor=None):
    """``data * alpha + (1 - alpha) * mean gray level`` (each image's mean luma; a gray image's
    mean), alpha uniform in [min_factor, max_factor]."""
    data = _image("random_contrast", data, (1, 3))
    alpha = _factor("random_contrast", data, min_factor, max_factor)
    return apply(_contrast, (data,), {"alpha": alpha})


def random_saturation(data, min_factor=None, max_factor=None):
    """``data * alpha + (1 - alpha) * luma`` per RGB pixel, alpha uniform in
    [min_factor, max_factor]; gray images are returned unchanged."""
    data = _image("random_saturation", data, (1, 3))
    alpha = _factor("random_saturation", data, min_factor, max_factor)
    return apply(_saturation, (data,), {"alpha": alpha})


def random_hue(data, min_factor=None, max_factor=None):
    """Turn the hue of RGB pixels in [0, 255] by alpha * 360 degrees (HLS, as OpenCV converts),
    alpha uniform in [min_factor, max_factor]; gray images are returned unchanged. Not
    differentiable."""
    data = _image("random_hue", data, (1, 3))
    alpha = _factor("random_hue", data, min_factor, max_factor)
    return apply(_hue, (data,), {"alpha": alpha})


def random_color_jitter(data, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0):
    """Brightness, contrast and saturation scaled by 1 + uniform(-s, s) and hue turned by
    uniform(-hue, hue) * 360 degrees, each skipped when 0, in a random order."""
    data = _image("random_color_jitter", data, (1, 3))
    for arg, value in (("brightness", brightness), ("contrast", contrast),
                       ("saturation", saturation), ("hue", hue)):
        if value < 0:
            raise ValueError(f"npx.image.random_color_jitter: {arg} must be >= 0, got {value}")
    rng = _rng(data)
    out = data
    for step in rng.permutation(4):
        if step == 0 and brightness > 0:
            out = apply(_brightness, (out,), {"alpha": 1.0 + rng.uniform(-brightness,
                                                                          brightness)})
        elif step == 1 and contrast > 0:
            out = apply(_contrast, (out,), {"alpha": 1.0 + rng.uniform(-contrast, contrast)})
        elif step == 2 and saturation > 0:
            out = apply(_saturation, (out,), {"alpha": 1.0 + rng.uniform(-saturation,
                                                                          saturation)})
        elif step == 3 and hue > 0:
            out = apply(_hue, (out,), {"alpha": float(rng.uniform(-hue, hue))})
    return out if out is not data else data.copy()


def adjust_lighting(data, alpha=None):
    """Add AlexNet's PCA lighting shift ``eigvec @ (alpha * eigval)`` (ImageNet's RGB
    components) to every RGB pixel; ``alpha`` holds 3 values. Gray images are returned
    unchanged."""
    if alpha is None:
        raise TypeError("npx.image.adjust_lighting: alpha (3 values) is required (MXNet)")
    data = _image("adjust_lighting", data, (1, 3))
    shift = tuple(pca_shift(_floats("adjust_lighting", "alpha", alpha, (3,))))
    return apply(_lighting, (data,), {"shift": shift})


def random_lighting(data, alpha_std=0.05):
    """``adjust_lighting`` with alpha ~ N(0, alpha_std), 3 draws per call."""
    data = _image("random_lighting", data, (1, 3))
    if alpha_std < 0:
        raise ValueError(f"npx.image.random_lighting: alpha_std must be >= 0, got {alpha_std}")
    shift = tuple(pca_shift(_rng(data).normal(0.0, alpha_std, size=3)))
    return apply(_lighting, (data,), {"shift": shift})


def _crop_resize_op(data, box, size, interp):
    check_interpolation(interp)
    return apply(_crop_resize, (data,), {"box": tuple(int(v) for v in box),
                                         "size": tuple(int(v) for v in size),
                                         "interp": int(interp)})


def resize_size(h, w, size, keep_ratio, what="npx.image.resize"):
    """MXNet's output (width, height): ``size`` is (width, height) or one int, which with
    ``keep_ratio`` sets the shorter side (the other scaled and truncated)."""
    size = (size,) if isinstance(size, (int, _np.integer)) else tuple(size)
    if len(size) not in (1, 2) or min(int(s) for s in size) <= 0:
        raise ValueError(f"{what}: size must be a positive int or (width, height), got {size}")
    if len(size) == 2:
        return int(size[0]), int(size[1])
    s = int(size[0])
    if not keep_ratio:
        return s, s
    return (s, h * s // w) if h > w else (w * s // h, s)


def resize(data, size=(), keep_ratio=False, interp=1):
    """Resize an (H, W, C) image or (N, H, W, C) batch to ``size`` = (width, height), or one
    int for both (with ``keep_ratio``, the shorter side), with OpenCV's interpolation
    ``interp`` (0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 Lanczos-4, 5 bilinear). Integer
    results are rounded."""
    data = _image("resize", data)
    h, w = data.shape[-3], data.shape[-2]
    return _crop_resize_op(data, (0, 0, w, h), resize_size(h, w, size, keep_ratio), interp)


def crop(data, x=None, y=None, width=None, height=None):
    """The ``width`` x ``height`` region at column ``x``, row ``y`` of an (H, W, C) image or
    (N, H, W, C) batch; its gradient puts the output gradient back in place (zeros
    elsewhere)."""
    data = _image("crop", data)
    if None in (x, y, width, height):
        raise TypeError("npx.image.crop: x, y, width and height are required (MXNet)")
    x, y, width, height = int(x), int(y), int(width), int(height)
    h, w = data.shape[-3], data.shape[-2]
    if width <= 0 or height <= 0 or x < 0 or y < 0 or x + width > w or y + height > h:
        raise ShapeError(f"npx.image.crop: box (x={x}, y={y}, width={width}, height={height}) "
                         f"is outside the {w}x{h} image of shape {data.shape}")
    return _crop_resize_op(data, (x, y, width, height), (width, height), 1)


def _scale_down(src_w, src_h, w, h):
    """The largest (w, h)-shaped size that fits a src_w x src_h image (MXNet's ScaleDown,
    whose second step keeps the height by mistake)."""
    w, h = float(w), float(h)
    if src_h < h:
        w, h = w * src_h / h, float(src_h)
    if src_w < w:
        w, h = float(src_w), h * src_w / w
    return max(1, int(w)), max(1, int(h))


def _range(name, arg, value):
    lo, hi = _floats(name, arg, value, (2,))
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"npx.image.{name}: {arg} must satisfy 0 <= {arg}[0] <= {arg}[1] <= 1, "
                         f"got {value!r}")
    return lo, hi


def _target(name, width, height):
    if width is None or height is None:
        raise TypeError(f"npx.image.{name}: width and height are required (MXNet)")
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"npx.image.{name}: width and height must be positive, got "
                         f"{width}, {height}")
    return width, height


def random_crop(data, xrange=(0.0, 1.0), yrange=(0.0, 1.0), width=None, height=None,
                interp=1):
    """A random ``width`` x ``height`` region: its left edge at a uniform(xrange) fraction of
    the free columns, its top at a uniform(yrange) fraction of the free rows (one draw for a
    batch). An image smaller than the target gives its largest region of the target's aspect
    ratio, resized up with ``interp``. Returns the crop only (MXNet's visible output)."""
    data = _image("random_crop", data)
    width, height = _target("random_crop", width, height)
    xrange, yrange = _range("random_crop", "xrange", xrange), _range("random_crop", "yrange",
                                                                    yrange)
    src_h, src_w = data.shape[-3], data.shape[-2]
    cw, ch = _scale_down(src_w, src_h, width, height)
    rng = _rng(data)
    x0 = int(rng.uniform(*xrange) * (src_w - cw))
    y0 = int(rng.uniform(*yrange) * (src_h - ch))
    return _crop_resize_op(data, (x0, y0, cw, ch), (width, height), interp)


def random_resized_crop(data, width=None, height=None, area=(0.08, 1.0),
                        ratio=(3.0 / 4.0, 4.0 / 3.0), interp=1, max_trial=10):
    """A region of random area (a uniform(``area``) fraction of the image) and aspect ratio
    (log-uniform in ``ratio``) at a random place, resized to ``width`` x ``height``; after
    ``max_trial`` draws that do not fit, the central region of the target's aspect ratio
    (the Inception recipe)."""
    data = _image("random_resized_crop", data)
    width, height = _target("random_resized_crop", width, height)
    if isinstance(area, (int, float)):
        area = (area, 1.0)
    area = _floats("random_resized_crop", "area", area, (2,))
    ratio = _floats("random_resized_crop", "ratio", ratio, (2,))
    if not 0 < area[0] <= area[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"npx.image.random_resized_crop: need 0 < area[0] <= area[1] <= 1 "
                         f"and 0 < ratio[0] <= ratio[1], got area={area}, ratio={ratio}")
    src_h, src_w = data.shape[-3], data.shape[-2]
    rng = _rng(data)
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(int(max_trial)):
        target = rng.uniform(*area) * src_w * src_h
        aspect = math.exp(rng.uniform(*log_ratio))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= src_w and 0 < ch <= src_h:
            x0 = int(rng.uniform(0, 1) * (src_w - cw))
            y0 = int(rng.uniform(0, 1) * (src_h - ch))
            return _crop_resize_op(data, (x0, y0, cw, ch), (width, height), interp)
    cw, ch = _scale_down(src_w, src_h, width, height)
    return _crop_resize_op(data, ((src_w - cw) // 2, (src_h - ch) // 2, cw, ch),
                           (width, height), interp)


# -- rotation (MXNet's image.imrotate, which transforms.Rotate / RandomRotation call) ----------
def _rotation_taps(xp, shape, radians, zoom_in, zoom_out):
    """The four bilinear taps of each output pixel of (N, C, H, W) images rotated by
    ``radians`` (one per image) about their centre: (flat index into an image's H*W,
    weight) pairs, each (N, H*W), a tap off the image weighing 0 (MXNet's BilinearSampler
    over imrotate's grid). ``zoom_in`` scales so no padding shows, ``zoom_out`` so the whole
    image stays in view."""
    n, _, h, w = shape
    hs, ws = (h - 1) / 2, (w - 1) / 2
    rad = xp.asarray(radians, dtype=_np.float64).reshape(n, 1, 1)
    yy = xp.arange(h, dtype=_np.float64).reshape(1, h, 1) - hs
    xx = xp.arange(w, dtype=_np.float64).reshape(1, 1, w) - ws
    cos, sin = xp.cos(rad), xp.sin(rad)
    x_rot, y_rot = xx * cos - yy * sin, xx * sin + yy * cos
    scale = 1.0
    if zoom_in or zoom_out:
        rho, corner, turn = math.hypot(h, w), math.atan2(h, w), xp.abs(rad)
        reach_x = xp.maximum(xp.abs(rho * xp.cos(corner + turn)),
                             xp.abs(rho * xp.cos(corner - turn)))
        reach_y = xp.maximum(xp.abs(rho * xp.sin(corner + turn)),
                             xp.abs(rho * xp.sin(corner - turn)))
        scale = xp.maximum(reach_x / w, reach_y / h) if zoom_out \
            else xp.minimum(w / reach_x, h / reach_y)
    x_src = (x_rot * scale + ws).reshape(n, -1)
    y_src = (y_rot * scale + hs).reshape(n, -1)
    x0, y0 = xp.floor(x_src), xp.floor(y_src)
    taps = []
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - xp.abs(x_src - xi)) * (1 - xp.abs(y_src - yi))
            on = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
            index = (xp.clip(yi, 0, h - 1) * w + xp.clip(xi, 0, w - 1)).astype(_np.int64)
            taps.append((index, xp.where(on, weight, 0.0)))
    return taps


@defop("image_rotate")
class _rotate:
    def forward(xp, x, radians, zoom_in, zoom_out):
        n, c = x.shape[:2]
        flat = x.reshape(n, c, -1)
        out = 0
        for index, weight in _rotation_taps(xp, x.shape, radians, zoom_in, zoom_out):
            out = out + xp.take_along_axis(flat, index[:, None, :], axis=2) \
                * weight[:, None, :].astype(x.dtype)
        return out.reshape(x.shape).astype(x.dtype, copy=False)

    def backward(ctx, g):
        return (ctx.call(_rotate_adjoint, g, **ctx.params),)


@defop("image_rotate_adjoint")
class _rotate_adjoint:
    def forward(xp, g, radians, zoom_in, zoom_out):
        """Each output pixel's gradient added back, bilinearly weighted, into its four taps."""
        n, c = g.shape[:2]
        area = g.shape[2] * g.shape[3]
        gx = xp.zeros(n * c * area, dtype=g.dtype)
        base = (xp.arange(n * c, dtype=_np.int64) * area).reshape(n, c, 1)
        flat = g.reshape(n, c, -1)
        for index, weight in _rotation_taps(xp, g.shape, radians, zoom_in, zoom_out):
            add_at(xp, gx, (base + index[:, None, :]).reshape(-1),
                   (flat * weight[:, None, :].astype(g.dtype)).reshape(-1))
        return gx.reshape(g.shape)

    def backward(ctx, gz):
        return (ctx.call(_rotate, gz, **ctx.params),)


def rotate(data, degrees, zoom_in=False, zoom_out=False):
    """MXNet's ``image.imrotate``: (C, H, W) or (N, C, H, W) float image(s) rotated
    counter-clockwise by ``degrees`` (one number, or one per image of a batch) about their
    centre, bilinearly, zeros where the source falls off the image; differentiable in
    ``data``."""
    data = to_nd(data)
    if zoom_in and zoom_out:
        raise ValueError("rotate: zoom_in and zoom_out cannot both be True")
    if data.dtype.kind != "f":  # MXNet: float32 only; any float here
        raise TypeError(f"rotate takes float images (call it after ToTensor), got "
                        f"{data.dtype}")
    if data.ndim not in (3, 4):
        raise ShapeError(f"rotate takes a (C, H, W) image or an (N, C, H, W) batch, got "
                         f"shape {data.shape}")
    batch = data if data.ndim == 4 else data.reshape((1,) + data.shape)
    if min(batch.shape[2:]) < 2:
        raise ShapeError(f"rotate needs at least 2 x 2 pixels, got shape {data.shape}")
    angles = _np.atleast_1d(_np.asarray(degrees, dtype=_np.float64))
    if data.ndim == 3 and angles.size != 1:
        raise TypeError("rotate: a single image takes one angle, got "
                        f"{angles.size}")
    if angles.size == 1:
        angles = _np.repeat(angles, batch.shape[0])
    if angles.size != batch.shape[0]:
        raise ShapeError(f"rotate: {angles.size} angles for {batch.shape[0]} images")
    radians = tuple(float(a) for a in _np.deg2rad(angles))
    out = apply(_rotate, (batch,), {"radians": radians, "zoom_in": bool(zoom_in),
                                    "zoom_out": bool(zoom_out)})
    return out if data.ndim == 4 else out.reshape(data.shape)
