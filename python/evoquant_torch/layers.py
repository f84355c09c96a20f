"""Functional forward of one decoder layer, computed as transformers 5.20 computes it.

RMSNorm in float32, rope (default: inv_freq = θ^(−2i/d); linear/llama3/yarn through transformers' own
init functions; cos/sin of cat(freqs, freqs), rotate_half),
causal GQA attention with optional q/k/v bias (Qwen2) and per-head q/k RMSNorm (Qwen3-MoE), SwiGLU, and MoE
routing as Qwen3MoeTopKRouter / MixtralTopKRouter do it: softmax over the router logits in float32, top-k
(torch.topk), then optional renormalisation (always for Mixtral), experts summed in ascending expert order
with index_add_. Expert compute gathers each expert's rows with one index per expert — never a loop over tokens.

With a KV-cache policy (kv_cache.py) a layer's attention reads the cache that policy stores: quantized
keys/values where the policy quantizes them, full precision where it keeps them (windows, sinks, KIVI's residual).

Capture hooks let calibration observe the exact inputs of every linear module (rows are [N, width]).
"""
from __future__ import annotations

from typing import Callable, Protocol

import torch
import torch.nn.functional as F

from .architectures import ArchSpec
from .kv_cache import KvLayerPolicy, store_kv


class Capture(Protocol):
    """Every method is optional; layer_forward calls those a capture defines."""

    def attention_input(self, x: torch.Tensor) -> None: ...
    def attention_output_input(self, x: torch.Tensor) -> None: ...
    def moe_input(self, x: torch.Tensor, probs: torch.Tensor, top: torch.Tensor) -> None: ...
    def expert_input(self, e: int, x: torch.Tensor, rows: torch.Tensor) -> None: ...
    def expert_down_input(self, e: int, h: torch.Tensor, rows: torch.Tensor) -> None: ...
    def shared_input(self, x: torch.Tensor) -> None: ...
    def shared_down_input(self, h: torch.Tensor) -> None: ...
    def mlp_input(self, x: torch.Tensor) -> None: ...
    def mlp_down_input(self, h: torch.Tensor) -> None: ...


def _hook(capture: object | None, name: str):  # type: ignore[no-untyped-def]
    return getattr(capture, name, None) if capture is not None else None


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    xf = x.float()
    return weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


_ROPE_CACHE: dict[tuple[ArchSpec, int, str, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}


def rope_inv_freq(arch: ArchSpec, device: torch.device) -> tuple[torch.Tensor, float]:
    """Inverse frequencies [head_dim/2] and the cos/sin scaling of the architecture's rope. The default rope
    is computed here; scaled ones (linear, llama3, yarn) by transformers' own ROPE_INIT_FUNCTIONS."""
    hd = arch.head_dim
    if arch.rope_type == "default":
        return 1.0 / (arch.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / hd)), 1.0
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    raw = {k: v for k, v in arch.raw_config.items() if k not in ("model_type", "quantization_config")}
    cfg = AutoConfig.for_model(arch.architecture, **raw)
    inv_freq, scaling = ROPE_INIT_FUNCTIONS[arch.rope_type](cfg, device)
    return inv_freq.to(device=device, dtype=torch.float), float(scaling)


