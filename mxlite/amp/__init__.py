"""``mx.amp``: automatic mixed precision, as MXNet's.

::

    amp.init(target_dtype="float16")        # or "bfloat16"
    net = ...; trainer = gluon.Trainer(net.collect_params(), "adam", ...)
    amp.init_trainer(trainer)               # loss scaler + float32 master weights
    with autograd.record():
        loss = loss_fn(net(x), y)
        with amp.scale_loss(loss, trainer) as scaled:
            autograd.backward(scaled)
    trainer.step(batch_size)                # skipped (and the scale halved) on inf/nan

``init`` installs a cast policy in the op dispatch (``autograd.op.set_cast_policy``): before
an op runs, its float inputs are cast as the op's row in ``amp.lists.OPS`` says (matrix
products in the target dtype, softmax/losses/exp/log/statistics in float32, elementwise
combinations in their widest input's dtype). The casts are ops on the tape, so gradients
come back to each parameter in its own dtype. ``reset`` removes the policy.

float16 trains with a dynamic loss scale (``LossScaler``: MXNet's defaults); bfloat16 has
float32's exponent range and trains at a fixed scale of 1, still skipping non-finite steps.
"""
import contextlib

import numpy as _np

from ..autograd import apply, registered_op
from ..autograd.op import cast_policy, set_cast_policy
from ..base import bfloat16, float16, float32, is_floating
from ..gluon import HybridBlock, Trainer
from ..ndarray import ndarray
from . import lists
from .loss_scaler import LossScaler, all_finite

__all__ = ["init", "reset", "is_initialized", "target_dtype", "init_trainer", "scale_loss",
           "unscale", "convert_hybrid_block", "convert_model", "LossScaler",
           "all_finite", "lists"]

_TARGETS = {"float16": float16, "bfloat16": bfloat16}


def _target(dtype):
    name = _np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _TARGETS:
        raise ValueError(f"amp: target_dtype must be 'float16' or 'bfloat16', got {dtype!r}")
    return _TARGETS[name]


class CastPolicy:
    """The dispatch hook: casts an op's float ndarray inputs to the precision its row in
    ``table`` names (ops not in the table get their inputs unchanged)."""

    def __init__(self, target_dtype, table):
        self.target_dtype = _target(target_dtype)
        for name in table:
            try:
                registered_op(name)
            except KeyError:
                raise ValueError(f"amp: no op is declared as {name!r}; the names are those of "
                                 f"mxlite.autograd.registered_op (amp.lists.OPS lists the "
                                 f"defaults)") from None
        self.table = table
        self._astype = registered_op("astype")

    def __call__(self, op, args):
        kind = self.table.get(op.name)
        if kind is None:
            return args
        floats = {a.dtype for a in args if isinstance(a, ndarray) and is_floating(a.dtype)}
        if kind == lists.TARGET:
            want = self.target_dtype
        elif kind == lists.FLOAT32:
            want = float32 if floats & {float16, bfloat16} else None
        else:  # WIDEST
            want = _widest(floats) if len(floats) > 1 else None
        if want is None or floats <= {want}:
            return args
        return tuple(apply(self._astype, (a,), {"dtype": want})
                     if isinstance(a, ndarray) and a.dtype != want and is_floating(a.dtype)
                     else a for a in args)


def _widest(dtypes):
    """The float dtype all of ``dtypes`` fit in: float16 with bfloat16 meet in float32."""
    widest = max(dtypes, key=lambda d: d.itemsize)
    if widest.itemsize == 2 and len(dtypes) > 1:
        return float32
    return widest


def init(target_dtype="float16", target_precision_ops=None, conditional_fp32_ops=None,
         fp32_ops=None, widest_precision_ops=None, layout_optimization=False):
    """Turn AMP on: every op dispatch casts its inputs per ``amp.lists.OPS``, with the given
    op names moved to the target, float32 or widest row. Calling it again replaces the
    policy (MXNet ignores a second call; mxlite lets a test switch dtypes).

    ``conditional_fp32_ops`` (MXNet: ops that run in float32 for some parameter values) has
    no mxlite op to name and must stay None; ``layout_optimization`` is accepted and ignored
    (mxlite picks no layouts).
    """
    if conditional_fp32_ops:
        raise ValueError("amp.init: mxlite has no conditionally-float32 ops; list the op names "
                         "in fp32_ops instead (amp.lists.OPS shows every op's row)")
    set_cast_policy(CastPolicy(target_dtype, lists.table(target_precision_ops, fp32_ops,
                                                         widest_precision_ops)))


def reset():
    """Turn AMP off: ops run on the dtypes they are given again."""
    set_cast_policy(None)


def is_initialized():
    return cast_policy() is not None


