#!/usr/bin/env bash
# Retrains the dense long-context proxy from scratch in two stages (about 75 minutes on 2 idle cores).
# Tests never run this: the trained weights are committed in artifacts/dense-proxy/. Training uses
# the project's pinned Python environment (scripts/python-env.sh: torch, and transformers for the
# reference logits).
#   stage 1: language at 256 then 1,024 bytes, one retrieval pair in half the windows
#   stage 2: from stage 1's weights, six retrieval pairs in three windows of four, so that lookups
#            (each key must be found among several) dominate the signal
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$(bash scripts/python-env.sh | tail -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node --import tsx science/model-training/export-corpus.ts "$work/data"
"$python" science/model-training/train_dense.py --data "$work/data" --out "$work/stage1"
"$python" science/model-training/train_dense.py --data "$work/data" --out artifacts/dense-proxy --init "$work/stage1/model.safetensors" \
  --short-steps 600 --short-batch 24 --steps 600 --batch 6 --pairs 6 --answer-weight 4 --retrieval-share 0.75 --lr 1e-3 --seed 20261202
node --import tsx science/model-training/dense-report.ts artifacts/dense-proxy
