"""What AWQ needs from a layer's calibration pass: per input site, mean |x_j| over every row and a
bounded sample of rows for its output-error searches, exactly as science/quantization/calibration-stats.ts
samples them: each row is named by its token's index in the calibration text (window-major), hashed
with idKey, and the maxSamples rows of smallest key are kept in key order (a "bottom-k" sketch). The
sample therefore depends only on which tokens reach a site, never on their float bits or feeding order.
"""
from __future__ import annotations

import torch

from .calibrate import LayerCapture, top_up_rows

DEFAULT_MAX_SAMPLES = 512
_M32 = 0xFFFFFFFF


def _imul(a: torch.Tensor | int, b: int) -> torch.Tensor | int:
    """Math.imul's low 32 bits (int64 products wrap modulo 2^64, which keeps them)."""
    return (a * b) & _M32


def _fmix32(h: torch.Tensor) -> torch.Tensor:
    h = h ^ (h >> 16)
    h = _imul(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = _imul(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def id_key(ids: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """calibration-stats.ts idKey: the 53-bit sampling priority of each row id (int64 in, int64 out)."""
    ids = ids.to(torch.int64)
    lo = ids & _M32
    hi = (ids >> 32) & _M32
    seed &= _M32
    h1 = _fmix32(_imul(lo ^ seed, 0x5BD1E995) ^ _imul(hi ^ 0x9E3779B9, 0x27D4EB2F))
    h2 = _fmix32(_imul(hi ^ _imul(seed, 0x2545F491), 0x5BD1E995) ^ _imul(lo ^ 0x7F4A7C15, 0x27D4EB2F))
    return h1 * (1 << 21) + (h2 >> 11)


class AwqStats:
    """Σ|x_j|, the row count and the bottom-k sample of one input site."""

    def __init__(self, width: int, device: torch.device, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int = 0) -> None:
        self.width = width
        self.max_samples = max_samples
        self.seed = seed
        self.count = 0
        self.abs_sum = torch.zeros(width, dtype=torch.float64, device=device)
        self.keys = torch.empty(0, dtype=torch.int64, device=device)
        self.rows = torch.empty(0, width, dtype=torch.float32, device=device)

    @property
    def nbytes(self) -> int:
        return self.width * 8 + 2 * self.max_samples * (self.width * 4 + 8)

    def add(self, x: torch.Tensor, ids: torch.Tensor) -> None:
        x = x.to(torch.float32)
        self.abs_sum += x.abs().to(torch.float64).sum(dim=0)
        self.count += int(x.shape[0])
        keys = torch.cat([self.keys, id_key(ids.to(self.keys.device), self.seed)])
        rows = torch.cat([self.rows, x])
        order = torch.sort(keys, stable=True).indices[: self.max_samples]
        self.keys, self.rows = keys[order], rows[order]

    def mean_abs(self) -> torch.Tensor:
        return self.abs_sum / self.count if self.count > 0 else torch.zeros_like(self.abs_sum)

    def samples(self) -> torch.Tensor:
        """[sampleCount, width] in priority order."""
        return self.rows


class AwqCapture(LayerCapture):
    """LayerCapture (Hessians for GPTQ/AutoRound sites, MoE rows for balancing) that also gathers AwqStats
    for `awq_sites`. The driver sets row_base to the index of the batch's first token before each batch."""

    def __init__(self, sites: set[str], awq_sites: set[str], widths: dict[str, int], device: torch.device, keep_moe: bool, charge) -> None:  # type: ignore[no-untyped-def]
        super().__init__(sites, widths, device, keep_moe, charge)
        self.row_base = 0
        self.stats: dict[str, AwqStats] = {}
        for s in sorted(awq_sites):
            st = AwqStats(widths[s], device)
            charge(st.nbytes, f"the AWQ statistics of {s}")
            self.stats[s] = st

    @property
    def stats_bytes(self) -> int:
        return sum(s.nbytes for s in self.stats.values())

    def _stat(self, site: str, x: torch.Tensor, rows: torch.Tensor | None = None) -> None:
        st = self.stats.get(site)
        if st is None:
            return
        local = rows if rows is not None else torch.arange(x.shape[0], device=x.device)
        st.add(x, local.to(torch.int64) + self.row_base)

    def attention_input(self, x: torch.Tensor) -> None:
        super().attention_input(x)
        self._stat("attention_input", x)

    def attention_output_input(self, x: torch.Tensor) -> None:
        super().attention_output_input(x)
        self._stat("attention_output_input", x)

    def moe_input(self, x: torch.Tensor, probs: torch.Tensor, top: torch.Tensor) -> None:
        super().moe_input(x, probs, top)
        self._stat("moe_input", x)

    def expert_input(self, e: int, x: torch.Tensor, rows: torch.Tensor) -> None:
        super().expert_input(e, x, rows)
        self._stat(f"expert_input.{e}", x, rows)

    def expert_down_input(self, e: int, h: torch.Tensor, rows: torch.Tensor) -> None:
        super().expert_down_input(e, h, rows)
        self._stat(f"expert_down_input.{e}", h, rows)

    def shared_input(self, x: torch.Tensor) -> None:
        super().shared_input(x)
        self._stat("shared_input", x)

    def shared_down_input(self, h: torch.Tensor) -> None:
        super().shared_down_input(h)
        self._stat("shared_down_input", h)

    def mlp_input(self, x: torch.Tensor) -> None:
        super().mlp_input(x)
        self._stat("mlp_input", x)

    def mlp_down_input(self, h: torch.Tensor) -> None:
        super().mlp_down_input(h)
        self._stat("mlp_down_input", h)


def balance_awq_experts(cap: AwqCapture, w: dict[str, torch.Tensor], num_experts: int, routed: list[int], min_tokens: int, expert_hidden) -> None:  # type: ignore[no-untyped-def]
    """The top-up rows balance_experts gives an expert's Hessians, given to its AWQ statistics too (their ids
    are their indices in the concatenated MoE rows: the tokens' indices in the calibration text)."""
    if min_tokens <= 0 or not cap.moe_rows:
        return
    sites = [s for s in cap.stats if s.startswith("expert_")]
    if not sites:
        return
    rows = torch.cat(cap.moe_rows)
    probs = torch.cat(cap.moe_probs)
    top = torch.cat(cap.moe_top)
    for e in range(num_experts):
        missing = max(0, min_tokens - routed[e])
        if missing == 0:
            continue
        idx = top_up_rows(probs, top, e, missing)
        if idx.numel() == 0:
            continue
        x = rows.index_select(0, idx)
        if (st := cap.stats.get(f"expert_input.{e}")) is not None:
            st.add(x, idx)
        if (st := cap.stats.get(f"expert_down_input.{e}")) is not None:
            st.add(expert_hidden(w, e, x), idx)
