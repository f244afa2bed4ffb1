"""Achieved bandwidth of memory-bound ops on buffers larger than the L2 cache, mxlite and
PyTorch on the same card.

256 MiB float32 buffers (an H200's L2 is about 60 MB, an H100's 50 MB), so every figure is a
DRAM figure: bytes that must move (inputs read plus outputs written) / median time of 20
calls timed with CUDA events after warm-up. The device-to-device copy is the ceiling. PyTorch
runs the same ops when it imports with CUDA; its results must match mxlite's (a PASS/FAIL
line per op), the ratio column is mxlite time / PyTorch time (below 1: mxlite is faster).

    python3 bench/gpu_checks/bandwidth.py [--dry-run] [--output FILE.md]
"""
import statistics
import sys
import time

import numpy as onp

from common import Report, parser, relative_error, target

import mxlite as mx
from mxlite import npx

ROW = 1024


def _ops(xp_ops):
    """name -> (fn(a, b), bytes moved as a multiple of one buffer)."""
    return {
        "copy": (lambda a, b: xp_ops["copy"](a), 2),
        "add": (lambda a, b: a + b, 3),
        "relu": (lambda a, b: xp_ops["relu"](a), 2),
        "softmax (rows of 1024)": (lambda a, b: xp_ops["softmax"](a), 2),
        "layer_norm (rows of 1024)": (lambda a, b: xp_ops["layer_norm"](a), 2),
        "sum": (lambda a, b: a.sum(), 1),
    }


def _timer(device):
    """seconds(fn): the median of 20 calls, CUDA events on a GPU, perf_counter on the CPU."""
    def seconds(fn, sync=lambda: None, event=None):
        for _ in range(3):
            fn()
        sync()
        times = []
        for _ in range(20):
            if event is None:
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            else:
                begin, end = event()
                begin.record()
                fn()
                end.record()
                end.synchronize()
                times.append(begin.elapsed_time(end) / 1e3)
        return statistics.median(times)
    return seconds


def _mxlite_events(device):
    if device.device_type != "gpu":
        return None
    import cupy

    class Event:
        def __init__(self):
            self.event = cupy.cuda.Event()

        def record(self):
            self.event.record()

        def synchronize(self):
            self.event.synchronize()

        def elapsed_time(self, other):
            return cupy.cuda.get_elapsed_time(self.event, other.event)

    return lambda: (Event(), Event())


def _torch():
    try:
        import torch
    except ImportError:
        return None, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return None, "PyTorch has no CUDA device"
    return torch, None


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--output", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    device = target(args)
    elements = (1 << 12) if args.dry_run else (256 << 20) // 4
    # uniform in [0, 1): a positive sum, so float32 summation order barely moves it
    host = onp.random.default_rng(0).random((2, elements // ROW, ROW), dtype=onp.float32)
    a, b = (mx.np.array(h, device=device) for h in host)
    gamma, beta = mx.np.ones(ROW, device=device), mx.np.zeros(ROW, device=device)
    mine = _ops({"copy": lambda x: x.copy(), "relu": lambda x: npx.activation(x, act_type="relu"),
                 "softmax": lambda x: npx.softmax(x),
                 "layer_norm": lambda x: npx.layer_norm(x, gamma, beta)})
    seconds = _timer(device)
    torch, torch_reason = (None, "dry run") if args.dry_run else _torch()
    report = Report()
    if torch is None:
        report.skip("PyTorch ratios", torch_reason)
    else:
        ta, tb = (torch.from_numpy(h).cuda() for h in host)
        tn = torch.nn.functional
        theirs = _ops({"copy": lambda x: x.clone(), "relu": torch.relu,
                       "softmax": lambda x: torch.softmax(x, -1),
                       "layer_norm": lambda x: tn.layer_norm(x, (ROW,))})
        torch_events = lambda: (torch.cuda.Event(enable_timing=True),  # noqa: E731
                                torch.cuda.Event(enable_timing=True))
    events = _mxlite_events(device)
    buffer_bytes = a.size * 4
    rows = ["| op | bytes moved | mxlite GB/s | PyTorch GB/s | mxlite/PyTorch time |",
            "|---|---|---|---|---|"]
    for name, (fn, multiple) in mine.items():
        moved = multiple * buffer_bytes
        t_mine = seconds(lambda: fn(a, b), event=events)
        cells = [name, f"{moved / 2**20:.0f} MiB", f"{moved / t_mine / 1e9:.0f}", "-", "-"]
        if torch is not None:
            t_theirs = seconds(lambda: theirs[name][0](ta, tb), sync=torch.cuda.synchronize,
                               event=torch_events)
            cells[3:] = [f"{moved / t_theirs / 1e9:.0f}", f"{t_mine / t_theirs:.2f}"]
            want = theirs[name][0](ta, tb).double().cpu().numpy()
            got = fn(a, b).asnumpy()
            error = relative_error(got, want)
            report.check(f"{name} matches PyTorch", error <= 1e-4, f"relative error {error:.1e}")
        rows.append("| " + " | ".join(cells) + " |")
    table = "\n".join([f"{device}, float32 buffers of {buffer_bytes / 2**20:.0f} MiB", ""] + rows)
    print(table, flush=True)
    if args.output:
        with open(args.output, "w") as f:
            f.write(table + "\n")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
