"""mx.np's host fallbacks (MXNet 2.x's mxnet.numpy.fallback / fallback_linalg), the names that
came with them (diagflat, insert, delete, resize, fabs, product, PZERO, NZERO), result_type
of Python scalars, mx.util.set_flush_denorms and mxlite.numpy_dispatch_protocol."""
import warnings

import numpy as onp
import pytest

import mxlite as mx
from mxlite import autograd, np
from mxlite.base import DeviceMismatchError
from mxlite.test_utils import check_gradient

pytestmark = pytest.mark.filterwarnings("ignore:mx.np.*host fallback:UserWarning")

RNG = onp.random.default_rng(3)
A = RNG.standard_normal((3, 4)).astype("float32")
A_NAN = onp.where(RNG.random((3, 4)) < 0.3, onp.nan, A).astype("float32")
INTS = onp.array([[3, 1, 2], [0, 5, 4]])
POLY_A, POLY_B = onp.array([1.0, 2.0, 3.0]), onp.array([2.0, -1.0])

# (name, args, kwargs): host arrays in args become mxlite arrays (inside lists and tuples too)
CASES = [
    ("cumprod", (A,), {"axis": 1}), ("cumprod", (INTS,), {}),
    ("nanmax", (A_NAN,), {"axis": 0}), ("nanmin", (A_NAN,), {}), ("nanargmax", (A_NAN,), {}),
    ("nanargmin", (A_NAN,), {"axis": 1}), ("nanmedian", (A_NAN,), {"axis": 1}),
    ("nanpercentile", (A_NAN, 30), {"axis": 0}), ("nanquantile", (A_NAN, [0.2, 0.9]), {}),
    ("nanprod", (A_NAN,), {"axis": 1}), ("nancumsum", (A_NAN,), {}),
    ("nancumprod", (A_NAN,), {"axis": 0}), ("nanstd", (A_NAN,), {"ddof": 1}),
    ("nanvar", (A_NAN,), {"axis": 1}),
    ("ptp", (A,), {"axis": 0}), ("ptp", (INTS,), {}), ("real", (A,), {}),
    ("cov", (A,), {}), ("corrcoef", (A, A[::-1]), {}), ("correlate", (POLY_A, POLY_B, "full"), {}),
    ("digitize", (A, onp.array([-1.0, 0.0, 1.0])), {}), ("extract", (A > 0, A), {}),
    ("compress", (onp.array([True, False, True]), A), {"axis": 0}),
    ("choose", (onp.array([0, 1, 1]), [onp.arange(3), onp.arange(3) * 10]), {}),
    ("select", ([A < 0, A > 1], [A * 2, A * 3]), {"default": -1.0}),
    ("piecewise", (A, [A < 0, A >= 0], [-1.0, 1.0]), {}),
    ("argpartition", (A, 2), {"axis": 1}), ("partition", (INTS, 1), {}),
    ("lexsort", ((INTS[0], INTS[1]),), {}),
    ("isin", (INTS, onp.array([1, 4, 7])), {}), ("intersect1d", (INTS, onp.array([5, 3, 9])), {}),
    ("intersect1d", (INTS[0], INTS[1]), {"return_indices": True}),
    ("setdiff1d", (INTS, onp.array([1, 2])), {}), ("setxor1d", (INTS[0], INTS[1]), {}),
    ("union1d", (INTS[0], onp.array([7, 3])), {}),
    ("divmod", (INTS, 2), {}), ("frexp", (A,), {}), ("modf", (A,), {}),
    ("heaviside", (A, 0.5), {}), ("spacing", (A,), {}), ("i0", (A,), {}),
    ("unwrap", (onp.array([0.0, 3.0, 6.5, 0.2]),), {}),
    ("histogram2d", (A[0], A[1]), {"bins": 3}),
    ("histogramdd", (A.T,), {"bins": (2, 3, 2)}),
    ("histogram_bin_edges", (A,), {"bins": 4}),
    ("ix_", (onp.array([0, 2]), onp.array([1, 3])), {}),
    ("packbits", (INTS > 2,), {"axis": 1}),
    ("unpackbits", (onp.array([5, 200], dtype="uint8"),), {}),
    ("poly", (POLY_A,), {}), ("polyadd", (POLY_A, POLY_B), {}), ("polysub", (POLY_A, POLY_B), {}),
    ("polymul", (POLY_A, POLY_B), {}), ("polydiv", (POLY_A, POLY_B), {}),
    ("polyint", (POLY_A,), {"m": 2}), ("polyfit", (A[0], A[1], 2), {}),
    ("roots", (onp.array([1.0, -3.0, 2.0]),), {}), ("vander", (POLY_A,), {"N": 4}),
    ("trim_zeros", (onp.array([0.0, 0.0, 1.5, 2.0, 0.0]),), {}),
    ("apply_over_axes", (onp.sum, A, [0, 1]), {}),
    ("apply_along_axis", (onp.sort, 1, A), {}),
]


