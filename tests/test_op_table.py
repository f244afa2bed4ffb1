"""The elementwise op tables: every row is public in mx.np / mx.npx, equals numpy's function
and matches float64 central differences, so a new row is tested without a new test."""
import numpy as np
import pytest

import mxlite as mx
from mxlite.autograd import registered_op
from mxlite.ops import elemwise, special
from mxlite.test_utils import check_gradient

RNG = np.random.default_rng(7)
TABLES = [(elemwise, mx.np), (special, mx.npx)]
ROWS = [f for module, _ in TABLES for f in module.ROWS]

# Inputs kept away from kinks and poles so differences are clean; a row not named here is
# sampled from [-2, 2] (both operands of a binary row).
DOMAIN = {
    "abs": "nonzero", "log": "pos", "log1p": "pos", "log2": "pos", "log10": "pos",
    "sqrt": "pos", "cbrt": "pos", "reciprocal": "pos", "tan": "unit", "arcsin": "unit",
    "arccos": "unit", "arccosh": "gt1", "arctanh": "unit", "erfinv": "unit", "gamma": "pos",
    "gammaln": "pos", "digamma": "pos",
    "divide": "pos2", "mod": "pos2", "fmod": "pos2", "power": "pos1",
    "float_power": "pos1", "copysign": "nonzero",
}
TESTED_APART = {"ldexp": "integer exponents: test_ops_elemwise.test_ldexp_and_scalar_operands"}
SHAPES = [(), (3,), (2, 3), (0, 2)]
BROADCAST_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((0, 3), (3,))]


def _unary_input(domain, shape):
    x = RNG.uniform(-2, 2, shape)
    if domain == "pos":
        return RNG.uniform(0.3, 2, shape)
    if domain == "unit":
        return RNG.uniform(-0.8, 0.8, shape)
    if domain == "gt1":
        return RNG.uniform(1.2, 3, shape)
    if domain == "nonzero":
        return np.where(np.abs(x) < 0.1, 0.5, x)
    return x


def _binary_inputs(domain, shapes):
    a = RNG.uniform(-2, 2, shapes[0])
    b = RNG.uniform(-2, 2, shapes[1])
    if domain == "pos2":
        b = RNG.uniform(0.7, 2, shapes[1])
        a = RNG.uniform(0.1, 0.6, shapes[0]) + RNG.integers(-2, 3, shapes[0])  # off the kinks
    elif domain == "pos1":
        a = RNG.uniform(0.3, 2, shapes[0])
    elif domain == "nonzero":
        a = np.where(np.abs(a) < 0.1, 0.5, a)
        b = np.where(np.abs(b) < 0.1, -0.5, b)
    return a, b


def _operands(f):
    return f.__code__.co_argcount - 1  # f(x, out=None) or f(x1, x2, out=None)


def _rows(kind, operands=(1, 2)):
    """Rows with a nonzero gradient (``kind="grad"``) or a zero one (``"zero"``)."""
    rows = [f for f in ROWS if _operands(f) in operands]
    zero = [f for f in rows if f.op.backward is elemwise.zero_gradient]
    if kind == "zero":
        return zero
    return [f for f in rows if f.op.differentiable and f not in zero
            and f.__name__ not in TESTED_APART]


def _ids(rows):
    return [f.__name__ for f in rows]


@pytest.mark.parametrize("module,namespace", TABLES, ids=["mx.np", "mx.npx"])
def test_every_row_is_public_under_its_names(module, namespace):
    for f in module.ROWS:
        assert f.op is registered_op(f.__name__)
        for name in (f.__name__,) + f.aliases:
            assert name in module.__all__
            assert getattr(namespace, name) is f


def test_every_row_is_checked():
    checked = set(_ids(_rows("grad")) + _ids(_rows("zero")) + list(TESTED_APART))
    undifferentiable = {f.__name__ for f in ROWS if not f.op.differentiable}
    assert checked | undifferentiable == {f.__name__ for f in ROWS}
    assert set(DOMAIN) <= {f.__name__ for f in ROWS}


def _check_value_and_gradient(f, inputs, device):
    reference = getattr(np, f.__name__, None)  # special's rows are checked in test_ops_nn
    if reference is not None:
        got = f(*[mx.np.array(x, dtype="float64", device=device) for x in inputs])
        np.testing.assert_allclose(got.asnumpy(), reference(*inputs), rtol=1e-12, atol=1e-12)
    check_gradient(f, *inputs, device=device)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("f", _rows("grad", (1,)), ids=_ids(_rows("grad", (1,))))
def test_unary_row_value_and_gradient(f, shape, device):
    _check_value_and_gradient(f, [_unary_input(DOMAIN.get(f.__name__), shape)], device)


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("f", _rows("grad", (2,)), ids=_ids(_rows("grad", (2,))))
def test_binary_row_value_and_gradient(f, shapes, device):
    _check_value_and_gradient(f, _binary_inputs(DOMAIN.get(f.__name__), shapes), device)


@pytest.mark.parametrize("f", _rows("zero"), ids=_ids(_rows("zero")))
def test_zero_gradient_rows(f, device):
    if _operands(f) == 1:
        inputs = [_unary_input("nonzero", (2, 3))]
    else:
        inputs = _binary_inputs("pos2", ((2, 3), (3,)))
    arrays = [mx.np.array(x, device=device) for x in inputs]
    for a in arrays:
        a.attach_grad()
    with mx.autograd.record():
        y = f(*arrays)
    y.backward()
    np.testing.assert_array_equal(y.asnumpy(), getattr(np, f.__name__)(
        *[x.astype(np.float32) for x in inputs]))
    for a in arrays:
        np.testing.assert_array_equal(a.grad.asnumpy(), np.zeros(a.shape))
