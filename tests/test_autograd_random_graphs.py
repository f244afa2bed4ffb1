"""Random computation graphs (shared subexpressions, reused leaves, frozen and 'add' leaves,
broadcasting) against float64 central differences: the engine's ordering, pruning, gradient
summing and buffer hand-over together."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mxlite as mx
from mxlite import autograd
from mxlite.test_utils import central_difference

UNARY = [mx.np.tanh, mx.np.sin, lambda v: v * v, lambda v: mx.np.exp(v * 0.3)]
BINARY = [mx.np.add, mx.np.subtract, mx.np.multiply, lambda a, b: a * mx.np.tanh(b)]


# a program: steps (binary?, which op, first operand, second operand) over earlier values
steps = st.lists(st.tuples(st.booleans(), st.integers(0, 3), st.integers(0, 99),
                           st.integers(0, 99)), min_size=1, max_size=8)


def _evaluate(program, values):
    values = list(values)
    for binary, which, i, j in program:
        a = values[i % len(values)]
        if binary:
            values.append(BINARY[which](a, values[j % len(values)]))
        else:
            values.append(UNARY[which](a))
    return values[-1].sum() + values[len(values) // 2].sum() * 0.5


@settings(max_examples=40, deadline=None)
@given(program=steps, seed=st.integers(0, 2**16))
def test_random_graph_gradients_match_finite_differences(program, seed):
    rng = np.random.default_rng(seed)
    shapes = [(2, 3), (3,), (1, 3)]
    hosts = [rng.uniform(-1, 1, s) for s in shapes]
    leaves = [mx.np.array(h, dtype="float64") for h in hosts]
    leaves[0].attach_grad()
    leaves[1].attach_grad(grad_req="add")
    leaves[2].attach_grad(grad_req="null")
    with autograd.record():
        out = _evaluate(program, leaves)
    if out._node is None or not any(leaf._node is not None and leaf._node in _reachable(out)
                                    for leaf in leaves[:2]):
        return  # the program does not touch a leaf that wants a gradient
    out.backward()
    def value(k, xk):
        args = [mx.np.array(h, dtype="float64") for h in hosts[:k] + [xk] + hosts[k + 1:]]
        return _evaluate(program, args).item()

    for k in (0, 1):
        numeric = central_difference(lambda xk, k=k: value(k, xk), hosts[k])
        np.testing.assert_allclose(leaves[k].grad.asnumpy(), numeric, rtol=1e-5, atol=1e-7)
    assert leaves[2].grad is None


def _reachable(out):
    seen, stack = set(), [out._node]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for a in node.inputs or ():
            if isinstance(a, mx.np.ndarray) and a._node is not None:
                stack.append(a._node)
    return seen
