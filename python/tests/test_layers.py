"""THE loading conformance test: logits streamed layer by layer through checkpoint.py + layers.py equal
transformers' own float32 logits on every fixture architecture and storage layout (max |Δ| ≤ 1e-4)."""
from __future__ import annotations

import dataclasses
import tempfile
import unittest
from pathlib import Path

import torch

from evoquant_torch.architectures import ArchSpec
from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.layers import embed_tokens, head_logits, layer_forward

from .fixtures import export_proxy, have_node_proxy, hf_logits, make_checkpoint

torch.set_num_threads(1)
TOL = 1e-4


def streamed_logits(ckpt: Checkpoint, ids: torch.Tensor, arch: ArchSpec | None = None, capture: object | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    a = arch or ckpt.arch
    counts = torch.zeros((a.layers, max(a.experts, 1)), dtype=torch.long)
    with torch.no_grad():
        h = embed_tokens(ckpt.embed("cpu"), ids)
        for i in range(a.layers):
            h = layer_forward(a, ckpt.layer(i, "cpu"), h, capture=capture, routed_counts=counts[i] if a.moe else None)
        return head_logits(a, ckpt.final_norm("cpu"), ckpt.lm_head("cpu"), h), counts


def hf_counts(dir: str, ids: torch.Tensor) -> torch.Tensor:
    """Tokens per expert per layer as transformers routes them (its router modules' top-k)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(dir, dtype=torch.float32).eval()
    seen: list[torch.Tensor] = []
    hooks = [layer.mlp.gate.register_forward_hook(lambda m, i, o: seen.append(o[2])) for layer in model.model.layers]
    with torch.no_grad():
        model(input_ids=ids)
    for h in hooks:
        h.remove()
    e = model.config.num_local_experts if hasattr(model.config, "num_local_experts") else model.config.num_experts
    return torch.stack([torch.bincount(s.reshape(-1), minlength=e) for s in seen])


class LayerStreamMatchesTransformers(unittest.TestCase):
    ids = torch.randint(0, 300, (2, 40), generator=torch.Generator().manual_seed(7))

    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def check(self, kind: str, **opts: object) -> float:
        ref_dir = make_checkpoint(kind, self.dir / "hf", seed=3, **{k: v for k, v in opts.items() if k not in ("fused", "shard_bytes")})
        ours_dir = make_checkpoint(kind, self.dir / "ours", seed=3, **opts) if opts else ref_dir
        ref = hf_logits(ref_dir, self.ids)
        ckpt = Checkpoint.open(str(ours_dir))
        mine, counts = streamed_logits(ckpt, self.ids)
        diff = float((ref - mine).abs().max())
        print(f"\n  {kind} {opts or ''}: max |Δlogit| vs transformers = {diff:.3g} (logits up to {float(ref.abs().max()):.2f})")
        self.assertLessEqual(diff, TOL)
        if ckpt.arch.moe:
            self.assertTrue(torch.equal(counts, hf_counts(str(ref_dir), self.ids)), "routing differs from transformers'")
            self.assertTrue(bool((counts > 0).all()), "every expert should get tokens in the fixture")
        return diff

    def test_qwen3_moe_with_qk_norm(self) -> None:
        self.check("qwen3_moe")

    def test_qwen3_moe_without_topk_renormalisation(self) -> None:
        self.check("qwen3_moe", norm_topk_prob=False)

    def test_qwen3_moe_fused_experts(self) -> None:
        self.check("qwen3_moe", fused=True)

    def test_mixtral(self) -> None:
        self.check("mixtral")

    def test_mixtral_fused_experts(self) -> None:
        self.check("mixtral", fused=True)

    def test_llama_sharded(self) -> None:
        d = make_checkpoint("llama", self.dir / "sharded", seed=3, shard_bytes=200_000)
        self.assertTrue((d / "model.safetensors.index.json").is_file())
        ref = hf_logits(d, self.ids)
        mine, _ = streamed_logits(Checkpoint.open(str(d)), self.ids)
        self.assertLessEqual(float((ref - mine).abs().max()), TOL)

    def test_llama_tied_bf16(self) -> None:
        d = make_checkpoint("llama", self.dir / "tied", seed=3, tie_word_embeddings=True, dtype=torch.bfloat16)
        ckpt = Checkpoint.open(str(d))
        self.assertTrue(ckpt.arch.tie_embeddings)
        ref = hf_logits(d, self.ids)  # transformers upcasts the same bf16 weights
        mine, _ = streamed_logits(ckpt, self.ids)
        self.assertLessEqual(float((ref - mine).abs().max()), TOL)

    def test_qwen2_with_qkv_bias(self) -> None:
        self.check("qwen2")

    def test_llama3_rope(self) -> None:
        self.check("llama", rope_parameters={"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0, "low_freq_factor": 1.0,
                                             "high_freq_factor": 4.0, "original_max_position_embeddings": 16})

    def test_yarn_rope_qwen3_moe(self) -> None:
        self.check("qwen3_moe", rope_parameters={"rope_type": "yarn", "rope_theta": 1e4, "factor": 4.0, "original_max_position_embeddings": 16})

    def test_linear_rope_qwen2(self) -> None:
        self.check("qwen2", rope_parameters={"rope_type": "linear", "rope_theta": 1e4, "factor": 2.0})

    def test_mixtral_sliding_window(self) -> None:
        self.assertGreater(self.ids.shape[1], 8)
        self.check("mixtral", sliding_window=8)

    def test_a_wrong_forward_is_caught(self) -> None:
        # The tolerance is meaningful: routing without renormalisation on a renormalising model, or a
        # different rope theta, moves the logits far beyond it.
        d = make_checkpoint("qwen3_moe", self.dir / "m", seed=3)
        ckpt = Checkpoint.open(str(d))
        ref = hf_logits(d, self.ids)
        for wrong in (dataclasses.replace(ckpt.arch, norm_topk_prob=False), dataclasses.replace(ckpt.arch, rope_theta=1e6)):
            mine, _ = streamed_logits(ckpt, self.ids, arch=wrong)
            self.assertGreater(float((ref - mine).abs().max()), 100 * TOL)

    def test_capture_sees_every_linear_input(self) -> None:
        d = make_checkpoint("qwen3_moe", self.dir / "c", seed=3)
        ckpt = Checkpoint.open(str(d))
        a = ckpt.arch
        n = int(self.ids.numel())

        class Recorder:
            def __init__(self) -> None:
                self.calls: dict[str, list[tuple[object, ...]]] = {}

            def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
                if name.startswith("_") or name == "calls":
                    raise AttributeError(name)
                return lambda *args: self.calls.setdefault(name, []).append(args)

        rec = Recorder()
        _, counts = streamed_logits(ckpt, self.ids, capture=rec)
        self.assertEqual(len(rec.calls["attention_input"]), a.layers)
        self.assertEqual(tuple(rec.calls["attention_input"][0][0].shape), (n, a.hidden))
        self.assertEqual(tuple(rec.calls["attention_output_input"][0][0].shape), (n, a.heads * a.head_dim))
        x, probs, top = rec.calls["moe_input"][0]
        self.assertEqual(tuple(probs.shape), (n, a.experts))
        self.assertEqual(tuple(top.shape), (n, a.top_k))
        layer0 = rec.calls["expert_input"][: a.experts]
        for e, xe, rows in layer0:
            self.assertTrue(torch.equal(xe, x[rows]))
            self.assertTrue(bool((top[rows] == e).any(dim=1).all()))
            self.assertEqual(len(rows), int(counts[0, e]))
        for (e, h, rows), (e2, xe, rows2) in zip(rec.calls["expert_down_input"][: a.experts], layer0):
            self.assertEqual(e, e2)
            self.assertEqual(tuple(h.shape), (len(rows), a.moe_intermediate))

    def test_exported_proxy_loads_and_matches(self) -> None:
        # The trained proxy exported as Mixtral by science/export/compressed-tensors (bf16).
        if not have_node_proxy():
            self.skipTest("needs node_modules (tsx) and artifacts/proxy")
        out = export_proxy(self.dir / "proxy")
        ids = torch.randint(0, 256, (2, 48), generator=torch.Generator().manual_seed(1))
        ckpt = Checkpoint.open(str(out))
        self.assertEqual((ckpt.arch.architecture, ckpt.arch.experts, ckpt.arch.layers), ("mixtral", 8, 4))
        mine, counts = streamed_logits(ckpt, ids)
        diff = float((hf_logits(out, ids) - mine).abs().max())
        print(f"\n  exported proxy (bf16 Mixtral): max |Δlogit| vs transformers = {diff:.3g}")
        self.assertLessEqual(diff, TOL)


if __name__ == "__main__":
    unittest.main()
