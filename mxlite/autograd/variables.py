"""Variables: marking arrays whose gradients are wanted, and the gradient methods of
``ndarray`` (``attach_grad``, ``grad``, ``backward``, ``detach``, ``drop_grad``).
"""
from .. import storage
from ..ndarray import ndarray, wrap
from .engine import as_list, backward
from .op import Node

__all__ = ["GRAD_REQS", "check_grad_req", "mark_variables", "set_grad_ready_hook"]


GRAD_REQS = ("write", "add", "null")


def check_grad_req(grad_req):
    """``grad_req`` if it is one of MXNet's three, else a ValueError that lists them."""
    if grad_req not in GRAD_REQS:
        raise ValueError(f"grad_req must be one of {GRAD_REQS}, got {grad_req!r}")
    return grad_req


def _mark(array, grad_buffer, grad_req):
    check_grad_req(grad_req)
    node = array._node
    previous = node.bufs.get(array._oidx) if node is not None and node.bufs else None
    hook = previous[3] if previous is not None else None  # a new buffer keeps its hook
    if node is None or node.op is None:
        node = Node(None, None, None, None, None, array._device.backend)
        array._node = node
        array._oidx = 0
    if node.bufs is None:
        node.bufs = {}
    node.bufs[array._oidx] = [grad_buffer if grad_req != "null" else None, grad_req, False,
                              hook]


def set_grad_ready_hook(array, hook):
    """Call ``hook(grad_buffer)`` each time ``backward`` has finished writing ``array``'s
    gradient (before the rest of backward runs, for arrays that are not outputs of recorded
    ops); ``None`` removes it. Data-parallel training starts communicating from here."""
    node = array._node
    if node is None or not node.bufs or array._oidx not in node.bufs:
        raise ValueError(f"set_grad_ready_hook: the array of shape {array.shape} has no "
                         "gradient buffer; call attach_grad() first")
    node.bufs[array._oidx][3] = hook


def mark_variables(variables, gradients, grad_reqs="write"):
    """Mark arrays as variables whose gradients go to the given buffers."""
    variables = as_list(variables)
    gradients = as_list(gradients)
    reqs = [grad_reqs] * len(variables) if isinstance(grad_reqs, str) else list(grad_reqs)
    if not len(variables) == len(gradients) == len(reqs):
        raise ValueError("variables, gradients and grad_reqs must have the same length")
    for v, g, r in zip(variables, gradients, reqs):
        _mark(v, g, r)


def _attach_grad(self, grad_req="write", stype=None):
    """Allocate a zero gradient buffer (resetting any earlier one) and mark as a variable.

    On an intermediate result inside ``record`` the gradient is kept and still flows on.
    """
    if stype not in (None, "default"):
        raise ValueError(f"only dense gradients are supported, got stype={stype!r}")
    buf = wrap(storage.zeros(self._device, self.shape, self.dtype), self._device)
    _mark(self, buf, grad_req)


def _drop_grad(self):
    node = self._node
    if node is not None and node.bufs:
        node.bufs.pop(self._oidx, None)
        if node.op is None and not node.bufs:
            self._node = None


def _grad_buf(self):
    node = self._node
    if node is None or not node.bufs or self._oidx not in node.bufs:
        return None
    return node.bufs[self._oidx][0]


def _fresh_grad_get(self):
    node = self._node
    return bool(node and node.bufs and node.bufs.get(self._oidx, (0, 0, False))[2])


def _fresh_grad_set(self, value):
    node = self._node
    if node is not None and node.bufs and self._oidx in node.bufs:
        node.bufs[self._oidx][2] = bool(value)


def _detach(self):
    return wrap(self._data, self._device)


def _backward_method(self, out_grad=None, retain_graph=False, train_mode=True):
    backward([self], [out_grad], retain_graph=retain_graph, train_mode=train_mode)


ndarray.attach_grad = _attach_grad
ndarray.drop_grad = _drop_grad
ndarray.grad = property(_grad_buf, doc="The gradient buffer, or None if none is attached.")
ndarray._fresh_grad = property(_fresh_grad_get, _fresh_grad_set)
ndarray.detach = _detach
ndarray.backward = _backward_method
