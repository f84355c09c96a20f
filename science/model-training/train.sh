#!/usr/bin/env bash
# Retrains the proxy model from scratch (about 20 minutes on 2 cores). Tests never run this:
# the trained weights are committed in artifacts/proxy/.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.tools/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy torch safetensors
fi
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
node --import tsx science/model-training/export-corpus.ts "$data"
"$venv/bin/python" science/model-training/train.py --data "$data" --out artifacts/proxy "$@"
node --import tsx science/model-training/report.ts artifacts/proxy
