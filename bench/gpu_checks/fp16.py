"""float16 through every kernel-backed op (odd_sizes.py's cases) against float64 on the CPU.

float16 keeps 11 significant bits, so the limit is 2e-2 of the largest reference value;
softmax and layer_norm accumulate in float32 inside the kernels and land well under it.

    python3 bench/gpu_checks/fp16.py [--dry-run]
"""
import sys

import numpy as onp

from common import Report, compare, parser, random_inputs, target
from odd_sizes import CASES, INTEGER_CASES


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    device = target(args)
    report = Report()
    for n in ((3, 33) if args.dry_run else (3, 33, 1025, 4099)):
        for name, (fn, shapes) in CASES.items():
            hosts = random_inputs(n, *shapes(n))
            report.run(f"{name} float16 n={n}",
                       lambda: compare(fn, hosts, device, dtype="float16"))
        for name, (fn, shapes, integers) in INTEGER_CASES.items():
            shape, high = integers(n)
            index = onp.random.default_rng(n).integers(0, high, shape)
            hosts = random_inputs(n, *shapes(n))
            hosts = [index] + hosts if name == "embedding" else hosts + [index]
            report.run(f"{name} float16 n={n}",
                       lambda: compare(fn, hosts, device, dtype="float16"))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
