"""``mx.gluon``: Blocks, Parameters, layers, losses, the Trainer, data and metrics."""
from .parameter import Parameter, Constant, DeferredInitializationError  # noqa: F401
from .block import Block, HybridBlock, SymbolBlock  # noqa: F401
from .trainer import Trainer  # noqa: F401
from . import nn, rnn, loss, data, metric, utils, model_zoo  # noqa: F401
from . import probability  # noqa: F401
from . import contrib  # noqa: F401
