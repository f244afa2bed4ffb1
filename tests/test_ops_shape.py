"""Shape, data-movement and indexing ops: numpy's values, scatter-add gradients."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mxlite as mx
from mxlite.test_utils import check_gradient

mnp = mx.np
RNG = np.random.default_rng(11)


def _same(fn_mx, fn_np, *shapes, device, grad=True):
    xs = [RNG.standard_normal(s) for s in shapes]
    got = fn_mx(*[mnp.array(x, dtype="float64", device=device) for x in xs])
    want = fn_np(*xs)
    if isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.asnumpy(), w)
    else:
        np.testing.assert_array_equal(got.asnumpy(), want)
    if grad:
        check_gradient(fn_mx, *xs, device=device)


SHAPE_CASES = [
    ("reshape", lambda a: a.reshape(-1, 2), lambda a: a.reshape(-1, 2), [(3, 4)]),
    ("ravel", lambda a: mnp.ravel(a), np.ravel, [(2, 3)]),
    ("transpose", lambda a: mnp.transpose(a, (2, 0, 1)), lambda a: np.transpose(a, (2, 0, 1)),
     [(2, 3, 4)]),
    ("swapaxes", lambda a: mnp.swapaxes(a, 0, 2), lambda a: np.swapaxes(a, 0, 2), [(2, 3, 4)]),
    ("moveaxis", lambda a: mnp.moveaxis(a, 0, -1), lambda a: np.moveaxis(a, 0, -1), [(2, 3, 4)]),
    ("rollaxis", lambda a: mnp.rollaxis(a, 2, 1), lambda a: np.rollaxis(a, 2, 1), [(2, 3, 4)]),
    ("expand_dims", lambda a: mnp.expand_dims(a, (0, -1)), lambda a: np.expand_dims(a, (0, -1)),
     [(2, 3)]),
    ("squeeze", lambda a: mnp.squeeze(a, 1), lambda a: np.squeeze(a, 1), [(2, 1, 3)]),
    ("broadcast_to", lambda a: mnp.broadcast_to(a, (2, 3, 4)),
     lambda a: np.broadcast_to(a, (2, 3, 4)), [(3, 1)]),
    ("broadcast_arrays", lambda a, b: mnp.broadcast_arrays(a, b),
     lambda a, b: np.broadcast_arrays(a, b), [(3, 1), (4,)]),
    ("atleast_1d", lambda a: mnp.atleast_1d(a), np.atleast_1d, [()]),
    ("atleast_2d", lambda a: mnp.atleast_2d(a), np.atleast_2d, [(3,)]),
    ("atleast_3d", lambda a: mnp.atleast_3d(a), np.atleast_3d, [(3,)]),
    ("atleast_3d_2", lambda a: mnp.atleast_3d(a), np.atleast_3d, [(2, 3)]),
    ("concatenate", lambda a, b: mnp.concatenate([a, b], axis=1),
     lambda a, b: np.concatenate([a, b], axis=1), [(2, 3), (2, 1)]),
    ("concatenate_none", lambda a, b: mnp.concatenate([a, b], axis=None),
     lambda a, b: np.concatenate([a, b], axis=None), [(2, 3), (4,)]),
    ("stack", lambda a, b: mnp.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], axis=-1),
     [(2, 3), (2, 3)]),
    ("vstack", lambda a, b: mnp.vstack([a, b]), lambda a, b: np.vstack([a, b]), [(3,), (2, 3)]),
    ("hstack", lambda a, b: mnp.hstack([a, b]), lambda a, b: np.hstack([a, b]), [(3,), (2,)]),
    ("hstack2", lambda a, b: mnp.hstack([a, b]), lambda a, b: np.hstack([a, b]), [(2, 1), (2, 3)]),
    ("dstack", lambda a, b: mnp.dstack([a, b]), lambda a, b: np.dstack([a, b]), [(2, 3), (2, 3)]),
    ("column_stack", lambda a, b: mnp.column_stack([a, b]),
     lambda a, b: np.column_stack([a, b]), [(3,), (3, 2)]),
    ("split", lambda a: mnp.split(a, 3, axis=1), lambda a: np.split(a, 3, axis=1), [(2, 6)]),
    ("split_idx", lambda a: mnp.split(a, [1, 4], axis=0), lambda a: np.split(a, [1, 4], axis=0),
     [(5, 2)]),
    ("array_split", lambda a: mnp.array_split(a, 3), lambda a: np.array_split(a, 3), [(7,)]),
    ("split_unsorted", lambda a: mnp.split(a, [3, 1, -1, 9]),
     lambda a: np.split(a, [3, 1, -1, 9]), [(6,)]),
    ("hsplit", lambda a: mnp.hsplit(a, 2), lambda a: np.hsplit(a, 2), [(2, 4)]),
    ("vsplit", lambda a: mnp.vsplit(a, [1]), lambda a: np.vsplit(a, [1]), [(3, 2)]),
    ("tile", lambda a: mnp.tile(a, (2, 1, 3)), lambda a: np.tile(a, (2, 1, 3)), [(2, 3)]),
    ("tile_short", lambda a: mnp.tile(a, 2), lambda a: np.tile(a, 2), [(2, 3)]),
    ("repeat", lambda a: mnp.repeat(a, 2, axis=1), lambda a: np.repeat(a, 2, axis=1), [(2, 3)]),
    ("repeat_flat", lambda a: mnp.repeat(a, 3), lambda a: np.repeat(a, 3), [(2, 2)]),
    ("repeat_counts", lambda a: mnp.repeat(a, [2, 0, 1], axis=0),
     lambda a: np.repeat(a, [2, 0, 1], axis=0), [(3, 2)]),
    ("flip", lambda a: mnp.flip(a, 1), lambda a: np.flip(a, 1), [(2, 3)]),
    ("flip_all", lambda a: mnp.flip(a), np.flip, [(2, 3)]),
    ("fliplr", lambda a: mnp.fliplr(a), np.fliplr, [(2, 3)]),
    ("flipud", lambda a: mnp.flipud(a), np.flipud, [(2, 3)]),
    ("roll", lambda a: mnp.roll(a, 2), lambda a: np.roll(a, 2), [(2, 3)]),
    ("roll_axes", lambda a: mnp.roll(a, (1, -1), axis=(0, 1)),
     lambda a: np.roll(a, (1, -1), axis=(0, 1)), [(2, 3)]),
    ("rot90", lambda a: mnp.rot90(a), np.rot90, [(2, 3)]),
    ("rot90_k3", lambda a: mnp.rot90(a, 3, axes=(1, 2)), lambda a: np.rot90(a, 3, axes=(1, 2)),
     [(2, 3, 4)]),
    ("rot90_k2", lambda a: mnp.rot90(a, 2), lambda a: np.rot90(a, 2), [(2, 3)]),
    ("pad_constant", lambda a: mnp.pad(a, ((1, 2), (0, 1)), constant_values=3.0),
     lambda a: np.pad(a, ((1, 2), (0, 1)), constant_values=3.0), [(2, 3)]),
    ("pad_edge", lambda a: mnp.pad(a, 2, mode="edge"), lambda a: np.pad(a, 2, mode="edge"),
     [(2, 3)]),
    ("pad_reflect", lambda a: mnp.pad(a, ((2, 1), (1, 2)), mode="reflect"),
     lambda a: np.pad(a, ((2, 1), (1, 2)), mode="reflect"), [(3, 3)]),
    ("pad_symmetric", lambda a: mnp.pad(a, 1, mode="symmetric"),
     lambda a: np.pad(a, 1, mode="symmetric"), [(3,)]),
    ("pad_wrap", lambda a: mnp.pad(a, 2, mode="wrap"), lambda a: np.pad(a, 2, mode="wrap"), [(3,)]),
    ("take", lambda a: mnp.take(a, [2, 0, 2], axis=1),
     lambda a: np.take(a, [2, 0, 2], axis=1), [(2, 3)]),
    ("take_flat", lambda a: mnp.take(a, [[5, 0], [5, 1]]), lambda a: np.take(a, [[5, 0], [5, 1]]),
     [(2, 3)]),
    ("take_wrap", lambda a: mnp.take(a, [-1, 4], axis=0, mode="wrap"),
     lambda a: np.take(a, [-1, 4], axis=0, mode="wrap"), [(3,)]),
    ("take_clip", lambda a: mnp.take(a, [-1, 4], axis=0, mode="clip"),
     lambda a: np.take(a, [-1, 4], axis=0, mode="clip"), [(3,)]),
    ("take_along_axis", lambda a: mnp.take_along_axis(a, np.array([[0, 0], [2, 1]]), 1),
     lambda a: np.take_along_axis(a, np.array([[0, 0], [2, 1]]), 1), [(2, 3)]),
    ("sort", lambda a: mnp.sort(a, axis=0), lambda a: np.sort(a, axis=0), [(3, 2)]),
    ("sort_none", lambda a: mnp.sort(a, axis=None), lambda a: np.sort(a, axis=None), [(3, 2)]),
    ("copy", lambda a: mnp.copy(a), np.copy, [(2, 2)]),
    ("meshgrid", lambda a, b: mnp.meshgrid(a, b), lambda a, b: np.meshgrid(a, b), [(3,), (2,)]),
    ("meshgrid_ij", lambda a, b, c: mnp.meshgrid(a, b, c, indexing="ij"),
     lambda a, b, c: np.meshgrid(a, b, c, indexing="ij"), [(3,), (2,), (2,)]),
    ("size0", lambda a: mnp.concatenate([a, a], axis=0), lambda a: np.concatenate([a, a], axis=0),
     [(0, 2)]),
    ("diff", lambda a: mnp.diff(a, 2, axis=0), lambda a: np.diff(a, 2, axis=0), [(4, 3)]),
    ("diff_prepend", lambda a, b: mnp.diff(a, prepend=b), lambda a, b: np.diff(a, prepend=b),
     [(2, 3), (2, 1)]),
    ("append", lambda a, b: mnp.append(a, b), lambda a, b: np.append(a, b), [(2, 2), (3,)]),
    ("append_axis", lambda a, b: mnp.append(a, b, axis=1), lambda a, b: np.append(a, b, axis=1),
     [(2, 2), (2, 1)]),
]


@pytest.mark.parametrize("name,fn_mx,fn_np,shapes", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_shape_op_value_and_gradient(name, fn_mx, fn_np, shapes, device):
    _same(fn_mx, fn_np, *shapes, device=device)


def test_repeat_gradient_sums_copies(device):
    a = mnp.array([1.0, 2.0], device=device)
    a.attach_grad()
    with mx.autograd.record():
        y = mnp.repeat(a, 3)
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [3, 3])


def test_repeat_with_one_count_broadcasts_it(device):
    a = RNG.standard_normal((3, 4, 2))
    for axis in (0, 1, None):
        _same(lambda v: mnp.repeat(v, [2], axis=axis), lambda v: np.repeat(v, [2], axis=axis),
              a.shape, device=device)
    with pytest.raises(ValueError, match=r"repeats of shape \(2,\) do not match axis 0"):
        mnp.repeat(mnp.array(a, device=device), [1, 2], axis=0)


@pytest.mark.parametrize("name, ndim", [("hsplit", 1), ("vsplit", 2), ("dsplit", 3)])
def test_directional_split_needs_enough_dimensions(name, ndim, device):
    for shape in [(), (4,), (4, 4)][:ndim]:
        with pytest.raises(ValueError, match=re.escape(
                f"{name} only works on arrays of {ndim} or more dimensions, got shape {shape}")):
            getattr(mnp, name)(mnp.ones(shape, device=device), 2)
    shape = (4, 4, 4)[:ndim]
    _same(lambda v: getattr(mnp, name)(v, 2), lambda v: getattr(np, name)(v, 2), shape,
          device=device)


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
@pytest.mark.parametrize("shape, widths", [((5,), (2, 3)), ((4,), (7, 9)), ((1,), (2, 2)),
                                           ((2, 3), ((5, 4), (0, 7)))])
def test_pad_odd_reflection(mode, shape, widths, device):
    """reflect_type='odd' mirrors through the edge value; pads wider than the axis reflect
    the padded array again, as numpy's do."""
    _same(lambda v: mnp.pad(v, widths, mode=mode, reflect_type="odd"),
          lambda v: np.pad(v, widths, mode=mode, reflect_type="odd"), shape, device=device)
    got = mnp.pad(mnp.array([1, 2, 3], dtype="int32", device=device), 2, mode=mode,
                  reflect_type="odd")
    want = np.pad(np.array([1, 2, 3], dtype="int32"), 2, mode=mode, reflect_type="odd")
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got.asnumpy(), want)
    even = mnp.pad(mnp.arange(4.0, device=device), 3, mode=mode, reflect_type="even")
    np.testing.assert_array_equal(even.asnumpy(), np.pad(np.arange(4.0), 3, mode=mode))
    with pytest.raises(ValueError, match="reflect_type must be 'even' or 'odd'"):
        mnp.pad(mnp.ones(3, device=device), 1, mode=mode, reflect_type="mirror")


