"""Large elementwise ops split over the CPU's threads (``mxlite.backend.cpu.CpuWorkers``,
``mxlite.ops.elemwise``): results identical to the unsplit computation, the fallbacks, and
the worker pool's contract (errors, nesting, the caller's context and FP mode)."""
import threading
import warnings

import numpy as onp
import pytest

import mxlite as mx
from mxlite import autograd
from mxlite.backend import cpu as cpu_backend
from mxlite.backend.cpu import CpuWorkers, workers
from mxlite.ops import elemwise


@pytest.fixture
def small_split(monkeypatch):
    """Split from 4,096 elements in pieces of 1,000, on 3 threads, so tests stay fast and
    pieces do not divide the arrays evenly."""
    monkeypatch.setattr(elemwise, "SPLIT_ELEMENTS", 4096)
    monkeypatch.setattr(elemwise, "PIECE_ELEMENTS", 1000)
    previous = mx.util.set_num_threads(3)
    yield
    mx.util.set_num_threads(previous)


def _run(fn, arrays, threads, head):
    mx.util.set_num_threads(threads)
    xs = [mx.np.array(a, dtype=a.dtype) for a in arrays]
    for x in xs:
        x.attach_grad()
    with autograd.record():
        y = fn(*xs)
    y.backward(mx.np.array(head, dtype=head.dtype))
    return y.asnumpy(), [x.grad.asnumpy() for x in xs]


CASES = [
    ("tanh(a*b+c)", lambda a, b, c: mx.np.tanh(a * b + c), 3),
    ("exp, sqrt, divide", lambda a, b: mx.np.exp(a) / mx.np.sqrt(b * b + 1), 2),
    ("scalars", lambda a: 2.5 * mx.np.sin(a) - 1 + a ** 2, 1),
    ("maximum, abs", lambda a, b: mx.np.maximum(a, b) + mx.np.abs(a), 2),
    ("sigmoid-like", lambda a: 1 / (1 + mx.np.exp(-a)), 1),
    ("npx relu, sigmoid", lambda a, b: mx.npx.relu(a) * mx.npx.sigmoid(b), 2),
]


