"""Blocks that collect losses (a KL term, say) during their forward."""
from .stochastic_block import StochasticBlock, StochasticSequential  # noqa: F401
