"""Weight initializers (``mx.init`` / ``mx.initializer``), as MXNet's.

An initializer called on a parameter dispatches on the parameter's name: ``*weight``
gets the initializer's own distribution, ``*bias``/``*beta``/``*running_mean`` zeros,
``*gamma``/``*running_var`` ones. A parameter with its own (layer-level) initializer
skips the dispatch and is filled by that initializer directly.
Random draws come from the target array's device generator, so ``mx.np.random.seed``
makes them reproducible.
"""
import math
import re

import numpy as _np

from .ndarray import wrap
from .ops import rnn as rnn_ops

__all__ = ["InitDesc", "Initializer", "register", "create", "Uniform", "Normal", "Constant",
           "Zero", "One", "Xavier", "MSRAPrelu", "Orthogonal", "Bilinear", "LSTMBias", "RNNFused",
           "Mixed", "Load"]

_REGISTRY = {}


def register(klass):
    """Make ``klass`` creatable by its lower-case name (``mx.init.create('xavier')``)."""
    _REGISTRY[klass.__name__.lower()] = klass
    return klass


def create(init, **kwargs):
    """An initializer from an instance, a registered name ('xavier', 'zeros', ...) or None."""
    if init is None or isinstance(init, Initializer):
        return init
    if isinstance(init, str):
        klass = _REGISTRY.get(init.lower())
        if klass is None:
            raise ValueError(f"unknown initializer {init!r}; known: {sorted(_REGISTRY)}")
        return klass(**kwargs)
    raise TypeError(f"an initializer must be an Initializer or its name, got {type(init).__name__}")


class InitDesc(str):
    """A parameter name with attributes; ``attrs['__init__']`` names its own initializer."""

    def __new__(cls, name, attrs=None, global_init=None):
        obj = super().__new__(cls, name)
        obj.attrs = attrs or {}
        obj.global_init = global_init
        return obj


def _fill(arr, host):
    """Write host values into ``arr`` in place (keeps its device and dtype)."""
    arr._device.backend.copy_from_host(arr._data, _np.ascontiguousarray(_np.broadcast_to(
        _np.asarray(host, dtype=arr.dtype), arr.shape)))


def _rng(arr):
    """A numpy generator for host-side draws (values are made on the host and copied, so
    every backend gives the same numbers)."""
    return arr._device.backend.host_rng()


def _host_rng(arr):
    """A host generator drawn from the device generator, for host-side math (SVD)."""
    return _np.random.default_rng(int(arr._device.backend.rng.integers(0, 2**63 - 1)))


class Initializer:
    """Base class: subclasses implement ``_init_weight(name, arr)``."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs

    def dumps(self):
        import json
        return json.dumps([type(self).__name__.lower(), self._kwargs])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        """Same type and same arguments, as MXNet compares initializers (arrays given as
        arguments compare by value)."""
        if not isinstance(other, Initializer):
            return NotImplemented
        if type(self) is not type(other) or self._kwargs.keys() != other._kwargs.keys():
            return False
        return all(_same_value(v, other._kwargs[k]) for k, v in self._kwargs.items())

    def __hash__(self):
        # consistent with __eq__ without hashing the arguments (arrays are unhashable)
        return hash(type(self))

    def __call__(self, desc, arr):
        if not isinstance(desc, InitDesc):
            desc = InitDesc(str(desc))
        if desc.global_init is None:
            desc.global_init = self
        own = desc.attrs.get("__init__")
        if own:
            create(own)._init_weight(desc, arr)
            return
        name = str(desc)
        if name.endswith("weight"):
            self._init_weight(desc, arr)
        elif name.endswith(("bias", "beta", "running_mean", "moving_mean", "min", "max")):
            _fill(arr, 0.0)
        elif name.endswith(("gamma", "running_var", "moving_var")):
            _fill(arr, 1.0)
        else:
            self._init_default(desc, arr)

    def _init_weight(self, name, arr):
        raise NotImplementedError(f"{type(self).__name__} must implement _init_weight")

    def _init_default(self, name, arr):
        """Names without a known suffix are drawn like weights (as MXNet 2.x draws them)."""
        self._init_weight(name, arr)


def _same_value(a, b):
    if hasattr(a, "shape") or hasattr(b, "shape"):  # numpy or mxlite arrays
        host = [x.asnumpy() if hasattr(x, "asnumpy") else _np.asarray(x) for x in (a, b)]
        return host[0].shape == host[1].shape and bool(_np.array_equal(*host))
    return a == b


@register
class Uniform(Initializer):
    """Uniform on [-scale, scale] (the global default, scale 0.07)."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        _fill(arr, _rng(arr).uniform(-self.scale, self.scale, arr.shape))


