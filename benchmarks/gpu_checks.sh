#!/usr/bin/env bash
# Everything gml checks that only a CUDA GPU can show (issue 20), as one
# command for a GPU machine: ActNN's batch, memory and throughput per level,
# the CUDA-only tests (--amp training of each algorithm kind, search trials
# on real GPUs) and the step-time overheads on the GPU. About 6 minutes on
# one H100/H200, at most about 9.5 (each step has its own time limit;
# give the device call its longest timeout, 600 s).
# docs/gpu.md lists the steps and what each writes.
#
#   bash benchmarks/gpu_checks.sh                       # on the GPU machine
#   GML_GPU_CHECKS_DRY=1 bash benchmarks/gpu_checks.sh  # on a CPU: check it
#
# Without CUDA it stops after the set-up with one line and exit status 2;
# with GML_GPU_CHECKS_DRY=1 it goes on as a dry run instead: the tests'
# own logic on the CPU (fake GPU ids, no --amp trainings), the benchmarks'
# command lines parsed but not run. Exit status 1 when a step failed.
#
# Environment: OUT (where the files go, ./gpu_out); GML_GPU_CHECKS_PYTHON
# (an interpreter with gml installed: no venv is built); GML_GPU_VENV (the
# venv built otherwise, /tmp/gml-gpu-venv: `pip install -e ".[tests]"` on
# top of the interpreter's own packages, torch included); GML_WHEELS (a
# folder of wheels: pip installs from it alone, without an index).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-./gpu_out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DRY=${GML_GPU_CHECKS_DRY:-0}
SUMMARY=$OUT/summary.txt
SETUP_LOG=$OUT/setup.log
: > "$SUMMARY"
: > "$SETUP_LOG"
FAILED=0
# no internet on the GPU machine: a package pip cannot find fails fast
export PYTHONUNBUFFERED=1 PIP_DEFAULT_TIMEOUT=${PIP_DEFAULT_TIMEOUT:-5} \
    PIP_RETRIES=${PIP_RETRIES:-0} PIP_DISABLE_PIP_VERSION_CHECK=1

note() { echo "gpu_checks: $*" | tee -a "$SUMMARY"; }

# step NAME SECONDS LOG STDOUT COMMAND...: run COMMAND within SECONDS, its
# stderr (and its stdout where STDOUT is -) appended to LOG, else its stdout
# to STDOUT; note the outcome in summary.txt and go on either way.
step() {
    local name=$1 seconds=$2 log=$3 stdout=$4 status=0 start=$SECONDS why
    shift 4
    [ "$stdout" = - ] && stdout=$log
    echo "== $name ($(date -u +%H:%M:%S) UTC, limit ${seconds}s): $*" >>"$log"
    timeout --kill-after=10 "$seconds" "$@" >>"$stdout" 2>>"$log" ||
        status=$?
    if [ "$status" -eq 0 ]; then
        note "$name: ok in $((SECONDS - start))s ($(basename "$log"))"
        return
    fi
    why="exit status $status"
    [ "$status" -eq 124 ] && why="out of time (limit ${seconds}s)"
    note "$name: FAILED, $why, after $((SECONDS - start))s ($(basename "$log"))"
    FAILED=1
}

