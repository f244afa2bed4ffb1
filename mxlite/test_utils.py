"""Testing helpers (MXNet's ``mx.test_utils``): the float64 finite-difference checker and
the parts of MXNet's test_utils API that MXNet's numpy-operator tests call (``same``,
``assert_almost_equal`` with MXNet's per-dtype default tolerances, ``rand_ndarray``,
``rand_shape_nd``, ``use_np``, ``collapse_sum_like``, the eigenvalue-matrix makers and the
chi-square sampler check ``verify_generator``)."""
import contextlib
import numbers
import os
import sys

import numpy as _np

from . import autograd, fileio
from .device import Device, current_device, set_default_device
from .ndarray import ndarray, wrap
from .util import use_np_default_dtype  # noqa: F401 - MXNet's test_utils re-exports it

__all__ = ["check_gradient", "numeric_gradient", "central_difference", "gpu_unusable_reason",
           "assert_almost_equal", "almost_equal", "same", "default_rtols", "default_atols",
           "get_rtol", "get_atol", "get_tols", "effective_dtype", "rand_shape_2d",
           "rand_shape_3d", "rand_shape_nd", "random_arrays", "rand_ndarray", "use_np",
           "collapse_sum_like", "is_op_runnable", "has_tvm_ops", "default_device",
           "default_context", "new_matrix_with_real_eigvals_2d",
           "new_matrix_with_real_eigvals_nd", "new_sym_matrix_with_real_eigvals_2d",
           "new_sym_matrix_with_real_eigvals_nd", "gen_buckets_probs_with_ppf",
           "verify_generator", "mean_check", "var_check", "chi_square_check",
           "assert_exception", "discard_stderr", "assert_allclose", "environment",
           "use_np_default_dtype", "download", "set_default_device", "set_default_context"]


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


def same(a, b):
    """Whether two arrays are equal elementwise and in shape (MXNet's ``same``)."""
    return _np.array_equal(_host(a), _host(b))


def _host(x):
    return x.asnumpy() if isinstance(x, ndarray) else x


def default_rtols():
    """MXNet's default relative tolerance per dtype."""
    return {_np.dtype(_np.float16): 1e-2, _np.dtype(_np.float32): 1e-4,
            _np.dtype(_np.float64): 1e-5, _np.dtype(_np.bool_): 0, _np.dtype(_np.int8): 0,
            _np.dtype(_np.uint8): 0, _np.dtype(_np.int32): 0, _np.dtype(_np.uint32): 0,
            _np.dtype(_np.int64): 0, _np.dtype(_np.uint64): 0}


def default_atols():
    """MXNet's default absolute tolerance per dtype."""
    return {_np.dtype(_np.float16): 1e-1, _np.dtype(_np.float32): 1e-3,
            _np.dtype(_np.float64): 1e-20, _np.dtype(_np.bool_): 0, _np.dtype(_np.int8): 0,
            _np.dtype(_np.uint8): 0, _np.dtype(_np.int32): 0, _np.dtype(_np.uint32): 0,
            _np.dtype(_np.int64): 0, _np.dtype(_np.uint64): 0}


def effective_dtype(dat):
    """The dtype whose precision ``dat``'s computations have (MXNet lowers float32 to float16
    where a GPU computes it in TF32; mxlite computes in the dtype itself)."""
    return _np.dtype(getattr(dat, "dtype", _np.float64))


def _get_tol(tol, dat, tols):
    if tol is None:
        return tols.get(effective_dtype(dat), 0)
    if isinstance(tol, dict):
        return tol.get(effective_dtype(dat), 0)
    return tol


def get_rtol(rtol=None, dtype=_np.dtype(_np.float64)):
    return _get_tol(rtol, _np.zeros((), dtype), default_rtols())


def get_atol(atol=None, dtype=_np.dtype(_np.float64)):
    return _get_tol(atol, _np.zeros((), dtype), default_atols())


