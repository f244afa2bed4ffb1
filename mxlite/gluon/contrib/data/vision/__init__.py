"""``gluon.contrib.data.vision``: image DataLoaders with augmentation and the bounding-box
transforms they use for detection, as MXNet 2.x has them."""
from . import transforms  # noqa: F401
from .transforms import *  # noqa: F401,F403
from .dataloader import *  # noqa: F401,F403
