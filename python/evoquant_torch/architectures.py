"""The architectures the torch executor runs: their sizes from config.json, canonical per-layer keys,
and the Hugging Face module names those keys have in a checkpoint.

Supported: Qwen3-MoE (q/k norm, softmax → top-k → optional renormalisation), Mixtral (always
renormalised, `block_sparse_moe` names), Llama and Qwen2 (q/k/v bias) dense. Anything the layer
forward would compute differently from transformers (another rope type, another activation, dense
layers inside a MoE model, ...) is refused as InvalidCheckpoint rather than run wrongly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidCheckpoint

ARCHITECTURES = ("qwen3_moe", "mixtral", "llama", "qwen2")

# canonical expert projection -> HF leaf name per MoE architecture
_EXPERT_LEAF = {
    "qwen3_moe": {"gate": "gate_proj", "up": "up_proj", "down": "down_proj"},
    "mixtral": {"gate": "w1", "up": "w3", "down": "w2"},
}
_MOE_BLOCK = {"qwen3_moe": "mlp", "mixtral": "block_sparse_moe"}
_ATTN = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj"}
_DENSE = {"gate": "gate_proj", "up": "up_proj", "down": "down_proj"}


@dataclass(frozen=True)
class ArchSpec:
    architecture: str  # qwen3_moe | mixtral | llama | qwen2
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    intermediate: int  # dense MLP width (0 for MoE)
    moe_intermediate: int
    experts: int
    top_k: int
    norm_topk_prob: bool
    shared_intermediate: int  # 0 if no shared expert
    qk_norm: bool
    attn_bias: bool  # q/k/v biases
    rope_theta: float
    rms_eps: float
    tie_embeddings: bool
    raw_config: dict = field(compare=False, repr=False)
    o_bias: bool = False  # Llama's attention_bias also puts a bias on o_proj
    sliding_window: int | None = None
    rope_type: str = "default"

    @property
    def moe(self) -> bool:
        return self.experts > 0

    def module_name(self, layer: int, key: str) -> str:
        """Canonical key -> HF module name (the tensor name minus `.weight`/`.bias`)."""
        p = f"model.layers.{layer}"
        if key == "input_norm":
            return f"{p}.input_layernorm"
        if key == "post_norm":
            return f"{p}.post_attention_layernorm"
        if key in _ATTN:
            return f"{p}.self_attn.{_ATTN[key]}"
        if key.endswith("_bias") and key[0] in _ATTN:
            return f"{p}.self_attn.{_ATTN[key[0]]}"
        if key in ("q_norm", "k_norm"):
            return f"{p}.self_attn.{key}"
        if key == "router" and self.moe:
            return f"{p}.{_MOE_BLOCK[self.architecture]}.gate"
        parts = key.split(".")
        if parts[0] == "experts" and len(parts) == 3 and self.moe:
            e = int(parts[1])
            if 0 <= e < self.experts and parts[2] in _EXPERT_LEAF[self.architecture]:
                return f"{p}.{_MOE_BLOCK[self.architecture]}.experts.{e}.{_EXPERT_LEAF[self.architecture][parts[2]]}"
        if parts[0] == "mlp" and len(parts) == 2 and not self.moe and parts[1] in _DENSE:
            return f"{p}.mlp.{_DENSE[parts[1]]}"
        raise KeyError(f"{self.architecture} has no layer key {key!r}")

    def tensor_name(self, layer: int, key: str) -> str:
        return self.module_name(layer, key) + (".bias" if key.endswith("_bias") else ".weight")

    def layer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every canonical tensor of one decoder layer with its logical shape."""
        d, hd = self.hidden, self.head_dim
        qo, kv = self.heads * hd, self.kv_heads * hd
        s: dict[str, tuple[int, ...]] = {"input_norm": (d,), "post_norm": (d,)}
        s.update({"q": (qo, d), "k": (kv, d), "v": (kv, d), "o": (d, qo)})
        if self.attn_bias:
            s.update({"q_bias": (qo,), "k_bias": (kv,), "v_bias": (kv,)})
        if self.o_bias:
            s["o_bias"] = (d,)
        if self.qk_norm:
            s.update({"q_norm": (hd,), "k_norm": (hd,)})
        if self.moe:
            f = self.moe_intermediate
            s["router"] = (self.experts, d)
            for e in range(self.experts):
                s.update({f"experts.{e}.gate": (f, d), f"experts.{e}.up": (f, d), f"experts.{e}.down": (d, f)})
        else:
            i = self.intermediate
            s.update({"mlp.gate": (i, d), "mlp.up": (i, d), "mlp.down": (d, i)})
        return s

    def other_shapes(self) -> dict[str, tuple[int, ...]]:
        """The non-layer tensors by HF tensor name."""
        s = {"model.embed_tokens.weight": (self.vocab, self.hidden), "model.norm.weight": (self.hidden,)}
        if not self.tie_embeddings:
            s["lm_head.weight"] = (self.vocab, self.hidden)
        return s

    def parameters(self) -> int:
        per_layer = sum(_numel(v) for v in self.layer_shapes().values())
        return per_layer * self.layers + sum(_numel(v) for v in self.other_shapes().values())

    def modules(self) -> list[dict[str, Any]]:
        """describe's module list: every linear module, the embeddings and the head."""
        out: list[dict[str, Any]] = [
            {"name": "model.embed_tokens", "role": "embeddings", "layer": None, "expert": None, "inFeatures": self.vocab, "outFeatures": self.hidden}
        ]
        shapes = self.layer_shapes()
        for layer in range(self.layers):
            for key in linear_keys(self):
                o, i = shapes[key]
                out.append({"name": self.module_name(layer, key), "role": role_of(key), "layer": layer,
                            "expert": int(key.split(".")[1]) if key.startswith("experts.") else None,
                            "inFeatures": i, "outFeatures": o})
        if not self.tie_embeddings:
            out.append({"name": "lm_head", "role": "lm_head", "layer": None, "expert": None, "inFeatures": self.hidden, "outFeatures": self.vocab})
        return out


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for x in shape:
        n *= x
    return n


