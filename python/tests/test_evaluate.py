"""evaluate: bits/byte, perplexity, top-1, KL against a cached reference and routing frequencies,
checked against the same quantities computed from transformers' own logits and routers."""
from __future__ import annotations

import math
import tempfile
import unittest
from pathlib import Path
from typing import Any
from unittest import mock

import torch

from evoquant_torch import evaluate as ev
from evoquant_torch.errors import GpuOutOfMemory
from evoquant_torch.text import even_windows

from .fixtures import export_proxy, have_node_proxy, hf_logits, make_checkpoint, make_tokenizer, reference_executor_metrics, stable_text
from .test_layers import hf_counts

torch.set_num_threads(1)
TEXT = ("It was the best of times, it was the worst of times; the age of wisdom — naïve café 東京. " * 12).encode()
SEQ, TOKENS = 24, 100


def hf_metrics(model_dir: Path, ids: torch.Tensor, ref_dir: Path | None = None) -> dict[str, float]:
    inputs, targets = ids[:, :-1], ids[:, 1:]
    lp = torch.log_softmax(hf_logits(model_dir, inputs).double(), -1)
    out = {"nats": float(-lp.gather(-1, targets[..., None]).sum()), "correct": float((lp.argmax(-1) == targets).sum())}
    if ref_dir is not None:
        r = torch.log_softmax(hf_logits(ref_dir, inputs).double(), -1)
        out["kl"] = float((r.exp() * (r - lp)).sum())
    return out


class EvalFixture(unittest.TestCase):
    """Text file, cache dir and request builder shared by the evaluate tests (no tests of its own)."""

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.text = self.dir / "eval.txt"
        self.text.write_bytes(TEXT)
        self.progress: list[dict[str, Any]] = []

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def request(self, model: Path, reference: Path | None = None, cap: int | None = None, batch: int = 2) -> dict[str, Any]:
        return {"kind": "evaluate", "model": str(model), "reference": str(reference) if reference else None,
                "text": {"files": [str(self.text)], "tokens": TOKENS, "seq": SEQ, "batch": batch},
                "cacheDir": str(self.dir / "cache"), "device": "cpu", "memoryCapBytes": cap}

    def windows(self) -> torch.Tensor:
        ids = torch.tensor(list(TEXT))
        return torch.stack([ids[s:s + SEQ + 1] for s in even_windows(len(TEXT), SEQ, TOKENS)])



