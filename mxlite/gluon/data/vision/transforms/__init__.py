"""Vision transforms (``gluon.data.vision.transforms``), as MXNet 2.x has them: the image
transforms of ``transforms.image`` (also importable from here), ``Compose`` and ``Cast``."""
from ....block import Block
from . import image  # noqa: F401
from .image import *  # noqa: F401,F403
from .image import __all__ as _image_all, _as_array

__all__ = ["Compose", "Cast"] + _image_all


class Compose(Block):
    """Apply transforms in order. A transform returning a tuple hands its first item on as
    the image and the rest as extra inputs (MXNet's Sequential rule), so ``(image, bbox)``
    flows through image and bounding-box transforms alike."""

    def __init__(self, transforms):
        super().__init__()
        for t in transforms:
            if isinstance(t, Block):
                self.register_child(t)
        self._transforms = list(transforms)

    def forward(self, x, *args):
        for t in self._transforms:
            x = t(x, *args)
            args = ()
            if isinstance(x, (tuple, list)):
                x, args = x[0], tuple(x[1:])
        return (x,) + args if args else x


class Cast(Block):
    """Cast every input to ``dtype`` (float32 by default); one input gives one array, several
    a tuple (MXNet casts them all: an image and its boxes, say)."""

    def __init__(self, dtype="float32"):
        super().__init__()
        self._dtype = dtype

    def forward(self, x, *args):
        out = tuple(_as_array(a).astype(self._dtype) for a in (x,) + args)
        return out if args else out[0]
