#!/usr/bin/env bash
# The check for a real NVIDIA card, run with the machine's own python3 and this checkout on
# PYTHONPATH (no pip install: lent machines have no network).
#
#   bash bench/gpu_check.sh [half1|half2|all]     # PYTHON=... picks the interpreter
#
# A preflight prints driver, CUDA, CuPy and NVML versions, the card and its MIG mode, and exits
# 1 with "no usable GPU: <reason>" when gpu(0) cannot run mxlite. Then:
#   half1  the test suite with the device fixture on the GPU (fails if any GPU test skips),
#          bench/kernel_parity.py's table, odd sizes and offset views, row lengths 1..4097
#   half2  >65535 planes and >2^31 elements, float16, compute-sanitizer memcheck, racecheck and
#          synccheck on small cases, the two-stream pool stress against Unpooled, the NCCL
#          path on one rank with its overlap of backward (CUDA events), bandwidth
#          against PyTorch
# Each step has a time limit; the limits of a half add up to 540 s, so either half fits one
# 10-minute call with the preflight. Logs and results go to bench/results/<card>-<date>/ as
# each step runs (one log per step, written while it runs; summary.md after each step), so a
# call that is cut off keeps everything that ran. Exit status 1 if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PART="${1:-all}"
case "$PART" in
    half1|half2|all) ;;
    *) echo "usage: bash bench/gpu_check.sh [half1|half2|all]" >&2; exit 2 ;;
esac
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
CHECKS=bench/gpu_checks

preflight="$("$PYTHON" "$CHECKS/preflight.py" 2>&1)"
rc=$?
echo "$preflight"
if [ "$rc" -ne 0 ]; then
    grep -q "^no usable GPU:" <<<"$preflight" || echo "no usable GPU: the preflight failed (exit $rc)"
    exit 1
fi
card="$(sed -n 's/^card: //p' <<<"$preflight")"
OUT="bench/results/${card:-gpu}-$(date -u +%Y%m%d)"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
{
    echo
    echo "# gpu_check $PART, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo '```'
    echo "$preflight"
    echo '```'
} >>"$SUMMARY"
failed=()

# step NAME SECONDS COMMAND...: runs with a limit, its whole output in $OUT/NAME.log as it goes.
step() {
    local name="$1" limit="$2" start rc
    shift 2
    echo "== $name (limit ${limit}s): $*"
    start=$(date +%s)
    # bash -c: the steps may be this script's functions (exported below)
    timeout --kill-after=10 "$limit" bash -c '"$@"' "$name" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    [ "$rc" -eq 124 ] && echo "(timed out after ${limit}s)" >>"$OUT/$name.log"
    grep -E "^(FAIL|SKIP) " "$OUT/$name.log" | head -n 20
    tail -n 3 "$OUT/$name.log"
    record "$name" "$rc" "$(($(date +%s) - start))"
}

# record NAME STATUS SECONDS: one summary line, flushed to disk now.
record() {
    if [ "$2" -ne 0 ]; then failed+=("$1"); fi
    echo "- $1: $([ "$2" -eq 0 ] && echo ok || echo "FAILED (exit $2)"), $3 s, log $1.log" >>"$SUMMARY"
}

# The suite must run its GPU cases, not skip them: a skip that names the GPU fails the step.
suite() {
    "$PYTHON" -m pytest -q -p no:cacheprovider -rs "$@"
    local rc=$? skips
    # a skip whose reason names the GPU ("no usable GPU: ...", the fused-optimizer tests'
    # reasons); "a GPU is usable here" marks the no-GPU tests, which should skip on a card
    skips=$(grep -E "^SKIPPED" "$OUT/pytest.log" | grep "GPU" | grep -vc "a GPU is usable here")
    if [ "$skips" -ne 0 ]; then
        echo "FAIL $skips GPU test group(s) skipped on a machine with a GPU (see SKIPPED lines)"
        return 1
    fi
    return "$rc"
}

sanitize() {
    local tool="$1" sanitizer
    sanitizer="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)"
    if [ -z "$sanitizer" ]; then
        echo "FAIL compute-sanitizer is not on PATH or in /usr/local/cuda/bin"
        return 1
    fi
    # Unpooled: each array is its own allocation, so memcheck sees every overrun.
    MXLITE_GPU_MEM_POOL_TYPE=Unpooled "$sanitizer" --tool "$tool" --error-exitcode 9 \
        --print-limit 20 "$PYTHON" "$CHECKS/odd_sizes.py" --small
}

export OUT PYTHON CHECKS
export -f suite sanitize

if [ "$PART" != half2 ]; then
    step pytest 300 suite
    step kernel_parity 90 "$PYTHON" -m bench.kernel_parity --output "$OUT/kernel_parity.md"
    step odd_sizes 60 "$PYTHON" "$CHECKS/odd_sizes.py"
    step rows 90 "$PYTHON" "$CHECKS/rows.py"
fi
if [ "$PART" != half1 ]; then
    step large 90 "$PYTHON" "$CHECKS/large.py"
    step fp16 45 "$PYTHON" "$CHECKS/fp16.py"
    for tool in memcheck racecheck synccheck; do
        step "sanitizer_$tool" 65 sanitize "$tool"
    done
    step pool_streams 100 "$PYTHON" "$CHECKS/pool_streams.py"
    step nccl 50 "$PYTHON" "$CHECKS/nccl.py"
    step bandwidth 60 "$PYTHON" "$CHECKS/bandwidth.py" --output "$OUT/bandwidth.md"
fi

if [ "${#failed[@]}" -eq 0 ]; then
    echo "All $PART steps passed." | tee -a "$SUMMARY"
else
    echo "Failed steps: ${failed[*]}" | tee -a "$SUMMARY"
fi
echo "results: $OUT"
[ "${#failed[@]}" -eq 0 ]
