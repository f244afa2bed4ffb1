"""gluon.data (datasets, samplers, DataLoader, transforms) and gluon.metric."""
import math

import numpy as np
import pytest

import mxlite as mx
from mxlite.gluon import data as gdata
from mxlite.gluon import metric


def _dataset(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n, dtype=np.int64)
    return gdata.ArrayDataset(x, y)


@pytest.mark.parametrize("last_batch,sizes", [("keep", [4, 4, 2]), ("discard", [4, 4])])
def test_dataloader_batches(last_batch, sizes):
    loader = gdata.DataLoader(_dataset(), batch_size=4, last_batch=last_batch)
    batches = list(loader)
    assert [b[0].shape[0] for b in batches] == sizes == [4] * (len(sizes) - 1) + sizes[-1:]
    assert len(loader) == len(sizes)
    x, y = batches[0]
    assert isinstance(x, mx.np.ndarray) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y.asnumpy(), [0, 1, 2, 3])


def test_rollover_carries_samples_into_next_epoch():
    loader = gdata.DataLoader(_dataset(10), batch_size=4, last_batch="rollover")
    first = [b[1].asnumpy().tolist() for b in loader]
    second = [b[1].asnumpy().tolist() for b in loader]
    assert first == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert second[0] == [8, 9, 0, 1]


def test_shuffle_covers_every_sample_once():
    loader = gdata.DataLoader(_dataset(10), batch_size=3, shuffle=True)
    labels = np.concatenate([y.asnumpy() for _, y in loader])
    assert sorted(labels.tolist()) == list(range(10))


def test_workers_give_the_same_batches():
    serial = [y.asnumpy() for _, y in gdata.DataLoader(_dataset(9), batch_size=2)]
    parallel = [y.asnumpy() for _, y in gdata.DataLoader(_dataset(9), batch_size=2,
                                                         num_workers=2)]
    threaded = [y.asnumpy() for _, y in gdata.DataLoader(_dataset(9), batch_size=2,
                                                         num_workers=2, thread_pool=True)]
    assert len(serial) == len(parallel) == len(threaded) == 5
    for a, b, c in zip(serial, parallel, threaded):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_custom_batchify_and_sampler_errors():
    loader = gdata.DataLoader(gdata.SimpleDataset([1, 2, 3]), batch_size=2,
                              batchify_fn=lambda samples: sum(samples))
    assert list(loader) == [3, 3]
    with pytest.raises(ValueError, match="last_batch"):
        gdata.DataLoader(_dataset(), batch_size=2, last_batch="bogus")
    with pytest.raises(ValueError, match="same length"):
        gdata.ArrayDataset(np.zeros(3), np.zeros(4))


def test_dataset_transforms():
    ds = _dataset(4).transform_first(lambda x: x * 2)
    x, y = ds[1]
    np.testing.assert_array_equal(x, [4.0, 6.0])
    assert y == 1
    assert len(_dataset(10).shard(3, 0)) == 4
    assert len(_dataset(10).filter(lambda s: s[1] % 2 == 0)) == 5


def test_vision_transforms():
    from mxlite.gluon.data.vision import transforms
    image = np.full((2, 3, 3), 255, dtype=np.uint8)  # H, W, C
    t = transforms.Compose([transforms.ToTensor(),
                            transforms.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))])
    out = t(image)
    assert out.shape == (3, 2, 3)
    np.testing.assert_allclose(out.asnumpy(), 1.0)


def test_metrics():
    acc = metric.Accuracy()
    acc.update(mx.np.array([0, 1, 1]), mx.np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]))
    assert acc.get() == ("accuracy", pytest.approx(2 / 3))
    top2 = metric.TopKAccuracy(top_k=2)
    top2.update([mx.np.array([2, 0])], [mx.np.array([[0.1, 0.5, 0.4], [0.1, 0.5, 0.4]])])
    assert top2.get()[1] == 0.5
    mae, mse, rmse = metric.MAE(), metric.MSE(), metric.RMSE()
    for m in (mae, mse, rmse):
        m.update(mx.np.array([1.0, 2.0]), mx.np.array([2.0, 4.0]))
    assert mae.get()[1] == 1.5 and mse.get()[1] == 2.5 and rmse.get()[1] == math.sqrt(2.5)
    ce = metric.CrossEntropy()
    ce.update(mx.np.array([0, 1]), mx.np.array([[0.5, 0.5], [0.25, 0.75]]))
    assert ce.get()[1] == pytest.approx((-math.log(0.5) - math.log(0.75)) / 2)
    ppl = metric.Perplexity()
    ppl.update(mx.np.array([0, 1]), mx.np.array([[0.5, 0.5], [0.25, 0.75]]))
    assert ppl.get()[1] == pytest.approx(math.exp(ce.get()[1]))
    f1 = metric.F1()
    f1.update(mx.np.array([1, 0, 1, 1]), mx.np.array([[0, 1], [0, 1], [1, 0], [0, 1]]))
    assert f1.get()[1] == pytest.approx(2 / 3)
    loss = metric.Loss()
    loss.update(None, mx.np.array([1.0, 3.0]))
    assert loss.get() == ("loss", 2.0)
    comp = metric.create(["acc", "mse"])
    comp.update(mx.np.array([1.0]), mx.np.array([1.0]))
    assert comp.get() == (["accuracy", "mse"], [1.0, 0.0])
    acc.reset()
    assert math.isnan(acc.get()[1])


def test_workers_are_spawned_once_cuda_is_initialised(monkeypatch):
    from mxlite.gluon.data import dataloader
    monkeypatch.setattr(dataloader, "cuda_initialized", lambda: True)
    loader = gdata.DataLoader(_dataset(5), batch_size=2, num_workers=1)
    labels = [y.asnumpy().tolist() for _, y in loader]
    assert labels == [[0, 1], [2, 3], [4]]
    assert loader._pool._ctx.get_start_method() == "spawn"


def test_without_cuda_workers_fork_so_a_lambda_batchify_works(monkeypatch):
    from mxlite.gluon.data import dataloader
    monkeypatch.setattr(dataloader, "cuda_initialized", lambda: False)
    loader = gdata.DataLoader(gdata.SimpleDataset([1, 2, 3]), batch_size=2, num_workers=1,
                              batchify_fn=lambda samples: sum(samples))
    assert list(loader) == [3, 3]
    assert loader._pool._ctx.get_start_method() == "fork"


def test_an_unpicklable_dataset_under_cuda_says_how_to_fix_it(monkeypatch):
    from mxlite.gluon.data import dataloader
    monkeypatch.setattr(dataloader, "cuda_initialized", lambda: True)
    loader = gdata.DataLoader(gdata.SimpleDataset([1, 2, 3]), batch_size=2, num_workers=2,
                              batchify_fn=lambda samples: sum(samples))
    with pytest.raises(TypeError, match=r"num_workers=2.*'spawn'.*CUDA is initialised.*"
                                        r"thread_pool=True"):
        next(iter(loader))
