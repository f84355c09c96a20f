"""The torch long-context evaluation (long_context.py): bits/byte and top-1 from transformers' own logits,
buckets as science/long-context/buckets.ts cuts them, KL against the same model without a KV policy,
retrieval scored on the letters after the query, and bad input as one line with exit 2."""
from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch

from evoquant_torch.long_context import KEY_LETTERS, evaluate_retrieval, position_buckets

from .fixtures import REPO, TSX, hf_logits, run_tsx, stable_text
from .make_dense_fixture import make_dense_fixture

torch.set_num_threads(1)
SEQ = 160


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evoquant_torch.long_context", *args], capture_output=True, text=True,
                          cwd=REPO / "python", env={"PYTHONPATH": str(REPO / "python"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})


class LongContextTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        d = Path(cls.tmp.name)
        cls.model = make_dense_fixture(d / "m", seed=4)
        text = stable_text(3 * (SEQ + 1))
        cls.windows = torch.tensor(list(text), dtype=torch.uint8).view(3, SEQ + 1)
        cls.windows_file = d / "windows.bin"
        cls.windows_file.write_bytes(text)
        cls.kv_file = d / "kv.json"
        cls.kv_file.write_text(json.dumps({"keys": {"format": "int2", "axis": "token", "groupSize": 16},
                                           "values": {"format": "int2", "axis": "token", "groupSize": 16}}))
        cls.bf16_file = d / "bf16.json"
        cls.bf16_file.write_text("{}")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def run_ok(self, *args: str) -> dict:
        p = cli("--model", str(self.model), "--windows", str(self.windows_file), "--seq", str(SEQ), *args)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        return json.loads(p.stdout)

    def test_buckets_are_cut_as_the_typescript_evaluation_cuts_them(self) -> None:
        seqs = [100, 128, 640, 1024, 1500, 4096]
        if TSX.exists():
            with tempfile.TemporaryDirectory() as d:
                ts = json.loads(run_tsx(Path(d), f"import {{ positionBuckets }} from '{REPO}/science/long-context/buckets.js';\n"
                                        f"console.log(JSON.stringify({seqs}.map((s) => positionBuckets(s).map((b) => [b.from, b.to]))));\n"))
            self.assertEqual([[list(b) for b in position_buckets(s)] for s in seqs], ts)
        self.assertEqual(position_buckets(1024), [(0, 128), (128, 512), (512, 1024)])

    def test_bits_per_byte_and_top1_are_those_of_transformers_logits(self) -> None:
        out = self.run_ok("--buckets", "0:64,64:160")
        lp = torch.log_softmax(hf_logits(self.model, self.windows[:, :SEQ].long()).double(), -1)
        targets = self.windows[:, 1:].long()
        nats = -lp.gather(-1, targets[..., None])[..., 0]
        correct = (lp.argmax(-1) == targets).double()
        m = out["metrics"]
        self.assertEqual(m["tokens"], 3 * SEQ)
        self.assertAlmostEqual(m["bitsPerByte"], float(nats.mean()) / math.log(2), delta=1e-5)
        self.assertAlmostEqual(m["top1"], float(correct.mean()), delta=1e-9)
        self.assertIsNone(m["klBitsPerByte"])
        for b, (lo, hi) in zip(m["buckets"], [(0, 64), (64, 160)]):
            self.assertEqual((b["from"], b["to"], b["tokens"]), (lo, hi, 3 * (hi - lo)))
            self.assertAlmostEqual(b["bitsPerByte"], float(nats[:, lo:hi].mean()) / math.log(2), delta=1e-5)

    def test_kl_is_against_the_same_model_without_a_policy(self) -> None:
        plain = self.run_ok()["metrics"]
        same = self.run_ok("--kv", str(self.bf16_file))["metrics"]
        self.assertEqual(same["klBitsPerByte"], 0.0)
        self.assertEqual(same["bitsPerByte"], plain["bitsPerByte"])
        int2 = self.run_ok("--kv", str(self.kv_file))["metrics"]
        self.assertGreater(int2["klBitsPerByte"], 1e-3)
        self.assertTrue(all(b["klBitsPerByte"] > 0 for b in int2["buckets"]))
        self.assertNotEqual(int2["bitsPerByte"], plain["bitsPerByte"])

    def test_kl_against_a_reference_checkpoint(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            other = make_dense_fixture(Path(d) / "other", seed=9)
            out = self.run_ok("--reference", str(other))["metrics"]
            lp = torch.log_softmax(hf_logits(self.model, self.windows[:, :SEQ].long()).double(), -1)
            ref = torch.log_softmax(hf_logits(other, self.windows[:, :SEQ].long()).double(), -1)
        kl = float((ref.exp() * (ref - lp)).sum(-1).mean()) / math.log(2)
        self.assertGreater(kl, 0.01)
        self.assertAlmostEqual(out["klBitsPerByte"], kl, delta=1e-5 * kl)

    def test_retrieval_scores_the_letters_after_the_query(self) -> None:
        seq, query = 40, 30
        window = bytes(range(60, 60 + seq + 1))

        class Oracle:
            """Puts the maximum on the key letter at even letter offsets only: accuracy must be 1/2."""

            def logits(self, ids: torch.Tensor, kv: object) -> torch.Tensor:
                out = torch.zeros(ids.shape[0], ids.shape[1], 256)
                for j in range(0, KEY_LETTERS, 2):
                    out[:, query + j, window[query + 1 + j]] = 1.0
                return out

        probes = [{"window": window, "query": query, "distance": d} for d in (8, 8, 3)]
        got = evaluate_retrieval(Oracle(), probes, None, 2)  # type: ignore[arg-type]
        self.assertEqual(got, [{"distance": 3, "probes": 1, "letters": 6, "accuracy": 0.5},
                               {"distance": 8, "probes": 2, "letters": 12, "accuracy": 0.5}])

    def test_the_cli_scores_probes_by_distance(self) -> None:
        probe = bytearray(self.windows[0].tolist())
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "probes.json"
            f.write_text(json.dumps({"probes": [{"window": base64.b64encode(bytes(probe)).decode(), "query": 100, "distance": 50}]}))
            out = self.run_ok("--probes", str(f))
        self.assertEqual([(r["distance"], r["probes"], r["letters"]) for r in out["retrieval"]], [(50, 1, KEY_LETTERS)])

    def test_bad_input_is_one_line_and_exit_2(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            bad_kv = Path(d) / "kv.json"
            bad_kv.write_text(json.dumps({"keys": {"format": "int4", "axis": "token", "groupSize": 48}}))
            cases = [(["--seq", str(SEQ + 1)], "--windows"), (["--seq", str(SEQ), "--kv", str(bad_kv)], "keys.groupSize"),
                     (["--seq", "2000"], "--windows")]
            for extra, needle in cases:
                p = cli("--model", str(self.model), "--windows", str(self.windows_file), *extra)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertIn(needle, p.stderr)
                self.assertEqual(p.stdout, "")


if __name__ == "__main__":
    unittest.main()
