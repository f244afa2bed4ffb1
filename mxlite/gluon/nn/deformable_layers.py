"""Deformable convolution layers (MXNet 2.x's, in ``gluon.nn`` and ``gluon.contrib.nn``),
over ``npx.deformable_convolution`` and ``npx.modulated_deformable_convolution``.

Each layer holds two convolutions' parameters, as MXNet's: a plain one (``offset_weight``,
``offset_bias``, zeros by default, so a new layer starts as an ordinary convolution) that
predicts the sampling offsets from the input, and the deformable one
(``deformable_conv_weight``, ``deformable_conv_bias``) that samples there."""
from ... import numpy_extension as npx
from ..block import HybridBlock
from ..parameter import Parameter
from .activations import Activation
from .conv_layers import spatial_tuple

__all__ = ["DeformableConvolution", "ModulatedDeformableConvolution"]


class _DeformableConv(HybridBlock):
    """Shared by both layers (MXNet's signature; ``op_name`` is accepted and unused);
    ``modulated`` adds a mask per tap, predicted with the offsets
    (MXNet's: 2 * sigmoid of the offset convolution's last deformable_groups * kh * kw
    channels)."""
    modulated = False

    def __init__(self, channels, kernel_size=(1, 1), strides=(1, 1), padding=(0, 0),
                 dilation=(1, 1), groups=1, num_deformable_group=1, layout="NCHW",
                 use_bias=True, in_channels=0, activation=None, weight_initializer=None,
                 bias_initializer="zeros", offset_weight_initializer="zeros",
                 offset_bias_initializer="zeros", offset_use_bias=True, op_name=None,
                 adj=None):
        super().__init__()
        name = type(self).__name__
        if layout not in ("NCHW", "NHWC"):
            raise ValueError(f"{name} supports layout 'NCHW' or 'NHWC', got {layout!r}")
        if adj:
            raise ValueError(f"{name}: adj={adj} is for transposed convolutions; a "
                             "deformable convolution has no output padding")
        self._kernel = spatial_tuple(kernel_size, 2, "kernel_size")
        self._strides = spatial_tuple(strides, 2, "strides")
        self._padding = spatial_tuple(padding, 2, "padding")
        self._dilation = spatial_tuple(dilation, 2, "dilation")
        self._channels, self._groups, self._layout = channels, groups, layout
        self._deformable_groups = num_deformable_group
        self._offsets = 2 * num_deformable_group * self._kernel[0] * self._kernel[1]
        offset_channels = self._offsets * 3 // 2 if self.modulated else self._offsets
        for what, count in (("channels", channels), ("in_channels", in_channels),
                            ("the offset convolution's channels", offset_channels)):
            if count % groups:
                raise ValueError(f"{name}: {what} {count} is not divisible by groups {groups}")
        self._offset_channels = offset_channels
        offset = [("offset_weight", Parameter(
                      "offset_weight", shape=self._weight_shape(offset_channels, in_channels),
                      init=offset_weight_initializer, allow_deferred_init=True)),
                  ("offset_bias", Parameter(
                      "offset_bias", shape=(offset_channels,), init=offset_bias_initializer,
                      allow_deferred_init=True) if offset_use_bias else None)]
        main = [("deformable_conv_weight", Parameter(
                    "deformable_conv_weight", shape=self._weight_shape(channels, in_channels),
                    init=weight_initializer, allow_deferred_init=True)),
                ("deformable_conv_bias", Parameter(
                    "deformable_conv_bias", shape=(channels,), init=bias_initializer,
                    allow_deferred_init=True) if use_bias else None)]
        # MXNet's registration order, which collect_params (and so a Trainer) follows
        for attr, param in (main + offset if self.modulated else offset + main):
            setattr(self, attr, param)
        self.act = Activation(activation) if activation else None

    def _weight_shape(self, outer, in_channels):
        inner = in_channels // self._groups if in_channels else 0
        if self._layout == "NHWC":
            return (outer,) + self._kernel + (inner,)
        return (outer, inner) + self._kernel

    def infer_shape(self, x, *args):
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects 4-d input ({self._layout}), got "
                             f"shape {x.shape}")
        in_channels = x.shape[-1 if self._layout == "NHWC" else 1]
        if in_channels % self._groups:
            raise ValueError(f"{type(self).__name__}: input {x.shape} has {in_channels} "
                             f"channels, not divisible by groups {self._groups}")
        self.offset_weight.shape = self._weight_shape(self._offset_channels, in_channels)
        self.deformable_conv_weight.shape = self._weight_shape(self._channels, in_channels)

    def forward(self, x):
        device = x.device
        common = dict(kernel=self._kernel, stride=self._strides, dilate=self._dilation,
                      pad=self._padding, num_group=self._groups, layout=self._layout)
        offset_bias = self.offset_bias.data(device) if self.offset_bias is not None else None
        offset = npx.convolution(x, self.offset_weight.data(device), offset_bias,
                                 num_filter=self._offset_channels, no_bias=offset_bias is None,
                                 **common)
        weight = self.deformable_conv_weight.data(device)
        bias = self.deformable_conv_bias.data(device) \
            if self.deformable_conv_bias is not None else None
        common.update(num_filter=self._channels, num_deformable_group=self._deformable_groups,
                      no_bias=bias is None)
        if self.modulated:
            lead = (slice(None),) if self._layout == "NCHW" else (Ellipsis,)
            mask = npx.sigmoid(offset[lead + (slice(self._offsets, None),)]) * 2
            out = npx.modulated_deformable_convolution(
                x, offset[lead + (slice(0, self._offsets),)], mask, weight, bias, **common)
        else:
            out = npx.deformable_convolution(x, offset, weight, bias, **common)
        return self.act(out) if self.act is not None else out

    def __repr__(self):
        shape = self.deformable_conv_weight.shape
        in_channels = shape[-1 if self._layout == "NHWC" else 1] * self._groups
        text = (f"{type(self).__name__}({in_channels if in_channels > 0 else None} -> "
                f"{self._channels}, kernel_size={self._kernel}, stride={self._strides}")
        if self._padding != (0, 0):
            text += f", padding={self._padding}"
        if self._dilation != (1, 1):
            text += f", dilation={self._dilation}"
        if self._groups != 1:
            text += f", groups={self._groups}"
        if self.deformable_conv_bias is None:
            text += ", bias=False"
        if self.act is not None:
            text += f", {self.act}"
        return text + ")"


class DeformableConvolution(_DeformableConv):
    """2-D deformable convolution v1 (Dai et al., 2017): a convolution whose taps sample at
    offsets that a second convolution predicts from the same input."""


class ModulatedDeformableConvolution(_DeformableConv):
    """2-D deformable convolution v2 (Zhu et al., 2018): v1 plus a per-tap modulation in
    (0, 2), predicted with the offsets, that scales each sample."""
    modulated = True
