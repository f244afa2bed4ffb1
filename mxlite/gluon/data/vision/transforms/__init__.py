"""Vision transforms (``gluon.data.vision.transforms``), as MXNet 2.x has them: the image
transforms of ``transforms.image`` (also importable from here), ``Compose`` /
``HybridCompose``, ``RandomApply`` / ``HybridRandomApply`` and ``Cast``."""
import numpy as _np

from ....block import Block
from . import image  # noqa: F401
from .image import *  # noqa: F401,F403
from .image import __all__ as _image_all, _as_array

__all__ = ["Compose", "HybridCompose", "RandomApply", "HybridRandomApply", "Cast"] + _image_all


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


class HybridCompose(Compose):
    """``Compose`` for MXNet code that asks for the hybrid form. mxlite's image transforms
    are Blocks that run on the host or as npx ops, so any transform Block is taken; anything
    else raises, as MXNet's does for a non-HybridBlock."""

    def __init__(self, transforms):
        for t in transforms:
            if not isinstance(t, Block):
                raise ValueError(f"{t!r} is not a transform Block; HybridCompose composes "
                                 "gluon Blocks")
        super().__init__(transforms)


class RandomApply(Block):
    """Apply ``transforms`` (a transform Block, e.g. a Compose) with probability ``p``, drawn
    from numpy's global generator like the other random transforms; extra inputs (boxes)
    pass through either way (MXNet's drops them when it does not apply)."""

    def __init__(self, transforms, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"RandomApply: p must lie in [0, 1], got {p}")
        self.transforms = transforms
        self.p = p

    def forward(self, x, *args):
        if _np.random.random_sample() >= self.p:
            return (x,) + args if args else x
        return self.transforms(x, *args)


class HybridRandomApply(RandomApply):
    """``RandomApply`` under MXNet's hybrid name (``transforms`` must be a Block)."""

    def __init__(self, transforms, p=0.5):
        if not isinstance(transforms, Block):
            raise ValueError(f"HybridRandomApply takes a transform Block, got {transforms!r}")
        super().__init__(transforms, p)


class Cast(Block):
    """Cast every input to ``dtype`` (float32 by default); one input gives one array, several
    a tuple (MXNet casts them all: an image and its boxes, say)."""

    def __init__(self, dtype="float32"):
        super().__init__()
        self._dtype = dtype

    def forward(self, x, *args):
        out = tuple(_as_array(a).astype(self._dtype) for a in (x,) + args)
        return out if args else out[0]
