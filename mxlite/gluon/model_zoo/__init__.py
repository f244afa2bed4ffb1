"""``gluon.model_zoo``: MXNet's model-zoo architectures (``vision``), built untrained."""
from . import vision  # noqa: F401
from .vision import get_model  # noqa: F401
