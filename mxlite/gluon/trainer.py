"""``gluon.Trainer``: applies an optimizer to a set of Parameters.

Gradients of a parameter's device copies are summed (MXNet's kvstore 'device'
semantics) and every copy is updated identically, each with its own optimizer state
on its own device.
"""
import functools
import numbers
import os

from .. import autograd
from .. import kvstore as kvs
from ..base import MXNetError
from .. import optimizer as opt
from ..fileio import atomic_write
from ..optimizer import statefile
from ..ndarray import wrap
from .parameter import Parameter, shape_is_known

__all__ = ["Trainer"]


class Trainer:
    """``Trainer(params, optimizer, optimizer_params)``; call ``step(batch_size)`` after backward.

    ``params`` is a dict (ordered by sorted name, as MXNet) or a list of Parameters;
    shared parameters are updated once. Gradients are summed across the
    devices of this process; ``kvstore='dist_sync'`` (or a ``mx.kv`` dist store) also sums
    them over MPI ranks and divides by the global batch. A store written in Python
    (``mx.kv.KVStoreBase``, e.g. 'teststore') does the summing through its ``pushpull`` and
    first makes the device copies equal through its ``broadcast``. ``compression_params``
    and ``update_on_kvstore`` are accepted for compatibility: every device updates itself
    (``update_on_kvstore=True`` with a Python store that cannot run optimizers raises).
    """

    _update_on_kvstore = False  # MXNet's attribute: every device runs the optimizer itself

    def __init__(self, params, optimizer, optimizer_params=None, kvstore="device",
                 compression_params=None, update_on_kvstore=None):
        self._names = {}  # id(parameter) -> the name it was given under, for messages
        if isinstance(params, dict):
            for k in sorted(params):
                self._names.setdefault(id(params[k]), k)
            params = [params[k] for k in sorted(params)]
        elif not isinstance(params, (list, tuple)):
            raise ValueError(f"First argument must be a list or dict of Parameters, got "
                             f"{type(params)}.")
        self._params = []
        seen = set()
        for p in params:
            if not isinstance(p, Parameter):
                raise ValueError(f"First argument must be a list or dict of Parameters, got "
                                 f"list of {type(p)}.")
            if id(p) not in seen:
                seen.add(id(p))
                self._params.append(p)
        optimizer_params = dict(optimizer_params or {})
        self._scale = optimizer_params.get("rescale_grad", 1.0)
        param_dict = dict(enumerate(self._params))
        if isinstance(optimizer, opt.Optimizer):
            if optimizer_params:
                raise ValueError("optimizer_params must be None if optimizer is an instance of "
                                 "Optimizer instead of str")
            self._optimizer = optimizer
            optimizer.param_dict = param_dict
        else:
            self._optimizer = opt.create(optimizer, param_dict=param_dict, **optimizer_params)
        self._updaters = {}  # device -> Updater
        if isinstance(kvstore, str) and kvstore.lower() in kvs.KVStoreBase.kv_registry:
            kvstore = kvs.create(kvstore)
        # a Python store: Trainer sums through its pushpull instead of in-process
        self._python_kv = kvstore if isinstance(kvstore, kvs.KVStoreBase) and not \
            isinstance(kvstore, kvs.KVStore) else None
        self._kv = kvstore if isinstance(kvstore, kvs.DistKVStore) else (
            kvs.create(kvstore) if kvstore in kvs._DIST else None)
        self._wants_update_on_kvstore = bool(update_on_kvstore)
        self._kv_initialized = False
        self._synced = False
        self._buckets = None  # _GradientBuckets, made at the first step of a dist kvstore
        # mx.amp.init_trainer's LossScaler: ``has_overflow(grads)`` before each update, a step
        # with inf/nan gradients is skipped (None: every step updates)
        self._amp_loss_scaler = None

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def learning_rate(self):
        return self._optimizer.learning_rate

    def set_learning_rate(self, lr):
        self._optimizer.set_learning_rate(lr)

    def _updater(self, device):
        updater = self._updaters.get(device)
        if updater is None:
            updater = self._updaters[device] = opt.Updater(self._optimizer, device)
        return updater

    def step(self, batch_size, ignore_stale_grad=False):
        """One update: gradients are rescaled by ``1/batch_size``, summed over devices, applied."""
        self._set_batch_size(batch_size)
        self._check_fresh(ignore_stale_grad)
        self._allreduce_grads()
        self._update(ignore_stale_grad)

    def allreduce_grads(self):
        """Sum each parameter's gradients over its device copies (for clipping before update)."""
        self._allreduce_grads()

    def update(self, batch_size, ignore_stale_grad=False):
        """The second half of ``step``, after ``allreduce_grads``."""
        self._set_batch_size(batch_size)
        self._check_fresh(ignore_stale_grad)
        self._update(ignore_stale_grad)

    def _set_batch_size(self, batch_size):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Real) \
                or not batch_size > 0:
            raise ValueError(f"Trainer.step: batch_size must be the positive number of samples "
                             f"the gradients were summed over (e.g. data.shape[0]), got "
                             f"{batch_size!r}; nothing was updated")
        workers = self._kv.num_workers if self._kv else 1
        self._optimizer.rescale_grad = self._scale / (batch_size * workers)

    def _trainable(self):
        return [(i, p) for i, p in enumerate(self._params) if p.grad_req != "null"]

    def _check_fresh(self, ignore_stale_grad):
        """Raise before anything changes if a gradient was not produced since the last step."""
        if ignore_stale_grad:
            return
        for _, p in self._trainable():
            for data in p.list_data():
                if not data._fresh_grad:
                    raise UserWarning(
                        f"Gradient of Parameter `{p.name}` on device {data.device} has not been "
                        "updated by backward since last `step`. This could mean a bug in your "
                        "model that made it only use a subset of the Parameters (Blocks) for "
                        "this iteration. If you are intentionally only using a subset, call "
                        "step with ignore_stale_grad=True to suppress this warning and skip "
                        "updating of Parameters with stale gradient")

    def _init_kvstore(self):
        """Before the first reduction: refuse an update on a Python store that cannot run
        one, and make every device copy equal to the first through its broadcast."""
        kv = self._python_kv
        if kv is not None:
            if self._wants_update_on_kvstore and not kv.is_capable(kvs.KVStoreBase.OPTIMIZER):
                raise ValueError(f"Trainer: kvstore '{kv.type}' cannot run the optimizer, so "
                                 "update_on_kvstore=True is not possible; leave it unset")
            with autograd.pause():
                for i, p in self._trainable():
                    copies = p.list_data()
                    if len(copies) > 1:
                        kv.broadcast(i, copies[0], out=copies[1:])
        self._kv_initialized = True

    def _allreduce_grads(self):
        if not self._kv_initialized:
            self._init_kvstore()
        with autograd.pause():
            if self._python_kv is not None:
                for i, p in self._trainable():
                    self._python_kv.pushpull(i, p.list_grad(), priority=-i)
                return
            for _, p in self._trainable():
                grads = p.list_grad()
                if len(grads) < 2:
                    continue
                first = grads[0]
                with first._device.backend.scope():
                    total = first._data.copy()
                    for g in grads[1:]:
                        total += _data_on(g, first._device)
                summed = wrap(total, first._device)
                for g in grads:
                    data = _data_on(summed, g._device)
                    with g._device.backend.scope():
                        g._data[...] = data
            if self._kv is not None and self._kv.num_workers > 1:
                self._dist_allreduce()

    def _dist_allreduce(self):
        """Sum gradients over the workers in a few flat buckets. The first step checks that
        shapes agree across ranks, broadcasts rank 0's parameters and sets up the buckets;
        from then on a bucket's allreduce starts as soon as backward has written its
        gradients, and this waits for them."""
        if not self._synced:
            params = [p for _, p in self._trainable()]
            self._check_and_broadcast(params)
            self._buckets = _GradientBuckets(self._kv, params)
        self._buckets.finish()

    def _check_and_broadcast(self, params):
        mine = [(p.name, tuple(p.shape)) for p in params]
        for rank, theirs in enumerate(self._kv.allgather(mine, "parameter shape check")):
            for (name, shape), (other, oshape) in zip(mine, theirs):
                if shape != oshape or name != other:
                    raise ValueError(
                        f"Trainer(kvstore='{self._kv.type}'): Parameter `{name}` has shape "
                        f"{shape} on rank {self._kv.rank} but `{other}` is {oshape} on rank "
                        f"{rank}; every rank must build the same model")
            if len(theirs) != len(mine):
                raise ValueError(f"Trainer(kvstore='{self._kv.type}'): rank {rank} trains "
                                 f"{len(theirs)} parameters, rank {self._kv.rank} {len(mine)}")
        for p in params:
            for d in p.list_data():
                d._device.backend.copy_from_host(d._data, self._kv.bcast_host(d.asnumpy()))
        self._synced = True

    def _update(self, ignore_stale_grad):
        per_device = {}
        for i, p in self._trainable():
            for data, grad in zip(p.list_data(), p.list_grad()):
                if not data._fresh_grad and ignore_stale_grad:
                    continue
                per_device.setdefault(data.device, ([], [], []))
                indices, weights, grads = per_device[data.device]
                indices.append(i)
                weights.append(data)
                grads.append(grad)
        scaler = self._amp_loss_scaler
        if scaler is not None and scaler.has_overflow(
                [g for _, _, device_grads in per_device.values() for g in device_grads]):
            for _, weights, _ in per_device.values():
                for w in weights:
                    w._fresh_grad = False
            return
        for device, (indices, weights, grads) in per_device.items():
            self._updater(device).update_multi(indices, weights, grads)
            for w in weights:
                w._fresh_grad = False

    def save_states(self, fname):
        """Save the optimizer's settings, update counts and states (per device) to ``fname``:
        an ``.npz`` of arrays plus JSON metadata, replacing the file atomically."""
        devices = {str(dev): upd._host_view() for dev, upd in self._updaters.items()}
        blob = statefile.pack(devices, self._optimizer)
        with atomic_write(fname) as f:
            f.write(blob)

    def load_states(self, fname, allow_pickle=False):
        """Restore what ``save_states`` wrote. The file is checked in full (optimizer,
        parameter indices, state shapes) before anything changes. Files of older mxlite
        versions are pickles and are read only with ``allow_pickle=True``: unpickling runs
        code, so pass it only for files you made yourself."""
        source = f"Trainer.load_states: '{fname}'"
        with open(fname, "rb") as f:
            blob = f.read()
        devices = {str(d): d for p in self._params if p._data is not None for d in p._data}
        if statefile.is_pickle(blob):
            saved = statefile.load_pickle(blob, source, allow_pickle)
            optimizer = saved["optimizer"]
            optimizer.param_dict = self._optimizer.param_dict
            self._optimizer = optimizer
            states = {name: statefile.from_negated_momentum(
                statefile.load_pickle(b, source, allow_pickle), optimizer)
                for name, b in saved["states"].items()}
        else:
            states, desc = statefile.unpack(blob, source, self._optimizer)
            for host in states.values():
                self._check_states(host, source)
            if desc is None:
                raise MXNetError(f"{source} holds no optimizer settings; it was not "
                                 "written by Trainer.save_states")
            statefile.restore_optimizer(self._optimizer, desc, devices, source)
        self._updaters = {}
        for name, host in states.items():
            if name in devices:
                self._updater(devices[name])._load_host(dict(host))

    def _check_states(self, host, source):
        """Raise unless every state belongs to one of this trainer's parameters by index and
        matches its shape."""
        for index, state in host.items():
            if not isinstance(index, int) or not 0 <= index < len(self._params):
                raise ValueError(f"{source} holds states for parameter index {index!r} but this "
                                 f"Trainer has {len(self._params)} parameters; the file "
                                 "belongs to another model")
            param = self._params[index]
            for array in _arrays_of(state):
                if shape_is_known(param._shape) and tuple(array.shape) != param.shape:
                    raise ValueError(
                        f"{source}: the state of parameter {index} "
                        f"('{self._names.get(id(param), param.name)}', shape "
                        f"{param.shape}) has shape {array.shape}; the file belongs to another "
                        "model (or the parameters were given in another order)")


