"""ndarray methods that map to ops, and dtype behaviour across the op library."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.base import MXNetError
from mxlite.test_utils import check_gradient

mnp, npx = mx.np, mx.npx
RNG = np.random.default_rng(13)


def test_methods_match_numpy(device):
    x = RNG.standard_normal((3, 4))
    a = mnp.array(x, dtype="float64", device=device)
    for name, args, kwargs in [("prod", (), {"axis": 1}), ("std", (), {"ddof": 1}),
                               ("var", (0,), {}), ("cumsum", (), {"axis": 0}),
                               ("all", (), {}), ("any", (1,), {}), ("round", (1,), {}),
                               ("repeat", (2,), {"axis": 1}), ("argsort", (), {}),
                               ("take", ([0, 2],), {"axis": 1}), ("diagonal", (), {}),
                               ("trace", (), {}), ("max", (), {"axis": 0})]:
        got = getattr(a, name)(*args, **kwargs)
        np.testing.assert_allclose(got.asnumpy(), getattr(x, name)(*args, **kwargs),
                                   err_msg=name)
    np.testing.assert_array_equal(a.tile((2, 1)).asnumpy(), np.tile(x, (2, 1)))
    np.testing.assert_array_equal(a.flip(0).asnumpy(), np.flip(x, 0))
    np.testing.assert_array_equal((a > 0).nonzero()[1].asnumpy(), (x > 0).nonzero()[1])
    assert a[1, 2].item() == x[1, 2]
    assert round(mnp.array(2.5, device=device)).item() == 2.0
    check_gradient(lambda m: m.prod(axis=0) + m.std() + m.var(axis=1).sum() + m.cumsum()[-1],
                   x, device=device)


def test_in_place_methods_and_refusal_in_record(device):
    a = mnp.array([3.0, 1.0, 2.0], device=device)
    assert a.sort().tolist() == [1.0, 2.0, 3.0]  # MXNet 2.x: a sorted copy
    assert a.sort(descending=True).tolist() == [3.0, 2.0, 1.0] and a.tolist() == [3.0, 1.0, 2.0]
    a.fill(7)
    assert a.tolist() == [7.0, 7.0, 7.0]
    a.attach_grad()
    with mx.autograd.record():
        with pytest.raises(MXNetError, match="Inplace"):
            a.fill(0)


FLOAT_OPS = [
    ("exp", lambda a: mnp.exp(a)), ("cbrt", lambda a: mnp.cbrt(a)),
    ("hypot", lambda a: mnp.hypot(a, 2.0)), ("power", lambda a: a ** 2.5),
    ("sum", lambda a: mnp.sum(a, axis=1)), ("var", lambda a: mnp.var(a)),
    ("prod", lambda a: mnp.prod(a)), ("cumsum", lambda a: mnp.cumsum(a)),
    ("average", lambda a: mnp.average(a, axis=0, weights=[1, 2])),
    ("norm", lambda a: mnp.linalg.norm(a)), ("norm_nuc", lambda a: mnp.linalg.norm(a, "nuc")),
    ("einsum", lambda a: mnp.einsum("ij,jk", a, a)), ("inv", lambda a: mnp.linalg.inv(a)),
    ("tril", lambda a: mnp.tril(a)), ("kron", lambda a: mnp.kron(a, a)),
    ("pad", lambda a: mnp.pad(a, 1, mode="reflect")), ("tile", lambda a: mnp.tile(a, 2)),
    ("sort", lambda a: mnp.sort(a)), ("erf", lambda a: npx.erf(a)),
    ("gammaln", lambda a: npx.gammaln(a)), ("gelu", lambda a: npx.gelu(a)),
    ("activation", lambda a: npx.activation(a, "mish")),
    ("masked_softmax", lambda a: npx.masked_softmax(a, a > 0.5)),
    ("logsumexp", lambda a: npx.logsumexp(a, axis=0)),
    ("layer_norm", lambda a: npx.layer_norm(a, mnp.ones(2, dtype=a.dtype, device=a.device),
                                            mnp.zeros(2, dtype=a.dtype, device=a.device))),
    ("l2_normalization", lambda a: npx.l2_normalization(a)),
    ("conv", lambda a: npx.convolution(a.reshape(1, 1, 2, 2),
                                       mnp.ones((2, 1, 1, 1), dtype=a.dtype, device=a.device),
                                       kernel=(1, 1), no_bias=True)),
    ("pool", lambda a: npx.pooling(a.reshape(1, 1, 2, 2), kernel=(2, 2), pool_type="avg")),
]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name,fn", FLOAT_OPS, ids=[f[0] for f in FLOAT_OPS])
def test_float_dtype_is_kept(name, fn, dtype, device):
    if dtype == "float16" and name in ("inv", "norm_nuc"):
        pytest.skip("numpy's linalg has no float16")
    a = mnp.array([[0.5, 1.5], [2.0, 0.7]], dtype=dtype, device=device)
    assert fn(a).dtype == np.dtype(dtype)


def test_float32_gradients_stay_float32(device):
    a = mnp.array([[0.5, 1.5], [2.0, 0.7]], device=device)
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.sum(npx.gelu(mnp.einsum("ij,jk->ik", a, a)) * mnp.linalg.inv(a))
    y.backward()
    assert a.grad.dtype == np.float32


def test_integer_and_bool_arrays_flow_through(device):
    i = mnp.array(np.array([[3, 1], [2, 2]], dtype=np.int64), device=device)
    assert mnp.sort(i).dtype == np.int64
    assert mnp.flip(i).dtype == np.int64
    assert mnp.concatenate([i, i]).dtype == np.int64
    assert mnp.cumsum(i).dtype == np.int64
    assert mnp.sum(i > 1).dtype == np.float32  # MXNet: sum(bool) is float32
    assert mnp.mean(i).dtype == np.float32
    assert mnp.var(i).dtype == np.float32
    assert mnp.take(i, [1], axis=0).tolist() == [[2, 2]]
    assert npx.one_hot(i, 4).dtype == np.float32
    i.attach_grad()  # MXNet 2.x: the gradient buffer takes the array's dtype
    assert i.grad.dtype == np.int64


def test_fully_connected_gradients(device):
    x = RNG.standard_normal((2, 3, 2))
    w = RNG.standard_normal((4, 6))
    b = RNG.standard_normal(4)
    check_gradient(lambda a, k, c: npx.fully_connected(a, k, c, num_hidden=4), x, w, b,
                   device=device)
    check_gradient(lambda a, k: npx.fully_connected(a, k, no_bias=True, flatten=False),
                   x, RNG.standard_normal((4, 2)), device=device)


@pytest.mark.parametrize("name", ["sum", "prod", "cumsum"])
def test_size_zero_reductions(name, device):
    x = np.zeros((0, 3))
    got = getattr(mnp, name)(mnp.array(x, dtype="float64", device=device), axis=0)
    np.testing.assert_array_equal(got.asnumpy(), getattr(np, name)(x, axis=0))
    check_gradient(lambda a: getattr(mnp, name)(a, axis=0), x, device=device)
