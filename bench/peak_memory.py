"""Peak host memory of one LeNet training step, eager beside hybridized (issue 14).

``python -m bench.peak_memory`` builds the ``lenet_step`` model (Gluon LeNet-5, batch 64,
softmax cross-entropy, SGD momentum) three ways: eager, ``hybridize()`` and
``hybridize(static_alloc=True)``; after two warm-up steps (the trace, the planned buffers and
the optimizer state exist), it measures one step (forward, backward, update) with
``tracemalloc``, which sees every numpy allocation: the peak above what was allocated when
the step began; then the median CPU time of ``--steps`` steps per mode (tracemalloc off,
modes alternating), since ``static_alloc`` buys memory with recomputation (convolution
columns). Prints one table row
per mode with the ratios to eager.
"""
import argparse
import gc
import time
import tracemalloc

import numpy as np

MODES = ("eager", "hybridize", "hybridize(static_alloc=True)")


def lenet_step(mode):
    """One training step of the bench LeNet in ``mode`` (a MODES entry), ready to call."""
    from bench.workloads import models
    from bench.workloads.frameworks import FRAMEWORKS

    fw = FRAMEWORKS["mxlite_hybrid" if mode != "eager" else "mxlite"](gpu=False)
    mx = fw.mx
    data = models._lenet_data(np.random.default_rng(0))
    net = models._gluon_net(fw, "lenet")
    net.initialize()
    for p, name in zip(net.collect_params().values(), models._param_names(data)):
        p.set_data(fw.array(data[name]))
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    if mode != "eager":
        static = mode.endswith("(static_alloc=True)")
        net.hybridize(static_alloc=static)
        loss_fn.hybridize(static_alloc=static)
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd",
                               {"learning_rate": models.LR, "momentum": models.MOMENTUM})
    x, y = fw.array(data["x"]), fw.array(data["y"])

    def step():
        with mx.autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(x.shape[0])
        return float(loss.mean())
    return step


def peak_bytes(step):
    """Peak bytes allocated above the starting point during one call of ``step``."""
    step()
    step()
    gc.collect()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - start


def measure(steps=20):
    """{mode: (peak bytes of one step, median CPU ms per step)}; the modes' steps are timed
    in alternation, so a change in the machine's load reaches all of them."""
    made = {mode: lenet_step(mode) for mode in MODES}
    peaks = {mode: peak_bytes(step) for mode, step in made.items()}
    times = {mode: [] for mode in MODES}
    for _ in range(steps):
        for mode, step in made.items():
            start = time.process_time()
            step()
            times[mode].append(time.process_time() - start)
    return {mode: (peaks[mode], sorted(t)[len(t) // 2] * 1e3 if t else float("nan"))
            for mode, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per mode (0: none)")
    results = measure(parser.parse_args(argv).steps)
    peak0, ms0 = results["eager"]
    print("| LeNet training step (batch 64) | peak MiB | / eager | CPU ms/step | / eager |")
    print("|---|---|---|---|---|")
    for mode, (peak, ms) in results.items():
        print(f"| {mode} | {peak / 2**20:.2f} | {peak / peak0:.2f} | {ms:.2f} | "
              f"{ms / ms0:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