def _mx(value, device):
    if isinstance(value, onp.ndarray):
        return np.array(value, dtype=value.dtype, device=device)
    if isinstance(value, (list, tuple)):
        return type(value)(_mx(v, device) for v in value)
    return value


def _same(got, want, device):
    if isinstance(want, (tuple, list)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w, device)
        return
    assert isinstance(got, np.ndarray) and got.device == device
    want = onp.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    onp.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[c[0] for c in CASES])
def test_fallback_gives_numpys_values_and_dtypes_on_the_inputs_device(name, args, kwargs,
                                                                      device):
    got = getattr(np, name)(*_mx(args, device), **kwargs)
    _same(got, getattr(onp, name)(*args, **kwargs), device)


def test_non_array_results_come_back_as_they_are(device):
    x = np.array(INTS, device=device)
    assert np.array_equiv(x, INTS) is True and np.array_equiv(x, INTS[:1]) is False
    assert np.promote_types("float16", "int32") == onp.float64
    assert np.min_scalar_type(300) == onp.uint16
    assert np.linalg.cond(np.array(A[:3, :3], device=device)).device == device
    onp.testing.assert_allclose(float(np.linalg.cond(np.array(A[:3, :3]))),
                                onp.linalg.cond(A[:3, :3]), rtol=1e-5)


def test_ndim_and_size_read_the_shape_without_a_host_copy():
    x = np.zeros((2, 3, 4))
    x.attach_grad()
    with autograd.record():  # a host fallback raises here; these only read the shape
        assert np.ndim(x) == 3 and np.size(x) == 24 and np.size(x, 1) == 3
    assert np.ndim([[1, 2]]) == 2 and np.size([[1, 2]], 0) == 1
    with pytest.raises(IndexError):
        onp.size(onp.zeros((2, 3, 4)), 5)
    with pytest.raises(IndexError):
        np.size(x, 5)


def test_results_go_to_the_inputs_device_or_the_current_one():
    x = np.array(A, device=mx.cpu(1))
    assert np.nanmax(x, axis=0).device == mx.cpu(1)
    assert all(r.device == mx.cpu(1) for r in np.modf(x))
    assert np.vander([1.0, 2.0]).device == mx.current_device()
    with mx.cpu(1):
        r = np.histogram_bin_edges([1.0, 2.0, 4.0], bins=3)
    assert r.device == mx.cpu(1) and r.dtype == onp.float64
    with pytest.raises(DeviceMismatchError, match=r"different devices \(cpu\(1\) and cpu\(0\)\)"):
        np.polyadd(x[0], np.array(A[0]))


def test_results_own_their_memory():
    host = onp.array([0.0, 1.0, 2.0, 0.0])
    r = np.trim_zeros(host)  # numpy returns a view of the argument
    r[0] = 9.0
    assert host.tolist() == [0.0, 1.0, 2.0, 0.0] and r.asnumpy().tolist() == [9.0, 2.0]


def test_fallbacks_warn_where_called_and_refuse_to_record():
    x = np.array(A)
    with pytest.warns(UserWarning, match=r"mx.np.cumprod \(a host fallback.*host copies") as w:
        np.cumprod(x)
    assert w[0].filename == __file__
    with pytest.warns(UserWarning, match="mx.np.cumprod") as w:
        r = onp.cumprod(x)  # numpy's dispatch reaches mx.np's fallback
    assert w[0].filename == __file__ and isinstance(r, np.ndarray)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.vander([1.0, 2.0]).shape == (2, 2)  # no mxlite array, no copy, no warning
    x.attach_grad()
    with autograd.record():
        with pytest.raises(ValueError, match=r"mx.np.nanmax .*gradient would be lost; call it "
                                             r"outside the recording"):
            np.nanmax(x)
        with pytest.raises(ValueError, match="outside the recording"):
            onp.linalg.cond(x)
        with autograd.pause():
            assert float(np.nanmax(x)) == pytest.approx(A.max())


def test_out_arrays_get_the_results(device):
    x = np.array(A, device=device)
    out = np.zeros(A.shape, dtype="float32", device=device)
    assert np.cumprod(x, axis=0, out=out) is out
    onp.testing.assert_allclose(out.asnumpy(), onp.cumprod(A, axis=0), rtol=1e-6)
    frac, whole = np.zeros(A.shape, device=device), np.zeros(A.shape, device=device)
    res = np.modf(x, out=(frac, whole))
    assert res[0] is frac and res[1] is whole
    onp.testing.assert_allclose(whole.asnumpy(), onp.modf(A)[1])
    assert onp.spacing(x, out=out) is out  # numpy's ufunc out= through the dispatch
    onp.testing.assert_array_equal(out.asnumpy(), onp.spacing(A))


