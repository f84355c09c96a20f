"""The describe request: architecture, sizes and module list of a checkpoint (opened strictly)."""
from __future__ import annotations

from typing import Any

from .checkpoint import Checkpoint
from .text import tokenizer_kind


def describe(req: dict[str, Any]) -> dict[str, Any]:
    ckpt = Checkpoint.open(req["checkpoint"])
    a = ckpt.arch
    return {
        "architecture": a.architecture,
        "numLayers": a.layers,
        "numExperts": a.experts,
        "expertsPerToken": a.top_k,
        "hiddenSize": a.hidden,
        "vocabSize": a.vocab,
        "parameters": a.parameters(),
        "tokenizer": tokenizer_kind(ckpt.path),
        "modules": a.modules(),
    }
