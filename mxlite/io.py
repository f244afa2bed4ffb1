"""MXNet's ``mx.io`` iterators that are plain Python: ``DataDesc``, ``DataBatch``, the
``DataIter`` protocol, ``NDArrayIter``, ``ResizeIter`` and ``PrefetchingIter``.

Batches hold ``mx.np`` arrays on the device the source arrays live on (host numpy sources
go to the current default device, keeping their dtype). MXNet's C++ readers (``CSVIter``,
``MNISTIter``, ``ImageRecordIter``, ``LibSVMIter``) are not part of mxlite: ``gluon.data``'s
datasets and ``DataLoader`` do that work."""
import queue
import threading
from collections import namedtuple

import numpy as _onp

from . import numpy as _mnp
from .ndarray import ndarray

__all__ = ["DataDesc", "DataBatch", "DataIter", "NDArrayIter", "ResizeIter",
           "PrefetchingIter"]


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """Name and shape of one input (a tuple, as MXNet's), with its dtype and layout."""

    def __new__(cls, name, shape, dtype=_onp.float32, layout="NCHW"):
        desc = super().__new__(cls, name, shape)
        desc.dtype = dtype
        desc.layout = layout
        return desc

    def __repr__(self):
        return f"DataDesc[{self.name},{self.shape},{self.dtype},{self.layout}]"

    @staticmethod
    def get_batch_axis(layout):
        """The batch axis of ``layout`` ('N' in it; 0 when None, -1 when it has none)."""
        return 0 if layout is None else layout.find("N")

    @staticmethod
    def get_list(shapes, types):
        """DataDescs from ``[(name, shape)]`` and optional ``[(name, dtype)]``."""
        if types is None:
            return [DataDesc(name, shape) for name, shape in shapes]
        dtypes = dict(types)
        return [DataDesc(name, shape, dtypes[name]) for name, shape in shapes]


class DataBatch:
    """One batch: lists of data and label arrays, the number of padded examples at its end
    (``pad``, to be ignored in prediction), the example indices and the bucket key."""

    def __init__(self, data, label=None, pad=None, index=None, bucket_key=None,
                 provide_data=None, provide_label=None):
        if data is not None and not isinstance(data, (list, tuple)):
            raise TypeError(f"DataBatch: data must be a list of arrays, got "
                            f"{type(data).__name__}")
        if label is not None and not isinstance(label, (list, tuple)):
            raise TypeError(f"DataBatch: label must be a list of arrays, got "
                            f"{type(label).__name__}")
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self):
        labels = [a.shape for a in self.label] if self.label else None
        return (f"{type(self).__name__}: data shapes: {[a.shape for a in self.data]} "
                f"label shapes: {labels}")


class DataIter:
    """The iterator protocol of MXNet's data iterators: ``next()`` returns a DataBatch or
    raises StopIteration; ``reset()`` starts the next epoch. A subclass implements
    ``iter_next``, ``getdata`` and ``getlabel`` (and ``getpad``/``getindex`` when it pads
    or knows the indices), or ``next`` itself."""

    def __init__(self, batch_size=0):
        self.batch_size = batch_size

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def reset(self):
        """Back to the first batch (an iterator without state has nothing to do)."""

    def next(self):
        if not self.iter_next():
            raise StopIteration
        return DataBatch(data=self.getdata(), label=self.getlabel(), pad=self.getpad(),
                         index=self.getindex())

    def iter_next(self):
        raise NotImplementedError(f"{type(self).__name__} must implement iter_next() (or "
                                  "next())")

    def getdata(self):
        raise NotImplementedError(f"{type(self).__name__} must implement getdata()")

    def getlabel(self):
        raise NotImplementedError(f"{type(self).__name__} must implement getlabel()")

    def getindex(self):
        """The current batch's example indices; None when the iterator does not know them."""
        return None

    def getpad(self):
        """How many examples at the end of the current batch are padding."""
        return 0


