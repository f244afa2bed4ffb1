"""``DataLoader``: batches from a Dataset, optionally built in worker processes."""
import functools
import multiprocessing
import pickle
import time
import traceback
from multiprocessing.pool import ThreadPool

import numpy as _np

from ... import numpy as mnp
from ...device import Device, cpu_pinned
from ...ndarray import ndarray
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_batchify_fn"]


def _stack_host(samples):
    """Stack samples into numpy (tuples of fields stay tuples); mxlite arrays come to host."""
    first = samples[0]
    if isinstance(first, tuple):
        return tuple(_stack_host(list(field)) for field in zip(*samples))
    if isinstance(first, ndarray):
        return _np.stack([s.asnumpy() for s in samples])
    return _np.asarray(samples)


def _to_device_arrays(batch, device=None, from_host=True):
    """``batch`` with its host arrays (when ``from_host``) made mxlite arrays on ``device``
    (the default when None), and its mxlite arrays moved there when a device is given."""
    if isinstance(batch, tuple):
        return tuple(_to_device_arrays(b, device, from_host) for b in batch)
    if isinstance(batch, list):
        return [_to_device_arrays(b, device, from_host) for b in batch]
    if from_host and isinstance(batch, _np.ndarray):
        return mnp.array(batch, device=device)
    if device is not None and isinstance(batch, ndarray):
        return batch.to_device(device)
    return batch


def default_batchify_fn(data):
    """Stack samples (or each field of tuple samples) into mxlite arrays.

    float64 data becomes float32 and integer labels keep their dtype, as ``mx.np.array``.
    """
    return _to_device_arrays(_stack_host(data))


def cuda_initialized():
    """Whether this process has a GPU backend (a live CUDA context). A forked child inherits
    that context in a state CUDA cannot use, so workers are spawned instead."""
    return any(dev.device_type == "gpu" and dev._backend is not None
               for dev in list(Device._interned.values()))


def _check_picklable(dataset, batchify_fn, num_workers):
    try:
        pickle.dumps((dataset, batchify_fn))
    except Exception as err:  # PicklingError, TypeError, AttributeError: all mean "cannot"
        raise TypeError(
            f"DataLoader(num_workers={num_workers}) starts its workers with 'spawn' because CUDA "
            f"is initialised in this process (forked workers would inherit an unusable CUDA "
            f"context), and spawn must pickle the dataset and batchify_fn: "
            f"{type(err).__name__}: {err}. Define them at module level (no lambdas or local "
            f"classes), pass thread_pool=True, or iterate the DataLoader once before the "
            f"first GPU array is made.") from None


def _make_batch(dataset, batchify_fn, indices):
    """One batch as host data (default batchify) or as ``batchify_fn`` makes it."""
    if batchify_fn is None:
        rows = getattr(dataset, "_take_rows", None)
        batch = rows(indices) if rows is not None else None
        if batch is not None:
            return batch
    samples = [dataset[i] for i in indices]
    if batchify_fn is None:
        return _stack_host(samples)
    return batchify_fn(samples)


def _sendable_error(err):
    """``err`` if it pickles, else a RuntimeError carrying its type, message and traceback."""
    try:
        pickle.dumps(err)
        return err
    except Exception:  # any pickling failure: fall back to text
        return RuntimeError(f"DataLoader worker raised {type(err).__name__}: {err}\n"
                            f"{traceback.format_exc()}")


def _worker_loop(conn, dataset, batchify_fn):
    """Runs in a worker process: build each (tag, indices) batch asked for on ``conn`` and
    send back (tag, ok, batch-or-error), until the pipe closes."""
    while True:
        try:
            tag, indices = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send((tag, True, _make_batch(dataset, batchify_fn, indices)))
        except (BrokenPipeError, EOFError, OSError):
            return
        except Exception as err:  # the dataset, the batchify_fn or pickling the batch failed
            try:
                conn.send((tag, False, _sendable_error(err)))
            except (BrokenPipeError, EOFError, OSError):
                return


