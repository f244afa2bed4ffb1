"""The numpy backend used by every ``cpu(i)`` device, and the threads that share its work."""
import contextlib
import contextvars
import itertools
import os
import queue
import threading

import numpy

CPU = 0  # backend kind; see mxlite.backend

_NO_SCOPE = contextlib.nullcontext()


def _threads_from_environment():
    """``MXLITE_CPU_THREADS``, else MXNet's ``OMP_NUM_THREADS``, else the cores this process
    may run on."""
    for name in ("MXLITE_CPU_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip().split(",")[0]
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class CpuWorkers:
    """Threads that take pieces of one large numpy computation: numpy's elementwise loops
    release the GIL, so the pieces run on separate cores. Waking an idle thread costs 25-100
    µs on the machines measured, so callers split only work of a millisecond or more
    (``mxlite.ops.elemwise``, bench/README.md "Elementwise ops on both cores").

    A caller works on its own pieces too and waits only for pieces another thread has
    started, so a call from inside a piece, or one made while every thread is busy, or in a
    forked child whose threads are gone, still finishes (on fewer threads)."""

    def __init__(self, threads=None):
        self.set_threads(_threads_from_environment() if threads is None else threads)
        self._queue = None
        self._started = 0
        self._setup = None
        self._setup_version = 0

    def set_threads(self, threads):
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"the number of CPU threads must be a positive int, got {threads!r}")
        self.threads = threads

    def in_every_thread(self, setup):
        """Run ``setup()`` in each helper thread before its next piece: for state a thread
        does not share with the caller, such as the floating-point mode (``mx.util``'s
        ``set_flush_denorms``)."""
        self._setup = setup
        self._setup_version += 1

    def run(self, piece, count):
        """``piece(i)`` for every ``i`` in ``range(count)``, on up to ``threads`` threads (the
        caller's included), each in a copy of the caller's context (numpy's ``errstate``);
        returns once all are done and raises the first exception a piece raised."""
        helpers = min(self.threads, count) - 1
        job = _Job(piece, count)
        if helpers > 0:
            self._start(helpers)
            context = contextvars.copy_context()
            for _ in range(helpers):
                self._queue.put((context.copy(), job))
        job.work()
        job.finished.acquire()
        job.piece = None  # a helper may hold the job a while: drop what the piece refers to
        if job.error is not None:
            raise job.error

    def _start(self, helpers):
        if self._queue is None:
            self._queue = queue.SimpleQueue()
        while self._started < helpers:
            threading.Thread(target=_serve, args=(self, self._queue), daemon=True,
                             name=f"mxlite-cpu-{self._started + 1}").start()
            self._started += 1

    def _forget_threads(self):  # a forked child has only the forking thread
        self._queue = None
        self._started = 0


class _Job:
    __slots__ = ("piece", "count", "claims", "remaining", "lock", "finished", "error")

    def __init__(self, piece, count):
        self.piece, self.count = piece, count
        self.claims = itertools.count()  # next() is atomic under the GIL
        self.remaining = count
        self.lock = threading.Lock()
        self.finished = threading.Lock()
        self.finished.acquire()  # released by whoever completes the last piece
        self.error = None

    def work(self):
        while True:
            i = next(self.claims)
            if i >= self.count:
                return
            if self.error is None:
                try:
                    self.piece(i)
                except BaseException as err:  # re-raised in the caller
                    self.error = err
            with self.lock:
                self.remaining -= 1
                if self.remaining == 0:
                    self.finished.release()


def _serve(owner, jobs):
    version = 0
    while True:
        context, job = jobs.get()
        if version != owner._setup_version:
            version = owner._setup_version
            owner._setup()
        context.run(job.work)
        context = job = None


workers = CpuWorkers()  # the process's CPU threads (a documented default: mx.util.set_num_threads)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=workers._forget_threads)


class CpuBackend:
    kind = CPU
    xp = numpy
    array_type = numpy.ndarray
    name = "numpy"
    host_memory = True  # arrays live in host memory: storage pools them itself

    def __init__(self, device):
        self.device = device
        self._rng = None
        self._seed = None

    @property
    def rng(self):
        """This device's generator, made on first use (from the seed, else OS entropy)."""
        if self._rng is None:
            self._rng = numpy.random.default_rng(
                None if self._seed is None else [self._seed, 0, self.device.device_id])
        return self._rng

    def host_rng(self):
        """A numpy generator for values made on the host: on the CPU, the device's own."""
        return self.rng

    def next_seed(self):
        """A seed for a per-call generator (dropout); on the CPU drawn from the device's own."""
        return int(self.rng.integers(0, 2**63 - 1))

    def scope(self):
        return _NO_SCOPE

    def empty(self, shape, dtype):
        return numpy.empty(shape, dtype)

    def asarray(self, obj, dtype=None):
        if hasattr(obj, "__cuda_array_interface__"):
            obj = obj.get()
        return numpy.asarray(obj, dtype=dtype)

    def to_host(self, data):
        return data

    def copy_from_host(self, dst, host):
        numpy.copyto(dst, host)

    def synchronize(self):
        pass

    def seed(self, seed):
        self._seed = seed
        self._rng = None
