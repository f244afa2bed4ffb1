"""mx.npx indexing and layout operators (mxlite.ops.indexing): values against hand-written
numpy references, gradients against float64 central differences, and the errors."""
import warnings

import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError
from mxlite.test_utils import check_gradient

mnp, npx = mx.np, mx.npx
RNG = np.random.default_rng(11)


def _arr(x, device, dtype=None):
    x = np.asarray(x)
    return mnp.array(x, dtype=dtype or x.dtype, device=device)


def test_exports():
    for name in ("gather_nd", "index_add", "index_update", "shape_array", "slice_channel",
                 "sequence_reverse", "smooth_l1", "norm"):
        assert callable(getattr(npx, name)), name
    for name in ("scatter_nd", "depth_to_space", "space_to_depth", "upsampling", "softmin",
                 "argmax_channel", "ravel_multi_index", "unravel_index"):
        assert not hasattr(npx, name), f"{name} is not in MXNet 2.x's npx"


# -- gather_nd --------------------------------------------------------------------------------
def _gather_nd_ref(data, indices):
    idx = np.asarray(indices).astype(np.int64)
    m = idx.shape[0]
    idx = np.where(idx < 0, idx + np.array(data.shape[:m]).reshape((m,) + (1,) * (idx.ndim - 1)),
                   idx)
    out = np.empty(idx.shape[1:] + data.shape[m:], dtype=data.dtype)
    for y in np.ndindex(*idx.shape[1:]):
        out[y] = data[tuple(idx[(j,) + y] for j in range(m))]
    return out


GATHER_CASES = [
    ((2, 2), [[1, 1, 0], [0, 1, 0]]),                  # MXNet's doc example: M == N
    ((2, 2, 2), [[0, 1], [1, 0]]),                     # slices
    ((3, 4, 5), [[[0, -1, 2], [-3, 1, 1]]]),           # M = 1, 2-D Y, negatives
    ((3, 4, 5), [[2, 0, 2], [3, -4, 3], [4, 0, 4]]),   # repeated positions
    ((4, 5, 6, 7), np.zeros((2, 0), dtype=np.int64)),  # empty Y
    ((2, 3), [[1], [2]]),
]


@pytest.mark.parametrize("shape,indices", GATHER_CASES)
def test_gather_nd_values(shape, indices, device):
    data = RNG.standard_normal(shape)
    got = npx.gather_nd(_arr(data, device), _arr(indices, device, "int64"))
    want = _gather_nd_ref(data, indices)
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_array_equal(got.asnumpy(), want)


def test_gather_nd_doc_examples_dtypes_and_float_indices(device):
    data = _arr([[0, 1], [2, 3]], device, "int32")
    got = npx.gather_nd(data, _arr([[1, 1, 0], [0, 1, 0]], device, "int32"))
    assert got.dtype == np.int32 and got.asnumpy().tolist() == [2, 3, 0]
    data = _arr([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], device, "float32")
    got = npx.gather_nd(data, _arr([[0, 1], [1, 0]], device, "float32"))  # float indices
    assert got.dtype == np.float32 and got.asnumpy().tolist() == [[3, 4], [5, 6]]


def test_gather_nd_gradient_scatter_adds(device):
    idx = _arr([[0, 2, 0, -3], [1, 1, 1, -2]], device, "int64")  # (0, 1) twice, (0, 0)
    check_gradient(lambda d: npx.gather_nd(d, idx), RNG.standard_normal((3, 2, 4)),
                   device=device)
    x = _arr(np.zeros((3, 2)), device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.gather_nd(x, idx)
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [[1, 2], [0, 0], [0, 1]])


def test_gather_nd_second_order(device):
    idx = _arr([[1, 1]], device, "int64")
    x = _arr([1.0, 2.0, 3.0], device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.gather_nd(x, idx) ** 2
        (dx,) = mx.autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(dx.asnumpy(), [0, 8, 0])  # y sums to 2 x1**2: 4 x1 at x1=2
    dx.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [0, 4, 0])


def test_gather_nd_errors(device):
    data = _arr(np.zeros((2, 3)), device)
    with pytest.raises(ValueError, match=r"indices of shape \(2,\).*data has shape \(2, 3\)"):
        npx.gather_nd(data, _arr([0, 1], device, "int64"))
    with pytest.raises(MXNetError, match=r"\(3, 1\) index 3 axes.*\(2, 3\) has 2"):
        npx.gather_nd(data, _arr([[0], [0], [0]], device, "int64"))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 1 with size 3"):
        npx.gather_nd(data, _arr([[0, 1], [1, 3]], device, "int64"))
    with pytest.raises(MXNetError, match=r"index -3 is out of bounds for axis 0 with size 2"):
        npx.gather_nd(data, _arr([[-3]], device, "int64"))


