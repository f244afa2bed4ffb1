"""``transforms.bbox``: image + bounding-box transforms (``bbox``) and box arithmetic
(``utils``), as MXNet 2.x's ``gluon.contrib.data.vision.transforms.bbox``."""
from . import utils  # noqa: F401
from .bbox import *  # noqa: F401,F403
from .bbox import __all__  # noqa: F401
