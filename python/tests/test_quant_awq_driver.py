"""AWQ and AutoRound through the quantize request on tiny random checkpoints: the AWQ scales are folded
out of the stored form (awq-fold.ts: norms, the bf16 router's columns, up_proj's rows), so the written
compressed-tensors checkpoint reloads strictly, transformers + compressed-tensors reads it to the same
logits as our evaluate, and what awq-fold refuses is UnsupportedRecipe before any work."""
from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch
from safetensors.torch import load_file

from evoquant_torch import evaluate as ev
from evoquant_torch.architectures import linear_keys
from evoquant_torch.awq_layer import fold_layer
from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.errors import InvalidRequest, Terminated, UnsupportedRecipe
from evoquant_torch.layers import layer_forward
from evoquant_torch.pack import module_tensors
from evoquant_torch.quant.awq import fp16_nearest
from evoquant_torch.quant.rtn import rtn_quantize
from evoquant_torch.quantize import run, weights_from_stored

from .fixtures import make_checkpoint, stable_text
from .test_layers import streamed_logits
from .test_quant_driver import REPO, plan_for, spec

torch.set_num_threads(1)

AWQ_SHARED = {"kind": "awq", "scaleGrid": 10, "clip": True, "clipGrid": 5, "maxShrink": 0.5, "scales": "shared-input"}
AWQ_OWN = {"kind": "awq", "scaleGrid": 10, "clip": True, "clipGrid": 5, "maxShrink": 0.5}
AUTOROUND = {"kind": "autoround", "iterations": 20, "learningRate": 0.05, "minMax": True}


def awq_roles(down: dict | None = None) -> dict[str, dict]:
    a = spec(4, 32, True, AWQ_SHARED)
    return {"attn_q": a, "attn_k": a, "attn_v": spec(4, 32, False, AWQ_SHARED), "attn_o": spec(4, 32),
            "expert_gate": a, "expert_up": a, "expert_down": spec(4, 32, True, down or AWQ_OWN),
            "dense_mlp": a, "router": spec(16, "channel"), "lm_head": spec(4, 32, False, AWQ_OWN)}


