#!/usr/bin/env bash
# bench/gpu.sh: artgan on one GPU, in one prepared run (under 8 minutes on an H100/H200).
#
#   bench/gpu.sh            # on the GPU machine, from the repository root
#   bench/gpu.sh --dry      # on any CPU: the same Python steps at tiny sizes (a check)
#
# 1. the CUDA-only tests (pytest -k cuda: they skip without CUDA);
# 2. images/s of artgan's trainer and of the plain PyTorch loops (bench/trainer_overhead.py,
#    whose FastGAN loop is bench/fastgan_plain.py's) for dcgan at 64 and 256 px (DCGAN
#    stops at 256) and fastgan at 64, 256 and 1024 px, fp32 and bf16, --compile off and
#    on; compile-off cells first, then compile-on ones by priority, each under its own
#    `timeout`, all under one deadline (cells that no longer fit are reported as skipped);
# 3. one markdown table with the GPU's name, on stdout and in $RESULTS_DIR/table.md (the
#    raw JSON lines in $RESULTS_DIR/results.jsonl, the logs in $RESULTS_DIR/logs/).
#
# Environment: PYTHON (default .venv/bin/python if present, else python), RESULTS_DIR
# (default bench/gpu-results), GPU_SH_BUDGET (seconds for everything, default 450).
set -u -o pipefail

DRY=0
[ "${1:-}" = "--dry" ] && DRY=1
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
RESULTS_DIR=${RESULTS_DIR:-bench/gpu-results}
BUDGET=${GPU_SH_BUDGET:-450}
mkdir -p "$RESULTS_DIR/logs"
RESULTS="$RESULTS_DIR/results.jsonl"
: > "$RESULTS"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
START=$(date +%s)
left() { echo $(( BUDGET - ($(date +%s) - START) )); }

if [ "$DRY" = 1 ]; then
    DEVICE=cpu
    GPU_NAME="none (--dry: CPU, tiny sizes, compile backend eager)"
    # cells: gen resolution batch width
    CELLS_OFF="dcgan:16:4:8 dcgan:32:4:8 fastgan:64:4:8"
    CELLS_ON="dcgan:16:4:8 fastgan:64:4:8"
    STEPS=1; ROUNDS=1; WARMUP=1; CELL_LIMIT=240; COMPILE_LIMIT=300
    EXTRA=(--threads 1 --compile-backend eager)
    TEST_LIMIT=300
else
    DEVICE=cuda
    GPU_NAME=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
               2>/dev/null | head -n 1)
    [ -n "$GPU_NAME" ] || GPU_NAME=$(timeout 60 "$PYTHON" -c \
        "import torch; print(torch.cuda.get_device_name(0))" 2>/dev/null || echo unknown)
    # default widths (ngf = ndf = 64); batch as FastGAN's paper at 1024 px (8)
    CELLS_OFF="dcgan:64:64:64 dcgan:256:64:64 fastgan:64:32:64 fastgan:256:16:64 fastgan:1024:8:64"
    # compiling takes a minute or more per network and side: most telling cells first
    # (dcgan 64 compiles in well under a minute, so at least one compiled row comes back)
    CELLS_ON="dcgan:64:64:64 fastgan:256:16:64 fastgan:64:32:64 fastgan:1024:8:64 dcgan:256:64:64"
    STEPS=10; ROUNDS=2; WARMUP=2; CELL_LIMIT=75; COMPILE_LIMIT=170
    EXTRA=()
    TEST_LIMIT=150
fi

echo "# artgan GPU benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
echo "GPU: $GPU_NAME"
timeout 60 "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
    2>/dev/null || true

# -- 1. the CUDA-only tests ----------------------------------------------------------------
TESTS_STATUS="not run"
limit=$(( TEST_LIMIT < $(left) ? TEST_LIMIT : $(left) ))
if [ "$limit" -gt 10 ]; then
    timeout "$limit" "$PYTHON" -m pytest -q -rs -k cuda tests/ \
        > "$RESULTS_DIR/logs/cuda-tests.log" 2>&1
    rc=$?
    summary=$(tail -n 1 "$RESULTS_DIR/logs/cuda-tests.log")
    case $rc in
        0) TESTS_STATUS="passed: $summary" ;;
        124|137) TESTS_STATUS="TIMED OUT after ${limit}s" ;;
        *) TESTS_STATUS="FAILED (exit $rc): $summary" ;;
    esac
fi
echo "CUDA-only tests (pytest -k cuda): $TESTS_STATUS"

