"""VGG 11/13/16/19 (Simonyan & Zisserman 2014), optionally with batch norm, as MXNet's
model zoo builds them. The first Dense layer infers its input size (512 x 7 x 7 for
224 x 224 images) on the first call."""
from ... import nn
from ...block import HybridBlock
from ..model_store import check_untrained
from ....initializer import Xavier

__all__ = ["VGG", "get_vgg"] + [f"vgg{n}{bn}" for n in (11, 13, 16, 19) for bn in ("", "_bn")]

_SPEC = {11: ([1, 1, 2, 2, 2], [64, 128, 256, 512, 512]),
         13: ([2, 2, 2, 2, 2], [64, 128, 256, 512, 512]),
         16: ([2, 2, 3, 3, 3], [64, 128, 256, 512, 512]),
         19: ([2, 2, 4, 4, 4], [64, 128, 256, 512, 512])}


class VGG(HybridBlock):
    """Stages of 3x3 convolutions (+ batch norm) and 2x2 max pools, two 4096-unit Dense
    layers with dropout (``features``), then ``output``."""

    def __init__(self, layers, filters, classes=1000, batch_norm=False):
        super().__init__()
        if len(layers) != len(filters):
            raise ValueError(f"layers and filters differ in length: {len(layers)} and "
                             f"{len(filters)}")
        self.features = nn.HybridSequential()
        in_channels = 3
        for num, channels in zip(layers, filters):
            for _ in range(num):
                self.features.add(nn.Conv2D(
                    channels, 3, padding=1, in_channels=in_channels,
                    weight_initializer=Xavier("gaussian", "out", 2)))
                if batch_norm:
                    self.features.add(nn.BatchNorm(in_channels=channels))
                self.features.add(nn.Activation("relu"))
                in_channels = channels
            self.features.add(nn.MaxPool2D(strides=2))
        self.features.add(nn.Dense(4096, activation="relu", weight_initializer="normal"),
                          nn.Dropout(0.5),
                          nn.Dense(4096, activation="relu", in_units=4096,
                                   weight_initializer="normal"),
                          nn.Dropout(0.5))
        self.output = nn.Dense(classes, in_units=4096, weight_initializer="normal")

    def forward(self, x):
        return self.output(self.features(x))


def get_vgg(num_layers, pretrained=False, device=None, root=None, ctx=None, **kwargs):
    """VGG with 11, 13, 16 or 19 layers (download keywords: ``check_untrained``)."""
    if num_layers not in _SPEC:
        raise ValueError(f"Invalid number of layers: {num_layers}. Options are {sorted(_SPEC)}")
    check_untrained(f"vgg{num_layers}", pretrained, device, ctx, root)
    layers, filters = _SPEC[num_layers]
    return VGG(layers, filters, **kwargs)


def vgg11(**kwargs):
    """VGG-11."""
    return get_vgg(11, **kwargs)


def vgg13(**kwargs):
    """VGG-13."""
    return get_vgg(13, **kwargs)


def vgg16(**kwargs):
    """VGG-16."""
    return get_vgg(16, **kwargs)


def vgg19(**kwargs):
    """VGG-19."""
    return get_vgg(19, **kwargs)


def vgg11_bn(**kwargs):
    """VGG-11 with batch norm."""
    return get_vgg(11, batch_norm=True, **kwargs)


def vgg13_bn(**kwargs):
    """VGG-13 with batch norm."""
    return get_vgg(13, batch_norm=True, **kwargs)


def vgg16_bn(**kwargs):
    """VGG-16 with batch norm."""
    return get_vgg(16, batch_norm=True, **kwargs)


def vgg19_bn(**kwargs):
    """VGG-19 with batch norm."""
    return get_vgg(19, batch_norm=True, **kwargs)
