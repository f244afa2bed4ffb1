"""Testing helpers (MXNet's ``mx.test_utils``): the float64 finite-difference checker."""
import numpy as _np

from . import autograd
from .device import Device, current_device
from .ndarray import ndarray, wrap

__all__ = ["check_gradient", "numeric_gradient", "central_difference", "gpu_unusable_reason", "assert_almost_equal"]


def gpu_unusable_reason(device_id=0):
    """Why ``gpu(device_id)`` cannot run tests here, or None when it can."""
    from .backend.gpu import gpu_unusable_reason as reason
    return reason(device_id)


def _to_device(host, device):
    dev = Device(device or current_device())
    return wrap(dev.backend.asarray(_np.array(host, dtype=_np.float64)), dev)


def _outputs(res):
    return tuple(res) if isinstance(res, (tuple, list)) else (res,)


def central_difference(f, x, eps=1e-6):
    """The gradient of the scalar ``f`` at host array ``x`` by float64 central differences.

    ``f`` gets an array shaped like ``x`` (perturbed in place between calls, so it must not
    keep it) and returns a float.
    """
    x = _np.array(x, dtype=_np.float64)
    grad = _np.zeros_like(x)
    for idx in _np.ndindex(*x.shape):
        orig = x[idx]
        x[idx] = orig + eps
        up = f(x)
        x[idx] = orig - eps
        down = f(x)
        x[idx] = orig
        grad[idx] = (up - down) / (2 * eps)
    return grad


def numeric_gradient(fn, inputs, projections, device=None, eps=1e-6):
    """Central differences of ``sum(proj * fn(*inputs))`` with respect to each input."""
    xs = [_np.array(x, dtype=_np.float64) for x in inputs]

    def value(k, xk):
        args = xs[:k] + [xk] + xs[k + 1:]
        with autograd.pause():
            outs = _outputs(fn(*[_to_device(x, device) for x in args]))
        return sum(float((o.asnumpy().astype(_np.float64) * p).sum())
                   for o, p in zip(outs, projections))

    return [central_difference(lambda xk, k=k: value(k, xk), xs[k], eps) for k in range(len(xs))]


def check_gradient(fn, *inputs, device=None, eps=1e-6, rtol=1e-5, atol=1e-6, seed=0):
    """Assert autograd's gradients of ``fn`` match float64 central differences.

    ``inputs`` are host arrays (any shape, 0-d and size-0 included); ``fn`` maps mxlite
    arrays to an array or a tuple of arrays. Outputs are contracted with a fixed random
    projection, so every output element's gradient is checked, not only their sum.
    Returns the analytic gradients.
    """
    rng = _np.random.default_rng(seed)
    arrays = [_to_device(x, device) for x in inputs]
    for a in arrays:
        a.attach_grad()
    with autograd.record():
        outs = _outputs(fn(*arrays))
    for o in outs:
        if not isinstance(o, ndarray):
            raise TypeError(f"fn must return mxlite arrays, got {type(o).__name__}")
    projections = [rng.standard_normal(o.shape) for o in outs]
    heads = [_to_device(p, o.device).astype(o.dtype) for o, p in zip(outs, projections)]
    autograd.backward(list(outs), heads)
    analytic = [a.grad.asnumpy() for a in arrays]
    numeric = numeric_gradient(fn, inputs, projections, device=device, eps=eps)
    for k, (got, want) in enumerate(zip(analytic, numeric)):
        assert got.shape == want.shape, f"input {k}: gradient shape {got.shape} != {want.shape}"
        _np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                    err_msg=f"gradient of input {k} (shape {want.shape})")
    return analytic


def assert_almost_equal(a, b, rtol=1e-5, atol=1e-7, equal_nan=False):
    """Compare mxlite arrays, numpy arrays or scalars elementwise."""
    a = a.asnumpy() if isinstance(a, ndarray) else _np.asarray(a)
    b = b.asnumpy() if isinstance(b, ndarray) else _np.asarray(b)
    _np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
