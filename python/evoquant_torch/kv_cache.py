"""The KV cache stored by a policy (schema/kv-policy.ts), in torch: what attention reads back.

Built from the contract's semantics (/work/wt/KV-CONTRACT.md), independently of science/kv-cache/*.ts:
  - int8/int4/int2: asymmetric min/max with an fp16 scale and an fp16 zero per group (KIVI).
    axis 'token': a group is min(groupSize, headDim) consecutive channels of one token of one KV head;
    axis 'channel': groupSize consecutive tokens of one channel of one KV head, quantized only once the
    group is complete (the newest context mod groupSize tokens stay full precision: KIVI's residual).
  - fp8 e4m3 / e5m2: one fp32 scale per sequence for a layer's K and one for V, amax / the format's
    largest value (vLLM's k_scale / v_scale), elements cast with torch's float8 dtypes (saturated).
  - recentWindow / sinkTokens: those tokens are read in full precision instead of quantized.
  - keyPosition 'pre-rope': keys are quantized before RoPE and rotated after dequantization (KVQuant).
  - keyRotation 'hadamard': keys are rotated by QuaRot's randomized Hadamard before quantization and
    rotated back after (normalised Walsh–Hadamard blocks, ±1 signs from mulberry32(0x6b76), as
    science/quantization/hadamard.ts draws them).
Which tokens a query reads in full precision depends on the query's position, so the cache is returned
as a stored (dequantized) copy of every token plus [seq, seq] boolean masks (True: read full precision).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

from .errors import InvalidRequest

KV_FORMATS = ("bf16", "fp8_e4m3", "fp8_e5m2", "int8", "int4", "int2")
INT_BITS = {"int8": 8, "int4": 4, "int2": 2}
GROUP_SIZES = (16, 32, 64, 128)
MAX_TOKENS = 1 << 24
MAX_BANDS = 256
FP8 = {"fp8_e4m3": (torch.float8_e4m3fn, 448.0), "fp8_e5m2": (torch.float8_e5m2, 57344.0)}
# science/kv-cache/store.ts: `new HadamardRotation(headDim, 0x6b76)`; the signs must be the same draws.
KEY_ROTATION_SEED = 0x6B76

# ----- the policy, parsed as schema/kv-policy.ts's zod schema parses it ----------------------------

TensorPolicy = dict[str, Any]  # {"format": ...} (+ "axis", "groupSize" for int formats)


@dataclass(frozen=True)
class KvLayerPolicy:
    keys: Mapping[str, Any]
    values: Mapping[str, Any]
    recent_window: int = 0
    sink_tokens: int = 0
    key_position: str = "post-rope"
    key_rotation: str = "none"

    @property
    def unquantized(self) -> bool:
        """True when K and V are stored as bf16 would store them: nothing to simulate (isUnquantizedKv)."""
        return self.keys["format"] == "bf16" and self.values["format"] == "bf16"


@dataclass(frozen=True)
class KvPolicy:
    base: KvLayerPolicy
    bands: tuple[tuple[float, float, Mapping[str, Any]], ...] = ()  # (from, to, partial override in JSON names)


_LAYER_FIELDS = {"keys": "keys", "values": "values", "recentWindow": "recent_window", "sinkTokens": "sink_tokens",
                 "keyPosition": "key_position", "keyRotation": "key_rotation"}


class _PolicyError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path, self.message = path, message


def _fail(path: str, message: str) -> _PolicyError:
    return _PolicyError(path, message)


def _object(raw: Any, path: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(path, "must be an object")
    extra = sorted(set(raw) - allowed)
    if extra:
        raise _fail(path, f"unknown key {extra[0]!r}")
    return raw


def _tensor(raw: Any, path: str) -> TensorPolicy:
    obj = _object(raw, path, {"format", "axis", "groupSize"})
    fmt = obj.get("format")
    if fmt not in KV_FORMATS:
        raise _fail(f"{path}.format", f"must be one of {', '.join(KV_FORMATS)}")
    if fmt in INT_BITS:
        if obj.get("axis") not in ("token", "channel"):
            raise _fail(f"{path}.axis", "must be token or channel")
        g = obj.get("groupSize")
        if isinstance(g, bool) or g not in GROUP_SIZES:
            raise _fail(f"{path}.groupSize", f"groupSize must be one of {', '.join(map(str, GROUP_SIZES))}")
        return {"format": fmt, "axis": obj["axis"], "groupSize": int(g)}
    if set(obj) != {"format"}:
        raise _fail(path, f"unknown key {sorted(set(obj) - {'format'})[0]!r}")
    return {"format": fmt}


def _tokens(raw: Any, path: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != int(raw) or not 0 <= raw <= MAX_TOKENS:
        raise _fail(path, f"must be an integer in 0..{MAX_TOKENS}")
    return int(raw)


def _layer_fields(obj: dict[str, Any], path: str) -> dict[str, Any]:
    """The given layer genes of a JSON object, validated, under KvLayerPolicy's field names."""
    out: dict[str, Any] = {}
    for key in ("keys", "values"):
        if key in obj:
            out[key] = _tensor(obj[key], f"{path}{key}")
    for key in ("recentWindow", "sinkTokens"):
        if key in obj:
            out[_LAYER_FIELDS[key]] = _tokens(obj[key], f"{path}{key}")
    if "keyPosition" in obj:
        if obj["keyPosition"] not in ("pre-rope", "post-rope"):
            raise _fail(f"{path}keyPosition", "must be pre-rope or post-rope")
        out["key_position"] = obj["keyPosition"]
    if "keyRotation" in obj:
        if obj["keyRotation"] not in ("none", "hadamard"):
            raise _fail(f"{path}keyRotation", "must be none or hadamard")
        out["key_rotation"] = obj["keyRotation"]
    return out