def rope_cos_sin(arch: ArchSpec, seq: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [seq, head_dim] (positions 0..seq-1), as the HF rotary embedding computes them."""
    key = (arch, seq, str(device), dtype)
    hit = _ROPE_CACHE.get(key)
    if hit is None:
        inv_freq, scaling = rope_inv_freq(arch, device)
        freqs = torch.arange(seq, device=device, dtype=torch.float)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        hit = ((emb.cos() * scaling).to(dtype), (emb.sin() * scaling).to(dtype))
        if len(_ROPE_CACHE) > 16:
            _ROPE_CACHE.clear()
        _ROPE_CACHE[key] = hit
    return hit


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _cached_attention(q: torch.Tensor, k_pre: torch.Tensor, k: torch.Tensor, v: torch.Tensor, policy: KvLayerPolicy,
                      rope: Callable[[torch.Tensor], torch.Tensor], rep: int) -> torch.Tensor:
    """Causal attention over a KV cache stored by `policy` (kv_cache.py): each score reads its key in full
    precision or from the stored copy as the key mask says per (query, key); the probabilities are split
    likewise between the full-precision and the stored values. q [B, H, S, hd]; k_pre, k, v [B, Hkv, S, hd]."""
    s, hd = q.shape[-2], q.shape[-1]
    stored = store_kv(policy, k_pre, k, v, rope)

    def heads(x: torch.Tensor) -> torch.Tensor:  # [B, Hkv, S, hd] -> [B, H, S, hd], query heads grouped by KV head
        return x.repeat_interleave(rep, dim=1) if rep > 1 else x

    qs = q * hd**-0.5
    scores = torch.where(stored.key_full, qs @ heads(k).transpose(-1, -2), qs @ heads(stored.keys).transpose(-1, -2))
    causal = torch.ones(s, s, dtype=torch.bool, device=q.device).tril()
    probs = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
    probs_full = probs * stored.value_full.to(probs.dtype)
    return probs_full @ heads(v) + (probs - probs_full) @ heads(stored.values)


def _attention(arch: ArchSpec, w: dict[str, torch.Tensor], h: torch.Tensor, capture: object | None,
               kv: KvLayerPolicy | None = None) -> torch.Tensor:
    b, s, d = h.shape
    hd = arch.head_dim
    if (hook := _hook(capture, "attention_input")) is not None:
        hook(h.reshape(-1, d))
    q = F.linear(h, w["q"], w.get("q_bias")).view(b, s, arch.heads, hd)
    k = F.linear(h, w["k"], w.get("k_bias")).view(b, s, arch.kv_heads, hd)
    v = F.linear(h, w["v"], w.get("v_bias")).view(b, s, arch.kv_heads, hd)
    if arch.qk_norm:
        q = rms_norm(q, w["q_norm"], arch.rms_eps)
        k = rms_norm(k, w["k_norm"], arch.rms_eps)
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    cos, sin = rope_cos_sin(arch, s, h.device, h.dtype)

    def rope(x: torch.Tensor) -> torch.Tensor:
        return x * cos + _rotate_half(x) * sin

    k_pre = k
    q, k = rope(q), rope(k)
    rep = arch.heads // arch.kv_heads
    if kv is not None and not kv.unquantized:
        if arch.sliding_window is not None and s > arch.sliding_window:
            raise ValueError("a KV policy on a sliding-window architecture is not supported")
        a = _cached_attention(q, k_pre, k, v, kv, rope, rep)
    else:
        if rep > 1:
            k = k[:, :, None].expand(b, arch.kv_heads, rep, s, hd).reshape(b, arch.heads, s, hd)
            v = v[:, :, None].expand(b, arch.kv_heads, rep, s, hd).reshape(b, arch.heads, s, hd)
        if arch.sliding_window is not None and s > arch.sliding_window:
            i = torch.arange(s, device=h.device)
            mask = (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < arch.sliding_window)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=hd**-0.5)
        else:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=hd**-0.5)
    a = a.transpose(1, 2).reshape(b, s, arch.heads * hd)
    if (hook := _hook(capture, "attention_output_input")) is not None:
        hook(a.reshape(-1, arch.heads * hd))
    return F.linear(a, w["o"], w.get("o_bias"))


def expert_hidden(w: dict[str, torch.Tensor], e: int, x: torch.Tensor) -> torch.Tensor:
    """silu(gate x) · up x of expert e (the input of its down projection)."""
    return F.silu(F.linear(x, w[f"experts.{e}.gate"])) * F.linear(x, w[f"experts.{e}.up"])


def route(arch: ArchSpec, router: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """probs [N, E] (float32 softmax), top-k weights [N, k] (renormalised if the architecture does) and experts [N, k]."""
    logits = F.linear(x, router)
    probs = torch.softmax(logits.float(), dim=-1)
    top_w, top = torch.topk(probs, arch.top_k, dim=-1)
    if arch.norm_topk_prob:
        top_w = top_w / top_w.sum(dim=-1, keepdim=True)
    return probs, top_w.to(x.dtype), top


def _moe(arch: ArchSpec, w: dict[str, torch.Tensor], x: torch.Tensor, capture: object | None,
         routed_counts: torch.Tensor | None) -> torch.Tensor:
    n = x.shape[0]
    probs, top_w, top = route(arch, w["router"], x)
    if (hook := _hook(capture, "moe_input")) is not None:
        hook(x, probs, top)
    flat = top.reshape(-1)
    order = torch.argsort(flat, stable=True)  # grouped by expert, rows ascending within an expert
    counts = torch.bincount(flat, minlength=arch.experts)
    if routed_counts is not None:
        routed_counts += counts.to(routed_counts.device, routed_counts.dtype)
    rows_sorted = order // arch.top_k
    weights_sorted = top_w.reshape(-1)[order]
    out = torch.zeros_like(x)
    in_hook, down_hook = _hook(capture, "expert_input"), _hook(capture, "expert_down_input")
    start = 0
    for e, c in enumerate(counts.tolist()):  # one host sync per layer
        if c == 0:
            continue
        rows = rows_sorted[start:start + c]
        wts = weights_sorted[start:start + c]
        start += c
        xe = x.index_select(0, rows)
        if in_hook is not None:
            in_hook(e, xe, rows)
        he = expert_hidden(w, e, xe)
        if down_hook is not None:
            down_hook(e, he, rows)
        out.index_add_(0, rows, F.linear(he, w[f"experts.{e}.down"]) * wts[:, None])
    assert n == out.shape[0]
    return out


def _mlp(w: dict[str, torch.Tensor], x: torch.Tensor, capture: object | None) -> torch.Tensor:
    if (hook := _hook(capture, "mlp_input")) is not None:
        hook(x)
    h = F.silu(F.linear(x, w["mlp.gate"])) * F.linear(x, w["mlp.up"])
    if (hook := _hook(capture, "mlp_down_input")) is not None:
        hook(h)
    return F.linear(h, w["mlp.down"])


def layer_forward(arch: ArchSpec, w: dict[str, torch.Tensor], hidden: torch.Tensor, capture: Capture | object | None = None,
                  routed_counts: torch.Tensor | None = None, kv: KvLayerPolicy | None = None) -> torch.Tensor:
    """One decoder layer over hidden [B, S, d]; routed_counts [E] is incremented in place with the tokens each expert got.
    `kv`: the layer's KV-cache policy (kv_cache.resolve_kv_layer); attention then reads what that cache holds."""
    b, s, d = hidden.shape
    x = hidden + _attention(arch, w, rms_norm(hidden, w["input_norm"], arch.rms_eps), capture, kv)
    flat = rms_norm(x, w["post_norm"], arch.rms_eps).reshape(-1, d)
    y = _moe(arch, w, flat, capture, routed_counts) if arch.moe else _mlp(w, flat, capture)
    return x + y.view(b, s, d)


def embed_tokens(embed: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return F.embedding(ids, embed)


def head_logits(arch: ArchSpec, norm_w: torch.Tensor, head_w: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    return F.linear(rms_norm(hidden, norm_w, arch.rms_eps), head_w)
