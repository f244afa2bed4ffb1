"""Datasets: indexable collections of samples."""
import os

import numpy as _np

from ...ndarray import ndarray
from ...recordio import MXIndexedRecordIO

__all__ = ["Dataset", "SimpleDataset", "ArrayDataset", "RecordFileDataset"]


class Dataset:
    """Abstract dataset: implement ``__getitem__`` and ``__len__``."""

    def __getitem__(self, idx):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def transform(self, fn, lazy=True):
        """A dataset of ``fn(*sample)`` (computed on access when ``lazy``)."""
        trans = _LazyTransformDataset(self, fn)
        return trans if lazy else SimpleDataset([trans[i] for i in range(len(trans))])

    def transform_first(self, fn, lazy=True):
        """Transform only the first element of each sample (e.g. the image, not the label)."""
        def first(x, *rest):
            return (fn(x),) + rest if rest else fn(x)
        return self.transform(first, lazy)

    def filter(self, fn):
        """The samples for which ``fn(sample)`` is true."""
        return SimpleDataset([self[i] for i in range(len(self)) if fn(self[i])])

    def take(self, count):
        """The first ``count`` samples (all when None)."""
        count = len(self) if count is None else min(count, len(self))
        return SimpleDataset([self[i] for i in range(count)])

    def shard(self, num_shards, index):
        """Shard ``index`` of ``num_shards`` contiguous shards (sizes differ by at most one)."""
        if not 0 <= index < num_shards:
            raise ValueError(f"shard index {index} out of range for {num_shards} shards")
        each, extra = divmod(len(self), num_shards)
        start = index * each + min(index, extra)
        end = start + each + (1 if index < extra else 0)
        return SimpleDataset([self[i] for i in range(start, end)])

    def sample(self, sampler):
        """The samples at the indices a sampler yields."""
        return SimpleDataset([self[i] for i in sampler])


class SimpleDataset(Dataset):
    """A dataset over any indexable sequence (a list, a numpy array, ...)."""

    def __init__(self, data):
        self._data = data

    def __len__(self):
        return len(self._data)

    def __getitem__(self, idx):
        return self._data[idx]


class _LazyTransformDataset(Dataset):
    def __init__(self, data, fn):
        self._data = data
        self._fn = fn

    def __len__(self):
        return len(self._data)

    def __getitem__(self, idx):
        item = self._data[idx]
        if isinstance(item, tuple):
            return self._fn(*item)
        return self._fn(item)


def _host(x):
    """mxlite arrays are kept on the host as numpy, so samples index cheaply (and pickle)."""
    return x.asnumpy() if isinstance(x, ndarray) else x


class ArrayDataset(Dataset):
    """Samples from several arrays of equal length: ``dataset[i] == (a[i], b[i], ...)``.

    mxlite arrays are held as host numpy arrays; samples come back as numpy values and
    the DataLoader's batchify turns batches into mxlite arrays.
    """

    def __init__(self, *args):
        if not args:
            raise ValueError("ArrayDataset needs at least one array")
        self._length = len(args[0])
        self._data = []
        for i, data in enumerate(args):
            if len(data) != self._length:
                raise ValueError(f"All arrays must have the same length; array[0] has length "
                                 f"{self._length} while array[{i}] has {len(data)}.")
            self._data.append(_host(data))

    def __getitem__(self, idx):
        if len(self._data) == 1:
            return self._data[0][idx]
        return tuple(data[idx] for data in self._data)

    def __len__(self):
        return self._length

    def _take_rows(self, indices):
        """The default batch for ``indices`` in one fancy-indexing step, when every field is a
        numpy array (else None: the loader stacks samples one by one)."""
        if not all(isinstance(data, _np.ndarray) for data in self._data):
            return None
        rows = [data[indices] for data in self._data]
        return rows[0] if len(rows) == 1 else tuple(rows)


class RecordFileDataset(Dataset):
    """The records of a RecordIO ``.rec`` file as raw bytes, in the order of its ``.idx``
    (the same path with the ``.idx`` extension)."""

    def __init__(self, filename):
        self.filename = str(filename)
        self.idx_file = os.path.splitext(self.filename)[0] + ".idx"
        self._record = MXIndexedRecordIO(self.idx_file, self.filename, "r")

    def __getitem__(self, idx):
        return self._record.read_idx(self._record.keys[idx])

    def __len__(self):
        return len(self._record.keys)
