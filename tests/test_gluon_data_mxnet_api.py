"""gluon.data behaviour that MXNet's own test_gluon_data.py relies on."""
import os
import threading

import numpy as np
import pytest

from mxlite.gluon.data import ArrayDataset, DataLoader, Dataset


def test_abandoned_iterators_release_workers():
    """MXNet's test_multi_worker_dataloader_release_pool: dropping a loader whose workers are
    still sending large batches must not hang (multiprocessing.Pool.terminate did)."""
    def run():
        for _ in range(5):
            loader = DataLoader(np.random.rand(999, 2000), batch_size=8, num_workers=4)
            it = iter(loader)
            next(it)
            del it, loader

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "DataLoader shutdown hung"


def test_abandoned_epoch_does_not_leak_into_next():
    """Results still in flight from an abandoned epoch are skipped, so the next epoch yields
    every batch in order."""
    data = np.arange(40, dtype=np.float32).reshape(20, 2)
    loader = DataLoader(ArrayDataset(data), batch_size=3, num_workers=2)
    it = iter(loader)
    next(it)
    del it
    got = np.concatenate([b.asnumpy() for b in loader])
    np.testing.assert_array_equal(got, data)


class _Failing(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, idx):
        if idx == 2:
            raise KeyError(f"bad sample {idx}")
        return np.float32(idx)


class _Crashing(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, idx):
        os._exit(3)


def test_worker_error_reaches_caller():
    """A dataset error in a worker is raised in the caller with its type and message."""
    loader = DataLoader(_Failing(), batch_size=1, num_workers=2)
    it = iter(loader)
    assert next(it).asnumpy().tolist() == [0.0]
    assert next(it).asnumpy().tolist() == [1.0]
    with pytest.raises(KeyError, match="bad sample 2"):
        next(it)


def test_worker_crash_is_reported():
    """A worker that dies raises an error naming its exit code instead of hanging."""
    loader = DataLoader(_Crashing(), batch_size=1, num_workers=1, timeout=20)
    with pytest.raises(RuntimeError, match="exited unexpectedly with exit code 3"):
        next(iter(loader))


def test_multi_worker_batches_match_single_process():
    """Batches from worker processes equal those built in-process (values and order)."""
    data = np.random.rand(17, 3).astype(np.float32)
    labels = np.arange(17)
    dataset = ArrayDataset(data, labels)
    serial = [(x.asnumpy(), y.asnumpy()) for x, y in DataLoader(dataset, batch_size=4)]
    parallel = [(x.asnumpy(), y.asnumpy())
                for x, y in DataLoader(dataset, batch_size=4, num_workers=3)]
    assert len(serial) == len(parallel) == 5
    for (xs, ys), (xp, yp) in zip(serial, parallel):
        np.testing.assert_array_equal(xs, xp)
        np.testing.assert_array_equal(ys, yp)
