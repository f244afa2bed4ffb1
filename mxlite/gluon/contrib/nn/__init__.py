"""``gluon.contrib.nn``: MXNet's contributed layers."""
from . import basic_layers, conv_layers
from .basic_layers import *  # noqa: F401,F403
from .conv_layers import *  # noqa: F401,F403

__all__ = basic_layers.__all__ + conv_layers.__all__
