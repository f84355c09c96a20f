"""Calibration of one decoder layer: the Σ x·xᵀ of every input site a GPTQ module of the layer needs,
the tokens routed to each expert, and expert balancing exactly as science/compression/calibration.ts
does it: an expert the router sent fewer than minTokensPerExpert tokens gets the missing ones from
the tokens not routed to it with the highest router probability for it (ties: earlier token first),
its gate/up inputs from those rows and its down input from its own silu(gate x)·up x on them.

Sites (a site feeds every module reading that input):
  attention_input -> q k v; attention_output_input -> o; moe_input -> router;
  expert_input e -> experts.e.gate/up; expert_down_input e -> experts.e.down;
  shared_input -> shared.gate/up; shared_down_input -> shared.down; mlp_input -> mlp.gate/up;
  mlp_down_input -> mlp.down; head_input -> lm_head.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .quant.hessian import HessianAccumulator

_FIXED_SITES = {
    "q": "attention_input", "k": "attention_input", "v": "attention_input", "o": "attention_output_input",
    "router": "moe_input",
    "shared.gate": "shared_input", "shared.up": "shared_input", "shared.down": "shared_down_input",
    "mlp.gate": "mlp_input", "mlp.up": "mlp_input", "mlp.down": "mlp_down_input",
}


def site_of(key: str) -> str:
    """The input site of a canonical linear key."""
    if key in _FIXED_SITES:
        return _FIXED_SITES[key]
    parts = key.split(".")
    if parts[0] == "experts" and len(parts) == 3:
        return f"expert_down_input.{parts[1]}" if parts[2] == "down" else f"expert_input.{parts[1]}"
    raise KeyError(f"no calibration site for layer key {key!r}")


@dataclass
class LayerCalibration:
    """What one layer's calibration pass gathered."""

    hessians: dict[str, HessianAccumulator]
    routed: list[int]  # tokens routed per expert ([] dense)
    added: list[int]  # tokens added by balancing per expert
    moe_rows: list[torch.Tensor] = field(default_factory=list)
    moe_probs: list[torch.Tensor] = field(default_factory=list)
    moe_top: list[torch.Tensor] = field(default_factory=list)


class LayerCapture:
    """A layers.Capture that accumulates the needed sites' Hessians and keeps the MoE inputs for balancing."""

    def __init__(self, sites: set[str], widths: dict[str, int], device: torch.device, keep_moe: bool, charge) -> None:  # type: ignore[no-untyped-def]
        self.sites = sites
        self.device = device
        self.keep_moe = keep_moe
        self.charge = charge  # (nbytes, what) -> None: the memory meter
        self.hessians: dict[str, HessianAccumulator] = {}
        for s in sorted(sites):
            acc = HessianAccumulator(widths[s], device)
            charge(acc.nbytes, f"the calibration Hessian of {s}")
            self.hessians[s] = acc
        self.moe_rows: list[torch.Tensor] = []
        self.moe_probs: list[torch.Tensor] = []
        self.moe_top: list[torch.Tensor] = []
        self.kept_bytes = 0

    def drop_moe(self, release) -> None:  # type: ignore[no-untyped-def]
        """Frees the kept MoE inputs once balancing is done; release(nbytes) is the meter's."""
        self.moe_rows, self.moe_probs, self.moe_top = [], [], []
        release(self.kept_bytes)
        self.kept_bytes = 0

    def _add(self, site: str, x: torch.Tensor) -> None:
        acc = self.hessians.get(site)
        if acc is not None:
            acc.add(x)

    def attention_input(self, x: torch.Tensor) -> None:
        self._add("attention_input", x)

    def attention_output_input(self, x: torch.Tensor) -> None:
        self._add("attention_output_input", x)

    def moe_input(self, x: torch.Tensor, probs: torch.Tensor, top: torch.Tensor) -> None:
        self._add("moe_input", x)
        if self.keep_moe:
            rows, p, t = x.detach().clone(), probs.detach().to(torch.float32).clone(), top.detach().clone()
            nbytes = rows.numel() * rows.element_size() + p.numel() * 4 + t.numel() * t.element_size()
            self.charge(nbytes, "the MoE inputs kept for expert balancing")
            self.kept_bytes += nbytes
            self.moe_rows.append(rows)
            self.moe_probs.append(p)
            self.moe_top.append(t)

    def expert_input(self, e: int, x: torch.Tensor, rows: torch.Tensor) -> None:
        self._add(f"expert_input.{e}", x)

    def expert_down_input(self, e: int, h: torch.Tensor, rows: torch.Tensor) -> None:
        self._add(f"expert_down_input.{e}", h)

    def shared_input(self, x: torch.Tensor) -> None:
        self._add("shared_input", x)

    def shared_down_input(self, h: torch.Tensor) -> None:
        self._add("shared_down_input", h)

    def mlp_input(self, x: torch.Tensor) -> None:
        self._add("mlp_input", x)

    def mlp_down_input(self, h: torch.Tensor) -> None:
        self._add("mlp_down_input", h)


def top_up_rows(probs: torch.Tensor, top: torch.Tensor, expert: int, wanted: int) -> torch.Tensor:
    """calibration.ts topUpRows: indices (into the concatenated MoE rows) of the `wanted` rows not routed
    to `expert` with the highest router probability for it; ties keep the earlier row (the TS sorts by
    batch then row, which is the concatenation order)."""
    routed = (top == expert).any(dim=1)
    candidates = torch.nonzero(~routed, as_tuple=False).squeeze(1)
    order = torch.sort(probs[candidates, expert], descending=True, stable=True).indices
    return candidates[order[:wanted]]


def balance_experts(cap: LayerCapture, w: dict[str, torch.Tensor], num_experts: int, routed: list[int],
                    min_tokens: int, expert_hidden) -> list[int]:  # type: ignore[no-untyped-def]
    """Tops up every expert below min_tokens; returns the rows added per expert."""
    added = [0] * num_experts
    if min_tokens <= 0 or not cap.moe_rows:
        return added
    rows = torch.cat(cap.moe_rows)
    probs = torch.cat(cap.moe_probs)
    top = torch.cat(cap.moe_top)
    for e in range(num_experts):
        missing = max(0, min_tokens - routed[e])
        if missing == 0:
            continue
        idx = top_up_rows(probs, top, e, missing)
        added[e] = int(idx.numel())
        if added[e] == 0:
            continue
        x = rows.index_select(0, idx)
        if f"expert_input.{e}" in cap.hessians:
            cap.hessians[f"expert_input.{e}"].add(x)
        if f"expert_down_input.{e}" in cap.hessians:
            cap.hessians[f"expert_down_input.{e}"].add(expert_hidden(w, e, x))
    return added
