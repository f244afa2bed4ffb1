"""``mx.gluon.contrib``: MXNet 2.x's contributed layers, samplers and the Estimator training loop."""
from . import cnn, data, estimator, nn  # noqa: F401