def _named_arrays(data, allow_empty, default_name):
    """``data`` (an array, a list of arrays or a dict of them) as a sorted list of
    ``(name, mx.np.ndarray)``: one array is named ``default_name``, a list's entries
    ``_<i>_<default_name>`` (MXNet's names)."""
    if data is None:
        if not allow_empty:
            raise ValueError("NDArrayIter needs data")
        return []
    if isinstance(data, (ndarray, _onp.ndarray)):
        data = [data]
    if isinstance(data, (list, tuple)):
        if not data and not allow_empty:
            raise ValueError("NDArrayIter needs data: got an empty list")
        data = ({default_name: data[0]} if len(data) == 1
                else {f"_{i}_{default_name}": d for i, d in enumerate(data)})
    if not isinstance(data, dict):
        raise TypeError("NDArrayIter takes an array (mx.np or numpy), a list of them or a "
                        f"dict of names to them, got {type(data).__name__}")
    named = []
    for name, value in data.items():
        if not isinstance(value, ndarray):
            host = _onp.asarray(value)
            if host.dtype.kind not in "biuf":
                raise TypeError(f"NDArrayIter: {name!r} is a {type(value).__name__}, not a "
                                "numeric array (mx.np or numpy)")
            # a numpy array keeps its dtype, a list gets the default (MXNet's array())
            value = _mnp.array(host, dtype=host.dtype) if host is value else _mnp.array(value)
        if value.ndim == 0:
            raise ValueError(f"NDArrayIter: {name!r} is 0-d; its first axis must index the "
                             "examples")
        named.append((name, value))
    return sorted(named, key=lambda item: item[0])


class NDArrayIter(DataIter):
    """Batches of ``batch_size`` examples (the first axis) from in-memory arrays.

    ``last_batch_handle``: 'pad' completes the last batch with examples from the start
    (``pad`` says how many), 'discard' drops it, 'roll_over' carries its examples into the
    first batch of the next epoch. ``shuffle`` reorders the examples at every reset with
    numpy's global random state, as MXNet does."""

    def __init__(self, data, label=None, batch_size=1, shuffle=False,
                 last_batch_handle="pad", data_name="data", label_name="softmax_label"):
        super().__init__(batch_size)
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            raise ValueError("NDArrayIter: last_batch_handle must be 'pad', 'discard' or "
                             f"'roll_over', got {last_batch_handle!r}")
        if int(batch_size) < 1:
            raise ValueError(f"NDArrayIter: batch_size must be at least 1, got {batch_size}")
        self.data = _named_arrays(data, False, data_name)
        self.label = _named_arrays(label, True, label_name)
        self.num_data = self.data[0][1].shape[0]
        self.idx = _onp.arange(self.num_data)
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.batch_size = int(batch_size)
        self.cursor = -self.batch_size
        self._rolled = {"data": None, "label": None}  # 'roll_over': the last, short batch
        self.reset()

    @property
    def provide_data(self):
        return [DataDesc(k, (self.batch_size,) + v.shape[1:], v.dtype) for k, v in self.data]

    @property
    def provide_label(self):
        return [DataDesc(k, (self.batch_size,) + v.shape[1:], v.dtype) for k, v in self.label]

    def hard_reset(self):
        """Back to the first example, dropping any rolled-over examples."""
        if self.shuffle:
            self._shuffle()
        self.cursor = -self.batch_size
        self._rolled = {"data": None, "label": None}

    def reset(self):
        if self.shuffle:
            self._shuffle()
        if self.last_batch_handle == "roll_over" and \
                self.num_data - self.batch_size < self.cursor < self.num_data:
            # the rolled-over examples fill the first batch: it starts that far before 0
            self.cursor = self.cursor - self.num_data - self.batch_size
        else:
            self.cursor = -self.batch_size

    def iter_next(self):
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self):
        if not self.iter_next():
            raise StopIteration
        data, label = self.getdata(), self.getlabel()
        if data[0].shape[0] != self.batch_size:  # the short last batch: kept for roll_over
            self._rolled = {"data": data, "label": label}
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    def getdata(self):
        return self._batch(self.data, "data")

    def getlabel(self):
        return self._batch(self.label, "label")

    def getpad(self):
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            return -self.cursor
        return 0

    def _batch(self, sources, kind):
        if self.cursor >= self.num_data:
            raise StopIteration("NDArrayIter is at its end: call reset()")
        end = self.cursor + self.batch_size
        if self.last_batch_handle == "roll_over" and self.cursor < 0:
            rolled = self._rolled[kind]
            if rolled is None and sources:
                raise RuntimeError("NDArrayIter: the first batch of this epoch starts with "
                                   "rolled-over examples, but none were kept; call "
                                   "hard_reset() to start from the first example")
            self._rolled[kind] = None
            return [_mnp.concatenate([old, arr[:end]]) for old, (_, arr) in
                    zip(rolled or (), sources)]
        if self.last_batch_handle == "pad" and end > self.num_data:
            wrapped = _onp.arange(self.cursor, end) % self.num_data  # from the start again
            return [_mnp.take(arr, _mnp.array(wrapped, dtype="int64", device=arr.device), axis=0)
                    for _, arr in sources]
        return [arr[self.cursor:min(end, self.num_data)] for _, arr in sources]

    def _shuffle(self):
        _onp.random.shuffle(self.idx)
        self.data = [(k, _mnp.take(v, _mnp.array(self.idx, dtype="int64", device=v.device), axis=0))
                     for k, v in self.data]
        self.label = [(k, _mnp.take(v, _mnp.array(self.idx, dtype="int64", device=v.device), axis=0))
                      for k, v in self.label]


