"""``mx.kv``: MXNet's KVStore interface.

``KVStoreBase`` is MXNet 2.x's interface for stores written in Python: a subclass
registered with ``KVStoreBase.register`` is made by ``mx.kv.create(its lowercased name)``
and used by ``gluon.Trainer`` through ``broadcast`` and ``pushpull`` ('teststore', MXNet's
in-process example, is one).

'local'/'device' sum pushed values inside this process; 'dist_sync',
'dist_sync_device' and 'horovod' sum them across processes, so
``mpirun -n N python train.py`` trains one model data-parallel: host arrays with an MPI
allreduce (mpi4py), GPU arrays with NCCL (``cupy.cuda.nccl``; its unique id is broadcast
over MPI; ``MXLITE_DIST_NCCL=0`` sends GPU arrays through MPI on the host instead).
"""
import os
import sys
import threading
import time
import warnings

import numpy as _np

from ..ndarray import wrap
from ..numpy import array

__all__ = ["KVStoreBase", "KVStore", "TestStore", "create"]

_DIST = ("dist_sync", "dist_sync_device", "dist", "horovod")


class _Done:
    """A reduction that has already finished."""

    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value


def _device_sum(values):
    """A copy of the sum of one key's values (an array or a list of device copies), on the
    first value's device."""
    values = values if isinstance(values, (list, tuple)) else [values]
    total = values[0].copy()
    for v in values[1:]:
        total += v.to_device(total.device)
    return total


class KVStoreBase:
    """What a kvstore offers data-parallel training (MXNet 2.x's abstract interface)."""

    OPTIMIZER = "optimizer"
    kv_registry = {}  # lowercased class name -> class, filled by ``register``

    def broadcast(self, key, value, out, priority=0):
        """Copy rank 0's ``value`` into ``out`` (an array or a list of them) on every rank."""
        raise NotImplementedError(f"{type(self).__name__} must implement broadcast")

    def pushpull(self, key, value, out=None, priority=0):
        """Sum ``value`` (an array or a list) over devices and workers into ``out``
        (``value`` itself when None)."""
        raise NotImplementedError(f"{type(self).__name__} must implement pushpull")

    def set_optimizer(self, optimizer):
        raise NotImplementedError(f"{type(self).__name__} does not run optimizers")

    def is_capable(self, capability):
        raise NotImplementedError(f"{type(self).__name__} must implement is_capable")

    def save_optimizer_states(self, fname, dump_optimizer=False):
        raise NotImplementedError(f"{type(self).__name__} holds no optimizer states")

    def load_optimizer_states(self, fname):
        raise NotImplementedError(f"{type(self).__name__} holds no optimizer states")

    @property
    def type(self):
        raise NotImplementedError(f"{type(self).__name__} must implement type")

    @property
    def rank(self):
        raise NotImplementedError(f"{type(self).__name__} must implement rank")

    @property
    def num_workers(self):
        raise NotImplementedError(f"{type(self).__name__} must implement num_workers")

    @staticmethod
    def register(klass):
        """Class decorator: ``mx.kv.create(klass.__name__.lower())`` makes one."""
        if not isinstance(klass, type):
            raise TypeError(f"KVStoreBase.register takes a class, got {type(klass).__name__}")
        name = klass.__name__.lower()
        old = KVStoreBase.kv_registry.get(name)
        if old is not None and old is not klass:
            warnings.warn(f"kvstore {klass.__module__}.{klass.__name__} replaces "
                          f"{old.__module__}.{old.__name__} under the name '{name}'",
                          stacklevel=2)
        KVStoreBase.kv_registry[name] = klass
        return klass


@KVStoreBase.register
class TestStore(KVStoreBase):
    """MXNet's in-process store for tests: one worker, sums over the given devices."""

    __test__ = False  # not a pytest test class, despite its name

    def broadcast(self, key, value, out, priority=0):
        for o in out if isinstance(out, list) else [out]:
            o[...] = value.to_device(o.device)

    def pushpull(self, key, value, out=None, priority=0):
        total = _device_sum(value)
        targets = value if out is None else out
        for o in targets if isinstance(targets, (list, tuple)) else [targets]:
            o[...] = total.to_device(o.device)

    @staticmethod
    def is_capable(capability):
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return False
        raise ValueError(f"Unknown capability: {capability!r} (known: 'optimizer')")

    @property
    def type(self):
        return "teststore"

    @property
    def rank(self):
        return 0

    @property
    def num_workers(self):
        return 1


