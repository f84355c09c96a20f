"""The quantize request end to end on tiny random checkpoints (python/tests/fixtures.py): strict reload
of the output, RTN codes in the written tensors identical to rtn.ts-conformant quantization of the
source weights, expert balancing, reuse, kill-and-resume giving a bit-identical checkpoint, typed
refusals and the memory cap."""
from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import torch
from safetensors.torch import load_file

from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.errors import GpuOutOfMemory, InvalidCheckpoint, InvalidRequest, Terminated, UnsupportedRecipe
from evoquant_torch.pack import pack_weight_codes
from evoquant_torch.quant.rtn import rtn_quantize
from evoquant_torch import writer
from evoquant_torch.quantize import run

from .fixtures import make_checkpoint, stable_text

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]

GPTQ = {"kind": "gptq", "damp": 0.01, "blockSize": 32, "actOrder": True}


def spec(bits: int, gs: int | str = 32, sym: bool = True, method: dict | None = None, fmt: str = "int") -> dict:
    return {"bits": bits, "format": fmt, "groupSize": gs, "symmetric": sym, "method": method or {"kind": "rtn"}}


def plan_for(ckpt_dir: Path, by_role: dict[str, dict], name: str = "test") -> dict:
    arch = Checkpoint.open(str(ckpt_dir)).arch
    modules = {}
    for m in arch.modules():
        if m["role"] == "embeddings":
            continue
        modules[m["name"]] = by_role.get(m["role"], spec(16, "channel"))
    digest = json.dumps(by_role, sort_keys=True)
    return {"recipeName": name, "recipeHash": f"{name}-{abs(hash(digest)) % 10**8}", "modules": modules}