def test_triangles_of_a_0d_array_raise_mxnet_error(device):
    for fn in (mnp.tril, mnp.triu):
        with pytest.raises(mx.MXNetError, match=r"needs at least 1 dimension, got shape \(\)"):
            fn(mnp.array(10.0, device=device))
        with pytest.raises(ValueError):  # numpy's type too
            fn(mnp.array(10.0, device=device))


def test_split_unused_outputs_get_no_gradient(device):
    a = mnp.array(np.arange(6.0), device=device)
    a.attach_grad()
    with mx.autograd.record():
        parts = mnp.split(a, 3)
        y = parts[1] * 2
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [0, 0, 2, 2, 0, 0])


def test_non_differentiable_shape_ops(device):
    x = np.array([3.0, 1.0, 2.0, 1.0, 0.0])
    a = mnp.array(x, device=device)
    np.testing.assert_array_equal(mnp.argsort(a).asnumpy(), np.argsort(x, kind="stable"))
    np.testing.assert_array_equal(mnp.argsort(a, descending=True, stable=True).asnumpy(),
                                  [0, 2, 1, 3, 4])
    u, idx, inv, counts = mnp.unique(a, return_index=True, return_inverse=True,
                                     return_counts=True)
    for got, want in zip((u, idx, inv, counts), np.unique(x.astype(np.float32), True, True, True)):
        np.testing.assert_array_equal(got.asnumpy(), want)
    np.testing.assert_array_equal(mnp.nonzero(a)[0].asnumpy(), np.nonzero(x)[0])
    np.testing.assert_array_equal(mnp.flatnonzero(a).asnumpy(), np.flatnonzero(x))
    s = mnp.array([1.0, 2.0, 3.0], device=device)
    np.testing.assert_array_equal(mnp.searchsorted(s, mnp.array([2.0, 0.5], device=device),
                                                   side="right").asnumpy(), [2, 0])
    assert mnp.searchsorted(s, 2.5).item() == 2


