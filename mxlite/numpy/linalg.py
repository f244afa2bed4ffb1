"""``mx.np.linalg``: numpy.linalg over mxlite arrays; see ``mxlite.ops.linalg`` (and
``mxlite.ops.composite`` for ``norm``)."""
from ..ops.composite import norm  # noqa: F401
from ..ops.linalg import (inv, det, slogdet, solve, cholesky, svd,  # noqa: F401
                          matmul, tensordot, einsum)

__all__ = ["inv", "det", "slogdet", "solve", "cholesky", "svd", "norm", "matmul",
           "tensordot", "einsum"]
