"""ResNet V1 (He et al. 2015) and V2 (pre-activation, He et al. 2016), as MXNet's model zoo
builds them: V1 bottlenecks stride on the first 1x1 convolution, which has a bias."""
from ... import nn
from ...block import HybridBlock
from ..model_store import check_untrained
from .... import numpy_extension as npx

__all__ = ["ResNetV1", "ResNetV2", "BasicBlockV1", "BasicBlockV2", "BottleneckV1",
           "BottleneckV2", "get_resnet"] + [f"resnet{n}_v{v}" for v in (1, 2)
                                           for n in (18, 34, 50, 101, 152)]


def _conv3x3(channels, stride, in_channels):
    return nn.Conv2D(channels, 3, strides=stride, padding=1, use_bias=False,
                     in_channels=in_channels)


def _sequential(*blocks):
    seq = nn.HybridSequential()
    seq.add(*blocks)
    return seq


def _projection_v1(channels, stride, in_channels):
    return _sequential(nn.Conv2D(channels, 1, strides=stride, use_bias=False,
                                 in_channels=in_channels),
                       nn.BatchNorm(in_channels=channels))


class BasicBlockV1(HybridBlock):
    """Two 3x3 convolutions with batch norm; relu after the residual sum."""

    def __init__(self, channels, stride, downsample=False, in_channels=0):
        super().__init__()
        self.body = _sequential(_conv3x3(channels, stride, in_channels),
                                nn.BatchNorm(in_channels=channels), nn.Activation("relu"),
                                _conv3x3(channels, 1, channels),
                                nn.BatchNorm(in_channels=channels))
        self.downsample = _projection_v1(channels, stride, in_channels) if downsample else None

    def forward(self, x):
        residual = self.downsample(x) if self.downsample is not None else x
        return npx.relu(self.body(x) + residual)


class BottleneckV1(HybridBlock):
    """1x1 (strided, with bias) -> 3x3 -> 1x1 to ``channels`` (4x the width)."""

    def __init__(self, channels, stride, downsample=False, in_channels=0):
        super().__init__()
        width = channels // 4
        self.body = _sequential(nn.Conv2D(width, 1, strides=stride, in_channels=in_channels),
                                nn.BatchNorm(in_channels=width), nn.Activation("relu"),
                                _conv3x3(width, 1, width), nn.BatchNorm(in_channels=width),
                                nn.Activation("relu"),
                                nn.Conv2D(channels, 1, in_channels=width),
                                nn.BatchNorm(in_channels=channels))
        self.downsample = _projection_v1(channels, stride, in_channels) if downsample else None

    def forward(self, x):
        residual = self.downsample(x) if self.downsample is not None else x
        return npx.relu(self.body(x) + residual)


class BasicBlockV2(HybridBlock):
    """Pre-activation basic block: bn-relu-conv twice; the projection sees the activated input."""

    def __init__(self, channels, stride, downsample=False, in_channels=0):
        super().__init__()
        self.bn1 = nn.BatchNorm(in_channels=in_channels)
        self.conv1 = _conv3x3(channels, stride, in_channels)
        self.bn2 = nn.BatchNorm(in_channels=channels)
        self.conv2 = _conv3x3(channels, 1, channels)
        self.downsample = nn.Conv2D(channels, 1, strides=stride, use_bias=False,
                                    in_channels=in_channels) if downsample else None

    def forward(self, x):
        residual = x
        x = npx.relu(self.bn1(x))
        if self.downsample is not None:
            residual = self.downsample(x)
        x = self.conv1(x)
        x = self.conv2(npx.relu(self.bn2(x)))
        return x + residual


class BottleneckV2(HybridBlock):
    """Pre-activation bottleneck: bn-relu-1x1, bn-relu-3x3 (strided), bn-relu-1x1."""

    def __init__(self, channels, stride, downsample=False, in_channels=0):
        super().__init__()
        width = channels // 4
        self.bn1 = nn.BatchNorm(in_channels=in_channels)
        self.conv1 = nn.Conv2D(width, 1, use_bias=False, in_channels=in_channels)
        self.bn2 = nn.BatchNorm(in_channels=width)
        self.conv2 = _conv3x3(width, stride, width)
        self.bn3 = nn.BatchNorm(in_channels=width)
        self.conv3 = nn.Conv2D(channels, 1, use_bias=False, in_channels=width)
        self.downsample = nn.Conv2D(channels, 1, strides=stride, use_bias=False,
                                    in_channels=in_channels) if downsample else None

    def forward(self, x):
        residual = x
        x = npx.relu(self.bn1(x))
        if self.downsample is not None:
            residual = self.downsample(x)
        x = self.conv1(x)
        x = self.conv2(npx.relu(self.bn2(x)))
        x = self.conv3(npx.relu(self.bn3(x)))
        return x + residual


def _stages(features, block, layers, channels):
    for i, num_layer in enumerate(layers):
        stride = 1 if i == 0 else 2
        stage = nn.HybridSequential()
        stage.add(block(channels[i + 1], stride, channels[i + 1] != channels[i],
                        in_channels=channels[i]))
        for _ in range(num_layer - 1):
            stage.add(block(channels[i + 1], 1, False, in_channels=channels[i + 1]))
        features.add(stage)


