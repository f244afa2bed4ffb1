"""``gluon.contrib.data``: samplers MXNet keeps in contrib, and ``vision`` (image
DataLoaders with augmentation, bounding-box transforms)."""
from ...data.sampler import IntervalSampler  # noqa: F401
from . import vision  # noqa: F401

__all__ = ["IntervalSampler"]
