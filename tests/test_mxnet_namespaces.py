"""MXNet 2.x's namespaces and helpers around the arrays: mx.context, mx.util, mx.random,
npx's device, reshape, slice and DLPack helpers, numpy interop, the legacy-API errors."""
import warnings

import numpy as onp
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.test_utils import check_gradient

mnp, npx = mx.np, mx.npx


def test_context_module_is_the_device_api():
    assert mx.context.Context is mx.Device
    assert mx.context.current_context() == mx.cpu()
    with mx.context.Context("cpu", 1):
        assert mx.context.current_context() == mx.cpu(1)
    assert mx.context.num_gpus() == npx.num_gpus() == mx.util.get_gpu_count() >= 0
    assert npx.cpu(2) == mx.cpu(2) and npx.gpu(1) == mx.gpu(1)


def test_util_switches_numpy_semantics_on_only():
    @mx.util.use_np
    class Net:
        pass

    assert mx.util.use_np(len) is len and isinstance(Net, type)
    assert mx.util.is_np_array() and mx.util.is_np_shape() and npx.is_np_array()
    with mx.util.np_shape(True), mx.util.np_array(True):
        mx.util.set_np()
        npx.set_np(shape=True, array=True)
    with pytest.raises(ValueError, match="shape=False cannot be set"):
        mx.util.set_np(shape=False)
    with pytest.raises(ValueError, match="legacy mode"):
        mx.util.set_np_shape(False)


@pytest.fixture
def numpy_default_dtype():
    npx.set_np(dtype=True)
    yield
    npx.reset_np()


def test_set_np_dtype_makes_float64_the_default(numpy_default_dtype):
    assert mx.util.is_np_default_dtype()
    for made in (mnp.ones(2), mnp.zeros((1,)), mnp.array([1, 2]), mnp.array([1.5]),
                 mnp.arange(3.0), mnp.linspace(0, 1, 3), mnp.eye(2), mnp.random.uniform(size=2),
                 mnp.random.normal(size=2), mnp.mean(mnp.array([1, 2], dtype="int32")),
                 mnp.ndarray((2,))):
        assert made.dtype == onp.float64, made
    assert mnp.array([True]).dtype == onp.bool_
    assert mnp.array([1, 2], dtype="int32").dtype == onp.int32
    assert mnp.arange(3).dtype == onp.int64  # MXNet 2.x: integer bounds give int64


def test_default_dtype_scopes_restore_float32():
    with mx.util.np_default_dtype(True):
        assert mnp.ones(1).dtype == onp.float64
    assert mnp.ones(1).dtype == onp.float32 and not mx.util.is_np_default_dtype()
    assert mx.util.use_np_default_dtype(lambda: mnp.array([1]).dtype)() == onp.float64
    assert mnp.array([1]).dtype == onp.float32


def test_random_module_takes_mxnet_arguments():
    mx.random.seed(7)
    a = mx.random.uniform(-1, 1, shape=(2, 3), ctx=mx.cpu())
    mx.random.seed(7)
    b = mnp.random.uniform(-1, 1, size=(2, 3))
    onp.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    assert a.dtype == onp.float32 and a.device == mx.cpu()
    assert mx.random.randint(0, 5, shape=(4,)).dtype == onp.int32  # mx.random's default
    assert mx.random.normal(0, 1, shape=(3,)).shape == (3,)
    assert mx.random.randn(2, 4).shape == mx.random.randn(shape=(2, 4)).shape == (2, 4)
    with pytest.raises(TypeError, match="not both"):
        mx.random.uniform(shape=(2,), size=(2,))


RESHAPE_CASES = [  # MXNet 2.x's documented examples of npx.reshape's codes
    ((2, 3, 8), (-2, -2, 2, -1), False, (2, 3, 2, 4)),
    ((8, 3, 3, 3, 4, 4), (-6, 2, -1, -4), False, (2, 4, 3, 3, 3, 4, 4)),
    ((8, 3, 3, 3, 4, 4), (-5, -4), False, (24, 3, 3, 4, 4)),
    ((8, 1, 1, 1, 3), (-2, -3, -3, -3, -2), False, (8, 3)),
    ((8, 3, 3, 3, 3, 8), (-4, -5), True, (8, 3, 3, 3, 24)),
    ((8, 3, 2, 4, 8), (-4, -1, 2, -6), True, (8, 3, 2, 4, 4, 2)),
    ((2, 3, 4), -1, False, (24,)),
    ((2, 3, 4), (6, 1, -1), False, (6, 1, 4)),
]


