"""Graph mode's generated fused kernels (mxlite.cuda.fused) on the CPU executor: forward and
backward of a group equal numpy's evaluation of the same steps, broadcasting, 0-d, empty and
odd sizes included."""
import numpy as np
import pytest

from mxlite.cuda import fused
from mxlite.testing import cudasim

_usable, _why = cudasim.available()
_modules = {}


def module_for(key, make_source):
    if not _usable:
        pytest.skip(f"CPU CUDA executor unavailable: {_why}")
    module = _modules.get(key)
    if module is None:
        from mxlite.cuda import loader
        source, names = make_source()
        module = _modules[key] = cudasim.Module(source, name_expressions=names,
                                                options=loader.COMPILE_OPTIONS)
    return module


# t0 = tanh(x0) * 0.5; t2 = t0 + x1; t3 = maximum(t2, x0); t4 = t3 / (x1 * x1 + 2); outputs t2, t4
STEPS = [("tanh", [("read", 0)]), ("multiply", [("step", 0), ("const", 0.5)]),
         ("add", [("step", 1), ("read", 1)]), ("maximum", [("step", 2), ("read", 0)]),
         ("multiply", [("read", 1), ("read", 1)]), ("add", [("step", 4), ("const", 2)]),
         ("divide", [("step", 3), ("step", 5)])]
OUTS = (2, 6)


def numpy_group(x0, x1):
    """The steps on float64 with numpy's derivatives, as (outputs, vjp)."""
    t1 = np.tanh(x0) * 0.5
    t2 = t1 + x1
    t3 = np.maximum(t2, x0)
    t5 = x1 * x1 + 2
    t6 = t3 / t5

    def vjp(h2, h6):
        e6 = h6
        e3 = e6 / t5
        e5 = -e6 * t3 / (t5 * t5)
        e2 = h2 + e3 * (t2 >= x0)
        ex0 = e3 * (t2 < x0) + e2 * 0.5 * (1 - np.tanh(x0) ** 2)
        ex1 = e2 + e5 * 2 * x1
        return ex0, ex1
    return (t2, t6), vjp


SHAPES = [((4, 5), (4, 5)), ((3, 1), (1, 7)), ((), ()), ((0, 3), (3,)), ((37,), ()),
          ((2, 3, 5), (5,))]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-12),
       np.float16: dict(rtol=3e-3, atol=3e-3)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shapes", SHAPES, ids=["same", "outer", "0d", "empty", "odd", "row"])
def test_fused_group_matches_numpy(dtype, shapes):
    rng = np.random.default_rng(3)
    x0, x1 = (np.asarray(rng.standard_normal(s)).astype(dtype) for s in shapes)
    full = np.broadcast_shapes(*shapes)
    kernel = fused.group_kernel(STEPS, shapes, OUTS, [full, full], dtype)
    outs, vjp = numpy_group(x0.astype(np.float64), x1.astype(np.float64))
    got = kernel.forward(module_for, np, x0, x1)
    for g, want in zip(got, outs):
        assert g.dtype == dtype and g.shape == full
        np.testing.assert_allclose(g.astype(np.float64), want, **TOL[dtype])
    h2, h6 = (np.asarray(rng.standard_normal(full)).astype(dtype) for _ in range(2))
    for heads, need in [((h2, h6), (True, True)), ((None, h6), (True, False)),
                        ((h2, None), (False, True))]:
        grads = kernel.backward(module_for, np, heads, (x0, x1), need)
        ref = vjp(*(np.zeros(full) if h is None else h.astype(np.float64) for h in heads))
        for g, w, n in zip(grads, ref, need):
            if not n:
                assert g is None
                continue
            assert g.shape == full
            np.testing.assert_allclose(g.astype(np.float64), w, **TOL[dtype])


def test_strided_inputs_are_read_in_place():
    x0 = np.arange(12, dtype=np.float32).reshape(3, 4).T / 7  # not C-contiguous
    x1 = np.ones((4, 3), np.float32)
    kernel = fused.group_kernel(STEPS, [(4, 3), (4, 3)], OUTS, [(4, 3), (4, 3)], np.float32)
    outs, _ = numpy_group(x0.astype(np.float64), x1.astype(np.float64))
    for g, want in zip(kernel.forward(module_for, np, x0, x1), outs):
        np.testing.assert_allclose(g, want, rtol=2e-5, atol=2e-6)


def test_groups_without_kernels_are_refused():
    assert fused.group_kernel([("gcd", [("read", 0), ("read", 0)])], [(3,)], (0,), [(3,)],
                              np.float32) is None
    assert fused.group_kernel(STEPS, [(3,), (3,)], OUTS, [(3,), (3,)], np.int32) is None
    nan = [("add", [("read", 0), ("const", float("nan"))])]
    assert fused.group_kernel(nan, [(3,)], (0,), [(3,)], np.float32) is None
    outer = [("tanh", [("read", 0)]), ("add", [("step", 0), ("read", 1)])]
    assert fused.group_kernel(outer, [(3, 1), (1, 4)], (0, 1), [(3, 1), (3, 4)],
                              np.float32) is None  # an output smaller than the group
    src, names = fused.group_kernel(STEPS, [(3,), (3,)], OUTS, [(3,), (3,)],
                                    np.float32).source()
    assert "for (long long i" in src and all(n.endswith("<float>") for n in names)
