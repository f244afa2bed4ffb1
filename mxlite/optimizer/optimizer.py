"""The optimizer base class, the registry and ``Updater``.

Every optimizer updates a list of (weight, grad, state) arrays of one device at a time
(``update_multi``), writing weights and states in place through the device's array
module. SGD, Adam and AdamW run the tensors their fused multi-tensor kernels cover in one
launch per weight dtype when ``fused_kernels(device)`` gives kernels (on a GPU), reading
and writing the same states as the per-array path. Updates run outside the autograd tape
and never modify the gradients.
"""
import numbers

import numpy as _np

from .. import autograd, storage
from ..base import MXNetError, bfloat16, float16
from ..ndarray import bump_version, ndarray, wrap
from . import statefile
from .fused import gpu_kernels

__all__ = ["Optimizer", "register", "create", "Updater", "get_updater"]

_REGISTRY = {}


def register(klass):
    """Make ``klass`` creatable by its lower-case name (``mx.optimizer.create('sgd')``)."""
    name = klass.__name__.lower()
    _REGISTRY[name] = klass
    return klass


def create(name, **kwargs):
    """An optimizer by registered name, e.g. ``create('adam', learning_rate=1e-3)``."""
    if isinstance(name, Optimizer):
        return name
    klass = _REGISTRY.get(str(name).lower())
    if klass is None:
        raise ValueError(f"Cannot find optimizer {name!r}; registered: {sorted(_REGISTRY)}")
    return klass(**kwargs)


