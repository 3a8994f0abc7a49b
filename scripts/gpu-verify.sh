#!/usr/bin/env bash
# One call on a machine with an NVIDIA GPU, nvcc and PyTorch: builds the plugin
# with its CUDA ops and the standalone harness, then checks and times the CUDA
# selective scan (ops/cuda/NOTES.md says what each number means).
#
#   scripts/gpu-verify.sh [OUTDIR]      (OUTDIR defaults to $OUT, else build/gpu-verify)
#
# Steps (each logged; a failing optional step does not stop the rest):
#   1. build: plugin with CUDA (make -C ops), harness for this GPU, host emulation test
#   2. fixtures: official scan cases dumped to raw float32; PyTorch port checked on them
#   3. harness: fixtures + random Vim-T/S/B x 224/1248 checks (fp32/fp16/bf16, float64
#      reference, CPU kernel, poisoned output, rerun bit-identical), CUDA-event timings,
#      device-memory floor
#   4. PyTorch eager timings of the ported official selective_scan_ref
#   5. optional: compute-sanitizer (memcheck, racecheck), ncu on Vim-S 1248, the plugin
#      in the Python onnxruntime (CUDA provider where available)
#   6. summary table (printed last)
# Files written under OUTDIR (8 at most, so that all come back from a lent machine):
#   env.txt build.log harness.log harness.jsonl eager.log eager.jsonl extra.log summary.txt
# Exit status: 0 when the build and every correctness check passed.
set -u
cd "$(dirname "$0")/.."
OUTDIR="${1:-${OUT:-build/gpu-verify}}"
mkdir -p "$OUTDIR"
PY="${PYTHON:-python3}"
JOBS="$(nproc 2>/dev/null || echo 4)"
FIX=/tmp/vimconvert-gpu-verify-fixtures
status=0
export PYTHONUNBUFFERED=1

if ! command -v nvcc >/dev/null 2>&1; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
    [ -x "$d/nvcc" ] && export PATH="$d:$PATH" && break
  done
fi

echo "== 0. environment"
{
  date -u
  uname -a
  nvidia-smi 2>&1
  nvidia-smi --query-gpu=name,compute_cap,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu \
    --format=csv 2>&1
  command -v nvcc && nvcc --version
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())' 2>&1
  "$PY" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())' 2>&1
} >"$OUTDIR/env.txt" 2>&1
tail -n 6 "$OUTDIR/env.txt"

# Machine code for this GPU (e.g. 9.0 -> 90); the plugin keeps cuda.mk's list.
CC_NOW="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' .')"
HARNESS_ARCHS="${CC_NOW:-90}"

echo "== 1. build (log: build.log)"
{
  echo "--- plugin with CUDA ops"
  timeout 300 make -C ops -j"$JOBS" && ls -la build/libvimconvert_ops.so && ldd build/libvimconvert_ops.so
  echo "rc=$?"
  echo "--- harness (sm_$HARNESS_ARCHS)"
  timeout 200 make -C ops cuda-harness CUDA_ARCHS="$HARNESS_ARCHS"
  echo "rc=$?"
  echo "--- register/spill report of the kernels (sm_$HARNESS_ARCHS)"
  nvcc -O3 -std=c++17 -gencode "arch=compute_$HARNESS_ARCHS,code=sm_$HARNESS_ARCHS" -Xptxas -v \
    -c -o /tmp/vc_scan_cuda_ptxas.o ops/cuda/scan_cuda.cu 2>&1 | grep -E "Compiling|registers|spill|stack" | paste - - - | cut -c1-400
  echo "--- host emulation test"
  timeout 120 make -C ops cuda-emu-test
  echo "rc=$?"
} >"$OUTDIR/build.log" 2>&1
if [ ! -x build/vimconvert_cuda_harness ]; then
  echo "harness did not build; see build.log:"
  tail -n 40 "$OUTDIR/build.log"
  exit 2
fi
[ -f build/libvimconvert_ops.so ] || { echo "plugin did not build"; status=1; }
grep -q "cuda emulation test: all passed" "$OUTDIR/build.log" || { echo "host emulation test FAILED"; status=1; }
grep -E "^rc=|all passed|error" "$OUTDIR/build.log" | head -n 12

echo "== 2. fixtures"
rm -rf "$FIX"
{
  timeout 120 "$PY" ops/cuda/tools/fixtures_to_raw.py fixtures/scan "$FIX"
  echo "--- PyTorch port of selective_scan_ref vs the official outputs"
  timeout 120 "$PY" ops/cuda/tools/torch_eager_bench.py --verify fixtures/scan
} >"$OUTDIR/eager.log" 2>&1 || { echo "fixture dump or port check FAILED (eager.log)"; status=1; }
tail -n 3 "$OUTDIR/eager.log"

echo "== 3. harness (log: harness.log)"
FIXARG=()
[ -f "$FIX/index.txt" ] && FIXARG=(--fixtures "$FIX")
timeout 300 build/vimconvert_cuda_harness ${FIXARG[@]+"${FIXARG[@]}"} --checks --time \
  --json "$OUTDIR/harness.jsonl" >"$OUTDIR/harness.log" 2>&1
rc=$?
[ $rc -ne 0 ] && { echo "harness exit status $rc"; status=1; }
grep -E "FAIL|^time|^copy|all checks|check\(s\)" "$OUTDIR/harness.log" | tail -n 30

echo "== 4. PyTorch eager (log: eager.log)"
timeout 300 "$PY" ops/cuda/tools/torch_eager_bench.py --time --json "$OUTDIR/eager.jsonl" \
  >>"$OUTDIR/eager.log" 2>&1 || echo "eager timing step failed (eager.log)"
grep -E "^eager" "$OUTDIR/eager.log" | tail -n 21

echo "== 5. optional checks (log: extra.log)"
{
  if command -v compute-sanitizer >/dev/null 2>&1; then
    for tool in memcheck racecheck; do
      echo "--- compute-sanitizer --tool $tool (harness --quick)"
      timeout 150 compute-sanitizer --tool "$tool" --error-exitcode 9 build/vimconvert_cuda_harness --quick
      echo "rc=$?"
    done
  else
    echo "compute-sanitizer not found"
  fi
  if command -v ncu >/dev/null 2>&1; then
    echo "--- ncu, Vim-S 1248 fp32, one launch (clocks left alone)"
    timeout 150 ncu --clock-control none --section SpeedOfLight --section Occupancy \
      --section LaunchStats --section ComputeWorkloadAnalysis build/vimconvert_cuda_harness --profile
    echo "rc=$?"
  else
    echo "ncu not found"
  fi
  echo "--- plugin in the Python onnxruntime"
  timeout 120 "$PY" ops/cuda/tools/ort_check.py build/libvimconvert_ops.so ops/testdata
  echo "rc=$?"
} >"$OUTDIR/extra.log" 2>&1
grep -E "^---|^rc=|ERROR SUMMARY|^ok|^FAIL|providers" "$OUTDIR/extra.log" | head -n 30

echo "== 6. summary"
"$PY" ops/cuda/tools/summarize.py "$OUTDIR/harness.jsonl" "$OUTDIR/eager.jsonl" \
  >"$OUTDIR/summary.txt" 2>&1 || status=1
cat "$OUTDIR/summary.txt"
echo "gpu-verify: exit status $status (results in $OUTDIR)"
exit $status
