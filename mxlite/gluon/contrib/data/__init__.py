"""``gluon.contrib.data``: samplers MXNet keeps in contrib."""
from ...data.sampler import IntervalSampler  # noqa: F401

__all__ = ["IntervalSampler"]
