"""``mx.np.linalg``: numpy.linalg over mxlite arrays; see ``mxlite.ops.linalg``."""
from ..ops.linalg import (inv, det, slogdet, solve, cholesky, svd, norm,  # noqa: F401
                          matmul, tensordot, einsum)

__all__ = ["inv", "det", "slogdet", "solve", "cholesky", "svd", "norm", "matmul",
           "tensordot", "einsum"]
