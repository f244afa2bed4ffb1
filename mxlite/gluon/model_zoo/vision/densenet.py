"""DenseNet 121/161/169/201 (Huang et al. 2016), as MXNet's model zoo builds it (the
final 7x7 average pool expects 224 x 224 images)."""
from ... import nn
from ...block import HybridBlock
from ..model_store import check_untrained

__all__ = ["DenseNet", "get_densenet", "densenet121", "densenet161", "densenet169",
           "densenet201"]

# num_init_features, growth_rate, layers per dense block
_SPEC = {121: (64, 32, [6, 12, 24, 16]), 161: (96, 48, [6, 12, 36, 24]),
         169: (64, 32, [6, 12, 32, 32]), 201: (64, 32, [6, 12, 48, 32])}


def _dense_layer(in_channels, growth_rate, bn_size, dropout):
    """bn-relu-1x1 (bn_size x growth) - bn-relu-3x3 (growth), concatenated to its input."""
    width = bn_size * growth_rate
    new = nn.HybridSequential()
    new.add(nn.BatchNorm(in_channels=in_channels), nn.Activation("relu"),
            nn.Conv2D(width, 1, use_bias=False, in_channels=in_channels),
            nn.BatchNorm(in_channels=width), nn.Activation("relu"),
            nn.Conv2D(growth_rate, 3, padding=1, use_bias=False, in_channels=width))
    if dropout:
        new.add(nn.Dropout(dropout))
    out = nn.HybridConcatenate(axis=1)
    out.add(nn.Identity(), new)
    return out


def _transition(in_channels, out_channels):
    seq = nn.HybridSequential()
    seq.add(nn.BatchNorm(in_channels=in_channels), nn.Activation("relu"),
            nn.Conv2D(out_channels, 1, use_bias=False, in_channels=in_channels),
            nn.AvgPool2D(2, 2))
    return seq


class DenseNet(HybridBlock):
    """Stem, dense blocks joined by halving transitions, bn-relu-pool (``features``),
    ``output``."""

    def __init__(self, num_init_features, growth_rate, block_config, bn_size=4, dropout=0,
                 classes=1000):
        super().__init__()
        self.features = nn.HybridSequential()
        self.features.add(nn.Conv2D(num_init_features, 7, strides=2, padding=3, use_bias=False,
                                    in_channels=3),
                          nn.BatchNorm(in_channels=num_init_features), nn.Activation("relu"),
                          nn.MaxPool2D(3, 2, 1))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = nn.HybridSequential()
            for _ in range(num_layers):
                block.add(_dense_layer(channels, growth_rate, bn_size, dropout))
                channels += growth_rate
            self.features.add(block)
            if i != len(block_config) - 1:
                self.features.add(_transition(channels, channels // 2))
                channels //= 2
        self.features.add(nn.BatchNorm(in_channels=channels), nn.Activation("relu"),
                          nn.AvgPool2D(7), nn.Flatten())
        self.output = nn.Dense(classes, in_units=channels)

    def forward(self, x):
        return self.output(self.features(x))


def get_densenet(num_layers, pretrained=False, device=None, root=None, ctx=None, **kwargs):
    """DenseNet with 121, 161, 169 or 201 layers (download keywords: ``check_untrained``)."""
    if num_layers not in _SPEC:
        raise ValueError(f"Invalid number of layers: {num_layers}. Options are {sorted(_SPEC)}")
    check_untrained(f"densenet{num_layers}", pretrained, device, ctx, root)
    return DenseNet(*_SPEC[num_layers], **kwargs)


def densenet121(**kwargs):
    """DenseNet-121."""
    return get_densenet(121, **kwargs)


def densenet161(**kwargs):
    """DenseNet-161."""
    return get_densenet(161, **kwargs)


def densenet169(**kwargs):
    """DenseNet-169."""
    return get_densenet(169, **kwargs)


def densenet201(**kwargs):
    """DenseNet-201."""
    return get_densenet(201, **kwargs)
