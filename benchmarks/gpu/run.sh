#!/usr/bin/env bash
# The GPU check of the torch executor, in two halves:
#   here (Node):        bash benchmarks/gpu/run.sh prepare   → .gpu-run/ (git-ignored)
#   on the GPU machine: bash benchmarks/gpu/run.sh measure <out-dir>   (python3 with torch; no Node)
# then `npm run report:gpu -- <out-dir>/gpu-check.json` renders the README block from what it measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  prepare) node --import tsx benchmarks/gpu/prepare.ts .gpu-run ;;
  measure)
    out=${2:?usage: run.sh measure <out-dir>}
    work=${EVOQUANT_GPU_WORK:-/tmp/evoquant-gpu-check}
    PYTHONUNBUFFERED=1 python3 benchmarks/gpu/torch_executor_gpu.py --prepared .gpu-run --work "$work" --out "$out" ;;
  *) echo "usage: run.sh prepare | measure <out-dir>" >&2; exit 2 ;;
esac
