"""Round-to-nearest (science/quantization/rtn.ts): each group its own min/max grid, every weight its
nearest code. Vectorised over the whole weight; float64 throughout."""
from __future__ import annotations

import torch

from .grid import GroupedCodes, expand_groups, group_ranges, int_grid, max_code, quantize_int


def rtn_quantize(w: torch.Tensor, bits: int, group_size: int | str, symmetric: bool) -> GroupedCodes:
    """Quantizes the rows of w [out, in] group by group."""
    w64 = w.detach().to(device=w.device, dtype=torch.float64)
    lo, hi = group_ranges(w64, group_size)
    grid = int_grid(lo, hi, bits, symmetric)
    n = w64.shape[1]
    codes = quantize_int(w64, expand_groups(grid.scale, group_size, n), expand_groups(grid.zero, group_size, n), max_code(bits))
    return GroupedCodes(
        codes=codes.to(torch.uint8),
        scales=grid.scale_fp16,
        zeros=None if symmetric else grid.zero.to(torch.uint8),
    )
