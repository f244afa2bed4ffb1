"""``mx.optimizer``: optimizers by name (``create('adam')``) and the Updater."""
from .optimizer import Optimizer, Updater, create, get_updater, register  # noqa: F401
from .sgd import SGD, NAG, Signum, DCASGD, SGLD, LARS  # noqa: F401
from .adam import Adam, AdamW, Adamax, Nadam, FTML, LAMB, LANS  # noqa: F401
from .adaptive import RMSProp, AdaGrad, AdaDelta, Ftrl  # noqa: F401