# -- 2. the benchmark cells -------------------------------------------------------------------
run_cell() {  # gen resolution batch width precision compile(0/1) limit
    local gen=$1 res=$2 batch=$3 width=$4 prec=$5 comp=$6 limit=$7
    local name="$gen-$res-$prec-compile$comp"
    local flags=(--gen "$gen" --resolution "$res" --batch-size "$batch" --width "$width"
                 --precision "$prec" --steps "$STEPS" --rounds "$ROUNDS" --warmup "$WARMUP"
                 --device "$DEVICE" --json "${EXTRA[@]}")
    [ "$comp" = 1 ] && flags+=(--compile)
    local now; now=$(left)
    if [ "$now" -lt 20 ]; then
        echo "{\"gen\": \"$gen\", \"resolution\": $res, \"precision\": \"$prec\", \"compile\": $([ "$comp" = 1 ] && echo true || echo false), \"skipped\": \"time budget\"}" >> "$RESULTS"
        return
    fi
    [ "$limit" -gt "$now" ] && limit=$now
    local t0; t0=$(date +%s)
    timeout "$limit" "$PYTHON" bench/trainer_overhead.py "${flags[@]}" \
        > "$RESULTS_DIR/logs/$name.out" 2> "$RESULTS_DIR/logs/$name.err"
    local rc=$?
    if [ $rc = 0 ] && tail -n 1 "$RESULTS_DIR/logs/$name.out" | grep -q '^{'; then
        tail -n 1 "$RESULTS_DIR/logs/$name.out" >> "$RESULTS"
    else
        local why="exit $rc"
        { [ $rc = 124 ] || [ $rc = 137 ]; } && why="timed out after ${limit}s"
        local err; err=$(tail -n 1 "$RESULTS_DIR/logs/$name.err" | tr -d '"\\' | cut -c1-160)
        echo "{\"gen\": \"$gen\", \"resolution\": $res, \"precision\": \"$prec\", \"compile\": $([ "$comp" = 1 ] && echo true || echo false), \"failed\": \"$why: $err\"}" >> "$RESULTS"
    fi
    echo "  $name: $(( $(date +%s) - t0 ))s (rc $rc)" >&2
}

for cell in $CELLS_OFF; do
    IFS=: read -r gen res batch width <<< "$cell"
    for prec in fp32 bf16; do run_cell "$gen" "$res" "$batch" "$width" "$prec" 0 "$CELL_LIMIT"; done
done
for cell in $CELLS_ON; do
    IFS=: read -r gen res batch width <<< "$cell"
    # compiled cells: one round (each round compiles both sides again)
    for prec in bf16 fp32; do
        ROUNDS_SAVED=$ROUNDS; ROUNDS=1
        run_cell "$gen" "$res" "$batch" "$width" "$prec" 1 "$COMPILE_LIMIT"
        ROUNDS=$ROUNDS_SAVED
    done
done

# -- 3. the table -------------------------------------------------------------------------------
"$PYTHON" - "$RESULTS" "$GPU_NAME" "$TESTS_STATUS" "$(( $(date +%s) - START ))" \
    > "$RESULTS_DIR/table.md" <<'EOF'
import json, sys

path, gpu, tests, seconds = sys.argv[1:5]
rows = [json.loads(line) for line in open(path) if line.strip()]
print(f"GPU: {gpu}  \nCUDA-only tests: {tests}  \nbench/gpu.sh took {seconds} s\n")
print("| arch | px | batch | precision | compile | plain loop img/s | artgan img/s | artgan / plain |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
order = {"dcgan": 0, "fastgan": 1}
rows.sort(key=lambda r: (order.get(r["gen"], 9), r["resolution"], r.get("compile", False),
                         r["precision"]))
for r in rows:
    head = (f"| {r['gen']} | {r['resolution']} | {r.get('batch', '')} | {r['precision']} | "
            f"{'on' if r.get('compile') else 'off'} |")
    if "ratio" in r:
        print(f"{head} {r['plain_images_per_s']:.1f} | {r['artgan_images_per_s']:.1f} | "
              f"{r['ratio']:.2f}x |")
    else:
        print(f"{head} {r.get('skipped') or r.get('failed')} | | |")
widths = sorted({r["width"] for r in rows if "width" in r})
print(f"\n(dcgan supports 16-256 px, so it has no 1024 px row; ngf = ndf = "
      f"{', '.join(map(str, widths)) or '?'}; best of the rounds; compiled cells: one round "
      f"after the compiling warm-up steps; ratio > 1: artgan's trainer is faster)")
EOF
cat "$RESULTS_DIR/table.md"