@pytest.mark.parametrize("split", [
    lambda a: mnp.split(a, 1), lambda a: mnp.split(a, [], axis=1), lambda a: mnp.array_split(a, 1),
    lambda a: mnp.array_split(a, []), lambda a: mnp.hsplit(a, 1), lambda a: a.split(1)])
def test_split_into_one_piece_keeps_the_shape(split, device):
    a = mnp.array(np.arange(6.0).reshape(2, 3), device=device)
    a.attach_grad()
    with mx.autograd.record():
        (piece,) = split(a)
        y = (piece * piece).sum()
    assert piece.shape == (2, 3)
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), 2 * np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("call", [
    lambda a: a.transpose(0, 5), lambda a: mnp.transpose(a, (1, 4)),
    lambda a: mnp.moveaxis(a, 0, 5), lambda a: mnp.moveaxis(a, -3, 0),
    lambda a: mnp.swapaxes(a, 0, 2)])
def test_out_of_range_axes_raise_axis_error(call, device):
    with pytest.raises(np.exceptions.AxisError):
        call(mnp.ones((2, 3), device=device))


def test_reshape_mismatch_is_mxnets_error_and_numpys(device):
    a = mnp.ones((10, 10), device=device)
    for call in (lambda: a.reshape((1,)), lambda: mnp.reshape(a, (1,)),
                 lambda: mnp.reshape(a, (-1, 3))):
        with pytest.raises(mx.MXNetError, match=r"\(10, 10\)") as err:
            call()
        assert isinstance(err.value, ValueError)


