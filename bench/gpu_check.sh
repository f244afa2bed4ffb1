#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: the test suite (which reruns device tests on the
# GPU), the kernel parity/speed check, and the quick GPU benchmark, in under 6 minutes.
# Writes bench/results/gpu_check-<date>.md with the card, driver, CUDA and CuPy versions and the
# numbers. A failing step does not stop later steps; the exit status is 1 if any step failed.
#
#   bash bench/gpu_check.sh            # PYTHON=/path/to/python to choose the interpreter
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PYTHON="${PYTHON:-python3}"
STAMP="$(date -u +%Y%m%d-%H%M)"
RESULTS_DIR="bench/results"
REPORT="$RESULTS_DIR/gpu_check-$STAMP.md"
PARITY="$RESULTS_DIR/kernel_parity-gpu-$STAMP.md"
LOG_DIR="$(mktemp -d)"
trap 'rm -rf "$LOG_DIR"' EXIT
mkdir -p "$RESULTS_DIR"
failed=()

# Use the machine's Python when CuPy already imports; install mxlite's GPU and test extras otherwise.
if ! "$PYTHON" -c "import cupy" 2>/dev/null; then
    echo "== CuPy not importable: pip install -e '.[gpu,test]'"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check -e ".[gpu,test]" || failed+=("install")
elif ! "$PYTHON" -c "import mxlite" 2>/dev/null; then
    # CuPy is there; put mxlite itself on the path without touching installed packages.
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi

{
    echo "# mxlite GPU check, $STAMP (UTC)"
    echo
    echo '```'
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
    else
        echo "nvidia-smi: not on PATH"
    fi
    "$PYTHON" - <<'EOF' 2>&1
import platform
print("python", platform.python_version())
try:
    import numpy
    print("numpy", numpy.__version__)
    import cupy
    runtime = cupy.cuda.runtime.runtimeGetVersion()
    driver = cupy.cuda.runtime.driverGetVersion()
    print("cupy", cupy.__version__)
    print("CUDA runtime", f"{runtime // 1000}.{runtime % 1000 // 10}", "| driver supports CUDA",
          f"{driver // 1000}.{driver % 1000 // 10}")
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print("device 0:", props["name"].decode(), f"sm_{props['major']}{props['minor']}",
          f"{props['totalGlobalMem'] / 2**30:.0f} GiB")
except Exception as err:
    print("CuPy/GPU not usable:", type(err).__name__, err)
EOF
    echo '```'
} > "$REPORT"

# run_step NAME SECONDS COMMAND...: runs with a time limit, records status, time and the output tail.
run_step() {
    local name="$1" limit="$2"
    shift 2
    local log="$LOG_DIR/$name.log" start end rc
    echo "== $name (limit ${limit}s): $*"
    start=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    tail -n 25 "$log"
    [ "$rc" -eq 124 ] && echo "(timed out after ${limit}s)" >>"$log"
    if [ "$rc" -ne 0 ]; then failed+=("$name"); fi
    {
        echo
        echo "## $name: $([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)"), $((end - start)) s"
        echo
        echo "\`$*\`"
        echo
        echo '```'
        tail -n 40 "$log"
        echo '```'
    } >>"$REPORT"
}

run_step pytest 200 "$PYTHON" -m pytest -q -p no:cacheprovider
run_step kernel_parity 90 "$PYTHON" -m bench.kernel_parity --output "$PARITY"
if [ -f "$PARITY" ]; then
    { echo; echo "## kernel parity table"; echo; cat "$PARITY"; } >>"$REPORT"
fi
if [ -f bench/__main__.py ]; then
    run_step bench_quick 60 "$PYTHON" -m bench --gpu --quick
else
    echo "== bench: no bench/__main__.py here, skipped" | tee -a "$REPORT"
fi

{
    echo
    if [ "${#failed[@]}" -eq 0 ]; then echo "All steps passed."; else echo "Failed steps: ${failed[*]}"; fi
} >>"$REPORT"
echo "report: $REPORT"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "failed steps: ${failed[*]}"
    exit 1
fi