class _WorkerProcesses:
    """Worker processes, each with its own pipe, given batches round-robin.

    Not ``multiprocessing.Pool``: its ``terminate()`` can hang for good when a worker is
    killed or blocked while sending a large batch on the result queue it shares with the
    others (it then holds that queue's lock). With one pipe per worker, shutting down only
    terminates processes and closes pipes. Results carry a tag, so those of an epoch that was
    abandoned part-way are skipped by the next one.
    """

    def __init__(self, num_workers, dataset, batchify_fn, method):
        self._ctx = context = multiprocessing.get_context(method)
        self._conns, self._procs = [], []
        for _ in range(num_workers):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker_loop, args=(child, dataset, batchify_fn),
                                   daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        self._next_worker = 0
        self._next_tag = 0

    def submit(self, indices):
        worker = self._next_worker
        self._next_worker = (worker + 1) % len(self._procs)
        tag = self._next_tag
        self._next_tag += 1
        self._conns[worker].send((tag, indices))
        return functools.partial(self._result, worker, tag)

    def _result(self, worker, tag, timeout):
        conn = self._conns[worker]
        deadline = time.monotonic() + timeout
        while True:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise multiprocessing.TimeoutError
            try:
                got, ok, value = conn.recv()
            except (EOFError, ConnectionError):
                proc = self._procs[worker]
                proc.join(1)
                raise RuntimeError(f"DataLoader worker {worker} (pid {proc.pid}) exited "
                                   f"unexpectedly with exit code {proc.exitcode}; it may have "
                                   f"run out of memory or crashed in the dataset's "
                                   f"__getitem__") from None
            if got == tag:
                if not ok:
                    raise value
                return value

    def shutdown(self):
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs:
            proc.join(5)
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []


class DataLoader:
    """Iterate over mini-batches of ``dataset``.

    ``shuffle`` draws a new order each epoch; ``last_batch`` is 'keep', 'discard' or
    'rollover'; ``num_workers > 0`` builds batches in that many worker processes
    (forked, so the dataset need not be picklable; spawned, so it must be, once CUDA is
    initialised), or threads with ``thread_pool``, and yields them in order, waiting at most
    ``timeout`` seconds for each. ``pin_memory`` delivers the batches' arrays on
    ``cpu_pinned(pin_device_id)``, as MXNet (plain host memory here); ``try_nopython`` and ``auto_reload``, options of MXNet's C++ loader, are accepted
    and have no effect.
    """

    def __init__(self, dataset, batch_size=None, shuffle=False, sampler=None, last_batch=None,
                 batch_sampler=None, batchify_fn=None, num_workers=0, pin_memory=False,
                 pin_device_id=0, prefetch=None, thread_pool=False, timeout=120,
                 try_nopython=None, auto_reload=True):
        self._dataset = dataset
        if batch_sampler is None:
            if batch_size is None:
                raise ValueError("batch_size must be specified unless batch_sampler is specified")
            if sampler is None:
                sampler = RandomSampler(len(dataset)) if shuffle else SequentialSampler(len(dataset))
            elif shuffle:
                raise ValueError("shuffle must not be specified if sampler is specified")
            batch_sampler = BatchSampler(sampler, batch_size,
                                         last_batch if last_batch else "keep")
        elif batch_size is not None or shuffle or sampler is not None or last_batch is not None:
            raise ValueError("batch_size, shuffle, sampler and last_batch must not be specified "
                             "if batch_sampler is specified.")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self._batch_sampler = batch_sampler
        self._batchify_fn = batchify_fn
        self._num_workers = num_workers
        self._prefetch = max(1, prefetch if prefetch is not None else 2 * num_workers)
        self._timeout = timeout
        self._thread_pool = thread_pool
        self._pool = None
        self._pin_device = cpu_pinned(pin_device_id) if pin_memory else None

    def __len__(self):
        return len(self._batch_sampler)

    def __iter__(self):
        if self._num_workers == 0:
            for indices in self._batch_sampler:
                yield self._deliver(_make_batch(self._dataset, self._batchify_fn, indices))
            return
        if self._pool is None:
            self._pool = self._make_pool()
        if self._thread_pool:
            work = functools.partial(_make_batch, self._dataset, self._batchify_fn)

            def submit(indices):
                return self._pool.apply_async(work, (indices,)).get
        else:
            submit = self._pool.submit
        pending = []
        for batch_indices in self._batch_sampler:
            pending.append(submit(batch_indices))
            if len(pending) >= self._prefetch:
                yield self._finish(pending.pop(0))
        while pending:
            yield self._finish(pending.pop(0))

    def _make_pool(self):
        if self._thread_pool:
            return ThreadPool(self._num_workers)
        method = "fork"
        if cuda_initialized():
            _check_picklable(self._dataset, self._batchify_fn, self._num_workers)
            method = "spawn"
        return _WorkerProcesses(self._num_workers, self._dataset, self._batchify_fn, method)

    def _finish(self, get_result):
        try:
            batch = get_result(self._timeout)
        except multiprocessing.TimeoutError:
            raise TimeoutError(f"DataLoader: a worker took over timeout={self._timeout} s to "
                               f"build a batch; pass a larger timeout= or check the "
                               f"dataset's __getitem__ and the batchify_fn") from None
        return self._deliver(batch)

    def _deliver(self, batch):
        if self._batchify_fn is None:
            return _to_device_arrays(batch, self._pin_device)
        if self._pin_device is None:
            return batch
        return _to_device_arrays(batch, self._pin_device, from_host=False)  # MXNet's rule

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if isinstance(pool, ThreadPool):
            pool.terminate()
        elif pool is not None:
            pool.shutdown()
