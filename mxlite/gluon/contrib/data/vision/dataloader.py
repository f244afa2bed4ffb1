"""Image DataLoaders with built-in augmentation (MXNet 2.x's ``gluon.contrib.data.vision``):
``ImageDataLoader`` for classification, ``ImageBboxDataLoader`` for detection, and the
augmenter builders they use by default, ``create_image_augment`` / ``create_bbox_augment``.

Images come from a RecordIO file (``path_imgrec``), a ``.lst`` image list (``path_imglist``
under ``path_root``) or an ``imglist``; ``num_parts`` > 1 keeps the ``part_index``-th of that
many contiguous shards (for distributed training); the rest of the arguments are
``DataLoader``'s. Batches are ``(data, label)``: data (N, C, H, W) float32 from the
augmenter, labels of the loader's ``dtype``.

Where MXNet's code and its documentation disagree, the documentation wins: ``mean`` and
``std`` are pixel values, so the output is ``(pixel - mean) / std`` (MXNet applies them after
scaling pixels to [0, 1]); ``resize`` resizes the shorter edge (MXNet squashes to a square);
``dtype`` is the label dtype (MXNet checks it, then ignores it)."""
import numpy as _np

from ..... import numpy as mnp
from .....ndarray import ndarray
from ....block import Block, HybridBlock
from ....nn import HybridSequential, Sequential
from ....data import DataLoader, Dataset
from ....data.batchify import Group, Pad, Stack
from ....data.vision import transforms
from ....data.vision.datasets import ImageListDataset, ImageRecordDataset
from .transforms import bbox

__all__ = ["create_image_augment", "ImageDataLoader", "create_bbox_augment",
           "ImageBboxDataLoader", "BboxLabelTransform", "LoaderArgumentError"]

_LABEL_DTYPES = ("int32", "float32", "int64", "float64")
_IMAGENET_MEAN = (123.68, 116.28, 103.53)
_IMAGENET_STD = (58.395, 57.12, 57.375)


class LoaderArgumentError(ValueError, AssertionError):
    """A bad loader or augmenter argument: a ValueError, and an AssertionError as MXNet
    raises."""


def _pick_interpolation(inter_method):
    """10 draws one of OpenCV's codes 0-4, as MXNet does; others pass through."""
    return _np.random.randint(0, 5) if inter_method == 10 else inter_method


def _stats(value, default, name):
    """``True``: ImageNet's pixel statistics; a sequence: as given; None: None."""
    if value is True:
        return default
    if value is not None and not isinstance(value, (tuple, list, _np.ndarray)):
        raise LoaderArgumentError(f"{name} must be True, None or per-channel pixel values "
                                  f"(a tuple or list), got {value!r}")
    return value


def _finish(augmenter, mean, std, dtype):
    """ToTensor, then ``(pixel - mean) / std`` when either is given, then the cast."""
    mean = _stats(mean, _IMAGENET_MEAN, "mean")
    std = _stats(std, _IMAGENET_STD, "std")
    augmenter.add(transforms.ToTensor())
    if mean is not None or std is not None:
        # ToTensor divided by 255, so the pixel statistics are too
        augmenter.add(transforms.Normalize(
            _np.asarray(0.0 if mean is None else mean, dtype=_np.float64) / 255.0,
            _np.asarray(1.0 if std is None else std, dtype=_np.float64) / 255.0))
    augmenter.add(transforms.Cast(dtype))
    return augmenter


def _color(augmenter, brightness, contrast, saturation, hue, pca_noise, rand_gray):
    if brightness or contrast or saturation or hue:
        augmenter.add(transforms.RandomColorJitter(brightness, contrast, saturation, hue))
    if pca_noise > 0:
        augmenter.add(transforms.RandomLighting(pca_noise))
    if rand_gray > 0:
        augmenter.add(transforms.RandomGray(rand_gray))


