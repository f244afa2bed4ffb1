"""``mx.random``: MXNet's top-level random API over ``mx.np.random``'s generators.

The functions take MXNet's older argument names (``shape=``, ``ctx=``) as well as
``size=``/``device=``; ``randint`` draws int32 by default, as ``mx.random.randint`` does.
"""
import functools

import numpy as _np

from .numpy import random as _np_random

__all__ = ["seed"] + [name for name in _np_random.__all__ if name != "seed"]


def seed(seed_state, ctx="all", device=None):
    """Reseed ``device``'s generator (default: every device's, and those created later)."""
    _np_random.seed(seed_state, device=device or ctx)


def _with_mxnet_arguments(fn, **defaults):
    @functools.wraps(fn)
    def draw(*args, shape=None, ctx=None, **kwargs):
        if shape is not None and fn.__name__ in ("rand", "randn"):  # they take sizes positionally
            args, shape = tuple(shape) if _np.ndim(shape) else (shape,), None
        if shape is not None:
            if "size" in kwargs:
                raise TypeError(f"{fn.__name__}: give shape= or size=, not both")
            kwargs["size"] = shape
        if ctx is not None:
            kwargs.setdefault("device", ctx)
        for key, value in defaults.items():
            kwargs.setdefault(key, value)
        return fn(*args, **kwargs)
    return draw


globals().update({name: _with_mxnet_arguments(getattr(_np_random, name),
                                              **({"dtype": "int32"} if name == "randint" else {}))
                  for name in __all__ if name != "seed"})
