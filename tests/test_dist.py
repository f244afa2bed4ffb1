"""Data-parallel training across real processes (``mpirun -n 2``)."""
import os
import shutil
import subprocess
import sys

import pytest

import mxlite as mx

WORKER = os.path.join(os.path.dirname(__file__), "dist_worker.py")
needs_mpi = pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun is not installed")


def _mpirun(mode, timeout=60):
    root = os.path.dirname(os.path.dirname(os.path.abspath(mx.__file__)))
    env = dict(os.environ, MXLITE_DIST_TIMEOUT="10",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "mxlite.distributed.launch", "-n", "2", "--",
           sys.executable, WORKER, mode]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@needs_mpi
def test_two_ranks_match_one_rank_on_joint_batch_broadcast_pushpull_sampler():
    r = _mpirun("train")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rank 0 ok" in r.stdout and "rank 1 ok" in r.stdout


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
