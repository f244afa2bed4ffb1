"""MobileNet (Howard et al. 2017) and MobileNetV2 (Sandler et al. 2018) with width
multipliers, as MXNet's model zoo builds them: every V2 bottleneck has its 1x1 expansion,
the t=1 one included, and V2 classifies with a bias-free 1x1 convolution."""
from ... import nn
from ...block import HybridBlock
from ..model_store import check_untrained
from .... import numpy as np

__all__ = ["MobileNet", "MobileNetV2", "RELU6", "get_mobilenet", "get_mobilenet_v2",
           "mobilenet1_0", "mobilenet0_75", "mobilenet0_5", "mobilenet0_25",
           "mobilenet_v2_1_0", "mobilenet_v2_0_75", "mobilenet_v2_0_5", "mobilenet_v2_0_25"]


class RELU6(HybridBlock):
    """min(max(x, 0), 6)."""

    def forward(self, x):
        return np.clip(x, 0, 6)


def _add_conv(out, in_channels, channels, kernel=1, stride=1, pad=0, groups=1, active=True,
              relu6=False):
    out.add(nn.Conv2D(channels, kernel, strides=stride, padding=pad, groups=groups,
                      use_bias=False, in_channels=in_channels),
            nn.BatchNorm(in_channels=channels))
    if active:
        out.add(RELU6() if relu6 else nn.Activation("relu"))


class MobileNet(HybridBlock):
    """A strided 3x3 convolution, 13 depthwise-separable blocks, global pool, Dense."""

    def __init__(self, multiplier=1.0, classes=1000):
        super().__init__()
        self.features = nn.HybridSequential()
        first = int(32 * multiplier)
        _add_conv(self.features, 3, first, kernel=3, stride=2, pad=1)
        dw_channels = [int(x * multiplier) for x in [32, 64] + [128] * 2 + [256] * 2
                       + [512] * 6 + [1024]]
        channels = [int(x * multiplier) for x in [64] + [128] * 2 + [256] * 2 + [512] * 6
                    + [1024] * 2]
        strides = [1, 2] * 3 + [1] * 5 + [2, 1]
        for dwc, c, s in zip(dw_channels, channels, strides):
            _add_conv(self.features, dwc, dwc, kernel=3, stride=s, pad=1, groups=dwc)
            _add_conv(self.features, dwc, c)
        self.features.add(nn.GlobalAvgPool2D(), nn.Flatten())
        self.output = nn.Dense(classes, in_units=channels[-1])

    def forward(self, x):
        return self.output(self.features(x))


class LinearBottleneck(HybridBlock):
    """1x1 expansion by ``t``, 3x3 depthwise (strided), linear 1x1 projection; the input is
    added back when the shapes match."""

    def __init__(self, in_channels, channels, t, stride):
        super().__init__()
        self.use_shortcut = stride == 1 and in_channels == channels
        wide = in_channels * t
        self.out = nn.HybridSequential()
        _add_conv(self.out, in_channels, wide, relu6=True)
        _add_conv(self.out, wide, wide, kernel=3, stride=stride, pad=1, groups=wide, relu6=True)
        _add_conv(self.out, wide, channels, active=False)

    def forward(self, x):
        out = self.out(x)
        return out + x if self.use_shortcut else out


class MobileNetV2(HybridBlock):
    """A strided 3x3 convolution, 17 inverted-residual bottlenecks, a 1x1 convolution to
    1280 channels, global pool (``features``); a 1x1 convolution to ``classes``
    (``output``)."""

    def __init__(self, multiplier=1.0, classes=1000):
        super().__init__()
        self.features = nn.HybridSequential()
        first = int(32 * multiplier)
        _add_conv(self.features, 3, first, kernel=3, stride=2, pad=1, relu6=True)
        in_channels = [int(x * multiplier) for x in [32] + [16] + [24] * 2 + [32] * 3
                       + [64] * 4 + [96] * 3 + [160] * 3]
        channels = [int(x * multiplier) for x in [16] + [24] * 2 + [32] * 3 + [64] * 4
                    + [96] * 3 + [160] * 3 + [320]]
        ts = [1] + [6] * 16
        strides = [1, 2] * 2 + [1, 1, 2] + [1] * 6 + [2] + [1] * 3
        for in_c, c, t, s in zip(in_channels, channels, ts, strides):
            self.features.add(LinearBottleneck(in_c, c, t, s))
        last = int(1280 * multiplier) if multiplier > 1.0 else 1280
        _add_conv(self.features, channels[-1], last, relu6=True)
        self.features.add(nn.GlobalAvgPool2D())
        self.output = nn.HybridSequential()
        self.output.add(nn.Conv2D(classes, 1, use_bias=False, in_channels=last), nn.Flatten())

    def forward(self, x):
        return self.output(self.features(x))


def get_mobilenet(multiplier, pretrained=False, device=None, root=None, ctx=None, **kwargs):
    """MobileNet with width ``multiplier`` (download keywords: ``check_untrained``)."""
    check_untrained(f"mobilenet{multiplier}", pretrained, device, ctx, root)
    return MobileNet(multiplier, **kwargs)


def get_mobilenet_v2(multiplier, pretrained=False, device=None, root=None, ctx=None, **kwargs):
    """MobileNetV2 with width ``multiplier`` (download keywords: ``check_untrained``)."""
    check_untrained(f"mobilenetv2_{multiplier}", pretrained, device, ctx, root)
    return MobileNetV2(multiplier, **kwargs)


def mobilenet1_0(**kwargs):
    """MobileNet, width 1.0."""
    return get_mobilenet(1.0, **kwargs)


def mobilenet0_75(**kwargs):
    """MobileNet, width 0.75."""
    return get_mobilenet(0.75, **kwargs)


def mobilenet0_5(**kwargs):
    """MobileNet, width 0.5."""
    return get_mobilenet(0.5, **kwargs)


def mobilenet0_25(**kwargs):
    """MobileNet, width 0.25."""
    return get_mobilenet(0.25, **kwargs)


def mobilenet_v2_1_0(**kwargs):
    """MobileNetV2, width 1.0."""
    return get_mobilenet_v2(1.0, **kwargs)


def mobilenet_v2_0_75(**kwargs):
    """MobileNetV2, width 0.75."""
    return get_mobilenet_v2(0.75, **kwargs)


def mobilenet_v2_0_5(**kwargs):
    """MobileNetV2, width 0.5."""
    return get_mobilenet_v2(0.5, **kwargs)


def mobilenet_v2_0_25(**kwargs):
    """MobileNetV2, width 0.25."""
    return get_mobilenet_v2(0.25, **kwargs)