def target_dtype():
    """The dtype ``init`` chose, or None while AMP is off."""
    policy = cast_policy()
    return policy.target_dtype if policy is not None else None


def init_trainer(trainer):
    """Give ``trainer`` a loss scaler (dynamic for float16, fixed at 1 for bfloat16) that
    ``Trainer.step`` consults to skip steps with inf/nan gradients, and float32 master
    weights for its 16-bit parameters (``multi_precision=True``)."""
    if not isinstance(trainer, Trainer):
        raise TypeError(f"amp.init_trainer takes a gluon.Trainer, got {type(trainer).__name__}")
    target = target_dtype()
    if target is None:
        raise RuntimeError("amp.init_trainer: call amp.init(target_dtype=...) first")
    trainer._amp_loss_scaler = (LossScaler() if target == float16
                                else LossScaler(init_scale=1.0, dynamic=False))
    trainer._amp_original_scale = trainer._scale
    trainer.optimizer.multi_precision = True


def _scaler(trainer):
    scaler = trainer._amp_loss_scaler
    if scaler is None:
        raise RuntimeError("amp: call amp.init_trainer(trainer) before scale_loss/unscale")
    return scaler


@contextlib.contextmanager
def scale_loss(loss, trainer):
    """Yield ``loss`` (or a list of losses) times the loss scale for backward; the trainer's
    next step divides the gradients by the same scale. Inside the block numpy does not warn
    of overflow: an overflowing scaled backward is expected, and the step skips it."""
    scale = _scaler(trainer).loss_scale
    trainer._scale = trainer._amp_original_scale / scale
    with _np.errstate(over="ignore", invalid="ignore"):
        if isinstance(loss, (list, tuple)):
            yield [l * scale for l in loss]
        else:
            yield loss * scale


def unscale(trainer):
    """Divide the gradients by the loss scale now (e.g. to clip them before ``step``); the
    step then rescales by the original factor only (MXNet's ``amp.unscale``)."""
    _scaler(trainer)
    for param in trainer._params:
        if param.grad_req == "null":
            continue
        for grad in param.list_grad():
            grad._data *= trainer._scale / trainer._amp_original_scale
    trainer._scale = trainer._amp_original_scale


def convert_hybrid_block(block, target_dtype="float16", target_dtype_ops=None, fp32_ops=None,
                         conditional_fp32_ops=None, excluded_sym_names=None, device=None,
                         cast_params_offline=False):
    """``block`` for 16-bit inference: its parameters cast to ``target_dtype`` (normalization
    layers keep theirs in float32) inside a block that runs it under the AMP policy, so the
    result is right without ``amp.init``. ``target_dtype_ops``/``fp32_ops`` move op names
    between the table's rows for this block only."""
    target = _target(target_dtype)
    if not isinstance(block, HybridBlock):
        raise TypeError(f"convert_hybrid_block takes a gluon.HybridBlock, got "
                        f"{type(block).__name__}")
    if conditional_fp32_ops or excluded_sym_names:
        raise ValueError("convert_hybrid_block: mxlite runs no symbol graph, so it has no "
                         "conditional_fp32_ops or excluded_sym_names; pass op names in "
                         "fp32_ops instead")
    block.cast(target)
    return _AmpBlock(block, target, lists.table(target_dtype_ops, fp32_ops))



def convert_model(sym, arg_params=None, aux_params=None, target_dtype="float16", **kwargs):
    """MXNet's symbolic conversion for mxlite's only graphs, blocks: ``(converted block,
    arg_params, aux_params)`` with the parameter dicts cast as ``convert_hybrid_block``
    casts a block's (names ending in gamma/beta/running_mean/running_var stay float32)."""
    if not isinstance(sym, HybridBlock):
        raise TypeError("amp.convert_model: mxlite has no symbolic graphs; pass the model as a "
                        f"gluon.HybridBlock (got {type(sym).__name__}), or use "
                        "amp.convert_hybrid_block")
    target = _target(target_dtype)

    def cast(params):
        if params is None:
            return None
        return {name: value if name.endswith(_FLOAT32_PARAMS) or not is_floating(value.dtype)
                else value.astype(target) for name, value in params.items()}
    return convert_hybrid_block(sym, target, **kwargs), cast(arg_params), cast(aux_params)


_FLOAT32_PARAMS = ("gamma", "beta", "running_mean", "running_var")


class _AmpBlock(HybridBlock):
    """A converted block: runs ``net`` with the AMP cast policy installed."""

    def __init__(self, net, target, table):
        super().__init__()
        self.net = net
        self._policy = CastPolicy(target, table)

    def forward(self, *args):
        previous = cast_policy()
        set_cast_policy(self._policy)
        try:
            return self.net(*args)
        finally:
            set_cast_policy(previous)