def parse_kv_policy(raw: Any, field: str = "kv policy") -> KvPolicy:
    """A KvPolicy from its JSON (absent genes take the schema's defaults: bf16, no windows, post-RoPE, no
    rotation); InvalidRequest naming the field (`field`.path) of the first thing wrong."""
    try:
        return _parse_kv_policy(raw)
    except _PolicyError as e:
        raise InvalidRequest(f"{field}{'.' + e.path if e.path else ''}: {e.message}") from None


def _parse_kv_policy(raw: Any) -> KvPolicy:
    obj = _object(raw, "", set(_LAYER_FIELDS) | {"layers"})
    base = KvLayerPolicy(**{"keys": {"format": "bf16"}, "values": {"format": "bf16"}, **_layer_fields(obj, "")})
    bands_raw = obj.get("layers", [])
    if not isinstance(bands_raw, list) or len(bands_raw) > MAX_BANDS:
        raise _fail("layers", f"must be an array of at most {MAX_BANDS} depth bands")
    bands = []
    for i, b in enumerate(bands_raw):
        band = _object(b, f"layers.{i}", {"from", "to", "override"})
        lo, hi = band.get("from"), band.get("to")
        for name, v in (("from", lo), ("to", hi)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise _fail(f"layers.{i}.{name}", "must be a number in [0, 1]")
        if not hi > lo:  # type: ignore[operator]
            raise _fail(f"layers.{i}.to", "depth band needs to > from")
        override = _object(band.get("override"), f"layers.{i}.override", set(_LAYER_FIELDS))
        bands.append((float(lo), float(hi), _layer_fields(override, f"layers.{i}.override.")))  # type: ignore[arg-type]
    return KvPolicy(base=base, bands=tuple(bands))


def resolve_kv_layer(policy: KvPolicy, layer: int, num_layers: int) -> KvLayerPolicy:
    """The genes layer `layer` of `num_layers` stores its cache by: the base, then every band its depth
    layer / num_layers falls in ([from, to)), in order — resolveKvLayer's rule."""
    depth = layer / max(1, num_layers)
    fields = dict(policy.base.__dict__)
    for lo, hi, override in policy.bands:
        if lo <= depth < hi:
            fields.update(override)
    return KvLayerPolicy(**fields)


# ----- QuaRot's key rotation ---------------------------------------------------------------------

def mulberry32(seed: int) -> Callable[[], float]:
    """science/quantization/prng.ts's generator, bit for bit (32-bit wrap-around arithmetic)."""
    state = [seed & 0xFFFFFFFF]
    m = 0xFFFFFFFF

    def imul(a: int, b: int) -> int:
        return (a * b) & m

    def nxt() -> float:
        state[0] = (state[0] + 0x6D2B79F5) & m
        t = state[0]
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & m
        return ((t ^ (t >> 14)) & m) / 4294967296

    return nxt


@functools.lru_cache(maxsize=16)
def hadamard_rotation(n: int, seed: int = KEY_ROTATION_SEED) -> torch.Tensor:
    """R [n, n] with x·R = (x ⊙ signs)·blockdiag(H_b)/√b, b the largest power of two dividing n, H_b
    Sylvester's Hadamard matrix (the natural order of the fast Walsh–Hadamard transform)."""
    rand = mulberry32(seed)
    signs = torch.tensor([-1.0 if rand() < 0.5 else 1.0 for _ in range(n)], dtype=torch.float64)
    b = n & -n
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < b:
        h = torch.cat((torch.cat((h, h), 1), torch.cat((h, -h), 1)), 0)
    return signs[:, None] * torch.block_diag(*([h / b**0.5] * (n // b)))


# ----- storing one tensor ------------------------------------------------------------------------

def _round_fp16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float16).to(torch.float64)


def _fake_quantize_groups(g: torch.Tensor, bits: int) -> torch.Tensor:
    """Asymmetric min/max over the last dim of g (float64): fp16 zero = min, fp16 scale = (max − min)/levels,
    codes round-half-up into 0..levels; dequantized. A group with a zero scale is its zero everywhere."""
    levels = 2**bits - 1
    lo, hi = g.amin(-1, keepdim=True), g.amax(-1, keepdim=True)
    zero = _round_fp16(lo)
    scale = _round_fp16((hi - lo) / levels)
    ok = scale > 0
    safe = torch.where(ok, scale, torch.ones_like(scale))
    q = torch.clamp(torch.floor((g - zero) / safe + 0.5), 0, levels)
    return torch.where(ok, q * scale + zero, zero.expand_as(g))


def _store_int(x: torch.Tensor, policy: TensorPolicy, start: int = 0) -> torch.Tensor:
    """x [B, Hkv, S, D] float64 → dequantized, per token (channel groups) or per channel (token groups,
    counted from token `start`: the sinks before it belong to no group)."""
    bits, group = INT_BITS[policy["format"]], policy["groupSize"]
    b, h, s, d = x.shape
    out = x.clone()
    if policy["axis"] == "token":
        g = min(group, d)
        for c0 in range(0, d, g):
            out[..., c0:c0 + g] = _fake_quantize_groups(x[..., c0:c0 + g], bits)
        return out
    start = min(start, s)
    complete = (s - start) - (s - start) % group  # the incomplete newest group is KIVI's residual: left as it is
    if complete:
        grouped = x[:, :, start:start + complete].reshape(b, h, complete // group, group, d).transpose(-1, -2)
        deq = _fake_quantize_groups(grouped, bits).transpose(-1, -2).reshape(b, h, complete, d)
        out[:, :, start:start + complete] = deq
    return out


def _store_fp8(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """One fp32 scale per sequence (over every KV head and token of the layer): amax / max; elements
    divided by it, saturated to ±max and cast by torch to the fp8 dtype, then scaled back."""
    dtype, fmax = FP8[fmt]
    amax = x.abs().amax(dim=(1, 2, 3), keepdim=True)
    scale = torch.where(amax > 0, (amax / fmax).to(torch.float32).to(torch.float64), torch.ones_like(amax))
    y = torch.clamp(x / scale, -fmax, fmax).to(torch.float32).to(dtype).to(torch.float64)
    return y * scale


def store_tensor(x: torch.Tensor, policy: TensorPolicy, rotation: torch.Tensor | None = None, sink_tokens: int = 0) -> torch.Tensor:
    """What the cache returns for every token of x [B, Hkv, S, D] stored by `policy` (as if quantized
    throughout; the masks say which tokens are read in full precision instead). Same dtype as x."""
    fmt = policy["format"]
    if fmt == "bf16":
        return x
    y = x.to(torch.float64)
    if rotation is not None:
        # The rotation is applied in x's precision, as the serving kernel would rotate the float keys.
        rotation = rotation.to(device=x.device, dtype=x.dtype)
        y = (x @ rotation).to(torch.float64)
    y = _store_fp8(y, fmt) if fmt in FP8 else _store_int(y, policy, sink_tokens)
    out = y.to(x.dtype)
    if rotation is not None:
        out = out @ rotation.T
    return out


# ----- which tokens a query reads in full precision ----------------------------------------------

def full_precision_mask(tensor: TensorPolicy, policy: KvLayerPolicy, seq: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """[seq, seq] bool, [t, s] True when query t reads token s in full precision: bf16 storage, a sink
    (s < sinkTokens), in the recent window (t − s < recentWindow), or a per-channel group not yet complete
    at t (its last token > t). Entries above the diagonal are never read (causal)."""
    if tensor["format"] == "bf16":
        return torch.ones(seq, seq, dtype=torch.bool, device=device)
    t = torch.arange(seq, device=device)[:, None]
    s = torch.arange(seq, device=device)[None, :]
    full = (s < policy.sink_tokens) | (t - s < policy.recent_window)
    if tensor["format"] in INT_BITS and tensor["axis"] == "channel":
        # Groups are counted from the first token after the sinks (compile charges them so).
        g, start = tensor["groupSize"], policy.sink_tokens
        full = full | ((start + ((s - start) // g + 1) * g - 1) > t)
    return full


@dataclass
class StoredKv:
    keys: torch.Tensor  # [B, Hkv, S, D] as attention reads them from the cache: dequantized, after RoPE
    values: torch.Tensor
    key_full: torch.Tensor  # [S, S] bool
    value_full: torch.Tensor


def store_kv(policy: KvLayerPolicy, keys_pre_rope: torch.Tensor, keys_roped: torch.Tensor, values: torch.Tensor,
             rope: Callable[[torch.Tensor], torch.Tensor]) -> StoredKv:
    """The layer's cache: keys stored after RoPE, or before it and then rotated by `rope` (KVQuant);
    Hadamard-rotated before quantization if the policy says so (QuaRot); values stored as they are."""
    seq, hd = keys_roped.shape[-2], keys_roped.shape[-1]
    rotation = hadamard_rotation(hd) if policy.key_rotation == "hadamard" and policy.keys["format"] != "bf16" else None
    if policy.keys["format"] == "bf16":
        keys = keys_roped
    elif policy.key_position == "pre-rope":
        keys = rope(store_tensor(keys_pre_rope, policy.keys, rotation, policy.sink_tokens))
    else:
        keys = store_tensor(keys_roped, policy.keys, rotation, policy.sink_tokens)
    device = keys_roped.device
    return StoredKv(keys=keys, values=store_tensor(values, policy.values, None, policy.sink_tokens),
                    key_full=full_precision_mask(policy.keys, policy, seq, device),
                    value_full=full_precision_mask(policy.values, policy, seq, device))
