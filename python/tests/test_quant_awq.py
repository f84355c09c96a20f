"""AWQ conformance: evoquant_torch.quant.awq against science/quantization/awq.ts on the same proxy
weights, activation means and sampled rows (the TS runs in node as an oracle). The search picks the
same alpha and fp16 s; codes may differ only where a clipping choice sits within float noise of the
pick margin (the TS's fp32 GEMM vs our float64 sums)."""
from __future__ import annotations

import math
import unittest

import numpy as np
import torch

from evoquant_torch.quant.awq import AwqMember, awq_channel_scales, awq_quantize, awq_search_shared_scales, fp16_nearest
from evoquant_torch.quant.rtn import rtn_quantize

from .awq_oracle import run_awq_oracle
from .quant_oracle import proxy_tensor

torch.set_num_threads(1)

MIN_IDENTICAL = 1.0  # measured: every code, scale and s identical on these cases
LOSS_RTOL = 1e-6  # measured: losses within 5e-9 relative (fp32 GEMM vs float64)


def salient_rows(count: int, n: int, seed: int) -> torch.Tensor:
    """Calibration-like inputs: correlated features, a few channels far larger than the rest (what AWQ protects)."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(n, n, generator=g) / n**0.5 + torch.eye(n)
    scale = torch.linspace(0.2, 2.0, n)
    scale[torch.randperm(n, generator=g)[: max(1, n // 32)]] *= 12.0
    return (torch.randn(count, n, generator=g) @ mix * scale).to(torch.float32)


CASES = [
    # name, tensor, bits, group, symmetric, clip
    ("q4g32", "model.layers.0.self_attn.q_proj.weight", 4, 32, True, True),
    ("gate3g64", "model.layers.0.mlp.experts.1.gate_proj.weight", 3, 64, False, True),
    ("down4ch", "model.layers.1.mlp.experts.2.down_proj.weight", 4, "channel", True, True),
    ("up2g32noclip", "model.layers.1.mlp.experts.3.up_proj.weight", 2, 32, False, False),
]


def output_error(x: torch.Tensor, w: torch.Tensor, w_hat: torch.Tensor) -> float:
    y = x.to(torch.float64) @ (w.to(torch.float64) - w_hat.to(torch.float64)).T
    return float((y * y).sum())


def effective(codes: np.ndarray, scales: np.ndarray, zeros: np.ndarray | None, s: np.ndarray, bits: int, group: int | str) -> torch.Tensor:
    """deq(Q) / s from raw oracle outputs."""
    n = codes.shape[1]
    gw = n if group == "channel" else group
    sc = torch.from_numpy(scales.view(np.float16).astype(np.float64)).repeat_interleave(gw, dim=1)[:, :n]
    z = torch.from_numpy(zeros.astype(np.float64)).repeat_interleave(gw, dim=1)[:, :n] if zeros is not None else torch.full_like(sc, float(1 << (bits - 1)))
    return (torch.from_numpy(codes.astype(np.float64)) - z) * sc / torch.from_numpy(s.view(np.float16).astype(np.float64))


class AwqConformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.inputs = {}
        jobs = []
        for i, (name, tensor, bits, group, sym, clip) in enumerate(CASES):
            w = proxy_tensor(tensor)
            x = salient_rows(1024, w.shape[1], seed=i)
            mean_abs = x.to(torch.float64).abs().mean(dim=0)
            samples = x[:256].contiguous()
            cls.inputs[name] = (w, x, mean_abs, samples)
            jobs.append({"name": name, "kind": "awq", "weight": w, "meanAbs": mean_abs, "samples": samples, "rows": 256,
                         "out": w.shape[0], "in": w.shape[1], "bits": bits, "groupSize": group, "symmetric": sym,
                         "scaleGrid": 20, "clip": clip, "clipGrid": 10, "maxShrink": 0.5})
        # A shared input: three experts' gate/up over their own rows, one s from the moe input's means.
        ws = [proxy_tensor(f"model.layers.2.mlp.experts.{e}.{p}_proj.weight") for e in range(3) for p in ("gate", "up")]
        x = salient_rows(900, ws[0].shape[1], seed=9)
        rows = [x[e * 300:e * 300 + 200].contiguous() for e in range(3) for _ in range(2)]
        cls.shared = (ws, rows, x.to(torch.float64).abs().mean(dim=0))
        jobs.append({"name": "shared", "kind": "awq-shared", "meanAbs": cls.shared[2], "in": ws[0].shape[1], "scaleGrid": 20,
                     "members": [{"weight": w, "samples": r, "rows": r.shape[0], "out": w.shape[0], "bits": 4, "groupSize": 32, "symmetric": True} for w, r in zip(ws, rows)]})
        cls.oracle = run_awq_oracle(jobs)

    def test_fp16_nearest_is_round_half_even(self) -> None:
        x = torch.tensor([1.0, 1.0 + 2**-11, 1.0 + 3 * 2**-11, 2.0**-14, 65504.0, 0.1, 3.14159], dtype=torch.float64)
        got = fp16_nearest(x).to(torch.float64)
        self.assertEqual(got.tolist(), [1.0, 1.0, 1.0 + 2 * 2**-10, 2.0**-14, 65504.0, float(np.float16(0.1)), float(np.float16(3.14159))])

    def test_channel_scales_alpha_zero_is_one(self) -> None:
        s = awq_channel_scales(torch.rand(64, dtype=torch.float64) + 0.1, 0.0)
        self.assertTrue(bool((s.to(torch.float64) == 1.0).all()))

    def test_same_search_as_typescript(self) -> None:
        for name, tensor, bits, group, sym, clip in CASES:
            with self.subTest(name):
                w, x, mean_abs, samples = self.inputs[name]
                ref = self.oracle[name]
                got = awq_quantize(w, mean_abs, samples, bits, group, sym, 20, clip, 10, 0.5)
                self.assertEqual(got.alpha, float(ref["losses"][0]), f"{name}: alpha")
                np.testing.assert_array_equal(got.channel_scales.view(torch.int16).numpy().view(np.uint16), ref["s"])
                self.assertLess(abs(got.scale_loss - ref["losses"][1]) / ref["losses"][1], LOSS_RTOL)
                same = float((got.codes.codes.numpy() == ref["codes"]).mean())
                self.assertGreaterEqual(same, MIN_IDENTICAL, f"{name}: {same:.6f} of codes identical")
                self.assertLess(abs(got.final_loss - ref["losses"][2]) / ref["losses"][2], LOSS_RTOL)
                # And AWQ does its job: below RTN on held-out rows of the same distribution.
                held = x[512:]
                rtn = rtn_quantize(w, bits, group, sym)
                gw = w.shape[1] if group == "channel" else group
                deq_rtn = (rtn.codes.to(torch.float64) - (rtn.zeros.to(torch.float64) if rtn.zeros is not None else float(1 << (bits - 1))).repeat_interleave(gw, dim=1) if rtn.zeros is not None else rtn.codes.to(torch.float64) - float(1 << (bits - 1))) * rtn.scales.to(torch.float64).repeat_interleave(gw, dim=1)
                zeros = got.codes.zeros.numpy() if got.codes.zeros is not None else None
                deq_awq = effective(got.codes.codes.numpy(), got.codes.scales.view(torch.int16).numpy().view(np.uint16), zeros, got.channel_scales.view(torch.int16).numpy().view(np.uint16), bits, group)
                self.assertLess(output_error(held, w, deq_awq), output_error(held, w, deq_rtn), name)

    def test_output_blocks_do_not_change_the_result(self) -> None:
        """The output errors are formed a block of rows at a time (CHUNK_BYTES): any block size, same search."""
        import evoquant_torch.quant.awq as awq_mod

        w, x, mean_abs, samples = self.inputs["gate3g64"]
        whole = awq_quantize(w, mean_abs, samples, 3, 64, False, 20, True, 10, 0.5)
        saved = awq_mod.CHUNK_BYTES
        try:
            awq_mod.CHUNK_BYTES = 5000  # a few output rows per block
            blocked = awq_quantize(w, mean_abs, samples, 3, 64, False, 20, True, 10, 0.5)
        finally:
            awq_mod.CHUNK_BYTES = saved
        self.assertTrue(torch.equal(whole.codes.codes, blocked.codes.codes))
        self.assertTrue(torch.equal(whole.channel_scales, blocked.channel_scales))
        self.assertAlmostEqual(whole.final_loss, blocked.final_loss, delta=1e-9 * whole.final_loss)

    def test_shared_search_as_typescript(self) -> None:
        ws, rows, mean_abs = self.shared
        members = [AwqMember(w=w, samples=r, bits=4, group_size=32, symmetric=True) for w, r in zip(ws, rows)]
        s, alpha, losses = awq_search_shared_scales(members, mean_abs, 20)
        ref = self.oracle["shared"]
        self.assertEqual(alpha, float(ref["losses"][0]))
        np.testing.assert_array_equal(s.view(torch.int16).numpy().view(np.uint16), ref["s"])
        np.testing.assert_allclose(np.array(losses), ref["losses"][1:], rtol=LOSS_RTOL)
        self.assertGreater(alpha, 0.0, "salient channels make some alpha > 0 beat RTN")
        # With s fixed, each member searches only its clipping, as the TS does with channelScales.
        got = awq_quantize(ws[0], mean_abs, rows[0], 4, 32, True, 20, True, 10, 0.5, channel_scales=s)
        self.assertTrue(math.isnan(got.alpha))
        self.assertTrue(torch.equal(got.channel_scales, s))


if __name__ == "__main__":
    unittest.main()