@register
class Normal(Initializer):
    """Normal with mean 0 and standard deviation ``sigma``."""

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr):
        _fill(arr, _rng(arr).normal(0.0, self.sigma, arr.shape))


@register
class Constant(Initializer):
    """Weights set to ``value`` (a scalar or a broadcastable array)."""

    def __init__(self, value=0.0):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, _, arr):
        value = self.value.asnumpy() if hasattr(self.value, "asnumpy") else self.value
        _fill(arr, _np.broadcast_to(_np.asarray(value), arr.shape))


@register
class Zero(Constant):
    def __init__(self):
        super().__init__(0.0)
        self._kwargs = {}


@register
class One(Constant):
    def __init__(self):
        super().__init__(1.0)
        self._kwargs = {}


_REGISTRY["zeros"] = Zero
_REGISTRY["ones"] = One


@register
class Xavier(Initializer):
    """Glorot: scale sqrt(magnitude / fan) with fan from ``factor_type`` ('avg', 'in', 'out')."""

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        if rnd_type not in ("uniform", "gaussian"):
            raise ValueError(f"rnd_type must be 'uniform' or 'gaussian', got {rnd_type!r}")
        if factor_type not in ("avg", "in", "out"):
            raise ValueError(f"factor_type must be 'avg', 'in' or 'out', got {factor_type!r}")
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def _init_weight(self, name, arr):
        shape = arr.shape
        if len(shape) < 2:
            raise ValueError(f"Xavier initializer cannot be applied to vector {name}; it needs "
                             f"at least 2 dimensions, got shape {shape}")
        hw_scale = int(_np.prod(shape[2:])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[1] * hw_scale, shape[0] * hw_scale
        factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[self.factor_type]
        scale = math.sqrt(self.magnitude / factor)
        if self.rnd_type == "uniform":
            _fill(arr, _rng(arr).uniform(-scale, scale, shape))
        else:
            _fill(arr, _rng(arr).normal(0.0, scale, shape))


@register
class MSRAPrelu(Xavier):
    """He initialization for PReLU/ReLU nets: gaussian with magnitude 2/(1+slope^2)."""

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``scale``, from the SVD of a random matrix."""

    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        if rand_type not in ("uniform", "normal"):
            raise ValueError(f"rand_type must be 'uniform' or 'normal', got {rand_type!r}")
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, _, arr):
        nout = arr.shape[0]
        nin = int(_np.prod(arr.shape[1:]))
        rng = _host_rng(arr)
        tmp = rng.uniform(-1.0, 1.0, (nout, nin)) if self.rand_type == "uniform" \
            else rng.normal(0.0, 1.0, (nout, nin))
        u, _, v = _np.linalg.svd(tmp, full_matrices=False)
        res = u if u.shape == tmp.shape else v
        _fill(arr, self.scale * res.reshape(arr.shape))


@register
class Bilinear(Initializer):
    """Bilinear-upsampling kernels for a (…, H, W) deconvolution weight."""

    def _init_weight(self, _, arr):
        shape = arr.shape
        size = int(_np.prod(shape))
        f = math.ceil(shape[3] / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        i = _np.arange(size)
        x = i % shape[3]
        y = (i // shape[3]) % shape[2]
        weight = (1 - _np.abs(x / f - c)) * (1 - _np.abs(y / f - c))
        _fill(arr, weight.reshape(shape))


@register
class LSTMBias(Initializer):
    """Zeros, except the forget-gate quarter ([input, forget, cell, output]) = ``forget_bias``."""

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name, arr):
        if arr.ndim != 1 or arr.shape[0] % 4:
            raise ValueError(f"LSTMBias needs a 1-d bias of 4 * hidden_size values, got "
                             f"{arr.shape} for {name}")
        hidden = arr.shape[0] // 4
        value = _np.zeros(arr.shape)
        value[hidden:2 * hidden] = self.forget_bias
        _fill(arr, value)


@register
class RNNFused(Initializer):
    """The fused RNN layers' one ``rnn_param`` vector, in cuDNN's layout as MXNet keeps it:
    the i2h then h2h weight of each layer and direction (l0, r0, l1, ...), then their biases
    in the same order. Each piece is drawn as a parameter of its own name and matrix shape
    would be: by the piece's initializer if given, else by the global one."""

    def __init__(self, mode, num_layers, state_size, bidirectional=False,
                 i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer=None, h2h_bias_initializer=None):
        if mode not in rnn_ops.GATES:
            raise ValueError(f"mode must be one of {sorted(rnn_ops.GATES)}, got {mode!r}")
        super().__init__(mode=mode, num_layers=num_layers, state_size=state_size,
                         bidirectional=bidirectional)
        self._mode, self._num_layers, self._hidden = mode, num_layers, state_size
        self._dirs = 2 if bidirectional else 1
        self._inits = {"i2h_weight": create(i2h_weight_initializer),
                       "h2h_weight": create(h2h_weight_initializer),
                       "i2h_bias": create(i2h_bias_initializer),
                       "h2h_bias": create(h2h_bias_initializer)}

    def pieces(self, input_size):
        """``[(name, shape)]`` in the vector's order, e.g. ``('l0_i2h_weight', (4H, C))``
        (``npx.rnn``'s layout)."""
        return rnn_ops.rnn_param_pieces(self._mode, self._num_layers, input_size, self._hidden,
                                        self._dirs == 2)

    def size(self, input_size):
        return rnn_ops.rnn_param_size(self._mode, self._num_layers, input_size, self._hidden,
                                      self._dirs == 2)

    def input_size(self, size):
        """The input size a vector of ``size`` values belongs to (the size is linear in it)."""
        base, per_input = self.size(0), self.size(1) - self.size(0)
        if (size - base) % per_input or size < base:
            raise ValueError(f"{size} values do not make an rnn_param of {self._num_layers} "
                             f"{self._mode} layer(s) of {self._hidden} units")
        return (size - base) // per_input

    def _init_weight(self, desc, arr):
        backend = arr._device.backend
        host = _np.empty(arr.shape, dtype=arr.dtype)
        offset = 0
        for name, shape in self.pieces(self.input_size(arr.shape[0])):
            piece = wrap(backend.empty(shape, arr.dtype), arr._device)
            own = self._inits[name.split("_", 1)[1]]
            (desc.global_init or Uniform())(
                InitDesc(name, {"__init__": own} if own else {}, desc.global_init), piece)
            size = math.prod(shape)
            host[offset:offset + size] = backend.to_host(piece._data).ravel()
            offset += size
        _fill(arr, host)


class Mixed:
    """The first initializer whose regex pattern matches the parameter name (``re.match``)."""

    def __init__(self, patterns, initializers):
        if len(patterns) != len(initializers):
            raise ValueError(f"Mixed: {len(patterns)} patterns but {len(initializers)} "
                             "initializers; give one initializer per pattern")
        self.map = [(re.compile(p), create(i)) for p, i in zip(patterns, initializers)]

    def __call__(self, name, arr):
        for pattern, init in self.map:
            if pattern.match(str(name)):
                init(name, arr)
                return
        raise ValueError(f"Parameter name {name} did not match any pattern; add a "
                         "default pattern '.*' to Mixed")


class Load:
    """Values from a dict of arrays (or an .npz file), falling back to ``default_init``."""

    def __init__(self, param, default_init=None, verbose=False):
        if isinstance(param, str):
            with _np.load(param) as loaded:
                param = {k: loaded[k] for k in loaded.files}
        self.param = {k: (v.asnumpy() if hasattr(v, "asnumpy") else _np.asarray(v))
                      for k, v in param.items()}
        self.default_init = create(default_init)
        self.verbose = verbose

    def __call__(self, name, arr):
        name = str(name)
        if name in self.param:
            if self.param[name].shape != arr.shape:
                raise ValueError(f"Load: parameter {name} has shape {arr.shape} but the "
                                 f"loaded value has shape {self.param[name].shape}")
            _fill(arr, self.param[name])
        elif self.default_init is None:
            raise ValueError(f"Load: {name} is not in the loaded values and no default_init "
                             "was given")
        else:
            self.default_init(name, arr)