def linear_keys(arch: ArchSpec) -> list[str]:
    """The quantizable canonical keys of one layer, in a fixed order."""
    keys = ["q", "k", "v", "o"]
    if arch.moe:
        keys.append("router")
        for e in range(arch.experts):
            keys += [f"experts.{e}.gate", f"experts.{e}.up", f"experts.{e}.down"]
    else:
        keys += ["mlp.gate", "mlp.up", "mlp.down"]
    return keys


def role_of(key: str) -> str:
    if key in _ATTN:
        return f"attn_{key}"
    if key == "router":
        return "router"
    if key.startswith("experts."):
        return f"expert_{key.split('.')[2]}"
    if key.startswith("shared."):
        return "shared_expert"
    if key.startswith("mlp."):
        return "dense_mlp"
    raise KeyError(key)


def _need(cfg: dict, *names: str) -> Any:
    for n in names:
        if n in cfg and cfg[n] is not None:
            return cfg[n]
    raise InvalidCheckpoint(f"config.json has no {' / '.join(names)}")


def _int(cfg: dict, *names: str) -> int:
    v = _need(cfg, *names)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise InvalidCheckpoint(f"config.json {names[0]} must be a non-negative integer, got {v!r}")
    return v


# Rope types whose frequencies do not depend on the sequence length (dynamic and longrope do: refused).
# Non-default ones are computed by transformers' own ROPE_INIT_FUNCTIONS (layers.rope_cos_sin).
ROPE_TYPES = ("default", "linear", "llama3", "yarn")


def _rope(cfg: dict) -> tuple[float, str]:
    rp = cfg.get("rope_parameters")
    scaling = cfg.get("rope_scaling")
    if isinstance(rp, dict):
        kind = rp.get("rope_type", rp.get("type", "default"))
        theta = rp.get("rope_theta", cfg.get("rope_theta"))
    else:
        kind = scaling.get("rope_type", scaling.get("type", "default")) if isinstance(scaling, dict) else "default"
        theta = cfg.get("rope_theta", 10000.0)
    if kind not in ROPE_TYPES:
        raise InvalidCheckpoint(f"rope type {kind!r} is not supported (supported: {', '.join(ROPE_TYPES)})")
    if not isinstance(theta, (int, float)) or isinstance(theta, bool) or theta <= 0:
        raise InvalidCheckpoint(f"config.json rope_theta must be positive, got {theta!r}")
    return float(theta), str(kind)


