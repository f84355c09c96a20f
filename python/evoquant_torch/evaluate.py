"""The evaluate request: bits/byte, perplexity, top-1, KL against a reference and per-expert routing
frequency of a checkpoint (original or compressed-tensors), layer-streamed.

The hidden states of all windows stay on the device while the weights pass through one decoder layer
at a time; logits are formed and reduced one chunk of windows at a time, so neither the model nor the
[tokens, vocab] logits are ever held whole. The reference's log-probabilities are cached on disk under
cacheDir, keyed by sha256(reference config + safetensors headers + shard identity, window ids, seq), and
reused by later evaluations in any process. With `kvCache` (a KV policy, kv_cache.py) the model attends over
the cache that policy stores while the reference is read without one, so KL includes the cache's cost.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import torch

from .architectures import ArchSpec
from .checkpoint import Checkpoint
from .errors import InvalidRequest, MemoryMeter, check_finite, tensor_bytes
from .kv_cache import KvPolicy, parse_kv_policy, resolve_kv_layer
from .layers import embed_tokens, head_logits, layer_forward
from .text import Tokens, load_text, tokenize, window_tensor

LOG2E = 1.0 / math.log(2.0)
Emit = Callable[[dict[str, Any]], None]
# Logit chunks are capped so [windows, seq, vocab] float32 stays under this many bytes.
HEAD_CHUNK_BYTES = 256 * 2**20
# The reference cache is stored in float32 up to this size, float16 beyond (a 150k vocab makes it huge).
CACHE_F32_LIMIT = 2 * 2**30
CACHE_FORMAT = 1


def resolve_device(name: str) -> torch.device:
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InvalidRequest("device cuda requested but torch sees no CUDA device")
        return torch.device("cuda:0")
    raise InvalidRequest(f"device must be cpu or cuda, got {name!r}")


def activation_bytes(arch: ArchSpec, batch: int, seq: int, kv_cache: bool = False) -> int:
    """Working set of one layer over `batch` windows beyond the hidden states (float32): normed input,
    q/k/v (k/v repeated for GQA), attention scores of the math path, attention output, MLP/expert intermediates.
    A simulated KV cache (kv_cache.py) adds the stored K/V and two score matrices (full and stored keys) and
    the split probabilities: four score-sized tensors in all."""
    rows = batch * seq
    qkv = rows * arch.heads * arch.head_dim * (6 if kv_cache else 3)
    scores = batch * arch.heads * seq * seq * (4 if kv_cache else 1)
    mlp = rows * (arch.top_k * arch.moe_intermediate * 3 + arch.experts if arch.moe else arch.intermediate * 3)
    return 4 * (rows * arch.hidden * 3 + qkv + scores + mlp)


def stream_hidden(ckpt: Checkpoint, inputs: torch.Tensor, batch: int, device: torch.device, meter: MemoryMeter,
                  emit: Emit, stage: str, routed: torch.Tensor | None = None, kv: KvPolicy | None = None) -> torch.Tensor:
    """Final hidden states [W, S, d] (before the last norm) of inputs [W, S], one layer's weights on the device at a time;
    with `kv`, each layer attends over the KV cache that policy stores."""
    arch = ckpt.arch
    w_count, seq = inputs.shape
    embed = ckpt.embed(device)
    meter.charge(tensor_bytes(embed), "the embedding table")
    hidden = embed_tokens(embed, inputs.to(device))
    meter.charge(tensor_bytes(hidden), f"the hidden states of {w_count} windows")
    meter.release(tensor_bytes(embed))
    del embed
    act = activation_bytes(arch, min(batch, w_count), seq, kv is not None)
    for i in range(arch.layers):
        w = ckpt.layer(i, device)
        nb = sum(t.untyped_storage().nbytes() for t in {t.untyped_storage().data_ptr(): t for t in w.values()}.values())
        meter.charge(nb, f"layer {i} weights")
        meter.charge(act, f"layer {i} activations of {min(batch, w_count)} windows")
        for b0 in range(0, w_count, batch):
            hidden[b0:b0 + batch] = layer_forward(arch, w, hidden[b0:b0 + batch], routed_counts=None if routed is None else routed[i],
                                                  kv=resolve_kv_layer(kv, i, arch.layers) if kv is not None else None)
        meter.release(act)
        meter.release(nb)
        del w
        check_finite(hidden, f"the hidden states after layer {i} of {ckpt.path}")
        emit({"type": "progress", "stage": stage, "done": i + 1, "total": arch.layers})
    return hidden


def head_chunk(arch: ArchSpec, seq: int) -> int:
    return max(1, HEAD_CHUNK_BYTES // (seq * arch.vocab * 4))


def cache_key(ref: Checkpoint, ids: torch.Tensor, seq: int) -> str:
    h = hashlib.sha256()
    h.update(ref.header_digest_source())
    h.update(b"\0windows\0")
    h.update(ids.to(torch.int64).contiguous().numpy().tobytes())
    h.update(f"\0seq={seq}\0format={CACHE_FORMAT}".encode())
    return h.hexdigest()


class ReferenceCache:
    """Reference log-probs [W, S, V] stored as chunk files of whole windows plus meta.json (written last,
    the directory renamed into place, so a half-written cache is never read)."""

    def __init__(self, root: Path, meta: dict[str, Any]) -> None:
        self.root = root
        self.meta = meta
        self.chunk = int(meta["chunk"])

    def log_probs(self, c: int, device: torch.device) -> torch.Tensor:
        t = torch.load(self.root / f"chunk-{c:05d}.pt", map_location="cpu", weights_only=True)
        return t.to(device).float()

    @staticmethod
    def find(cache_dir: Path, key: str, windows: int, seq: int, vocab: int) -> "ReferenceCache | None":
        root = cache_dir / f"reference-logprobs-{key}"
        try:
            meta = json.loads((root / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("windows") != windows or meta.get("seq") != seq or meta.get("vocab") != vocab or meta.get("format") != CACHE_FORMAT:
            return None
        return ReferenceCache(root, meta)

    @staticmethod
    def build(ref: Checkpoint, inputs: torch.Tensor, cache_dir: Path, key: str, batch: int, device: torch.device,
              meter: MemoryMeter, emit: Emit) -> "ReferenceCache":
        arch = ref.arch
        w_count, seq = inputs.shape
        hidden = stream_hidden(ref, inputs, batch, device, meter, emit, "reference")
        chunk = head_chunk(arch, seq)
        dtype = torch.float32 if w_count * seq * arch.vocab * 4 <= CACHE_F32_LIMIT else torch.float16
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".reference-logprobs-{key}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        norm, head = ref.final_norm(device), ref.lm_head(device)
        meter.charge(tensor_bytes(head), "the reference lm_head")
        meta = {"format": CACHE_FORMAT, "windows": w_count, "seq": seq, "vocab": arch.vocab, "chunk": chunk,
                "dtype": str(dtype).removeprefix("torch."), "reference": str(ref.path)}
        try:
            for c, b0 in enumerate(range(0, w_count, chunk)):
                lp = torch.log_softmax(head_logits(arch, norm, head, hidden[b0:b0 + chunk]).float(), dim=-1)
                check_finite(lp, "the reference log-probabilities")
                torch.save(lp.to(dtype).cpu(), tmp / f"chunk-{c:05d}.pt")
            (tmp / "meta.json").write_text(json.dumps(meta))
        except BaseException:  # never leave a half-written cache behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        final = cache_dir / f"reference-logprobs-{key}"
        try:
            tmp.rename(final)
        except OSError:  # another process finished the same cache first: theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
        meter.release(tensor_bytes(head))
        meter.release(tensor_bytes(hidden))  # the reference's hidden states are done with
        return ReferenceCache(final, meta)


def evaluate(req: dict[str, Any], emit: Emit) -> dict[str, Any]:
    """Runs a validated evaluate request (see protocol.validate_evaluate)."""
    device = resolve_device(req["device"])
    meter = MemoryMeter(req.get("memoryCapBytes"), device)
    text_req = req["text"]
    seq, batch = int(text_req["seq"]), int(text_req["batch"])
    model = Checkpoint.open(req["model"])
    emit({"type": "progress", "stage": "load", "done": 0, "total": model.arch.layers})
    text = load_text(text_req["files"])
    toks: Tokens = tokenize(model, text)
    ids, blen = window_tensor(toks, seq, int(text_req["tokens"]))
    inputs, targets, target_bytes = ids[:, :-1], ids[:, 1:], blen[:, 1:]
    w_count = int(ids.shape[0])
    arch = model.arch

    ref_cache: ReferenceCache | None = None
    if req.get("reference") is not None:
        ref = Checkpoint.open(req["reference"])
        if ref.arch.vocab != arch.vocab:
            raise InvalidRequest(f"reference vocab {ref.arch.vocab} differs from the model's {arch.vocab}")
        if _tokenizer_bytes(ref.path) != _tokenizer_bytes(model.path):
            raise InvalidRequest("reference and model tokenizers differ; KL needs the same tokens")
        cache_dir = Path(req["cacheDir"])
        key = cache_key(ref, ids, seq)
        ref_cache = ReferenceCache.find(cache_dir, key, w_count, seq, arch.vocab)
        if ref_cache is None:
            ref_cache = ReferenceCache.build(ref, inputs, cache_dir, key, batch, device, meter, emit)
        del ref

    routed = torch.zeros((arch.layers, arch.experts), dtype=torch.long, device=device) if arch.moe else None
    kv = parse_kv_policy(req["kvCache"]) if req.get("kvCache") is not None else None
    hidden = stream_hidden(model, inputs, batch, device, meter, emit, "evaluate", routed, kv)
    norm, head = model.final_norm(device), model.lm_head(device)
    meter.charge(tensor_bytes(head), "the lm_head")
    chunk = ref_cache.chunk if ref_cache is not None else head_chunk(arch, seq)
    # logits, log-probs and (with a reference) its log-probs and probabilities of one chunk
    meter.charge((4 if ref_cache is not None else 2) * min(chunk, w_count) * seq * arch.vocab * 4, f"the logits of {min(chunk, w_count)} windows")
    nats = torch.zeros((), dtype=torch.float64, device=device)
    kl = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    tgt = targets.to(device)
    for c, b0 in enumerate(range(0, w_count, chunk)):
        lp = torch.log_softmax(head_logits(arch, norm, head, hidden[b0:b0 + chunk]).float(), dim=-1)
        check_finite(lp, f"the log-probabilities of {model.path}")
        t = tgt[b0:b0 + chunk]
        nats -= lp.gather(-1, t[..., None]).sum(dtype=torch.float64)
        correct += (lp.argmax(dim=-1) == t).sum()  # argmax returns the first maximum: ties → lowest id
        if ref_cache is not None:
            r = ref_cache.log_probs(c, device)
            p = r.exp()
            kl += torch.where(p > 0, p * (r - lp), torch.zeros_like(p)).sum(dtype=torch.float64)
        emit({"type": "progress", "stage": "evaluate", "done": arch.layers, "total": arch.layers})
    tokens = w_count * seq
    n_bytes = int(target_bytes.sum())
    if n_bytes <= 0:
        raise InvalidRequest("the evaluation windows cover no bytes")
    nats_f, kl_f = float(nats), float(kl)
    freq: list[list[float]] = []
    if routed is not None:
        for layer in routed.cpu().tolist():
            total = sum(layer)
            freq.append([c / total if total > 0 else 0.0 for c in layer])
    return {
        "tokens": tokens,
        "bytes": n_bytes,
        "bitsPerByte": nats_f * LOG2E / n_bytes,
        "perplexity": math.exp(nats_f / tokens),
        "top1": int(correct) / tokens,
        "klBitsPerToken": max(0.0, kl_f * LOG2E / tokens) if ref_cache is not None else None,
        "klBitsPerByte": max(0.0, kl_f * LOG2E / n_bytes) if ref_cache is not None else None,
        "expertFrequency": freq,
        "peakMemoryBytes": meter.peak,
        "deviceTotalBytes": meter.total,
        "weightBytes": model.stored_bytes(),
        "lmEval": None,  # lm-eval-harness is not in the pinned environment; no request field names tasks
    }


def _tokenizer_bytes(path: Path) -> bytes | None:
    p = path / "tokenizer.json"
    return p.read_bytes() if p.is_file() else None
