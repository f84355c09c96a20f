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


def upper_cholesky_of_inverse(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """U with A^-1 = U^T U for every matrix of a [..., n, n] (linalg.ts upperCholeskyOfInverse): factor
    J A J = L L^T, U = J L^-1 J. Returns U and whether each matrix was positive definite."""
    rev = a.flip(-2, -1)
    l, info = torch.linalg.cholesky_ex(rev)
    ok = (info == 0) & torch.isfinite(l).flatten(-2).all(-1)
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device).expand_as(a)
    m = torch.linalg.solve_triangular(l, eye, upper=False)
    return m.flip(-2, -1), ok


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
    return gptq_quantize_batch(w.unsqueeze(0), hessian.unsqueeze(0), [count], bits, group_size, symmetric, damp, block_size, act_order, [label])[0]


def gptq_quantize_batch(
    w: torch.Tensor,
    hessian: torch.Tensor,
    counts: list[int],
    bits: int,
    group_size: int | str,
    symmetric: bool,
    damp: float,
    block_size: int,
    act_order: bool,
    labels: list[str | None] | None = None,
) -> list[GptqResult]:
    """GPTQ of B modules of one shape and spec at once (the experts of a layer): w [B, out, in],
    hessian [B, in, in]. Every module follows exactly its own single-module computation (its own
    dead columns, column order, dampening retries); batching only shares the column loop."""
    b_n, out, n = w.shape
    dev = w.device
    maxq = max_code(bits)
    gw = group_width(group_size, n)
    n_groups = group_count(group_size, n)
    labels = labels or [None] * b_n
    bidx = torch.arange(b_n, device=dev)

    scale_by = torch.tensor([2 / c for c in counts], dtype=torch.float64, device=dev)
    h = hessian.to(device=dev, dtype=torch.float64) * scale_by[:, None, None]
    w64 = w.detach().to(device=dev, dtype=torch.float64).clone()
    diag = torch.diagonal(h, dim1=1, dim2=2)
    dead = diag == 0
    if bool(dead.any()):
        # Dead inputs carry no signal: H_jj = 1 and the weight column dropped.
        diag.copy_(torch.where(dead, torch.ones_like(diag), diag))
        w64.masked_fill_(dead[:, None, :], 0.0)

    if act_order:
        # Stable descending sort: equal H_jj keep index order (gptq.ts sorts ties by index).
        perm = torch.sort(diag, dim=1, descending=True, stable=True).indices
    else:
        perm = torch.arange(n, device=dev).expand(b_n, n)

    g_scale = torch.zeros(b_n, out, n_groups, dtype=torch.float64, device=dev)
    g_zero = torch.zeros(b_n, out, n_groups, dtype=torch.float64, device=dev)
    scales = torch.zeros(b_n, out, n_groups, dtype=torch.float16, device=dev)
    if act_order:
        lo, hi = group_ranges(w64.reshape(b_n * out, n), group_size)
        grid = int_grid(lo, hi, bits, symmetric)
        g_scale = grid.scale.reshape(b_n, out, n_groups)
        g_zero = grid.zero.reshape(b_n, out, n_groups)
        scales = grid.scale_fp16.reshape(b_n, out, n_groups).clone()

    hp = h[bidx[:, None, None], perm[:, :, None], perm[:, None, :]]
    hp_diag = torch.diagonal(hp, dim1=1, dim2=2)
    mean_diag = hp_diag.sum(dim=1) / n
    cur_damp = torch.full((b_n,), float(damp), dtype=torch.float64, device=dev)
    applied = torch.zeros(b_n, dtype=torch.float64, device=dev)
    u = torch.empty_like(hp)
    pending = torch.ones(b_n, dtype=torch.bool, device=dev)
    for attempt in range(MAX_DAMP_RETRIES + 1):
        lam = cur_damp * mean_diag
        step = torch.where(pending, lam - applied, torch.zeros_like(lam))
        hp_diag.add_(step[:, None])
        applied = torch.where(pending, lam, applied)
        idx = torch.nonzero(pending).squeeze(1)
        uu, ok = upper_cholesky_of_inverse(hp[idx])
        u[idx[ok]] = uu[ok]
        pending[idx[ok]] = False
        if not bool(pending.any()):
            break
        if attempt == MAX_DAMP_RETRIES:
            first = int(torch.nonzero(pending)[0])
            raise HessianNotPositiveDefinite(float(cur_damp[first]), labels[first])
        cur_damp = torch.where(pending, cur_damp * 10, cur_damp)
    u32 = u.to(torch.float32)

    # [B, in, out]: row i of module b is its permuted column i.
    wt = torch.gather(w64, 2, perm[:, None, :].expand(b_n, out, n)).transpose(1, 2).contiguous()
    codes = torch.zeros(b_n, n, out, dtype=torch.uint8, device=dev)
    col_groups = perm // gw  # [B, in]
    for i1 in range(0, n, block_size):
        i2 = min(n, i1 + block_size)
        err = torch.zeros(b_n, i2 - i1, out, dtype=torch.float32, device=dev)
        for i in range(i1, i2):
            if not act_order and i % gw == 0:
                # Dynamic group: the range of the group's columns as they stand now (perm = identity).
                block = wt[:, i:min(n, i + gw)]
                grid = int_grid(block.amin(dim=1), block.amax(dim=1), bits, symmetric)
                gi = i // gw
                g_scale[:, :, gi] = grid.scale
                g_zero[:, :, gi] = grid.zero
                scales[:, :, gi] = grid.scale_fp16
            v = wt[:, i]
            g = col_groups[:, i, None, None].expand(b_n, out, 1)
            scale = torch.gather(g_scale, 2, g).squeeze(2)
            zero = torch.gather(g_zero, 2, g).squeeze(2)
            code = quantize_int(v, scale, zero, maxq)
            codes[:, i] = code.to(torch.uint8)
            q = (code - zero) * scale
            e = ((v - q) / u[:, i, i, None]).to(torch.float32)
            err[:, i - i1] = e
            if i + 1 < i2:
                # W[:, j] -= err * U[i, j] for the block's later columns (float64, err as float32).
                wt[:, i + 1:i2] -= u[:, i, i + 1:i2, None] * e.to(torch.float64)[:, None, :]
        if i2 < n:
            # Lazy batch update of every later column: Wt[i2:] -= U[i1:i2, i2:]^T Err (float32 GEMM).
            delta = torch.matmul(u32[:, i1:i2, i2:].transpose(1, 2), err)
            wt[:, i2:] -= delta.to(torch.float64)
    natural = torch.empty_like(codes)
    natural.scatter_(1, perm[:, :, None].expand(b_n, n, out), codes)
    natural = natural.transpose(1, 2).contiguous()
    zeros = None if symmetric else g_zero.to(torch.uint8)
    return [
        GptqResult(codes=natural[b], scales=scales[b], zeros=None if zeros is None else zeros[b], damp_used=float(cur_damp[b]))
        for b in range(b_n)
    ]