def test_ops_in_a_hybridized_block_replay_and_check_new_indices(device):
    class Net(mx.gluon.HybridBlock):
        def forward(self, x, idx, lens):
            y = npx.index_add(x, idx, 1.0) + npx.index_update(x, idx, 2)  # scalars: constants
            y = npx.sequence_reverse(y, lens, use_sequence_length=True)
            return npx.gather_nd(y, idx) * npx.norm(y) + npx.shape_array(x)[0]

    def eager(x, idx, lens):
        y = _index_add_ref(x, idx, np.array(1.0)) + _index_update_ref(x, idx, np.array(2.0))
        y = _sequence_reverse_ref(y, lens)
        return _gather_nd_ref(y, idx) * np.sqrt((y * y).sum()) + x.shape[0]

    net = Net()
    net.hybridize()
    x = RNG.standard_normal((3, 4))
    lens = np.array([3, 1, 0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to imperative execution
        for idx in ([[0, 2], [1, 3]], [[2, 1], [0, 3]]):
            got = net(_arr(x, device), _arr(idx, device, "int64"), _arr(lens, device))
            np.testing.assert_allclose(got.asnumpy(), eager(x, idx, lens), rtol=1e-12)
    with pytest.raises(IndexError):
        net(_arr(x, device), _arr([[5, 0], [0, 0]], device, "int64"), _arr(lens, device))


# -- index_add / index_update -----------------------------------------------------------------
def _as_2d(ind):
    ind = np.asarray(ind)
    return ind.reshape(1, -1) if ind.ndim < 2 else ind


def _index_add_ref(a, ind, val):
    out = a.copy()
    ind = _as_2d(ind)
    vals = np.broadcast_to(val.astype(a.dtype), (ind.shape[1],) + a.shape[ind.shape[0]:])
    for i in range(ind.shape[1]):
        out[tuple(ind[:, i])] += vals[i]
    return out


def _index_update_ref(a, ind, val):
    out = a.copy()
    ind = _as_2d(ind)
    vals = np.broadcast_to(val.astype(a.dtype), (ind.shape[1],) + a.shape[ind.shape[0]:])
    for i in range(ind.shape[1]):  # in order: the last write to a position stays
        out[tuple(ind[:, i])] = vals[i]
    return out


MODIFY_CASES = [  # a shape, ind, val shape
    ((2, 6), [[0, 0], [0, 1]], (2,)),              # MXNet's large-array test
    ((2, 4), [1], (1, 4)),                         # a vector indexes axis 0
    ((3,), np.array(1), (1,)),                     # a scalar index
    ((3, 4, 5), [[0, 2, 0], [1, 3, 1]], ()),       # repeated position, scalar val
    ((3, 4, 5), [[0, 2, 0], [1, 3, 1]], (3, 5)),   # a value per index
    ((3, 4, 5), [[0, 2, 0], [1, 3, 1]], (1, 5)),   # broadcast over indices
    ((3, 4, 5), [[0, 2, 0], [1, 3, 1]], (5,)),     # broadcast tail only
    ((3, 4, 5), [[2, 2], [3, 3], [4, 4]], (2,)),   # every axis indexed, repeated
    ((3, 4), np.zeros((1, 0), dtype=np.int64), ()),  # no positions
]


@pytest.mark.parametrize("a_shape,ind,val_shape", MODIFY_CASES)
@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_index_add_and_update_values(a_shape, ind, val_shape, dtype, device):
    a = (RNG.standard_normal(a_shape) * 10).astype(dtype)
    val = (RNG.standard_normal(val_shape) * 10).astype(dtype)
    for op, ref in ((npx.index_add, _index_add_ref), (npx.index_update, _index_update_ref)):
        got = op(_arr(a, device), _arr(ind, device, "int32"), _arr(val, device))
        assert got.shape == a.shape and got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got.asnumpy(), ref(a, ind, val))


def test_index_add_casts_val_to_a_dtype_and_leaves_a_alone(device):
    a = _arr(np.zeros((2, 3), dtype=np.float32), device)
    got = npx.index_add(a, _arr([[1], [2]], device, "int64"), _arr(2.75, device, "float64"))
    assert got.dtype == np.float32 and got.asnumpy()[1, 2] == 2.75
    assert not a.asnumpy().any()
    got = npx.index_update(a, [[0, 1], [0, 0]], 7)  # lists and Python numbers as well
    np.testing.assert_array_equal(got.asnumpy(), [[7, 0, 0], [7, 0, 0]])


@pytest.mark.parametrize("val_shape", [(4, 5), (1, 5), (5,), ()])
def test_index_add_gradient(val_shape, device):
    ind = _arr([[0, 2, 0, 1], [1, 3, 1, 0]], device, "int64")  # (0, 1) twice
    check_gradient(lambda a, v: npx.index_add(a, ind, v), RNG.standard_normal((3, 4, 5)),
                   RNG.standard_normal(val_shape), device=device)


@pytest.mark.parametrize("val_shape", [(4, 5), (1, 5), (5,), ()])
def test_index_update_gradient(val_shape, device):
    ind = _arr([[0, 2, 0, 1], [1, 3, 1, 0]], device, "int64")  # (0, 1) twice: the last lands
    check_gradient(lambda a, v: npx.index_update(a, ind, v), RNG.standard_normal((3, 4, 5)),
                   RNG.standard_normal(val_shape), device=device)


def test_index_update_gradient_values(device):
    a = _arr(np.zeros((2, 3)), device)
    v = _arr([1.0, 2.0, 3.0], device)
    a.attach_grad()
    v.attach_grad()
    with mx.autograd.record():
        y = npx.index_update(a, _arr([[0, 1, 0], [2, 0, 2]], device, "int64"), v)
    y.backward(_arr([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device))
    np.testing.assert_array_equal(y.asnumpy(), [[0, 0, 3], [2, 0, 0]])
    np.testing.assert_array_equal(a.grad.asnumpy(), [[1, 2, 0], [0, 5, 6]])  # 0 where written
    np.testing.assert_array_equal(v.grad.asnumpy(), [0, 4, 3])  # the overwritten one gets 0


def test_index_add_and_update_errors(device):
    a = _arr(np.zeros((2, 4)), device)
    for op in (npx.index_add, npx.index_update):
        name = op.__name__
        with pytest.raises(IndexError, match=f"{name}: index -1 should be greater or equal"):
            op(a, _arr([-1], device, "int32"), _arr(np.ones((1, 4)), device))
        with pytest.raises(MXNetError, match="index 2 is out of bounds for axis 0 with size 2"):
            op(a, _arr([2], device, "int32"), _arr(np.ones((1, 4)), device))
        with pytest.raises(IndexError, match="index 4 is out of bounds for axis 1 with size 4"):
            op(a, _arr([[0], [4]], device, "int32"), 1.0)
        with pytest.raises(TypeError, match="integer array"):
            op(a, _arr([[0], [1]], device, "float32"), 1.0)
        with pytest.raises(ValueError, match=r"val of shape \(3,\) does not broadcast to .*"
                                             r"\(2, 4\) for a of shape \(2, 4\) and ind of "
                                             r"shape \(2,\)"):
            op(a, _arr([0, 1], device, "int32"), _arr(np.ones(3), device))
        with pytest.raises(MXNetError, match=r"ind of shape \(3, 1\) indexes 3 axes.*\(2, 4\)"):
            op(a, _arr([[0], [0], [0]], device, "int32"), 1.0)
        with pytest.raises(ValueError, match=r"0-, 1- or 2-D.*\(1, 1, 1\)"):
            op(a, _arr(np.zeros((1, 1, 1)), device, "int32"), 1.0)


# -- shape_array ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (0, 3), (2, 3, 4), (7,)])
def test_shape_array(shape, device):
    x = _arr(np.zeros(shape, dtype=np.float32), device)
    got = npx.shape_array(x)
    assert got.dtype == np.int64 and got.shape == (len(shape),) and got.device == x.device
    assert got.asnumpy().tolist() == list(shape)


def test_shape_array_gradient_is_zero(device):
    x = _arr(np.ones((2, 3)), device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.shape_array(x)
    y.backward()
    assert x.grad.shape == (2, 3) and not x.grad.asnumpy().any()


# -- slice_channel ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape,num,axis,squeeze", [
    ((3, 4, 6), 2, 1, False), ((3, 4, 6), 3, -1, False), ((3, 2, 1), 3, 0, True),
    ((2, 4), 4, 1, True), ((2, 0, 3), 3, 2, False), ((5, 6), 1, 1, False)])
def test_slice_channel_values(shape, num, axis, squeeze, device):
    x = RNG.standard_normal(shape)
    got = npx.slice_channel(_arr(x, device), num, axis=axis, squeeze_axis=squeeze)
    want = np.split(x, num, axis=axis)
    if squeeze:
        want = [np.squeeze(w, axis=axis) for w in want]
    if num == 1:
        assert isinstance(got, mx.np.ndarray)
        got = [got]
    assert len(got) == num
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g.asnumpy(), w)


