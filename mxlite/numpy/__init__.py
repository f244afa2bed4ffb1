"""``mx.np``: numpy's API over mxlite arrays, differentiable where numpy's math is."""
import warnings as _warnings

import numpy as _onp

from ..base import bfloat16 as _bfloat16
from ..ndarray import ndarray  # noqa: F401  (mx.np.ndarray)
from ..ops.elemwise import *  # noqa: F401,F403
from ..ops.reduce import *  # noqa: F401,F403
from ..ops.shape import *  # noqa: F401,F403
from ..ops.linalg import *  # noqa: F401,F403
from ..ops.composite import *  # noqa: F401,F403
from .creation import *  # noqa: F401,F403
from .dtypes import *  # noqa: F401,F403
from .extras import *  # noqa: F401,F403
from .fallback import *  # noqa: F401,F403
from . import fallback, fallback_linalg  # noqa: F401  (MXNet 2.x's module names)
from . import _methods  # noqa: F401  (installs ndarray's operators)
from . import numpy_dispatch  # noqa: F401  (numpy's functions on mxlite arrays run mx.np's)
from . import random  # noqa: F401
from . import linalg  # noqa: F401

float16, float32, float64 = _onp.float16, _onp.float32, _onp.float64
bfloat16 = _bfloat16.type  # ml_dtypes' scalar type: x.astype(mx.np.bfloat16) or 'bfloat16'
int8, int16, int32, int64 = _onp.int8, _onp.int16, _onp.int32, _onp.int64
uint8, bool_ = _onp.uint8, _onp.bool_
bool = _onp.bool_  # noqa: A001 - MXNet 2.x exports the dtype under this name
dtype = _onp.dtype
pi, e, inf, nan, newaxis = _onp.pi, _onp.e, _onp.inf, _onp.nan, None
PZERO, NZERO = 0.0, -0.0  # numpy 1.x's names, which MXNet 2.x's mx.np keeps
fabs = abs  # noqa: F405 - MXNet's fabs is its abs (integers stay integers; numpy: float)


def shape(a):
    """The shape of ``a`` (an mxlite array, or anything numpy takes)."""
    return a.shape if isinstance(a, ndarray) else _onp.shape(a)


def __getattr__(name):
    """``product``: MXNet 2.x keeps numpy 1.x's alias of ``prod``, which numpy deprecated (1.25)
    and removed (2.0); served here with numpy 1.x's DeprecationWarning."""
    if name == "product":
        _warnings.warn("mx.np.product is deprecated (numpy removed it): use mx.np.prod",
                       DeprecationWarning, stacklevel=2)
        return prod  # noqa: F405
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


import sys as _sys  # noqa: E402

from ..autograd import set_differentiable_namespace as _set_namespace  # noqa: E402

_set_namespace(_sys.modules[__name__])  # create_graph=True reruns backward formulas on mx.np
