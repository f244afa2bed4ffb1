"""dtype helpers of ``mx.np``: ``result_type``, ``can_cast``, ``finfo``, ``iinfo`` and the
dtype groups (the Array API's names, as MXNet 2.x's tests import them from ``mx.np``).

mxlite arrays stand for their dtype. ``result_type`` answers what mx.np's arithmetic gives:
integer or bool dtypes meeting floating dtypes give the floats' promoted dtype (MXNet 2.x's
promotion table: int32 with float16 is float16, numpy says float64); among integers, among
floats and for bool, numpy's promotion. Python scalars are weak (numpy 2); a Python float
with only integer or bool arrays gives float64, as MXNet 2.x's scalar ops (add, multiply,
power, ...) and numpy do. (A float-valued op is different: ``x / 2.0`` on integers gives
the default float, float32, as MXNet's true_divide.) Python scalars alone get numpy's answer
(``result_type(3.0, 2)`` is float64), as MXNet 2.x's result_type is numpy's there (a
fallback). The dtype groups are lists, as MXNet's (``numeric_dtypes + [...]`` works).
"""
import numpy as _onp

from ..base import finfo as _finfo
from ..ndarray import ndarray

__all__ = ["result_type", "can_cast", "finfo", "iinfo", "bool_dtypes", "boolean_dtypes",
           "integer_dtypes", "signed_integer_dtypes", "unsigned_integer_dtypes",
           "floating_dtypes", "numeric_dtypes", "integer_or_boolean_dtypes", "all_dtypes"]

signed_integer_dtypes = [_onp.dtype("int8"), _onp.dtype("int16"), _onp.dtype("int32"),
                         _onp.dtype("int64")]
unsigned_integer_dtypes = [_onp.dtype("uint8")]
integer_dtypes = signed_integer_dtypes + unsigned_integer_dtypes
floating_dtypes = [_onp.dtype("float16"), _onp.dtype("float32"), _onp.dtype("float64")]
numeric_dtypes = integer_dtypes + floating_dtypes
boolean_dtypes = bool_dtypes = [_onp.dtype("bool")]
integer_or_boolean_dtypes = boolean_dtypes + integer_dtypes
all_dtypes = boolean_dtypes + numeric_dtypes


def _as_dtype_or_value(x):
    return x.dtype if isinstance(x, ndarray) else x


def result_type(*arrays_and_dtypes):
    """The dtype mx.np's arithmetic gives for these operands (see the module docstring)."""
    if not arrays_and_dtypes:
        raise ValueError("result_type needs at least one array or dtype")
    args = [_as_dtype_or_value(x) for x in arrays_and_dtypes]
    typed = [a for a in args if not isinstance(a, (bool, int, float, complex))]
    if not typed:  # MXNet 2.x runs numpy's here: result_type(3.0, 2) is float64
        return _onp.result_type(*args)
    dts = [_onp.dtype(a) for a in typed]
    floats = [d for d in dts if d.kind == "f"]
    if floats and any(d.kind in "biu" for d in dts):  # MXNet: the floats' dtype
        typed = floats
    res = _onp.result_type(*typed)
    if res.kind in "iub" and any(isinstance(a, float) for a in args):
        return _onp.dtype("float64")
    return _onp.result_type(res, *[a for a in args if isinstance(a, (bool, int, float))])


def can_cast(from_, to, casting="safe"):
    """numpy's can_cast, with an mxlite array standing for its dtype (numpy 2 takes no
    Python scalars here)."""
    if isinstance(from_, (bool, int, float, complex)):
        raise TypeError(f"can_cast does not take Python scalars (got {from_!r}); pass a dtype "
                        f"or an array")
    return _onp.can_cast(_as_dtype_or_value(from_), to, casting=casting)


def finfo(type):  # noqa: A002 - numpy's name
    """numpy's finfo (ml_dtypes' for bfloat16); an mxlite array stands for its dtype."""
    return _finfo(_as_dtype_or_value(type))


def iinfo(type):  # noqa: A002 - numpy's name
    """numpy's iinfo; an mxlite array stands for its dtype."""
    return _onp.iinfo(_as_dtype_or_value(type))
