"""``mx.kv``: MXNet's KVStore interface.

'local'/'device' sum pushed values inside this process; 'dist_sync',
'dist_sync_device' and 'horovod' sum them across processes with an MPI allreduce
(mpi4py), so ``mpirun -n N python train.py`` trains one model data-parallel.
"""
import sys
import threading

import numpy as _np

from ..numpy import array

__all__ = ["KVStore", "create"]

_DIST = ("dist_sync", "dist_sync_device", "dist", "horovod")


class KVStore:
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

    def init(self, key, value):
        for k, v in _pairs(key, value):
            self._store[k] = v.copy() if not isinstance(v, list) else v[0].copy()

    def push(self, key, value, priority=0):
        for k, v in _pairs(key, value):
            vals = v if isinstance(v, list) else [v]
            total = vals[0].copy()
            for x in vals[1:]:
                total += x.to_device(total.device)
            self._store[k] = self._reduce(total)

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

    def _reduce(self, total):
        return total

    def _bcast(self, value):
        return value


class DistKVStore(KVStore):
    """Across processes: every push is an MPI allreduce (sum) of COMM_WORLD.

    Uncaught exceptions call ``MPI_Abort`` so the other ranks end instead of hanging in
    a collective, and each collective runs under a watchdog (``timeout`` seconds,
    env MXLITE_DIST_TIMEOUT) that aborts the job with a message naming the operation.
    """

    def __init__(self, name, timeout=None):
        super().__init__(name)
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError(f"kvstore '{name}' needs mpi4py and an MPI: "
                              "pip install 'mxlite[dist]' and run under mpirun") from e
        import os
        self._mpi = MPI
        self._comm = MPI.COMM_WORLD
        self._timeout = float(timeout or os.environ.get("MXLITE_DIST_TIMEOUT", 120))
        _install_abort_hook(self._comm)

    @property
    def rank(self):
        return self._comm.Get_rank()

    @property
    def num_workers(self):
        return self._comm.Get_size()

    def _guarded(self, what, fn):
        """Run a blocking collective; abort every rank if it does not finish in time."""
        done = threading.Event()

        def watchdog():
            if not done.wait(self._timeout):
                sys.stderr.write(f"mxlite.kv rank {self.rank}: {what} did not complete in "
                                 f"{self._timeout:g} s (a rank died or diverged); aborting the "
                                 "job. Raise MXLITE_DIST_TIMEOUT if steps are this slow.\n")
                sys.stderr.flush()
                self._comm.Abort(1)

        threading.Thread(target=watchdog, daemon=True).start()
        try:
            return fn()
        finally:
            done.set()

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

    def _reduce(self, total):
        return _from_host(self.allreduce_host(total.asnumpy()), total)

    def _bcast(self, value):
        return _from_host(self.bcast_host(value.asnumpy()), value)


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
    """``mx.kv.create('local' | 'device' | 'dist_sync' | 'dist_sync_device' | 'horovod')``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name in ("local", "device"):
        return KVStore(name)
    if name in _DIST:
        return DistKVStore(name)
    raise ValueError(f"Unknown kvstore type '{name}': use one of 'local', 'device', "
                     f"{', '.join(repr(n) for n in _DIST)}")
