"""gluon.data.vision datasets on tiny files written here in the standard formats, the
RecordIO reader/writer, and the samplers MXNet has."""
import gzip
import io
import os
import pickle

import numpy as np
import pytest

import mxlite as mx
from mxlite import recordio
from mxlite.gluon import data as gdata
from mxlite.gluon.data import vision


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("klass", [vision.MNIST, vision.FashionMNIST])
def test_mnist_reads_idx_ubyte_gz(tmp_path, klass):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, 0x803)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 0x801)
    ds = klass(root=str(tmp_path), train=False)
    assert len(ds) == 5
    image, label = ds[2]
    assert isinstance(image, mx.np.ndarray) and image.shape == (28, 28, 1)
    assert image.dtype == np.uint8 and label.dtype == np.int32 and label == 4
    np.testing.assert_array_equal(image.asnumpy()[:, :, 0], images[2])
    x, y = next(iter(gdata.DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 28, 28, 1) and y.asnumpy().tolist() == [3, 1, 4, 1]
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte.gz.*does not download"):
        klass(root=str(tmp_path), train=True)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, 0x801)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, 0x801)
    with pytest.raises(ValueError, match="magic 2049.*expected 2051"):
        klass(root=str(tmp_path), train=True)


def _cifar_records(labels, images):
    return np.concatenate([np.asarray(labels, np.uint8).reshape(len(images), -1),
                           images.transpose(0, 3, 1, 2).reshape(len(images), -1)], axis=1)


def test_cifar10_reads_binary_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.RandomState(1)
    images = rng.randint(0, 256, (3, 32, 32, 3)).astype(np.uint8)  # H, W, C
    _cifar_records([7, 0, 9], images).tofile(folder / "test_batch.bin")
    ds = vision.CIFAR10(root=str(tmp_path), train=False)
    assert len(ds) == 3
    image, label = ds[0]
    assert image.shape == (32, 32, 3) and label == 7
    np.testing.assert_array_equal(image.asnumpy(), images[0])
    ds = vision.CIFAR10(root=str(tmp_path), train=False,
                        transform=lambda x, y: (x.astype("float32") / 255, y + 1))
    assert ds[2][1] == 10 and ds[2][0].dtype == np.float32
    with pytest.raises(FileNotFoundError, match="data_batch_1.bin"):
        vision.CIFAR10(root=str(tmp_path))
    with open(folder / "test_batch.bin", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="whole number of 3073-byte"):
        vision.CIFAR10(root=str(tmp_path), train=False)


def test_cifar100_coarse_and_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    images = np.zeros((2, 32, 32, 3), np.uint8)
    images[1, 0, 0] = (1, 2, 3)
    _cifar_records([[4, 40], [19, 99]], images).tofile(folder / "train.bin")
    coarse = vision.CIFAR100(root=str(tmp_path))
    fine = vision.CIFAR100(root=str(tmp_path), fine_label=True)
    assert [coarse[i][1] for i in range(2)] == [4, 19]
    assert [fine[i][1] for i in range(2)] == [40, 99]
    np.testing.assert_array_equal(fine[1][0].asnumpy()[0, 0], [1, 2, 3])


def test_recordio_round_trip_with_magic_inside_and_index(tmp_path):
    rec, idx = str(tmp_path / "d.rec"), str(tmp_path / "d.idx")
    magic = (0xced7230a).to_bytes(4, "little")
    payloads = [b"", b"abc", b"abcd" + magic + b"xy" + magic, magic, b"z" * 1001]
    writer = recordio.MXRecordIO(rec, "w")
    for p in payloads:
        writer.write(p)
    writer.close()
    reader = recordio.MXRecordIO(rec, "r")
    assert [reader.read() for _ in payloads] == payloads and reader.read() is None
    reader.reset()
    assert reader.read() == b""
    reader.close()
    assert os.path.getsize(rec) % 4 == 0

    writer = recordio.MXIndexedRecordIO(idx, rec, "w")
    for key, p in zip([10, 20, 30], payloads[1:4]):
        writer.write_idx(key, p)
    writer.close()
    reader = recordio.MXIndexedRecordIO(idx, rec, "r")
    assert reader.keys == [10, 20, 30]
    assert reader.read_idx(30) == magic and reader.read_idx(10) == b"abc"
    with pytest.raises(KeyError, match="40"):
        reader.read_idx(40)
    clone = pickle.loads(pickle.dumps(reader))
    assert clone.read_idx(20) == payloads[2]
    with open(rec, "r+b") as f:
        f.write(b"\0\0\0\0")
    with pytest.raises(ValueError, match="invalid RecordIO magic 0x00000000 at byte 0"):
        recordio.MXRecordIO(rec, "r").read()


