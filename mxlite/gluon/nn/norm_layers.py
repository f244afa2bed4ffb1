"""Normalization layers of ``gluon.nn``: BatchNorm, LayerNorm, GroupNorm, InstanceNorm.

Channel counts left at 0 are inferred on the first call.
"""
from ... import numpy as np
from ... import numpy_extension as npx
from ..block import HybridBlock
from ..parameter import Parameter

__all__ = ["BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm"]


class _Norm(HybridBlock):
    """gamma/beta of shape (in_channels,); ``scale``/``center`` False freezes them at 1/0."""

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                 in_channels):
        super().__init__()
        self._axis = axis
        self._epsilon = epsilon
        self._center = center
        self._scale = scale
        self.gamma = Parameter("gamma", grad_req="write" if scale else "null",
                               shape=(in_channels,), init=gamma_initializer,
                               allow_deferred_init=True, differentiable=scale)
        self.beta = Parameter("beta", grad_req="write" if center else "null",
                              shape=(in_channels,), init=beta_initializer,
                              allow_deferred_init=True, differentiable=center)

    def _channels(self, x):
        if not -x.ndim <= self._axis < x.ndim:
            raise ValueError(f"{type(self).__name__}: axis {self._axis} is out of range for "
                             f"data of shape {x.shape}")
        return x.shape[self._axis]

    def infer_shape(self, x, *args):
        channels = self._channels(x)
        for p in self._reg_params.values():
            p.shape = (channels,)

    def __repr__(self):
        channels = self.gamma.shape[0]
        return (f"{type(self).__name__}(axis={self._axis}, eps={self._epsilon}, "
                f"center={self._center}, scale={self._scale}, "
                f"in_channels={channels if channels > 0 else None})")


class BatchNorm(_Norm):
    """Normalize with batch statistics while training, running statistics otherwise.

    The running statistics are updated once per training forward (MXNet updates them in
    the backward pass): ``running = momentum * running + (1 - momentum) * batch``, with
    the biased batch variance. ``cast('float16')`` keeps this layer in float32.
    """

    def __init__(self, axis=1, momentum=0.9, epsilon=1e-5, center=True, scale=True,
                 use_global_stats=False, beta_initializer="zeros", gamma_initializer="ones",
                 running_mean_initializer="zeros", running_variance_initializer="ones",
                 in_channels=0):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         in_channels)
        self._momentum = momentum
        self._use_global_stats = use_global_stats
        self.running_mean = Parameter("running_mean", grad_req="null", shape=(in_channels,),
                                      init=running_mean_initializer, allow_deferred_init=True,
                                      differentiable=False)
        self.running_var = Parameter("running_var", grad_req="null", shape=(in_channels,),
                                     init=running_variance_initializer,
                                     allow_deferred_init=True, differentiable=False)

    def cast(self, dtype):
        if np.dtype(dtype).name == "float16":
            dtype = "float32"
        super().cast(dtype)

    def forward(self, x):
        device = x.device
        return npx.batch_norm(x, self.gamma.data(device), self.beta.data(device),
                              self.running_mean.data(device), self.running_var.data(device),
                              eps=self._epsilon, momentum=self._momentum, fix_gamma=False,
                              use_global_stats=self._use_global_stats, axis=self._axis)


class LayerNorm(_Norm):
    """Normalize each sample over ``axis`` (the last by default)."""

    def __init__(self, axis=-1, epsilon=1e-5, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", in_channels=0):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         in_channels)

    def forward(self, x):
        device = x.device
        return npx.layer_norm(x, self.gamma.data(device), self.beta.data(device),
                              axis=self._axis, eps=self._epsilon)


class GroupNorm(_Norm):
    """Normalize each group of channels together with the other non-batch axes.

    Channels are on axis 1 as in MXNet; ``axis`` (an mxlite addition) moves them, e.g.
    ``axis=-1`` for channel-last data."""

    def __init__(self, num_groups=1, epsilon=1e-5, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", in_channels=0, axis=1):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         in_channels)
        self._num_groups = num_groups

    def forward(self, x):
        return _channels_on_axis_1(x, self._axis, lambda moved: npx.group_norm(
            moved, self.gamma.data(x.device), self.beta.data(x.device),
            num_groups=self._num_groups, eps=self._epsilon))


class InstanceNorm(_Norm):
    """Normalize each (sample, channel) over the spatial axes; channels on ``axis``."""

    def __init__(self, axis=1, epsilon=1e-5, center=True, scale=False,
                 beta_initializer="zeros", gamma_initializer="ones", in_channels=0):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         in_channels)

    def forward(self, x):
        return _channels_on_axis_1(x, self._axis, lambda moved: npx.instance_norm(
            moved, self.gamma.data(x.device), self.beta.data(x.device), eps=self._epsilon))


def _channels_on_axis_1(x, axis, norm):
    """``norm`` (which takes channels on axis 1) applied with the channels on ``axis``."""
    if axis % x.ndim == 1:
        return norm(x)
    return np.moveaxis(norm(np.moveaxis(x, axis, 1)), 1, axis)
