"""mx.io: NDArrayIter's batches for each last-batch rule (MXNet's documented examples),
shuffling that keeps data and labels paired, ResizeIter, PrefetchingIter and the protocol."""
import numpy as np
import pytest

import mxlite as mx
from mxlite import io as mio

DATA = np.arange(40, dtype=np.float32).reshape((10, 2, 2))
LABELS = np.arange(10, dtype=np.float32).reshape((10, 1))


def _firsts(it):
    """Per batch: the examples' indices (DATA[i, 0, 0] == 4 i), their labels and pad."""
    return [((b.data[0].asnumpy()[:, 0, 0] // 4).astype(int).tolist(),
             b.label[0].asnumpy()[:, 0].astype(int).tolist(), b.pad) for b in it]


def test_pad_completes_the_last_batch_from_the_start():
    it = mio.NDArrayIter(DATA, LABELS, 3, last_batch_handle="pad")
    want = [([0, 1, 2], [0, 1, 2], 0), ([3, 4, 5], [3, 4, 5], 0), ([6, 7, 8], [6, 7, 8], 0),
            ([9, 0, 1], [9, 0, 1], 2)]
    assert _firsts(it) == want
    it.reset()
    assert _firsts(it) == want
    wide = mio.NDArrayIter(DATA[:2], LABELS[:2], 7)  # pad wider than the data: it repeats
    assert _firsts(wide) == [([0, 1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1, 0], 5)]


def test_discard_drops_the_short_batch():
    it = mio.NDArrayIter(DATA, LABELS, 3, last_batch_handle="discard")
    for _ in range(2):
        assert [b[0] for b in _firsts(it)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
        it.reset()


def test_roll_over_carries_the_short_batch_into_the_next_epoch():
    it = mio.NDArrayIter(DATA, LABELS, 3, last_batch_handle="roll_over")
    assert [b[0] for b in _firsts(it)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    it.reset()
    assert _firsts(it) == [([9, 0, 1], [9, 0, 1], 1), ([2, 3, 4], [2, 3, 4], 0),
                           ([5, 6, 7], [5, 6, 7], 0)]
    it.reset()
    assert [b[0] for b in _firsts(it)][0] == [8, 9, 0]
    it.hard_reset()
    assert [b[0] for b in _firsts(it)][0] == [0, 1, 2]


def test_shuffle_keeps_every_example_with_its_label():
    np.random.seed(3)
    it = mio.NDArrayIter(DATA, LABELS, 5, shuffle=True, last_batch_handle="discard")
    orders = []
    for _ in range(3):
        seen = []
        for data, labels, pad in _firsts(it):
            assert data == labels and pad == 0
            seen += data
        assert sorted(seen) == list(range(10))
        orders.append(seen)
        it.reset()
    assert orders[0] != list(range(10)) and orders[0] != orders[1]


def test_names_dtypes_and_provided_shapes():
    d = {"b": np.zeros((10, 3)), "a": np.zeros((10, 2), dtype=np.int32)}
    it = mio.NDArrayIter(d, [np.zeros(10), np.ones(10)], batch_size=4)
    assert [(x.name, x.shape, np.dtype(x.dtype)) for x in it.provide_data] == [
        ("a", (4, 2), np.int32), ("b", (4, 3), np.float64)]
    assert [x.name for x in it.provide_label] == ["_0_softmax_label", "_1_softmax_label"]
    batch = it.next()
    assert batch.data[0].dtype == np.int32 and isinstance(batch.data[0], mx.np.ndarray)
    assert batch.label[1].asnumpy().tolist() == [1.0] * 4
    listed = mio.NDArrayIter({"x": [[1], [2]]}, batch_size=2).next().data[0]
    assert listed.dtype == np.float32  # a list gets the default dtype, as MXNet's array()
    one = mio.NDArrayIter(mx.np.ones((5, 2)), batch_size=5, data_name="x")
    assert one.provide_data[0].name == "x" and one.provide_label == []
    only = one.next()
    assert only.label == [] and str(only) == "DataBatch: data shapes: [(5, 2)] label shapes: None"


def test_batches_stay_on_the_source_device(device):
    it = mio.NDArrayIter(mx.np.array(DATA, device=device), mx.np.array(LABELS, device=device),
                         4)
    for b in it:
        assert b.data[0].device == device and b.label[0].device == device


@pytest.mark.parametrize("kwargs, error, match", [
    ({"data": None}, ValueError, "needs data"),
    ({"data": "abc"}, TypeError, "takes an array"),
    ({"data": {"x": object()}}, TypeError, "'x' is a object"),
    ({"data": DATA, "last_batch_handle": "keep"}, ValueError, "last_batch_handle must be"),
    ({"data": DATA, "batch_size": 0}, ValueError, "batch_size must be at least 1"),
    ({"data": np.float32(1)}, TypeError, "takes an array"),
])
def test_bad_arguments_say_what_is_wrong(kwargs, error, match):
    with pytest.raises(error, match=match):
        mio.NDArrayIter(**kwargs)


def test_resize_iter_cuts_and_extends():
    base = mio.NDArrayIter(np.arange(100.0).reshape(100, 1), batch_size=25)
    longer = mio.ResizeIter(base, 6)
    firsts = [float(b.data[0][0, 0]) for b in longer]
    assert firsts == [0.0, 25.0, 50.0, 75.0, 0.0, 25.0]
    longer.reset()
    assert [float(b.data[0][0, 0]) for b in longer][0] == 0.0
    shorter = mio.ResizeIter(mio.NDArrayIter(np.ones((100, 10)), batch_size=25), 2)
    assert [b.data[0].shape for b in shorter] == [(25, 10), (25, 10)]
    assert shorter.provide_data[0].shape == (25, 10) and shorter.batch_size == 25


def test_prefetching_iter_joins_and_renames():
    first = mio.NDArrayIter({"data": np.arange(100.0).reshape(100, 1)}, batch_size=25)
    second = mio.NDArrayIter({"data": -np.arange(100.0).reshape(100, 1)},
                             np.arange(100.0), batch_size=25)
    it = mio.PrefetchingIter([first, second], rename_data=[{"data": "data_1"},
                                                           {"data": "data_2"}])
    try:
        assert [d.name for d in it.provide_data] == ["data_1", "data_2"]
        assert it.batch_size == 25
        for _ in range(2):
            batches = list(it)
            assert len(batches) == 4
            for k, b in enumerate(batches):
                assert float(b.data[0][0, 0]) == 25 * k and float(b.data[1][0, 0]) == -25 * k
                assert float(b.label[0][0]) == 25 * k and b.pad == 0
            it.reset()
    finally:
        it.close()


def test_prefetching_iter_reports_mismatches_and_errors():
    it = mio.PrefetchingIter([mio.NDArrayIter(np.ones((4, 1)), batch_size=2),
                              mio.NDArrayIter(np.ones((6, 1)), batch_size=2)])
    try:
        it.next(), it.next()
        with pytest.raises(ValueError, match="different numbers of batches"):
            it.next()
    finally:
        it.close()

    class Failing(mio.DataIter):
        provide_data = [mio.DataDesc("data", (2, 1))]
        provide_label = []

        def next(self):
            raise OSError("disk gone")

    failing = mio.PrefetchingIter(Failing(2))
    try:
        with pytest.raises(OSError, match="disk gone"):
            failing.next()
    finally:
        failing.close()


def test_data_iter_protocol_and_descriptors():
    class Countdown(mio.DataIter):
        def __init__(self):
            super().__init__(batch_size=1)
            self.left = 3

        def reset(self):
            self.left = 3

        def iter_next(self):
            self.left -= 1
            return self.left >= 0

        def getdata(self):
            return [mx.np.array([self.left])]

        def getlabel(self):
            return None

    it = Countdown()
    assert [int(b.data[0][0]) for b in it] == [2, 1, 0]
    it.reset()
    assert it.next().pad == 0 and it.next().index is None
    with pytest.raises(NotImplementedError, match="must implement iter_next"):
        mio.DataIter().next()
    desc = mio.DataDesc("data", (2, 3), layout="NTC")
    assert desc == ("data", (2, 3)) and desc.layout == "NTC"
    assert mio.DataDesc.get_batch_axis("TNC") == 1 and mio.DataDesc.get_batch_axis(None) == 0
    assert [d.dtype for d in mio.DataDesc.get_list([("a", (1,))], [("a", np.int8)])] == [
        np.int8]
    with pytest.raises(TypeError, match="data must be a list"):
        mio.DataBatch(mx.np.ones(2))
