import pickle

import numpy as np
import pytest

import mxlite as mx


def test_default_dtypes():
    assert mx.np.array([1, 2]).dtype == np.float32          # Python ints -> float32 (2.x)
    assert mx.np.array([[0.3, 0.5]]).dtype == np.float32
    assert mx.np.array(np.ones(2)).dtype == np.float32      # float64 host -> float32
    assert mx.np.array(np.arange(3)).dtype == np.int64      # integer host data keeps its type
    assert mx.np.array([True, False]).dtype == np.bool_
    assert mx.np.array([1, 2], dtype="float64").dtype == np.float64
    assert mx.np.arange(0.0, 1.0, step=0.1).dtype == np.float32
    assert mx.np.zeros((2, 3)).dtype == np.float32


def test_properties_and_aliases(device):
    x = mx.np.zeros((2, 3), device=device)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.dtype == np.float32
    assert x.device == x.ctx == x.context == device
    assert x.T.shape == (3, 2)


def test_repr_and_str():
    x = mx.np.array([[1.0, 2.0], [3.0, 4.0]])
    assert repr(x) == "array([[1., 2.],\n       [3., 4.]])"
    assert str(x) == "[[1. 2.]\n [3. 4.]]"
    assert repr(mx.np.array(np.arange(2))) == "array([0, 1], dtype=int64)"
    assert repr(mx.np.ones(1, device=mx.cpu(1))) == "array([1.], device=cpu(1))"


def test_host_conversions():
    x = mx.np.array([[1.5, 2.5]])
    host = x.asnumpy()
    host[0, 0] = 9
    assert x.asnumpy()[0, 0] == 1.5  # asnumpy copies
    assert x.tolist() == [[1.5, 2.5]]
    assert np.asarray(x).tolist() == [[1.5, 2.5]]
    assert x[0, 1].item() == 2.5
    assert float(x[0, 0]) == 1.5 and int(x[0, 1]) == 2
    assert bool(mx.np.array([0.3]) < 0.75)
    with pytest.raises(ValueError, match="one element"):
        bool(x)


def test_index_protocol():
    i = mx.np.array(np.array(2))
    assert [10, 20, 30][i] == 30
    with pytest.raises(TypeError, match="integer"):
        [1][mx.np.array([0.0])[0]]


def test_len_and_iteration_yield_0d_arrays():
    xs = mx.np.arange(0.0, 1.0, step=0.25)
    items = list(xs)
    assert len(xs) == 4 and all(isinstance(v, mx.np.ndarray) and v.ndim == 0 for v in items)
    assert [v.item() for v in items] == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(TypeError):
        len(mx.np.array(1.0))


def test_getitem_forms_and_setitem(device):
    host = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x = mx.np.array(host, device=device)
    for key in [1, (1, 2), (slice(None), slice(None, None, -2)), (Ellipsis, None, 1),
                np.array([1, 0, 1]), host > 10, (np.array([0, 1]), slice(1, 3))]:
        np.testing.assert_array_equal(x[key].asnumpy(), host[key])
    np.testing.assert_array_equal(x[mx.np.array(np.array([1, 1]), device=device)].asnumpy(),
                                  host[[1, 1]])
    x[0, 0] = mx.np.array([7, 7, 7, 7], device=device)
    x[1] = 0
    host[0, 0] = 7
    host[1] = 0
    np.testing.assert_array_equal(x.asnumpy(), host)