def test_split_uneven_raises_with_hint(device):
    with pytest.raises(ValueError, match="array_split"):
        mnp.split(mnp.ones((5,), device=device), 2)


# -- indexing -----------------------------------------------------------------------------
INDEX_KEYS = [
    ("int", lambda: 1), ("neg_int", lambda: -1), ("slice", lambda: slice(1, None)),
    ("step", lambda: (slice(None, None, -2), slice(0, 3, 2))), ("none_ellipsis", lambda: (None, Ellipsis, 1)),
    ("int_array", lambda: np.array([0, 2, 0])), ("list", lambda: [2, 2, 1]),
    ("two_arrays", lambda: (np.array([0, 2, 2]), np.array([1, 1, 3]))),
    ("bool_mask", lambda: np.array([True, False, True])),
    ("bool_full", lambda: np.arange(12).reshape(3, 4) % 3 == 0),
    ("mixed", lambda: (slice(None, 2), np.array([3, 3, 0]))),
    ("mixed_sep", lambda: (np.array([0, 0]), slice(None), np.array([1, 1]))),
    ("array_2d", lambda: np.array([[0, 1], [1, 1]])),
    ("neg_array", lambda: (Ellipsis, np.array([-1, -1]))),
]


@pytest.mark.parametrize("name,key", INDEX_KEYS, ids=[k[0] for k in INDEX_KEYS])
def test_getitem_forms(name, key, device):
    shape = (3, 4, 2) if name == "mixed_sep" else (3, 4)
    x = RNG.standard_normal(shape)
    k = key()
    a = mnp.array(x, dtype="float64", device=device)
    np.testing.assert_array_equal(a[k].asnumpy(), x[k])
    check_gradient(lambda m: m[k], x, device=device)


