"""The benchmark workloads and how each is timed.

A workload makes its data once (numpy arrays, shared by every framework so that the
weights and inputs are identical), builds a ``Case`` per framework from that data, and
turns the median seconds of one ``Case.step`` into its reported unit. ``Case.check``
returns the numbers (losses, gradients) compared across frameworks before timing.
"""
from dataclasses import dataclass, field


@dataclass
class Case:
    step: callable          # one timed unit of work; returns once the device is idle
    check: callable         # () -> {name: numpy array}, compared across frameworks
    api: str = ""           # which API the framework's side was written with


@dataclass
class Timing:
    warmup: int
    rounds: int             # rounds of A B A B interleaving
    per_round: int          # steps timed (one sample each) per framework per round


@dataclass
class Workload:
    name: str
    unit: str               # what ``metric`` reports: us/op, ms/step, GB/s
    lower_is_better: bool
    make_data: callable     # (rng) -> {name: numpy array}
    build: callable         # (fw adapter, data, variant) -> Case
    metric: callable        # (seconds per step, data, variant) -> value in ``unit``
    full: Timing
    quick: Timing
    variants: tuple = (None,)
    frameworks: tuple = ("mxlite", "mxlite_hybrid", "torch", "mxnet")
    needs: tuple = ()       # mxlite attributes the workload needs, e.g. "npx.convolution"
    rtol: float = 1e-4      # cross-check tolerance, relative to each array's largest value
    note: str = ""
    extra: dict = field(default_factory=dict)


def all_workloads():
    from . import micro, models
    return {w.name: w for w in micro.WORKLOADS + models.WORKLOADS}