class Driver(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        text = stable_text(12000).decode("utf-8", "ignore")
        self.text = self.dir / "calib.txt"
        self.text.write_text(text, encoding="utf-8")

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def request(self, ckpt: Path, out: Path, plan: dict, **cal: object) -> dict:
        calibration = {"files": [str(self.text)], "tokens": 512, "seq": 64, "batch": 4, "minTokensPerExpert": 0, "mode": "sequential", **cal}
        return {"kind": "quantize", "checkpoint": str(ckpt), "output": str(out), "plan": plan, "calibration": calibration, "device": "cpu", "memoryCapBytes": None}

    def test_moe_gptq_sequential_balanced_reload_and_reuse(self) -> None:
        ckpt = make_checkpoint("qwen3_moe", self.dir / "src", seed=1)
        plan = plan_for(ckpt, {"attn_q": spec(4, 32, False), "attn_k": spec(4), "attn_v": spec(8, "channel"), "attn_o": spec(4, 32, True, GPTQ),
                               "expert_gate": spec(4, 32, True, GPTQ), "expert_up": spec(3, 32, False, GPTQ), "expert_down": spec(2, 32, True, GPTQ),
                               "lm_head": spec(8, "channel", fmt="fp8")})
        progress: list[dict] = []
        out = self.dir / "out"
        res = run(self.request(ckpt, out, plan, minTokensPerExpert=300), progress.append)
        self.assertFalse(res["reused"])
        self.assertEqual(res["layers"], 2)
        self.assertEqual(len(res["routedCounts"]), 2)
        self.assertEqual([len(r) for r in res["routedCounts"]], [4, 4])
        self.assertEqual(sum(res["routedCounts"][0]), 512 * 2)  # top-2 of 512 tokens
        low = [[max(0, 300 - c) for c in layer] for layer in res["routedCounts"]]
        self.assertEqual(res["coverage"]["added"], sum(map(sum, low)))  # every expert topped up to 300 tokens
        self.assertGreater(res["coverage"]["added"], 0)
        self.assertEqual(res["coverage"]["minRouted"], min(map(min, res["routedCounts"])))
        self.assertEqual([p["done"] for p in progress if p["stage"] == "quantize"], [0, 1, 2])
        self.assertGreater(res["peakMemoryBytes"], 0)
        # Strict reload through the executor's own reader (compressed-tensors tensors dequantized).
        q = Checkpoint.open(str(out))
        self.assertTrue(q.quantized)
        w0 = q.layer(0, "cpu")
        self.assertEqual(tuple(w0["experts.3.down"].shape), (64, 32))
        meta = json.loads((out / "evoquant-quantization.json").read_text())
        self.assertEqual(meta["recipeHash"], plan["recipeHash"])
        self.assertFalse((out.parent / "out.partial").exists())
        cfg = json.loads((out / "config.json").read_text())["quantization_config"]
        self.assertIn("model.layers.0.mlp.gate", cfg["ignore"])
        self.assertEqual(cfg["format"], "mixed-precision")
        # A quantized checkpoint is not quantized again.
        with self.assertRaises(InvalidCheckpoint):
            run(self.request(out, self.dir / "twice", plan), lambda m: None)
        # Same recipe again: reused, nothing rewritten.
        mtime = (out / "model.safetensors").stat().st_mtime_ns
        again = run(self.request(ckpt, out, plan, minTokensPerExpert=300), lambda m: None)
        self.assertTrue(again["reused"])
        self.assertEqual(again["storedBytes"], res["storedBytes"])
        self.assertEqual((out / "model.safetensors").stat().st_mtime_ns, mtime)

    def test_dense_rtn_codes_are_the_conformant_codes(self) -> None:
        ckpt = make_checkpoint("llama", self.dir / "src", seed=2)
        plan = plan_for(ckpt, {"attn_q": spec(4, 32, False), "attn_k": spec(2, "channel"), "attn_v": spec(8, 64, False), "attn_o": spec(4),
                               "dense_mlp": spec(3, 32, False)})
        out = self.dir / "out"
        res = run(self.request(ckpt, out, plan), lambda m: None)
        self.assertEqual(res["routedCounts"], [])
        stored = load_file(str(out / "model.safetensors"))
        src = Checkpoint.open(str(ckpt))
        checked = 0
        for i in range(src.arch.layers):
            w = src.layer(i, "cpu")
            for key, (bits, gs, sym) in {"q": (4, 32, False), "k": (2, "channel", True), "mlp.down": (3, 32, False)}.items():
                name = src.arch.module_name(i, key)
                g = rtn_quantize(w[key], bits, gs, sym)
                self.assertTrue(torch.equal(stored[f"{name}.weight_packed"], pack_weight_codes(g.codes, bits)), name)
                self.assertTrue(torch.equal(stored[f"{name}.weight_scale"], g.scales.to(torch.float32)), name)
                checked += 1
        self.assertEqual(checked, 6)
        self.assertNotIn("lm_head.weight_packed", stored)  # bf16 head: kept as it is
        self.assertTrue(torch.equal(stored["lm_head.weight"], src.raw("lm_head.weight")))

    def test_kill_and_resume_gives_the_same_checkpoint(self) -> None:
        ckpt = make_checkpoint("mixtral", self.dir / "src", seed=3)
        plan = plan_for(ckpt, {"attn_q": spec(4, 32, True, GPTQ), "attn_k": spec(4, 32, True, GPTQ), "attn_v": spec(4, 32, True, GPTQ), "attn_o": spec(4, 32, True, GPTQ),
                               "expert_gate": spec(4, 32, True, GPTQ), "expert_up": spec(4, 32, True, GPTQ), "expert_down": spec(4, 32, False, GPTQ)})
        fresh = run(self.request(ckpt, self.dir / "fresh", plan, minTokensPerExpert=64), lambda m: None)

        def killer(msg: dict) -> None:
            if msg["stage"] == "quantize" and msg["done"] == 1:
                raise Terminated()

        out = self.dir / "out"
        with self.assertRaises(Terminated):
            run(self.request(ckpt, out, plan, minTokensPerExpert=64), killer)
        self.assertFalse(out.exists())
        self.assertTrue((self.dir / "out.partial" / "layer-00000.json").exists())
        self.assertFalse((self.dir / "out.partial" / "layer-00001.json").exists())
        resumed = run(self.request(ckpt, out, plan, minTokensPerExpert=64), lambda m: None)
        self.assertEqual(resumed["resumedLayers"], 1)
        self.assertEqual(resumed["routedCounts"], fresh["routedCounts"])
        a, b = load_file(str(self.dir / "fresh" / "model.safetensors")), load_file(str(out / "model.safetensors"))
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)
        # A partial dir of another recipe is ours: removed and restarted.
        with self.assertRaises(Terminated):
            run(self.request(ckpt, self.dir / "other", plan, minTokensPerExpert=64), killer)
        plan2 = {**plan, "recipeHash": plan["recipeHash"] + "-b"}
        res2 = run(self.request(ckpt, self.dir / "other", plan2, minTokensPerExpert=64), lambda m: None)
        self.assertEqual(res2["resumedLayers"], 0)

    def test_sharded_output_above_the_threshold(self) -> None:
        ckpt = make_checkpoint("qwen2", self.dir / "src", seed=5)
        plan = plan_for(ckpt, {"attn_q": spec(4, 32, False), "attn_o": spec(8, "channel", fmt="fp8"), "dense_mlp": spec(2, 32, True, GPTQ)})
        run(self.request(ckpt, self.dir / "single", plan), lambda m: None)
        old = writer.SHARD_THRESHOLD
        writer.SHARD_THRESHOLD = 1  # every checkpoint is "large"
        try:
            res = run(self.request(ckpt, self.dir / "sharded", plan), lambda m: None)
        finally:
            writer.SHARD_THRESHOLD = old
        out = self.dir / "sharded"
        self.assertFalse((out / "model.safetensors").exists())
        index = json.loads((out / "model.safetensors.index.json").read_text())
        shards = sorted(set(index["weight_map"].values()))
        self.assertEqual(len(shards), 3)  # two layers + the rest
        self.assertEqual(res["storedBytes"], sum((out / s).stat().st_size for s in shards))
        single = load_file(str(self.dir / "single" / "model.safetensors"))
        self.assertEqual(sorted(index["weight_map"]), sorted(single))
        for shard in shards:
            for k, v in load_file(str(out / shard)).items():
                self.assertTrue(torch.equal(v, single[k]), k)
        a, b = Checkpoint.open(str(out)), Checkpoint.open(str(self.dir / "single"))
        self.assertTrue(torch.equal(a.layer(1, "cpu")["mlp.down"], b.layer(1, "cpu")["mlp.down"]))

    def test_refusals_and_memory_cap(self) -> None:
        ckpt = make_checkpoint("qwen2", self.dir / "src", seed=4)
        awq = plan_for(ckpt, {"attn_q": spec(4, 32, True, {"kind": "awq", "scaleGrid": 20, "clip": True, "clipGrid": 10, "maxShrink": 0.5})})
        with self.assertRaises(UnsupportedRecipe):
            run(self.request(ckpt, self.dir / "a", awq), lambda m: None)
        grouped_fp8 = plan_for(ckpt, {"attn_q": spec(8, 32, fmt="fp8")})
        with self.assertRaises(UnsupportedRecipe):
            run(self.request(ckpt, self.dir / "b", grouped_fp8), lambda m: None)
        plan = plan_for(ckpt, {"dense_mlp": spec(4, 32, True, GPTQ)})
        missing = dict(plan, modules={k: v for k, v in plan["modules"].items() if not k.endswith("q_proj")})
        with self.assertRaises(InvalidRequest):
            run(self.request(ckpt, self.dir / "c", missing), lambda m: None)
        req = self.request(ckpt, self.dir / "d", plan)
        req["memoryCapBytes"] = 200_000
        with self.assertRaises(GpuOutOfMemory):
            run(req, lambda m: None)
        self.assertFalse((self.dir / "d").exists())


if __name__ == "__main__":
    unittest.main()