@pytest.mark.parametrize("shape, codes, reverse, want", RESHAPE_CASES)
def test_npx_reshape_codes(shape, codes, reverse, want):
    x = onp.arange(onp.prod(shape), dtype=onp.float64).reshape(shape)
    got = npx.reshape(mnp.array(x, dtype="float64"), codes, reverse=reverse)
    onp.testing.assert_array_equal(got.asnumpy(), x.reshape(want))


@pytest.mark.parametrize("shape, codes, match", [
    ((2, 3), (-3, -2), "drops an axis of size 1"), ((6,), (-6, -1, -1), "both be -1"),
    ((6,), (-6, 4, -1), "cannot split"), ((2, 3), (-2, -2, -2), "reads more axes"),
    ((2, 3), (-1, -1), "only one -1"), ((2, 3), (-7,), "unknown code"), ((6,), (-6, 2), "needs")])
def test_npx_reshape_bad_codes(shape, codes, match):
    with pytest.raises(ValueError, match=match):
        npx.reshape(mnp.ones(shape), codes)


def test_npx_reshape_and_slice_gradients():
    check_gradient(lambda a: npx.reshape(a, (-5, -1)) * 2, onp.ones((2, 3, 2)))
    check_gradient(lambda a: npx.slice(a, (1, None), (None, 0), (None, -1)) ** 2,
                   onp.arange(12.0).reshape(3, 4))


def test_npx_slice_matches_python_slicing():
    x = onp.arange(24.0).reshape(2, 3, 4)
    a = mnp.array(x)
    onp.testing.assert_array_equal(npx.slice(a, (0, 1), (2, 3)).asnumpy(), x[0:2, 1:3])
    onp.testing.assert_array_equal(npx.slice(a, (None, 2, 3), (None, None, 0), (1, -1, -2))
                                   .asnumpy(), x[::1, 2::-1, 3:0:-2])
    with pytest.raises(ValueError, match="one entry per sliced axis"):
        npx.slice(a, (0,), (1, 2))
    with pytest.raises(ValueError, match="step cannot be 0"):
        npx.slice(a, (0,), (1,), (0,))


def test_from_numpy_shares_memory_and_dlpack_round_trips():
    host = onp.arange(6.0).reshape(2, 3)
    strided = host[:, ::2]
    with pytest.raises(ValueError, match="zero copy needs a C-contiguous array"):
        npx.from_numpy(strided)
    copied = npx.from_numpy(strided, zero_copy=False)
    copied[0, 0] = -1
    assert host[0, 0] == 0 and copied.shape == (2, 2) and host.flags.writeable
    x = npx.from_numpy(host)
    x[0, 0] = 9
    assert host[0, 0] == 9  # zero copy, as MXNet's from_numpy
    with pytest.raises(ValueError, match="read-only"):  # MXNet's array owns it now
        host[0, 1] = 5
    assert npx.from_numpy(onp.ones(2), zero_copy=False).asnumpy() is not host
    with pytest.raises(TypeError, match="mx.np.array"):
        npx.from_numpy([1, 2])
    for export in (npx.to_dlpack_for_read, npx.to_dlpack_for_write,
                   lambda a: a.to_dlpack_for_read()):
        capsule = export(x)
        y = npx.from_dlpack(capsule)
        onp.testing.assert_array_equal(y.asnumpy(), host)
        with pytest.raises(ValueError, match="can be imported once"):
            npx.from_dlpack(capsule)
    writable = onp.arange(6.0).reshape(2, 3)
    view = npx.from_dlpack(writable)  # a producer object gives a writable view
    view[1, 1] = 5
    assert writable[1, 1] == 5


def test_numpy_functions_dispatch_to_mx_np():
    x = mnp.array([1.0, 2.0, 3.0])
    for got, want in [(onp.exp(x), onp.exp([1.0, 2.0, 3.0])),
                      (onp.concatenate([x, x]), [1, 2, 3, 1, 2, 3]),
                      (onp.where(x > 1, x, 0), [0, 2, 3]), (onp.sum(x), 6.0),
                      (onp.linalg.norm(x), onp.sqrt(14.0)), (onp.maximum(x, 2.5), [2.5, 2.5, 3]),
                      (onp.ones(3) + x, [2, 3, 4]), (onp.float32(2) * x, [2, 4, 6])]:
        assert isinstance(got, mx.ndarray)
        onp.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6)
    assert x.__array_namespace__() is mnp
    host = onp.zeros(3)
    host += x  # in place on a numpy array: it stays a numpy array (MXNet's rule)
    assert type(host) is onp.ndarray and host.tolist() == [1, 2, 3]
    out = mnp.zeros(3)
    assert onp.add(x, 1, out=out) is out and out.asnumpy().tolist() == [2, 3, 4]
    assert type(onp.asarray(x)) is onp.ndarray