class AwqDriver(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.text = self.dir / "calib.txt"
        self.text.write_bytes(stable_text(12000))

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def request(self, ckpt: Path, out: Path, plan: dict) -> dict:
        return {"kind": "quantize", "checkpoint": str(ckpt), "output": str(out), "plan": plan, "device": "cpu", "memoryCapBytes": None,
                "calibration": {"files": [str(self.text)], "tokens": 512, "seq": 64, "batch": 4, "minTokensPerExpert": 8, "mode": "sequential"}}

    def evaluate(self, model: Path, ref: Path) -> dict:
        return ev.evaluate({"kind": "evaluate", "model": str(model), "reference": str(ref), "cacheDir": str(self.dir / "cache"), "device": "cpu",
                            "memoryCapBytes": None, "text": {"files": [str(self.text)], "tokens": 512, "seq": 64, "batch": 4}}, lambda m: None)

    def test_awq_folded_checkpoint_reads_back_as_transformers_decompresses_it(self) -> None:
        from transformers import AutoModelForCausalLM, CompressedTensorsConfig

        ids = torch.randint(0, 256, (2, 32), generator=torch.Generator().manual_seed(0))
        for kind in ("qwen3_moe", "mixtral", "llama"):
            with self.subTest(kind):
                src = make_checkpoint(kind, self.dir / f"{kind}-src", seed=3)
                out = self.dir / f"{kind}-awq"
                # down_proj: AWQ on Qwen3-MoE / Llama (s folds into up_proj's rows), AutoRound on Mixtral.
                roles = awq_roles(AUTOROUND if kind == "mixtral" else None)
                run(self.request(src, out, plan_for(src, roles, f"awq-{kind}")), lambda m: None)
                q = Checkpoint.open(str(out))
                self.assertTrue(q.quantized)
                # The norms took 1/s: the stored ones differ from the source's.
                a, b = load_file(str(src / "model.safetensors")), load_file(str(out / "model.safetensors"))
                norm = "model.layers.0.input_layernorm.weight"
                self.assertFalse(torch.equal(a[norm], b[norm]), "input_layernorm was not folded (alpha 0 everywhere?)")
                self.assertEqual(a[norm].dtype, b[norm].dtype)
                # lm_head AWQ (the fixtures' heads are untied): its s folded into the final norm.
                self.assertIn("lm_head.weight_packed", b)
                self.assertFalse(torch.equal(a["model.norm.weight"], b["model.norm.weight"]))
                mine, _ = streamed_logits(q, ids)
                hf = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32, quantization_config=CompressedTensorsConfig(dequantize=True))
                with torch.no_grad():
                    ref = hf.float().eval()(input_ids=ids).logits
                diff = float((mine - ref).abs().max())
                rtn_out = self.dir / f"{kind}-rtn"
                run(self.request(src, rtn_out, plan_for(src, {r: spec(4, 32, s["symmetric"]) if s["bits"] != 16 else s for r, s in roles.items()}, f"rtn-{kind}")), lambda m: None)
                kl_awq, kl_rtn = self.evaluate(out, src)["klBitsPerToken"], self.evaluate(rtn_out, src)["klBitsPerToken"]
                print(f"\n  {kind} AWQ int4 g32 folded: max |Δlogit| vs transformers = {diff:.3g}; KL bits/token AWQ {kl_awq:.4g} vs RTN {kl_rtn:.4g}")
                self.assertLessEqual(diff, 1e-4)
                self.assertGreater(kl_awq, 1e-5)
                self.assertLess(kl_awq, kl_rtn, "AWQ does its job end to end")

    def test_fold_preserves_the_layer(self) -> None:
        """With s forced (random in [0.5, 2]) and 8-bit codes of W·diag(s), the folded stored layer computes the
        original layer up to 8-bit error; left unfolded it is far off."""
        src = make_checkpoint("qwen3_moe", self.dir / "src", seed=4)
        ckpt = Checkpoint.open(str(src))
        arch = ckpt.arch
        w = ckpt.layer(0, torch.device("cpu"))
        g = torch.Generator().manual_seed(5)
        specs = {k: spec(16, "channel") if k == "router" else spec(8, 32) for k in linear_keys(arch)}
        s_attn = fp16_nearest(torch.rand(arch.hidden, generator=g, dtype=torch.float64) * 1.5 + 0.5)
        s_moe = fp16_nearest(torch.rand(arch.hidden, generator=g, dtype=torch.float64) * 1.5 + 0.5)
        s_down = fp16_nearest(torch.rand(arch.moe_intermediate, generator=g, dtype=torch.float64) * 1.5 + 0.5)
        scales = {}
        for k in linear_keys(arch):
            if k in ("q", "k", "v"):
                scales[k] = s_attn
            elif k.startswith("experts.") and not k.endswith(".down"):
                scales[k] = s_moe
            elif k.endswith(".down"):
                scales[k] = s_down
        tensors = {arch.tensor_name(0, k): ckpt.raw(arch.tensor_name(0, k)) for k in arch.layer_shapes() if k not in specs}
        for k in linear_keys(arch):
            name = arch.module_name(0, k)
            if k == "router":
                tensors[name + ".weight"] = ckpt.raw(name + ".weight")
                continue
            ws = w[k].to(torch.float64) * scales[k].to(torch.float64) if k in scales else w[k]
            tensors.update(module_tensors(name, specs[k], rtn_quantize(ws.to(torch.float32), 8, 32, True)))
        unfolded = weights_from_stored(arch, 0, dict(tensors), specs, torch.device("cpu"))
        fold_layer(arch, 0, tensors, specs, scales)
        folded = weights_from_stored(arch, 0, tensors, specs, torch.device("cpu"))
        h = torch.randn(2, 16, arch.hidden, generator=g)
        want = layer_forward(arch, w, h)
        err_folded = float((layer_forward(arch, folded, h) - want).norm() / (want - h).norm())
        err_unfolded = float((layer_forward(arch, unfolded, h) - want).norm() / (want - h).norm())
        print(f"\n  fold: relative layer error folded {err_folded:.3g}, unfolded {err_unfolded:.3g}")
        self.assertLess(err_folded, 0.05)
        self.assertGreater(err_unfolded, 5 * err_folded)

    def test_kill_and_resume_gives_the_same_folded_checkpoint(self) -> None:
        """A retry recomputes the calibration inputs through the finished layers as stored (folded norms and
        router): the resumed checkpoint is the fresh one, tensor for tensor."""
        src = make_checkpoint("qwen3_moe", self.dir / "src", seed=8)
        plan = plan_for(src, awq_roles(AUTOROUND), "resume")
        run(self.request(src, self.dir / "fresh", plan), lambda m: None)

        def killer(msg: dict) -> None:
            if msg["stage"] == "quantize" and msg["done"] == 1:
                raise Terminated()

        out = self.dir / "out"
        with self.assertRaises(Terminated):
            run(self.request(src, out, plan), killer)
        resumed = run(self.request(src, out, plan), lambda m: None)
        self.assertEqual(resumed["resumedLayers"], 1)
        a, b = load_file(str(self.dir / "fresh" / "model.safetensors")), load_file(str(out / "model.safetensors"))
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)

    def test_method_fields_are_validated(self) -> None:
        src = make_checkpoint("llama", self.dir / "src", seed=7)
        bad = {
            "scaleGrid 1": {**AWQ_SHARED, "scaleGrid": 1},
            "clip not a boolean": {**AWQ_SHARED, "clip": 1},
            "maxShrink 0": {**AWQ_SHARED, "maxShrink": 0},
            "unknown scales": {**AWQ_SHARED, "scales": "per-tensor"},
            "missing clipGrid": {k: v for k, v in AWQ_SHARED.items() if k != "clipGrid"},
            "autoround with scales": {**AUTOROUND, "scales": "shared-input"},
            "autoround learningRate 0.6": {**AUTOROUND, "learningRate": 0.6},
            "autoround iterations 0": {**AUTOROUND, "iterations": 0},
        }
        for what, method in bad.items():
            with self.subTest(what):
                plan = plan_for(src, {"dense_mlp": spec(4, 32, True, method)}, "bad")
                with self.assertRaises(InvalidRequest):
                    run(self.request(src, self.dir / "out", plan), lambda m: None)
                self.assertFalse((self.dir / "out").exists())

    def test_what_awq_fold_refuses(self) -> None:
        src = make_checkpoint("llama", self.dir / "src", seed=6)
        cases = {
            "o_proj": {**awq_roles(), "attn_o": spec(4, 32, True, AWQ_OWN)},
            "per-module on a shared input": {**awq_roles(), "attn_k": spec(4, 32, True, AWQ_OWN)},
            "a non-AWQ quantized reader": {**awq_roles(), "attn_v": spec(4, 32)},
            "another alpha grid": {**awq_roles(), "dense_mlp": spec(4, 32, True, {**AWQ_SHARED, "scaleGrid": 20})},
        }
        # A dense MLP's gate and up share one spec by role; give up its own grid through the plan.
        for what, roles in cases.items():
            with self.subTest(what):
                plan = plan_for(src, roles, "refused")
                if what == "another alpha grid":
                    plan["modules"]["model.layers.0.mlp.up_proj"] = spec(4, 32, True, AWQ_SHARED)
                with self.assertRaises(UnsupportedRecipe):
                    run(self.request(src, self.dir / "out", plan), lambda m: None)
                self.assertFalse((self.dir / "out").exists())
                self.assertFalse((self.dir / "out.partial").exists())


if __name__ == "__main__":
    unittest.main()
