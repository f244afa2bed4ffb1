"""AlexNet (Krizhevsky 2012, the one-GPU variant), as MXNet's model zoo builds it. The first
Dense layer infers its input size (256 x 6 x 6 for 224 x 224 images) on the first call."""
from ... import nn
from ...block import HybridBlock
from ..model_store import check_untrained

__all__ = ["AlexNet", "alexnet"]


class AlexNet(HybridBlock):
    """Five convolutions with three max pools, two 4096-unit Dense layers, ``output``."""

    def __init__(self, classes=1000):
        super().__init__()
        self.features = nn.HybridSequential()
        self.features.add(
            nn.Conv2D(64, 11, strides=4, padding=2, activation="relu", in_channels=3),
            nn.MaxPool2D(3, 2),
            nn.Conv2D(192, 5, padding=2, activation="relu", in_channels=64),
            nn.MaxPool2D(3, 2),
            nn.Conv2D(384, 3, padding=1, activation="relu", in_channels=192),
            nn.Conv2D(256, 3, padding=1, activation="relu", in_channels=384),
            nn.Conv2D(256, 3, padding=1, activation="relu", in_channels=256),
            nn.MaxPool2D(3, 2),
            nn.Flatten(),
            nn.Dense(4096, activation="relu"),
            nn.Dropout(0.5),
            nn.Dense(4096, activation="relu", in_units=4096),
            nn.Dropout(0.5))
        self.output = nn.Dense(classes, in_units=4096)

    def forward(self, x):
        return self.output(self.features(x))


def alexnet(pretrained=False, device=None, root=None, ctx=None, **kwargs):
    """AlexNet (download keywords: ``check_untrained``)."""
    check_untrained("alexnet", pretrained, device, ctx, root)
    return AlexNet(**kwargs)