def test_slice_channel_default_axis_and_gradient(device):
    parts = npx.slice_channel(_arr(np.zeros((2, 6, 3)), device), 3)  # axis=1
    assert [p.shape for p in parts] == [(2, 2, 3)] * 3
    check_gradient(lambda a: npx.slice_channel(a, 2, axis=0, squeeze_axis=True),
                   RNG.standard_normal((2, 3)), device=device)
    check_gradient(lambda a: npx.slice_channel(a, 3, axis=-1)[1:],  # one part unused
                   RNG.standard_normal((2, 6)), device=device)


def test_slice_channel_errors(device):
    x = _arr(np.zeros((3, 4)), device)
    with pytest.raises(ValueError, match=r"axis 1 of shape \(3, 4\) into num_outputs=3"):
        npx.slice_channel(x, 3)
    with pytest.raises(MXNetError, match=r"squeeze_axis=True needs axis 1 of shape \(3, 4\)"):
        npx.slice_channel(x, 2, squeeze_axis=True)
    with pytest.raises(ValueError, match="num_outputs must be positive"):
        npx.slice_channel(x, 0)
    with pytest.raises(np.exceptions.AxisError):
        npx.slice_channel(x, 1, axis=2)


# -- sequence_reverse -------------------------------------------------------------------------
def _sequence_reverse_ref(x, lengths=None):
    out = x.copy()
    for b in range(x.shape[1]):
        n = x.shape[0] if lengths is None else int(lengths[b])
        out[:n, b] = x[:n, b][::-1]
    return out