def _stem(features, channels, thumbnail):
    """A 3x3 convolution for small (thumbnail, e.g. CIFAR) images, else 7x7/2 + 3x3/2 pool."""
    if thumbnail:
        features.add(_conv3x3(channels, 1, 3))
        return
    features.add(nn.Conv2D(channels, 7, strides=2, padding=3, use_bias=False, in_channels=3),
                 nn.BatchNorm(in_channels=channels), nn.Activation("relu"),
                 nn.MaxPool2D(3, 2, 1))


class ResNetV1(HybridBlock):
    """``features`` (stem, stages, global average pool) then the ``output`` Dense layer."""

    def __init__(self, block, layers, channels, classes=1000, thumbnail=False):
        super().__init__()
        if len(layers) != len(channels) - 1:
            raise ValueError(f"channels needs one entry more than layers, got {len(layers)} "
                             f"layers and {len(channels)} channels")
        self.features = nn.HybridSequential()
        _stem(self.features, channels[0], thumbnail)
        _stages(self.features, block, layers, channels)
        self.features.add(nn.GlobalAvgPool2D())
        self.output = nn.Dense(classes, in_units=channels[-1])

    def forward(self, x):
        return self.output(self.features(x))


class ResNetV2(HybridBlock):
    """Input batch norm (no scale/shift), stem, pre-activation stages, bn-relu-pool, Dense."""

    def __init__(self, block, layers, channels, classes=1000, thumbnail=False):
        super().__init__()
        if len(layers) != len(channels) - 1:
            raise ValueError(f"channels needs one entry more than layers, got {len(layers)} "
                             f"layers and {len(channels)} channels")
        self.features = nn.HybridSequential()
        self.features.add(nn.BatchNorm(scale=False, center=False, in_channels=3))
        _stem(self.features, channels[0], thumbnail)
        _stages(self.features, block, layers, channels)
        self.features.add(nn.BatchNorm(in_channels=channels[-1]), nn.Activation("relu"),
                          nn.GlobalAvgPool2D(), nn.Flatten())
        self.output = nn.Dense(classes, in_units=channels[-1])

    def forward(self, x):
        return self.output(self.features(x))


_SPEC = {18: ("basic", [2, 2, 2, 2], [64, 64, 128, 256, 512]),
         34: ("basic", [3, 4, 6, 3], [64, 64, 128, 256, 512]),
         50: ("bottleneck", [3, 4, 6, 3], [64, 256, 512, 1024, 2048]),
         101: ("bottleneck", [3, 4, 23, 3], [64, 256, 512, 1024, 2048]),
         152: ("bottleneck", [3, 8, 36, 3], [64, 256, 512, 1024, 2048])}
_BLOCKS = {1: (ResNetV1, {"basic": BasicBlockV1, "bottleneck": BottleneckV1}),
           2: (ResNetV2, {"basic": BasicBlockV2, "bottleneck": BottleneckV2})}


def get_resnet(version, num_layers, pretrained=False, device=None, root=None, ctx=None, **kwargs):
    """ResNet ``version`` 1 or 2 with 18, 34, 50, 101 or 152 layers (MXNet's download
    keywords: ``check_untrained``)."""
    if num_layers not in _SPEC:
        raise ValueError(f"Invalid number of layers: {num_layers}. Options are {sorted(_SPEC)}")
    if version not in _BLOCKS:
        raise ValueError(f"Invalid resnet version: {version}. Options are 1 and 2.")
    check_untrained(f"resnet{num_layers}_v{version}", pretrained, device, ctx, root)
    kind, layers, channels = _SPEC[num_layers]
    net_class, blocks = _BLOCKS[version]
    return net_class(blocks[kind], layers, channels, **kwargs)


def resnet18_v1(**kwargs):
    """ResNet-18 V1."""
    return get_resnet(1, 18, **kwargs)


def resnet34_v1(**kwargs):
    """ResNet-34 V1."""
    return get_resnet(1, 34, **kwargs)


def resnet50_v1(**kwargs):
    """ResNet-50 V1."""
    return get_resnet(1, 50, **kwargs)


def resnet101_v1(**kwargs):
    """ResNet-101 V1."""
    return get_resnet(1, 101, **kwargs)


def resnet152_v1(**kwargs):
    """ResNet-152 V1."""
    return get_resnet(1, 152, **kwargs)


def resnet18_v2(**kwargs):
    """ResNet-18 V2."""
    return get_resnet(2, 18, **kwargs)


def resnet34_v2(**kwargs):
    """ResNet-34 V2."""
    return get_resnet(2, 34, **kwargs)


def resnet50_v2(**kwargs):
    """ResNet-50 V2."""
    return get_resnet(2, 50, **kwargs)


def resnet101_v2(**kwargs):
    """ResNet-101 V2."""
    return get_resnet(2, 101, **kwargs)


def resnet152_v2(**kwargs):
    """ResNet-152 V2."""
    return get_resnet(2, 152, **kwargs)
