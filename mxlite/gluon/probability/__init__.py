"""``mx.gluon.probability``: distributions, transformations, KL divergences and
loss-collecting blocks (MXNet 2.x's ``gluon.probability``)."""
from .distributions import *  # noqa: F401,F403
from .distributions import (constraint, utils, kl_divergence, register_kl,  # noqa: F401
                            empirical_kl, cached_property, Distribution, ExponentialFamily)
from .transformation import *  # noqa: F401,F403
from .block import StochasticBlock, StochasticSequential  # noqa: F401
