"""Run the benchmark workloads and append the results as JSON lines.

    python -m bench [--quick] [--workloads a,b] [--frameworks mxlite,torch,mxnet]
                    [--threads 1,2] [--gpu] [--mxnet-python PATH]

Every framework gets the same data and weights and must agree with mxlite (losses and
gradients to float32 rounding) before it is timed. Frameworks are timed in interleaved
rounds (A B A B, the order flipped every round) at each pinned thread count; MXNet 1.x runs
in its own interpreter (``--mxnet-python``, or $BENCH_MXNET_PYTHON) as a worker process
that answers the same commands over a pipe.
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import all_workloads  # noqa: E402
from bench.workloads.frameworks import FRAMEWORKS, available  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
SEED = 20240517
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "MXNET_OMP_MAX_THREADS")


# -- running one framework -----------------------------------------------------------------
class InProcess:
    """A framework in this interpreter: builds the case and times its steps."""

    def __init__(self, name, gpu):
        self.name = name
        self.fw = FRAMEWORKS[name](gpu=gpu)
        self.version = self.fw.version
        self.case = None

    def build(self, workload, variant, data, data_path):
        self.case = workload.build(self.fw, data, variant)
        return self.case.api

    def check(self):
        return self.case.check()

    def time(self, n):
        """Wall-clock seconds of ``n`` steps, and this process's CPU seconds for each."""
        step = self.case.step
        wall, cpu = time.perf_counter, time.process_time
        walls, cpus = [], []
        for _ in range(n):
            w0, c0 = wall(), cpu()
            step()
            walls.append(wall() - w0)
            cpus.append(cpu() - c0)
        return walls, cpus

    def close(self):
        self.case = None


class Worker:
    """A framework in another interpreter (MXNet's virtual environment), over a pipe."""

    def __init__(self, name, python, threads, gpu):
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
        env.update({k: str(threads) for k in THREAD_ENV})
        cmd = [python, "-m", "bench.run", "--worker", name, "--threads", str(threads)]
        if gpu:
            cmd.append("--gpu")
        self.name = name
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.version = self._call({"cmd": "version"})["version"]

    def _call(self, msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} worker exited (code {self.proc.poll()})")
        reply = json.loads(line)
        if "error" in reply:
            exc = NotImplementedError if reply.get("skip") else RuntimeError
            raise exc(reply["error"])
        return reply

    def build(self, workload, variant, data, data_path):
        return self._call({"cmd": "build", "workload": workload.name, "variant": variant,
                           "data": str(data_path)})["api"]

    def check(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "check.npz"
            self._call({"cmd": "check", "path": str(path)})
            with np.load(path) as f:
                return {k: f[k] for k in f.files}

    def time(self, n):
        reply = self._call({"cmd": "time", "n": n})
        return reply["wall"], reply["cpu"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


def worker_main(name, threads, gpu):
    """Serve Worker's commands on stdin/stdout; library chatter goes to stderr."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr
    limits = _thread_limits(threads)
    runner = InProcess(name, gpu)
    workloads = all_workloads()
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["cmd"] == "quit":
                break
            if msg["cmd"] == "version":
                reply = {"version": runner.version}
            elif msg["cmd"] == "build":
                with np.load(msg["data"]) as f:
                    data = {k: f[k] for k in f.files}
                reply = {"api": runner.build(workloads[msg["workload"]], msg["variant"],
                                             data, None)}
            elif msg["cmd"] == "check":
                np.savez(msg["path"], **runner.check())
                reply = {}
            else:
                wall, cpu = runner.time(msg["n"])
                reply = {"wall": wall, "cpu": cpu}
        except NotImplementedError as err:
            reply = {"error": str(err), "skip": True}
        except Exception as err:  # reported to the parent, which skips this framework
            reply = {"error": f"{type(err).__name__}: {err}"}
        out.write(json.dumps(reply) + "\n")
    limits.close()


# -- threads and machine facts -----------------------------------------------------------
def _thread_limits(threads):
    """Pin BLAS/OpenMP pools (threadpoolctl), torch's intra-op pool and mxlite's CPU threads
    to ``threads``."""
    stack = contextlib.ExitStack()
    try:
        from threadpoolctl import threadpool_limits
        stack.enter_context(threadpool_limits(limits=threads))
    except ImportError:
        pass
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        stack.callback(torch.set_num_threads, previous)
    if "mxlite.util" in sys.modules:
        util = sys.modules["mxlite.util"]
        stack.callback(util.set_num_threads, util.set_num_threads(threads))
    return stack


def _cpu_model():
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if found:
            return found.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: pool.get(k) for k in ("internal_api", "version", "architecture",
                                      "threading_layer", "prefix")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def machine_info(gpu):
    info = {"host": socket.gethostname(), "cpu": _cpu_model(), "cores": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(),
            "numpy": np.__version__, "blas": _blas(),
            "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                             if k in os.environ}}
    if gpu:
        try:
            import cupy
            info["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        except Exception as err:
            info["gpu"] = f"unknown ({type(err).__name__})"
    return info


def results_path(info, gpu):
    """One file per machine kind. A CPU's model name alone does not say which: "AMD EPYC"
    covers cores with and without AVX-512, so OpenBLAS's kernel choice is part of the name."""
    if gpu:
        name = info.get("gpu")
    else:
        kernels = sorted({pool["architecture"] for pool in info.get("blas") or ()
                          if pool.get("architecture")})
        name = " ".join([info["cpu"], *kernels])
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower())
    return RESULTS_DIR / f"{'gpu' if gpu else 'cpu'}-{slug.strip('-')}.jsonl"


# -- cross-check and statistics ----------------------------------------------------------
def compare(reference, other, rtol):
    """Largest difference over all shared arrays, relative to each array's largest value."""
    worst = 0.0
    for key, ref in reference.items():
        if key not in other:
            raise ValueError(f"missing {key!r} in the cross-check")
        got = np.asarray(other[key], dtype=np.float64).reshape(np.shape(ref))
        ref = np.asarray(ref, dtype=np.float64)
        scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-30)
        worst = max(worst, float(np.max(np.abs(got - ref))) / scale if ref.size else 0.0)
    return worst, worst <= rtol