# The interpreter: given, or a venv over python3's own packages (the GPU
# machine's python3 holds torch, and nothing can be downloaded there).
build_venv() {
    local venv=$1 base find=()
    if [ ! -x "$venv/bin/python" ]; then
        base=$(python3 -c 'import sysconfig; p = sysconfig.get_paths();
print("\n".join(dict.fromkeys([p["purelib"], p["platlib"]])))')
        # without its own pip (and the old setuptools some Pythons bundle
        # with it): the base's pip and setuptools serve through the .pth
        python3 -m venv --without-pip "$venv"
        "$venv/bin/python" -c 'import site, sys
open(site.getsitepackages()[0] + "/_gml_base.pth", "w").write(sys.argv[1])
' "$base"
    fi
    [ -n "${GML_WHEELS:-}" ] && find=(--no-index --find-links "$GML_WHEELS")
    "$venv/bin/python" -m pip install --no-build-isolation \
        ${find[@]+"${find[@]}"} -e ".[tests]" && return
    # tests/gpu need pytest, pytest-timeout and pytest-xdist alone
    echo "gpu_checks: pip install -e \".[tests]\" failed; trying -e ." >&2
    "$venv/bin/python" -m pip install --no-build-isolation \
        ${find[@]+"${find[@]}"} -e .
}

if [ -n "${GML_GPU_CHECKS_PYTHON:-}" ]; then
    PY=$GML_GPU_CHECKS_PYTHON
else
    VENV=${GML_GPU_VENV:-/tmp/gml-gpu-venv}
    export -f build_venv
    step "set-up (venv $VENV)" 90 "$SETUP_LOG" - bash -c 'build_venv "$1"' \
        _ "$VENV"
    PY=$VENV/bin/python
fi
if ! "$PY" -c 'import gml, mmengine, mmpretrain, torch, pytest' \
        >>"$SETUP_LOG" 2>&1; then
    note "set-up: $PY cannot import gml and its needs (setup.log): stop"
    exit 1
fi
{ command -v nvidia-smi >/dev/null && nvidia-smi || true
  "$PY" -c 'import sys, torch
print("python", sys.version.split()[0], "torch", torch.__version__,
      "cuda", torch.version.cuda, "devices", torch.cuda.device_count(),
      [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])'
} >>"$SETUP_LOG" 2>&1
CUDA=$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))')
if [ "$CUDA" = 1 ]; then
    note "device: $("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))')"
elif [ "$DRY" = 1 ]; then
    note "dry run: no CUDA device here; tests on fake GPU ids, benchmark" \
        "command lines parsed only"
else
    note "no CUDA device (torch.cuda.is_available() is False): the CUDA" \
        "steps are skipped, nothing measured (GML_GPU_CHECKS_DRY=1 checks" \
        "the script on a CPU)"
    exit 2
fi

# bench NAME SECONDS LOG STDOUT SCRIPT ARGS...: a benchmark on the GPU, or
# in a dry run its command line checked
bench() {
    local name=$1 seconds=$2 log=$3 stdout=$4
    shift 4
    if [ "$CUDA" = 1 ]; then
        step "$name" "$seconds" "$log" "$stdout" "$PY" "$@"
    else
        step "$name (arguments only)" 60 "$log" - \
            "$PY" benchmarks/_check_args.py "$@"
    fi
}

# 1. ActNN: largest ResNet-50 batch within 8 GiB at L0/L1/L3/L4, peak memory
#    and throughput per level at the same batch (progress in the .log)
bench actnn-memory 190 "$OUT/actnn_memory.log" "$OUT/actnn_memory.json" \
    benchmarks/actnn_memory.py --gpu-only --budget-gib 8 --max-batch 1024 \
    --level-seconds 30

# 2. the CUDA-only tests: --amp training of the baseline and of each
#    algorithm kind, a search whose trials see distinct GPUs
if [ "$CUDA" = 1 ]; then
    step gpu-tests 170 "$OUT/gpu_tests.log" - "$PY" -m pytest tests/gpu \
        -n 0 -rA -p no:cacheprovider --timeout 150
else
    step "gpu-tests (dry: the search test on fake ids)" 120 \
        "$OUT/gpu_tests.log" - env GML_GPU_CHECKS_DRY=1 "$PY" -m pytest \
        tests/gpu/test_gpu_trials.py -n 0 -rA -p no:cacheprovider
fi

# 3. step-time overheads on the GPU, one JSON line each (KD on the digits
#    pair was measured on an H100 before: docs/benchmarks.md)
bench nas-overhead 45 "$OUT/overheads.log" "$OUT/overheads.jsonl" \
    benchmarks/nas_overhead.py --device cuda --repeats 10
bench kd-overhead-cifar 30 "$OUT/overheads.log" "$OUT/overheads.jsonl" \
    benchmarks/kd_overhead.py --device cuda --size 32 --batch 128 \
    --config configs/kd/kd/kd_res50_res18_cifar10.py --repeats 30
bench qat-step 40 "$OUT/overheads.log" "$OUT/overheads.jsonl" \
    benchmarks/qat_speed.py --device cuda --repeats 15

note "done in ${SECONDS}s; files in $OUT"
exit "$FAILED"
