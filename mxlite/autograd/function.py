"""User-defined differentiable functions (MXNet's ``autograd.Function``)."""
from ..base import MXNetError
from ..ndarray import ndarray, untraceable, wrap
from .engine import RawContext
from .op import NO_PARAMS, Node, Op, device_of
from .state import pause, state as _state

__all__ = ["Function"]


class Function:
    """A user-defined differentiable function (MXNet's ``autograd.Function``).

    Subclass and define ``forward(*inputs)`` and ``backward(*output_grads)`` over ndarrays;
    ``backward`` returns one gradient per input. Each instance is called once.
    """

    def __init__(self):
        self._used = False
        self.saved_tensors = ()

    def save_for_backward(self, *args):
        self.saved_tensors = args

    def __call__(self, *inputs):
        if self._used:
            raise MXNetError(f"{type(self).__name__} instance was already called; "
                             "create a new instance for each call")
        self._used = True
        untraceable("a custom autograd.Function, whose Python backward a graph cannot replay")
        with pause(_state.training):
            outputs = self.forward(*inputs)
        single = isinstance(outputs, ndarray)
        outs = (outputs,) if single else tuple(outputs)
        if _state.recording and any(isinstance(a, ndarray) and a._node is not None
                                    for a in inputs):
            dev = device_of(inputs)
            fop = Op(type(self).__name__, None, _FunctionBackward(self, inputs, outs, dev),
                     nout=len(outs), anonymous=True)
            node = Node(fop, inputs, NO_PARAMS, None, None, dev.backend)
            for i, o in enumerate(outs):
                o._node = node
                o._oidx = i
        return outputs

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, *output_grads):
        raise NotImplementedError


def _check_gradient(name, i, grad, shape, device):
    """A gradient ``backward`` returned for input ``i`` (of ``shape`` on ``device``; None for
    a constant) must match it; None means no gradient."""
    if grad is None or shape is None:
        return
    where = f"{name}.backward: the gradient for input {i}"
    if not isinstance(grad, ndarray):
        kind = type(grad)
        raise MXNetError(f"{where} is a {kind.__module__.split('.')[0]}.{kind.__qualname__}, "
                         f"expected an mxlite ndarray; wrap it with mx.np.array(..., "
                         f"device={device}) or compute it with mx.np operations")
    if grad.device is not device:
        raise MXNetError(f"{where} is on {grad.device} but the input is on {device}; "
                         f"return it on the input's device (.to_device({device}))")
    if grad.shape != shape:
        raise MXNetError(f"{where} has shape {grad.shape} but the input has shape {shape}; "
                         "return one gradient of each input's shape")


class _FunctionBackward:
    __slots__ = ("fn", "in_shapes", "out_shapes", "device")

    def __init__(self, fn, inputs, outs, device):
        self.fn = fn
        self.in_shapes = [a.shape if isinstance(a, ndarray) else None for a in inputs]
        self.out_shapes = [(o.shape, o.dtype) for o in outs]
        self.device = device

    def __call__(self, ctx, g):
        gs = (g,) if len(self.out_shapes) == 1 else g
        xp = self.device.backend.xp
        gs = tuple(xp.zeros(s, dtype=d) if x is None else x
                   for x, (s, d) in zip(gs, self.out_shapes))
        raw = isinstance(ctx, RawContext)
        if raw:
            gs = tuple(wrap(x, self.device) for x in gs)
            with pause(_state.training):
                res = self.fn.backward(*gs)
        else:
            res = self.fn.backward(*gs)
        res = (res,) if isinstance(res, ndarray) or not isinstance(res, (tuple, list)) \
            else tuple(res)
        name = type(self.fn).__name__
        if len(res) != len(ctx.inputs):
            raise MXNetError(f"{name}.backward returned {len(res)} gradients for "
                             f"{len(ctx.inputs)} inputs; return one per forward input")
        for i, (r, shape) in enumerate(zip(res, self.in_shapes)):
            _check_gradient(name, i, r, shape, self.device)
        if raw:
            return tuple(r._data if isinstance(r, ndarray) else r for r in res)
        return res
