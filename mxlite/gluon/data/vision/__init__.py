"""Vision data helpers: ``transforms``."""
from . import transforms  # noqa: F401