def get_tols(x, y, rtol, atol):
    """The tolerances comparing ``x`` with ``y``: the given ones, or the larger default of
    their dtypes."""
    x = _np.array(x) if isinstance(x, numbers.Number) else x
    y = _np.array(y) if isinstance(y, numbers.Number) else y
    rtol = max(_get_tol(rtol, x, default_rtols()), _get_tol(rtol, y, default_rtols()))
    atol = max(_get_tol(atol, x, default_atols()), _get_tol(atol, y, default_atols()))
    return rtol, atol


def _check_shapes(a, b):
    if _np.shape(a) != _np.shape(b):
        raise AssertionError(f"shapes differ: {_np.shape(a)} != {_np.shape(b)} "
                             "(use_broadcast=False)")


def almost_equal(a, b, rtol=None, atol=None, equal_nan=False, use_broadcast=True):
    """Whether ``|a - b| <= atol + rtol * |b|`` everywhere (MXNet's ``almost_equal``)."""
    a, b = _host(a), _host(b)
    if not use_broadcast:
        _check_shapes(a, b)
    rtol, atol = get_tols(a, b, rtol, atol)
    return bool(_np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def assert_almost_equal(a, b, rtol=None, atol=None, names=("a", "b"), equal_nan=False,
                        use_broadcast=True, mismatches=(10, 10)):
    """Assert ``|a - b| <= atol + rtol * |b|`` elementwise (mxlite arrays, numpy arrays or
    scalars), with MXNet's defaults: tolerances from the dtypes when not given, bool arrays
    compared exactly, shapes broadcast unless ``use_broadcast=False``."""
    a, b = _host(a), _host(b)
    if not use_broadcast:
        _check_shapes(a, b)
    elif _np.shape(a) != _np.shape(b):
        a, b = _np.broadcast_arrays(a, b)  # MXNet compares with np.allclose, which broadcasts
    rtol, atol = get_tols(a, b, rtol, atol)
    if getattr(a, "dtype", None) == _np.bool_ and getattr(b, "dtype", None) == _np.bool_:
        _np.testing.assert_equal(a, b)
        return
    a64 = _np.asarray(a).astype(_np.float64) if _np.asarray(a).dtype.kind in "biuf" else a
    b64 = _np.asarray(b).astype(_np.float64) if _np.asarray(b).dtype.kind in "biuf" else b
    _np.testing.assert_allclose(a64, b64, rtol=rtol, atol=atol, equal_nan=equal_nan,
                                err_msg=f"{names[0]} vs {names[1]}")


def assert_allclose(a, b, rtol=1e-07, atol=0, equal_nan=True):
    """``assert_almost_equal`` with numpy's ``assert_allclose`` defaults (MXNet's helper)."""
    assert_almost_equal(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


@contextlib.contextmanager
def environment(*args):
    """Set environment variables for the ``with`` body, restoring them afterwards even on
    error (MXNet's helper): ``environment(name, value)`` or ``environment({name: value})``;
    a value of None unsets the variable."""
    if len(args) == 2:
        settings = {args[0]: args[1]}
    elif len(args) == 1 and isinstance(args[0], dict):
        settings = dict(args[0])
    else:
        raise ValueError("environment() takes (name, value) or one dict {name: value}")
    saved = {name: os.environ.get(name) for name in settings}
    try:
        for name, value in settings.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)


def _set_env(name, value):
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = str(value)


def assert_exception(f, exception_type, *args, **kwargs):
    """Assert ``f(*args, **kwargs)`` raises ``exception_type``."""
    try:
        f(*args, **kwargs)
    except exception_type:
        return
    raise AssertionError(f"{getattr(f, '__name__', f)} did not raise "
                         f"{getattr(exception_type, '__name__', exception_type)}")


def rand_shape_2d(dim0=10, dim1=10, allow_zero_size=False):
    low = 0 if allow_zero_size else 1
    return _np.random.randint(low, dim0 + 1), _np.random.randint(low, dim1 + 1)


def rand_shape_3d(dim0=10, dim1=10, dim2=10, allow_zero_size=False):
    low = 0 if allow_zero_size else 1
    return (_np.random.randint(low, dim0 + 1), _np.random.randint(low, dim1 + 1),
            _np.random.randint(low, dim2 + 1))


def rand_shape_nd(num_dim, dim=10, allow_zero_size=False):
    """A random shape of ``num_dim`` axes, each of length 1..dim (0..dim with zeros)."""
    low = 0 if allow_zero_size else 1
    return tuple(int(n) for n in _np.random.randint(low, dim + 1, size=num_dim))


def random_arrays(*shapes):
    """Standard-normal host arrays (float32) of the given shapes; one array for one shape."""
    arrays = [_np.array(_np.random.randn(), dtype=_np.float32) if len(s) == 0
              else _np.random.randn(*s).astype(_np.float32) for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def rand_ndarray(shape, stype="default", density=None, dtype=None, modifier_func=None,
                 shuffle_csr_indices=False, distribution=None, ctx=None, device=None):
    """A standard-normal array of ``shape`` (MXNet's dense ``rand_ndarray``; sparse storage
    types are not part of mxlite)."""
    if stype != "default":
        raise NotImplementedError(f"mxlite has no sparse storage (stype={stype!r})")
    from . import numpy as mxnp
    host = _np.asarray(random_arrays(tuple(shape)))
    if modifier_func is not None:
        host = _np.asarray(modifier_func(host))
    return mxnp.array(host, dtype=dtype or _np.float32, device=device or ctx)


def use_np(func_or_cls):
    """MXNet's decorator switching numpy semantics on: mxlite always has them, so it returns
    its argument unchanged."""
    return func_or_cls


def collapse_sum_like(a, shape):
    """Sum host array ``a`` down to ``shape`` (the reverse of broadcasting to ``a.shape``),
    as backward sums a broadcast gradient (``autograd.sum_to``)."""
    return autograd.sum_to(_np.asarray(_host(a)), tuple(shape))


def is_op_runnable():
    """Whether ops needing MXNet's GPU compute capability 5.3+ run (always, on mxlite)."""
    return True


def has_tvm_ops():
    """Whether MXNet's TVM-generated operators are built in (never: mxlite has none)."""
    return False


def default_device():
    return current_device()


default_context = default_device
set_default_context = set_default_device


def new_matrix_with_real_eigvals_2d(n):
    """A random ``n x n`` matrix with real eigenvalues (a similarity transform of a
    diagonal matrix with distinct eigenvalues)."""
    shape = (n, n)
    q = _np.ones(shape)
    while abs(_np.linalg.det(q)) < 1e-2:
        q = _np.random.uniform(-1.0, 1.0, shape)
    d = _np.diag(_np.random.permutation(_np.arange(1, n + 1)) * 1.0
                 + _np.random.uniform(-0.1, 0.1, n))
    return q @ d @ _np.linalg.inv(q)


def _stack_of(make, shape):
    """``make(n)`` square matrices stacked to ``shape`` (the last two axes are n x n)."""
    mats = [make(shape[-1]) for _ in range(int(_np.prod(shape[:-2])))]
    return _np.array(mats).reshape(shape)


def new_matrix_with_real_eigvals_nd(shape):
    """A stack of square matrices (the last two axes) with real eigenvalues."""
    return _stack_of(new_matrix_with_real_eigvals_2d, shape)


def new_sym_matrix_with_real_eigvals_2d(n):
    """A random symmetric ``n x n`` matrix (so with real eigenvalues)."""
    q, _ = _np.linalg.qr(_np.random.uniform(-1.0, 1.0, (n, n)))
    d = _np.diag(_np.random.uniform(-1.0, 1.0, n))
    m = q @ d @ q.T
    return (m + m.T) / 2


def new_sym_matrix_with_real_eigvals_nd(shape):
    return _stack_of(new_sym_matrix_with_real_eigvals_2d, shape)


def gen_buckets_probs_with_ppf(ppf, nbuckets):
    """``nbuckets`` equal-probability buckets of a distribution given by its inverse CDF."""
    probs = [1.0 / nbuckets for _ in range(nbuckets)]
    buckets = [(ppf(i / float(nbuckets)), ppf((i + 1) / float(nbuckets)))
               for i in range(nbuckets)]
    return buckets, probs


def mean_check(generator, mu, sigma, nsamples=1000000):
    samples = _np.asarray(_host(generator(nsamples)))
    return abs(samples.mean() - mu) < 3 * sigma / _np.sqrt(nsamples)


def var_check(generator, sigma, nsamples=1000000):
    samples = _np.asarray(_host(generator(nsamples)))
    return abs(samples.var() - sigma ** 2) < 3 * _np.sqrt(2 * sigma ** 4 / (nsamples - 1))


def chi_square_check(generator, buckets, probs, nsamples=1000000):
    """Pearson's chi-square test of ``generator(nsamples)`` against bucket probabilities;
    ``buckets`` are (low, high) ranges or discrete values. Returns (p-value, observed
    frequencies, expected frequencies)."""
    import scipy.stats as ss
    samples = _np.asarray(_host(generator(nsamples))).ravel()
    if isinstance(buckets[0], (list, tuple)):
        edges = _np.array([b[0] for b in buckets] + [buckets[-1][1]], dtype=_np.float64)
        if not _np.all(_np.diff(edges) >= 0):
            raise ValueError("buckets must be sorted ranges")
        if len(edges) <= 32:  # a pass per edge beats histogram's sort of a million samples
            at_least = [_np.count_nonzero(samples >= e) for e in edges[:-1]]
            obs = -_np.diff(at_least + [_np.count_nonzero(samples > edges[-1])])
        else:
            obs, _ = _np.histogram(samples, bins=edges)
    else:
        obs = _np.array([(samples == b).sum() for b in buckets])
    expected = _np.asarray(probs, dtype=_np.float64) * nsamples
    _, p = ss.chisquare(f_obs=obs.astype(_np.float64), f_exp=expected * obs.sum() / expected.sum())
    return p, obs, expected


def verify_generator(generator, buckets, probs, nsamples=1000000, nrepeat=5,
                     success_rate=0.2, alpha=0.05):
    """Assert ``generator`` passes the chi-square test at level ``alpha`` in at least
    ``success_rate`` of ``nrepeat`` runs (MXNet's sampler check). Returns the p-values."""
    cs_ret = [chi_square_check(generator, buckets, probs, nsamples)[0] for _ in range(nrepeat)]
    passed = sum(p > alpha for p in cs_ret)
    if passed < success_rate * nrepeat:
        raise AssertionError(f"generator failed the chi-square test: p-values {cs_ret}")
    return cs_ret


@contextlib.contextmanager
def discard_stderr():
    """Silence the process's standard error (file descriptor 2, so native libraries' messages
    too, and sys.stderr) for a test that provokes expected warnings (MXNet's helper)."""
    sys.stderr.flush()
    saved_fd, saved_stream = os.dup(2), sys.stderr
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            sys.stderr = null  # Python's own writes too, where sys.stderr is not fd 2
            yield
    finally:
        sys.stderr = saved_stream
        os.dup2(saved_fd, 2)
        os.close(saved_fd)


def download(url, fname=None, dirname=None, overwrite=False, retries=5):
    """MXNet's test download: ``url`` to ``dirname/fname`` (``fname`` defaults to the URL's
    last part; ``dirname`` is created), kept if present unless ``overwrite``; returns the
    path. The fetch is ``gluon.utils.download``'s (complete files only, clear offline error)."""
    fname = fname or url.rstrip("/").split("/")[-1]
    if dirname is not None:
        fname = os.path.join(dirname, fname)
    return fileio.download(url, fname, overwrite=overwrite, retries=retries)