def test_sequence_reverse_doc_example(device):
    x = np.arange(1, 19, dtype=np.float32).reshape(3, 2, 3)
    got = npx.sequence_reverse(_arr(x, device), _arr([2, 3], device, "float32"),
                               use_sequence_length=True)
    np.testing.assert_array_equal(got.asnumpy(),
                                  [[[7, 8, 9], [16, 17, 18]], [[1, 2, 3], [10, 11, 12]],
                                   [[13, 14, 15], [4, 5, 6]]])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(npx.sequence_reverse(_arr(x, device)).asnumpy(), x[::-1])


@pytest.mark.parametrize("shape,lengths", [
    ((5, 4), [0, 1, 3, 5]), ((4, 3, 2, 2), [4, 2, 1]), ((6, 1, 3), [6]), ((0, 2), [0, 0]),
    ((3, 0, 2), [])])
def test_sequence_reverse_values_and_gradient(shape, lengths, device):
    x = RNG.standard_normal(shape)
    lens = _arr(np.array(lengths, dtype=np.int32), device)
    got = npx.sequence_reverse(_arr(x, device), lens, use_sequence_length=True)
    np.testing.assert_array_equal(got.asnumpy(), _sequence_reverse_ref(x, lengths))
    np.testing.assert_array_equal(
        npx.sequence_reverse(_arr(x, device), lens).asnumpy(), x[::-1])  # lengths unused
    check_gradient(lambda a: npx.sequence_reverse(a, lens, use_sequence_length=True), x,
                   device=device)
    check_gradient(npx.sequence_reverse, x, device=device)


def test_sequence_reverse_errors(device):
    x = _arr(np.zeros((3, 2, 4)), device)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 3\].*\(3, 2, 4\)"):
        npx.sequence_reverse(x, _arr([1, 4], device), use_sequence_length=True)
    with pytest.raises(ValueError, match=r"sequence_length of shape \(3,\) must be "
                                         r"\(batch_size,\) = \(2,\)"):
        npx.sequence_reverse(x, _arr([1, 1, 1], device), use_sequence_length=True)
    with pytest.raises(ValueError, match="needs sequence_length"):
        npx.sequence_reverse(x, use_sequence_length=True)
    with pytest.raises(ValueError, match="only axis=0"):
        npx.sequence_reverse(x, axis=1)
    with pytest.raises(ValueError, match=r"shape \(3,\) must have rank 2"):
        npx.sequence_reverse(_arr(np.zeros(3), device))


