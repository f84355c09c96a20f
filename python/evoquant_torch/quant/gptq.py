"""GPTQ (Frantar et al. 2022) exactly as science/quantization/gptq.ts runs it, in torch float64.

Same conventions as the TypeScript: H = 2/count * sum x x^T; dead inputs (H_jj = 0) get H_jj = 1 and
their weight column zeroed; act-order sorts columns by descending H_jj with ties by index and keeps
"static" groups (grids from the original column grouping, codes in natural order, no g_idx); without
act-order a group's grid is built when its first column comes up, from the updated weights;
dampening damp * mean(diag H) raised x10 per retry (4 retries) until H is positive definite; the
upper Cholesky factor of H^-1 via the index-reversed Cholesky factor of H (linalg.ts); each column's
scaled error is rounded to float32 (gptq.ts keeps it in a Float32Array) and the lazy block update
runs as a float32 GEMM, as the TypeScript's onnxruntime kernel does.

The column loop is inherent to the algorithm; every step inside it is a vector op over all rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .grid import GroupedCodes, group_count, group_ranges, group_width, int_grid, max_code, quantize_int

MAX_DAMP_RETRIES = 4


class HessianNotPositiveDefinite(Exception):
    """No dampening up to damp * 10^4 made H positive definite (gptq.ts HessianNotPositiveDefiniteError)."""

    error_type = "HessianNotPositiveDefiniteError"
    retryable = False

    def __init__(self, damp: float, label: str | None) -> None:
        where = f" for {label}" if label else ""
        super().__init__(f"GPTQ Hessian{where} is not positive definite even with damp {damp:g}")


@dataclass
class GptqResult(GroupedCodes):
    damp_used: float = 0.0


def upper_cholesky_of_inverse(a: torch.Tensor) -> torch.Tensor | None:
    """U with A^-1 = U^T U (linalg.ts upperCholeskyOfInverse): factor J A J = L L^T, U = J L^-1 J."""
    rev = a.flip(0, 1)
    l, info = torch.linalg.cholesky_ex(rev)
    if int(info) != 0 or not bool(torch.isfinite(l).all()):
        return None
    eye = torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
    m = torch.linalg.solve_triangular(l, eye, upper=False)
    return m.flip(0, 1)


def gptq_quantize(
    w: torch.Tensor,
    hessian: torch.Tensor,
    count: int,
    bits: int,
    group_size: int | str,
    symmetric: bool,
    damp: float,
    block_size: int,
    act_order: bool,
    label: str | None = None,
) -> GptqResult:
    """w [out, in] (any float dtype), hessian = sum x x^T [in, in] over `count` calibration rows."""
    out, n = w.shape
    dev = w.device
    maxq = max_code(bits)
    gw = group_width(group_size, n)
    n_groups = group_count(group_size, n)

    h = (2 / count) * hessian.to(device=dev, dtype=torch.float64)
    w64 = w.detach().to(device=dev, dtype=torch.float64).clone()
    diag = torch.diagonal(h)
    dead = diag == 0
    if bool(dead.any()):
        h = h.clone()
        torch.diagonal(h)[dead] = 1.0
        w64[:, dead] = 0.0
    diag = torch.diagonal(h)

    if act_order:
        # Stable descending sort: equal H_jj keep index order (gptq.ts sorts ties by index).
        perm = torch.sort(diag, descending=True, stable=True).indices
    else:
        perm = torch.arange(n, device=dev)

    g_scale = torch.zeros(out, n_groups, dtype=torch.float64, device=dev)
    g_zero = torch.zeros(out, n_groups, dtype=torch.float64, device=dev)
    scales = torch.zeros(out, n_groups, dtype=torch.float16, device=dev)
    if act_order:
        lo, hi = group_ranges(w64, group_size)
        grid = int_grid(lo, hi, bits, symmetric)
        g_scale, g_zero, scales = grid.scale, grid.zero, grid.scale_fp16.clone()

    hp = h[perm][:, perm].contiguous()
    mean_diag = torch.diagonal(hp).sum() / n
    cur_damp = damp
    applied = 0.0
    u: torch.Tensor | None = None
    for attempt in range(MAX_DAMP_RETRIES + 1):
        lam = float(cur_damp * mean_diag)
        torch.diagonal(hp).add_(lam - applied)
        applied = lam
        u = upper_cholesky_of_inverse(hp)
        if u is not None:
            break
        if attempt == MAX_DAMP_RETRIES:
            raise HessianNotPositiveDefinite(cur_damp, label)
        cur_damp *= 10
    assert u is not None
    u32 = u.to(torch.float32)

    wt = w64[:, perm].t().contiguous()  # [in, out]: row i is permuted column i
    codes = torch.zeros(n, out, dtype=torch.uint8, device=dev)  # permuted order, rows = columns of w
    col_groups = (perm // gw).tolist()
    perm_list = perm.tolist()
    for i1 in range(0, n, block_size):
        i2 = min(n, i1 + block_size)
        err = torch.zeros(i2 - i1, out, dtype=torch.float32, device=dev)
        for i in range(i1, i2):
            col = perm_list[i]
            g = col_groups[i]
            if not act_order and col % gw == 0:
                # Dynamic group: the range of the group's columns as they stand now (perm = identity).
                end = min(n, col + gw)
                block = wt[col:end]
                grid = int_grid(block.amin(dim=0), block.amax(dim=0), bits, symmetric)
                g_scale[:, g] = grid.scale
                g_zero[:, g] = grid.zero
                scales[:, g] = grid.scale_fp16
            v = wt[i]
            scale = g_scale[:, g]
            zero = g_zero[:, g]
            code = quantize_int(v, scale, zero, maxq)
            codes[i] = code.to(torch.uint8)
            q = (code - zero) * scale
            e = ((v - q) / u[i, i]).to(torch.float32)
            err[i - i1] = e
            if i + 1 < i2:
                # W[:, j] -= err * U[i, j] for the block's later columns (float64, err as float32).
                wt[i + 1 : i2] -= u[i, i + 1 : i2].unsqueeze(1) * e.to(torch.float64).unsqueeze(0)
        if i2 < n:
            # Lazy batch update of every later column: Wt[i2:] -= U[i1:i2, i2:]^T Err (float32 GEMM).
            delta = u32[i1:i2, i2:].t().matmul(err)
            wt[i2:] -= delta.to(torch.float64)
    natural = torch.empty_like(codes)
    natural[perm] = codes
    return GptqResult(
        codes=natural.t().contiguous(),
        scales=scales,
        zeros=None if symmetric else g_zero.to(torch.uint8),
        damp_used=cur_damp,
    )
