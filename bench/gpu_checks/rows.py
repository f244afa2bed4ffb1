"""softmax, log_softmax and layer_norm for every row length 1..4097, forward and backward.

Rows up to 256 take the warp-per-row path (8 rows per block), longer rows a block each; the
block reduction changes shape at every multiple of 32 up to 512 threads, so every length is
run rather than a sample. Compared with float64 on the CPU.

    python3 bench/gpu_checks/rows.py [--dry-run] [--max-length N]
"""
import sys

from common import Report, compare, parser, random_inputs, target

from mxlite import npx

OPS = {
    "softmax": (lambda x: npx.softmax(x), 1),
    "log_softmax": (lambda x: npx.log_softmax(x), 1),
    "layer_norm": (lambda x, g, b: npx.layer_norm(x, g, b), 3),
}


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--max-length", type=int, default=4097)
    args = p.parse_args(argv)
    device = target(args)
    lengths = (range(1, 40) if args.dry_run
               else range(1, args.max_length + 1))
    report = Report()
    for name, (fn, count) in OPS.items():
        worst, failures = 0.0, []
        for length in lengths:
            shapes = [(9, length), (length,), (length,)][:count]  # 9 rows: a partial block of 8
            ok, detail = _safe(compare, fn, random_inputs(length, *shapes), device)
            if not ok:
                failures.append(f"length {length}: {detail}")
        report.check(f"{name} lengths {lengths[0]}..{lengths[-1]}", not failures,
                     f"{len(failures)} failing: {'; '.join(failures[:5])}" if failures
                     else f"{len(lengths)} lengths")
    return report.finish()


def _safe(check, *args):
    try:
        return check(*args)
    except Exception as err:  # one failing length must not hide the others
        return False, f"{type(err).__name__}: {err}"


if __name__ == "__main__":
    sys.exit(main())
