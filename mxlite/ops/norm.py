"""Normalization operators of ``mx.npx``: batch, layer, group and instance norm
(L2 normalization, a composite, is in ``ops.composite``).

Statistics are the mean and the biased variance (divide by the count). Backward
recomputes them from the input rather than saving them, so ``create_graph=True`` sees
them as functions of the input (second-order gradients are exact).
"""

from ..autograd import apply, defop, is_training
from . import as_axes, to_nd

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm"]


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


@defop("normalize", nout=3)
class _normalize:
    """``(x - mean) / sqrt(var + eps) * gamma + beta`` with batch statistics over ``axes``.

    Outputs (y, mean, var); mean and var keep the reduced axes. ``gamma``/``beta`` come
    already shaped to broadcast against ``x`` (or None); ``fix_gamma`` treats gamma as 1
    and gives it a zero gradient (MXNet)."""
    def forward(xp, x, gamma, beta, axes, eps, fix_gamma):
        mean = xp.mean(x, axis=axes, keepdims=True)
        centered = x - mean
        var = xp.mean(centered * centered, axis=axes, keepdims=True)
        scale = 1 / xp.sqrt(var + eps)
        if gamma is not None and not fix_gamma:
            scale = scale * gamma
        y = centered * scale
        if beta is not None:
            y = y + beta
        return y, mean, var

    def backward(ctx, gs):
        x, gamma, beta = ctx.inputs
        xp = ctx.xp
        axes, eps, fix_gamma = ctx.params["axes"], ctx.params["eps"], ctx.params["fix_gamma"]
        gy, gmean, gvar = gs
        count = _count(x.shape, axes)
        mean = xp.mean(x, axis=axes, keepdims=True)
        centered = x - mean
        var = xp.mean(centered * centered, axis=axes, keepdims=True)
        gx = ggamma = gbeta = None
        if gy is not None:
            invstd = 1 / xp.sqrt(var + eps)
            xhat = centered * invstd
            gxhat = gy if gamma is None or fix_gamma else gy * gamma
            gx = invstd * (gxhat - xp.mean(gxhat, axis=axes, keepdims=True)
                           - xhat * xp.mean(gxhat * xhat, axis=axes, keepdims=True))
            if gamma is not None and ctx.need[1]:
                ggamma = xp.zeros_like(gamma) if fix_gamma else gy * xhat
            if beta is not None and ctx.need[2]:
                gbeta = gy
        if gmean is not None:
            part = xp.broadcast_to(gmean / count, x.shape)
            gx = part if gx is None else gx + part
        if gvar is not None:
            part = gvar * (2.0 / count) * centered
            gx = part if gx is None else gx + part
        return gx, ggamma, gbeta


@defop("normalize_global")
class _normalize_global:
    """Normalization with given statistics (batch_norm at inference or with
    ``use_global_stats``); the statistics get no gradient."""
    def forward(xp, x, gamma, beta, mean, var, eps, fix_gamma):
        scale = 1 / xp.sqrt(var + eps)
        if not fix_gamma:
            scale = scale * gamma
        return (x - mean) * scale + beta

    def backward(ctx, g):
        x, gamma, beta, mean, var = ctx.inputs
        xp = ctx.xp
        eps, fix_gamma = ctx.params["eps"], ctx.params["fix_gamma"]
        invstd = 1 / xp.sqrt(var + eps)
        gx = g * invstd if fix_gamma else g * (gamma * invstd)
        ggamma = None
        if ctx.need[1]:
            ggamma = xp.zeros_like(gamma) if fix_gamma else g * (x - mean) * invstd
        return gx, ggamma, (g if ctx.need[2] else None), None, None


@defop("update_running_statistic", effectful=True)
class _update_running:
    """``running = momentum * running + (1 - momentum) * batch``, in place, outside the tape
    (effectful: a graph keeps it though nothing reads its output, the updated array)."""
    def forward(xp, running, batch, momentum):
        stat = batch.reshape(running.shape).astype(running.dtype, copy=False)
        running *= momentum
        running += (1 - momentum) * stat
        return running


def _param_shape(ndim, axis):
    return tuple(-1 if i == axis else 1 for i in range(ndim))


class ParameterShapeError(ValueError, AssertionError):
    """A norm's gamma/beta/running statistics do not fit the data's channel axis. Both a
    ValueError and an AssertionError: MXNet reports it from shape inference, where gluon's
    LayerNorm(in_channels=...) on the wrong data raises AssertionError."""


