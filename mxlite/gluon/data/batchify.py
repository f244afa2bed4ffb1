"""Batchify functions (``gluon.data.batchify``) to pass as ``DataLoader(batchify_fn=...)``:
``Stack`` same-shape samples, ``Pad`` ragged ones to the largest shape, ``Append`` them as a
list, ``Group`` one function per sample field, ``AsList`` leave them as they are.
``use_shared_mem`` is accepted for MXNet's signatures; host memory is plain memory here."""
import math

import numpy as _np

from ... import numpy as mnp
from ...ndarray import ndarray

__all__ = ["Stack", "Pad", "Append", "Group", "AsList"]


def _host(x):
    return x.asnumpy() if isinstance(x, ndarray) else _np.asarray(x)


class Stack:
    """Stack samples of one shape (arrays, or lists of numbers) into an (N, ...) ``mx.np``
    array; tuple samples are fields, giving a list with one stacked array per field."""

    def __init__(self, use_shared_mem=False):
        self._use_shared_mem = use_shared_mem

    def __call__(self, data):
        if isinstance(data[0], tuple):
            return [self(list(field)) for field in zip(*data)]
        shapes = {_np.shape(_host(x)) for x in data}
        if len(shapes) > 1:
            raise ValueError(f"Stack needs samples of one shape, got {sorted(shapes)}; use "
                             f"Pad() for ragged samples")
        out = _np.stack([_host(x) for x in data])
        return mnp.array(out, dtype=out.dtype)


class Pad:
    """Pad every axis of each sample to the largest size in the batch (rounded up to a
    multiple of ``round_to``) with ``val`` (0 by default), then stack; ``dtype`` defaults to
    the samples'."""

    def __init__(self, val=None, dtype=None, round_to=None, use_shared_mem=False):
        self._val = 0 if val is None else val
        self._dtype = dtype
        self._round_to = round_to
        self._use_shared_mem = use_shared_mem

    def __call__(self, data):
        if isinstance(data[0], tuple):
            raise NotImplementedError("Pad() does not support multiple items, use "
                                      "Group(Pad(), Pad(), ...) instead")
        arrays = [_host(x) for x in data]
        if len({a.ndim for a in arrays}) > 1:
            raise ValueError(f"Pad needs samples of one rank, got shapes "
                             f"{[a.shape for a in arrays]}")
        shape = [max(a.shape[axis] for a in arrays) for axis in range(arrays[0].ndim)]
        if self._round_to is not None:
            shape = [self._round_to * math.ceil(s / self._round_to) for s in shape]
        dtype = self._dtype if self._dtype is not None else arrays[0].dtype
        out = _np.full((len(arrays),) + tuple(shape), self._val, dtype=dtype)
        for i, a in enumerate(arrays):
            out[(i,) + tuple(slice(0, s) for s in a.shape)] = a
        return mnp.array(out, dtype=out.dtype)


class Append:
    """A list of the samples as ``mx.np`` arrays, each with a new batch axis when
    ``expand``; samples may differ in shape."""

    def __init__(self, expand=True, batch_axis=0, use_shared_mem=False):
        self._expand = expand
        self._batch_axis = batch_axis
        self._use_shared_mem = use_shared_mem

    def __call__(self, data):
        out = [x if isinstance(x, ndarray) else mnp.array(_host(x)) for x in data]
        if self._expand:
            out = [mnp.expand_dims(x, axis=self._batch_axis) for x in out]
        return out


class Group:
    """Apply the ``i``-th function to the ``i``-th field of every sample: ``Group(Pad(),
    Stack())`` for (sequence, label) samples. Takes functions or one list of them."""

    def __init__(self, fn, *args):
        if isinstance(fn, (list, tuple)):
            if args:
                raise ValueError("Group takes Group(A, B, C) or Group([A, B, C]), not both")
            self._fn = tuple(fn)
        else:
            self._fn = (fn,) + args
        for i, f in enumerate(self._fn):
            if not callable(f):
                raise TypeError(f"Batchify functions must be callable; fn[{i}] is a "
                                f"{type(f).__name__}")

    def __call__(self, data):
        if len(data[0]) != len(self._fn):
            raise ValueError(f"each sample needs {len(self._fn)} fields for this Group, got "
                             f"{len(data[0])}")
        return tuple(f([sample[i] for sample in data]) for i, f in enumerate(self._fn))


class AsList:
    """The samples as a plain list (text fields, for example)."""

    def __call__(self, data):
        return list(data)