class Optimizer:
    """Base class: learning rate (or scheduler), weight decay, gradient rescale and clip.

    The effective rate of a parameter is ``learning_rate * lr_mult`` and its decay
    ``wd * wd_mult`` (multipliers from the Parameter, through ``param_dict``).
    ``multi_precision`` keeps a float32 master copy of float16 and bfloat16 weights: every
    optimizer updates the master and rewrites the 16-bit weight from it (the fused kernels in
    the same pass), so small steps are not rounded away.
    """

    default_learning_rate = 0.01

    def __init__(self, rescale_grad=1.0, param_idx2name=None, wd=0.0, clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, multi_precision=False,
                 param_dict=None, begin_num_update=0, lazy_update=False,
                 use_fused_step=None, aggregate_num=None):
        self.rescale_grad = rescale_grad
        self.lr = self.default_learning_rate if learning_rate is None else learning_rate
        self.lr_scheduler = lr_scheduler
        if lr_scheduler is not None and learning_rate is not None:
            lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.idx2name = dict(param_idx2name or {})
        self.param_dict = dict(param_dict or {})
        self.lr_mult = {}
        self.wd_mult = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._all_index_update_counts = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self._scratch = {}
        # MXNet's attributes for these settings; mxlite's updates are dense (lazy_update has
        # nothing to skip) and fuse per device on their own, so they are recorded only
        self.lazy_update = lazy_update
        self.use_fused_step = False if use_fused_step is None else use_fused_step
        self.aggregate_num = 1 if aggregate_num is None else aggregate_num
        self.allow_np_array = True  # MXNet's Updater reads it: arrays are always mx.np here

    create_optimizer = staticmethod(create)
    register = staticmethod(register)

    # -- learning rate -----------------------------------------------------------------
    @property
    def learning_rate(self):
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    @learning_rate.setter
    def learning_rate(self, lr):
        self.set_learning_rate(lr)

    def set_learning_rate(self, lr):
        if self.lr_scheduler is not None:
            raise UserWarning("LRScheduler of the optimizer has already been defined. Note that "
                              "set_learning_rate can mutate the value of the learning rate of "
                              "the optimizer only when the LRScheduler of the optimizer is "
                              "undefined.")
        self.lr = lr

    def set_lr_mult(self, args_lr_mult):
        self.lr_mult = dict(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        self.wd_mult = dict(args_wd_mult)

    def _get_lr(self, index):
        lr = self.learning_rate
        if index in self.param_dict:
            return lr * self.param_dict[index].lr_mult
        return lr * self.lr_mult.get(index, self.lr_mult.get(self.idx2name.get(index), 1.0))

    def _get_wd(self, index):
        if index in self.param_dict:
            return self.wd * self.param_dict[index].wd_mult
        return self.wd * self.wd_mult.get(index, self.wd_mult.get(self.idx2name.get(index), 1.0))

    # -- update counts (kept per device, so each device copy sees the same step t) -----------
    def _set_current_device(self, device_key):
        counts = self._all_index_update_counts.get(device_key)
        if counts is None:
            counts = self._all_index_update_counts[device_key] = {}
        self._index_update_count = counts

    def _update_count(self, index):
        count = self._index_update_count.get(index, self.begin_num_update) + 1
        self._index_update_count[index] = count
        self.num_update = max(count, self.num_update)
        return count

    # -- states ------------------------------------------------------------------------------
    def create_state(self, index, weight):
        """The optimizer state for ``weight`` (None, an array, or a tuple of arrays)."""
        return None

    def create_state_multi_precision(self, index, weight):
        if self.multi_precision and weight.dtype in _SIXTEEN_BIT:
            master = wrap(weight._data.astype(_np.float32), weight._device)
            return (master, self.create_state(index, master))
        return self.create_state(index, weight)

    def _zeros_like(self, weight):
        """Optimizer state comes from the weight's device pool."""
        return wrap(storage.zeros(weight._device, weight.shape, weight.dtype), weight._device)

    # -- updates -----------------------------------------------------------------------------
    fused_kernels = staticmethod(gpu_kernels)  # device -> FusedKernels, or None: the seam tests rebind

    def update(self, index, weight, grad, state):
        """Update one weight in place (MXNet's per-parameter entry point)."""
        self.update_multi([index], [weight], [grad], [state])

    def update_multi(self, indices, weights, grads, states):
        """Update the weights (all on one device) in place from their gradients and states."""
        for w in weights:
            bump_version(w)  # graphs recorded before the step now refuse to backward
        if not weights:
            return
        with autograd.pause(), weights[0]._device.backend.scope():
            rates = [self._rates(index) for index in indices]
            remaining = range(len(weights))
            kernels = (self.fused_kernels(weights[0]._device)
                       if self._has_fused_kernel() else None)
            if kernels is not None:
                remaining = self._fused_update(kernels, indices, weights, grads, states, rates)
            for pos in remaining:
                self._update_array(indices[pos], weights[pos], grads[pos], states[pos], *rates[pos])

    step = update_multi

    def _rates(self, index):
        """Count one more update of ``index``, then its (lr, wd): a scheduler's rate follows
        ``num_update`` as it grows along the list, as in MXNet's per-parameter loop."""
        self._update_count(index)
        return self._get_lr(index), self._get_wd(index)

    def _update_array(self, index, weight, grad, state, lr, wd):
        xp = weight._device.backend.xp
        if self._is_master(weight, state):
            master, inner = state
            g32 = grad._data.astype(_np.float32)
            self._update_one(xp, index, master._data, g32, _raw(inner), lr, wd)
            xp.copyto(weight._data, master._data, casting="unsafe")
        else:
            self._update_one(xp, index, weight._data, grad._data, _raw(state), lr, wd)

    def _is_master(self, weight, state):
        return (self.multi_precision and weight.dtype in _SIXTEEN_BIT and
                isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], ndarray)
                and state[0].dtype == _np.float32)

    def _update_one(self, xp, index, weight, grad, state, lr, wd):
        """Update backend arrays ``weight`` and ``state`` in place."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update_one")

    # -- fused multi-tensor updates ------------------------------------------------------------
    # A class with a fused kernel defines, next to its ``_update_one``:
    #   _launch_fused(kernels, weights, grads, state_columns, masters, lrs, wds, counts), one launch
    #     over backend arrays (``state_columns[j][i]``: state array j of tensor i);
    #   _fused_state_arrays(state) -> the float32 ndarrays the kernel reads for one weight's inner
    #     state, or None when it does not cover that state;
    # and may define ``_fuses()``: whether its current settings are covered.
    _launch_fused = None

    def _has_fused_kernel(self):
        """Whether this optimizer's settings have a fused kernel; a subclass that replaces the
        ``_update_one`` of the class defining ``_launch_fused`` has none."""
        owner = next(k for k in type(self).__mro__ if "_launch_fused" in vars(k))
        return (owner is not Optimizer and type(self)._update_one is owner._update_one
                and isinstance(self.rescale_grad, numbers.Real)
                and (self.clip_gradient is None or self.clip_gradient >= 0) and self._fuses())

    def _fuses(self):
        return True

    def _fused_update(self, kernels, indices, weights, grads, states, rates):
        """Update the tensors the kernels cover, one launch per (weight dtype, state count);
        returns the positions left to the per-array path."""
        groups, remaining = {}, []
        device = weights[0]._device
        for pos, (weight, grad, state) in enumerate(zip(weights, grads, states)):
            master, inner = state if self._is_master(weight, state) else (None, state)
            arrays = self._fused_state_arrays(inner)
            if arrays is None or not _fusable(device, weight, grad, master, arrays):
                remaining.append(pos)
                continue
            group = groups.setdefault((weight.dtype, len(arrays)), [])
            group.append((pos, master, arrays))
        for group in groups.values():
            positions = [pos for pos, _, _ in group]
            masters = [m._data for _, m, _ in group] if group[0][1] is not None else None
            columns = [[arrays[j]._data for _, _, arrays in group] for j in range(len(group[0][2]))]
            self._launch_fused(
                kernels, [weights[p]._data for p in positions], [grads[p]._data for p in positions],
                columns, masters, [rates[p][0] for p in positions], [rates[p][1] for p in positions],
                [self._index_update_count[indices[p]] for p in positions])
        return remaining

    def _scratch_for(self, xp, index, weight, grad):
        """A per-parameter buffer shaped like ``grad`` in ``weight``'s dtype, reused every step."""
        key = (index, id(weight))
        buf = self._scratch.get(key)
        if buf is None or buf.shape != grad.shape or buf.dtype != weight.dtype:
            buf = self._scratch[key] = xp.empty(grad.shape, dtype=weight.dtype)
        return buf

    def _grad(self, xp, index, weight, grad, wd=0.0):
        """``clip(rescale_grad * grad) + wd * weight`` in a per-parameter scratch buffer."""
        buf = self._scratch_for(xp, index, weight, grad)
        xp.multiply(grad, self.rescale_grad, out=buf, casting="unsafe")
        if self.clip_gradient is not None:
            xp.clip(buf, -self.clip_gradient, self.clip_gradient, out=buf)
        if wd:
            buf += wd * weight
        return buf

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_scratch"] = {}
        state["param_dict"] = {}
        state.pop("fused_kernels", None)  # a binding to this process's kernels
        return state