def _shaped(param, data, axis, name):
    """``param`` (C,) reshaped to broadcast along ``axis`` of ``data``."""
    if param is None:
        return None
    param = to_nd(param, data)
    if param.shape != (data.shape[axis],):
        raise ParameterShapeError(
            f"{name} of shape {param.shape} does not match {data.shape[axis]} channels on axis "
            f"{axis} of data {data.shape}; give the layer in_channels={data.shape[axis]} (or "
            "leave it 0 to infer it)")
    return param.reshape(_param_shape(data.ndim, axis))


def batch_norm(x, gamma, beta, running_mean, running_var, eps=1e-3, momentum=0.9,
               fix_gamma=True, use_global_stats=False, output_mean_var=False, axis=1,
               cudnn_off=False, min_calib_range=None, max_calib_range=None, **kwargs):
    """Batch normalization over every axis but ``axis`` (MXNet defaults: eps=1e-3,
    fix_gamma=True).

    While training (``autograd.is_training()``) it uses the batch mean and biased variance
    and updates ``running_mean``/``running_var`` in place, outside the tape, as
    ``running = momentum * running + (1 - momentum) * batch``. This happens in the
    forward pass; MXNet does it in the backward pass. Otherwise, or with
    ``use_global_stats``, it normalizes with the running statistics (and its gradient is
    that of this affine map, unlike MXNet's). ``output_mean_var`` also returns, as MXNet, the
    batch mean and inverse standard deviation ``1/sqrt(var + eps)`` (shape (C,)) while
    training, the running mean and variance otherwise."""
    x = to_nd(x)
    ax = as_axes(axis, x.ndim)[0]
    g = _shaped(gamma, x, ax, "gamma")
    b = _shaped(beta, x, ax, "beta")
    if is_training() and not use_global_stats:
        axes = tuple(i for i in range(x.ndim) if i != ax)
        y, mean, var = apply(_normalize, (x, g, b),
                             {"axes": axes, "eps": float(eps), "fix_gamma": bool(fix_gamma)})
        for running, batch in ((running_mean, mean), (running_var, var)):
            if running is not None:
                apply(_update_running, (running, batch, float(momentum)))
        if output_mean_var:
            return y, mean.reshape(-1), (var.reshape(-1) + float(eps)) ** -0.5
        return y
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm outside training (or with use_global_stats) normalizes "
                         "with running_mean and running_var; pass both arrays")
    rm = _shaped(running_mean, x, ax, "running_mean")
    rv = _shaped(running_var, x, ax, "running_var")
    y = apply(_normalize_global, (x, g, b, rm, rv),
              {"eps": float(eps), "fix_gamma": bool(fix_gamma)})
    if output_mean_var:
        return y, running_mean, running_var
    return y


def layer_norm(data, gamma=None, beta=None, axis=-1, eps=1e-5, output_mean_var=False):
    """Normalize over ``axis`` with per-feature ``gamma``/``beta`` along it."""
    data = to_nd(data)
    ax = as_axes(axis, data.ndim)[0]
    y, mean, var = apply(_normalize, (data, _shaped(gamma, data, ax, "gamma"),
                                      _shaped(beta, data, ax, "beta")),
                         {"axes": (ax,), "eps": float(eps), "fix_gamma": False})
    if output_mean_var:
        return y, mean, var
    return y


def instance_norm(data, gamma, beta, eps=1e-3):
    """Normalize each (sample, channel) over the spatial axes; gamma/beta per channel."""
    data = to_nd(data)
    if data.ndim < 3:
        raise ValueError(f"instance_norm needs (N, C, ...) data with spatial axes, got "
                         f"{data.shape}")
    y, _, _ = apply(_normalize, (data, _shaped(gamma, data, 1, "gamma"),
                                 _shaped(beta, data, 1, "beta")),
                    {"axes": tuple(range(2, data.ndim)), "eps": float(eps), "fix_gamma": False})
    return y


def group_norm(data, gamma, beta, num_groups=1, eps=1e-5, output_mean_var=False):
    """Normalize each group of ``C / num_groups`` channels (with the spatial axes) per
    sample; ``gamma``/``beta`` are per channel (C,)."""
    data = to_nd(data)
    n, c = data.shape[:2]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels do not split into {num_groups} groups")
    grouped = data.reshape((n, num_groups, c // num_groups) + data.shape[2:])
    y, mean, var = apply(_normalize, (grouped, None, None),
                         {"axes": tuple(range(2, grouped.ndim)), "eps": float(eps),
                          "fix_gamma": False})
    y = y.reshape(data.shape)
    if gamma is not None:
        y = y * _shaped(gamma, data, 1, "gamma")
    if beta is not None:
        y = y + _shaped(beta, data, 1, "beta")
    if output_mean_var:
        return y, mean.reshape((n, num_groups)), var.reshape((n, num_groups))
    return y

