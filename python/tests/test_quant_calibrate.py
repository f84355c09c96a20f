"""Calibration: the Hessian sites see exactly the rows the router sends (plus the balancing top-up,
chosen as science/compression/calibration.ts chooses it), and the two modes differ where they must:
layer 0 is calibrated identically, later layers see quantized (sequential) or original inputs."""
from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch
from safetensors.torch import load_file

from evoquant_torch.calibrate import LayerCapture, balance_experts, site_of, top_up_rows
from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.layers import expert_hidden, layer_forward, route
from evoquant_torch.quantize import run

from .fixtures import make_checkpoint, stable_text
from .test_quant_driver import GPTQ, REPO, plan_for, spec

torch.set_num_threads(1)


def ts_top_up(probs: list[list[float]], top: list[list[int]], expert: int, wanted: int) -> list[int]:
    """calibration.ts topUpRows transcribed literally: candidates in (batch,row) order, sorted by
    descending probability, ties by position."""
    cands = [(p[expert], r) for r, (p, t) in enumerate(zip(probs, top)) if expert not in t]
    cands.sort(key=lambda c: (-c[0], c[1]))
    return [r for _, r in cands[:wanted]]


class Calibration(unittest.TestCase):
    def test_top_up_order_matches_calibration_ts(self) -> None:
        g = torch.Generator().manual_seed(0)
        probs = torch.softmax(torch.randn(300, 6, generator=g), dim=1)
        probs[::7, 2] = 0.25  # ties
        probs[::5, 4] = 0.125
        top = torch.topk(probs, 2, dim=1).indices
        for e in range(6):
            for wanted in (1, 17, 1000):
                self.assertEqual(top_up_rows(probs, top, e, wanted).tolist(), ts_top_up(probs.tolist(), top.tolist(), e, wanted))

    def test_sites_see_the_routed_rows_and_the_top_up(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            ck = Checkpoint.open(str(make_checkpoint("qwen3_moe", Path(d) / "m", seed=7)))
            arch = ck.arch
            w = ck.layer(0, "cpu")
            h = torch.randn(3, 20, arch.hidden, generator=torch.Generator().manual_seed(1))
            sites = {site_of(k) for k in ("q", "o", "experts.1.gate", "experts.1.down", "experts.2.up")}
            widths = {s: (arch.moe_intermediate if s.startswith("expert_down") else arch.heads * arch.head_dim if s == "attention_output_input" else arch.hidden) for s in sites}
            cap = LayerCapture(sites, widths, torch.device("cpu"), keep_moe=True, charge=lambda n, what: None)
            counts = torch.zeros(arch.experts, dtype=torch.int64)
            layer_forward(arch, w, h, cap, counts)
            x = cap.moe_rows[0].to(torch.float64)
            _, _, top = route(arch, w["router"], cap.moe_rows[0])
            for e in (1, 2):
                rows = (top == e).any(dim=1)
                want = x[rows].t() @ x[rows]
                self.assertTrue(torch.allclose(cap.hessians[f"expert_input.{e}"].sum, want, rtol=1e-9, atol=1e-9))
                self.assertEqual(cap.hessians[f"expert_input.{e}"].count, int(rows.sum()))
            routed = [int(c) for c in counts.tolist()]
            added = balance_experts(cap, w, arch.experts, routed, max(routed) + 5, expert_hidden)
            self.assertEqual(added, [max(routed) + 5 - r for r in routed])
            idx = top_up_rows(cap.moe_probs[0], top, 1, added[1])
            rows = (top == 1).any(dim=1)
            xe = torch.cat([cap.moe_rows[0][rows], cap.moe_rows[0][idx]])
            self.assertTrue(torch.allclose(cap.hessians["expert_input.1"].sum, xe.double().t() @ xe.double(), rtol=1e-9, atol=1e-9))
            hd = expert_hidden(w, 1, xe).double()
            self.assertTrue(torch.allclose(cap.hessians["expert_down_input.1"].sum, hd.t() @ hd, rtol=1e-6, atol=1e-6))

    def test_sequential_and_original_modes(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            ck = make_checkpoint("qwen3_moe", Path(d) / "m", seed=8)
            text = Path(d) / "t.txt"
            text.write_bytes(stable_text(8000))
            plan = plan_for(ck, {"attn_q": spec(3, 32, True, GPTQ), "attn_o": spec(3, 32, True, GPTQ), "expert_gate": spec(3, 32, True, GPTQ), "expert_down": spec(3, 32, True, GPTQ)})
            outs = {}
            for mode in ("sequential", "original"):
                cal = {"files": [str(text)], "tokens": 256, "seq": 32, "batch": 4, "minTokensPerExpert": 32, "mode": mode}
                run({"kind": "quantize", "checkpoint": str(ck), "output": f"{d}/{mode}", "plan": plan, "calibration": cal, "device": "cpu", "memoryCapBytes": None}, lambda m: None)
                outs[mode] = load_file(f"{d}/{mode}/model.safetensors")
            s, o = outs["sequential"], outs["original"]
            layer0 = [k for k in s if k.startswith("model.layers.0.")]
            layer1 = [k for k in s if k.startswith("model.layers.1.") and k.endswith("weight_packed")]
            self.assertTrue(all(torch.equal(s[k], o[k]) for k in layer0))
            self.assertFalse(all(torch.equal(s[k], o[k]) for k in layer1))


if __name__ == "__main__":
    unittest.main()
