"""``mx.np.ndarray``: a device array plus its place in the autograd tape.

This module holds the data side only. The layers above complete the class in one
place each: ``mxlite.autograd`` adds the gradient methods (``attach_grad``,
``backward``, ``grad``, ``detach``) and ``mxlite.numpy._methods`` adds the operators
and numpy-style methods (``__setitem__`` included: in-place writes follow the tape's rules).
"""
import itertools
import weakref

import numpy as _np

from . import storage
from .base import default_float
from .device import Device, current_device

__all__ = ["ndarray", "wrap", "wrap_constant", "as_raw", "clock", "latest_write", "bump_version",
           "writes_after", "set_untraceable_hook", "untraceable"]


class ndarray:
    """An n-dimensional array on one device (numpy on CPU, CuPy on GPU)."""

    __slots__ = ("_data", "_device", "_node", "_oidx", "__weakref__")
    __array_ufunc__ = None  # numpy defers its binary operators to ours

    def __init__(self, shape=(), dtype=None, device=None, ctx=None):
        """Uninitialized array of ``shape``, as ``numpy.ndarray(shape)``."""
        dev = Device(device or ctx or current_device())
        self._data = storage.empty(dev, shape, dtype or default_float())
        self._device = dev
        self._node = None
        self._oidx = 0

    # -- data properties -------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def size(self):
        return self._data.size

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    @property
    def strides(self):
        return self._data.strides

    @property
    def device(self):
        return self._device

    @property
    def stype(self):
        """Storage type: always 'default' (dense), as for MXNet 2.x's numpy arrays."""
        return "default"

    @property
    def _version(self):
        """How many in-place writes this array's buffer (any view of it) has had."""
        rec = _writes.get(id(_root(self._data)))
        return 0 if rec is None else rec[0]

    ctx = device
    context = device

    # -- host transfers ----------------------------------------------------------------
    def asnumpy(self, copy=True):
        """A numpy copy of the data (a copy even on CPU, so the caller owns it, as in MXNet).

        ``copy=False`` on CPU returns a zero-copy read-only view instead: it keeps the memory
        alive (the pool cannot reuse it), shows later in-place writes to this array, and
        cannot be written, so no write bypasses autograd's checks. On a GPU it is a copy.
        """
        if _untraceable is not None:
            _untraceable("asnumpy()", self)
        host = self._device.backend.to_host(self._data)
        if copy or host is not self._data:
            return _np.array(host, copy=True)
        view = host.view()
        view.flags.writeable = False
        return view

    def item(self, *args):
        if _untraceable is not None:
            _untraceable("item()", self)
        return self._device.backend.to_host(self._data).item(*args)

    def tolist(self):
        if _untraceable is not None:
            _untraceable("tolist()", self)
        return self._device.backend.to_host(self._data).tolist()

    def wait_to_read(self):
        self._device.backend.synchronize()

    def wait_to_write(self):
        self._device.backend.synchronize()

    def __array__(self, dtype=None, copy=None):
        if _untraceable is not None:
            _untraceable("a conversion to a host array (numpy.asarray)", self)
        host = self._device.backend.to_host(self._data)
        if dtype is not None and host.dtype != dtype:
            return host.astype(dtype)
        return host.copy() if copy else host

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def to_dlpack_for_read(self):
        """A DLPack capsule over this array's memory (MXNet's name)."""
        return self.__dlpack__()

    def to_dlpack_for_write(self):
        """A DLPack capsule over this array's memory; the consumer's writes show here."""
        return self.__dlpack__()

    # -- Python protocol ---------------------------------------------------------------
    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d array")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._data.shape[0]))

    def _scalar(self, what):
        if self._data.size != 1:
            raise ValueError(
                f"{what} needs an array with one element, got shape {self._data.shape}; "
                "use .any() or .all() for a truth value of a whole array")
        if _untraceable is not None:
            _untraceable(f"{what} of an array value (Python control flow or a host scalar)",
                         self)
        return self._device.backend.to_host(self._data).reshape(()).item()

    def __bool__(self):
        return bool(self._scalar("bool()"))

    def __float__(self):
        return float(self._scalar("float()"))

    def __int__(self):
        return int(self._scalar("int()"))

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.ndim:
            raise TypeError(f"only 0-d integer arrays can be used as an index, not a "
                            f"{self.dtype} array of shape {self.shape}")
        return int(self._scalar("__index__"))

    def __complex__(self):
        return complex(self._scalar("complex()"))

    __hash__ = object.__hash__

    def __repr__(self):
        host = self._device.backend.to_host(self._data)
        body = _np.array2string(host, separator=", ", prefix="array(")
        extra = ""
        if host.dtype != default_float():
            extra += f", dtype={host.dtype}"
        if self._device is not _CPU0:
            extra += f", device={self._device}"
        return f"array({body}{extra})"

    def __str__(self):
        return str(self._device.backend.to_host(self._data))

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self.item(), spec)
        if spec:  # as numpy: a format spec applies to scalars only
            raise TypeError(f"unsupported format string {spec!r} for an array of shape "
                            f"{self.shape}; format its elements, or a 0-d array")
        return str(self)

    def __reduce__(self):
        return (_unpickle, (self.asnumpy(), str(self._device.device_type),
                            self._device.device_id))


