"""``gluon.Parameter``: a trainable array with one copy per device, as MXNet's.

Data is created once on CPU (under ``autograd.pause``) and copied to every device, so
device copies start identical. Each copy is an autograd leaf whose gradient buffer is
attached according to ``grad_req``.
"""
import warnings

import numpy as _np

from .. import autograd, initializer, storage
from ..device import Device, cpu, current_device
from ..ndarray import ndarray, wrap

__all__ = ["Parameter", "Constant", "DeferredInitializationError", "shape_is_known"]


class DeferredInitializationError(RuntimeError):
    """A Parameter's data was used before its shape was known (before the first forward)."""


def shape_is_known(shape):
    return shape is not None and all(d > 0 for d in shape)


def _devices(device):
    if device is None:
        return [current_device()]
    if isinstance(device, (list, tuple)):
        return [Device(d) for d in device]
    return [Device(device)]


class Parameter:
    """A weight of a Block: per-device data and gradients, initializer, lr/wd multipliers.

    Unknown dimensions of ``shape`` are -1 (0 is accepted as unknown too); with
    ``allow_deferred_init`` they are filled by the owning block on its first forward.
    """

    def __init__(self, name="weight", grad_req="write", shape=None, dtype=_np.float32,
                 lr_mult=1.0, wd_mult=1.0, init=None, allow_deferred_init=False,
                 differentiable=True, stype="default", grad_stype="default"):
        if stype != "default" or grad_stype != "default":
            raise ValueError("only dense ('default') storage is supported")
        self._name = name
        self._shape = None
        self.shape = shape
        self.dtype = _np.dtype(dtype)
        self.lr_mult = lr_mult
        self.wd_mult = wd_mult
        self.init = init
        self._allow_deferred_init = allow_deferred_init
        self._differentiable = differentiable
        self._grad_req = None
        self._data = None          # {device: ndarray}, insertion-ordered
        self._grad = None          # {device: ndarray} or None when grad_req == 'null'
        self._deferred_init = ()   # (init, devices, default_init, data) while deferred
        self.grad_req = grad_req

    def __repr__(self):
        return f"Parameter {self.name} (shape={self.shape}, dtype={self.dtype.name})"

    # -- properties -----------------------------------------------------------------
    @property
    def name(self):
        return self._name

    @property
    def shape(self):
        if self._shape is None:
            return None
        return tuple(d if d > 0 else -1 for d in self._shape)

    @shape.setter
    def shape(self, new_shape):
        if new_shape is None:
            self._shape = None
            return
        new_shape = (new_shape,) if isinstance(new_shape, int) else tuple(int(d) for d in new_shape)
        if self._shape is not None:
            ok = len(new_shape) == len(self._shape) and all(
                old <= 0 or old == new for old, new in zip(self._shape, new_shape))
            if not ok:
                raise ValueError(f"Expected shape {self.shape} is incompatible with given shape "
                                 f"{new_shape} for Parameter {self.name}")
        self._shape = new_shape

    @property
    def grad_req(self):
        return self._grad_req

    @grad_req.setter
    def grad_req(self, req):
        autograd.check_grad_req(req)
        if not self._differentiable:
            req = "null"
        if self._grad_req == req:
            return
        self._grad_req = req
        if self._data is None:
            return
        if req == "null":
            for arr in self._data.values():
                arr.drop_grad()
            self._grad = None
        else:
            self._init_grad()

    @property
    def differentiable(self):
        return self._differentiable

    # -- initialization ---------------------------------------------------------------
    def initialize(self, init=None, device=None, default_init=initializer.Uniform(),
                   force_reinit=False, ctx=None):
        """Create the data on each device; deferred while the shape has unknown dims."""
        if self._data is not None and not force_reinit:
            warnings.warn(f"Parameter '{self.name}' is already initialized, ignoring. "
                          "Set force_reinit=True to re-initialize.", stacklevel=2)
            return
        devices = _devices(device if device is not None else ctx)
        own = init if init is not None else self.init
        if not shape_is_known(self._shape):
            if self._allow_deferred_init:
                self._deferred_init = (own, devices, default_init, None)
                return
            raise ValueError(f"Cannot initialize Parameter '{self.name}' because it has invalid "
                             f"shape: {self.shape}. Give its shape, or allow_deferred_init.")
        self._deferred_init = (own, devices, default_init, None)
        self._finish_deferred_init()

    def _finish_deferred_init(self):
        """Create the data now that the shape is known (called by the owning block)."""
        if not self._deferred_init:
            return
        own, devices, default_init, data = self._deferred_init
        if not shape_is_known(self._shape):
            raise DeferredInitializationError(
                f"Parameter '{self.name}' has unknown shape {self.shape}; the owning block "
                "fills it on its first forward (or set its shape)")
        with autograd.pause():
            if data is None:
                data = wrap(cpu().backend.xp.zeros(self._shape, dtype=self.dtype), cpu())
                desc = initializer.InitDesc(self.name,
                                            {"__init__": initializer.create(own)} if own else {})
                initializer.create(default_init)(desc, data)
            self._init_impl(data, devices)
        self._deferred_init = ()

    def _init_impl(self, data, devices):
        host = data.asnumpy() if isinstance(data, ndarray) else _np.asarray(data)
        host = host.astype(self.dtype, copy=False)
        self._data = {d: wrap(_pooled_copy(d, host), d) for d in devices}
        self._grad = None
        self._init_grad()

    def _init_grad(self):
        if self._grad_req == "null" or self._data is None:
            self._grad = None
            return
        self._grad = {}
        for d, arr in self._data.items():
            buf = wrap(storage.zeros(d, arr.shape, arr.dtype), d)
            autograd.mark_variables([arr], [buf], self._grad_req)
            self._grad[d] = buf

    def _load_init(self, data, device, cast_dtype=False, dtype_source="current"):
        """Take loaded host data ``data`` (already validated by the caller)."""
        if cast_dtype and dtype_source == "saved" and _np.dtype(data.dtype) != self.dtype:
            self.cast(data.dtype)
        self.shape = data.shape
        data = _np.asarray(data).astype(self.dtype, copy=False)
        if self._data is None:
            devices = self._deferred_init[1] if self._deferred_init else _devices(device)
            with autograd.pause():
                self._init_impl(data, devices)
            self._deferred_init = ()
        else:
            self.set_data(data)

    def _check_load(self, data, cast_dtype, name=None):
        """Why host ``data`` cannot be loaded into this parameter (called ``name`` in the
        model, e.g. ``'0.weight'``), or None."""
        name = name or self.name
        if self._shape is not None:
            if len(data.shape) != len(self._shape) or any(
                    old > 0 and old != new for old, new in zip(self._shape, data.shape)):
                return (f"Failed loading Parameter '{name}': shape incompatible, expected "
                        f"{self.shape} but loaded {data.shape}")
        if not cast_dtype and _np.dtype(data.dtype) != self.dtype:
            return (f"Failed loading Parameter '{name}': dtype {self.dtype.name} but the "
                    f"file has {data.dtype}; set cast_dtype=True to cast")
        return None

    # -- access -----------------------------------------------------------------------------
    def _check_initialized(self):
        if self._data is not None:
            return
        if self._deferred_init:
            raise DeferredInitializationError(
                f"Parameter '{self.name}' has not been initialized yet because initialization "
                "was deferred. Actual initialization happens during the first forward pass. "
                "Please pass one batch of data through the network before accessing Parameters.")
        raise RuntimeError(
            f"Parameter '{self.name}' has not been initialized. Note that you should initialize "
            "parameters and create Trainer with Block.collect_params() instead of Block.params "
            "because the later does not include Parameters of nested child Blocks")

    def _pick(self, arrays, device):
        if device is None:
            if len(arrays) == 1:
                return next(iter(arrays.values()))
            device = current_device()
        device = Device(device)
        arr = arrays.get(device)
        if arr is None and device.device_type != "cpu" and device.is_host:
            arr = arrays.get(Device("cpu", device.device_id))  # MXNet: pinned reads cpu's copy
        if arr is None:
            raise RuntimeError(
                f"Parameter '{self.name}' was not initialized on device {device}. It was only "
                f"initialized on {list(self._data)}.")
        return arr

    def data(self, device=None, ctx=None):
        """The data on ``device`` (the only copy when there is one)."""
        self._check_initialized()
        return self._pick(self._data, device if device is not None else ctx)

    def list_data(self):
        self._check_initialized()
        return list(self._data.values())

    def _check_grad(self):
        self._check_initialized()
        if self._grad is None:
            raise RuntimeError(f"Cannot get gradient array for Parameter '{self.name}' because "
                               "grad_req='null'")

    def grad(self, device=None, ctx=None):
        self._check_grad()
        return self._pick(self._grad, device if device is not None else ctx)

    def list_grad(self):
        self._check_grad()
        return list(self._grad.values())

    def list_device(self):
        if self._data is None:
            if self._deferred_init:
                return list(self._deferred_init[1])
            raise RuntimeError(f"Parameter '{self.name}' has not been initialized")
        return list(self._data)

    list_ctx = list_device

    def set_data(self, data):
        """Replace the value on every device (stored for later while init is deferred)."""
        host = data.asnumpy() if isinstance(data, ndarray) else _np.asarray(data)
        self.shape = host.shape
        if self._data is None:
            if not self._deferred_init:
                raise RuntimeError(f"Parameter '{self.name}' has not been initialized; call "
                                   "initialize() before set_data")
            own, devices, default_init, _ = self._deferred_init
            self._deferred_init = (own, devices, default_init, host)
            self._finish_deferred_init()
            return
        for d, arr in self._data.items():
            d.backend.copy_from_host(arr._data, _np.ascontiguousarray(host, dtype=arr.dtype))

    def zero_grad(self):
        if self._grad is None:
            return
        for g in self._grad.values():
            g._data[...] = 0

    def reset_device(self, device):
        """Move the data (and gradients) to ``device`` (a device or a list)."""
        devices = _devices(device)
        if self._data is None:
            if self._deferred_init:
                self._deferred_init = (self._deferred_init[0], devices) + self._deferred_init[2:]
                return
            raise ValueError(f"Cannot reset device for Parameter '{self.name}' because it has "
                             "not been initialized.")
        host = self._reduce()
        with autograd.pause():
            self._init_impl(host, devices)

    reset_ctx = reset_device

    def _reduce(self):
        """The value as a host numpy array (the average over device copies)."""
        arrays = [a.asnumpy() for a in self.list_data()]
        if len(arrays) == 1:
            return arrays[0]
        return (sum(a.astype(_np.float64) for a in arrays) / len(arrays)).astype(arrays[0].dtype)

    def var(self):
        """This parameter as a symbolic variable (name and attributes; see mxlite.symbol)."""
        from ..symbol import Variable
        shape = None if self._shape is None else tuple(-1 if d <= 0 else d for d in self._shape)
        return Variable(self.name, shape=shape, dtype=self.dtype.name, lr_mult=self.lr_mult,
                        wd_mult=self.wd_mult, init=self.init)

    def cast(self, dtype):
        """Cast data and gradients to ``dtype`` (values kept)."""
        self.dtype = _np.dtype(dtype)
        if self._data is None:
            return
        host = {d: a.asnumpy() for d, a in self._data.items()}
        self._data = {d: wrap(_pooled_copy(d, h.astype(self.dtype)), d) for d, h in host.items()}
        self._init_grad()


class Constant(Parameter):
    """A Parameter holding a fixed value; never gets a gradient (grad_req 'null')."""

    def __init__(self, value):
        value = value.asnumpy() if isinstance(value, ndarray) else _np.asarray(value)
        if value.dtype == _np.float64:
            value = value.astype(_np.float32)
        self.value = value
        super().__init__(name="const", grad_req="null", shape=value.shape, dtype=value.dtype,
                         init=initializer.Constant(value), differentiable=False)

    def __repr__(self):
        return f"Constant {self.name} (shape={self.shape}, dtype={self.dtype.name})"


def _pooled_copy(device, host):
    """``host`` copied into a buffer from ``device``'s pool."""
    data = storage.empty(device, host.shape, host.dtype)
    device.backend.copy_from_host(data, _np.ascontiguousarray(host))
    return data