class _BatchHolder(DataIter):
    """An iterator whose ``iter_next`` fetches a whole DataBatch into ``current_batch``:
    the getters read it."""

    def getdata(self):
        return self.current_batch.data

    def getlabel(self):
        return self.current_batch.label

    def getindex(self):
        return self.current_batch.index

    def getpad(self):
        return self.current_batch.pad


class ResizeIter(_BatchHolder):
    """``data_iter`` cut or extended to ``size`` batches per epoch (it restarts when it
    ends early); ``reset_internal`` resets it at every reset."""

    def __init__(self, data_iter, size, reset_internal=True):
        super().__init__(data_iter.batch_size)
        self.data_iter = data_iter
        self.size = size
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self):
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self):
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True


class _Prefetcher:
    """One iterator read ahead by one batch on its own thread (numpy and CuPy release the
    GIL in their kernels, so reading overlaps the training step)."""

    def __init__(self, data_iter):
        self.data_iter = data_iter
        self.requests = queue.Queue()
        self.replies = queue.Queue()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.pending = False
        self.ask("next")

    def _serve(self):
        while True:
            request = self.requests.get()
            if request is None:
                return
            try:
                if request == "reset":
                    self.data_iter.reset()
                    self.replies.put(("reset", None))
                else:
                    self.replies.put(("batch", self.data_iter.next()))
            except StopIteration:
                self.replies.put(("batch", None))
            except Exception as err:  # handed to the reading thread, which raises it
                self.replies.put(("error", err))

    def ask(self, request):
        self.requests.put(request)
        self.pending = True

    def take(self):
        kind, value = self.replies.get()
        self.pending = False
        if kind == "error":
            raise value
        return value

    def close(self):
        self.requests.put(None)


class PrefetchingIter(_BatchHolder):
    """Batches of several iterators joined (their data lists, then their label lists),
    each read one batch ahead on a thread. ``rename_data`` / ``rename_label``: per
    iterator, a map from its names to the joined batch's."""

    def __init__(self, iters, rename_data=None, rename_label=None):
        iters = iters if isinstance(iters, list) else [iters]
        if not iters:
            raise ValueError("PrefetchingIter needs at least one iterator")
        self.iters = iters
        self.rename_data = rename_data
        self.rename_label = rename_label
        super().__init__(self.provide_data[0].shape[0])
        self.current_batch = None
        self._workers = [_Prefetcher(it) for it in iters]

    def _renamed(self, descs, renames):
        if renames is None:
            return [d for per_iter in descs for d in per_iter]
        return [DataDesc(rename[d.name], d.shape, d.dtype) if isinstance(d, DataDesc)
                else DataDesc(rename[d[0]], d[1])
                for rename, per_iter in zip(renames, descs) for d in per_iter]

    @property
    def provide_data(self):
        return self._renamed([it.provide_data for it in self.iters], self.rename_data)

    @property
    def provide_label(self):
        return self._renamed([it.provide_label for it in self.iters], self.rename_label)

    def reset(self):
        for w in self._workers:
            if w.pending:
                w.take()  # the batch read ahead belongs to the old epoch
            w.ask("reset")
        for w in self._workers:
            w.take()
            w.ask("next")

    def iter_next(self):
        batches = [w.take() for w in self._workers]
        if batches[0] is None:
            if any(b is not None for b in batches):
                raise ValueError("PrefetchingIter: the iterators have different numbers of "
                                 "batches per epoch")
            return False
        if any(b is None or b.pad != batches[0].pad for b in batches):
            raise ValueError("PrefetchingIter: the iterators' batches do not line up (a "
                             "different number of batches or of padded examples)")
        for w in self._workers:
            w.ask("next")
        self.current_batch = DataBatch(
            [a for b in batches for a in b.data], [a for b in batches for a in (b.label or [])],
            batches[0].pad, batches[0].index, provide_data=self.provide_data,
            provide_label=self.provide_label)
        return True

    def next(self):
        if not self.iter_next():
            raise StopIteration
        return self.current_batch

    def close(self):
        """Stop the reading threads (they are daemons, so exiting Python needs no call)."""
        for w in self._workers:
            w.close()

    def __del__(self):
        for w in getattr(self, "_workers", ()):
            w.close()