@pytest.mark.parametrize("call", [lambda m: m.vander(m.zeros((2, 2))),
                                  lambda m: m.packbits(m.array([1.5])),
                                  lambda m: m.polyfit(m.array([1.0, 2.0]), m.array([1.0]), 1),
                                  lambda m: m.linalg.cond(m.zeros(3))],
                         ids=["vander", "packbits", "polyfit", "cond"])
def test_numpys_errors_come_through(call):
    with pytest.raises(Exception) as want:
        call(onp)
    with pytest.raises(type(want.value)) as got:
        call(np)
    assert str(got.value) == str(want.value)


def test_nanpercentile_takes_mxnets_interpolation_keyword():
    x = np.array(A_NAN)
    for how in ("lower", "higher", "midpoint", "nearest"):
        got = np.nanpercentile(x, 40, axis=1, interpolation=how)
        onp.testing.assert_array_equal(got.asnumpy(),
                                       onp.nanpercentile(A_NAN, 40, axis=1, method=how))
    got = np.nanquantile(x, 0.4, interpolation="lower")
    assert float(got) == onp.nanquantile(A_NAN, 0.4, method="lower")


def test_module_names_are_mxnets():
    assert set(np.fallback.__all__) >= {"cumprod", "nanmax", "polyfit", "ndim", "size"}
    for name in np.fallback.__all__:
        assert getattr(np, name) is getattr(np.fallback, name)
        assert getattr(np, name).__name__ == name
    assert np.fallback_linalg.__all__ == ["cond"]
    assert np.linalg.cond is np.fallback_linalg.cond
    for gone in ("alltrue", "msort", "trapz", "in1d", "npv"):  # not in NumPy 2
        assert gone not in np.fallback.__all__


# -- diagflat, insert, delete, resize: differentiable gathers ------------------------------

@pytest.mark.parametrize("v,k", [(onp.array([1.0, 2.0, 3.0]), 0), (A[:2, :2], 1),
                                 (onp.array([[1, 2], [3, 4]]), -2)])
def test_diagflat(v, k, device):
    _same(np.diagflat(np.array(v, dtype=v.dtype, device=device), k), onp.diagflat(v, k), device)


INSERTS = [(A, 1, onp.array([7.0, 8.0, 9.0, 6.0]), 0), (A, [0, 2, 2], 5.0, 1),
           (A, slice(1, 3), onp.array([[1.0], [2.0], [3.0]]), 1), (A, 2, [1.0, 2.0], None),
           (onp.array(1.0), 0, onp.array([0.0]), None),
           (INTS, onp.array([1]), onp.array([[9.5], [8.5]]), 1)]


@pytest.mark.parametrize("arr,obj,values,axis", INSERTS)
def test_insert_is_numpys(arr, obj, values, axis, device):
    got = np.insert(np.array(arr, dtype=arr.dtype, device=device), _mx(obj, device),
                    _mx(values, device), axis=axis)
    _same(got, onp.insert(arr, obj, values, axis=axis), device)


def test_insert_casts_values_as_numpy_does():
    exact = np.insert(np.array([1.0], dtype="float64"), 0, [0.1])
    assert exact.dtype == onp.float64 and exact.asnumpy()[0] == 0.1  # no float32 detour
    assert np.insert(np.array(INTS), 0, 7.9).asnumpy().tolist()[:2] == [7, 3]  # flattened


def test_insert_delete_resize_are_differentiable():
    vals = RNG.standard_normal((3, 2))
    check_gradient(lambda a, v: np.insert(a, [1, 3], v, axis=1), A.astype("float64"), vals)
    check_gradient(lambda a: np.delete(a, [0, 2], axis=1), A.astype("float64"))
    check_gradient(lambda a: np.resize(a, (5, 4)), A.astype("float64"))
    check_gradient(lambda v: np.diagflat(v, 1), A[:2].astype("float64"))


@pytest.mark.parametrize("obj,axis", [(1, 0), ([0, 3], 1), (slice(None, None, 2), 1),
                                      (onp.array([5, 0]), None)])
def test_delete_is_numpys(obj, axis, device):
    got = np.delete(np.array(A, device=device), _mx(obj, device), axis=axis)
    _same(got, onp.delete(A, obj, axis=axis), device)


@pytest.mark.parametrize("a,shape", [(A, (2, 7)), (INTS, 10), (A[0], (3, 2, 2)),
                                     (onp.zeros((0,), "float32"), (2, 3)), (A, (0,))])
def test_resize_is_numpys(a, shape, device):
    _same(np.resize(np.array(a, dtype=a.dtype, device=device), shape), onp.resize(a, shape),
          device)