def arch_from_config(cfg: dict) -> ArchSpec:
    """ArchSpec of a config.json; InvalidCheckpoint for an unknown or unsupported architecture."""
    if not isinstance(cfg, dict):
        raise InvalidCheckpoint("config.json is not a JSON object")
    mt = cfg.get("model_type")
    if mt not in ARCHITECTURES:
        raise InvalidCheckpoint(f"unknown architecture {mt!r} (model_type); supported: {', '.join(ARCHITECTURES)}")
    act = cfg.get("hidden_act", "silu")
    if act != "silu":
        raise InvalidCheckpoint(f"hidden_act {act!r} is not supported (only silu)")
    hidden = _int(cfg, "hidden_size")
    heads = _int(cfg, "num_attention_heads")
    kv_heads = _int(cfg, "num_key_value_heads") if cfg.get("num_key_value_heads") is not None else heads
    head_dim = cfg.get("head_dim") or (hidden // heads if heads else 0)
    if heads == 0 or kv_heads == 0 or heads % kv_heads != 0 or head_dim % 2 != 0:
        raise InvalidCheckpoint(f"attention heads {heads}/{kv_heads} with head_dim {head_dim} are not a valid GQA layout")
    moe = mt in ("qwen3_moe", "mixtral")
    experts = _int(cfg, "num_experts", "num_local_experts") if moe else 0
    top_k = _int(cfg, "num_experts_per_tok") if moe else 0
    if moe and not (0 < top_k <= experts):
        raise InvalidCheckpoint(f"num_experts_per_tok {top_k} must be in 1..{experts}")
    if mt == "qwen3_moe":
        if cfg.get("decoder_sparse_step", 1) != 1 or cfg.get("mlp_only_layers") not in (None, []):
            raise InvalidCheckpoint("qwen3_moe with dense layers (decoder_sparse_step != 1 or mlp_only_layers) is not supported")
    if cfg.get("mlp_bias"):
        raise InvalidCheckpoint("mlp_bias is not supported")
    attn_bias = mt == "qwen2" or bool(cfg.get("attention_bias", False))
    sliding = None
    if mt in ("qwen2", "qwen3_moe") and cfg.get("use_sliding_window"):
        # transformers applies it to some layers only (layer_types / max_window_layers)
        raise InvalidCheckpoint(f"{mt} with use_sliding_window is not supported")
    if mt == "mixtral" and cfg.get("sliding_window") is not None:
        sliding = cfg.get("sliding_window")  # every Mixtral layer attends within the window
    return ArchSpec(
        architecture=mt,
        hidden=hidden,
        layers=_int(cfg, "num_hidden_layers"),
        heads=heads,
        kv_heads=kv_heads,
        head_dim=int(head_dim),
        vocab=_int(cfg, "vocab_size"),
        intermediate=0 if moe else _int(cfg, "intermediate_size"),
        moe_intermediate=(_int(cfg, "moe_intermediate_size") if mt == "qwen3_moe" else _int(cfg, "intermediate_size")) if moe else 0,
        experts=experts,
        top_k=top_k,
        norm_topk_prob=True if mt == "mixtral" else bool(cfg.get("norm_topk_prob", False)) if moe else False,
        shared_intermediate=0,
        qk_norm=mt == "qwen3_moe",
        attn_bias=attn_bias,
        rope_theta=_rope(cfg)[0],
        rms_eps=float(cfg.get("rms_norm_eps", 1e-6)),
        tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        raw_config=cfg,
        o_bias=mt == "llama" and bool(cfg.get("attention_bias", False)),
        sliding_window=int(sliding) if isinstance(sliding, int) else None,
        rope_type=_rope(cfg)[1],
    )
