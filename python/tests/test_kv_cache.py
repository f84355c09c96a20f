"""The torch KV cache (kv_cache.py) and attention over it (layers.py): each gene of schema/kv-policy.ts
stores what the contract says, and a cache that keeps everything in full precision changes nothing."""
from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import torch

from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.errors import InvalidRequest
from evoquant_torch.kv_cache import (FP8, KvLayerPolicy, full_precision_mask, hadamard_rotation, parse_kv_policy,
                                     resolve_kv_layer, store_kv, store_tensor)
from evoquant_torch.layers import _rotate_half, embed_tokens, head_logits, layer_forward

from .fixtures import REPO, TSX, make_checkpoint, run_tsx

torch.set_num_threads(1)


def int_policy(fmt: str, axis: str, group: int) -> dict:
    return {"format": fmt, "axis": axis, "groupSize": group}


def layer(**kw: object) -> KvLayerPolicy:
    return resolve_kv_layer(parse_kv_policy(kw), 0, 1)


def logits(ckpt: Checkpoint, ids: torch.Tensor, policy: dict | None) -> torch.Tensor:
    kv = parse_kv_policy(policy) if policy is not None else None
    a = ckpt.arch
    with torch.no_grad():
        h = embed_tokens(ckpt.embed("cpu"), ids)
        for i in range(a.layers):
            h = layer_forward(a, ckpt.layer(i, "cpu"), h, kv=resolve_kv_layer(kv, i, a.layers) if kv else None)
        return head_logits(a, ckpt.final_norm("cpu"), ckpt.lm_head("cpu"), h)


class PolicyTest(unittest.TestCase):
    def test_defaults_are_bf16_post_rope_without_windows(self) -> None:
        p = layer()
        self.assertEqual((p.keys, p.values, p.recent_window, p.sink_tokens, p.key_position, p.key_rotation),
                         ({"format": "bf16"}, {"format": "bf16"}, 0, 0, "post-rope", "none"))
        self.assertTrue(p.unquantized)

    def test_bands_override_by_relative_depth_in_order(self) -> None:
        kv = parse_kv_policy({"keys": int_policy("int4", "channel", 32), "recentWindow": 8,
                              "layers": [{"from": 0.5, "to": 1, "override": {"keys": {"format": "fp8_e4m3"}}},
                                         {"from": 0.75, "to": 1, "override": {"recentWindow": 64}}]})
        got = [(resolve_kv_layer(kv, i, 4).keys["format"], resolve_kv_layer(kv, i, 4).recent_window) for i in range(4)]
        self.assertEqual(got, [("int4", 8), ("int4", 8), ("fp8_e4m3", 8), ("fp8_e4m3", 64)])

    def test_bad_policies_name_the_field(self) -> None:
        cases = [({"keys": {"format": "int3"}}, "keys.format"), ({"keys": int_policy("int4", "row", 32)}, "keys.axis"),
                 ({"values": int_policy("int4", "token", 24)}, "values.groupSize"), ({"recentWindow": -1}, "recentWindow"),
                 ({"keyPosition": "mid-rope"}, "keyPosition"), ({"kvCacheBits": 4}, "kvCacheBits"),
                 ({"keys": {"format": "fp8_e4m3", "axis": "token"}}, "axis"),
                 ({"layers": [{"from": 0.5, "to": 0.5, "override": {}}]}, "layers.0.to"),
                 ({"layers": [{"from": 0, "to": 1, "override": {"layers": []}}]}, "layers")]
        for raw, field in cases:
            with self.assertRaises(InvalidRequest, msg=json.dumps(raw)) as cm:
                parse_kv_policy(raw)
            self.assertIn(field, str(cm.exception))


