"""Helpers shared by the distributions: logit/probability conversion, special functions,
shape bookkeeping and a cached property that keeps autograd history."""
from functools import update_wrapper

import numpy as _onp

from .... import numpy as np
from .... import numpy_extension as npx

__all__ = ['getF', 'prob2logit', 'logit2prob', 'cached_property', 'sum_right_most',
           'sample_n_shape_converter', 'gammaln', 'digamma', 'erf', 'erfinv', 'batch_shape_of']

gammaln = npx.gammaln
digamma = npx.digamma
erf = npx.erf
erfinv = npx.erfinv


def getF(*params):
    """mxlite has one array type, so every parameter runs through ``mx.np``."""
    return np


def sum_right_most(x, ndim):
    """Sum ``x`` over its ``ndim`` rightmost axes (event axes of an ``Independent``)."""
    if ndim == 0:
        return x
    return x.sum(axis=tuple(range(-ndim, 0)))


def _clip_prob(prob):
    eps = float(_onp.finfo('float32').eps)
    return np.clip(prob, eps, 1 - eps)


def prob2logit(prob, binary=True):
    """log(p / (1 - p)) for the binary case, log(p) for the categorical one; the clip keeps
    0 and 1 finite."""
    p = _clip_prob(prob)
    if binary:
        return np.log(p) - np.log1p(-p)
    return np.log(p)


def logit2prob(logit, binary=True):
    """sigmoid for the binary case, softmax over the last axis for the categorical one."""
    if binary:
        return npx.sigmoid(logit)
    return npx.softmax(logit, axis=-1)


def shape_of(x):
    return tuple(x.shape) if hasattr(x, 'shape') else ()


def batch_shape_of(*params):
    """The broadcast shape of the parameters (Python numbers count as 0-d)."""
    try:
        return tuple(_onp.broadcast_shapes(*(shape_of(p) for p in params)))
    except ValueError:
        raise ValueError("distribution parameters do not broadcast: shapes "
                         f"{[shape_of(p) for p in params]}") from None


def sample_n_shape_converter(size):
    """``sample_n``'s leading shape as a tuple (None or () mean no extra axes)."""
    if size is None:
        return ()
    if isinstance(size, int):
        return (size,)
    return tuple(size)


def array_like(params):
    """(device, dtype) of the first array among ``params``: noise must live beside them."""
    for p in params:
        if isinstance(p, np.ndarray):
            dtype = p.dtype if _onp.issubdtype(p.dtype, _onp.floating) else None
            return p.device, dtype
    return None, None


def uniform_noise(shape, params, low=0.0, high=1.0):
    device, dtype = array_like(params)
    return np.random.uniform(low, high, size=shape, dtype=dtype, device=device)


def normal_noise(shape, params):
    device, dtype = array_like(params)
    return np.random.normal(0.0, 1.0, size=shape, dtype=dtype, device=device)


class cached_property:
    """A property computed once per instance; the stored array keeps its autograd history,
    so gradients flow through it like through a plain attribute."""

    def __init__(self, func):
        self._func = func
        update_wrapper(self, func)

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = self._func(instance)
        setattr(instance, self._func.__name__, value)
        return value
