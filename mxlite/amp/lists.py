"""Which precision each op runs in under AMP: the one table ``mxlite.amp`` consults.

MXNet spreads this over per-dtype lists (``contrib/amp/lists/symbol_fp16.py``); mxlite keeps
one table keyed by op name (kernels and the dispatch know ops by name). An op not in the table
runs on whatever it is given.

- ``TARGET``: matrix products, where 16-bit arithmetic is fast and accurate enough (float
  inputs are cast to the target dtype). RNN layers are built from ``fully_connected`` and
  ``matmul``, so they run in the target dtype through these rows.
- ``FLOAT32``: ops whose 16-bit result overflows or loses what matters: the softmax family
  and losses (exp of logits), exp/log/power, normalization statistics, reductions that sum
  many terms, and linear algebra (16-bit inputs are cast to float32; the output is float32).
  ``float_power`` is absent: it computes in float64 anyway.
- ``WIDEST``: ops combining several floats (sums, products, selections, concatenation):
  when the inputs mix float dtypes, all are cast to the widest of them (float16 with
  bfloat16 meet in float32), so a float32 residual added to a 16-bit branch stays float32.
"""
TARGET = "target"
FLOAT32 = "float32"
WIDEST = "widest"

OPS = {
    **dict.fromkeys(("matmul", "fully_connected", "convolution", "tensordot"), TARGET),
    **dict.fromkeys((
        # softmax family and losses
        "softmax", "log_softmax", "masked_softmax", "softmax_cross_entropy", "ctc_loss",
        # exponentials, logarithms and powers
        "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "logaddexp", "logaddexp2",
        "power", "reciprocal",
        # special functions
        "erfinv", "gamma", "gammaln", "digamma",
        # normalization statistics (batch/layer/group/instance norm) and norms
        "normalize", "normalize_global", "norm2",
        # reductions that overflow in 16 bits
        "sum", "mean", "prod", "var", "cumsum",
        # linear algebra
        "cholesky", "det", "slogdet", "inv", "solve", "svd",
    ), FLOAT32),
    **dict.fromkeys((
        "add", "subtract", "multiply", "divide", "maximum", "minimum", "fmax", "fmin", "mod",
        "fmod", "hypot", "arctan2", "copysign", "where", "concatenate", "equal", "not_equal",
        "greater", "greater_equal", "less", "less_equal",
    ), WIDEST),
}


def table(target_precision_ops=(), fp32_ops=(), widest_precision_ops=()):
    """``OPS`` with the given op names moved to (or added in) the target, float32 and widest
    rows: ``amp.init``'s overrides."""
    ops = dict(OPS)
    for names, kind in ((target_precision_ops, TARGET), (fp32_ops, FLOAT32),
                        (widest_precision_ops, WIDEST)):
        for name in names or ():
            ops[name] = kind
    return ops