@pytest.mark.parametrize("name,fn,arity", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("shape", [(4099,), (67, 131), (3, 50, 41)])
def test_split_ops_match_unsplit_bit_for_bit(small_split, name, fn, arity, shape):
    rng = onp.random.default_rng(3)
    arrays = [rng.standard_normal(shape).astype(onp.float32) for _ in range(arity)]
    head = rng.standard_normal(shape).astype(onp.float32)
    y1, g1 = _run(fn, arrays, 1, head)
    y3, g3 = _run(fn, arrays, 3, head)
    assert onp.array_equal(y1, y3)
    for a, b in zip(g1, g3):
        assert a.dtype == b.dtype and onp.array_equal(a, b)


def test_large_ops_are_split(small_split, monkeypatch):
    seen = []
    run = workers.run

    def spying_run(piece, count):
        seen.append(count)
        return run(piece, count)
    monkeypatch.setattr(workers, "run", spying_run)
    x = mx.np.array(onp.linspace(-3, 3, 50_000, dtype=onp.float32))
    x.attach_grad()
    with autograd.record():
        y = mx.np.tanh(x) * x
    y.backward()
    # 50,000 elements in 50 pieces: tanh and multiply forward, then their backwards, which
    # compute piece 0 first (its results' dtypes) and the other 49 on the threads
    assert seen == [50, 50, 49, 49]
    expected = onp.tanh(x.asnumpy()) * x.asnumpy()
    assert onp.array_equal(y.asnumpy(), expected)


@pytest.mark.parametrize("case", ["broadcast", "transposed", "int", "bool result", "0-d"])
def test_what_cannot_be_split_is_computed_as_numpy_does(small_split, case):
    rng = onp.random.default_rng(0)
    a = rng.standard_normal((80, 70)).astype(onp.float32)
    if case == "broadcast":
        b = rng.standard_normal((70,)).astype(onp.float32)
        args, expected = (mx.np.array(a), mx.np.array(b)), a * b
    elif case == "transposed":
        b = rng.standard_normal((70, 80)).astype(onp.float32)
        args, expected = (mx.np.array(a), mx.np.array(b).T), a * b.T
    elif case == "int":
        ai = onp.arange(5600, dtype=onp.int32).reshape(80, 70)
        args, expected = (mx.np.array(ai), 3), ai * 3
    elif case == "bool result":
        got = mx.np.greater(mx.np.array(a), 0.0).asnumpy()
        assert got.dtype == onp.bool_ and onp.array_equal(got, a > 0)
        args, expected = (mx.np.array(a), True), a * True
    else:
        args, expected = (mx.np.array(a), mx.np.array(onp.float32(2))), a * onp.float32(2)
    got = mx.np.multiply(*args).asnumpy()
    assert got.dtype == expected.dtype and onp.array_equal(got, expected)


@pytest.mark.parametrize("dtype", ["float16", "float64", "int32"])
def test_npx_kernels_split_in_every_dtype_and_keep_layouts(small_split, dtype):
    rng = onp.random.default_rng(2)
    a = (rng.standard_normal((90, 80)) * 5).astype(dtype)
    for threads in (1, 3):
        mx.util.set_num_threads(threads)
        x = mx.np.array(a, dtype=dtype)
        got = [mx.npx.relu(x).asnumpy(), mx.npx.sigmoid(x).asnumpy()]
        xt = mx.np.array(a.T, dtype=dtype).T  # F-ordered: computed unsplit, layout kept
        assert mx.npx.sigmoid(xt)._data.flags.f_contiguous
        got += [mx.npx.sigmoid(xt).asnumpy()]
        if threads == 1:
            want = got
    for w, g in zip(want, got):
        assert w.dtype == g.dtype and onp.array_equal(w, g)


def test_a_pass_through_gradient_stays_the_arriving_array(small_split):
    g = onp.ones(10_000, onp.float32)
    grads = elemwise.add.op.backward_impls[0](_Ctx([g, g], [True, True]), g)
    assert grads[0] is g and grads[1] is g


class _Ctx:
    def __init__(self, inputs, need):
        self.xp, self.inputs, self.need, self.params = onp, inputs, need, {}

    def call(self, *args, **kwargs):
        raise AssertionError("not used")


def test_split_gradients_agree_with_finite_differences(small_split):
    rng = onp.random.default_rng(1)
    a = rng.uniform(0.5, 1.5, 5000)
    b = rng.uniform(0.5, 1.5, 5000)
    head = rng.standard_normal(5000)
    _, (ga, gb) = _run(lambda x, y: mx.np.log(x) * mx.np.tanh(y), [a, b], 3, head)
    eps = 1e-6
    num_a = head * (onp.log(a + eps) - onp.log(a - eps)) / (2 * eps) * onp.tanh(b)
    num_b = head * onp.log(a) * (onp.tanh(b + eps) - onp.tanh(b - eps)) / (2 * eps)
    assert onp.allclose(ga, num_a, rtol=1e-7, atol=1e-9)
    assert onp.allclose(gb, num_b, rtol=1e-7, atol=1e-9)


def test_errstate_of_the_caller_holds_in_every_piece(small_split):
    x = mx.np.array(onp.full(9000, 100.0, onp.float32))
    with onp.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            mx.np.exp(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with onp.errstate(over="ignore"):
            assert onp.isinf(mx.np.exp(x).asnumpy()).all()


def test_pool_runs_every_piece_once_and_raises_the_first_error():
    pool = CpuWorkers(threads=3)
    done = []
    pool.run(done.append, 50)
    assert sorted(done) == list(range(50))

    def failing(i):
        if i == 7:
            raise KeyError("piece 7")
    with pytest.raises(KeyError, match="piece 7"):
        pool.run(failing, 20)
    pool.run(done.append, 1)  # still usable after an error


def test_pool_runs_pieces_on_helper_threads():
    pool = CpuWorkers(threads=3)
    meet = threading.Barrier(3, timeout=30)  # broken unless three threads hold a piece at once
    names = set()

    def piece(i):
        names.add(threading.current_thread().name)
        meet.wait()
    pool.run(piece, 3)
    assert len(names) == 3 and threading.current_thread().name in names


def test_pool_calls_nested_in_a_piece_finish():
    pool = CpuWorkers(threads=2)
    totals = []

    def outer(i):
        inner = []
        pool.run(inner.append, 10)
        totals.append(len(inner))
    pool.run(outer, 6)
    assert totals == [10] * 6


def test_pool_works_on_the_caller_alone_when_its_threads_are_gone():
    pool = CpuWorkers(threads=4)
    pool.run(lambda i: None, 8)
    pool._forget_threads()  # as in a forked child
    pool._queue = __import__("queue").SimpleQueue()  # a queue nobody serves
    pool._started = 3
    done = []
    pool.run(done.append, 12)
    assert sorted(done) == list(range(12))


def test_pool_threads_take_the_callers_flush_to_zero_mode(small_split):
    if mx.util._libm() is None:
        pytest.skip("flush-to-zero can only be set on x86-64 Linux with glibc")
    tiny = onp.full(12_000, 1e-39, onp.float32)  # float32 denormals
    x = mx.np.array(tiny)
    assert (mx.np.multiply(x, 1.0).asnumpy() == tiny).all()  # helpers started, mode off
    mx.util.set_flush_denorms(True)
    try:
        assert (onp.multiply(tiny, onp.float32(1)) == 0).all()  # the caller flushes
        assert (mx.np.multiply(x, 1.0).asnumpy() == 0).all()  # and so does every piece
    finally:
        mx.util.set_flush_denorms(False)
    assert (mx.np.multiply(x, 1.0).asnumpy() == tiny).all()


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_set_num_threads_refuses_what_is_no_count(value):
    with pytest.raises(ValueError, match="positive int"):
        mx.util.set_num_threads(value)


def test_threads_default_from_the_environment(monkeypatch):
    monkeypatch.setenv("MXLITE_CPU_THREADS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert cpu_backend._threads_from_environment() == 3
    monkeypatch.delenv("MXLITE_CPU_THREADS")
    assert cpu_backend._threads_from_environment() == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert cpu_backend._threads_from_environment() >= 1
    assert mx.util.get_num_threads() == workers.threads
