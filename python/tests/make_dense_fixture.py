"""Writes a random small Llama checkpoint the dense proxy's TypeScript forward pass also loads:
`python -m tests.make_dense_fixture OUT [SEED]` (run from python/). Byte vocabulary (256), 4 layers so
that per-layer KV bands select a strict subset, head_dim 16, GQA 4/2, context 1024, and `rope_theta` at
the top level of config.json as schema/dense-proxy-config.ts reads it (transformers 5 writes it under
rope_parameters; both say the same θ)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from .fixtures import make_checkpoint

THETA = 10000.0


def make_dense_fixture(out: str | Path, seed: int = 0) -> Path:
    path = make_checkpoint("llama", out, seed=seed, vocab_size=256, num_hidden_layers=4, max_position_embeddings=1024,
                           rope_parameters={"rope_type": "default", "rope_theta": THETA})
    cfg_path = Path(path) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["rope_theta"] = THETA
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return Path(path)


if __name__ == "__main__":
    torch.set_num_threads(1)
    make_dense_fixture(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