def test_operators_with_scalars_and_broadcasting():
    a = mx.np.array([[1.0, 2.0, 3.0]])
    b = mx.np.array([[1.0], [2.0]])
    np.testing.assert_allclose((a + b).asnumpy(), [[2, 3, 4], [3, 4, 5]])
    np.testing.assert_allclose((2 - a).asnumpy(), [[1, 0, -1]])
    np.testing.assert_allclose((1 / a).asnumpy(), [[1, 0.5, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose((2 ** a).asnumpy(), [[2, 4, 8]])
    np.testing.assert_allclose((a // 2).asnumpy(), [[0, 1, 1]])
    np.testing.assert_allclose((a % 2).asnumpy(), [[1, 0, 1]])
    np.testing.assert_allclose((a @ mx.np.ones((3, 1))).asnumpy(), [[6]])
    np.testing.assert_allclose((-a).asnumpy(), [[-1, -2, -3]])
    np.testing.assert_allclose(abs(-a).asnumpy(), [[1, 2, 3]])
    assert (a > 1.5).asnumpy().tolist() == [[False, True, True]]
    assert (np.ones(3, dtype=np.float32) + a).device == mx.cpu(0)  # numpy defers to us
    assert (a * 0.5).dtype == np.float32
    assert (mx.np.array(np.arange(3)) * 0.5).dtype == np.float64  # int * float (MXNet 2.x)
    assert (a * np.float64(2)).dtype == np.float32  # numpy scalars are weak, as Python's
    assert (np.float64(2) - a).dtype == np.float32


def test_methods():
    x = mx.np.array(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((-1,)).shape == (6,)
    assert x.reshape(-1, 2).shape == (3, 2)
    assert x.transpose().shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    assert x.flatten().shape == (6,)
    assert x.sum().item() == 15 and x.sum(axis=0).tolist() == [3, 5, 7]
    assert x.mean(axis=1, keepdims=True).shape == (2, 1)
    assert x.max().item() == 5 and x.min().item() == 0
    assert x.argmax().item() == 5 and x.argmin(axis=1).tolist() == [0, 0]
    assert x.astype("int32").dtype == np.int32
    assert x.expand_dims(0).squeeze().shape == (2, 3)
    y = x.copy()
    y[0, 0] = 100
    assert x[0, 0].item() == 0
    with pytest.raises(ValueError, match=r"cannot reshape array of shape \(2, 3\)"):
        x.reshape(4, 2)


def test_copyto_and_device_moves():
    x = mx.np.array([1.0, 2.0])
    target = mx.np.zeros(2, device=mx.cpu(1))
    assert x.copyto(target) is target and target.tolist() == [1.0, 2.0]
    moved = x.copyto(mx.cpu(2))
    assert moved.device == mx.cpu(2)
    assert x.to_device(mx.cpu(0)) is x
    assert x.as_in_ctx(mx.cpu(1)).device == mx.cpu(1)
    assert x.as_in_context(mx.cpu(1)).device == mx.cpu(1)
    with pytest.warns(UserWarning):
        assert x.copyto(x) is False


def test_dlpack_round_trip_shares_memory():
    host = np.arange(4, dtype=np.float32)
    x = mx.np.from_dlpack(host)
    host[0] = 42
    assert x[0].item() == 42
    back = np.from_dlpack(x)
    assert back.tolist() == x.tolist()


def test_pickle_round_trip():
    x = mx.np.array([1.0, 2.0], device=mx.cpu(1))
    y = pickle.loads(pickle.dumps(x))
    assert y.device == mx.cpu(1) and y.tolist() == [1.0, 2.0]


def test_creation_functions():
    assert mx.np.full((2,), 3).tolist() == [3.0, 3.0]
    assert mx.np.ones_like(mx.np.zeros((2, 2))).sum().item() == 4
    assert mx.np.full_like(mx.np.zeros(3), 2).tolist() == [2.0, 2.0, 2.0]
    assert mx.np.eye(3).sum().item() == 3
    assert mx.np.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert mx.np.empty((2, 3)).shape == (2, 3)
    assert mx.np.zeros_like(mx.np.ones(2, dtype="float64")).dtype == np.float64
    x = mx.np.array([1.0, 2.0])
    assert mx.np.asarray(x) is x
    assert mx.np.array(x) is not x


def test_random_is_reproducible_per_device():
    mx.np.random.seed(42)
    a = mx.np.random.uniform(size=(3,))
    b = mx.np.random.normal(size=(2, 2), device=mx.cpu(1))
    mx.np.random.seed(42)
    assert mx.np.random.uniform(size=(3,)).tolist() == a.tolist()
    assert mx.np.random.normal(size=(2, 2), device=mx.cpu(1)).tolist() == b.tolist()
    r = mx.np.random.randint(0, 5, size=(100,))
    assert r.dtype == np.int64 and 0 <= r.min().item() and r.max().item() < 5
    assert mx.np.random.rand(2, 3).shape == (2, 3) and mx.np.random.randn(4).shape == (4,)
    x = mx.np.arange(10)
    mx.np.random.shuffle(x)
    assert sorted(x.tolist()) == list(range(10))


def test_copy_order_format_spec_and_index_follow_mxnet():
    import operator
    a = mx.np.array([np.pi])
    assert a.copy(order="C").asnumpy().tolist() == a.asnumpy().tolist()
    with pytest.raises(NotImplementedError, match="order='C'"):
        a.copy(order="F")
    assert "{:0.3g}".format(mx.np.array(np.pi)) == "3.14"
    assert "{}".format(a) == "{}".format(a.asnumpy())
    with pytest.raises(TypeError, match="unsupported format string"):
        "{:30}".format(a)
    assert operator.index(mx.np.array(3, dtype="int64")) == 3
    for bad in (mx.np.ones((1,), dtype="int32"), mx.np.array(True), mx.np.ones(())):
        with pytest.raises(TypeError, match="only 0-d integer arrays"):
            operator.index(bad)


def test_mxnet_base_type_groups():
    assert isinstance(np.int64(3), mx.base.integer_types) and not isinstance(
        3.0, mx.base.integer_types)
    assert isinstance(np.float16(1), mx.base.numeric_types)
    assert isinstance("w", mx.base.string_types)
    assert mx.current_context() is mx.current_device()


def test_setitem_drops_leading_unit_axes_of_the_value_as_mxnet(device):
    a = mx.np.zeros((3, 4), device=device)
    a[1, 2] = mx.np.ones((1, 1), device=device)
    a[0, 0] = [[5.0]]
    a[2] = mx.np.full((1, 1, 4), 7.0, device=device)
    want = np.zeros((3, 4))
    want[1, 2], want[0, 0], want[2] = 1, 5, 7
    np.testing.assert_array_equal(a.asnumpy(), want)
    v = mx.np.array([[3.0]], device=device)
    v.attach_grad()
    with mx.autograd.record():
        c = mx.np.zeros((2,), device=device) * 1
        c[1] = v
        (c * 2).sum().backward()
    np.testing.assert_array_equal(v.grad.asnumpy(), [[2.0]])
    with pytest.raises(ValueError, match="broadcast"):
        a[0] = mx.np.ones((2, 4), device=device)