class KVStore(KVStoreBase):
    """In-process store: ``push`` sums the values given for a key, ``pull`` copies it out."""

    type = "local"

    def __init__(self, name="local"):
        self.type = name
        self._store = {}

    @property
    def rank(self):
        return 0

    @property
    def num_workers(self):
        return 1

    @staticmethod
    def is_capable(capability):
        """Only 'optimizer' is asked of a kvstore by MXNet; updates run on the workers here."""
        return False

    def save_optimizer_states(self, fname, dump_optimizer=False):
        raise NotImplementedError(f"kvstore '{self.type}' holds no optimizer states: save them "
                                  "with gluon.Trainer.save_states")

    load_optimizer_states = save_optimizer_states

    def init(self, key, value):
        for k, v in _pairs(key, value):
            self._store[k] = v.copy() if not isinstance(v, list) else v[0].copy()

    def push(self, key, value, priority=0):
        for k, v in _pairs(key, value):
            self._store[k] = self._reduce(_device_sum(v))

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        for k, o in _pairs(key, out):
            for x in (o if isinstance(o, list) else [o]):
                x[...] = self._store[k].to_device(x.device)

    def pushpull(self, key, value, out=None, priority=0):
        self.push(key, value, priority)
        self.pull(key, value if out is None else out, priority)

    def broadcast(self, key, value, out, priority=0):
        self.init(key, value)
        for k in (key if isinstance(key, (list, tuple)) else [key]):
            self._store[k] = self._bcast(self._store[k])
        self.pull(key, out, priority)

    def set_optimizer(self, optimizer):
        raise NotImplementedError(
            f"kvstore '{self.type}' does not run optimizers (update_on_kvstore=False, as "
            "MXNet's Horovod and device stores): pass the optimizer to gluon.Trainer")

    def allreduce_host(self, arr):
        """Sum a host numpy array over the workers (identity in one process)."""
        return arr

    def allgather(self, obj, what):
        """Every worker's ``obj`` (picklable), in rank order; ``what`` names it in errors."""
        return [obj]

    def start_allreduce(self, data, device):
        """Start summing the backend array ``data`` (on ``device``) over the workers; the
        handle's ``wait()`` gives the sum as a backend array on ``device``."""
        return _Done(data)

    def _reduce(self, total):
        return total

    def _bcast(self, value):
        return value


class DistKVStore(KVStore):
    """Across processes: every push is an allreduce (sum) over COMM_WORLD.

    Uncaught exceptions call ``MPI_Abort`` so the other ranks end instead of hanging in
    a collective, and each blocking wait runs under a watchdog (``timeout`` seconds,
    env MXLITE_DIST_TIMEOUT) that aborts the job with a message naming the operation.
    ``comm_seconds`` adds up the time spent waiting for communication.
    """

    def __init__(self, name, timeout=None):
        super().__init__(name)
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError(f"kvstore '{name}' needs mpi4py and an MPI: "
                              "pip install 'mxlite[dist]' and run under mpirun") from e
        self._mpi = MPI
        self._comm = MPI.COMM_WORLD
        self._timeout = float(timeout or os.environ.get("MXLITE_DIST_TIMEOUT", 120))
        self._use_nccl = os.environ.get("MXLITE_DIST_NCCL", "1") != "0"
        self._nccl_comms = {}  # GPU id -> NcclCommunicator
        self.comm_seconds = 0.0
        _install_abort_hook(self._comm)

    @property
    def rank(self):
        return self._comm.Get_rank()

    @property
    def num_workers(self):
        return self._comm.Get_size()

    def _guarded(self, what, fn):
        """Run a blocking call; abort every rank if it does not finish in time."""
        done = threading.Event()

        def watchdog():
            if not done.wait(self._timeout):
                sys.stderr.write(f"mxlite.kv rank {self.rank}: {what} did not complete in "
                                 f"{self._timeout:g} s (a rank died or diverged); aborting the "
                                 "job. Raise MXLITE_DIST_TIMEOUT if steps are this slow.\n")
                sys.stderr.flush()
                self._comm.Abort(1)

        threading.Thread(target=watchdog, daemon=True).start()
        start = time.perf_counter()
        try:
            return fn()
        finally:
            done.set()
            self.comm_seconds += time.perf_counter() - start

    def allreduce_host(self, arr):
        arr = _np.ascontiguousarray(arr)
        out = _np.empty_like(arr)
        self._guarded(f"allreduce of {arr.size} values",
                      lambda: self._comm.Allreduce(arr, out, op=self._mpi.SUM))
        return out

    def allgather(self, obj, what):
        return self._guarded(what, lambda: self._comm.allgather(obj))

    def bcast_host(self, arr):
        arr = _np.ascontiguousarray(arr)
        self._guarded(f"broadcast of {arr.size} values", lambda: self._comm.Bcast(arr, root=0))
        return arr

    def start_allreduce(self, data, device):
        backend = device.backend
        if not backend.host_memory and self._use_nccl:
            comm = self._nccl_for(device)
            if comm is not None and str(data.dtype) in _NCCL_TYPES:
                return _NcclAllreduce(comm, data, backend)
        host = _np.ascontiguousarray(backend.to_host(data))
        out = _np.empty_like(host)
        request = self._comm.Iallreduce(host, out, op=self._mpi.SUM)
        return _MpiAllreduce(self, request, host, out, backend)

    def _nccl_for(self, device):
        """This GPU's NCCL communicator over all ranks (made on first use, collectively), or
        None where CuPy has no NCCL."""
        gpu = device.device_id
        if gpu not in self._nccl_comms:
            try:
                from cupy.cuda import nccl
            except ImportError:
                nccl = None
            if nccl is not None and not getattr(nccl, "available", True):
                nccl = None  # a CuPy built without NCCL
            uid = nccl.get_unique_id() if nccl is not None and self.rank == 0 else None
            uid = self._guarded("NCCL id broadcast", lambda: self._comm.bcast(uid, root=0))
            comm = None
            if uid is not None and nccl is not None:
                with device.backend.scope():
                    comm = nccl.NcclCommunicator(self.num_workers, uid, self.rank)
            self._nccl_comms[gpu] = comm
        return self._nccl_comms[gpu]

    def _reduce(self, total):
        return wrap(self.start_allreduce(total._data, total.device).wait(), total.device)

    def _bcast(self, value):
        return _from_host(self.bcast_host(value.asnumpy()), value)