def create_image_augment(data_shape, resize=0, rand_crop=False, rand_resize=False,
                         rand_mirror=False, mean=None, std=None, brightness=0, contrast=0,
                         saturation=0, hue=0, pca_noise=0, rand_gray=0, inter_method=2,
                         dtype="float32"):
    """The classification augmenter: a Sequential taking an (H, W, 3) image to a (C, H, W)
    ``dtype`` tensor of ``data_shape`` = (C, H, W).

    In order: shorter edge resized to ``resize`` (when > 0); a crop to the output size,
    random-area (``rand_resize``, needs ``rand_crop``), random (``rand_crop``) or central;
    a random mirror (``rand_mirror``); colour jitter (``brightness``, ``contrast``,
    ``saturation``, ``hue``), PCA lighting noise (``pca_noise``) and gray with probability
    ``rand_gray``; ToTensor; ``(pixel - mean) / std`` when given (``True``: ImageNet's
    statistics). ``inter_method`` is OpenCV's interpolation code (0-4; 10 picks one at random
    once)."""
    if rand_resize and not rand_crop:
        raise LoaderArgumentError("create_image_augment: rand_resize=True needs rand_crop=True")
    inter_method = _pick_interpolation(inter_method)
    augmenter = Sequential()
    if resize > 0:
        augmenter.add(transforms.Resize(int(resize), keep_ratio=True,
                                        interpolation=inter_method))
    crop_size = (data_shape[2], data_shape[1])
    if rand_resize:
        augmenter.add(transforms.RandomResizedCrop(crop_size, interpolation=inter_method))
    elif rand_crop:
        augmenter.add(transforms.RandomCrop(crop_size, interpolation=inter_method))
    else:
        augmenter.add(transforms.CenterCrop(crop_size, interpolation=inter_method))
    if rand_mirror:
        augmenter.add(transforms.RandomFlipLeftRight(0.5))
    augmenter.add(transforms.Cast())
    _color(augmenter, brightness, contrast, saturation, hue, pca_noise, rand_gray)
    return _finish(augmenter, mean, std, dtype)


def create_bbox_augment(data_shape, rand_crop=0, rand_pad=0, rand_gray=0, rand_mirror=False,
                        mean=None, std=None, brightness=0, contrast=0, saturation=0,
                        pca_noise=0, hue=0, inter_method=2, max_aspect_ratio=2,
                        area_range=(0.3, 3.0), max_attempts=50, pad_val=(127, 127, 127),
                        dtype="float32"):
    """The detection augmenter: a Sequential taking ``(image, bbox)`` to a (C, H, W)
    ``dtype`` tensor of ``data_shape`` and the boxes moved with it.

    In order: with probability ``rand_crop`` SSD's constrained random crop (scale from
    ``area_range[0]`` to 1, aspect ratio within ``max_aspect_ratio``, ``max_attempts`` per
    constraint); a random mirror (``rand_mirror``); with probability ``rand_pad`` an
    expansion onto a canvas up to ``area_range[1]`` times larger filled with ``pad_val``
    pixels; a resize to the output size; then the colour, ToTensor and ``mean`` / ``std``
    steps of ``create_image_augment``, which pass the boxes through. The final cast applies
    to the boxes too, as in MXNet."""
    inter_method = _pick_interpolation(inter_method)
    augmenter = Sequential()
    if rand_crop > 0:
        augmenter.add(bbox.ImageBboxRandomCropWithConstraints(
            p=rand_crop, min_scale=area_range[0], max_scale=1.0,
            max_aspect_ratio=max_aspect_ratio, max_trial=max_attempts))
    if rand_mirror:
        augmenter.add(bbox.ImageBboxRandomFlipLeftRight(0.5))
    if rand_pad > 0:
        augmenter.add(bbox.ImageBboxRandomExpand(p=rand_pad, max_ratio=area_range[1],
                                                 fill=pad_val))
    augmenter.add(bbox.ImageBboxResize(data_shape[2], data_shape[1], interp=inter_method))
    _color(augmenter, brightness, contrast, saturation, hue, pca_noise, rand_gray)
    return _finish(augmenter, mean, std, dtype)


