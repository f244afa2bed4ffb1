"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016), as MXNet's model zoo builds them (the
final 13x13 average pool expects 224 x 224 images)."""
from ... import nn
from ...block import HybridBlock
from ..model_store import check_untrained

__all__ = ["SqueezeNet", "get_squeezenet", "squeezenet1_0", "squeezenet1_1"]


def _fire(in_channels, squeeze, expand1x1, expand3x3):
    """1x1 squeeze, then 1x1 and 3x3 expansions concatenated on channels."""
    expand = nn.HybridConcatenate(axis=1)
    expand.add(nn.Conv2D(expand1x1, 1, activation="relu", in_channels=squeeze),
               nn.Conv2D(expand3x3, 3, padding=1, activation="relu", in_channels=squeeze))
    out = nn.HybridSequential()
    out.add(nn.Conv2D(squeeze, 1, activation="relu", in_channels=in_channels), expand)
    return out


# (squeeze, expand) of each fire module, "pool" for a 3x3/2 ceil-mode max pool
_SPEC = {"1.0": (96, 7, [(16, 64), (16, 64), (32, 128), "pool", (32, 128), (48, 192),
                         (48, 192), (64, 256), "pool", (64, 256)]),
         "1.1": (64, 3, [(16, 64), (16, 64), "pool", (32, 128), (32, 128), "pool", (48, 192),
                         (48, 192), (64, 256), (64, 256)])}


class SqueezeNet(HybridBlock):
    """Stem convolution, fire modules and pools, dropout (``features``); a 1x1 convolution
    to ``classes`` with relu and a 13x13 average pool (``output``)."""

    def __init__(self, version, classes=1000):
        super().__init__()
        if version not in _SPEC:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1.0 or 1.1 expected")
        stem, kernel, modules = _SPEC[version]
        self.features = nn.HybridSequential()
        self.features.add(nn.Conv2D(stem, kernel, strides=2, activation="relu", in_channels=3),
                          nn.MaxPool2D(3, 2, ceil_mode=True))
        channels = stem
        for module in modules:
            if module == "pool":
                self.features.add(nn.MaxPool2D(3, 2, ceil_mode=True))
            else:
                squeeze, expand = module
                self.features.add(_fire(channels, squeeze, expand, expand))
                channels = 2 * expand
        self.features.add(nn.Dropout(0.5))
        self.output = nn.HybridSequential()
        self.output.add(nn.Conv2D(classes, 1, in_channels=channels), nn.Activation("relu"),
                        nn.AvgPool2D(13), nn.Flatten())

    def forward(self, x):
        return self.output(self.features(x))


def get_squeezenet(version, pretrained=False, device=None, root=None, ctx=None, **kwargs):
    """SqueezeNet version '1.0' or '1.1' (download keywords: ``check_untrained``)."""
    check_untrained(f"squeezenet{version}", pretrained, device, ctx, root)
    return SqueezeNet(version, **kwargs)


def squeezenet1_0(**kwargs):
    """SqueezeNet 1.0."""
    return get_squeezenet("1.0", **kwargs)


def squeezenet1_1(**kwargs):
    """SqueezeNet 1.1 (2.4x less computation than 1.0, about the same accuracy)."""
    return get_squeezenet("1.1", **kwargs)