def summarize(walls, cpus, to_metric):
    """Median and quartiles of the metric over wall-clock samples; the CPU-time median too.

    On a loaded machine wall-clock includes time spent waiting for a core; at one thread
    the CPU-time median (``cpu_value``) is the same measure without that wait.
    """
    values = np.array([to_metric(s) for s in walls])
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    cpu_median = float(np.median(cpus))
    return {"value": float(median), "q1": float(q1), "q3": float(q3),
            "cpu_value": to_metric(cpu_median) if cpu_median > 0 else None,
            "median_s": float(np.median(walls)), "cpu_median_s": cpu_median,
            "samples": len(walls)}


# -- the driver --------------------------------------------------------------------------
def run_variant(workload, variant, runners, data, data_path, timing, log):
    """Build, cross-check and time one workload variant on every runner; return records."""
    built, notes = {}, {}
    for name, runner in runners.items():
        if name not in workload.frameworks:
            continue
        try:
            built[name] = runner.build(workload, variant, data, data_path)
        except NotImplementedError as err:
            notes[name] = f"skipped: {err}"
        except Exception as err:
            notes[name] = f"failed to build: {type(err).__name__}: {err}"
    checks = {}
    if "mxlite" in built:
        try:
            reference = runners["mxlite"].check()
        except Exception as err:
            notes["mxlite"] = f"check failed: {type(err).__name__}: {err}"
            built.pop("mxlite")
            reference = None
        for name in list(built):
            if name == "mxlite" or reference is None:
                continue
            try:
                err, ok = compare(reference, runners[name].check(), workload.rtol)
            except Exception as exc:
                err, ok = float("nan"), False
                notes[name] = f"check failed: {type(exc).__name__}: {exc}"
            checks[name] = {"vs": "mxlite", "max_rel_err": err, "ok": ok}
            if not ok:
                notes.setdefault(name, f"cross-check vs mxlite failed (max rel err {err:.2e})")
                built.pop(name)
    for name, note in notes.items():
        log(f"    {name}: {note}")
    walls = {name: [] for name in built}
    cpus = {name: [] for name in built}
    for name in built:
        runners[name].time(timing.warmup)
    order = list(built)
    for r in range(timing.rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            wall, cpu = runners[name].time(timing.per_round)
            walls[name] += wall
            cpus[name] += cpu
    records = []
    for name in built:
        stats = summarize(walls[name], cpus[name], lambda s: workload.metric(s, data, variant))
        records.append({"framework": name, "api": built[name], "check": checks.get(name),
                        **stats})
    for name, note in notes.items():
        if name not in built:
            records.append({"framework": name, "skipped": note})
    return records


def parse_args(argv):
    workloads = all_workloads()
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few repetitions (under 2 minutes)")
    p.add_argument("--workloads", default=",".join(workloads),
                   help=f"comma-separated, from: {', '.join(workloads)}")
    p.add_argument("--frameworks", default="numpy,mxlite,mxlite_hybrid,torch,mxnet")
    p.add_argument("--threads", default="1,2", help="thread counts to pin, e.g. 1,2")
    p.add_argument("--gpu", action="store_true", help="mx.gpu(0) and torch CUDA")
    p.add_argument("--mxnet-python", default=os.environ.get("BENCH_MXNET_PYTHON"),
                   help="python of a virtual environment with mxnet 1.9 (runs as a worker)")
    p.add_argument("--out", type=Path, help="JSON-lines file to append to "
                   "(default bench/results/<cpu|gpu>-<model>.jsonl)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(args.workloads) - set(workloads)
    if unknown:
        p.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    args.threads = [int(t) for t in args.threads.split(",") if t]
    return args


def _missing(workload):
    """mxlite attributes (``npx.convolution``) the workload needs but mxlite lacks yet."""
    import mxlite
    missing = []
    for dotted in workload.needs:
        obj = mxlite
        for part in dotted.split("."):
            obj = getattr(obj, part, None)
        if obj is None:
            missing.append(dotted)
    return missing


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        worker_main(args.worker, args.threads[0], args.gpu)
        return 0
    log = print
    info = machine_info(args.gpu)
    out_path = args.out or results_path(info, args.gpu)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    run_id = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    frameworks = []
    for name in args.frameworks:
        if name == "mxnet":
            if args.mxnet_python:
                frameworks.append(name)
            else:
                log("mxnet: skipped (no --mxnet-python / $BENCH_MXNET_PYTHON)")
        elif name == "numpy" and args.gpu:
            continue
        elif available(name):
            frameworks.append(name)
        else:
            log(f"{name}: skipped (not importable)")
    workloads = all_workloads()
    log(f"{info['cpu']} ({info['cores']} cores), results -> {out_path}")
    if info["openblas_env"]:
        kernels = ", ".join(b["architecture"] or "?" for b in info["blas"] or [])
        log(f"warning: {info['openblas_env']} in the environment forces OpenBLAS's kernel "
            f"({kernels}); for a fair numpy comparison run "
            "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench")
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, open(out_path, "a") as out:
        for threads in args.threads:
            with _thread_limits(threads):
                runners = {}
                for name in frameworks:
                    try:
                        runners[name] = (Worker(name, args.mxnet_python, threads, args.gpu)
                                         if name == "mxnet" else InProcess(name, args.gpu))
                    except Exception as err:
                        log(f"{name}: skipped ({type(err).__name__}: {err})")
                versions = {name: r.version for name, r in runners.items()}
                for wname in args.workloads:
                    workload = workloads[wname]
                    missing = _missing(workload)
                    if missing:
                        log(f"[{threads}t] {wname}: skipped, mxlite lacks {', '.join(missing)}")
                        out.write(json.dumps({"run_id": run_id, "workload": wname,
                                              "threads": threads, "skipped":
                                              f"mxlite lacks {', '.join(missing)}"}) + "\n")
                        continue
                    data = workload.make_data(np.random.default_rng(SEED))
                    data_path = Path(tmp) / f"{wname}.npz"
                    np.savez(data_path, **data)
                    timing = workload.quick if args.quick else workload.full
                    for variant in workload.variants:
                        label = wname + (f"/{variant}" if variant else "")
                        log(f"[{threads}t] {label}")
                        records = run_variant(workload, variant, runners, data, data_path,
                                              timing, log)
                        for rec in records:
                            rec.update({"run_id": run_id, "mode": "quick" if args.quick
                                        else "full", "workload": wname, "variant": variant,
                                        "unit": workload.unit, "threads": threads,
                                        "device": "gpu" if args.gpu else "cpu",
                                        "version": versions.get(rec["framework"]),
                                        "timing": vars(timing), "note": workload.note,
                                        "load_avg_1min": os.getloadavg()[0],
                                        "machine": info})
                            out.write(json.dumps(rec) + "\n")
                            if "value" in rec:
                                log(f"    {rec['framework']:>7}: {rec['value']:10.3f} "
                                    f"{workload.unit}  (IQR {rec['q1']:.3f}-{rec['q3']:.3f}, "
                                    f"n={rec['samples']})")
                        out.flush()
                for runner in runners.values():
                    runner.close()
    log(f"done in {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
