"""``gluon.contrib.estimator``: a training loop (``Estimator.fit`` / ``evaluate``) driven by
event handlers, as in MXNet 2.x."""
from . import batch_processor, estimator, event_handler  # noqa: F401
from .batch_processor import *  # noqa: F401,F403
from .estimator import *  # noqa: F401,F403
from .event_handler import *  # noqa: F401,F403

__all__ = batch_processor.__all__ + estimator.__all__ + event_handler.__all__
