"""Micro workloads: per-op overhead, one big fused-able elementwise graph, control flow."""
import numpy as np

from . import Case, Timing, Workload

OPS_PER_CHAIN = 200
OP_CYCLE = ("mul", "add", "tanh", "scale")


def op_chain(fw, x, w, n=OPS_PER_CHAIN):
    """``n`` dependent elementwise ops cycling mul, add, tanh, scale (values stay bounded)."""
    tanh = fw.tanh
    for i in range(n):
        k = i & 3
        if k == 0:
            x = x * w
        elif k == 1:
            x = x + w
        elif k == 2:
            x = tanh(x)
        else:
            x = x * 0.5
    return x


def _op_data(rng):
    return {"x": rng.standard_normal(16).astype(np.float32),
            "w": rng.uniform(0.5, 1.5, 16).astype(np.float32),
            "head": np.ones(16, np.float32)}


def _op_build(fw, data, variant):
    recording = variant != "no_record"
    if recording and not hasattr(fw, "backward"):
        raise NotImplementedError(f"{fw.name} has no autograd")
    x = fw.array(data["x"], grad=recording)
    w = fw.array(data["w"], grad=recording)
    head = fw.array(data["head"])
    params = [x, w]
    sync = fw.sync
    chain = fw.jit(lambda x, w: op_chain(fw, x, w))

    if variant == "no_record":
        pause = fw.pause

        def step():
            with pause():
                chain(x, w)
            sync()
    elif variant == "record":
        record = fw.record

        def step():
            with record():
                chain(x, w)
            sync()
    else:
        record, backward, clear = fw.record, fw.backward, fw.clear_grads

        def step():
            clear(params)
            with record():
                y = chain(x, w)
            backward(y, head)
            sync()

    def check():
        if variant != "fwd_bwd":
            with fw.pause():
                return {"y": fw.numpy(chain(x, w))}
        fw.clear_grads(params)
        with fw.record():
            y = chain(x, w)
        fw.backward(y, head)
        return {"y": fw.numpy(y), "dx": fw.numpy(fw.grad(x)), "dw": fw.numpy(fw.grad(w))}

    return Case(step, check, api="np operators, np.tanh")


op_overhead = Workload(
    name="op_overhead", unit="us/op", lower_is_better=True,
    make_data=_op_data, build=_op_build,
    metric=lambda seconds, data, variant: seconds / OPS_PER_CHAIN * 1e6,
    full=Timing(warmup=20, rounds=10, per_round=30),
    quick=Timing(warmup=5, rounds=4, per_round=10),
    variants=("no_record", "record", "fwd_bwd"),
    frameworks=("numpy", "mxlite", "mxlite_hybrid", "torch", "mxnet"),
    rtol=1e-5,
    note=f"float32 (16,), {OPS_PER_CHAIN} chained ops cycling {', '.join(OP_CYCLE)}; "
         "fwd_bwd includes the backward with an explicit head gradient")


# -- elementwise_big -----------------------------------------------------------------------
BIG_N = 4 * 1024 * 1024
BIG_ARRAYS_MOVED = 8  # read a, b, c, dy; write y, da, db, dc: the least any fused kernel moves


def _big_data(rng):
    return {name: rng.uniform(-1, 1, BIG_N).astype(np.float32) for name in ("a", "b", "c", "dy")}


def _big_build(fw, data, variant):
    a, b, c = (fw.array(data[k], grad=True) for k in "abc")
    dy = fw.array(data["dy"])
    params = [a, b, c]
    fused = fw.jit(lambda a, b, c: fw.tanh(a * b + c))

    def forward_backward():
        fw.clear_grads(params)
        with fw.record():
            y = fused(a, b, c)
        fw.backward(y, dy)
        return y

    def step():
        forward_backward()
        fw.sync()

    def check():
        y = forward_backward()
        return {"y": fw.numpy(y), **{"d" + k: fw.numpy(fw.grad(v)) for k, v in zip("abc", params)}}

    return Case(step, check, api="np operators, np.tanh")


elementwise_big = Workload(
    name="elementwise_big", unit="GB/s", lower_is_better=False,
    make_data=_big_data, build=_big_build,
    metric=lambda seconds, data, variant: BIG_ARRAYS_MOVED * BIG_N * 4 / seconds / 1e9,
    full=Timing(warmup=3, rounds=6, per_round=5),
    quick=Timing(warmup=1, rounds=3, per_round=2),
    rtol=1e-5,
    note="y = tanh(a*b + c) on 4M float32, forward+backward; GB/s of the 8 arrays that "
         "must move at least once (a, b, c, dy read; y, da, db, dc written)")


# -- control_flow ------------------------------------------------------------------------
CONTROL_POINTS = np.arange(0, 1, 0.1, dtype=np.float32)


def tutorial_f(fw, a):
    """The autograd tutorial's function: a data-dependent loop and branch."""
    b = a * 2
    while fw.abs(b).sum() < 1000:
        b = b * 2
    if b.sum() >= 0:
        c = b[0]
    else:
        c = b[1]
    return c


def _control_data(rng):
    # The tutorial draws a random 2-vector; a fixed grid (t, 1 - t) keeps every run equal
    # and keeps the loop finite at t = 0.
    return {"points": np.stack([CONTROL_POINTS, 1 - CONTROL_POINTS], axis=1)}


def _control_build(fw, data, variant):
    points = data["points"]

    def gradients():
        out = []
        for p in points:
            a = fw.array(p, grad=True)
            with fw.record():
                c = tutorial_f(fw, a)
            fw.backward(c)
            out.append(fw.grad(a))
        return out

    def step():
        gradients()
        fw.sync()

    def check():
        return {"grads": np.stack([fw.numpy(g) for g in gradients()])}

    return Case(step, check, api="np operators, while/if on array values")


control_flow = Workload(
    name="control_flow", unit="ms/step", lower_is_better=True,
    make_data=_control_data, build=_control_build,
    metric=lambda seconds, data, variant: seconds * 1e3,
    full=Timing(warmup=5, rounds=10, per_round=10),
    quick=Timing(warmup=2, rounds=3, per_round=5),
    rtol=1e-6,
    frameworks=("mxlite", "torch", "mxnet"),  # value-dependent control flow: no graph
    note="the tutorial's f (while loop + branch on values) differentiated at "
         "a = (t, 1-t) for t in arange(0, 1, 0.1): ms for all ten gradients")

WORKLOADS = [op_overhead, elementwise_big, control_flow]
