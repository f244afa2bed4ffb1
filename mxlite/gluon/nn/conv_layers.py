"""Convolution and pooling layers of ``gluon.nn`` over ``npx.convolution``,
``npx.deconvolution`` and ``npx.pooling``, in channel-first (NCW, NCHW, NCDHW) or
channel-last (NWC, NHWC, NDHWC) layouts. Channel-last weights are MXNet's
(channels, *kernel, in_channels/groups) ((in_channels, *kernel, channels/groups) transposed)."""
import numbers

from ... import numpy as np
from ... import numpy_extension as npx
from ..block import HybridBlock
from ..parameter import Parameter
from .activations import Activation

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
           "Conv3DTranspose", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D",
           "AvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
           "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "PixelShuffle1D",
           "PixelShuffle2D", "PixelShuffle3D", "ReflectionPad2D"]

_LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}
_CHANNEL_LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}


def _channel_last(layout, ndim):
    """Whether ``layout`` is the channel-last one for ``ndim`` spatial axes (else it must be
    the channel-first one)."""
    if layout not in (_LAYOUTS[ndim], _CHANNEL_LAST[ndim]):
        raise ValueError(f"layout must be {_LAYOUTS[ndim]!r} or {_CHANNEL_LAST[ndim]!r} for "
                         f"{ndim}-D data, got {layout!r}")
    return layout == _CHANNEL_LAST[ndim]