_SIXTEEN_BIT = (float16, bfloat16)  # the weight dtypes multi_precision keeps a master for


def _fusable(device, weight, grad, master, states):
    """Whether the kernels take this tensor: float32 weights (16-bit with a float32 master),
    a gradient like the weight, float32 states, all C-contiguous on ``device``."""
    if master is None:
        if weight.dtype != _np.float32:
            return False
    elif weight.dtype not in _SIXTEEN_BIT:
        return False
    if grad.dtype != weight.dtype or grad.shape != weight.shape:
        return False
    float32_arrays = list(states) + ([] if master is None else [master])
    if any(a.dtype != _np.float32 or a.shape != weight.shape for a in float32_arrays):
        return False
    return all(a._device is device and a._data.flags.c_contiguous
               for a in [weight, grad] + float32_arrays)


def _raw(state):
    """Backend arrays of a state (None, an ndarray, or a tuple of those)."""
    if state is None:
        return None
    if isinstance(state, ndarray):
        return state._data
    return tuple(_raw(s) for s in state)


def _to_host(state):
    if state is None:
        return None
    if isinstance(state, ndarray):
        return state.asnumpy()
    return tuple(_to_host(s) for s in state)


def _to_device(state, device):
    if state is None:
        return None
    if isinstance(state, _np.ndarray):
        return wrap(device.backend.asarray(state), device)
    return tuple(_to_device(s, device) for s in state)


class Updater:
    """Holds an optimizer's states for one device and applies updates."""

    def __init__(self, optimizer, device_key=0):
        self.optimizer = optimizer
        self.device_key = device_key
        self.states = {}
        self._host_states = {}  # loaded by set_states, moved to the device on first use

    def _state(self, index, weight):
        state = self.states.get(index)
        if state is None and index not in self.states:
            if index in self._host_states:
                state = _to_device(self._host_states.pop(index), weight._device)
            else:
                state = self.optimizer.create_state_multi_precision(index, weight)
            self.states[index] = state
        return state

    def update_multi(self, indices, weights, grads):
        states = [self._state(i, w) for i, w in zip(indices, weights)]
        self.optimizer._set_current_device(self.device_key)
        self.optimizer.update_multi(indices, weights, grads, states)

    def __call__(self, index, grad, weight):
        self.update_multi([index], [weight], [grad])

    def get_states(self, dump_optimizer=False):
        """The states as bytes of an ``.npz`` of arrays plus JSON metadata (no pickle); with
        ``dump_optimizer`` the optimizer's settings and update counts too."""
        return statefile.pack({str(self.device_key): self._host_view()},
                              self.optimizer if dump_optimizer else None)

    def set_states(self, states, allow_pickle=False):
        """Restore what ``get_states`` made. Old pickled states are read only with
        ``allow_pickle=True`` (unpickling runs code: only for bytes you made yourself)."""
        source = "Updater.set_states"
        if statefile.is_pickle(states):
            loaded = statefile.load_pickle(states, source, allow_pickle)
            if isinstance(loaded, tuple) and len(loaded) == 2 and isinstance(loaded[1], Optimizer):
                loaded, optimizer = loaded
                optimizer.param_dict = self.optimizer.param_dict
                self.optimizer = optimizer
            self._load_host(statefile.from_negated_momentum(dict(loaded), self.optimizer))
            return
        devices, desc = statefile.unpack(states, source, self.optimizer)
        if len(devices) > 1:
            raise MXNetError(f"{source}: the bytes hold the states of several devices "
                             f"{sorted(devices)}; load them with Trainer.load_states")
        if desc is not None:
            statefile.restore_optimizer(self.optimizer, desc,
                                        {name: self.device_key for name in devices}, source)
        self._load_host(next(iter(devices.values()), {}))

    def _host_view(self):
        """Every state on the host: loaded ones not used yet and the device ones."""
        host = dict(self._host_states)
        host.update({i: _to_host(s) for i, s in self.states.items()})
        return host

    def _load_host(self, host):
        """Take host states (index -> state); each moves to the device on first use."""
        self.states = {}
        self._host_states = host


def get_updater(optimizer):
    return Updater(optimizer)
