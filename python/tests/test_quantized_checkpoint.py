"""A compressed-tensors checkpoint written by the quantize driver (pyquant's quantize.py) reads back
through checkpoint.py (dequantized per layer via quant/dequant.py) to the same logits as transformers
5.20 + compressed-tensors 0.17 decompressing it, and evaluates against its original as reference."""
from __future__ import annotations

import importlib.util
import tempfile
import unittest
from pathlib import Path
from typing import Any

import torch

from evoquant_torch import evaluate as ev
from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.describe import describe

from .fixtures import make_checkpoint
from .test_layers import streamed_logits

torch.set_num_threads(1)
HAVE_QUANTIZE = importlib.util.find_spec("evoquant_torch.quantize") is not None
TEXT = ("Whan that Aprille with his shoures soote the droghte of March hath perced to the roote. " * 30).encode()


def plan(ckpt: Path) -> dict[str, Any]:
    modules: dict[str, Any] = {}
    for m in describe({"checkpoint": str(ckpt)})["modules"]:
        if m["role"] == "embeddings":
            continue
        keep = m["role"] == "router"
        modules[m["name"]] = {"bits": 16 if keep else 4, "format": "int", "groupSize": "channel" if keep else 32,
                              "symmetric": m["role"] != "attn_v", "method": {"kind": "rtn"}}
    return {"recipeName": "int4-g32", "recipeHash": "int4-g32-test", "modules": modules}


@unittest.skipUnless(HAVE_QUANTIZE, "needs pyquant's evoquant_torch.quantize (merged separately)")
class QuantizedCheckpoint(unittest.TestCase):
    def test_reads_back_as_transformers_decompresses_it(self) -> None:
        from transformers import AutoModelForCausalLM, CompressedTensorsConfig

        from evoquant_torch.quantize import run

        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            text = d / "t.txt"
            text.write_bytes(TEXT)
            ids = torch.randint(0, 256, (2, 32), generator=torch.Generator().manual_seed(0))
            for kind in ("qwen3_moe", "mixtral", "llama"):
                src = make_checkpoint(kind, d / f"{kind}-src", seed=1)
                out = d / f"{kind}-out"
                run({"kind": "quantize", "checkpoint": str(src), "output": str(out), "plan": plan(src), "device": "cpu", "memoryCapBytes": None,
                     "calibration": {"files": [str(text)], "tokens": 256, "seq": 32, "batch": 4, "minTokensPerExpert": 0, "mode": "sequential"}},
                    lambda m: None)
                q = Checkpoint.open(str(out))
                self.assertTrue(q.quantized)
                mine, _ = streamed_logits(q, ids)
                hf = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32, quantization_config=CompressedTensorsConfig(dequantize=True))
                with torch.no_grad():
                    ref = hf.float().eval()(input_ids=ids).logits
                diff = float((mine - ref).abs().max())
                print(f"\n  {kind} int4 g32 (compressed-tensors): max |Δlogit| vs transformers = {diff:.3g}")
                self.assertLessEqual(diff, 1e-4)
                r = ev.evaluate({"kind": "evaluate", "model": str(out), "reference": str(src), "cacheDir": str(d / "cache"), "device": "cpu",
                                 "memoryCapBytes": None, "text": {"files": [str(text)], "tokens": 256, "seq": 32, "batch": 4}}, lambda m: None)
                base = ev.evaluate({"kind": "evaluate", "model": str(src), "reference": str(src), "cacheDir": str(d / "cache"), "device": "cpu",
                                    "memoryCapBytes": None, "text": {"files": [str(text)], "tokens": 256, "seq": 32, "batch": 4}}, lambda m: None)
                self.assertGreater(r["klBitsPerToken"], 1e-4)  # quantization is real
                self.assertLess(base["klBitsPerToken"], 1e-9)
                self.assertLess(r["weightBytes"], base["weightBytes"])

    def test_compressed_tensors_are_checked_strictly(self) -> None:
        from safetensors.torch import load_file, save_file

        from evoquant_torch.errors import InvalidCheckpoint
        from evoquant_torch.quantize import run

        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            text = d / "t.txt"
            text.write_bytes(TEXT)
            src = make_checkpoint("mixtral", d / "src", seed=2)
            out = d / "out"
            run({"kind": "quantize", "checkpoint": str(src), "output": str(out), "plan": plan(src), "device": "cpu", "memoryCapBytes": None,
                 "calibration": {"files": [str(text)], "tokens": 256, "seq": 32, "batch": 4, "minTokensPerExpert": 0, "mode": "original"}},
                lambda m: None)
            sd = load_file(str(out / "model.safetensors"))
            name = "model.layers.1.block_sparse_moe.experts.2.w2.weight_packed"
            good = sd[name]
            sd[name] = good[:-1].contiguous()
            save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
            with self.assertRaisesRegex(InvalidCheckpoint, rf"tensor {name.replace('.', '[.]')} has shape \[{good.shape[0] - 1}, {good.shape[1]}\], expected \[{good.shape[0]}, \*\]"):
                Checkpoint.open(str(out))
            del sd[name]
            save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
            with self.assertRaisesRegex(InvalidCheckpoint, f"missing tensor {name.replace('.', '[.]')}"):
                Checkpoint.open(str(out))


if __name__ == "__main__":
    unittest.main()
