"""GPTQ agrees with science/quantization/gptq.ts on the same weight and Hessian.

The two differ only in float rounding (torch's Cholesky and GEMM summation order against the
TypeScript's loops and onnxruntime's MLAS), so a code can flip where a weight sits on a rounding
boundary; the tolerance is stated: >= 99.9% identical codes, |delta code| <= 1, and identical
scales wherever the grid is built before any update (act-order static groups)."""
from __future__ import annotations

import unittest

import numpy as np
import torch

from evoquant_torch.quant.grid import dequantize_int_groups
from evoquant_torch.quant.gptq import HessianNotPositiveDefinite, gptq_quantize, gptq_quantize_batch
from evoquant_torch.quant.rtn import rtn_quantize

from .quant_oracle import proxy_tensor, run_oracle

torch.set_num_threads(1)

MIN_IDENTICAL = 0.999


def correlated_rows(count: int, n: int, seed: int, dead: int = 0) -> torch.Tensor:
    """Calibration-like inputs: correlated features with unequal scales, the first `dead` ones never active."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(n, n, generator=g) / n**0.5 + torch.eye(n)
    x = torch.randn(count, n, generator=g) @ mix * torch.linspace(0.2, 3.0, n)
    x[:, :dead] = 0.0
    return x.to(torch.float32)


def hessian_of(x: torch.Tensor) -> torch.Tensor:
    x64 = x.to(torch.float64)
    return x64.t() @ x64


CASES = [
    # name, tensor, bits, group, symmetric, actOrder, blockSize, dead inputs
    ("gate4g32", "model.layers.0.mlp.experts.0.gate_proj.weight", 4, 32, True, False, 32, 0),
    ("gate4g32ao", "model.layers.0.mlp.experts.0.gate_proj.weight", 4, 32, False, True, 64, 3),
    ("down3g64", "model.layers.1.mlp.experts.2.down_proj.weight", 3, 64, False, False, 128, 0),
    ("down2ch", "model.layers.1.mlp.experts.2.down_proj.weight", 2, "channel", True, True, 128, 5),
    ("q8g128", "model.layers.0.self_attn.q_proj.weight", 8, 128, True, False, 16, 0),
    ("o4g32ao", "model.layers.1.self_attn.o_proj.weight", 4, 32, True, True, 32, 0),
]


class GptqConformance(unittest.TestCase):
    def test_codes_match_typescript(self) -> None:
        jobs, ours = [], {}
        for i, (name, tensor, bits, gs, sym, ao, bs, dead) in enumerate(CASES):
            w = proxy_tensor(tensor)
            x = correlated_rows(512, w.shape[1], seed=i, dead=dead)
            h = hessian_of(x)
            jobs.append({"name": name, "kind": "gptq", "weight": w, "bits": bits, "groupSize": gs, "symmetric": sym,
                         "hessian": h, "count": 512, "damp": 0.01, "blockSize": bs, "actOrder": ao})
            ours[name] = (gptq_quantize(w, h, 512, bits, gs, sym, 0.01, bs, ao), w, x, bits, gs, sym)
        oracle = run_oracle(jobs)
        report = []
        total = same = 0
        for name, (got, w, x, bits, gs, sym) in ours.items():
            want = oracle[name]
            c = got.codes.numpy().astype(np.int16)
            d = np.abs(c - want.codes.astype(np.int16))
            share = float((d == 0).mean())
            total += d.size
            same += int((d == 0).sum())
            report.append(f"{name}: {share:.5%} identical, max |dcode| {d.max()}")
            self.assertGreaterEqual(share, MIN_IDENTICAL, name)
            self.assertLessEqual(int(d.max()), 1, name)
            scales_same = float((got.scales.view(torch.int16).numpy().view(np.uint16) == want.scales).mean())
            self.assertGreaterEqual(scales_same, MIN_IDENTICAL, name)
            # And GPTQ does its job: a smaller output error on the calibration rows than RTN.
            deq = dequantize_int_groups(got, bits, gs)
            rtn = dequantize_int_groups(rtn_quantize(w, bits, gs, sym), bits, gs)
            err_gptq = float(((x @ (deq - w).t()) ** 2).sum())
            err_rtn = float(((x @ (rtn - w).t()) ** 2).sum())
            self.assertLess(err_gptq, err_rtn, name)
        print(f"\nGPTQ vs gptq.ts: {same}/{total} codes identical ({same / total:.5%})\n  " + "\n  ".join(report))

    def test_batch_is_each_module_on_its_own(self) -> None:
        """The experts of a layer run as one batch; each must come out exactly as it would alone,
        including its own dead columns, act-order permutation and dampening retries."""
        ws = torch.stack([proxy_tensor(f"model.layers.2.mlp.experts.{e}.up_proj.weight") for e in range(5)])
        hs = []
        for e in range(5):
            x = correlated_rows(64 + 100 * e, 128, seed=10 + e, dead=e)
            h = hessian_of(x)
            if e == 3:  # indefinite until the dampening has been raised once
                h -= 0.05 * torch.diagonal(h).mean() * torch.eye(128, dtype=torch.float64)
            hs.append(h)
        counts = [64 + 100 * e for e in range(5)]
        for ao, sym, gs in ((True, True, 32), (False, False, 64)):
            batch = gptq_quantize_batch(ws, torch.stack(hs), counts, 4, gs, sym, 0.01, 32, ao)
            for e in range(5):
                alone = gptq_quantize(ws[e], hs[e], counts[e], 4, gs, sym, 0.01, 32, ao)
                self.assertTrue(torch.equal(batch[e].codes, alone.codes), (e, ao))
                self.assertTrue(torch.equal(batch[e].scales, alone.scales), (e, ao))
                self.assertEqual(batch[e].zeros is None, alone.zeros is None)
                if alone.zeros is not None:
                    self.assertTrue(torch.equal(batch[e].zeros, alone.zeros))
                self.assertEqual(batch[e].damp_used, alone.damp_used)
            self.assertAlmostEqual(batch[3].damp_used, 0.1)
            self.assertEqual(batch[0].damp_used, 0.01)

    def test_indefinite_hessian_is_typed(self) -> None:
        w = proxy_tensor("model.layers.0.self_attn.k_proj.weight")
        h = -torch.eye(w.shape[1], dtype=torch.float64)
        with self.assertRaises(HessianNotPositiveDefinite):
            gptq_quantize(w, h, 1, 4, 32, True, 0.01, 32, False)


if __name__ == "__main__":
    unittest.main()
