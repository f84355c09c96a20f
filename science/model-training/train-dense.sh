#!/usr/bin/env bash
# Retrains the dense long-context proxy from scratch (about 51 minutes on 2 cores: a synthetic copy warm-up, then Brown at 256 and 1,024 bytes). Tests never
# run this: the trained weights are committed in artifacts/dense-proxy/. Training uses the project's
# pinned Python environment (scripts/python-env.sh: torch, and transformers for the reference logits).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$(bash scripts/python-env.sh | tail -n 1)
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
node --import tsx science/model-training/export-corpus.ts "$data"
"$python" science/model-training/train_dense.py --data "$data" --out artifacts/dense-proxy "$@"
node --import tsx science/model-training/dense-report.ts artifacts/dense-proxy
