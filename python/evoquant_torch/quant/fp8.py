"""FP8 e4m3fn with an fp16 scale per channel or group, as science/quantization/fp8.ts computes it:
scale = smallest fp16 >= amax/448, codes = the nearest e4m3 value of w/scale (ties to the even code,
saturating at +-448; 0x7f/0xff are NaN). The encoding searches the exact value table in float64,
as the TypeScript does, rather than trusting a cast (torch's float8 cast turns >448 into NaN)."""
from __future__ import annotations

import torch

from .grid import GroupedCodes, expand_groups, fp16_ceil, group_ranges

E4M3_MAX = 448.0


def _positive_values() -> torch.Tensor:
    """Non-negative finite e4m3 values by code 0..126 (monotonically increasing)."""
    vals = []
    for code in range(127):
        exp, mant = (code >> 3) & 0xF, code & 7
        vals.append(mant * 2.0**-9 if exp == 0 else (1 + mant / 8) * 2.0 ** (exp - 7))
    return torch.tensor(vals, dtype=torch.float64)


POSITIVE = _positive_values()


def encode_e4m3(x: torch.Tensor) -> torch.Tensor:
    """fp8.ts encodeE4m3 elementwise on float64 x: uint8 codes."""
    table = POSITIVE.to(x.device)
    sign = torch.signbit(x).to(torch.int32) << 7
    a = x.abs()
    # Largest code whose value <= a.
    lo = (torch.searchsorted(table, a.contiguous(), right=True) - 1).clamp(0, 126)
    hi = (lo + 1).clamp(max=126)
    down = a - table[lo]
    up = table[hi] - a
    step = (lo < 126) & ((up < down) | ((up == down) & (lo % 2 == 1)))
    code = torch.where(step, lo + 1, lo)
    code = torch.where(a >= E4M3_MAX, torch.full_like(code, 126), code)
    code = (code.to(torch.int32) | sign)
    code = torch.where(torch.isnan(x), torch.full_like(code, 0x7F), code)
    return code.to(torch.uint8)


def decode_e4m3(codes: torch.Tensor) -> torch.Tensor:
    """float64 values of uint8 e4m3 codes (NaN for 0x7f/0xff)."""
    c = codes.to(torch.int64)
    mag = c & 0x7F
    table = torch.cat([POSITIVE, torch.tensor([float("nan")], dtype=torch.float64)]).to(codes.device)
    v = table[mag]
    return torch.where((c & 0x80) != 0, -v, v)


def fp8_quantize(w: torch.Tensor, group_size: int | str) -> GroupedCodes:
    """Per-group fp8 codes of w [out, in] (fp8.ts fp8Quantize)."""
    w64 = w.detach().to(torch.float64)
    lo, hi = group_ranges(w64, group_size)
    amax = torch.maximum(lo.abs(), hi.abs())
    # Rounded up so amax/scale <= 448: nothing saturates except through rounding.
    raw = torch.where((amax > 0) | torch.isnan(amax), amax / E4M3_MAX, torch.ones_like(amax))
    scales = fp16_ceil(raw)
    scale = expand_groups(scales.to(torch.float64), group_size, w64.shape[1])
    return GroupedCodes(codes=encode_e4m3(w64 / scale), scales=scales, zeros=None)


def dequantize_fp8_groups(g: GroupedCodes, group_size: int | str) -> torch.Tensor:
    scale = expand_groups(g.scales.to(torch.float64), group_size, g.codes.shape[1])
    return (decode_e4m3(g.codes) * scale).to(torch.float32)
