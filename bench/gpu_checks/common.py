"""What the GPU check scripts share: the device under test, PASS/FAIL lines, CPU references.

Every check runs an mxlite computation through the public API on gpu(0) (so the real
GpuBackend, pool and kernel registration are exercised) and compares it, forward and
gradients, with the same computation on the CPU in float64. ``--dry-run`` runs the same
checks with the CPU standing in for the GPU and small sizes: it proves the script and the
APIs it calls still work, nothing about a card.
"""
import argparse
import os
import sys

import numpy as onp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import mxlite as mx  # noqa: E402
from mxlite import autograd  # noqa: E402
from mxlite.test_utils import gpu_unusable_reason  # noqa: E402

TOLERANCE = {"float32": 1e-4, "float16": 2e-2, "float64": 1e-10}
NO_GPU_EXIT = 2


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dry-run", action="store_true",
                   help="the CPU stands in for the GPU, small sizes: checks the script only")
    return p


def target(args):
    """The device under test: gpu(0), or cpu(0) in a dry run; exits 2 if no GPU is usable."""
    if args.dry_run:
        return mx.cpu(0)
    reason = gpu_unusable_reason(0)
    if reason is not None:
        print(f"no usable GPU: {reason}", flush=True)
        sys.exit(NO_GPU_EXIT)
    return mx.gpu(0)


class Report:
    """Prints one flushed PASS/FAIL/SKIP line per check, so a timeout keeps what ran."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""),
              flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def skip(self, name, reason):
        print(f"SKIP {name}: {reason}", flush=True)
        self.skipped += 1

    def run(self, name, check):
        """``check()`` returns (ok, detail); an exception is a failure with its message."""
        try:
            ok, detail = check()
        except Exception as err:  # the card's failure is the finding: report it, go on
            ok, detail = False, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        self.check(name, ok, detail)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped", flush=True)
        return 1 if self.failed else 0


def relative_error(got, want):
    """max |got - want| / max(max |want|, 0.01); NaN where got has NaN.

    The floor keeps results that are zero in exact arithmetic (layer_norm's gradient for rows
    of two) from being judged by their rounding noise."""
    got = onp.asarray(got, dtype=onp.float64)
    want = onp.asarray(want, dtype=onp.float64)
    if got.shape != want.shape:
        raise AssertionError(f"shape {got.shape} != reference {want.shape}")
    if onp.isnan(got).any() and not onp.isnan(want).any():
        return float("nan")
    scale = max(float(onp.abs(want).max(initial=0.0)), 1e-2)
    return float(onp.abs(got - want).max(initial=0.0)) / scale


def _run(fn, hosts, device, dtype, offset):
    """Outputs and input gradients of ``fn`` on ``device``; each input, when ``offset``, is a
    view starting one element into a larger buffer (not 16-byte aligned)."""
    bases, inputs = [], []
    for host in hosts:
        flat = onp.concatenate([onp.zeros(offset, host.dtype), host.ravel()])
        base = mx.np.array(flat, dtype=dtype if host.dtype.kind == "f" else host.dtype,
                           device=device)
        if host.dtype.kind == "f":
            base.attach_grad()
        bases.append(base)
    weights = None
    with autograd.record():
        for host, base in zip(hosts, bases):
            inputs.append(base[offset:].reshape(host.shape) if offset else base.reshape(host.shape))
        out = fn(*inputs)
        # a fixed, non-uniform head gradient so backward is not a plain sum
        weights = mx.np.array(onp.cos(onp.arange(out.size)).reshape(out.shape), dtype=out.dtype,
                              device=device)
        loss = (out * weights).sum()
    loss.backward()
    grads = [base.grad.asnumpy()[offset:] for host, base in zip(hosts, bases)
             if host.dtype.kind == "f"]
    return [out.asnumpy()] + grads


def compare(fn, hosts, device, dtype="float32", offset=0, tolerance=None):
    """(ok, detail): ``fn`` on ``device`` in ``dtype`` against float64 on the CPU, forward
    and the gradient of every floating input."""
    tolerance = TOLERANCE[dtype] if tolerance is None else tolerance
    got = _run(fn, hosts, device, dtype, offset)
    want = _run(fn, hosts, mx.cpu(0), "float64", 0)
    errors = [relative_error(g, w.reshape(g.shape)) for g, w in zip(got, want)]
    worst = max(errors, key=lambda e: float("inf") if e != e else e)  # NaN counts as worst
    return worst <= tolerance, f"worst relative error {worst:.2e} (limit {tolerance:g})"


def random_inputs(seed, *shapes):
    rng = onp.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]
