"""Uniform integer grids per group, as science/quantization/{grid,half}.ts builds them.

Everything runs in float64 so that every value matches the TypeScript (whose numbers are doubles)
bit for bit: scales are the smallest fp16 >= the raw step, rounding is JavaScript's Math.round
(ties toward +inf), zero points and codes are clamped to [0, 2^b - 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

FP16_NAN_BITS = 0x7E00


@dataclass
class GroupedCodes:
    """One module's codes before packing (science/quantization/grid.ts GroupedCodes)."""

    codes: torch.Tensor  # [out, in] uint8, unsigned codes
    scales: torch.Tensor  # [out, groups] float16 (the stored scale; exact in float32/float64)
    zeros: torch.Tensor | None  # [out, groups] uint8 (asymmetric int grids only)


def max_code(bits: int) -> int:
    return (1 << bits) - 1


def symmetric_zero(bits: int) -> int:
    """Codes 0..2^b-1 of a symmetric grid stand for -2^(b-1)..2^(b-1)-1."""
    return 1 << (bits - 1)


def group_width(group_size: int | str, in_features: int) -> int:
    return in_features if group_size == "channel" else int(group_size)


def group_count(group_size: int | str, in_features: int) -> int:
    gw = group_width(group_size, in_features)
    return -(-in_features // gw)


def js_round(x: torch.Tensor) -> torch.Tensor:
    """JavaScript Math.round on doubles: the nearest integer, ties toward +inf.

    floor(x + 0.5) differs from it where x + 0.5 rounds (0.49999999999999994 -> 1); x - floor(x)
    is exact in binary floating point, so this form is exact everywhere.
    """
    f = torch.floor(x)
    return f + (x - f >= 0.5).to(x.dtype)


def fp16_ceil(raw: torch.Tensor) -> torch.Tensor:
    """The smallest fp16 >= raw (raw >= 0, float64), as float16; non-finite raw gives NaN (0x7e00).

    Rounding to nearest then stepping one bit pattern up where it fell short is half.ts's
    toFp16BitsCeil; positive fp16 bit patterns are ordered like their values. torch rounds
    float64 -> float16 through float32, which can pick the other neighbour on a double-rounding
    tie, but both neighbours bracket raw, so the correction below still lands on the ceiling.
    """
    h = raw.to(torch.float16)
    bits = h.view(torch.int16).clone()
    short = h.to(torch.float64) < raw
    bits = torch.where(short, bits + 1, bits)
    bits = torch.where(torch.isfinite(raw), bits, torch.full_like(bits, FP16_NAN_BITS))
    return bits.view(torch.float16)


def padded_groups(w: torch.Tensor, gw: int, fill: float) -> torch.Tensor:
    """w [out, in] -> [out, groups, gw], the ragged last group padded with `fill`."""
    out, n = w.shape
    groups = -(-n // gw)
    pad = groups * gw - n
    if pad:
        w = torch.nn.functional.pad(w, (0, pad), value=fill)
    return w.reshape(out, groups, gw)


def group_ranges(w: torch.Tensor, group_size: int | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-group [min, max] of w [out, in] (grid.ts rangeOf), each [out, groups]."""
    gw = group_width(group_size, w.shape[1])
    lo = padded_groups(w, gw, float("inf")).amin(dim=2)
    hi = padded_groups(w, gw, float("-inf")).amax(dim=2)
    return lo, hi


@dataclass
class IntGrid:
    scale: torch.Tensor  # float64 values of the stored fp16 scales
    scale_fp16: torch.Tensor  # float16
    zero: torch.Tensor  # float64 integer-valued zero points


def int_grid(lo: torch.Tensor, hi: torch.Tensor, bits: int, symmetric: bool) -> IntGrid:
    """grid.ts intGrid for every group at once (lo, hi: float64 group minima and maxima)."""
    maxq = max_code(bits)
    if symmetric:
        amax = torch.maximum(lo.abs(), hi.abs())
        raw = (2 * amax) / maxq
        low = -amax
    else:
        low = torch.clamp(lo, max=0.0)
        raw = (torch.clamp(hi, min=0.0) - low) / maxq
    # An all-zero group quantizes to the zero code under any scale.
    raw = torch.where(raw == 0, torch.ones_like(raw), raw)
    scale_fp16 = fp16_ceil(raw)
    scale = scale_fp16.to(torch.float64)
    if symmetric:
        zero = torch.full_like(scale, float(symmetric_zero(bits)))
    else:
        zero = torch.clamp(js_round(-low / scale), 0, maxq)
    return IntGrid(scale=scale, scale_fp16=scale_fp16, zero=zero)


def quantize_int(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, maxq: int) -> torch.Tensor:
    """clamp(Math.round(w / scale) + zero, 0, maxq) elementwise (float64 in, float64 integers out)."""
    return torch.clamp(js_round(w / scale) + zero, 0, maxq)


def expand_groups(per_group: torch.Tensor, group_size: int | str, in_features: int) -> torch.Tensor:
    """[out, groups] -> [out, in]: each group's value repeated over its columns."""
    gw = group_width(group_size, in_features)
    return per_group.repeat_interleave(gw, dim=1)[:, :in_features]


def dequantize_int_groups(g: GroupedCodes, bits: int, group_size: int | str) -> torch.Tensor:
    """(q - z) * scale per group as float32 [out, in] (grid.ts dequantizeIntGroups)."""
    n = g.codes.shape[1]
    scale = expand_groups(g.scales.to(torch.float64), group_size, n)
    zero = (
        expand_groups(g.zeros.to(torch.float64), group_size, n)
        if g.zeros is not None
        else torch.full_like(scale, float(symmetric_zero(bits)))
    )
    return ((g.codes.to(torch.float64) - zero) * scale).to(torch.float32)
