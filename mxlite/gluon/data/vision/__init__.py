"""Vision data: datasets read from local standard files, and ``transforms``."""
from .datasets import *  # noqa: F401,F403
from . import transforms  # noqa: F401
