"""Helpers for data-parallel training (``split_and_load``, ``clip_global_norm``), for the
fused RNN layers' parameter vector (``split_rnn_params``) and for fetching files
(``download``, ``check_sha1``)."""
import hashlib
import math
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
import warnings

from .. import initializer
from .. import numpy as np
from ..device import Device
from ..ndarray import ndarray

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


def _projected(pieces, hidden_size, projection_size, dirs):
    """MXNet's LSTMP layout from the plain one: the recurrent state, which h2h reads and the
    next layer takes as input, is the projection, and each h2h weight is followed by h2r."""
    out = []
    for name, shape in pieces:
        prefix, kind, what = name.split("_")  # e.g. 'r1', 'h2h', 'weight'
        if what == "weight" and kind == "h2h":
            out += [(name, (shape[0], projection_size)),
                    (f"{prefix}_h2r_weight", (projection_size, hidden_size))]
        elif what == "weight" and prefix[1:] != "0":  # i2h of a layer above the first
            out.append((name, (shape[0], projection_size * dirs)))
        else:
            out.append((name, shape))
    return out


def split_rnn_params(param, mode, num_layers, input_size, hidden_size, bidirectional=False,
                     projection_size=None):
    """``{name: view}`` of a fused RNN layer's ``rnn_param`` vector (cuDNN's layout, as
    ``mx.init.RNNFused`` lays it out): 'l0_i2h_weight', 'l0_h2h_weight' ('l0_h2r_weight' with
    ``projection_size``), 'r0_...' for the reverse direction, 'l1_...', then the biases in
    the same order, each shaped as its cell's parameter. The views share ``param``'s memory
    (an mxlite or a numpy array), so writing one writes the vector."""
    fused = initializer.RNNFused(mode, num_layers, hidden_size, bidirectional)
    pieces = fused.pieces(input_size)
    if projection_size:
        if mode != "lstm":
            raise ValueError(f"split_rnn_params: projection_size is for mode 'lstm' (LSTMP), "
                             f"got mode {mode!r}")
        pieces = _projected(pieces, hidden_size, projection_size, 2 if bidirectional else 1)
    size = sum(math.prod(shape) for _, shape in pieces)
    if tuple(param.shape) != (size,):
        layers = f"{num_layers} {mode} layer(s) of {hidden_size} units on {input_size} inputs"
        if projection_size:
            layers += f", projected to {projection_size}"
        if bidirectional:
            layers += ", bidirectional"
        raise ValueError(f"split_rnn_params: {layers} take an rnn_param of shape ({size},), "
                         f"got {tuple(param.shape)}")
    views, offset = {}, 0
    for name, shape in pieces:
        views[name] = param[offset:offset + math.prod(shape)].reshape(shape)
        offset += math.prod(shape)
    return views


def check_sha1(filename, sha1_hash):
    """Whether ``filename``'s SHA-1 equals ``sha1_hash`` (a prefix of the hex digest is
    enough, as MXNet's model store uses 8-character prefixes)."""
    sha1 = hashlib.sha1()
    with open(filename, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha1.update(chunk)
    digest = sha1.hexdigest()
    return digest.startswith(sha1_hash.lower()) if len(sha1_hash) < 40 else digest == sha1_hash


def _fetch_chunks(url, verify_ssl):
    """Yield the body of ``url`` in 1 MiB chunks.

    ``http(s)://`` goes through ``requests`` when it is installed, as MXNet's ``download``
    does, so proxies, sessions and mocks of ``requests.get`` apply alike; ``file://`` (which
    ``requests`` cannot open) and machines without ``requests`` use ``urllib``."""
    try:
        import requests
    except ImportError:
        requests = None
    if requests is not None and url.lower().startswith(("http://", "https://")):
        response = requests.get(url, stream=True, verify=verify_ssl, timeout=60)
        if response.status_code != 200:
            raise OSError(f"the server answered HTTP {response.status_code}")
        yield from (chunk for chunk in response.iter_content(chunk_size=1 << 20) if chunk)
        return
    context = ssl._create_unverified_context() if not verify_ssl else None  # as asked
    with urllib.request.urlopen(url, timeout=60, context=context) as response:
        yield from iter(lambda: response.read(1 << 20), b"")


def download(url, path=None, overwrite=False, sha1_hash=None, retries=5, verify_ssl=True):
    """Fetch ``url`` (``http(s)://`` or ``file://``) to ``path`` and return the file name.

    An existing file is kept unless ``overwrite`` or its SHA-1 differs from ``sha1_hash``.
    The file appears only when complete (written beside the target, then renamed), so an
    interrupted or offline download never leaves a partial file under the final name."""
    if retries < 1:
        raise ValueError(f"download: retries must be at least 1, got {retries}")
    name = url.rstrip("/").split("/")[-1]
    if path is None:
        fname = name
    elif os.path.isdir(os.path.expanduser(path)) or path.endswith(os.sep):
        fname = os.path.join(os.path.expanduser(path), name)
    else:
        fname = os.path.expanduser(path)
    if not verify_ssl:
        warnings.warn("Unverified HTTPS request is being made (verify_ssl=False). Adding "
                      "certificate verification is strongly advised.")
    if os.path.exists(fname) and not overwrite and (sha1_hash is None
                                                    or check_sha1(fname, sha1_hash)):
        return fname
    folder = os.path.dirname(os.path.abspath(fname))
    os.makedirs(folder, exist_ok=True)
    for attempt in range(retries):
        fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(fname)}.")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _fetch_chunks(url, verify_ssl):
                    out.write(chunk)
            if sha1_hash is not None and not check_sha1(partial, sha1_hash):
                raise UserWarning(f"download: {url} does not match its SHA-1 {sha1_hash}; the "
                                  f"file may be corrupted or changed upstream")
            os.replace(partial, fname)
            return fname
        except (urllib.error.URLError, OSError) as err:
            os.unlink(partial)
            if attempt + 1 == retries:
                raise RuntimeError(f"download: could not fetch {url} after {retries} "
                                   f"attempt(s): {err}. If this machine is offline, copy "
                                   f"the file to {fname} yourself") from err
            time.sleep(min(2 ** attempt, 10) * 0.1)
        except BaseException:
            os.unlink(partial)
            raise
    return fname
