"""``mxnet.numpy_dispatch_protocol``'s names: the numpy functions and ufuncs that run ``mx.np``'s
on mxlite arrays (``mxlite.numpy.numpy_dispatch``), and MXNet's decorators for tests that rely
on it.

The lists are MXNet 2.x's less ``sometrue``, ``round_`` and ``product``, which NumPy 2 removed
(so ``numpy.sometrue(x)`` cannot be called to dispatch); mxlite's dispatch handles every other
name in them (a test checks it). Unlike MXNet, mxlite registers nothing from these lists: any
numpy function with an ``mx.np`` namesake dispatches to it, and the rest run numpy's on host
copies (``mx.np.fallback.host_call``). The ufunc names include numpy's aliases (``abs``,
``mod``, ``true_divide``, ``bitwise_not``), which dispatch under their ufunc's own name.
"""
import functools

from . import numpy as _mx_np  # noqa: F401  (installs the dispatch the lists describe)

__all__ = ["with_array_function_protocol", "with_array_ufunc_protocol",
           "_NUMPY_ARRAY_FUNCTION_LIST", "_NUMPY_ARRAY_UFUNC_LIST"]


def _protocol_test(protocol):
    """MXNet's decorator: run the test, and report a failure as a RuntimeError that names the
    protocol. (MXNet also skips on numpy older than the protocol; mxlite needs numpy >= 1.24,
    which has both.)"""
    def decorator(func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            try:
                func(*args, **kwargs)
            except Exception as e:
                raise RuntimeError(f"Running function {func.__name__} with NumPy array "
                                   f"{protocol} protocol failed with exception {e}") from e
        return run
    return decorator


with_array_function_protocol = _protocol_test("function")
with_array_ufunc_protocol = _protocol_test("ufunc")

_NUMPY_ARRAY_FUNCTION_LIST = [
    "all", "any", "argmin", "argmax", "around", "round", "argsort", "sort", "append",
    "broadcast_arrays", "broadcast_to", "clip", "concatenate", "copy", "cumsum", "diag",
    "diagonal", "diagflat", "dot", "expand_dims", "fix", "flip", "flipud", "fliplr", "inner",
    "insert", "max", "amax", "mean", "min", "amin", "nonzero", "ones_like", "atleast_1d",
    "atleast_2d", "atleast_3d", "prod", "ravel", "repeat", "reshape", "roll", "split",
    "array_split", "hsplit", "vsplit", "dsplit", "squeeze", "stack", "std", "sum", "swapaxes",
    "take", "tensordot", "tile", "transpose", "unique", "unravel_index", "diag_indices_from",
    "delete", "var", "vdot", "vstack", "column_stack", "hstack", "dstack", "zeros_like",
    "linalg.norm", "linalg.cholesky", "linalg.inv", "linalg.solve", "linalg.tensorinv",
    "linalg.tensorsolve", "linalg.pinv", "linalg.eigvals", "linalg.eig", "linalg.eigvalsh",
    "linalg.eigh", "shape", "trace", "tril", "meshgrid", "outer", "einsum", "polyval",
    "shares_memory", "may_share_memory", "quantile", "percentile", "diff", "ediff1d", "resize",
    "where", "full_like", "bincount", "empty_like", "nan_to_num", "isnan", "isfinite",
    "isposinf", "isneginf", "isinf", "pad"]

_NUMPY_ARRAY_UFUNC_LIST = [
    "abs", "fabs", "add", "arctan2", "copysign", "degrees", "hypot", "lcm", "subtract",
    "multiply", "true_divide", "negative", "power", "mod", "matmul", "absolute", "rint", "sign",
    "exp", "log", "log2", "log10", "expm1", "sqrt", "square", "cbrt", "reciprocal", "invert",
    "bitwise_not", "remainder", "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos",
    "arctan", "arcsinh", "arccosh", "arctanh", "maximum", "minimum", "ceil", "trunc", "floor",
    "bitwise_and", "bitwise_xor", "bitwise_or", "logical_not", "equal", "not_equal", "less",
    "less_equal", "greater", "greater_equal"]