class _GradientBuckets:
    """Gradients packed into flat buffers of one device and dtype, up to ``LIMIT_BYTES``
    each, in the order backward finishes them (last layers first). Each gradient's ready
    hook counts it in; the last one of a bucket starts the bucket's allreduce while backward
    goes on (buckets of parameters with ``grad_req='add'`` or copies on several devices
    wait for ``finish``). Every rank must write the same gradients each step, as with
    PyTorch's DDP: their reductions are matched in order.
    """

    LIMIT_BYTES = int(float(os.environ.get("MXLITE_DIST_BUCKET_MB", 25)) * 2**20)

    def __init__(self, kv, params):
        self._kv = kv
        self._buckets = []
        open_bucket = {}  # (device, dtype) -> the bucket being filled
        for p in reversed(params):
            grad = p.list_grad()[0]
            key = (grad.device, str(grad.dtype))
            bucket = open_bucket.get(key)
            if bucket is None or bucket.nbytes + grad.nbytes > self.LIMIT_BYTES:
                bucket = open_bucket[key] = _Bucket(grad.device)
                self._buckets.append(bucket)
            bucket.params.append(p)
            bucket.nbytes += grad.nbytes
        for bucket in self._buckets:
            for p in bucket.params:
                if len(p.list_data()) == 1:
                    autograd.set_grad_ready_hook(
                        p.data(p.list_data()[0].device),
                        functools.partial(self._on_ready, bucket, p))

    def _on_ready(self, bucket, param, _grad):
        bucket.ready.add(id(param))
        if len(bucket.ready) == len(bucket.params) and bucket.eager():
            bucket.ready.clear()
            bucket.pending.append(self._kv.start_allreduce(bucket.pack(), bucket.device))

    def finish(self):
        """Wait for (or start, then wait for) every bucket's sum and write it back."""
        for bucket in self._buckets:
            if not bucket.pending:
                bucket.pending.append(self._kv.start_allreduce(bucket.pack(), bucket.device))
            summed = [handle.wait() for handle in bucket.pending][-1]
            bucket.pending, bucket.ready = [], set()
            bucket.unpack(summed)