def test_irheader_pack_unpack():
    s = recordio.pack(recordio.IRHeader(0, 3.0, 7, 0), b"payload")
    header, rest = recordio.unpack(s)
    assert header == recordio.IRHeader(0, 3.0, 7, 0) and rest == b"payload"
    s = recordio.pack(recordio.IRHeader(0, [1.5, 2.5], 8, 0), b"img")
    header, rest = recordio.unpack(s)
    assert header.flag == 2 and rest == b"img"
    np.testing.assert_array_equal(header.label, np.array([1.5, 2.5], np.float32))


def _png(array):
    PIL = pytest.importorskip("PIL.Image", reason="Pillow is not installed (mxlite[vision])")
    buf = io.BytesIO()
    PIL.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_image_folder_dataset(tmp_path):
    red = np.zeros((4, 5, 3), np.uint8)
    red[..., 0] = 255
    for cls, n in (("cat", 2), ("dog", 1)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            (tmp_path / cls / f"{i}.png").write_bytes(_png(red))
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / "README").write_text("not a class")
    with pytest.warns(UserWarning, match="Ignoring"):
        ds = vision.ImageFolderDataset(str(tmp_path))
    assert ds.synsets == ["cat", "dog"] and len(ds) == 3
    image, label = ds[2]
    assert label == 1 and image.shape == (4, 5, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image.asnumpy(), red)
    with pytest.warns(UserWarning):
        gray = vision.ImageFolderDataset(str(tmp_path), flag=0)
    assert gray[0][0].shape == (4, 5, 1)
    assert int(gray[0][0].asnumpy()[0, 0, 0]) == 76  # ITU-R 601 luma of pure red


def test_image_record_dataset(tmp_path):
    rec, idx = str(tmp_path / "imgs.rec"), str(tmp_path / "imgs.idx")
    rng = np.random.RandomState(2)
    images = [rng.randint(0, 256, (3, 4, 3)).astype(np.uint8) for _ in range(3)]
    writer = recordio.MXIndexedRecordIO(idx, rec, "w")
    for i, img in enumerate(images):
        writer.write_idx(i, recordio.pack(recordio.IRHeader(0, float(i * 2), i, 0), _png(img)))
    writer.close()
    ds = vision.ImageRecordDataset(rec)
    assert len(ds) == 3
    image, label = ds[1]
    assert label == 2.0
    np.testing.assert_array_equal(image.asnumpy(), images[1])
    raw = gdata.RecordFileDataset(rec)
    assert recordio.unpack(raw[2])[0].id == 2
    for workers in (0, 2):  # forked workers read through their own file descriptors
        loader = gdata.DataLoader(ds, batch_size=1, num_workers=workers)
        for i, (x, y) in enumerate(loader):
            assert x.shape == (1, 3, 4, 3) and float(y.asnumpy()[0]) == 2.0 * i
            np.testing.assert_array_equal(x.asnumpy()[0], images[i])


def test_filter_and_interval_samplers():
    ds = gdata.SimpleDataset(list(range(10)))
    sampler = gdata.FilterSampler(lambda x: x % 3 == 0, ds)
    assert list(sampler) == [0, 3, 6, 9] and len(sampler) == 4
    assert list(gdata.IntervalSampler(7, 3)) == [0, 3, 6, 1, 4, 2, 5]
    no_roll = gdata.IntervalSampler(7, 3, rollover=False)
    assert list(no_roll) == [0, 3, 6] and len(no_roll) == 3
    assert len(gdata.IntervalSampler(7, 3)) == 7
    with pytest.raises(ValueError, match="Interval 0"):
        gdata.IntervalSampler(7, 0)


def test_batch_sampler_last_batch_modes():
    seq = gdata.SequentialSampler(7)
    assert list(gdata.BatchSampler(seq, 3, "keep")) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(gdata.BatchSampler(seq, 3, "discard")) == [[0, 1, 2], [3, 4, 5]]
    roll = gdata.BatchSampler(seq, 3, "rollover")
    assert list(roll) == [[0, 1, 2], [3, 4, 5]] and len(roll) == 2
    assert len(roll) == 2  # one carried over: (1 + 7) // 3
    assert list(roll) == [[6, 0, 1], [2, 3, 4]]
    assert list(gdata.BatchSampler(gdata.IntervalSampler(4, 2), 2)) == [[0, 2], [1, 3]]


