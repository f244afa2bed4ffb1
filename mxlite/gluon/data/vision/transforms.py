"""Image transforms (``gluon.data.vision.transforms``): ToTensor, Normalize, Compose, Cast."""
import numpy as _np

from .... import numpy as mnp
from ....ndarray import ndarray
from ...block import Block

__all__ = ["Compose", "ToTensor", "Normalize", "Cast"]


class Compose(Block):
    """Apply transforms in order."""

    def __init__(self, transforms):
        super().__init__()
        for t in transforms:
            if isinstance(t, Block):
                self.register_child(t)
        self._transforms = list(transforms)

    def forward(self, x):
        for t in self._transforms:
            x = t(x)
        return x


def _as_array(x):
    return x if isinstance(x, ndarray) else mnp.array(_np.asarray(x))


class ToTensor(Block):
    """(H, W, C) or (N, H, W, C) uint8 in [0, 255] -> (C, H, W) / (N, C, H, W) float32 in [0, 1]."""

    def forward(self, x):
        x = _as_array(x)
        if x.ndim not in (3, 4):
            raise ValueError(f"ToTensor expects (H, W, C) or (N, H, W, C) input, got shape {x.shape}")
        axes = (2, 0, 1) if x.ndim == 3 else (0, 3, 1, 2)
        return mnp.transpose(x.astype("float32"), axes) / 255.0


class Normalize(Block):
    """``(x - mean) / std`` per channel of a (C, H, W) or (N, C, H, W) float tensor."""

    def __init__(self, mean=0.0, std=1.0):
        super().__init__()
        self._mean = _np.asarray(mean, dtype=_np.float32)
        self._std = _np.asarray(std, dtype=_np.float32)

    def forward(self, x):
        x = _as_array(x)
        shape = (-1, 1, 1) if self._mean.ndim else ()
        mean = mnp.array(self._mean.reshape(shape) if shape else self._mean, device=x.device)
        std = mnp.array(self._std.reshape(shape) if shape else self._std, device=x.device)
        return (x - mean) / std


class Cast(Block):
    """Cast to ``dtype`` (float32 by default)."""

    def __init__(self, dtype="float32"):
        super().__init__()
        self._dtype = dtype

    def forward(self, x):
        return _as_array(x).astype(self._dtype)
