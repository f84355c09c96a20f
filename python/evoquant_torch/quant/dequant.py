"""Reading compressed-tensors weights back to float: which scheme covers a module, which tensors it
stores, and (q - zero_point) * scale as compressed-tensors 0.17 computes it (pack-quantized int
grids, float-quantized fp8; group, channel, tensor and block strategies; g_idx when stored)."""
from __future__ import annotations

import re
from typing import Any

import torch

from ..pack import unpack_rows


def _matches(target: str, module_name: str) -> bool:
    """compressed_tensors/utils/match.py: `re:` targets are re.match'ed, others name the module
    exactly or its class; every module asked about here is a Linear, so "Linear" covers it."""
    if target.startswith("re:"):
        return re.match(target[3:], module_name) is not None
    return target == module_name or target == "Linear"


def scheme_of(quantization_config: dict, module_name: str) -> dict | None:
    """The scheme covering a linear module: {"format", "weights"}; None when it is kept unquantized."""
    for target in quantization_config.get("ignore") or []:
        if _matches(target, module_name) and target != "Linear":
            return None
    for group in (quantization_config.get("config_groups") or {}).values():
        weights = group.get("weights")
        if not weights:
            continue
        if any(_matches(t, module_name) for t in group.get("targets") or []):
            fmt = group.get("format") or quantization_config.get("format")
            if fmt in (None, "mixed-precision"):
                fmt = "float-quantized" if weights.get("type") == "float" else "pack-quantized"
            return {"format": fmt, "weights": weights}
    return None


def module_tensor_suffixes(scheme: dict | None) -> list[str]:
    """The tensors one module stores (each prefixed by `<module>.`)."""
    if scheme is None:
        return ["weight"]
    weights: dict[str, Any] = scheme["weights"]
    g_idx = ["weight_g_idx"] if weights.get("actorder") == "group" else []
    if scheme["format"] == "pack-quantized":
        zp = [] if weights.get("symmetric", True) else ["weight_zero_point"]
        return ["weight_packed", "weight_scale", "weight_shape", *zp, *g_idx]
    if scheme["format"] in ("float-quantized", "int-quantized", "naive-quantized"):
        zp = [] if weights.get("symmetric", True) else ["weight_zero_point"]
        return ["weight", "weight_scale", *zp, *g_idx]
    raise ValueError(f"compressed-tensors format {scheme['format']!r} is not supported")


def _expand(per: torch.Tensor, out: int, n: int, weights: dict, g_idx: torch.Tensor | None) -> torch.Tensor:
    """A scale or zero-point tensor broadcast to [out, in]."""
    if per.numel() == 1:
        return per.reshape(1, 1).expand(out, n)
    if weights.get("strategy") == "block":
        br, bc = weights["block_structure"]
        return per.repeat_interleave(br, 0)[:out].repeat_interleave(bc, 1)[:, :n]
    if per.dim() == 1:
        per = per.reshape(-1, 1)
    if per.shape[1] == 1:
        return per.expand(out, n)
    if g_idx is not None:
        return per[:, g_idx.to(torch.int64)]
    gw = -(-n // per.shape[1])
    return per.repeat_interleave(gw, dim=1)[:, :n]


def dequantize_module(tensors: dict[str, torch.Tensor], scheme: dict) -> torch.Tensor:
    """float32 [out, in] weight of one module; `tensors` keyed by suffix (weight_packed, ...)."""
    weights = scheme["weights"]
    bits = int(weights["num_bits"])
    g_idx = tensors.get("weight_g_idx")
    scale = tensors["weight_scale"].to(torch.float32)
    if scheme["format"] == "pack-quantized":
        out, n = (int(v) for v in tensors["weight_shape"].tolist())
        offset = 1 << (bits - 1)
        q = unpack_rows(tensors["weight_packed"], bits, n).to(torch.float32) - offset
        zp = tensors.get("weight_zero_point")
        if zp is not None:
            groups = scale.shape[1] if scale.dim() == 2 else 1
            zp = unpack_rows(zp.t().contiguous(), bits, out).t().to(torch.float32) - offset
            zp = zp.reshape(out, groups)
    else:
        w = tensors["weight"]
        out, n = w.shape
        q = w.to(torch.float32)
        zp = tensors.get("weight_zero_point")
        zp = zp.to(torch.float32) if zp is not None else None
    s = _expand(scale, out, n, weights, g_idx)
    if zp is not None:
        q = q - _expand(zp, out, n, weights, g_idx)
    return (q * s).to(torch.float32).contiguous()
