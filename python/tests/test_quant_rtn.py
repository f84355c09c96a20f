"""RTN and the fp16-ceil grid are bit-identical to science/quantization/{grid,half,rtn}.ts, checked
against the TypeScript itself on real proxy weights and on adversarial values (exact rounding ties,
tiny and huge ranges, all-zero groups)."""
from __future__ import annotations

import unittest

import numpy as np
import torch

from evoquant_torch.quant.grid import dequantize_int_groups, fp16_ceil, js_round
from evoquant_torch.quant.rtn import rtn_quantize

from .quant_oracle import proxy_tensor, run_oracle

torch.set_num_threads(1)

SPECS = [
    (4, 32, True), (4, 128, False), (3, 32, False), (3, "channel", True), (2, 32, True),
    (2, 64, False), (8, 128, True), (8, "channel", False), (4, "channel", False),
]


def adversarial(out: int, n: int) -> torch.Tensor:
    """Weights sitting on grid midpoints, subnormal-scale groups, zero groups and wide ranges."""
    g = torch.Generator().manual_seed(7)
    w = torch.randn(out, n, generator=g) * torch.logspace(-6, 1, out).unsqueeze(1)
    w[0] = 0.0  # all-zero row: raw step 0 -> scale 1
    w[1] = (torch.arange(n) % 16 - 8 + 0.5).float() * 2.0**-10  # exact ties at 4 bits
    w[2, : n // 2] = 1e-7  # steps below fp16's normal range
    w[3] = torch.where(torch.arange(n) % 2 == 0, 6e4, -6e4)  # near fp16's largest finite value
    return w.float()


class RtnConformance(unittest.TestCase):
    def test_bit_identical_to_typescript(self) -> None:
        tensors = {
            "gate": proxy_tensor("model.layers.0.mlp.experts.0.gate_proj.weight"),
            "down": proxy_tensor("model.layers.1.mlp.experts.3.down_proj.weight"),
            "q": proxy_tensor("model.layers.0.self_attn.q_proj.weight"),
            "adv": adversarial(64, 256),
        }
        jobs = []
        for tname, w in tensors.items():
            for bits, gs, sym in SPECS:
                if gs != "channel" and w.shape[1] % gs:
                    continue
                jobs.append({"name": f"{tname}-{bits}-{gs}-{int(sym)}", "kind": "rtn", "weight": w, "bits": bits, "groupSize": gs, "symmetric": sym, "spec": (tname, bits, gs, sym)})
        oracle = run_oracle([{k: v for k, v in j.items() if k != "spec"} for j in jobs])
        total = 0
        for j in jobs:
            tname, bits, gs, sym = j["spec"]
            got = rtn_quantize(tensors[tname], bits, gs, sym)
            want = oracle[j["name"]]
            np.testing.assert_array_equal(got.codes.numpy(), want.codes, err_msg=j["name"])
            np.testing.assert_array_equal(got.scales.view(torch.int16).numpy().view(np.uint16), want.scales, err_msg=j["name"])
            if sym:
                self.assertIsNone(want.zeros)
                self.assertIsNone(got.zeros)
            else:
                np.testing.assert_array_equal(got.zeros.numpy(), want.zeros, err_msg=j["name"])
            total += got.codes.numel()
        self.assertGreater(total, 500_000)
        print(f"\nRTN: {len(jobs)} tensor/spec pairs, {total} codes, all bit-identical to rtn.ts")

    def test_js_round_and_fp16_ceil(self) -> None:
        x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 0.49999999999999994, -2.5000000000000004], dtype=torch.float64)
        self.assertEqual(js_round(x).tolist(), [1.0, 2.0, 3.0, 0.0, -1.0, 0.0, -3.0])
        raw = torch.tensor([1.0, 1.0 + 2**-11, 1 / 3, 2.0**-25, 65504.0, 65504.5, 0.0], dtype=torch.float64)
        got = fp16_ceil(raw).to(torch.float64)
        self.assertTrue(bool((got >= raw).all()))
        self.assertEqual(got[0].item(), 1.0)
        self.assertEqual(got[1].item(), 1.0 + 2**-10)  # the tie rounds down to nearest-even; the ceiling is the next
        self.assertEqual(got[3].item(), 2.0**-24)
        self.assertEqual(got[5].item(), float("inf"))

    def test_dequantized_error_is_at_most_half_a_step(self) -> None:
        w = proxy_tensor("model.layers.0.self_attn.k_proj.weight")
        g = rtn_quantize(w, 4, 32, False)
        deq = dequantize_int_groups(g, 4, 32)
        step = g.scales.to(torch.float32).repeat_interleave(32, dim=1)
        self.assertTrue(bool(((deq - w).abs() <= step / 2 + 1e-7).all()))


if __name__ == "__main__":
    unittest.main()
