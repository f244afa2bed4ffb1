"""MXNet 2.x's numpy-default-dtype helpers in ``mx.util``: ``use_np_default_dtype`` on
classes (as test_numpy_default_dtype.py uses it) and ``dtype_from_number``."""
import numpy as onp
import pytest

from mxlite import np
from mxlite.util import dtype_from_number, is_np_default_dtype, np_default_dtype, \
    use_np_default_dtype


class _Base:
    def inherited(self):
        return np.ones(1).dtype


@use_np_default_dtype
class _Float64(_Base):
    def __init__(self):
        self.made = np.zeros(2).dtype

    @staticmethod
    def static():
        return np.ones(1).dtype

    @classmethod
    def klass(cls):
        return cls, np.ones(1).dtype

    @property
    def prop(self):
        return np.array([1, 2]).dtype

    answer = 42


def test_use_np_default_dtype_on_a_class_keeps_the_class():
    obj = _Float64()
    assert type(obj) is _Float64 and isinstance(obj, _Base)
    assert obj.made == onp.float64
    assert _Float64.static() == obj.static() == onp.float64
    assert _Float64.klass() == (_Float64, onp.float64)
    assert obj.prop == obj.inherited() == onp.float64
    assert _Float64.answer == 42
    assert not is_np_default_dtype() and np.ones(1).dtype == onp.float32
    assert _Base().inherited() == onp.float32


def test_use_np_default_dtype_refuses_a_non_callable():
    with pytest.raises(TypeError, match="class or a callable"):
        use_np_default_dtype(3)


def test_dtype_from_number():
    assert dtype_from_number(3) is onp.int64
    assert dtype_from_number(2 ** 63) is onp.uint64
    assert dtype_from_number(1.5) is onp.float32
    assert dtype_from_number(1e39) is onp.float64  # beyond float32's range
    assert dtype_from_number(1e10 + 0.5) is onp.float64  # float32 would make it an integer
    assert dtype_from_number(onp.float16(1)) == onp.float16
    with np_default_dtype(True):
        assert dtype_from_number(1.5) is onp.float64
    with pytest.raises(OverflowError):
        dtype_from_number(2 ** 64)
    with pytest.raises(TypeError, match="int, a float or a numpy scalar"):
        dtype_from_number("1")