# -- smooth_l1 --------------------------------------------------------------------------------
def _smooth_l1_ref(x, sigma):
    s2 = sigma * sigma
    return np.where(np.abs(x) > 1 / s2, np.abs(x) - 0.5 / s2, 0.5 * s2 * x * x)


@pytest.mark.parametrize("scalar", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("shape", [(), (0, 3), (4, 5)])
def test_smooth_l1_values_and_gradient(scalar, shape, device):
    x = RNG.uniform(-6, 6, shape)
    bound = 1 / scalar ** 2
    x = np.where(np.abs(np.abs(x) - bound) < 0.05, x + 0.2, x)  # off the kink for differences
    got = npx.smooth_l1(_arr(x, device), scalar=scalar)
    np.testing.assert_allclose(got.asnumpy(), _smooth_l1_ref(x, scalar), rtol=1e-14)
    check_gradient(lambda a: npx.smooth_l1(a, scalar=scalar), x, device=device)


def test_smooth_l1_doc_example_dtype_and_piecewise_gradient(device):
    x = _arr([1, 2, 3, 4], device, "float32")
    got = npx.smooth_l1(x)
    assert got.dtype == np.float32 and got.asnumpy().tolist() == [0.5, 1.5, 2.5, 3.5]
    x = _arr([-3.0, -0.25, 0.0, 0.25, 0.5, 3.0], device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.smooth_l1(x, scalar=2.0)  # quadratic on [-0.25, 0.25], slope 4x
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [-1, -1, 0, 1, 1, 1])
    assert npx.smooth_l1(_arr([3, -1], device, "int32")).dtype == np.int32  # MXNet keeps it


def test_smooth_l1_second_order(device):
    x = _arr([0.1, 3.0], device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.smooth_l1(x, scalar=2.0)
        (dx,) = mx.autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(dx.asnumpy(), [0.4, 1.0])
    dx.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [4.0, 0.0])


# -- norm -------------------------------------------------------------------------------------
def _norm_ref(x, ord, axis, keepdims):
    axis = tuple(axis) if isinstance(axis, (tuple, list)) else axis
    if ord == 1:
        return np.abs(x).sum(axis=axis, keepdims=keepdims)
    return np.sqrt((x * x).sum(axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("ord", [1, 2])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (1, False), (-1, True),
                                           ((0, 2), False), ((0, 1, 2), True), ((), False)])
def test_norm_values_and_gradient(ord, axis, keepdims, device):
    x = RNG.standard_normal((3, 4, 5))
    got = npx.norm(_arr(x, device), ord=ord, axis=axis, keepdims=keepdims)
    want = _norm_ref(x, ord, None if axis == () else axis, keepdims)
    assert got.shape == np.shape(want) and got.dtype == np.float64
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-12)
    check_gradient(lambda a: npx.norm(a, ord=ord, axis=axis, keepdims=keepdims), x,
                   device=device)


def test_norm_as_mxnet_uses_it(device):
    got = npx.norm(_arr(np.ones((6, 25), dtype=np.float32), device), ord=2, axis=1)
    assert got.dtype == np.float32 and got.asnumpy().tolist() == [5.0] * 6
    assert npx.norm(_arr(3.0, device)).shape == ()
    assert npx.norm(_arr(np.zeros((0, 3)), device), axis=0).asnumpy().tolist() == [0, 0, 0]
    i = _arr([[3, -4], [1, 1]], device, "int32")
    assert npx.norm(i).dtype == np.int32 and int(npx.norm(i, ord=1)) == 9
    got = npx.norm(i, axis=1, out_dtype="float64")
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.asnumpy(), [5, np.sqrt(2)])
    x = _arr(np.zeros(3), device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.norm(x) + npx.norm(x, ord=1)
    y.backward()
    assert not x.grad.asnumpy().any() and not np.isnan(x.grad.asnumpy()).any()


def test_norm_errors(device):
    x = _arr(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match="ord must be 1 or 2"):
        npx.norm(x, ord=3)
    with pytest.raises(np.exceptions.AxisError):
        npx.norm(x, axis=2)
    with pytest.raises(ValueError, match="repeats an axis"):
        npx.norm(x, axis=(1, -1))
    with pytest.raises(ValueError, match="out_dtype"):
        npx.norm(x, out_dtype="uint8")
