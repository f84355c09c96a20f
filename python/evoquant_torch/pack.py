"""compressed-tensors pack-quantized / float-quantized tensors and quantization_config of a module, as
science/export/compressed-tensors/{pack,schemes,index}.ts writes them.

Packing is the layout vLLM 0.33.0 loads (compressed_tensors_wNa16.py: packed_input_dim = ceil(in*b/32)):
each row's b-bit values as a dense LSB-first bitstream cut into int32 words, rows padded to whole
words, exactly as pack.ts writes it. For 2, 4 and 8 bits that is compressed-tensors 0.17's own
pack_to_int32 word for word; for 3 bits compressed-tensors packs 32 // 3 = 10 values a word, so a
3-bit checkpoint loads in vLLM (the stack it is for) but not through compressed-tensors' decompressor.
"""
from __future__ import annotations

import re
from typing import Any

import torch

from .quant.grid import GroupedCodes


def packed_words(cols: int, bits: int) -> int:
    """ceil(cols * b / 32): int32 words per packed row."""
    return -(-(cols * bits) // 32)


def pack_rows(values: torch.Tensor, bits: int) -> torch.Tensor:
    """Unsigned b-bit values [rows, cols] -> int32 [rows, packed_words(cols)]: value c at bits [c*b, (c+1)*b)."""
    rows, cols = values.shape
    words = packed_words(cols, bits)
    k = torch.arange(bits, dtype=torch.int64, device=values.device)
    stream = ((values.to(torch.int64).unsqueeze(2) >> k) & 1).reshape(rows, cols * bits)
    stream = torch.nn.functional.pad(stream, (0, words * 32 - cols * bits))
    packed = (stream.reshape(rows, words, 32) << torch.arange(32, dtype=torch.int64, device=values.device)).sum(dim=2)
    # Reinterpret the unsigned 32-bit words as int32 (two's complement).
    packed = torch.where(packed >= 2**31, packed - 2**32, packed)
    return packed.to(torch.int32)


def unpack_rows(packed: torch.Tensor, bits: int, cols: int) -> torch.Tensor:
    """Inverse of pack_rows: unsigned values [rows, cols] as int32."""
    rows, words = packed.shape
    stream = (packed.to(torch.int64).unsqueeze(2) >> torch.arange(32, dtype=torch.int64, device=packed.device)) & 1
    stream = stream.reshape(rows, words * 32)[:, : cols * bits].reshape(rows, cols, bits)
    vals = (stream << torch.arange(bits, dtype=torch.int64, device=packed.device)).sum(dim=2)
    return vals.to(torch.int32)


def pack_weight_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """weight_packed: [out, in] unsigned codes -> int32 [out, packed_words(in)]."""
    return pack_rows(codes, bits)


def pack_zero_points(zeros: torch.Tensor, bits: int) -> torch.Tensor:
    """weight_zero_point: [out, groups] unsigned zeros packed down the rows (packed_dim=0)."""
    return pack_rows(zeros.t(), bits).t().contiguous()


def weight_args(spec: dict) -> dict[str, Any]:
    """compressed-tensors QuantizationArgs of a weight spec (schemes.ts weightArgs)."""
    channel = spec["groupSize"] == "channel"
    if spec["format"] == "fp8":
        return {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "channel", "group_size": None, "dynamic": False}
    return {
        "num_bits": spec["bits"],
        "type": "int",
        "symmetric": spec["symmetric"],
        "strategy": "channel" if channel else "group",
        "group_size": None if channel else spec["groupSize"],
        "dynamic": False,
        # GPTQ act-order keeps static groups in natural column order: no g_idx is stored.
        "actorder": None,
    }


def scheme_format(spec: dict) -> str:
    return "float-quantized" if spec["format"] == "fp8" else "pack-quantized"


def module_tensors(name: str, spec: dict, g: GroupedCodes) -> dict[str, torch.Tensor]:
    """The stored tensors of one quantized module under its HF name (index.ts moduleTensors).

    Scales are stored F32: compressed-tensors dequantizes in the scale's dtype, and fp16 products
    would round; widened, the fp16 values stay exact and so does every (q - z) * scale."""
    out, n = g.codes.shape
    scale = g.scales.to(torch.float32).contiguous()
    if spec["format"] == "fp8":
        return {f"{name}.weight": g.codes.contiguous().view(torch.float8_e4m3fn), f"{name}.weight_scale": scale}
    bits = spec["bits"]
    tensors = {
        f"{name}.weight_packed": pack_weight_codes(g.codes, bits),
        f"{name}.weight_scale": scale,
        f"{name}.weight_shape": torch.tensor([out, n], dtype=torch.int64),
    }
    if not spec["symmetric"]:
        if g.zeros is None:
            raise ValueError(f"asymmetric module {name} has no zero points")
        tensors[f"{name}.weight_zero_point"] = pack_zero_points(g.zeros, bits)
    return tensors


def _escape(s: str) -> str:
    return re.sub(r"[.*+?^${}()|\[\]\\]", lambda m: "\\" + m.group(0), s)


_LAYERED = re.compile(r"^model\.layers\.(\d+)\.(.+)$")
# Mixtral block_sparse_moe.experts.E.w1, Qwen3-MoE mlp.experts.E.gate_proj.
_EXPERT = re.compile(r"^((?:block_sparse_moe|mlp)\.experts)\.(\d+)\.(\w+)$")


def _alt(xs: set[int] | list[int]) -> str:
    s = sorted(xs)
    return str(s[0]) if len(s) == 1 else "(?:" + "|".join(map(str, s)) + ")"


def regex_targets(module_names: list[str], num_experts: int) -> list[str]:
    """Anchored `re:` targets covering exactly the given module names (schemes.ts regexTargets)."""
    plain: list[str] = []
    experts: dict[tuple[str, str], dict[int, set[int]]] = {}
    layered: dict[str, set[int]] = {}
    for name in module_names:
        m = _LAYERED.match(name)
        if not m:
            plain.append(f"re:^{_escape(name)}$")
            continue
        layer = int(m.group(1))
        e = _EXPERT.match(m.group(2))
        if e:
            experts.setdefault((e.group(3), e.group(1)), {}).setdefault(layer, set()).add(int(e.group(2)))
        else:
            layered.setdefault(m.group(2), set()).add(layer)
    targets = list(plain)
    for suffix in sorted(layered):
        targets.append(f"re:^model\\.layers\\.{_alt(layered[suffix])}\\.{_escape(suffix)}$")
    for (proj, prefix) in sorted(experts):
        by_set: dict[str, list[int]] = {}
        for layer, ids in experts[(proj, prefix)].items():
            key = "\\d+" if len(ids) == num_experts else _alt(ids)
            by_set.setdefault(key, []).append(layer)
        for ids in sorted(by_set):
            targets.append(f"re:^model\\.layers\\.{_alt(by_set[ids])}\\.{_escape(prefix)}\\.{ids}\\.{proj}$")
    return targets


def config_groups(modules: list[tuple[str, dict]], num_experts: int) -> dict[str, Any]:
    """group_0, group_1, ... in the order their schemes first appear (schemes.ts configGroups)."""
    by_spec: dict[str, tuple[dict, list[str]]] = {}
    for name, spec in modules:
        key = repr(sorted(weight_args(spec).items()))
        by_spec.setdefault(key, (spec, []))[1].append(name)
    groups: dict[str, Any] = {}
    for i, (spec, names) in enumerate(by_spec.values()):
        groups[f"group_{i}"] = {
            "targets": regex_targets(names, num_experts),
            "weights": weight_args(spec),
            "input_activations": None,
            "output_activations": None,
            "format": scheme_format(spec),
        }
    return groups


def quantization_config(quantized: list[tuple[str, dict]], ignored: list[str], num_experts: int) -> dict[str, Any] | None:
    """config.json's quantization_config (index.ts buildCompressedTensors); None when nothing is quantized."""
    if not quantized:
        return None
    formats = {scheme_format(spec) for _, spec in quantized}
    return {
        "quant_method": "compressed-tensors",
        "format": formats.pop() if len(formats) == 1 else "mixed-precision",
        "quantization_status": "compressed",
        "config_groups": config_groups(quantized, num_experts),
        # Linear modules kept in bf16.
        "ignore": ignored,
        "kv_cache_scheme": None,
        "sparsity_config": {},
        "transform_config": {},
        "version": "0.17.0",
    }
