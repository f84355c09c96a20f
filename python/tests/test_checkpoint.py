"""Strict loading: a missing, unexpected or mis-shaped tensor, or an unknown architecture, is
InvalidCheckpoint naming it; describe lists the HF module names and roles of the contract."""
from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from evoquant_torch.architectures import linear_keys
from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.describe import describe
from evoquant_torch.errors import InvalidCheckpoint

from .fixtures import build_model, make_checkpoint, remove_tensor

torch.set_num_threads(1)


class StrictLoading(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def rewrite(self, d: Path, edit) -> None:  # type: ignore[no-untyped-def]
        sd = load_file(str(d / "model.safetensors"))
        edit(sd)
        save_file(sd, str(d / "model.safetensors"), metadata={"format": "pt"})

    def test_missing_expert_tensor_is_named(self) -> None:
        d = make_checkpoint("mixtral", self.dir / "m")
        remove_tensor(d, "model.layers.1.block_sparse_moe.experts.2.w3.weight")
        with self.assertRaisesRegex(InvalidCheckpoint, r"missing tensor model\.layers\.1\.block_sparse_moe\.experts\.2\.w3\.weight"):
            Checkpoint.open(str(d))

    def test_unexpected_tensor_is_named(self) -> None:
        d = make_checkpoint("qwen3_moe", self.dir / "u")
        self.rewrite(d, lambda sd: sd.__setitem__("model.layers.0.mlp.experts.4.up_proj.weight", torch.zeros(32, 64)))
        with self.assertRaisesRegex(InvalidCheckpoint, r"unexpected tensor model\.layers\.0\.mlp\.experts\.4\.up_proj\.weight"):
            Checkpoint.open(str(d))

    def test_misnamed_mixtral_experts_are_not_silently_reinitialised(self) -> None:
        # The known trap: Qwen-style expert names in a Mixtral checkpoint.
        d = make_checkpoint("mixtral", self.dir / "n")

        def rename(sd: dict[str, torch.Tensor]) -> None:
            for k in [k for k in sd if ".w1." in k]:
                sd[k.replace(".w1.", ".gate_proj.")] = sd.pop(k)

        self.rewrite(d, rename)
        with self.assertRaisesRegex(InvalidCheckpoint, r"missing tensor .*experts\.\d+\.w1\.weight"):
            Checkpoint.open(str(d))

    def test_misshaped_tensor_is_named(self) -> None:
        d = make_checkpoint("qwen2", self.dir / "s")
        self.rewrite(d, lambda sd: sd.__setitem__("model.layers.1.self_attn.k_proj.bias", torch.zeros(31)))
        with self.assertRaisesRegex(InvalidCheckpoint, r"model\.layers\.1\.self_attn\.k_proj\.bias has shape \[31\], expected \[32\]"):
            Checkpoint.open(str(d))

    def test_unknown_architecture_and_unsupported_rope(self) -> None:
        d = make_checkpoint("llama", self.dir / "a")
        cfg = json.loads((d / "config.json").read_text())
        (d / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2"}))
        with self.assertRaisesRegex(InvalidCheckpoint, "unknown architecture 'gpt2'"):
            Checkpoint.open(str(d))
        (d / "config.json").write_text(json.dumps({**cfg, "rope_parameters": {"rope_type": "dynamic", "rope_theta": 1e4, "factor": 4.0}}))
        with self.assertRaisesRegex(InvalidCheckpoint, "rope type 'dynamic' is not supported"):
            Checkpoint.open(str(d))

    def test_no_weights_or_no_config(self) -> None:
        with self.assertRaisesRegex(InvalidCheckpoint, "no config.json"):
            Checkpoint.open(str(self.dir))
        d = make_checkpoint("llama", self.dir / "w")
        (d / "model.safetensors").unlink()
        with self.assertRaisesRegex(InvalidCheckpoint, "neither model.safetensors nor"):
            Checkpoint.open(str(d))

    def test_sharded_index_must_match_the_shards(self) -> None:
        d = make_checkpoint("llama", self.dir / "sh", shard_bytes=200_000)
        index = json.loads((d / "model.safetensors.index.json").read_text())
        ckpt = Checkpoint.open(str(d))
        self.assertGreater(len(set(index["weight_map"].values())), 1)
        self.assertEqual(sorted(ckpt.layer_tensor_names(0) + ckpt.layer_tensor_names(1) + ckpt.other_tensor_names()), sorted(index["weight_map"]))
        name = "model.layers.1.mlp.down_proj.weight"
        index["weight_map"][name] = next(s for s in set(index["weight_map"].values()) if s != index["weight_map"][name])
        (d / "model.safetensors.index.json").write_text(json.dumps(index))
        with self.assertRaisesRegex(InvalidCheckpoint, name.replace(".", r"\.")):
            Checkpoint.open(str(d))

    def test_fused_and_per_expert_layouts_give_the_same_weights(self) -> None:
        a = Checkpoint.open(str(make_checkpoint("qwen3_moe", self.dir / "p", seed=1)))
        b = Checkpoint.open(str(make_checkpoint("qwen3_moe", self.dir / "f", seed=1, fused=True)))
        self.assertFalse(a.fused)
        self.assertTrue(b.fused)
        la, lb = a.layer(1, "cpu"), b.layer(1, "cpu")
        self.assertEqual(sorted(la), sorted(lb))
        for k in la:
            self.assertTrue(torch.equal(la[k], lb[k]), k)
        model = build_model("qwen3_moe", seed=1)
        gate_up = model.model.layers[1].mlp.experts.gate_up_proj.detach()
        self.assertTrue(torch.equal(la["experts.3.gate"], gate_up[3, :32]))
        self.assertTrue(torch.equal(la["experts.3.up"], gate_up[3, 32:]))

    def test_mixtral_block_named_mlp_and_raw_dtypes(self) -> None:
        # transformers 5 names Mixtral's MoE block `mlp` in memory; a checkpoint saved that way reads the same.
        a = make_checkpoint("mixtral", self.dir / "a", seed=4, dtype=torch.bfloat16)
        b = make_checkpoint("mixtral", self.dir / "b", seed=4, dtype=torch.bfloat16)
        self.rewrite(b, lambda sd: [sd.__setitem__(k.replace(".block_sparse_moe.", ".mlp."), sd.pop(k)) for k in [k for k in sd if ".block_sparse_moe." in k]])
        ca, cb = Checkpoint.open(str(a)), Checkpoint.open(str(b))
        la, lb = ca.layer(0, "cpu"), cb.layer(0, "cpu", dtype=torch.float64)
        self.assertEqual(sorted(la), sorted(lb))
        for k in la:
            self.assertEqual(la[k].dtype, torch.float32)
            self.assertEqual(lb[k].dtype, torch.float64)
            self.assertTrue(torch.equal(la[k].double(), lb[k]), k)
        raw = cb.raw("model.layers.0.block_sparse_moe.experts.1.w2.weight")
        self.assertEqual(raw.dtype, torch.bfloat16)
        self.assertTrue(torch.equal(raw.float(), la["experts.1.down"]))
        self.assertEqual(ca.stored_bytes(), sum(t.numel() * 2 for t in load_file(str(a / "model.safetensors")).values()))


class Describe(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def test_mixtral_module_names_roles_and_parameters(self) -> None:
        d = make_checkpoint("mixtral", self.dir / "m")
        r = describe({"kind": "describe", "checkpoint": str(d)})
        model = build_model("mixtral")
        self.assertEqual(r["parameters"], sum(p.numel() for p in model.parameters()))
        self.assertEqual((r["architecture"], r["numLayers"], r["numExperts"], r["expertsPerToken"], r["hiddenSize"], r["vocabSize"], r["tokenizer"]),
                         ("mixtral", 2, 4, 2, 64, 300, "bytes"))
        by_name = {m["name"]: m for m in r["modules"]}
        self.assertEqual(by_name["model.layers.1.block_sparse_moe.experts.3.w1"], {"name": "model.layers.1.block_sparse_moe.experts.3.w1", "role": "expert_gate", "layer": 1, "expert": 3, "inFeatures": 64, "outFeatures": 32})
        self.assertEqual(by_name["model.layers.1.block_sparse_moe.experts.3.w2"]["role"], "expert_down")
        self.assertEqual(by_name["model.layers.1.block_sparse_moe.experts.3.w3"]["role"], "expert_up")
        self.assertEqual(by_name["model.layers.0.block_sparse_moe.gate"]["role"], "router")
        self.assertEqual(by_name["model.embed_tokens"]["role"], "embeddings")
        self.assertEqual(by_name["lm_head"], {"name": "lm_head", "role": "lm_head", "layer": None, "expert": None, "inFeatures": 64, "outFeatures": 300})
        # Every module name is a stored tensor name minus .weight.
        stored = set(load_file(str(d / "model.safetensors")))
        for m in r["modules"]:
            self.assertIn(m["name"] + ".weight", stored)
        self.assertEqual(len(r["modules"]), 2 + 2 * len(linear_keys(Checkpoint.open(str(d)).arch)))

    def test_qwen3_and_tied_dense_names(self) -> None:
        r = describe({"kind": "describe", "checkpoint": str(make_checkpoint("qwen3_moe", self.dir / "q"))})
        names = {m["name"]: m["role"] for m in r["modules"]}
        self.assertEqual(names["model.layers.0.mlp.experts.1.up_proj"], "expert_up")
        self.assertEqual(names["model.layers.0.mlp.gate"], "router")
        self.assertEqual(names["model.layers.0.self_attn.k_proj"], "attn_k")
        d = make_checkpoint("qwen2", self.dir / "t", tie_word_embeddings=True)
        r = describe({"kind": "describe", "checkpoint": str(d)})
        roles = {m["name"]: m["role"] for m in r["modules"]}
        self.assertEqual(roles["model.layers.1.mlp.down_proj"], "dense_mlp")
        self.assertNotIn("lm_head", roles)
        self.assertEqual((r["numExperts"], r["expertsPerToken"]), (0, 0))
        self.assertEqual(r["parameters"], sum(p.numel() for p in build_model("qwen2", tie_word_embeddings=True).parameters()))


if __name__ == "__main__":
    unittest.main()
