"""AWQ (Lin et al. 2023) as science/quantization/awq.ts computes it, vectorised in torch.

Input channel j is scaled by s_j = mean|x_j|^alpha / sqrt(max * min) (fp16-rounded), the scaled weight
W * diag(s) is quantized, and the effective weight is Q(W s) / s. alpha is grid-searched (i / scaleGrid)
on the output error ||X W^T - X What^T||^2 over the sampled calibration rows; then each (row, group)'s
clipping ratio is searched from 1 down to maxShrink on that group's partial output. Modules that read one
input (a layer's q/k/v; its experts' gate/up) search one alpha jointly: awq_search_shared_scales.

Numerics follow the TS: scaled weights, deltas and the x/s inputs are float32 arrays there (rounded as
stored), grids are grid.py's float64 ones; output errors are summed in float64 (the TS runs an fp32
GEMM, whose last bits differ from ours, hence its 1e-4 relative pick margin, kept here).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .grid import GroupedCodes, dequantize_int_groups, expand_groups, group_count, group_ranges, group_width, int_grid, max_code, quantize_int

MIN_SCALE = 2.0 ** -14  # smallest normal fp16: keeps 1/s finite and precise
MAX_SCALE = 65504.0
MIN_MEAN = 1e-4  # activation means are floored before the power, as the reference implementation
AWQ_LOSS_MARGIN = 1e-4  # awq.ts AWQ_LOSS_MARGIN: ties within float noise go to the earlier candidate
# Output-error products are formed a block of output rows at a time, at most this many bytes each
# (a real lm_head's clip search over 512 rows x 32 groups x 152k outputs would be 20 GB at once).
CHUNK_BYTES = 1 << 28


def _row_chunk(out: int, per_row_bytes: int) -> int:
    return max(1, min(out, CHUNK_BYTES // max(1, per_row_bytes)))


@dataclass
class AwqResult:
    codes: GroupedCodes
    channel_scales: torch.Tensor  # [in] float16, the s the effective weight divides by
    alpha: float  # NaN when s was given (searched jointly with the input's other modules)
    scale_loss: float
    final_loss: float


@dataclass
class AwqMember:
    """One module of a shared input as the joint search sees it."""

    w: torch.Tensor  # [out, in] float32
    samples: torch.Tensor  # [rows, in] float32: the rows this module multiplies
    bits: int
    group_size: int | str
    symmetric: bool


def fp16_nearest(x: torch.Tensor) -> torch.Tensor:
    """half.ts toFp16Bits for positive float64 x: the nearest fp16, ties to the even pattern. torch's
    float64 -> float16 may round through float32 (a double rounding), so the neighbours are checked."""
    bits = x.to(torch.float16).view(torch.int16).to(torch.int32)
    cands = torch.stack([bits - 1, bits, bits + 1]).clamp(0, 0x7BFF)
    vals = cands.to(torch.int16).view(torch.float16).to(torch.float64)
    err = (vals - x.unsqueeze(0)).abs()
    best = err.min(dim=0).values
    # Among the nearest, the even pattern (a tie has exactly one even neighbour).
    tied = err == best.unsqueeze(0)
    even = (cands % 2 == 0) & tied
    pick = torch.where(even.any(dim=0), even.to(torch.int8).argmax(dim=0), tied.to(torch.int8).argmax(dim=0))
    return cands.gather(0, pick.unsqueeze(0)).squeeze(0).to(torch.int16).view(torch.float16)


def awq_channel_scales(mean_abs: torch.Tensor, alpha: float) -> torch.Tensor:
    """fp16 s = m^alpha / sqrt(max * min) for the per-channel activation means m (float64 [in])."""
    raw = torch.clamp(mean_abs.to(torch.float64), min=MIN_MEAN) ** alpha
    norm = torch.sqrt(raw.max() * raw.min())
    return fp16_nearest(torch.clamp(raw / norm, MIN_SCALE, MAX_SCALE))


def pick_with_margin(losses: torch.Tensor, margin: float = AWQ_LOSS_MARGIN) -> torch.Tensor:
    """pick.ts pickWithMargin along dim 0: the first loss <= min + margin*|min| (0 when none is finite)."""
    finite = torch.where(torch.isfinite(losses), losses, torch.full_like(losses, float("inf")))
    lo = finite.min(dim=0).values
    ok = finite <= (lo + margin * lo.abs()).unsqueeze(0)
    idx = ok.to(torch.int8).argmax(dim=0)
    return torch.where(torch.isfinite(lo), idx, torch.zeros_like(idx))


def _f32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32)


def rtn_clipped(ws: torch.Tensor, bits: int, group_size: int | str, symmetric: bool, ratios: torch.Tensor | None) -> GroupedCodes:
    """rtn.ts rtnQuantize with clipRatios [out, groups]: each group's [min, max] shrunk before its grid."""
    w64 = ws.to(torch.float64)
    lo, hi = group_ranges(w64, group_size)
    if ratios is not None:
        lo, hi = lo * ratios, hi * ratios
    grid = int_grid(lo, hi, bits, symmetric)
    n = w64.shape[1]
    codes = quantize_int(w64, expand_groups(grid.scale, group_size, n), expand_groups(grid.zero, group_size, n), max_code(bits))
    return GroupedCodes(codes=codes.to(torch.uint8), scales=grid.scale_fp16, zeros=None if symmetric else grid.zero.to(torch.uint8))


def _output_error(x: torch.Tensor, delta: torch.Tensor) -> float:
    x64 = x.to(torch.float64)
    step = _row_chunk(delta.shape[0], 8 * x.shape[0])
    total = 0.0
    for r in range(0, delta.shape[0], step):
        y = x64 @ delta[r:r + step].to(torch.float64).T
        total += float((y * y).sum())
    return total


