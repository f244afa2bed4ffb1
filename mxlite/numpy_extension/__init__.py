"""``mx.npx``: MXNet's neural-network operators and runtime helpers."""

from ..device import Device, current_device
from ..fileio import read_arrays, write_npy, write_npz
from ..ndarray import ndarray, wrap
from ..ops.nn import *  # noqa: F401,F403
from ..ops.norm import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.special import *  # noqa: F401,F403  (erf, erfinv, gamma, gammaln, digamma)
from ..ops.indexing import *  # noqa: F401,F403
from ..ops.detection import *  # noqa: F401,F403
from ..ops.control import *  # noqa: F401,F403
from ..ops.rnn import *  # noqa: F401,F403
from ..ops.loss import *  # noqa: F401,F403  (ctc_loss; its ops exist before kernels attach)
from ..ops import composite as _composite
from ..numpy import random as _random
from ..device import cpu, gpu, gpu_memory_info, num_gpus  # noqa: F401
from ..util import is_np_array, is_np_shape, reset_np, set_np  # noqa: F401
from .interop import *  # noqa: F401,F403
from . import random  # noqa: F401  (npx.random: bernoulli, uniform_n, normal_n, ...)
from . import image  # noqa: F401
from ..ndarray import untraceable as _untraceable

globals().update({name.removeprefix("npx_"): getattr(_composite, name)  # its composites
                 for name in _composite.NPX})


def seed(seed, device="all", ctx=None):
    _random.seed(seed, device=device, ctx=ctx)


def constraint_check(input, msg="Constraint violated."):
    """``np.array(True)`` when every element of the boolean array ``input`` holds, else
    ValueError(``msg``) (MXNet raises it when the result is read; mxlite raises at once)."""
    _untraceable("npx.constraint_check, which reads its input's value on the host")
    if not isinstance(input, ndarray):
        raise TypeError("npx.constraint_check: input must be an ndarray")
    be = input._device.backend
    with be.scope():
        ok = bool(input._data.all())
        if not ok:
            raise ValueError(msg)
        return wrap(be.xp.asarray(True), input._device)


def waitall():
    """Wait for all queued device work (GPU kernels run asynchronously)."""
    for dev in list(Device._interned.values()):
        if dev._backend is not None:
            dev._backend.synchronize()


def save(file, arr):
    """Save an ndarray to ``file`` in NumPy's ``.npy`` format (MXNet 2.x), or a list or
    dict of them as an uncompressed ``.npz`` (lists under keys ``arr_0``, ``arr_1``, ...,
    as ``savez`` names them); written to exactly that name, replacing it atomically."""
    if isinstance(arr, ndarray):
        write_npy(file, arr.asnumpy())
        return
    if isinstance(arr, dict):
        for key, value in arr.items():
            if not isinstance(key, str) or not isinstance(value, ndarray):
                raise TypeError("save: a dict must map str keys to ndarrays; got "
                                f"{type(key).__name__} -> {type(value).__name__}")
        host = {key: value.asnumpy() for key, value in arr.items()}
    elif isinstance(arr, (list, tuple)):
        if not all(isinstance(a, ndarray) for a in arr):
            raise TypeError("save: a list must hold only ndarrays")
        host = {f"arr_{i}": a.asnumpy() for i, a in enumerate(arr)}
    else:
        raise TypeError(f"save: expected an ndarray, list or dict of ndarrays, got "
                        f"{type(arr).__name__}")
    write_npz(file, host)


def savez(file, *args, **kwds):
    """numpy's savez for mxlite arrays (positional arrays become ``arr_0``, ...)."""
    host = {f"arr_{i}": a.asnumpy() for i, a in enumerate(args)}
    host.update({k: v.asnumpy() for k, v in kwds.items()})
    write_npz(file, host)


def load(file, device=None):
    """Load an ``.npy`` file as one ndarray, an ``.npz`` as a dict of them keyed by name
    (``arr_0``, ... for positional ``savez`` arrays), as MXNet 2.x does. Arrays keep their
    saved dtype and go to ``device`` (default: the current device)."""
    dev = Device(device or current_device())
    host = read_arrays(file, "npx.load", "npx.save, npx.savez, numpy.save or numpy.savez")
    if not isinstance(host, dict):
        return wrap(dev.backend.asarray(host), dev)
    return {key: wrap(dev.backend.asarray(value), dev) for key, value in host.items()}
