"""Contrib vision transforms: the bounding-box ones (``transforms.bbox``)."""
from . import bbox  # noqa: F401
from .bbox import *  # noqa: F401,F403
from .bbox import __all__  # noqa: F401