def _delta(w: torch.Tensor, q: GroupedCodes, s: torch.Tensor, bits: int, group_size: int | str) -> torch.Tensor:
    """W - deq(Q)/s as the TS's Float32Array (deq is float32, the division in float64)."""
    deq = dequantize_int_groups(q, bits, group_size).to(torch.float64)
    return _f32(w.to(torch.float64) - deq / s)


def scaled_loss(w: torch.Tensor, s: torch.Tensor, x: torch.Tensor, bits: int, group_size: int | str, symmetric: bool) -> float:
    """||X (W - Q(W diag s) diag(s)^-1)^T||^2 on the samples x: AWQ's objective."""
    ws = _f32(w.to(torch.float64) * s)
    q = rtn_clipped(ws, bits, group_size, symmetric, None)
    return _output_error(x, _delta(w, q, s, bits, group_size))


def awq_search_shared_scales(members: list[AwqMember], mean_abs: torch.Tensor, scale_grid: int) -> tuple[torch.Tensor, float, list[float]]:
    """awq.ts awqSearchSharedScales: one s for every module of an input, minimising their summed loss.
    Returns (fp16 s, alpha, the loss at each alpha)."""
    if not members:
        raise ValueError("shared AWQ search needs at least one module")
    losses: list[float] = []
    scales: list[torch.Tensor] = []
    for i in range(scale_grid):
        s16 = awq_channel_scales(mean_abs, i / scale_grid)
        s = s16.to(torch.float64)
        loss = 0.0
        for m in members:
            if m.samples.shape[0] == 0:
                continue
            loss += scaled_loss(m.w, s, m.samples, m.bits, m.group_size, m.symmetric)
        losses.append(loss)
        scales.append(s16)
    pick = int(pick_with_margin(torch.tensor(losses, dtype=torch.float64)))
    return scales[pick], pick / scale_grid, losses


def _clip_ratios(ws: torch.Tensor, s: torch.Tensor, x: torch.Tensor, bits: int, group_size: int | str, symmetric: bool,
                 clip_grid: int, max_shrink: float) -> torch.Tensor:
    """Per (row, group) clipping ratio [out, groups] on the group's partial output (inputs x/s)."""
    out, n = ws.shape
    gw = group_width(group_size, n)
    groups = group_count(group_size, n)
    ratios = [1 - (k * (1 - max_shrink)) / (clip_grid - 1) for k in range(clip_grid)]
    ws64 = ws.to(torch.float64)
    lo, hi = group_ranges(ws64, group_size)
    pad = groups * gw - n
    xs = _f32(x.to(torch.float64) / s).to(torch.float64)
    if pad:
        xs = torch.nn.functional.pad(xs, (0, pad))
        ws64 = torch.nn.functional.pad(ws64, (0, pad))
    xg = xs.reshape(-1, groups, gw)  # [rows, G, gw]
    wg = ws64.reshape(out, groups, gw)  # [out, G, gw]
    maxq = max_code(bits)
    errs = torch.empty(clip_grid, out, groups, dtype=torch.float64, device=ws.device)
    step = _row_chunk(out, 8 * groups * (xg.shape[0] + 4 * gw))
    for k, ratio in enumerate(ratios):
        grid = int_grid(lo * ratio, hi * ratio, bits, symmetric)
        for r in range(0, out, step):
            w_r = wg[r:r + step]
            scale, zero = grid.scale[r:r + step].unsqueeze(2), grid.zero[r:r + step].unsqueeze(2)
            delta = _f32(w_r - (quantize_int(w_r, scale, zero, maxq) - zero) * scale).to(torch.float64)
            if pad:
                delta[:, -1, gw - pad:] = 0
            y = torch.einsum("tgc,ogc->gto", xg, delta)  # [G, rows, chunk]
            errs[k, r:r + step] = (y * y).sum(dim=1).T
    return torch.tensor(ratios, dtype=torch.float64, device=ws.device)[pick_with_margin(errs)]


def awq_quantize(w: torch.Tensor, mean_abs: torch.Tensor, samples: torch.Tensor, bits: int, group_size: int | str, symmetric: bool,
                 scale_grid: int, clip: bool, clip_grid: int, max_shrink: float, channel_scales: torch.Tensor | None = None) -> AwqResult:
    """awq.ts awqQuantize: w [out, in] float32; mean_abs float64 [in]; samples [rows, in] float32.
    channel_scales (fp16 [in]) fixes s (searched jointly with the input's other modules): only the clipping is searched."""
    w = w.to(torch.float32)
    samples = samples.to(device=w.device, dtype=torch.float32)
    if channel_scales is not None:
        s16 = channel_scales.to(w.device)
        alpha = float("nan")
        loss = scaled_loss(w, s16.to(torch.float64), samples, bits, group_size, symmetric)
    else:
        losses, cands = [], []
        for i in range(scale_grid):
            c = awq_channel_scales(mean_abs.to(w.device), i / scale_grid)
            losses.append(scaled_loss(w, c.to(torch.float64), samples, bits, group_size, symmetric))
            cands.append(c)
        pick = int(pick_with_margin(torch.tensor(losses, dtype=torch.float64)))
        s16, alpha, loss = cands[pick], pick / scale_grid, losses[pick]
    s = s16.to(torch.float64)
    ws = _f32(w.to(torch.float64) * s)
    ratios = _clip_ratios(ws, s, samples, bits, group_size, symmetric, clip_grid, max_shrink) if clip else None
    q = rtn_clipped(ws, bits, group_size, symmetric, ratios)
    final = _output_error(samples, _delta(w, q, s, bits, group_size)) if clip else loss
    return AwqResult(codes=q, channel_scales=s16, alpha=alpha, scale_loss=loss, final_loss=final)