class BboxLabelTransform(Block):
    """A detection label as MXNet's im2rec packs it, flat ``[header_len, label_width,
    (header extras), id, xmin, ymin, xmax, ymax, (extras), id, ...]``, to an (N,
    label_width) array ``(xmin, ymin, xmax, ymax, id, extras...)``; with
    ``coord_normalized`` the corners are fractions of the image and are scaled to pixels."""

    def __init__(self, coord_normalized=True):
        super().__init__()
        self._coord_normalized = coord_normalized

    def forward(self, img, label):
        label = _np.array(label.asnumpy() if isinstance(label, ndarray) else label,
                          dtype=_np.float64).reshape(-1)
        if label.size < 2:
            raise ValueError(f"a detection label starts with [header_len, label_width], got "
                             f"{label.tolist()}")
        header_len, label_width = int(label[0]), int(label[1])
        if label_width < 5:
            raise ValueError(f"Label info for each object should >= 5, given {label_width}")
        if len(label) < header_len + 5:
            raise ValueError(f"Expected label length >= {header_len + 5}, got {len(label)}")
        if (len(label) - header_len) % label_width:
            raise ValueError(f"Broken label of size {len(label)}, cannot reshape into "
                             f"(N, {label_width}) if header length {header_len} is excluded")
        objects = label[header_len:].reshape(-1, label_width)
        boxes = _np.concatenate([objects[:, 1:5], objects[:, :1], objects[:, 5:]], axis=1)
        if self._coord_normalized:
            boxes[:, [0, 2]] *= img.shape[1]
            boxes[:, [1, 3]] *= img.shape[0]
        return img, mnp.array(boxes)


class _Shard(Dataset):
    """The ``index``-th of ``num_shards`` contiguous shards of ``dataset``, read lazily
    (sizes differ by at most one, the first ones larger, as ``Dataset.shard``)."""

    def __init__(self, dataset, num_shards, index):
        if not 0 <= index < num_shards:
            raise LoaderArgumentError(f"part_index {index} out of range for num_parts "
                                      f"{num_shards}")
        each, extra = divmod(len(dataset), num_shards)
        self._start = index * each + min(index, extra)
        self._len = each + (1 if index < extra else 0)
        self._dataset = dataset

    def __len__(self):
        return self._len

    def __getitem__(self, idx):
        if not -self._len <= idx < self._len:
            raise IndexError(f"index {idx} out of range for a shard of {self._len}")
        return self._dataset[self._start + idx % self._len]


class _Augment:
    """The per-sample step: augment the image (or ``(image, label)`` when ``pairs``), then
    make the label a ``dtype`` array. A class, not a closure, so worker processes can take
    it."""

    def __init__(self, augmenter, dtype, pairs):
        self._augmenter = augmenter
        self._dtype = dtype
        self._pairs = pairs

    def __call__(self, img, label):
        if self._pairs:
            img, label = self._augmenter(img, label)
        else:
            img = self._augmenter(img)
        label = label.asnumpy() if isinstance(label, ndarray) else _np.asarray(label)
        return img, mnp.array(label.astype(self._dtype), dtype=self._dtype)


class _Loader:
    """What both loaders share: the source, sharding, the augmenter and the DataLoader."""

    def __init__(self, batch_size, data_shape, path_imgrec, path_imglist, path_root,
                 part_index, num_parts, aug_list, imglist, dtype, loader_kwargs, aug_kwargs):
        try:
            dtype = _np.dtype(dtype).name
        except TypeError:
            pass
        if dtype not in _LABEL_DTYPES:
            raise LoaderArgumentError(f"{dtype} label not supported: dtype must be one of "
                                      f"{_LABEL_DTYPES}")
        name = type(self).__name__
        if path_imgrec:
            dataset = ImageRecordDataset(path_imgrec, flag=1)
        elif path_imglist:
            dataset = ImageListDataset(path_root, path_imglist, flag=1)
        elif isinstance(imglist, list):
            dataset = ImageListDataset(path_root, imglist, flag=1)
        else:
            raise LoaderArgumentError(f"{name}: give path_imgrec (a .rec file), path_imglist "
                                      f"(a .lst file) or imglist (a list of [label(s)..., "
                                      f"path])")
        if num_parts > 1:
            dataset = _Shard(dataset, num_parts, part_index)
        if aug_list is None:
            augmenter = type(self)._default_augment(data_shape, **aug_kwargs)
        elif isinstance(aug_list, list):
            hybrid = all(isinstance(a, HybridBlock) for a in aug_list)
            augmenter = (HybridSequential if hybrid else Sequential)()
            augmenter.add(*aug_list)
        elif isinstance(aug_list, Block):
            augmenter = aug_list
        else:
            raise LoaderArgumentError(f"{name}: aug_list must be a list of Blocks or a Block, "
                                      f"got {type(aug_list).__name__}")
        augmenter.hybridize()
        self._iter = DataLoader(dataset.transform(self._sample_fn(augmenter, dtype)),
                                batch_size=batch_size, **loader_kwargs)

    def __iter__(self):
        return iter(self._iter)

    def __len__(self):
        return len(self._iter)


