"""User-defined differentiable functions (MXNet's ``autograd.Function``)."""
from ..base import MXNetError
from ..ndarray import ndarray, wrap
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
        with pause(_state.training):
            outputs = self.forward(*inputs)
        single = isinstance(outputs, ndarray)
        outs = (outputs,) if single else tuple(outputs)
        if _state.recording and any(isinstance(a, ndarray) and a._node is not None
                                    for a in inputs):
            dev = device_of(inputs)
            fop = Op(type(self).__name__, None, _FunctionBackward(self, outs, dev),
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


class _FunctionBackward:
    __slots__ = ("fn", "out_shapes", "device")

    def __init__(self, fn, outs, device):
        self.fn = fn
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
        res = (res,) if isinstance(res, ndarray) else tuple(res)
        if len(res) != len(ctx.inputs):
            raise MXNetError(f"{type(self.fn).__name__}.backward returned {len(res)} gradients "
                             f"for {len(ctx.inputs)} inputs; return one per forward input")
        if raw:
            return tuple(r._data if isinstance(r, ndarray) else r for r in res)
        return res
