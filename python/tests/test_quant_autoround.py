"""AutoRound conformance: evoquant_torch.quant.autoround against science/quantization/autoround.ts on
the same proxy weights and calibration Hessian (the TS runs in node as an oracle). Bit identity is not
expected (the TS sums G row by row in exact fixed-point integers, we in one float64 matmul, so sign(G)
near 0 can differ and the runs drift); what must hold: step 0 is RTN in both (identical loss), the
learned layer's output error is within LOSS_RTOL of the TS's and clearly below RTN's."""
from __future__ import annotations

import unittest

import numpy as np
import torch

from evoquant_torch.quant.autoround import autoround_quantize
from evoquant_torch.quant.grid import dequantize_int_groups
from evoquant_torch.quant.rtn import rtn_quantize

from .awq_oracle import run_awq_oracle
from .quant_oracle import proxy_tensor
from .test_quant_awq import salient_rows

torch.set_num_threads(1)

# Measured on these cases: the learned output errors equal the TS's (relative difference 0) and the codes agree;
# the tolerance is for other CPUs / CUDA, where float summation order differs.
LOSS_RTOL = 0.03
# Both must beat RTN by at least this fraction of RTN's error (measured: 19 %, 10 %, 3.8 %).
MIN_GAIN = 0.02
ITERATIONS = 60

CASES = [
    # name, tensor, bits, group, symmetric, minMax
    ("q4g32", "model.layers.0.self_attn.q_proj.weight", 4, 32, True, True),
    ("gate3g64", "model.layers.0.mlp.experts.1.gate_proj.weight", 3, 64, False, True),
    ("down2ch", "model.layers.1.mlp.experts.2.down_proj.weight", 2, "channel", False, False),
]


def error_on(x: torch.Tensor, w: torch.Tensor, w_hat: torch.Tensor) -> float:
    y = x.to(torch.float64) @ (w.to(torch.float64) - w_hat.to(torch.float64)).T
    return float((y * y).sum() / x.shape[0])


class AutoRoundConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.inputs = {}
        jobs = []
        for i, (name, tensor, bits, group, sym, mm) in enumerate(CASES):
            w = proxy_tensor(tensor)
            x = salient_rows(512, w.shape[1], seed=20 + i)
            h = x.to(torch.float64).T @ x.to(torch.float64)
            cls.inputs[name] = (w, x, h)
            jobs.append({"name": name, "kind": "autoround", "weight": w, "hessian": h, "count": 512, "out": w.shape[0], "in": w.shape[1],
                         "bits": bits, "groupSize": group, "symmetric": sym, "iterations": ITERATIONS, "learningRate": 1 / ITERATIONS, "minMax": mm})
        cls.oracle = run_awq_oracle(jobs)

    def test_learned_error_matches_typescript_and_beats_rtn(self) -> None:
        for name, _tensor, bits, group, sym, mm in CASES:
            with self.subTest(name):
                w, x, h = self.inputs[name]
                ref = self.oracle[name]
                got = autoround_quantize(w, h, 512, bits, group, sym, ITERATIONS, 1 / ITERATIONS, mm)
                ts_losses = ref["losses"][1:]
                # Step 0 is RTN in both, to float noise, and our RTN codes are RTN's.
                self.assertLess(abs(got.losses[0] - ts_losses[0]) / ts_losses[0], 1e-9)
                ours = error_on(x, w, dequantize_int_groups(got.codes, bits, group))
                gw = w.shape[1] if group == "channel" else group
                from evoquant_torch.quant.grid import GroupedCodes
                ts_codes = GroupedCodes(codes=torch.from_numpy(ref["codes"].copy()), scales=torch.from_numpy(ref["scales"].copy().view(np.float16)),
                                        zeros=torch.from_numpy(ref["zeros"].copy()) if "zeros" in ref else None)
                theirs = error_on(x, w, dequantize_int_groups(ts_codes, bits, group))
                rtn = error_on(x, w, dequantize_int_groups(rtn_quantize(w, bits, group, sym), bits, group))
                self.assertAlmostEqual(rtn, got.losses[0], delta=1e-6 * rtn)
                self.assertLess(abs(ours - theirs) / theirs, LOSS_RTOL, f"{name}: ours {ours:.6g} TS {theirs:.6g} RTN {rtn:.6g}")
                self.assertLess(ours, (1 - MIN_GAIN) * rtn, f"{name}: ours {ours:.6g} RTN {rtn:.6g}")
                self.assertLess(theirs, (1 - MIN_GAIN) * rtn)
                same = float((got.codes.codes.numpy() == ref["codes"]).mean())
                print(f"autoround codes identical {same:.6f}", end="; ")
                print(f"autoround {name}: RTN {rtn:.6g} TS {theirs:.6g} torch {ours:.6g} (rel {abs(ours - theirs) / theirs:.2e}; best steps TS {int(ref['losses'][0])} torch {got.best_step})")


if __name__ == "__main__":
    unittest.main()
