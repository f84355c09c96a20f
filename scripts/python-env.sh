#!/usr/bin/env bash
# Builds the pinned Python environment of the conformance tests (transformers + compressed-tensors
# + torch, exactly as python/conformance/requirements.lock says) in a git-ignored folder, and
# reuses it while the lock is unchanged: the venv records the lock's sha256 and is rebuilt only
# when it is missing, broken or built from another lock.
#   scripts/python-env.sh            build if needed, print the interpreter path last
#   EVOQUANT_PY_ENV=<dir>            where the venv lives (default .tools/py-conformance)
#   EVOQUANT_PYTHON=<python3.X>      interpreter to build it with (default python3; 3.10 or newer)
# Extra pip options (a wheel cache: PIP_FIND_LINKS=…) pass through pip's own environment variables.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCK=python/conformance/requirements.lock
ENV_DIR=${EVOQUANT_PY_ENV:-.tools/py-conformance}
PY=${EVOQUANT_PYTHON:-python3}
STAMP="$ENV_DIR/.evoquant-lock-sha256"

want=$(sha256sum "$LOCK" | cut -d' ' -f1)
if [[ -x "$ENV_DIR/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "python-env: $ENV_DIR is up to date with $LOCK" >&2
  echo "$ENV_DIR/bin/python"
  exit 0
fi

command -v "$PY" >/dev/null || { echo "python-env: $PY not found (set EVOQUANT_PYTHON to a Python 3.10+ interpreter)" >&2; exit 1; }
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || { echo "python-env: $PY is older than 3.10" >&2; exit 1; }

# Build beside the target and swap in at the end, so an interrupted build never looks finished.
tmp="$ENV_DIR.building.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$(dirname "$ENV_DIR")"
echo "python-env: creating $ENV_DIR from $LOCK with $("$PY" --version 2>&1) (torch's CUDA build: ~3 GB of wheels the first time)" >&2
"$PY" -m venv "$tmp"
"$tmp/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off --no-deps --require-virtualenv -r "$LOCK" >&2
"$tmp/bin/python" -m pip check >&2
"$tmp/bin/python" -c 'import torch, transformers, compressed_tensors, safetensors; print("python-env: torch", torch.__version__, "transformers", transformers.__version__, "compressed-tensors", compressed_tensors.__version__)' >&2
echo "$want" >"$tmp/.evoquant-lock-sha256"
rm -rf "$ENV_DIR"
# venvs hard-code their path in scripts; python itself runs from the moved folder, and the tests
# only ever call bin/python, so recreate the launcher links for the final path.
mv "$tmp" "$ENV_DIR"
trap - EXIT
"$PY" -m venv --upgrade "$ENV_DIR" >/dev/null
echo "python-env: ready" >&2
echo "$ENV_DIR/bin/python"
