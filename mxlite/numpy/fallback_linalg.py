"""``mx.np.fallback_linalg``: the numpy.linalg functions ``mx.np.linalg`` runs in numpy on the
host, as MXNet 2.x's ``mxnet.numpy.fallback_linalg`` does (``cond``); see ``fallback``."""
import numpy as _np

from .fallback import _host_fallback

__all__ = ["cond"]

cond = _host_fallback("linalg.cond", _np.linalg.cond)