def test_position_errors_are_numpys():
    x = np.array(A)
    with pytest.raises(IndexError, match="index 9 is out of bounds for axis 1 with size 4"):
        np.insert(x, 9, 1.0, axis=1)
    with pytest.raises(IndexError, match="out of bounds"):
        np.delete(x, [7], axis=0)
    with pytest.raises(ValueError, match="non-negative"):
        np.resize(x, (-1, 2))


# -- fabs, product, PZERO / NZERO, result_type ---------------------------------------------

def test_fabs_product_and_signed_zeros():
    x = np.array([-1.5, 2.0, -0.0])
    assert np.fabs(x).asnumpy().tolist() == [1.5, 2.0, 0.0]
    assert np.fabs(np.array([-3, 4], dtype="int32")).dtype == onp.int32  # MXNet's abs
    with pytest.warns(DeprecationWarning, match="use mx.np.prod"):
        assert float(np.product(x[:2])) == -3.0
    assert np.PZERO == 0.0 and onp.signbit(np.NZERO) and not onp.signbit(np.PZERO)
    with pytest.raises(AttributeError, match="has no attribute 'productt'"):
        np.productt  # noqa: B018


def test_result_type_of_python_scalars_is_numpys():
    for args, want in [((3.0, 2), onp.float64), ((3,), onp.int64), ((True, False), onp.bool_),
                       ((1j, 2.0), onp.complex128), ((2, True), onp.int64)]:
        assert np.result_type(*args) == want == onp.result_type(*args), args
    i32, f16 = np.zeros(2, dtype="int32"), np.zeros(2, dtype="float16")
    assert np.result_type(i32, 1.0) == onp.float64 and np.result_type(i32, f16) == onp.float16
    assert np.result_type(f16, 2.0) == onp.float16


# -- mx.util.set_flush_denorms ---------------------------------------------------------------

def test_set_flush_denorms_sets_the_cpu_mode_and_returns_the_previous_one():
    if mx.util._libm() is None:
        pytest.skip("flush-to-zero is only settable on x86-64 Linux with glibc")
    tiny = onp.array([1e-39], dtype="float32")  # a float32 denormal
    previous = mx.util.set_flush_denorms(True)
    try:
        assert (tiny * 1.0)[0] == 0.0 and float((np.array(tiny) * 1.0)[0]) == 0.0
        assert mx.util.set_flush_denorms(False) is True
        assert (tiny * 1.0)[0] == tiny[0]
        assert mx.util.set_flush_denorms(False) is False
    finally:
        mx.util.set_flush_denorms(previous)


def test_set_flush_denorms_says_when_it_cannot(monkeypatch):
    monkeypatch.setattr(mx.util, "_libm", lambda: None)
    with pytest.warns(RuntimeWarning, match="can only be set on x86-64 Linux with glibc"):
        assert mx.util.set_flush_denorms(True) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mx.util.set_flush_denorms(False) is False


# -- mxlite.numpy_dispatch_protocol ----------------------------------------------------------

def _numpy_name(name):
    func = onp
    for part in name.split("."):
        func = getattr(func, part)
    return func


def test_dispatch_lists_name_what_mxlites_dispatch_handles():
    from mxlite import numpy_dispatch_protocol as proto
    from mxlite.numpy.numpy_dispatch import _mx_function
    for names in (proto._NUMPY_ARRAY_FUNCTION_LIST, proto._NUMPY_ARRAY_UFUNC_LIST):
        assert len(set(names)) == len(names)
        for name in names:
            assert _mx_function(_numpy_name(name)) is not None, name
    assert isinstance(onp.fabs, onp.ufunc) and "fabs" in proto._NUMPY_ARRAY_UFUNC_LIST
    for gone in ("sometrue", "round_", "product"):
        assert gone not in proto._NUMPY_ARRAY_FUNCTION_LIST
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    for name, args in [("diagflat", (x,)), ("insert", (x, 1, 5.0)), ("delete", (x, 0)),
                       ("resize", (x, (3, 3)))]:
        r = _numpy_name(name)(*args)
        assert isinstance(r, np.ndarray)
        onp.testing.assert_array_equal(r.asnumpy(), _numpy_name(name)(x.asnumpy(), *args[1:]))


def test_protocol_decorators_run_the_test_and_name_the_protocol():
    from mxlite.numpy_dispatch_protocol import (with_array_function_protocol,
                                                with_array_ufunc_protocol)
    ran = []

    @with_array_function_protocol
    def passes(v):
        ran.append(v)

    @with_array_ufunc_protocol
    def fails():
        assert onp.exp(np.zeros(1)).asnumpy()[0] == 2.0, "exp(0) is not 2"

    assert passes(3) is None and ran == [3] and passes.__name__ == "passes"
    with pytest.raises(RuntimeError, match="Running function fails with NumPy array ufunc "
                                           "protocol failed with exception exp.0. is not 2") as e:
        fails()
    assert isinstance(e.value.__cause__, AssertionError)
