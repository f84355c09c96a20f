"""AutoRound (Cheng et al. 2023) as science/quantization/autoround.ts runs it, vectorised over rows.

Per weight a rounding offset V in [-0.5, 0.5] added before rounding, per group factors alpha, beta in
[0.5, 1] on the group's max and min (a learned clipping), learned by signed gradient descent with a
straight-through estimator on the layer's output error sum_r D_r H D_r^T (D = W - What, H = sum x x^T,
rounded to the TS's fixed-point grid). The step size decays linearly to 0; the codes and grid of the
step with the lowest loss are kept (step 0 is RTN, so the result is never worse than RTN on the
objective). The TS walks rows one by one with incremental integer sums; rows are independent, so here
every row steps at once and G = D Hq is one float64 matmul: same algorithm, other float summation order,
so sign decisions at |G| ~ 0 may differ and the runs drift apart (no bit identity; see the tests).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .grid import GroupedCodes, expand_groups, group_count, group_ranges, group_width, int_grid, js_round, max_code, padded_groups

MIN_FACTOR = 0.5
MAX_OFFSET = 0.5


@dataclass
class AutoRoundResult:
    codes: GroupedCodes
    losses: list[float]  # iterations + 1 values (mean squared output error per row, summed over outputs); [0] is RTN's
    best_step: int


def fixed_point_bits(n: int, maxq: int) -> int:
    return max(8, min(28, math.floor(52 - math.log2(n * (maxq + 1)))))


def _group_sum(x: torch.Tensor, gw: int) -> torch.Tensor:
    return padded_groups(x, gw, 0.0).sum(dim=2)


def autoround_quantize(w: torch.Tensor, hessian: torch.Tensor, count: int, bits: int, group_size: int | str, symmetric: bool,
                       iterations: int, learning_rate: float, min_max: bool) -> AutoRoundResult:
    """w [out, in] float32, hessian float64 [in, in] = sum x x^T over `count` rows."""
    if count <= 0:
        raise ValueError("AutoRound: the Hessian has no calibration rows")
    w64 = w.to(torch.float64)
    out, n = w64.shape
    dev = w64.device
    maxq = max_code(bits)
    gw = group_width(group_size, n)
    groups = group_count(group_size, n)
    h = hessian.to(device=dev, dtype=torch.float64)
    max_diag = float(torch.diagonal(h).max())
    unit = 2.0 ** fixed_point_bits(n, maxq) / max_diag if max_diag > 0 else 0.0
    hq = js_round(h * unit)
    loss_unit = 1.0 / (unit * count) if unit > 0 else 0.0

    lo, hi = group_ranges(w64, group_size)
    min_neg, max_pos = torch.clamp(lo, max=0.0), torch.clamp(hi, min=0.0)
    alpha = torch.ones(out, groups, dtype=torch.float64, device=dev)
    beta = torch.ones_like(alpha)
    v = torch.zeros_like(w64)
    live = ~((min_neg == 0) & (max_pos == 0))  # an all-zero group has a placeholder scale: nothing to learn
    live_e = expand_groups(live, group_size, n)

    losses: list[float] = []
    best_loss = math.inf
    best_step = 0
    best: GroupedCodes | None = None
    for step in range(iterations + 1):
        lr = learning_rate * (1 - step / max(1, iterations))
        update = step < iterations
        grid = int_grid(min_neg * beta, max_pos * alpha, bits, symmetric)
        scale = expand_groups(grid.scale, group_size, n)
        zero = expand_groups(grid.zero, group_size, n)
        u = js_round(w64 / scale + v) + zero
        q = torch.clamp(u, 0, maxq)
        clipped = u != q
        rel = q - zero
        delta = w64 - scale * rel
        grad = delta @ hq
        loss = float((delta * grad).sum())
        losses.append(loss * loss_unit)
        if loss < best_loss:
            best_loss, best_step = loss, step
            best = GroupedCodes(codes=q.to(torch.uint8), scales=grid.scale_fp16.clone(), zeros=None if symmetric else grid.zero.to(torch.uint8))
        if not update:
            continue
        wmin = min_neg * beta
        wmin_e = expand_groups(wmin, group_size, n)
        clip_term = rel if symmetric else rel - wmin_e / scale
        g_scale = _group_sum(torch.where(clipped, grad * clip_term, grad * (rel - w64 / scale)), gw)
        g_min = _group_sum(torch.where(clipped, grad, torch.zeros_like(grad)), gw)
        step_v = ~clipped & live_e
        v = torch.where(step_v, torch.clamp(v + lr * torch.sign(grad), -MAX_OFFSET, MAX_OFFSET), v)
        if not min_max:
            continue
        if symmetric:
            hi_side = max_pos * alpha >= -wmin
            d_alpha = torch.where(hi_side, -g_scale * max_pos, torch.zeros_like(g_scale))
            d_beta = torch.where(hi_side, torch.zeros_like(g_scale), -g_scale * -min_neg)
        else:
            d_alpha = -g_scale * max_pos
            d_beta = -(g_min - g_scale / maxq) * min_neg
        alpha = torch.where(live, torch.clamp(alpha - lr * torch.sign(d_alpha), MIN_FACTOR, 1.0), alpha)
        beta = torch.where(live, torch.clamp(beta - lr * torch.sign(d_beta), MIN_FACTOR, 1.0), beta)
    assert best is not None
    return AutoRoundResult(codes=best, losses=losses, best_step=best_step)
