"""Data-parallel training across real processes (``mpirun -n 2``)."""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import mxlite as mx

WORKER = os.path.join(os.path.dirname(__file__), "dist_worker.py")
needs_mpi = pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun is not installed")


def _mpirun(mode, timeout=60, **env):
    root = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))
    env = dict(os.environ, MXLITE_DIST_TIMEOUT="10", **env,
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "mxlite.distributed.launch", "-n", "2", "--",
           sys.executable, WORKER, mode]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@needs_mpi
def test_two_ranks_match_one_rank_on_joint_batch_broadcast_pushpull_sampler_metrics():
    """Also: with one bucket per parameter, a bucket's allreduce starts during backward."""
    r = _mpirun("train")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rank 0 ok" in r.stdout and "rank 1 ok" in r.stdout


@needs_mpi
def test_gpu_gradients_go_through_nccl():
    """On the CuPy stand-in's gpu(0) of each rank: the Trainer's buckets and pushpull use
    NCCL (the stand-in carries its collectives over MPI), with the 1-rank results."""
    r = _mpirun("nccl", MXLITE_FAKE_GPU="1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rank 0 ok, 4 NCCL allreduces" in r.stdout, r.stdout + r.stderr


@needs_mpi
def test_a_killed_rank_ends_the_job_in_bounded_time():
    start = time.monotonic()
    r = _mpirun("kill", timeout=30)
    assert r.returncode != 0
    assert "exited on" in r.stdout + r.stderr and "signal 9" in r.stdout + r.stderr, \
        r.stdout + r.stderr
    assert time.monotonic() - start < 30


@needs_mpi
def test_shape_mismatch_names_the_parameter():
    r = _mpirun("mismatch")
    assert "Parameter `bias` has shape (3,) on rank 0 but `bias` is (5,) on rank 1" in r.stdout, \
        r.stdout + r.stderr


@needs_mpi
def test_a_failing_rank_ends_the_job_with_an_error():
    r = _mpirun("die")
    assert r.returncode != 0
    assert "rank 1 fails on purpose" in r.stderr and "aborting all ranks" in r.stderr


def test_local_kvstore_sums_and_rejects_unknown_names():
    kv = mx.kv.create("local")
    assert (kv.rank, kv.num_workers, kv.type) == (0, 1, "local")
    kv.init("w", mx.np.zeros(2))
    kv.push("w", [mx.np.ones(2), mx.np.ones(2)])
    out = mx.np.zeros(2)
    kv.pull("w", out=out)
    assert out.asnumpy().tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="Unknown kvstore type 'bogus'"):
        mx.kv.create("bogus")


def test_split_sampler_parts_partition_the_data():
    parts = [list(mx.gluon.data.SplitSampler(10, 3, i)) for i in range(3)]
    assert parts == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


class _TwoRanks:
    """A kvstore whose allgather gives this rank's totals and another rank's."""

    def __init__(self, other):
        self.other = other

    def allgather(self, obj, what):
        return [obj, self.other._totals()]


@pytest.mark.parametrize("name, kwargs, labels, preds", [
    ("acc", {}, "classes", "scores"),
    ("top_k_accuracy", {"top_k": 2}, "classes", "scores"),
    ("f1", {"class_type": "multiclass", "average": "macro"}, "classes", "scores"),
    ("f1", {}, "binary", "probability"),
    ("mcc", {}, "binary", "probability"),
    ("pcc", {}, "classes", "scores"),
    ("pearsonr", {}, "values", "values"),
    ("mse", {}, "values", "values"),
    ("rmse", {}, "values", "values"),
    ("ce", {}, "classes", "probabilities"),
    ("perplexity", {}, "classes", "probabilities"),
    ("loss", {}, "values", "values"),
])
def test_metric_allreduce_equals_one_metric_over_all_updates(name, kwargs, labels, preds):
    rng = np.random.RandomState(3)
    data = {"classes": rng.randint(0, 4, 30), "binary": rng.randint(0, 2, 30),
            "scores": rng.rand(30, 4), "probability": rng.rand(30),
            "probabilities": rng.dirichlet(np.ones(4), 30), "values": rng.randn(30)}
    lab, pred = data[labels], data[preds]
    if preds == "values":
        pred = lab * 0.5 + rng.randn(30)
    whole = mx.gluon.metric.create(name, **kwargs)
    whole.update([mx.np.array(lab[:12])], [mx.np.array(pred[:12])])
    whole.update([mx.np.array(lab[12:])], [mx.np.array(pred[12:])])
    mine, theirs = (mx.gluon.metric.create(name, **kwargs) for _ in range(2))
    composites = [mx.gluon.metric.CompositeEvalMetric([m]) for m in (mine, theirs)]
    mine.update([mx.np.array(lab[:12])], [mx.np.array(pred[:12])])
    theirs.update([mx.np.array(lab[12:])], [mx.np.array(pred[12:])])
    composites[0].allreduce(_TwoRanks(composites[1]))
    np.testing.assert_allclose(mine.get()[1], whole.get()[1], rtol=1e-12)


def test_grad_ready_hooks_run_as_backward_reaches_each_leaf():
    """Last layer first; by the first hook the earlier leaf's gradient is not written yet."""
    from mxlite import autograd
    w1, w2 = mx.np.ones((3, 3)), mx.np.ones((3, 1))
    order = []
    for name, w in (("w1", w1), ("w2", w2)):
        w.attach_grad()
        autograd.set_grad_ready_hook(w, lambda g, name=name: order.append(
            (name, float(g.asnumpy().sum()), w1._fresh_grad)))
    with autograd.record():
        y = (mx.np.tanh(mx.np.ones((2, 3)) @ w1) @ w2).sum()
    y.backward()
    assert [o[0] for o in order] == ["w2", "w1"]
    assert order[0][2] is False and order[1][2] is True
    w1.attach_grad()  # a new buffer keeps the hook
    with autograd.record():
        y = (mx.np.ones((2, 3)) @ w1).sum()
    y.backward()
    assert order[-1] == ("w1", 18.0, True)
    with pytest.raises(ValueError, match="attach_grad"):
        autograd.set_grad_ready_hook(mx.np.ones(2), print)


@needs_mpi
def test_main_job_trains_on_two_ranks(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "mxlite.distributed.launch", "-n", "2", "--", sys.executable,
           "-m", "mxlite.examples.train", "--kvstore", "dist_sync", "--device", "cpu",
           "--run-dir", str(tmp_path), "--name", "dist"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "rank 0 of 2 (dist_sync)" in r.stdout and "rank 1 of 2 (dist_sync)" in r.stdout
    assert r.stdout.count("best validation accuracy") == 1  # rank 0 reports, once
    written = set(os.listdir(tmp_path / "dist")) - {"curve.png"}  # the PNG needs matplotlib
    assert written == {"best.params", "curve.csv", "curve.json"}
