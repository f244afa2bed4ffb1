"""``mx.np.linalg``: numpy.linalg over mxlite arrays; see ``mxlite.ops.linalg`` (and
``mxlite.ops.composite`` for ``norm``); ``cond`` runs numpy's on the host (``fallback_linalg``)."""
from ..ops.composite import (LINALG, matrix_norm, matrix_transpose, norm,  # noqa: F401
                             svdvals, tensorinv, tensorsolve, vector_norm)
from ..ops.linalg import (inv, det, slogdet, solve, cholesky, svd,  # noqa: F401
                          matmul, tensordot, einsum, cross, qr, pinv, eig, eigh, eigvals,
                          eigvalsh, lstsq, matrix_rank)
from .fallback_linalg import cond  # noqa: F401

__all__ = ["inv", "det", "slogdet", "solve", "cholesky", "svd", "matmul", "tensordot", "einsum",
           "cross", "qr", "pinv", "eig", "eigh", "eigvals", "eigvalsh", "lstsq",
           "matrix_rank", "cond"] + LINALG
