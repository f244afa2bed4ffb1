"""Launch-geometry limits: more than 65535 planes (gridDim.y's limit) and more than 2^31
elements (32-bit index overflow).

Planes: batch_norm, max/avg pooling and convolution over 70001 (batch x channel) planes, and
softmax over 70001 rows, against float64 on the CPU. Elements: float16 arrays of
7 * 306783379 = 2^31 + 5 elements (4 GiB each) through an activation, an elementwise kernel
and softmax, forward and backward, checked against the exact periodic pattern they must
produce (a CPU reference that size would take minutes); skipped, with the reason, when the
card has less than 48 GiB free.

    python3 bench/gpu_checks/large.py [--dry-run]
"""
import sys

import numpy as onp

from common import Report, compare, parser, random_inputs, target

import mxlite as mx
from mxlite import autograd, npx

PATTERN = onp.arange(7, dtype=onp.float64) - 3  # exact in float16
HUGE_ROWS = 306783379  # 7 * this = 2**31 + 5
HUGE_NEEDS = 48 << 30  # five 4 GiB float16 arrays and the float32 error temporaries


def _plane_cases(planes):
    def batch_norm(x, gamma, beta):
        c = x.shape[1]
        return npx.batch_norm(x, gamma, beta, mx.np.zeros(c, device=x.device),
                              mx.np.ones(c, device=x.device), fix_gamma=False)
    return {
        "batch_norm": (batch_norm, [(planes, 1, 3), (1,), (1,)]),
        "max_pool": (lambda x: npx.pooling(x, kernel=(2, 2), pool_type="max", stride=(2, 2)),
                     [(1, planes, 2, 2)]),
        "avg_pool": (lambda x: npx.pooling(x, kernel=(2, 2), pool_type="avg", stride=(1, 1)),
                     [(1, planes, 2, 2)]),
        "convolution": (lambda x, w: npx.convolution(x, w, kernel=(1, 1), num_filter=1,
                                                      no_bias=True), [(planes, 1, 2, 2), (1, 1, 1, 1)]),
        "softmax": (lambda x: npx.softmax(x), [(planes, 5)]),
    }


def _huge_check(device, rows):
    """(ok, detail) for the 2^31-element pattern check with ``rows`` rows of 7."""
    base = mx.np.array(PATTERN, dtype="float16", device=device)
    x = mx.np.tile(base, rows)
    x.attach_grad()
    with autograd.record():
        relu = npx.activation(x, act_type="relu")
        scaled = relu * 2
        soft = npx.softmax(x.reshape(rows, 7))
        loss = scaled.sum() + (soft * 0).sum()
    loss.backward()
    row_relu = onp.maximum(PATTERN, 0) * 2
    row_soft = onp.exp(PATTERN) / onp.exp(PATTERN).sum()
    problems = []
    for name, got, want, tol in (("relu*2", scaled.reshape(rows, 7), row_relu, 0),
                                 ("softmax", soft, row_soft, 1e-3),
                                 ("relu gradient", x.grad.reshape(rows, 7), (PATTERN > 0) * 2.0, 0)):
        want_dev = mx.np.array(want, dtype="float16", device=device)
        error = float(mx.np.abs(got.astype("float32") - want_dev.astype("float32")).max())
        last = got[rows - 1].asnumpy().astype(onp.float64)
        if error > tol or not onp.allclose(last, want, atol=tol):
            problems.append(f"{name}: max error {error:g}, last row {last.tolist()}")
    return not problems, "; ".join(problems) or f"{7 * rows} elements exact"


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    device = target(args)
    planes = 701 if args.dry_run else 70001
    report = Report()
    for name, (fn, shapes) in _plane_cases(planes).items():
        hosts = random_inputs(planes, *shapes)
        report.run(f"{name} over {planes} planes", lambda: compare(fn, hosts, device))
    if args.dry_run:
        report.run("float16 pattern over 7 * 5 elements", lambda: _huge_check(device, 5))
    else:
        free, _total = mx.device.gpu_memory_info(0)
        if free < HUGE_NEEDS:
            report.skip("2^31 + 5 elements", f"needs {HUGE_NEEDS >> 30} GiB free, the card has "
                                             f"{free / 2**30:.1f} GiB")
        else:
            report.run("float16 over 2^31 + 5 elements", lambda: _huge_check(device, HUGE_ROWS))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
