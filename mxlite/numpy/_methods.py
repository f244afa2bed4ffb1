"""The operators and numpy-style methods of ``ndarray``, all routed through the ops."""
import warnings

from ..autograd import check_inplace
from ..device import Device
from ..ndarray import ndarray, as_raw, as_raw_key
from ..ops import composite as C, elemwise as E, linalg as L, reduce as R, shape as S


def _reflected(f):
    def method(self, other):
        return f(other, self)
    return method


def _commuted(f):
    """Reflected form of a commutative op: same result with the ndarray first (faster)."""
    def method(self, other):
        return f(self, other)
    return method


def _compare(f):
    def method(self, other):
        if other is None:
            return False
        return f(self, other)
    return method


def _setitem(self, key, value):
    """In-place write; refused on arrays that are part of a recorded graph, recorded when
    the value is on it."""
    check_inplace(self)
    raw_key = as_raw_key(key, self._device)
    raw = as_raw(value, self._device)
    try:
        self._data[raw_key] = raw
    except ValueError:
        # MXNet drops a value's leading size-1 axes the target lacks (a[1, 2] = ones((1, 1)))
        shape = getattr(raw, "shape", ())
        lead = next((i for i, s in enumerate(shape) if s != 1), len(shape))
        if not lead:
            raise
        if isinstance(value, ndarray):
            value = S.reshape(value, shape[lead:])
            raw = value._data
        else:
            raw = raw.reshape(shape[lead:])
        self._data[raw_key] = raw
    S.record_assignment(self, raw_key, value)


def _inplace(name):
    def method(self, other):
        check_inplace(self)
        getattr(self._data, name)(as_raw(other, self._device))
        return self
    method.__name__ = name
    return method


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape[0] if len(shape) == 1 else tuple(shape)


def _reshape(self, *shape, order="C", **kwargs):
    if "shape" in kwargs:
        shape = (kwargs.pop("shape"),)
    return S.reshape(self, _shape_args(shape), order=order, **kwargs)


def _transpose(self, *axes):
    if not axes or axes == (None,):
        return S.transpose(self)
    return S.transpose(self, _shape_args(axes) if len(axes) > 1 or
                       isinstance(axes[0], (tuple, list)) else (axes[0],))


def _copy(self, order="C"):
    if order != "C":  # MXNet's arrays are C-ordered
        raise NotImplementedError(f"ndarray.copy only supports order='C', got {order!r}")
    return S.copy(self)


def _copyto(self, other):
    """Copy into ``other`` (an ndarray of the same shape, or a Device) and return it."""
    if isinstance(other, ndarray):
        if other is self:
            warnings.warn("copyto: copying an array to itself does nothing", stacklevel=2)
            return False
        if other.shape != self.shape:
            raise ValueError(f"copyto: shape {self.shape} does not match target {other.shape}")
        check_inplace(other)
        data = self._data
        target = other._device.backend
        if other._device is not self._device:  # another device: through the host, in its scope
            data = target.asarray(self._device.backend.to_host(data))
        with target.scope():
            target.xp.copyto(other._data, data, casting="unsafe")
        return other
    return S.to_device(S.copy(self), Device(other)) if Device(other) is not self._device \
        else S.copy(self)


def _deprecated_to_device(self, ctx):
    return S.to_device(self, ctx)


def _fill(self, value):
    """numpy's in-place fill; refused on arrays in a recorded graph."""
    check_inplace(self)
    self._data.fill(value.item() if isinstance(value, ndarray) else value)


def _sort(self, axis=-1, descending=False, stable=True):
    """MXNet 2.x's ``x.sort``: the sorted copy, differentiable (numpy's sorts in place)."""
    return S.sort(self, axis=axis, descending=descending, stable=stable)


def _repeat(self, repeats, axis=None):
    return S.repeat(self, repeats, axis=axis)


def _tile(self, reps):
    return S.tile(self, reps)


_METHODS = {
    "__add__": E.add, "__radd__": _commuted(E.add),
    "__sub__": E.subtract, "__rsub__": _reflected(E.subtract),
    "__mul__": E.multiply, "__rmul__": _commuted(E.multiply),
    "__truediv__": E.divide, "__rtruediv__": _reflected(E.divide),
    "__floordiv__": E.floor_divide, "__rfloordiv__": _reflected(E.floor_divide),
    "__mod__": E.mod, "__rmod__": _reflected(E.mod),
    "__pow__": E.power, "__rpow__": _reflected(E.power),
    "__matmul__": L.matmul, "__rmatmul__": _reflected(L.matmul),
    "__neg__": E.negative, "__pos__": E.positive, "__abs__": E.abs,
    "__lt__": E.less, "__le__": E.less_equal, "__gt__": E.greater, "__ge__": E.greater_equal,
    "__eq__": _compare(E.equal), "__ne__": _compare(E.not_equal),
    "__and__": E.logical_and, "__rand__": _reflected(E.logical_and),
    "__or__": E.logical_or, "__ror__": _reflected(E.logical_or),
    "__xor__": E.logical_xor, "__rxor__": _reflected(E.logical_xor),
    "__invert__": E.logical_not,
    "__iadd__": _inplace("__iadd__"), "__isub__": _inplace("__isub__"),
    "__imul__": _inplace("__imul__"), "__itruediv__": _inplace("__itruediv__"),
    "__ifloordiv__": _inplace("__ifloordiv__"), "__imod__": _inplace("__imod__"),
    "__ipow__": _inplace("__ipow__"),
    "__getitem__": S.getitem, "__setitem__": _setitem,
    "reshape": _reshape, "transpose": _transpose,
    "T": property(lambda self: S.transpose(self)),
    "mT": property(C.matrix_transpose),
    "flatten": lambda self, order="C": S.reshape(S.copy(self), (-1,), order=order),
    "ravel": S.ravel,
    "squeeze": S.squeeze, "expand_dims": S.expand_dims, "swapaxes": S.swapaxes,
    "broadcast_to": S.broadcast_to,
    "sum": R.sum, "mean": R.mean, "max": R.max, "min": R.min, "prod": R.prod,
    "var": R.var, "std": R.std, "cumsum": R.cumsum, "all": R.all, "any": R.any,
    "argmax": R.argmax, "argmin": R.argmin,
    "clip": E.clip, "round": E.round, "__round__": E.round, "dot": L.dot,
    "diagonal": C.diagonal, "trace": C.trace,
    "repeat": _repeat, "tile": _tile, "flip": S.flip, "take": S.take, "sort": _sort,
    "argsort": S.argsort, "nonzero": S.nonzero, "fill": _fill,
    "moveaxis": S.moveaxis, "split": S.split,
    "astype": S.astype, "copy": _copy,
    "to_device": S.to_device, "as_in_ctx": _deprecated_to_device,
    "as_in_context": _deprecated_to_device, "copyto": _copyto,
    # MXNet 2.x: an mx.np array converts to itself (mx.nd's NDArray is not part of mxlite)
    "as_np_ndarray": lambda self: self,
}

for _name, _fn in _METHODS.items():
    setattr(ndarray, _name, _fn)
