"""Containers and basic layers of ``gluon.nn``."""
import warnings

import numpy as _np

from ... import numpy as np
from ... import numpy_extension as npx
from ..block import Block, HybridBlock
from ..parameter import Parameter
from .activations import Activation

__all__ = ["Sequential", "HybridSequential", "Dense", "Dropout", "Flatten", "Identity",
           "Lambda", "HybridLambda", "Embedding", "Concatenate", "HybridConcatenate"]


class _SequentialMixin:
    """Shared by Sequential and HybridSequential: children run in order."""

    def add(self, *blocks):
        for block in blocks:
            self.register_child(block)
        return self

    def forward(self, x, *args):
        for block in self._children.values():
            x = block(x, *args)
            args = ()
            if isinstance(x, (tuple, list)):
                args = tuple(x[1:])
                x = x[0]
        if args:
            return (x,) + args
        return x

    def __getitem__(self, key):
        children = list(self._children.values())
        if isinstance(key, slice):
            net = type(self)()
            net.add(*children[key])
            return net
        return children[key]

    def __len__(self):
        return len(self._children)


class Sequential(_SequentialMixin, Block):
    """Blocks stacked in order."""

    def __init__(self):
        Block.__init__(self)

    def hybridize(self, active=True, **kwargs):
        """Hybridize the HybridBlock children; warns (as MXNet does) when every child is
        one, since a HybridSequential would run the whole stack as one graph."""
        if self._children and all(isinstance(c, HybridBlock) for c in self._children.values()):
            warnings.warn(f"All children of this Sequential layer '{self!r}'\n are "
                          "HybridBlocks. Consider using HybridSequential for the best "
                          "performance.", stacklevel=2)
        super().hybridize(active, **kwargs)


class HybridSequential(_SequentialMixin, HybridBlock):
    """HybridBlocks stacked in order."""

    def __init__(self):
        HybridBlock.__init__(self)


class _ConcatenateMixin:
    """Every child runs on the same input; their outputs are joined along ``axis``. A
    Sequential otherwise (``add``, indexing, ``len``), as in MXNet."""

    def forward(self, x):
        return np.concatenate([block(x) for block in self._children.values()], axis=self.axis)


class Concatenate(_ConcatenateMixin, Sequential):
    """Blocks run side by side on one input, outputs concatenated (an Inception branch)."""

    def __init__(self, axis=-1):
        Sequential.__init__(self)
        self.axis = axis


class HybridConcatenate(_ConcatenateMixin, HybridSequential):
    """HybridBlocks run side by side on one input, outputs concatenated."""

    def __init__(self, axis=-1):
        HybridSequential.__init__(self)
        self.axis = axis


class Dense(HybridBlock):
    """``activation(x @ weight.T + bias)``; ``in_units`` is inferred on the first call if 0.

    With ``flatten`` every axis after the first is folded into the input features.
    """

    def __init__(self, units, activation=None, use_bias=True, flatten=True, dtype="float32",
                 weight_initializer=None, bias_initializer="zeros", in_units=0):
        super().__init__()
        self._units = units
        self._flatten = flatten
        self.weight = Parameter("weight", shape=(units, in_units), init=weight_initializer,
                                dtype=dtype, allow_deferred_init=True)
        self.bias = Parameter("bias", shape=(units,), init=bias_initializer, dtype=dtype,
                              allow_deferred_init=True) if use_bias else None
        self.act = Activation(activation) if activation is not None else None

    def infer_shape(self, x, *args):
        in_units = int(_np.prod(x.shape[1:])) if self._flatten else x.shape[-1]
        self.weight.shape = (self._units, in_units)

    def forward(self, x):
        device = x.device
        bias = self.bias.data(device) if self.bias is not None else None
        out = npx.fully_connected(x, self.weight.data(device), bias, num_hidden=self._units,
                                  no_bias=bias is None, flatten=self._flatten)
        return self.act(out) if self.act is not None else out

    def __repr__(self):
        in_units = self.weight.shape[1] if self.weight.shape[1] > 0 else None
        act = self.act._act_type if self.act is not None else "linear"
        return f"Dense({in_units} -> {self._units}, {act})"


class Dropout(HybridBlock):
    """Zero inputs with probability ``rate`` while training; the identity otherwise.

    ``axes`` share one mask along those axes (e.g. whole channels).
    """

    def __init__(self, rate, axes=()):
        super().__init__()
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout rate must be in [0, 1], got {rate}")
        self._rate = rate
        self._axes = tuple(axes)

    def forward(self, x):
        if self._rate > 0:
            return npx.dropout(x, p=self._rate, axes=self._axes, cudnn_off=False)
        return np.copy(x)

    def __repr__(self):
        return f"Dropout(p = {self._rate}, axes={self._axes})"


class Flatten(HybridBlock):
    """Fold every axis after the first: (N, ...) -> (N, prod(...))."""

    def forward(self, x):
        return x.reshape(x.shape[0], int(_np.prod(x.shape[1:])))  # -1 is ambiguous at batch 0


class Identity(HybridBlock):
    """Return the input unchanged (a placeholder in containers)."""

    def forward(self, x):
        return x


def _resolve(function):
    if isinstance(function, str):
        fn = getattr(np, function, None) or getattr(npx, function, None)
        if fn is None:
            raise ValueError(f"Function name {function!r} is not found in mx.np or mx.npx")
        return fn
    if not callable(function):
        raise ValueError(f"Unrecognized function in lambda: {function!r} of type "
                         f"{type(function).__name__}")
    return function


class Lambda(Block):
    """Wrap a function (or the name of an ``mx.np``/``mx.npx`` function) as a Block."""

    def __init__(self, function):
        super().__init__()
        self._func = _resolve(function)

    def forward(self, *args):
        return self._func(*args)

    def __repr__(self):
        return f"Lambda({getattr(self._func, '__name__', self._func)})"


class HybridLambda(HybridBlock):
    """Wrap a function (or an ``mx.np``/``mx.npx`` name) as a HybridBlock."""

    def __init__(self, function):
        super().__init__()
        self._func = _resolve(function)

    def forward(self, x, *args):
        return self._func(x, *args)

    def __repr__(self):
        return f"HybridLambda({getattr(self._func, '__name__', self._func)})"


class Embedding(HybridBlock):
    """Rows of an (input_dim, output_dim) table picked by integer (or float) indices."""

    def __init__(self, input_dim, output_dim, dtype="float32", weight_initializer=None,
                 sparse_grad=False):
        super().__init__()
        if sparse_grad:
            raise ValueError("sparse_grad=True needs row-sparse gradients, which mxlite does "
                             "not have; use the default dense gradient")
        self._input_dim = input_dim
        self._output_dim = output_dim
        self.weight = Parameter("weight", shape=(input_dim, output_dim), init=weight_initializer,
                                dtype=dtype, allow_deferred_init=True)

    def forward(self, x):
        return npx.embedding(x, self.weight.data(x.device), input_dim=self._input_dim,
                             output_dim=self._output_dim)

    def __repr__(self):
        return f"Embedding({self._input_dim} -> {self._output_dim}, {self.weight.dtype.name})"