def spatial_tuple(value, n, what):
    """``value`` (an int or ``n`` ints) as ``n`` ints, per spatial axis."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {value}")
    return value


class _Conv(HybridBlock):
    """Shared by the convolutions: ``in_channels`` 0 is inferred on the first call."""

    def __init__(self, ndim, channels, kernel_size, strides, padding, dilation, groups, layout,
                 in_channels, activation, use_bias, weight_initializer, bias_initializer,
                 transpose=False, output_padding=0):
        super().__init__()
        self._channel_last = _channel_last(layout, ndim)
        if in_channels and in_channels % groups:
            raise ValueError(f"in_channels {in_channels} is not divisible by groups {groups}")
        if channels % groups:
            raise ValueError(f"channels {channels} is not divisible by groups {groups}")
        self._channels = channels
        self._in_channels = in_channels
        self._kernel = spatial_tuple(kernel_size, ndim, "kernel_size")
        self._strides = spatial_tuple(strides, ndim, "strides")
        self._padding = spatial_tuple(padding, ndim, "padding")
        self._dilation = spatial_tuple(dilation, ndim, "dilation")
        self._output_padding = spatial_tuple(output_padding, ndim, "output_padding")
        self._groups = groups
        self._layout = layout
        self._transpose = transpose
        self.weight = Parameter("weight", shape=self._weight_shape(in_channels),
                                init=weight_initializer, allow_deferred_init=True)
        self.bias = Parameter("bias", shape=(channels,), init=bias_initializer,
                              allow_deferred_init=True) if use_bias else None
        self.act = Activation(activation) if activation is not None else None

    def _weight_shape(self, in_channels):
        if self._transpose:
            outer, inner = in_channels, self._channels // self._groups
        else:
            outer, inner = self._channels, in_channels // self._groups if in_channels else 0
        if self._channel_last:
            return (outer,) + self._kernel + (inner,)
        return (outer, inner) + self._kernel

    def infer_shape(self, x, *args):
        if x.ndim != len(self._kernel) + 2:
            raise ValueError(f"{type(self).__name__} expects {len(self._kernel) + 2}-d input "
                             f"({self._layout}), got shape {x.shape}")
        self.weight.shape = self._weight_shape(x.shape[-1 if self._channel_last else 1])

    def forward(self, x):
        device = x.device
        bias = self.bias.data(device) if self.bias is not None else None
        common = dict(kernel=self._kernel, stride=self._strides, dilate=self._dilation,
                      pad=self._padding, num_filter=self._channels, num_group=self._groups,
                      no_bias=bias is None, layout=self._layout)
        if self._transpose:
            out = npx.deconvolution(x, self.weight.data(device), bias, adj=self._output_padding,
                                    **common)
        else:
            out = npx.convolution(x, self.weight.data(device), bias, **common)
        return self.act(out) if self.act is not None else out

    def __repr__(self):
        shape = self.weight.shape
        in_channels = shape[0] if self._transpose else shape[-1 if self._channel_last else 1]
        return (f"{type(self).__name__}({in_channels if in_channels > 0 else None} -> "
                f"{self._channels}, kernel_size={self._kernel}, stride={self._strides})")


class _ConvND(_Conv):
    ndim = 2

    def __init__(self, channels, kernel_size, strides=1, padding=0, dilation=1, groups=1,
                 layout=None, activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0):
        super().__init__(self.ndim, channels, kernel_size, strides, padding, dilation, groups,
                         layout or _LAYOUTS[self.ndim], in_channels, activation, use_bias,
                         weight_initializer, bias_initializer)


class _ConvTransposeND(_Conv):
    ndim = 2

    def __init__(self, channels, kernel_size, strides=1, padding=0, output_padding=0,
                 dilation=1, groups=1, layout=None, activation=None, use_bias=True,
                 weight_initializer=None, bias_initializer="zeros", in_channels=0):
        super().__init__(self.ndim, channels, kernel_size, strides, padding, dilation, groups,
                         layout or _LAYOUTS[self.ndim], in_channels, activation, use_bias,
                         weight_initializer, bias_initializer, transpose=True,
                         output_padding=output_padding)


class Conv1D(_ConvND):
    """1-D convolution over (N, C, W)."""
    ndim = 1


class Conv2D(_ConvND):
    """2-D convolution over (N, C, H, W): weight (channels, in_channels/groups, kh, kw)."""
    ndim = 2


class Conv3D(_ConvND):
    """3-D convolution over (N, C, D, H, W)."""
    ndim = 3


class Conv1DTranspose(_ConvTransposeND):
    """1-D transposed convolution (the gradient of Conv1D)."""
    ndim = 1


class Conv2DTranspose(_ConvTransposeND):
    """2-D transposed convolution: weight (in_channels, channels/groups, kh, kw)."""
    ndim = 2


class Conv3DTranspose(_ConvTransposeND):
    """3-D transposed convolution: weight (in_channels, channels/groups, kd, kh, kw)."""
    ndim = 3


class _Pool(HybridBlock):
    def __init__(self, ndim, pool_size, strides, padding, ceil_mode, global_pool, pool_type,
                 layout, count_include_pad=None):
        super().__init__()
        _channel_last(layout, ndim)
        self._kernel = spatial_tuple(pool_size, ndim, "pool_size")
        self._strides = self._kernel if strides is None else \
            spatial_tuple(strides, ndim, "strides")
        self._padding = spatial_tuple(padding, ndim, "padding")
        self._ceil_mode = ceil_mode
        self._global = global_pool
        self._pool_type = pool_type
        self._layout = layout
        self._count_include_pad = count_include_pad

    def forward(self, x):
        kwargs = dict(kernel=self._kernel, pool_type=self._pool_type, stride=self._strides,
                      pad=self._padding, global_pool=self._global, layout=self._layout,
                      pooling_convention="full" if self._ceil_mode else "valid")
        if self._count_include_pad is not None:
            kwargs["count_include_pad"] = self._count_include_pad
        return npx.pooling(x, **kwargs)

    def __repr__(self):
        if self._global:
            return f"{type(self).__name__}()"
        return (f"{type(self).__name__}(size={self._kernel}, stride={self._strides}, "
                f"padding={self._padding}, ceil_mode={self._ceil_mode})")


class _PoolND(_Pool):
    ndim = 2
    pool_type = "max"

    def __init__(self, pool_size=2, strides=None, padding=0, layout=None, ceil_mode=False):
        super().__init__(self.ndim, pool_size, strides, padding, ceil_mode, False,
                         self.pool_type, layout or _LAYOUTS[self.ndim])


class _AvgPoolND(_Pool):
    ndim = 2

    def __init__(self, pool_size=2, strides=None, padding=0, layout=None, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(self.ndim, pool_size, strides, padding, ceil_mode, False, "avg",
                         layout or _LAYOUTS[self.ndim], count_include_pad)


class _GlobalPoolND(_Pool):
    ndim = 2
    pool_type = "max"

    def __init__(self, layout=None):
        super().__init__(self.ndim, 1, None, 0, False, True, self.pool_type,
                         layout or _LAYOUTS[self.ndim])


class MaxPool1D(_PoolND):
    """Max over windows of (N, C, W)."""
    ndim = 1


class MaxPool2D(_PoolND):
    """Max over windows of (N, C, H, W); ``strides`` defaults to ``pool_size``."""
    ndim = 2


class MaxPool3D(_PoolND):
    """Max over windows of (N, C, D, H, W)."""
    ndim = 3


class AvgPool1D(_AvgPoolND):
    """Mean over windows of (N, C, W)."""
    ndim = 1


class AvgPool2D(_AvgPoolND):
    """Mean over windows of (N, C, H, W) (padding counted unless ``count_include_pad=False``)."""
    ndim = 2


class AvgPool3D(_AvgPoolND):
    """Mean over windows of (N, C, D, H, W)."""
    ndim = 3


class GlobalMaxPool1D(_GlobalPoolND):
    """Max over W: (N, C, W) -> (N, C, 1)."""
    ndim = 1


class GlobalMaxPool2D(_GlobalPoolND):
    """Max over H and W: (N, C, H, W) -> (N, C, 1, 1)."""
    ndim = 2


class GlobalAvgPool1D(_GlobalPoolND):
    """Mean over W: (N, C, W) -> (N, C, 1)."""
    ndim = 1
    pool_type = "avg"


class GlobalAvgPool2D(_GlobalPoolND):
    """Mean over H and W: (N, C, H, W) -> (N, C, 1, 1)."""
    ndim = 2
    pool_type = "avg"


class GlobalMaxPool3D(_GlobalPoolND):
    """Max over D, H and W: (N, C, D, H, W) -> (N, C, 1, 1, 1)."""
    ndim = 3


class GlobalAvgPool3D(_GlobalPoolND):
    """Mean over D, H and W: (N, C, D, H, W) -> (N, C, 1, 1, 1)."""
    ndim = 3
    pool_type = "avg"


class _PixelShuffle(HybridBlock):
    """Moves ``prod(factor)`` channel groups into the spatial axes (sub-pixel convolution):
    channel ``c * prod(f) + i`` (``i`` row-major over the factors) lands at offset ``i``
    inside each output cell, as in MXNet."""
    ndim = 2

    def __init__(self, factor):
        super().__init__()
        factors = (factor,) * self.ndim if isinstance(factor, int) else tuple(factor)
        if len(factors) != self.ndim or any(int(f) < 1 for f in factors):
            raise ValueError(f"{type(self).__name__} takes {self.ndim} positive factors, "
                             f"got {factor!r}")
        self._factors = tuple(int(f) for f in factors)

    def forward(self, x):
        n, channels, *spatial = x.shape
        block = 1
        for f in self._factors:
            block *= f
        if x.ndim != self.ndim + 2 or channels % block:
            raise ValueError(f"{type(self).__name__}{self._factors} takes (N, C*{block}, "
                             f"{', '.join('DHW'[3 - self.ndim:])}) input, got shape {x.shape}")
        x = x.reshape((n, channels // block) + self._factors + tuple(spatial))
        d = self.ndim
        # (N, C, f1..fd, s1..sd) -> (N, C, s1, f1, ..., sd, fd)
        x = np.transpose(x, (0, 1) + tuple(a for k in range(d) for a in (2 + d + k, 2 + k)))
        return x.reshape((n, channels // block) +
                         tuple(s * f for s, f in zip(spatial, self._factors)))

    def __repr__(self):
        return f"{type(self).__name__}({self._factors})"


class PixelShuffle1D(_PixelShuffle):
    """(N, C*f, W) -> (N, C, W*f)."""
    ndim = 1


class PixelShuffle2D(_PixelShuffle):
    """(N, C*f1*f2, H, W) -> (N, C, H*f1, W*f2)."""
    ndim = 2


class PixelShuffle3D(_PixelShuffle):
    """(N, C*f1*f2*f3, D, H, W) -> (N, C, D*f1, H*f2, W*f3)."""
    ndim = 3


class ReflectionPad2D(HybridBlock):
    """Pad the last two axes of NCHW input by reflection (``np.pad(mode='reflect')``).

    ``padding`` is an int (that many rows and columns on each side) or MXNet's pad_width: 8
    numbers, (before, after) for each of N, C, H, W, where N and C must get 0.
    """

    def __init__(self, padding=0):
        super().__init__()
        if isinstance(padding, numbers.Integral):
            padding = (0, 0, 0, 0, padding, padding, padding, padding)
        padding = tuple(int(p) for p in padding)
        if len(padding) != 8 or any(padding[:4]) or min(padding) < 0:
            raise ValueError("ReflectionPad2D: padding must be an int >= 0 or 8 numbers >= 0 "
                             "(before, after) for N, C, H, W with 0 for N and C, got "
                             f"{padding}")
        self._padding = padding

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"ReflectionPad2D takes (N, C, H, W) input, got shape {x.shape}")
        p = self._padding
        return np.pad(x, tuple(zip(p[0::2], p[1::2])), mode="reflect")

    def __repr__(self):
        return f"ReflectionPad2D(padding={self._padding})"