class Evaluate(EvalFixture):
    def test_scores_match_transformers_and_kl_uses_the_cache(self) -> None:
        ref = make_checkpoint("llama", self.dir / "ref", seed=1)
        model = make_checkpoint("llama", self.dir / "model", seed=2)
        r = ev.evaluate(self.request(model, ref), self.progress.append)
        ids = self.windows()
        want = hf_metrics(model, ids, ref)
        tokens = ids.shape[0] * SEQ
        self.assertEqual((r["tokens"], r["bytes"]), (tokens, tokens))
        self.assertAlmostEqual(r["bitsPerByte"], want["nats"] / math.log(2) / tokens, delta=1e-6)
        self.assertLess(abs(r["perplexity"] / math.exp(want["nats"] / tokens) - 1), 1e-7)
        self.assertEqual(r["top1"], want["correct"] / tokens)
        self.assertGreater(want["kl"], 0.01)
        self.assertAlmostEqual(r["klBitsPerToken"], want["kl"] / math.log(2) / tokens, delta=1e-6)
        self.assertEqual(r["expertFrequency"], [])
        self.assertEqual(r["weightBytes"], (model / "model.safetensors").stat().st_size - _header_size(model / "model.safetensors"))
        self.assertIsNone(r["deviceTotalBytes"])
        self.assertGreater(r["peakMemoryBytes"], 0)
        stages = [(p["stage"], p["done"], p["total"]) for p in self.progress]
        self.assertEqual(stages[:4], [("load", 0, 2), ("reference", 1, 2), ("reference", 2, 2), ("evaluate", 1, 2)])
        caches = list((self.dir / "cache").iterdir())
        self.assertEqual(len(caches), 1)
        # A later evaluation (another model) reuses the cached reference, never recomputes it.
        other = make_checkpoint("llama", self.dir / "other", seed=3)
        with mock.patch.object(ev.ReferenceCache, "build", side_effect=AssertionError("reference recomputed")):
            r2 = ev.evaluate(self.request(other, ref), lambda m: None)
        self.assertAlmostEqual(r2["klBitsPerToken"], hf_metrics(other, ids, ref)["kl"] / math.log(2) / tokens, delta=1e-6)
        # Against itself: no divergence.
        r3 = ev.evaluate(self.request(ref, ref), lambda m: None)
        self.assertLess(r3["klBitsPerToken"], 1e-9)
        self.assertEqual(len(list((self.dir / "cache").iterdir())), 1)

    def test_moe_routing_frequency_matches_transformers(self) -> None:
        model = make_checkpoint("qwen3_moe", self.dir / "moe", seed=4)
        r = ev.evaluate(self.request(model), lambda m: None)
        ids = self.windows()
        counts = hf_counts(str(model), ids[:, :-1]).double()
        want = (counts / counts.sum(1, keepdim=True)).tolist()
        for layer, wl in zip(r["expertFrequency"], want):
            for a, b in zip(layer, wl):
                self.assertAlmostEqual(a, b, places=12)
        self.assertIsNone(r["klBitsPerToken"])

    def test_tokenizer_json_bits_per_byte(self) -> None:
        model = make_checkpoint("qwen2", self.dir / "tok", seed=5)
        make_tokenizer(model, TEXT.decode() * 2)
        r = ev.evaluate(self.request(model), lambda m: None)
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(model / "tokenizer.json"))
        all_ids = tok.encode(TEXT.decode(), add_special_tokens=False).ids
        starts = even_windows(len(all_ids), SEQ, TOKENS)
        ids = torch.tensor([all_ids[s:s + SEQ + 1] for s in starts])
        target_bytes = sum(len(tok.id_to_token(i)) for i in ids[:, 1:].reshape(-1).tolist())
        self.assertEqual(r["bytes"], target_bytes)
        self.assertGreater(r["bytes"], r["tokens"])
        self.assertAlmostEqual(r["bitsPerByte"], hf_metrics(model, ids)["nats"] / math.log(2) / target_bytes, delta=1e-6)

    def test_memory_cap_is_a_typed_out_of_memory(self) -> None:
        model = make_checkpoint("mixtral", self.dir / "cap", seed=6)
        r = ev.evaluate(self.request(model), lambda m: None)
        peak = r["peakMemoryBytes"]
        with self.assertRaisesRegex(GpuOutOfMemory, r"needs \d+ bytes \(\d+\.\d+ GiB\) held at once, over the memory cap of \d+ bytes"):
            ev.evaluate(self.request(model, cap=peak // 2), lambda m: None)
        self.assertEqual(ev.evaluate(self.request(model, cap=peak), lambda m: None)["bitsPerByte"], r["bitsPerByte"])


class ProxyAgainstReferenceExecutor(EvalFixture):
    def test_exported_proxy_scores_as_the_reference_executor(self) -> None:
        # Windows, bits/byte, top-1 and routing frequency of the torch executor on the exported proxy
        # against evoquant's own reference executor on the same corpus.
        if not have_node_proxy():
            self.skipTest("needs node_modules (tsx) and artifacts/proxy")
        corpus = self.dir / "corpus.txt"
        corpus.write_bytes(stable_text(30000))
        out = export_proxy(self.dir / "proxy")
        want = reference_executor_metrics(self.dir, corpus, 64, 1024)
        got = ev.evaluate({**self.request(out), "text": {"files": [str(corpus)], "tokens": 1024, "seq": 64, "batch": 8}}, lambda m: None)
        print(f"\n  proxy: bits/byte torch {got['bitsPerByte']:.9f}, reference executor {want['bitsPerByte']:.9f}")
        self.assertEqual(got["tokens"], want["tokens"])
        self.assertLess(abs(got["bitsPerByte"] - want["bitsPerByte"]), 1e-5)
        self.assertEqual(got["top1"], want["top1"])
        self.assertEqual(got["expertFrequency"], want["expertFrequency"])


class KvCacheEvaluate(EvalFixture):
    """`kvCache` on the evaluate request: the model attends over the cache the policy stores, the reference without one."""

    def test_kl_against_the_same_checkpoint_is_the_cache_cost(self) -> None:
        model = make_checkpoint("llama", self.dir / "model", seed=2)
        int2 = {"keys": {"format": "int2", "axis": "token", "groupSize": 16}, "values": {"format": "int2", "axis": "channel", "groupSize": 16}}
        plain = ev.evaluate(self.request(model, model), lambda m: None)
        cached = ev.evaluate({**self.request(model, model), "kvCache": int2}, lambda m: None)
        windowed = ev.evaluate({**self.request(model, model), "kvCache": {**int2, "recentWindow": SEQ}}, lambda m: None)
        self.assertLess(plain["klBitsPerToken"], 1e-9)
        self.assertGreater(cached["klBitsPerToken"], 1e-3)
        # Every token inside the bf16 window: nothing quantized is read; what is left is float32 noise of the
        # explicit attention path against scaled_dot_product_attention's.
        self.assertLess(windowed["klBitsPerToken"], 1e-6)
        self.assertNotEqual(cached["bitsPerByte"], plain["bitsPerByte"])

    def test_a_bad_policy_names_the_field(self) -> None:
        from evoquant_torch.errors import InvalidRequest
        from evoquant_torch.protocol import validate_evaluate

        req = {**self.request(self.dir / "m"), "kvCache": {"keys": {"format": "int4", "axis": "token", "groupSize": 24}}}
        with self.assertRaisesRegex(InvalidRequest, r"^kvCache\.keys\.groupSize: "):
            validate_evaluate(req)


class LargeVocabCache(EvalFixture):
    def test_float16_reference_cache_keeps_kl_close(self) -> None:
        # Above CACHE_F32_LIMIT the cache is stored in float16 (a 150k vocab makes float32 tens of GB).
        ref = make_checkpoint("mixtral", self.dir / "ref", seed=1)
        model = make_checkpoint("mixtral", self.dir / "model", seed=2)
        exact = ev.evaluate(self.request(model, ref), lambda m: None)["klBitsPerToken"]
        with mock.patch.object(ev, "CACHE_F32_LIMIT", 0):
            half = ev.evaluate({**self.request(model, ref), "cacheDir": str(self.dir / "cache16")}, lambda m: None)["klBitsPerToken"]
        meta = next((self.dir / "cache16").iterdir()) / "meta.json"
        self.assertIn('"dtype": "float16"', meta.read_text())
        self.assertNotEqual(half, exact)
        self.assertLess(abs(half / exact - 1), 1e-2)


def _header_size(path: Path) -> int:
    with path.open("rb") as f:
        return 8 + int.from_bytes(f.read(8), "little")


if __name__ == "__main__":
    unittest.main()
