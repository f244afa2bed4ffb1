"""glibc heap settings for CPU arrays: a step's freed temporaries are reused, not faulted in
again (mxlite.storage.host.keep_freed_heap). Each case runs in a fresh interpreter, since
the settings are the process's."""
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the heap settings are glibc's (mallopt); elsewhere they are left alone")

# Faults per round of two 4 MiB arrays allocated, written and freed, after one warm-up round.
_PROBE = """
import resource, numpy as np, mxlite as mx
mx.np.zeros(1)  # makes the CPU backend, which applies the settings
from mxlite.storage import host
print(host.keep_freed_heap())
def rounds(k):
    for _ in range(k):
        a = np.ones(1 << 20, np.float32); b = np.ones(1 << 20, np.float32); del a, b
rounds(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(20)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
mx.cpu().empty_cache()
"""


def _probe(keep_mb):
    env = dict(os.environ)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    if keep_mb is not None:
        env["MXLITE_CPU_HEAP_KEEP_MB"] = keep_mb
    run = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                         text=True, timeout=120)
    return run


def test_default_keeps_freed_temporaries_mapped():
    run = _probe(None)
    assert run.returncode == 0, run.stderr
    kept, faults = run.stdout.split()
    assert int(kept) == 256 << 20
    assert float(faults) < 16  # each round reuses the heap: no 4 KiB page faults again


def _huge_pages_always():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[always]" in f.read()
    except OSError:
        return False


def test_zero_leaves_glibc_alone():
    run = _probe("0")
    assert run.returncode == 0, run.stderr
    kept, faults = run.stdout.split()
    assert kept == "None"
    if not _huge_pages_always():  # with 4 KiB pages glibc's own rule shows: it trims the
        assert float(faults) > 500  # freed arrays and faults them in again every round


@pytest.mark.parametrize("value", ["lots", "-3"])
def test_bad_value_names_the_variable(value):
    run = _probe(value)
    assert run.returncode != 0
    assert f"PoolConfigError: MXLITE_CPU_HEAP_KEEP_MB='{value}'" in run.stderr
