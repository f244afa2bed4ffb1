"""MXNet 2.x's ``mx.image``: image reading, resizing, cropping, augmenters and ``ImageIter``
(numpy mode: ``mx.np`` arrays). The detection part (``image/detection.py``) is not part of
mxlite."""
from . import image  # noqa: F401
from .image import *  # noqa: F401,F403
from .image import __all__  # noqa: F401
