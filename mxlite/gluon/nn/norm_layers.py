"""Normalization layers of ``gluon.nn``: BatchNorm, LayerNorm, GroupNorm, InstanceNorm.

Channel counts left at 0 are inferred on the first call.
"""
from ... import autograd
from ... import kvstore as kv
from ... import numpy as np
from ... import numpy_extension as npx
from ...ndarray import wrap
from ..block import HybridBlock
from ..parameter import Parameter

__all__ = ["BatchNorm", "SyncBatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm"]


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

    def cast(self, dtype):
        """A 16-bit cast keeps the layer in float32: its statistics overflow or lose the
        variance in 16 bits (MXNet keeps BatchNorm in float32 the same way)."""
        if np.dtype(dtype).name in ("float16", "bfloat16"):
            dtype = "float32"
        super().cast(dtype)

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
    the biased batch variance. ``cast('float16')`` keeps this layer in float32 (as every
    normalization layer).
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

    def forward(self, x):
        device = x.device
        return npx.batch_norm(x, self.gamma.data(device), self.beta.data(device),
                              self.running_mean.data(device), self.running_var.data(device),
                              eps=self._epsilon, momentum=self._momentum, fix_gamma=False,
                              use_global_stats=self._use_global_stats, axis=self._axis)


class _AllreduceSum(autograd.Function):
    """Sum over the workers of a kvstore; the gradient of a sum to all is that sum again."""

    def __init__(self, store):
        super().__init__()
        self._store = store

    def _sum(self, x):  # the kvstore's reduction: NCCL for GPU arrays, MPI otherwise
        return wrap(self._store.start_allreduce(x._data, x.device).wait(), x.device)

    def forward(self, x):
        return self._sum(x)

    def backward(self, g):
        return self._sum(g)


class SyncBatchNorm(BatchNorm):
    """BatchNorm whose training statistics are those of the whole global batch.

    Call it with the list of per-device shards of one step (as ``split_and_load`` makes
    them): mean and variance are computed over all shards together, and the gradients
    flow through those shared statistics, so the result equals BatchNorm on the
    concatenated batch. A single array is normalized with its own statistics. With
    ``kvstore`` a distributed store (or its name, e.g. 'dist_sync'), the sums are also
    allreduced over its worker processes (MPI). MXNet synchronizes separate per-device
    calls through its asynchronous engine; mxlite runs eagerly, so the shards come in one
    call, and ``num_devices`` is only checked against the list's length. Channels are on
    axis 1.
    """

    def __init__(self, in_channels=0, num_devices=None, momentum=0.9, epsilon=1e-5,
                 center=True, scale=True, use_global_stats=False, beta_initializer="zeros",
                 gamma_initializer="ones", running_mean_initializer="zeros",
                 running_variance_initializer="ones", kvstore=None, **kwargs):
        super().__init__(1, momentum, epsilon, center, scale, use_global_stats,
                         beta_initializer, gamma_initializer, running_mean_initializer,
                         running_variance_initializer, in_channels)
        self._num_devices = num_devices
        self._kvstore = kv.create(kvstore) if isinstance(kvstore, str) else kvstore

    def infer_shape(self, x, *args):
        super().infer_shape(x[0] if isinstance(x, (list, tuple)) else x)

    def forward(self, x):
        shards = list(x) if isinstance(x, (list, tuple)) else [x]
        if not shards:
            raise ValueError("SyncBatchNorm takes an array or a non-empty list of shards")
        if isinstance(x, (list, tuple)) and self._num_devices not in (None, len(shards)):
            raise ValueError(f"SyncBatchNorm(num_devices={self._num_devices}) got "
                             f"{len(shards)} shards")
        for s in shards:
            if s.ndim < 2 or s.shape[1:] != shards[0].shape[1:]:
                raise ValueError(f"SyncBatchNorm shards must be (N, C, ...) with equal "
                                 f"non-batch axes, got shapes {[t.shape for t in shards]}")
        if not autograd.is_training() or self._use_global_stats:
            out = [super(SyncBatchNorm, self).forward(s) for s in shards]
        else:
            out = self._normalize_globally(shards)
        return out if isinstance(x, (list, tuple)) else out[0]

    def _global_sum(self, per_shard):
        """Sum of per-shard arrays, on the first shard's device (and over the workers)."""
        home = per_shard[0].device
        total = per_shard[0]
        for part in per_shard[1:]:
            total = total + part.to_device(home)
        if self._kvstore is not None and self._kvstore.num_workers > 1:
            total = _AllreduceSum(self._kvstore)(total)
        return total

    def _normalize_globally(self, shards):
        axes = (0,) + tuple(range(2, shards[0].ndim))
        count = sum(s.size // s.shape[1] for s in shards)
        if self._kvstore is not None and self._kvstore.num_workers > 1:
            count = int(self._kvstore.allreduce_host(np.array([count]).asnumpy())[0])
        mean = self._global_sum([np.sum(s, axis=axes) for s in shards]) / count
        centered = [s - _along_channels(mean.to_device(s.device), s.ndim) for s in shards]
        var = self._global_sum([np.sum(c * c, axis=axes) for c in centered]) / count
        with autograd.pause():
            for running, batch in ((self.running_mean, mean), (self.running_var, var)):
                for device in running.list_device():
                    data = running.data(device)
                    data[...] = self._momentum * data + (1 - self._momentum) * \
                        batch.to_device(device).astype(data.dtype)
        out = []
        for s, c in zip(shards, centered):
            device = s.device
            scale = 1 / np.sqrt(var.to_device(device) + self._epsilon) * self.gamma.data(device)
            out.append(c * _along_channels(scale, s.ndim)
                       + _along_channels(self.beta.data(device), s.ndim))
        return out


def _along_channels(v, ndim):
    """(C,) reshaped to broadcast along axis 1 of ``ndim``-d data."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


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