_CPU0 = Device("cpu", 0)


def _unpickle(host, device_type, device_id):
    dev = Device(device_type, device_id)
    return wrap(dev.backend.asarray(host), dev)


# Saved-tensor version counters. A write stamps the buffer's root (shared by all views) with
# a tick of ``clock``; recorded nodes take their ``seq`` from the same clock, so backward
# sees a write that postdates a node without recording anything per op (the hot path).
clock = itertools.count()
_writes = {}  # id(root buffer) -> [version, ticks of the latest writes]
latest_write = [-1]  # tick of the latest write anywhere: nodes recorded after it need no check
_KEPT_TICKS = 16


def _root(data):
    """The object that owns ``data``'s memory: the same for every view of one buffer."""
    kind = data.__class__
    while isinstance(data.base, kind):
        data = data.base
    return data if data.base is None else data.base


def bump_version(array):
    """Count an in-place write to ``array``'s buffer (every in-place path calls this)."""
    if _untraceable is not None:
        _untraceable("an in-place write (x[...] = v, +=, out=)", array)
    root = _root(array._data)
    key = id(root)
    rec = _writes.get(key)
    if rec is None:
        rec = _writes[key] = [0, []]
        try:
            weakref.finalize(root, _writes.pop, key, None)
        except TypeError:  # an owner without weak references: its entry stays (harmless)
            pass
    rec[0] += 1
    ticks = rec[1]
    tick = latest_write[0] = next(clock)
    ticks.append(tick)
    del ticks[:-_KEPT_TICKS]


def writes_after(data, tick):
    """``(version then, version now)`` if backend array ``data``'s buffer was written after
    ``tick``, else None."""
    rec = _writes.get(id(_root(data)))
    if rec is None or rec[1][-1] < tick:
        return None
    return rec[0] - sum(1 for t in rec[1] if t > tick), rec[0]


# The graph tracer's slot (``mxlite.graph`` fills it while it traces a hybridized forward):
# ``_untraceable(reason, array)`` hears of what a recorded graph cannot replay, a value read
# on the host or an in-place write, so the block falls back to running imperatively.
_untraceable = None
# ... and ``_on_new_array(array)`` of every array made, so it can tell the arrays ops made
# from those a function made around the ops (``np.unravel_index``, ``nonzero``), which a
# graph would wrongly replay as constants.
_on_new_array = None


def set_untraceable_hook(hook, on_new_array=None):
    """Install (or, with None, remove) the tracer's hooks; returns the pair it replaces."""
    global _untraceable, _on_new_array
    previous = _untraceable, _on_new_array
    _untraceable, _on_new_array = hook, on_new_array
    return previous


def untraceable(reason, array=None):
    """Tell a running trace that the forward did something it cannot replay (layers above
    call this, e.g. for random draws made outside an op)."""
    if _untraceable is not None:
        _untraceable(reason, array)


def wrap(data, device):
    """A new ndarray around backend data ``data`` that lives on ``device`` (no copy)."""
    out = object.__new__(ndarray)
    out._data = data
    out._device = device
    out._node = None
    out._oidx = 0
    if _on_new_array is not None:
        _on_new_array(out)
    return out


def wrap_constant(data, device):
    """``wrap`` for values fixed by Python arguments alone (creation functions: zeros,
    arange, an array of host data): a graph being traced keeps them as constants."""
    out = wrap(data, device)
    if _on_new_array is not None:
        _on_new_array(out, constant=True)
    return out


def as_raw(value, device):
    """Backend data for ``value`` (an ndarray on ``device``, or host data / a scalar)."""
    if isinstance(value, ndarray):
        if value._device is not device:
            from .base import DeviceMismatchError
            raise DeviceMismatchError(
                f"array on {value._device} used with an array on {device}; move one with "
                f".to_device({device})")
        return value._data
    if isinstance(value, (int, float, bool, complex)):
        return value
    return device.backend.asarray(value)


_PLAIN_KEY_PARTS = (slice, int, type(None), type(Ellipsis))


def as_raw_key(key, device):
    """An index expression with every array in it (ndarray, list, host array) on ``device``."""
    if isinstance(key, tuple):
        for k in key:
            if k.__class__ not in _PLAIN_KEY_PARTS:
                return tuple(_raw_key_part(k, device) for k in key)
        return key  # slices and integers only (an LSTM's gate slices): nothing to move
    return _raw_key_part(key, device)


def _raw_key_part(k, device):
    if isinstance(k, ndarray):
        return as_raw(k, device)
    if isinstance(k, (list, _np.ndarray)):
        return device.backend.asarray(k)
    return k