class StoreTest(unittest.TestCase):
    def setUp(self) -> None:
        g = torch.Generator().manual_seed(5)
        self.x = torch.randn(2, 2, 40, 16, generator=g) * torch.linspace(0.2, 3, 16)  # channels of different ranges

    def test_per_channel_groups_leave_the_incomplete_tail_untouched(self) -> None:
        y = store_tensor(self.x, int_policy("int4", "channel", 16))
        self.assertTrue(torch.equal(y[:, :, 32:], self.x[:, :, 32:]))  # 40 mod 16 = 8 newest tokens: KIVI's residual
        for t0 in (0, 16):
            group = y[:, :, t0:t0 + 16]  # one group per (sequence, head, channel): at most 16 levels along tokens
            for b in range(2):
                for c in range(16):
                    self.assertLessEqual(group[b, 0, :, c].unique().numel(), 16)
            span = self.x[:, :, t0:t0 + 16].amax(2) - self.x[:, :, t0:t0 + 16].amin(2)
            err = (group - self.x[:, :, t0:t0 + 16]).abs().amax(2)
            self.assertTrue(bool((err <= span / 15 * 0.5 * 1.01 + 1e-6).all()))

    def test_per_token_groups_span_channels_capped_at_head_dim(self) -> None:
        for group in (16, 64):  # 64 > head_dim 16: one group per token and head
            y = store_tensor(self.x, int_policy("int2", "token", group))
            for t in range(40):
                self.assertLessEqual(y[0, 1, t].unique().numel(), 4)
        y8 = store_tensor(self.x, int_policy("int8", "token", 16))
        span = self.x.amax(-1) - self.x.amin(-1)
        self.assertTrue(bool(((y8 - self.x).abs().amax(-1) <= span / 255 * 0.5 * 1.01 + 1e-6).all()))

    def test_fp8_round_trip_equals_torch_casts_with_one_scale_per_sequence(self) -> None:
        x = self.x.clone()
        x[1] *= 7  # the second sequence gets its own scale
        for fmt, (dtype, fmax) in FP8.items():
            y = store_tensor(x, {"format": fmt})
            for b in range(2):
                scale = (x[b].abs().max() / fmax).float()
                want = (x[b] / scale).to(dtype).float() * scale
                torch.testing.assert_close(y[b], want, rtol=1e-6, atol=1e-7)
            self.assertFalse(torch.equal(y, x))

    def test_hadamard_signs_are_those_of_the_typescript_rotation(self) -> None:
        if not TSX.exists():
            self.skipTest("tsx not installed")
        with tempfile.TemporaryDirectory() as d:
            out = json.loads(run_tsx(Path(d), f"import {{ HadamardRotation }} from '{REPO}/science/quantization/hadamard.js';\n"
                                     "const r = new HadamardRotation(48, 0x6b76);\n"
                                     "const x = Float64Array.from({ length: 96 }, (_, i) => Math.sin(i + 1));\n"
                                     "r.rotateRows(x, 2); console.log(JSON.stringify(Array.from(x)));\n"))
        rot = hadamard_rotation(48)  # 48 = three blocks of 16
        x = torch.sin(torch.arange(1, 97, dtype=torch.float64)).view(2, 48)
        torch.testing.assert_close(x @ rot, torch.tensor(out, dtype=torch.float64).view(2, 48), rtol=0, atol=1e-12)
        torch.testing.assert_close(rot @ rot.T, torch.eye(48, dtype=torch.float64), rtol=0, atol=1e-12)

    def test_hadamard_keys_spread_an_outlier_channel(self) -> None:
        # QuaRot's point: one channel far larger than the rest ruins a per-token group unless rotated.
        x = self.x.clone()
        x[..., 3] *= 40
        policy = int_policy("int4", "token", 16)
        plain = (store_tensor(x, policy) - x).pow(2).mean()
        rotated = (store_tensor(x, policy, hadamard_rotation(16)) - x).pow(2).mean()
        self.assertLess(float(rotated), 0.5 * float(plain))

    def test_pre_rope_keys_are_quantized_then_rotated(self) -> None:
        cos, sin = torch.cos(torch.arange(40.0)[:, None] * torch.ones(16) * 0.3), torch.sin(torch.arange(40.0)[:, None] * torch.ones(16) * 0.3)

        def rope(k: torch.Tensor) -> torch.Tensor:
            return k * cos + _rotate_half(k) * sin

        p = layer(keys=int_policy("int4", "token", 16), keyPosition="pre-rope")
        got = store_kv(p, self.x, rope(self.x), self.x, rope)
        torch.testing.assert_close(got.keys, rope(store_tensor(self.x, p.keys)))
        post = store_kv(layer(keys=int_policy("int4", "token", 16)), self.x, rope(self.x), self.x, rope)
        torch.testing.assert_close(post.keys, store_tensor(rope(self.x), p.keys))
        self.assertFalse(torch.allclose(got.keys, post.keys))


class MaskTest(unittest.TestCase):
    def test_masks_follow_sinks_windows_and_kivi_residual(self) -> None:
        seq = 50
        p = layer(keys=int_policy("int2", "channel", 16), values=int_policy("int2", "token", 16), recentWindow=5, sinkTokens=3)
        keys, values = full_precision_mask(p.keys, p, seq), full_precision_mask(p.values, p, seq)
        for t in range(seq):
            for s in range(t + 1):
                base = s < 3 or t - s < 5
                self.assertEqual(bool(values[t, s]), base, (t, s))
                # The channel group of s (groups counted from the first token after the 3 sinks) has all its tokens by t.
                complete = 3 + ((s - 3) // 16) * 16 + 15 <= t
                self.assertEqual(bool(keys[t, s]), base or not complete, (t, s))
        self.assertTrue(bool(full_precision_mask({"format": "bf16"}, p, seq).all()))


class AttentionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.ckpt = Checkpoint.open(str(make_checkpoint("llama", Path(cls.tmp.name) / "m", seed=3, num_hidden_layers=2)))
        cls.ids = torch.randint(0, 256, (2, 96), generator=torch.Generator().manual_seed(2))
        cls.base = logits(cls.ckpt, cls.ids, None)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def test_a_cache_kept_in_full_precision_changes_nothing(self) -> None:
        int2 = {"keys": int_policy("int2", "token", 16), "values": int_policy("int2", "channel", 16)}
        for policy in ({}, {**int2, "recentWindow": 96}, {**int2, "sinkTokens": 96}):
            torch.testing.assert_close(logits(self.ckpt, self.ids, policy), self.base, rtol=0, atol=1e-5, msg=json.dumps(policy))

    def test_quantized_caches_cost_in_order_of_bits(self) -> None:
        def kl(policy: dict) -> float:
            lp, ref = torch.log_softmax(logits(self.ckpt, self.ids, policy).double(), -1), torch.log_softmax(self.base.double(), -1)
            return float((ref.exp() * (ref - lp)).sum(-1).mean())

        tok = lambda f: {"keys": int_policy(f, "token", 16), "values": int_policy(f, "token", 16)}  # noqa: E731
        k8, k4, k2 = kl(tok("int8")), kl(tok("int4")), kl(tok("int2"))
        self.assertGreater(k8, 0)
        self.assertLess(k8 * 10, k4)
        self.assertLess(k4 * 2, k2)
        # A recent window over half the context keeps the nearer half exact: less damage than without.
        self.assertLess(kl({**tok("int2"), "recentWindow": 48}), k2)


if __name__ == "__main__":
    unittest.main()
