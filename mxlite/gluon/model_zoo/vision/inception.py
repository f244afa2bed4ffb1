"""Inception V3 (Szegedy et al. 2015) as MXNet's model zoo builds it: no auxiliary
classifier, batch norm with epsilon 0.001 after every bias-free convolution, 299 x 299
inputs (the final 8x8 average pool)."""
from ... import nn
from ...block import HybridBlock
from ..model_store import check_untrained

__all__ = ["Inception3", "inception_v3"]


def _conv(in_channels, channels, kernel, strides=1, padding=0):
    out = nn.HybridSequential()
    out.add(nn.Conv2D(channels, kernel, strides=strides, padding=padding, use_bias=False,
                      in_channels=in_channels),
            nn.BatchNorm(epsilon=0.001, in_channels=channels), nn.Activation("relu"))
    return out


def _branch(in_channels, pool, *convs):
    """An optional pool ('avg' 3x3/1 or 'max' 3x3/2), then convolutions given as
    (channels, kernel, strides, padding); returns the branch and its output channels."""
    out = nn.HybridSequential()
    if pool == "avg":
        out.add(nn.AvgPool2D(3, 1, 1))
    elif pool == "max":
        out.add(nn.MaxPool2D(3, 2))
    channels = in_channels
    for conv in convs:
        out.add(_conv(channels, *conv))
        channels = conv[0]
    return out, channels


def _concat(*branches):
    out = nn.HybridConcatenate(axis=1)
    out.add(*(b for b, _ in branches))
    return out, sum(c for _, c in branches)


def _block_a(c, pool_features):
    return _concat(_branch(c, None, (64, 1)),
                   _branch(c, None, (48, 1), (64, 5, 1, 2)),
                   _branch(c, None, (64, 1), (96, 3, 1, 1), (96, 3, 1, 1)),
                   _branch(c, "avg", (pool_features, 1)))


def _block_b(c):
    return _concat(_branch(c, None, (384, 3, 2)),
                   _branch(c, None, (64, 1), (96, 3, 1, 1), (96, 3, 2)),
                   _branch(c, "max"))


def _block_c(c, c7):
    return _concat(_branch(c, None, (192, 1)),
                   _branch(c, None, (c7, 1), (c7, (1, 7), 1, (0, 3)), (192, (7, 1), 1, (3, 0))),
                   _branch(c, None, (c7, 1), (c7, (7, 1), 1, (3, 0)), (c7, (1, 7), 1, (0, 3)),
                           (c7, (7, 1), 1, (3, 0)), (192, (1, 7), 1, (0, 3))),
                   _branch(c, "avg", (192, 1)))


def _block_d(c):
    return _concat(_branch(c, None, (192, 1), (320, 3, 2)),
                   _branch(c, None, (192, 1), (192, (1, 7), 1, (0, 3)),
                           (192, (7, 1), 1, (3, 0)), (192, 3, 2)),
                   _branch(c, "max"))


def _split_3x3(c):
    """A 1x3 and a 3x1 convolution side by side."""
    return _concat(_branch(c, None, (384, (1, 3), 1, (0, 1))),
                   _branch(c, None, (384, (3, 1), 1, (1, 0))))


def _then(first, second):
    out = nn.HybridSequential()
    out.add(first[0], second[0])
    return out, second[1]


def _block_e(c):
    return _concat(_branch(c, None, (320, 1)),
                   _then(_branch(c, None, (384, 1)), _split_3x3(384)),
                   _then(_branch(c, None, (448, 1), (384, 3, 1, 1)), _split_3x3(384)),
                   _branch(c, "avg", (192, 1)))


class Inception3(HybridBlock):
    """Stem convolutions and pools, Inception blocks A x3, B, C x4, D, E x2, 8x8 average
    pool and dropout (``features``), then ``output``."""

    def __init__(self, classes=1000):
        super().__init__()
        self.features = nn.HybridSequential()
        self.features.add(_conv(3, 32, 3, strides=2), _conv(32, 32, 3),
                          _conv(32, 64, 3, padding=1), nn.MaxPool2D(3, 2), _conv(64, 80, 1),
                          _conv(80, 192, 3), nn.MaxPool2D(3, 2))
        channels = 192
        for make, args in ((_block_a, (32,)), (_block_a, (64,)), (_block_a, (64,)),
                           (_block_b, ()), (_block_c, (128,)), (_block_c, (160,)),
                           (_block_c, (160,)), (_block_c, (192,)), (_block_d, ()),
                           (_block_e, ()), (_block_e, ())):
            block, channels = make(channels, *args)
            self.features.add(block)
        self.features.add(nn.AvgPool2D(8), nn.Dropout(0.5), nn.Flatten())
        self.output = nn.Dense(classes, in_units=channels)

    def forward(self, x):
        return self.output(self.features(x))


def inception_v3(pretrained=False, device=None, root=None, ctx=None, **kwargs):
    """Inception V3 (download keywords: ``check_untrained``)."""
    check_untrained("inception_v3", pretrained, device, ctx, root)
    return Inception3(**kwargs)