def test_numpy_dispatch_is_differentiable_and_fallbacks_are_loud():
    x = mnp.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = onp.exp(x).sum()
    y.backward()
    onp.testing.assert_allclose(x.grad.asnumpy(), onp.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.warns(UserWarning, match="not in mx.np"):
        r = onp.polyder(mnp.array([3.0, 4.0, 1.0]))  # numpy on host copies
    assert isinstance(r, mx.ndarray) and r.asnumpy().tolist() == [6.0, 4.0]
    with autograd.record():
        with pytest.raises(ValueError, match="outside the recording"):
            onp.polyder(x)


def test_legacy_api_names_say_what_to_use():
    with pytest.raises(AttributeError, match="mx.np and mx.npx"):
        mx.nd  # noqa: B018
    with pytest.raises(ImportError, match=r"mx.nd.array -> mx.np.array"):
        from mxlite import nd  # noqa: F401
    assert mnp.bool is onp.bool_ and mnp.array([1, 0], dtype=mnp.bool).dtype == onp.bool_


@pytest.mark.parametrize("dtype", ["float32", "int32", "float64", "bool"])
@pytest.mark.parametrize("shape", [(3, 4, 5), (15,), (), (0, 3)])
def test_dlpack_for_write_capsule_gives_a_writable_view(dtype, shape):
    """MXNet's to_dlpack_for_write exists to be written through: the import of a bare host
    capsule is writable (numpy's own would be read-only) and shares the memory."""
    a = mnp.array(onp.arange(int(onp.prod(shape))).reshape(shape) % 3, dtype=dtype)
    before = a.asnumpy().copy()
    c = npx.from_dlpack(npx.to_dlpack_for_write(a))
    assert c.shape == a.shape and c.dtype == a.dtype
    c[...] = 1
    onp.testing.assert_array_equal(a.asnumpy(), onp.ones_like(before))
    b = npx.from_dlpack(npx.to_dlpack_for_read(a))
    del a, c
    onp.testing.assert_array_equal(b.asnumpy(), onp.ones_like(before))  # kept alive by b


def test_dlpack_capsule_of_a_strided_torch_view():
    torch = pytest.importorskip("torch")
    t = torch.arange(12.0).reshape(3, 4)[:, 1:3]
    x = npx.from_dlpack(torch.utils.dlpack.to_dlpack(t))
    onp.testing.assert_array_equal(x.asnumpy(), t.numpy())
    x[0, 0] = 100
    assert float(t[0, 0]) == 100.0


def test_runtime_features_answer_for_this_installation():
    import importlib.util
    features = mx.runtime.Features()
    assert features is mx.runtime.Features()  # a singleton, as MXNet's
    assert len(features) >= 30 and "CUDA" in features
    for name, feature in features.items():
        assert feature.name == name and features.is_enabled(name.lower()) is feature.enabled
        assert repr(feature) == ("✔ " if feature.enabled else "✖ ") + name
    assert features.is_enabled("CUDA") == (importlib.util.find_spec("cupy") is not None)
    assert features.is_enabled("DIST_KVSTORE") == (
        importlib.util.find_spec("mpi4py") is not None)
    assert features.is_enabled("CPU_SSE2") and features.is_enabled("INT64_TENSOR_SIZE")
    assert not features.is_enabled("CUDNN") and not features.is_enabled("ONEDNN")
    with pytest.raises(RuntimeError, match="known features are"):
        features.is_enabled("this girl is on fire")


def test_engine_bulk_size_is_scoped():
    before = mx.engine.set_bulk_size(4)
    try:
        with mx.engine.bulk(30):
            assert mx.engine.set_bulk_size(30) == 30
        assert mx.engine.set_bulk_size(4) == 4
    finally:
        mx.engine.set_bulk_size(before)
    with pytest.raises(ValueError, match="non-negative integer"):
        mx.engine.set_bulk_size(-1)


def test_set_default_device_moves_the_default_outside_with_blocks():
    from mxlite import test_utils
    previous = test_utils.set_default_context is test_utils.set_default_device
    assert previous
    try:
        test_utils.set_default_device(mx.cpu(3))
        assert mx.current_device() == mx.cpu(3) and test_utils.default_device() == mx.cpu(3)
        assert mnp.zeros(2).device == mx.cpu(3)
        with mx.cpu(1):
            assert mx.current_device() == mx.cpu(1)
        assert mx.current_device() == mx.cpu(3)
    finally:
        test_utils.set_default_device(mx.cpu(0))
    assert mx.current_device() == mx.cpu(0)
    with pytest.raises(TypeError, match="takes a Device"):
        test_utils.set_default_device("cpu")

