"""Vision datasets (``gluon.data.vision``) read from the standard files under a local
``root``: MNIST / FashionMNIST (idx-ubyte, gzipped or not), CIFAR-10 / CIFAR-100 (the binary
``.bin`` batches, as MXNet reads them; never pickles), a folder of images per class, and
RecordIO image records, and images named by an image list (``.lst``). Nothing is downloaded:
a missing file raises with its expected path.

Samples are ``(image, label)`` with the image an (H, W, C) uint8 ``mx.np`` array and the
label a numpy int32 (a float or float32 array for record files, a float32 ``mx.np`` array for
image lists), as in MXNet; ``transform(image, label)`` is applied when given."""
import gzip
import io
import os
import warnings

import numpy as _np

from .... import numpy as mnp
from ..dataset import Dataset, RecordFileDataset
from ....recordio import unpack

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "ImageFolderDataset",
           "ImageRecordDataset", "ImageListDataset", "imdecode"]


def imdecode(buf, flag=1):
    """Decode an encoded image (bytes or a path) into an (H, W, C) uint8 ``mx.np`` array:
    3 RGB channels with ``flag=1``, 1 gray channel with ``flag=0``. Needs Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("decoding images needs Pillow: pip install 'mxlite[vision]' "
                          "(or pip install pillow)") from None
    source = io.BytesIO(buf) if isinstance(buf, (bytes, bytearray, memoryview)) else buf
    with Image.open(source) as img:
        img = img.convert("RGB" if flag else "L")
        array = _np.asarray(img, dtype=_np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return mnp.array(array, dtype="uint8")


class _InMemory(Dataset):
    """Images and labels of the ``train`` or test split under ``root``, held as host numpy
    arrays."""

    def __init__(self, root, train, transform):
        self._root = os.path.expanduser(root)
        self._train = train
        self._transform = transform
        self._data, self._label = self._load()

    def __len__(self):
        return len(self._label)

    def __getitem__(self, idx):
        image, label = mnp.array(self._data[idx], dtype="uint8"), self._label[idx]
        if self._transform is not None:
            return self._transform(image, label)
        return image, label

    def _take_rows(self, indices):
        """A whole untransformed batch in one indexing step (the DataLoader's fast path)."""
        if self._transform is not None:
            return None
        return self._data[indices], self._label[indices]


def _find(root, name):
    """``root/name``, or the same without ``.gz`` when only the uncompressed file is there."""
    path = os.path.join(root, name)
    if os.path.isfile(path):
        return path
    if name.endswith(".gz") and os.path.isfile(path[:-3]):
        return path[:-3]
    raise FileNotFoundError(f"{path} not found: mxlite does not download data sets; put the "
                            f"standard file there (or pass root=)")


def _read_idx(path, magic):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise ValueError(f"{path} is not an idx-ubyte file of this kind: magic {found} "
                         f"(expected {magic})")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    data = _np.frombuffer(raw, dtype=_np.uint8, offset=4 + 4 * ndim)
    if data.size != int(_np.prod(shape)):
        raise ValueError(f"{path}: header promises shape {shape}, file holds {data.size} bytes")
    return data.reshape(shape)


class MNIST(_InMemory):
    """MNIST digits: (28, 28, 1) uint8 images, int32 labels, from the four idx-ubyte files
    (``train-images-idx3-ubyte.gz`` ...) in ``root``."""

    _files = {True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
              False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

    def __init__(self, root=os.path.join("~", ".mxnet", "datasets", "mnist"), train=True,
                 transform=None):
        super().__init__(root, train, transform)

    def _load(self):
        images, labels = self._files[self._train]
        label = _read_idx(_find(self._root, labels), 0x801).astype(_np.int32)
        data = _read_idx(_find(self._root, images), 0x803)
        if len(data) != len(label):
            raise ValueError(f"{self._root}: {len(data)} images but {len(label)} labels")
        return data[:, :, :, None], label


class FashionMNIST(MNIST):
    """Fashion-MNIST: MNIST's file names and format, clothing classes."""

    def __init__(self, root=os.path.join("~", ".mxnet", "datasets", "fashion-mnist"),
                 train=True, transform=None):
        super().__init__(root, train, transform)


class CIFAR10(_InMemory):
    """CIFAR-10: (32, 32, 3) uint8 images, int32 labels, from the binary batches
    ``root/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin`` (records of one label
    byte and 3072 channel-major pixel bytes)."""

    _folder = "cifar-10-batches-bin"
    _label_bytes = 1

    def __init__(self, root=os.path.join("~", ".mxnet", "datasets", "cifar10"), train=True,
                 transform=None):
        super().__init__(root, train, transform)

    def _names(self):
        if self._train:
            return [f"data_batch_{i}.bin" for i in range(1, 6)]
        return ["test_batch.bin"]

    def _label_column(self):
        return 0

    def _load(self):
        record = self._label_bytes + 3 * 32 * 32
        data, label = [], []
        for name in self._names():
            path = _find(os.path.join(self._root, self._folder), name)
            raw = _np.fromfile(path, dtype=_np.uint8)
            if raw.size % record:
                raise ValueError(f"{path}: {raw.size} bytes is not a whole number of "
                                 f"{record}-byte CIFAR records")
            raw = raw.reshape(-1, record)
            label.append(raw[:, self._label_column()].astype(_np.int32))
            data.append(raw[:, self._label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        return _np.ascontiguousarray(_np.concatenate(data)), _np.concatenate(label)


class CIFAR100(CIFAR10):
    """CIFAR-100 from ``root/cifar-100-binary/{train,test}.bin`` (a coarse and a fine label
    byte per record); ``fine_label`` picks the 100 fine classes over the 20 coarse ones."""

    _folder = "cifar-100-binary"
    _label_bytes = 2

    def __init__(self, root=os.path.join("~", ".mxnet", "datasets", "cifar100"),
                 fine_label=False, train=True, transform=None):
        self._fine_label = fine_label
        super().__init__(root, train, transform)

    def _names(self):
        return ["train.bin" if self._train else "test.bin"]

    def _label_column(self):
        return 1 if self._fine_label else 0


class ImageFolderDataset(Dataset):
    """Images in one sub-folder per class (``root/car/0001.jpg``): ``synsets`` are the sorted
    folder names, a label is its folder's index. ``flag`` 1 decodes RGB, 0 gray; files
    without an image extension (``.jpg``, ``.jpeg``, ``.png`` by default) are skipped with a
    warning."""

    def __init__(self, root, flag=1, transform=None, exts=(".jpg", ".jpeg", ".png")):
        self._root = os.path.expanduser(root)
        if not os.path.isdir(self._root):
            raise FileNotFoundError(f"ImageFolderDataset: {self._root} is not a directory")
        self._flag = flag
        self._transform = transform
        self._exts = tuple(e.lower() for e in exts)
        self.synsets, self.items = [], []
        for folder in sorted(os.listdir(self._root)):
            path = os.path.join(self._root, folder)
            if not os.path.isdir(path):
                warnings.warn(f"Ignoring {path}, which is not a directory.", stacklevel=2)
                continue
            label = len(self.synsets)
            self.synsets.append(folder)
            for name in sorted(os.listdir(path)):
                if os.path.splitext(name)[1].lower() not in self._exts:
                    warnings.warn(f"Ignoring {os.path.join(path, name)} of type "
                                  f"{os.path.splitext(name)[1]!r}: only {self._exts} are "
                                  f"read.", stacklevel=2)
                    continue
                self.items.append((os.path.join(path, name), label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        path, label = self.items[idx]
        image = imdecode(path, self._flag)
        if self._transform is not None:
            return self._transform(image, label)
        return image, label


class ImageRecordDataset(RecordFileDataset):
    """Encoded images packed with ``recordio.pack`` in a ``.rec`` file (as im2rec makes):
    samples are the decoded image and the header's label (a float, or a float32 array for
    several labels)."""

    def __init__(self, filename, flag=1, transform=None):
        super().__init__(filename)
        self._flag = flag
        self._transform = transform

    def __getitem__(self, idx):
        header, encoded = unpack(super().__getitem__(idx))
        image = imdecode(encoded, self._flag)
        if self._transform is not None:
            return self._transform(image, header.label)
        return image, header.label


class ImageListDataset(Dataset):
    """Images named by an image list, each with a float32 label array, as MXNet's.

    ``imglist`` is the name of a ``.lst`` file under ``root`` (im2rec's format: per line
    ``index<TAB>label[<TAB>label...]<TAB>path``) or a list of entries ``[label, path]``,
    ``[[label, ...], path]`` or ``[label, label, ..., path]``; image paths are relative to
    ``root``. Samples are the decoded image (``flag`` 1 RGB, 0 gray) and the entry's labels
    as a 1-d float32 ``mx.np`` array (length 1 for one label)."""

    def __init__(self, root=".", imglist=None, flag=1):
        self._root = os.path.expanduser(root)
        self._flag = flag
        self.items = []
        if isinstance(imglist, str):
            self._read_list_file(os.path.join(self._root, imglist))
        elif isinstance(imglist, (list, tuple)):
            for i, entry in enumerate(imglist):
                self.items.append(self._entry(entry, i))
        else:
            raise ValueError(f"ImageListDataset: imglist must be a .lst file name or a list of "
                             f"[label(s)..., path] entries, got {type(imglist).__name__}")

    def _read_list_file(self, path):
        with open(path, "rt") as f:
            for lineno, line in enumerate(f, start=1):
                fields = line.strip().split("\t")
                if fields == [""]:
                    continue
                if len(fields) < 2:
                    raise ValueError(f"{path}, line {lineno}: expected index<TAB>label(s)<TAB>"
                                     f"path, got {line.strip()!r}")
                try:
                    label = _np.array(fields[1:-1], dtype=_np.float32)
                except ValueError:
                    raise ValueError(f"{path}, line {lineno}: labels {fields[1:-1]} are not "
                                     f"numbers") from None
                self.items.append((os.path.join(self._root, fields[-1]), label))

    def _entry(self, entry, i):
        if not isinstance(entry, (list, tuple)) or len(entry) < 2 \
                or not isinstance(entry[-1], str):
            raise ValueError(f"ImageListDataset: imglist[{i}] must be [label(s)..., path] "
                             f"with the path last, got {entry!r}")
        labels = entry[:-1] if len(entry) > 2 else entry[0]
        label = _np.array(labels, dtype=_np.float32).reshape(-1)
        return os.path.join(self._root, entry[-1]), label

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        path, label = self.items[idx]
        return imdecode(path, self._flag), mnp.array(label, dtype="float32")
