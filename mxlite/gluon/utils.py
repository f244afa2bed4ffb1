"""Helpers for data-parallel training (``split_and_load``, ``clip_global_norm``), for the
fused RNN layers' parameter vector (``split_rnn_params``) and for fetching files
(``download``, ``check_sha1``)."""
import math
import warnings

from .. import numpy as np
from ..device import Device
from ..fileio import check_sha1, download  # noqa: F401 - gluon.utils names them
from ..ndarray import ndarray
from ..ops.rnn import split_rnn_params as _split_rnn_params

__all__ = ["split_data", "split_and_load", "clip_global_norm", "split_rnn_params", "check_sha1",
           "download"]


def split_data(data, num_slice, batch_axis=0, even_split=True):
    """Split ``data`` into ``num_slice`` slices along ``batch_axis``."""
    size = data.shape[batch_axis]
    if even_split and size % num_slice != 0:
        raise ValueError(
            f"data with shape {data.shape} cannot be evenly split into {num_slice} slices along "
            f"axis {batch_axis}. Use a batch size that's multiple of {num_slice} or set "
            "even_split=False to allow uneven partitioning of data.")
    if size < num_slice:
        raise ValueError(f"Too many slices for data with shape {data.shape}: {num_slice} slices "
                         f"of axis {batch_axis} need at least {num_slice} samples")
    return np.array_split(data, num_slice, axis=batch_axis)


def split_and_load(data, ctx_list, batch_axis=0, even_split=True):
    """Split ``data`` along ``batch_axis`` and put slice i on ``ctx_list[i]``."""
    if not isinstance(data, ndarray):
        data = np.array(data)
    devices = [Device(d) for d in (ctx_list if isinstance(ctx_list, (list, tuple))
                                   else [ctx_list])]
    if len(devices) == 1:
        return [data.to_device(devices[0])]
    return [s.to_device(d) for s, d in zip(split_data(data, len(devices), batch_axis,
                                                      even_split), devices)]


def clip_global_norm(arrays, max_norm, check_isfinite=True):
    """Scale ``arrays`` in place so their joint L2 norm is at most ``max_norm``; return the norm.

    A non-finite norm gives a warning (and the arrays are left as they are).
    """
    if not arrays:
        raise ValueError("clip_global_norm needs at least one array")
    total = 0.0
    for a in arrays:
        xp = a._device.backend.xp
        total += float(xp.sum(xp.square(a._data.astype("float64"))))
    norm = math.sqrt(total)
    if not math.isfinite(norm):
        if check_isfinite:
            warnings.warn(UserWarning("nan or inf is detected. Clipping results will be "
                                      "undefined."), stacklevel=2)
        return norm
    scale = max_norm / (norm + 1e-8)
    if scale < 1.0:
        for a in arrays:
            a._data *= a.dtype.type(scale)
    return norm


def split_rnn_params(param, mode, num_layers, input_size, hidden_size, bidirectional=False,
                     projection_size=None):
    """``{name: view}`` of a fused RNN layer's ``rnn_param`` vector (cuDNN's layout, as
    ``mx.init.RNNFused`` lays it out and ``npx.rnn`` reads it): 'l0_i2h_weight',
    'l0_h2h_weight' ('l0_h2r_weight' with ``projection_size``), 'r0_...' for the reverse
    direction, 'l1_...', then the biases in the same order, each shaped as its cell's
    parameter. The views share ``param``'s memory (an mxlite or a numpy array), so writing
    one writes the vector. (``mxlite.ops.rnn.split_rnn_params`` does the work.)"""
    return _split_rnn_params(param, mode, num_layers, input_size, hidden_size, bidirectional,
                             projection_size)