class _Bucket:
    def __init__(self, device):
        self.device = device
        self.params = []
        self.nbytes = 0
        self.ready = set()  # ids of the parameters whose gradients are written
        self.pending = []   # reductions started (the last one holds the current gradients)

    def eager(self):
        return all(p.grad_req == "write" and len(p.list_data()) == 1 for p in self.params)

    def pack(self):
        backend = self.device.backend
        with backend.scope():
            return backend.xp.concatenate([p.grad(self.device)._data.reshape(-1)
                                           for p in self.params])

    def unpack(self, flat):
        backend = self.device.backend
        offset = 0
        for p in self.params:
            size = p.grad(self.device).size
            piece = flat[offset:offset + size]
            offset += size
            for g in p.list_grad():
                if g.device is self.device:
                    with backend.scope():
                        g._data[...] = piece.reshape(g.shape)
                else:
                    g._device.backend.copy_from_host(
                        g._data, backend.to_host(piece).reshape(g.shape))


def _arrays_of(state):
    if state is None:
        return []
    if isinstance(state, tuple):
        return [a for s in state for a in _arrays_of(s)]
    return [state]


def _data_on(arr, device):
    """``arr``'s backend data usable on ``device``: as is between CPUs, a device-to-device
    copy between GPUs (CuPy's ``copy`` lands on the current GPU: the target's scope), through
    the host otherwise. (``asarray`` would hand back the other GPU's array uncopied.)"""
    src, dst = arr._device.backend, device.backend
    if arr._device is device or src.kind == dst.kind == 0:
        return arr._data
    if src.kind == dst.kind:
        with dst.scope():
            return arr._data.copy()
    return dst.asarray(src.to_host(arr._data))
