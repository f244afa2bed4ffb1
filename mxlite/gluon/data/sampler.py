"""Samplers: which indices, in which order, grouped how."""
import numpy as _np

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "FilterSampler", "IntervalSampler",
           "BatchSampler", "SplitSampler"]


class Sampler:
    """Base class: iterate over sample indices."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class SequentialSampler(Sampler):
    """``start, start+1, ..., start+length-1``."""

    def __init__(self, length, start=0):
        self._length = length
        self._start = start

    def __iter__(self):
        return iter(range(self._start, self._start + self._length))

    def __len__(self):
        return self._length


class RandomSampler(Sampler):
    """A random permutation of ``range(length)`` each epoch (numpy's global generator,
    so ``numpy.random.seed`` makes it reproducible)."""

    def __init__(self, length):
        self._length = length

    def __iter__(self):
        return iter(_np.random.permutation(self._length).tolist())

    def __len__(self):
        return self._length


class FilterSampler(Sampler):
    """The indices of ``dataset`` whose sample satisfies ``fn(sample)`` (evaluated once,
    here)."""

    def __init__(self, fn, dataset):
        self._indices = [i for i in range(len(dataset)) if fn(dataset[i])]

    def __iter__(self):
        return iter(self._indices)

    def __len__(self):
        return len(self._indices)


class IntervalSampler(Sampler):
    """Every ``interval``-th index: ``0, k, 2k, ...``; with ``rollover`` it then goes on from
    1, 2, ..., k-1, so each index comes once per epoch (e.g. to interleave a sequence)."""

    def __init__(self, length, interval, rollover=True):
        if not 0 < interval <= length:
            raise ValueError(f"Interval {interval} must be in (0, length={length}]")
        self._length, self._interval, self._rollover = length, interval, rollover

    def __iter__(self):
        for start in range(self._interval if self._rollover else 1):
            yield from range(start, self._length, self._interval)

    def __len__(self):
        if self._rollover:
            return self._length
        return (self._length + self._interval - 1) // self._interval


class BatchSampler(Sampler):
    """Group a sampler's indices into lists of ``batch_size``.

    ``last_batch``: 'keep' a smaller last batch, 'discard' it, or 'rollover' its
    samples into the next epoch's first batch.
    """

    def __init__(self, sampler, batch_size, last_batch="keep"):
        if last_batch not in ("keep", "discard", "rollover"):
            raise ValueError(f"last_batch must be one of 'keep', 'discard', or 'rollover', but "
                             f"got {last_batch}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._sampler = sampler
        self._batch_size = batch_size
        self._last_batch = last_batch
        self._prev = []

    def __iter__(self):
        batch, self._prev = self._prev, []
        for i in self._sampler:
            batch.append(i)
            if len(batch) == self._batch_size:
                yield batch
                batch = []
        if batch:
            if self._last_batch == "keep":
                yield batch
            elif self._last_batch == "rollover":
                self._prev = batch

    def __len__(self):
        n = len(self._sampler)
        if self._last_batch == "keep":
            return (n + self._batch_size - 1) // self._batch_size
        if self._last_batch == "discard":
            return n // self._batch_size
        return (len(self._prev) + n) // self._batch_size


class SplitSampler(Sampler):
    """Part ``part_index`` of ``num_parts`` equal parts of ``range(length)`` (MXNet's
    SplitSampler: for one rank of a data-parallel job; the tail that does not divide
    evenly is dropped so every rank runs the same number of steps).

    With ``shuffle`` the indices are permuted by ``seed + epoch`` before splitting, so
    every rank draws the same permutation and the parts cover each sample once per
    epoch; call ``set_epoch`` at the start of each epoch.
    """

    def __init__(self, length, num_parts=1, part_index=0, shuffle=False, seed=0):
        if not 0 <= part_index < num_parts:
            raise ValueError(f"SplitSampler: part_index must be in [0, {num_parts}), got "
                             f"{part_index}")
        self._length, self._num_parts, self._part = length, num_parts, part_index
        self._shuffle, self._seed, self._epoch = shuffle, seed, 0
        self._part_len = length // num_parts

    def set_epoch(self, epoch):
        self._epoch = epoch

    def __iter__(self):
        order = (_np.random.RandomState(self._seed + self._epoch).permutation(self._length)
                 if self._shuffle else _np.arange(self._length))
        start = self._part * self._part_len
        return iter(order[start:start + self._part_len].tolist())

    def __len__(self):
        return self._part_len
