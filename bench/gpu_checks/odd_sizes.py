"""Odd sizes and offset views through every kernel-backed op, against float64 on the CPU.

Sizes that are not multiples of the vector width, the warp or the block (1, 3, 31, 33, 1023,
1025, 4099 elements per row) and inputs that start one element into a buffer (4 bytes: not
16-byte aligned, so a kernel that assumes aligned vector loads reads the wrong data or faults).

    python3 bench/gpu_checks/odd_sizes.py [--dry-run] [--small]
"""
import sys

import numpy as onp

from common import Report, compare, parser, random_inputs, target

import mxlite as mx
from mxlite import npx


def _conv(x, w):
    return npx.convolution(x, w, kernel=(3, 3), num_filter=w.shape[0], pad=(1, 1), no_bias=True)


def _batch_norm(x, gamma, beta):
    channels = x.shape[1]
    zeros, ones = (mx.np.array(onp.zeros(channels), dtype=x.dtype, device=x.device),
                   mx.np.array(onp.ones(channels), dtype=x.dtype, device=x.device))
    return npx.batch_norm(x, gamma, beta, zeros, ones, fix_gamma=False)


def _cross_entropy(logits, labels):
    return mx.gluon.loss.SoftmaxCrossEntropyLoss()(logits, labels)


def _embedding(indices, weight):
    return npx.embedding(indices, weight, input_dim=weight.shape[0], output_dim=weight.shape[1])


def _pick(x, indices):
    return npx.pick(x, indices, axis=-1)


# name -> (fn, shapes of the floating inputs as a function of n, extra integer inputs)
CASES = {
    "relu": (lambda x: npx.activation(x, act_type="relu"), lambda n: [(3, n)]),
    "sigmoid": (lambda x: npx.activation(x, act_type="sigmoid"), lambda n: [(3, n)]),
    "tanh": (lambda x: npx.activation(x, act_type="tanh"), lambda n: [(3, n)]),
    "softrelu": (lambda x: npx.activation(x, act_type="softrelu"), lambda n: [(3, n)]),
    "leaky_relu": (lambda x: npx.leaky_relu(x, act_type="leaky", slope=0.1), lambda n: [(3, n)]),
    "elu": (lambda x: npx.leaky_relu(x, act_type="elu", slope=0.5), lambda n: [(3, n)]),
    "add_broadcast": (lambda a, b: a + b * 2, lambda n: [(3, n), (1, n)]),
    "mul_exp": (lambda a, b: mx.np.exp(a * 0.1) * b, lambda n: [(3, n), (3, n)]),
    "sum_axis": (lambda x: x.sum(axis=1), lambda n: [(3, n)]),
    "softmax": (lambda x: npx.softmax(x), lambda n: [(3, n)]),
    "log_softmax": (lambda x: npx.log_softmax(x), lambda n: [(3, n)]),
    "layer_norm": (lambda x, g, b: npx.layer_norm(x, g, b), lambda n: [(3, n), (n,), (n,)]),
    "batch_norm": (_batch_norm, lambda n: [(2, 3, n), (3,), (3,)]),
    "max_pool": (lambda x: npx.pooling(x, kernel=(2, 2), pool_type="max", stride=(2, 2)),
                 lambda n: [(1, 2, 5, n + 1)]),
    "avg_pool": (lambda x: npx.pooling(x, kernel=(3, 3), pool_type="avg", stride=(1, 1),
                                       pad=(1, 1)), lambda n: [(1, 2, 5, n)]),
    "convolution": (_conv, lambda n: [(1, 3, 5, n), (2, 3, 3, 3)]),
}
INTEGER_CASES = {  # floating shapes, integer input (shape, high) as a function of n
    "softmax_cross_entropy": (_cross_entropy, lambda n: [(4, n)], lambda n: ((4,), n)),
    "pick": (_pick, lambda n: [(4, n)], lambda n: ((4,), n)),
    "embedding": (lambda i, w: _embedding(i, w), lambda n: [(n + 2, 5)],
                  lambda n: ((3, n % 7 + 1), n + 2)),
}


def _dropout_check(device, n):
    """Dropout is random, so its law is checked: each output is 0 or x / (1 - p), the kept
    fraction is near 1 - p, and the gradient uses the same mask."""
    p = 0.3
    x = mx.np.array(onp.full((3, n), 2.0), device=device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.dropout(x, p=p)
    y.backward()
    out, grad = y.asnumpy(), x.grad.asnumpy()
    kept = out != 0
    ok = (onp.allclose(out[kept], 2.0 / (1 - p)) and onp.array_equal(grad != 0, kept)
          and (out.size < 1000 or abs(kept.mean() - (1 - p)) < 0.05))
    return ok, f"kept {kept.mean():.3f} of {out.size} (expected about {1 - p})"


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--small", action="store_true",
                   help="one size only (for compute-sanitizer, which slows kernels 10-100x)")
    args = p.parse_args(argv)
    device = target(args)
    if args.small:
        sizes = (33,)
    elif args.dry_run:
        sizes = (1, 33)
    else:
        sizes = (1, 3, 31, 33, 1023, 1025, 4099)
    report = Report()
    for n in sizes:
        for offset in (0, 1):
            where = f"n={n} {'offset view' if offset else 'aligned'}"
            for name, (fn, shapes) in CASES.items():
                hosts = random_inputs(n, *shapes(n))
                report.run(f"{name} {where}",
                           lambda: compare(fn, hosts, device, offset=offset))
            for name, (fn, shapes, integers) in INTEGER_CASES.items():
                shape, high = integers(n)
                index = onp.random.default_rng(n).integers(0, high, shape)
                hosts = random_inputs(n, *shapes(n))
                hosts = [index] + hosts if name == "embedding" else hosts + [index]
                report.run(f"{name} {where}",
                           lambda: compare(fn, hosts, device, offset=offset))
        report.run(f"dropout n={n}", lambda: _dropout_check(device, n))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