def test_getitem_with_ndarray_keys_accumulates(device):
    a = mnp.array([1.0, 2.0, 3.0], device=device)
    idx = mnp.array(np.array([0, 0, 2, 0]), device=device)
    a.attach_grad()
    with mx.autograd.record():
        y = a[idx]
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [3, 0, 1])
    mask = a > 1.5
    np.testing.assert_array_equal(a[mask].asnumpy(), [2, 3])


SLICE_USES = [
    ("gates", lambda m: mnp.tanh(m[:, :2]) * m[:, 2:4] + m[:, 4:] * 3),
    ("overlap", lambda m: m[0:2] * m[1:3]),
    ("with_dense", lambda m: m[:, 1:] * 2 + mnp.sin(m)[:, :-1] + m[..., None, 0:1]),
    ("ints", lambda m: m[0] * m[1] + m[-1, 2]),
    ("reversed", lambda m: m[::-1] + m[:, ::2].sum() + m[1:, None]),
]


@pytest.mark.parametrize("name,fn", SLICE_USES, ids=[u[0] for u in SLICE_USES])
def test_several_slices_of_one_array_sum_their_gradients(name, fn, device):
    """The engine adds slice gradients into one buffer: same values as the dense sum."""
    check_gradient(fn, RNG.standard_normal((3, 6)), device=device)


def test_slice_gradients_leave_the_callers_arrays_alone(device):
    x = mnp.array(RNG.standard_normal((4, 3)), device=device)
    x.attach_grad()
    head = mnp.ones((4, 3), device=device)
    with mx.autograd.record():
        y = x * 1
        z = y + y[:, :1]  # a slice's gradient meets the head gradient itself
    z.backward(head)
    np.testing.assert_array_equal(head.asnumpy(), np.ones((4, 3)))
    want = np.ones((4, 3))
    want[:, 0] += 3
    np.testing.assert_array_equal(x.grad.asnumpy(), want)
    s = mnp.array(2.0, device=device)  # 0-d: numpy sums make scalars
    s.attach_grad()
    with mx.autograd.record():
        t = s * s + s * 3 + s[()] + s[...]
    t.backward()
    assert float(s.grad) == 9.0
    with mx.autograd.record():
        u = x[:2] * 2 + x[:2]
    gx = mx.autograd.grad(u, [x], create_graph=True)[0]
    np.testing.assert_array_equal(gx.asnumpy()[:2], 3)
    np.testing.assert_array_equal(gx.asnumpy()[2:], 0)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_indexing_expressions(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    key = []
    used_array = False
    for n in shape:
        kind = data.draw(st.sampled_from(["slice", "int", "array", "full"]))
        if kind == "slice":
            start = data.draw(st.integers(-n, n))
            stop = data.draw(st.integers(-n, n))
            step = data.draw(st.sampled_from([1, 2, -1, -2]))
            key.append(slice(start, stop, step))
        elif kind == "int":
            key.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "array" and not used_array:
            used_array = True
            key.append(np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1,
                                                   max_size=4))))
        else:
            key.append(slice(None))
    if data.draw(st.booleans()):
        key.insert(data.draw(st.integers(0, len(key))), None)
    key = tuple(key)
    x = np.random.default_rng(0).standard_normal(shape)
    a = mnp.array(x, dtype="float64")
    want = x[key]
    np.testing.assert_array_equal(a[key].asnumpy(), want)
    a.attach_grad()
    head = np.random.default_rng(1).standard_normal(want.shape)
    with mx.autograd.record():
        y = a[key]
    y.backward(mnp.array(head, dtype="float64"))
    expected = np.zeros_like(x)
    np.add.at(expected, key, head)
    np.testing.assert_allclose(a.grad.asnumpy(), expected)
