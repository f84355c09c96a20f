"""Σ x·xᵀ accumulators of the linear modules' inputs (GPTQ's H = 2/count · Σ x·xᵀ is formed in gptq.py).

Accumulated in float64 on the device: the TypeScript sums float32 GEMM chunks into Float64
(calibration-stats.ts), float64 throughout is at least as exact."""
from __future__ import annotations

import torch


class HessianAccumulator:
    def __init__(self, width: int, device: torch.device) -> None:
        self.width = width
        self.sum = torch.zeros(width, width, dtype=torch.float64, device=device)
        self.count = 0

    @property
    def nbytes(self) -> int:
        return self.sum.numel() * self.sum.element_size()

    def add(self, rows: torch.Tensor) -> None:
        """rows [N, width] (any float dtype)."""
        if rows.shape[0] == 0:
            return
        if rows.shape[1] != self.width:
            raise ValueError(f"hessian of width {self.width} got rows of width {rows.shape[1]}")
        x = rows.detach().reshape(-1, self.width).to(torch.float64)
        self.sum.addmm_(x.t(), x)
        self.count += x.shape[0]