class ImageDataLoader(_Loader):
    """Batches ``(data, label)`` of augmented images for classification.

    ``data_shape`` is the (C, H, W) of the output images (3 channels). Without ``aug_list``
    (a Block, or a list of Blocks run in order) the augmenter is
    ``create_image_augment(data_shape, **kwargs)``. Labels are ``dtype`` (int32, float32,
    int64 or float64): shape (N,) from a record file with one label per image, (N, k) from
    an image list with k labels."""

    _default_augment = staticmethod(create_image_augment)

    def __init__(self, batch_size, data_shape, path_imgrec=None, path_imglist=None,
                 path_root=".", part_index=0, num_parts=1, aug_list=None, imglist=None,
                 dtype="float32", shuffle=False, sampler=None, last_batch=None,
                 batch_sampler=None, batchify_fn=None, num_workers=0, pin_memory=False,
                 pin_device_id=0, prefetch=None, thread_pool=False, timeout=120,
                 try_nopython=None, **kwargs):
        loader_kwargs = dict(shuffle=shuffle, sampler=sampler, last_batch=last_batch,
                             batch_sampler=batch_sampler, batchify_fn=batchify_fn,
                             num_workers=num_workers, pin_memory=pin_memory,
                             pin_device_id=pin_device_id, prefetch=prefetch,
                             thread_pool=thread_pool, timeout=timeout, try_nopython=try_nopython)
        super().__init__(batch_size, data_shape, path_imgrec, path_imglist, path_root,
                         part_index, num_parts, aug_list, imglist, dtype, loader_kwargs, kwargs)

    @staticmethod
    def _sample_fn(augmenter, dtype):
        return _Augment(augmenter, dtype, pairs=False)


class ImageBboxDataLoader(_Loader):
    """Batches ``(data, bbox)`` for detection: data (N, C, H, W), bbox (N, M, label_width)
    rows ``(xmin, ymin, xmax, ymax, id, extras...)`` in output pixels, padded with -1 rows for
    images with fewer than M objects (``batchify_fn`` defaults to ``Group(Stack(),
    Pad(val=-1))``).

    Labels are read in im2rec's detection layout (``BboxLabelTransform``; corners as
    fractions of the image with ``coord_normalized``, else pixels) and the augmenter,
    ``create_bbox_augment(data_shape, **kwargs)`` without ``aug_list``, is called as
    ``augmenter(image, bbox)``. ``dtype`` is the boxes' dtype."""

    _default_augment = staticmethod(create_bbox_augment)

    def __init__(self, batch_size, data_shape, path_imgrec=None, path_imglist=None,
                 path_root=".", part_index=0, num_parts=1, aug_list=None, imglist=None,
                 coord_normalized=True, dtype="float32", shuffle=False, sampler=None,
                 last_batch=None, batch_sampler=None, batchify_fn=None, num_workers=0,
                 pin_memory=False, pin_device_id=0, prefetch=None, thread_pool=False,
                 timeout=120, try_nopython=None, **kwargs):
        self._coord_normalized = coord_normalized
        if batchify_fn is None:
            batchify_fn = Group(Stack(), Pad(val=-1))
        loader_kwargs = dict(shuffle=shuffle, sampler=sampler, last_batch=last_batch,
                             batch_sampler=batch_sampler, batchify_fn=batchify_fn,
                             num_workers=num_workers, pin_memory=pin_memory,
                             pin_device_id=pin_device_id, prefetch=prefetch,
                             thread_pool=thread_pool, timeout=timeout, try_nopython=try_nopython)
        super().__init__(batch_size, data_shape, path_imgrec, path_imglist, path_root,
                         part_index, num_parts, aug_list, imglist, dtype, loader_kwargs, kwargs)

    def _sample_fn(self, augmenter, dtype):
        wrapper = Sequential()
        wrapper.add(BboxLabelTransform(self._coord_normalized), augmenter)
        return _Augment(wrapper, dtype, pairs=True)