def test_dataloader_sampler_options_are_exclusive():
    ds = gdata.SimpleDataset(list(range(6)))
    batches = gdata.BatchSampler(gdata.SequentialSampler(6), 4, "keep")
    loader = gdata.DataLoader(ds, batch_sampler=batches)
    assert [b.asnumpy().tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]
    for extra in ({"batch_size": 2}, {"shuffle": True}, {"last_batch": "keep"},
                  {"sampler": gdata.SequentialSampler(6)}):
        with pytest.raises(ValueError, match="must not be specified if batch_sampler"):
            gdata.DataLoader(ds, batch_sampler=batches, **extra)
    with pytest.raises(ValueError, match="shuffle must not be specified if sampler"):
        gdata.DataLoader(ds, batch_size=2, shuffle=True, sampler=gdata.SequentialSampler(6))
    with pytest.raises(ValueError, match="batch_size must be specified"):
        gdata.DataLoader(ds)
    loader = gdata.DataLoader(ds, batch_size=4, sampler=gdata.IntervalSampler(6, 2),
                              pin_memory=True, prefetch=1, timeout=5, last_batch="discard",
                              try_nopython=False, auto_reload=True)
    assert [b.asnumpy().tolist() for b in loader] == [[0, 2, 4, 1]]


def test_batchify_documented_examples():
    from mxlite.gluon.data import batchify
    stacked = batchify.Stack()([[1, 2, 3, 4], [4, 5, 6, 8], [8, 9, 1, 2]])
    assert isinstance(stacked, mx.np.ndarray) and stacked.shape == (3, 4)
    padded = batchify.Pad()([[1, 2, 3, 4], [4, 5, 6], [8, 2]])
    np.testing.assert_array_equal(padded.asnumpy(), [[1, 2, 3, 4], [4, 5, 6, 0], [8, 2, 0, 0]])
    padded = batchify.Pad(val=-1)([np.array([[1, 2, 3, 4], [5, 6, 7, 8]]),
                                   mx.np.array([[5, 8], [1, 2]])])
    np.testing.assert_array_equal(padded.asnumpy(), [[[1, 2, 3, 4], [5, 6, 7, 8]],
                                                     [[5, 8, -1, -1], [1, 2, -1, -1]]])
    assert batchify.Pad(round_to=4)([[1], [1, 2, 3, 4, 5]]).shape == (2, 8)
    appended = batchify.Append()([[1, 2, 3, 4], [4, 5, 6], [8, 2]])
    assert [a.shape for a in appended] == [(1, 4), (1, 3), (1, 2)]
    seqs, labels = batchify.Group(batchify.Pad(val=0), batchify.Stack())(
        [([1, 2, 3, 4], 0), ([5, 7], 1)])
    np.testing.assert_array_equal(seqs.asnumpy(), [[1, 2, 3, 4], [5, 7, 0, 0]])
    np.testing.assert_array_equal(labels.asnumpy(), [0, 1])
    _, text = batchify.Group([batchify.Stack(), batchify.AsList()])(
        [([1, 2], "I am using MXNet"), ([5, 7], "Gluon rocks!")])
    assert text == ["I am using MXNet", "Gluon rocks!"]
    with pytest.raises(ValueError, match="Pad"):
        batchify.Stack()([[1, 2], [1]])
    with pytest.raises(ValueError, match="2 fields"):
        batchify.Group(batchify.Stack(), batchify.Stack())([(1,), (2,)])
    loader = gdata.DataLoader(gdata.SimpleDataset([([1, 2, 3], 0), ([4], 1), ([5, 6], 0)]),
                              batch_size=3,
                              batchify_fn=batchify.Group(batchify.Pad(), batchify.Stack()))
    x, y = next(iter(loader))
    assert x.shape == (3, 3) and y.asnumpy().tolist() == [0, 1, 0]


class _Slow(gdata.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, idx):
        import time
        time.sleep(0.5)
        return idx


def test_dataloader_timeout_names_the_option():
    loader = gdata.DataLoader(_Slow(), batch_size=1, num_workers=1, thread_pool=True,
                              timeout=0.01)
    with pytest.raises(TimeoutError, match="timeout=0.01"):
        next(iter(loader))