class _MpiAllreduce:
    """An MPI ``Iallreduce`` of a host copy in flight."""

    def __init__(self, store, request, host, out, backend):
        self._store, self._request, self._out, self._backend = store, request, out, backend
        self._host = host  # MPI reads it until the reduction ends

    def wait(self):
        self._store._guarded(f"allreduce of {self._host.size} values", self._request.Wait)
        if self._backend.host_memory:
            return self._out
        return self._backend.asarray(self._out)


# NCCL's datatype numbers (ncclDataType_t in nccl.h, a stable ABI), by numpy dtype name
_NCCL_TYPES = {"int8": 0, "uint8": 1, "int32": 2, "uint32": 3, "int64": 4, "uint64": 5,
               "float16": 6, "float32": 7, "float64": 8}
_NCCL_SUM = 0


class _NcclAllreduce:
    """An NCCL allreduce, in place, queued on the current stream: later work on that
    stream sees the sum, so waiting costs the host nothing."""

    def __init__(self, comm, data, backend):
        with backend.scope():
            data = backend.xp.ascontiguousarray(data)
            stream = backend.xp.cuda.get_current_stream()
            comm.allReduce(data.data.ptr, data.data.ptr, data.size,
                           _NCCL_TYPES[str(data.dtype)], _NCCL_SUM, stream.ptr)
        self._data = data

    def wait(self):
        return self._data


def _from_host(host, like):
    return array(host, dtype=host.dtype, device=like.device)


_hook_installed = False


def _install_abort_hook(comm):
    """An uncaught exception on one rank aborts all, so no rank waits in a collective."""
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    previous = sys.excepthook

    def hook(*exc):
        previous(*exc)
        sys.stderr.write(f"mxlite.kv: rank {comm.Get_rank()} raised; aborting all ranks\n")
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = hook


def _pairs(key, value):
    if isinstance(key, (list, tuple)):
        return list(zip(key, value))
    return [(key, value)]


def create(name="local"):
    """``mx.kv.create('local' | 'device' | 'dist_sync' | 'dist_sync_device' | 'horovod')``,
    or the name of a store registered with ``KVStoreBase.register`` (looked up first)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    name = name.lower()
    if name in KVStoreBase.kv_registry:
        return KVStoreBase.kv_registry[name]()
    if name in ("local", "device"):
        return KVStore(name)
    if name in _DIST:
        return DistKVStore(name)
    raise ValueError(f"Unknown kvstore type '{name}': use one of 'local', 'device', "
                     f"{', '.join(repr(n) for n in _DIST)} or a store registered with "
                     "mx.kv.KVStoreBase.register")
