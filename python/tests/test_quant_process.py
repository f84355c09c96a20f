"""The quantize request through the real process (`python -m evoquant_torch --message-fd 3`): SIGTERM
stops at a layer boundary with exit 143, SIGKILL mid-model loses at most the layer in flight, and the
retry resumes from the finished layers to the same checkpoint a clean run writes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch
from safetensors.torch import load_file

from .fixtures import make_checkpoint, stable_text
from .test_quant_driver import GPTQ, REPO, plan_for, spec

PYTHON_DIR = Path(__file__).resolve().parents[1]


class Process:
    def __init__(self, request: dict) -> None:
        r, w = os.pipe()
        env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR), "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "evoquant_torch", "--message-fd", str(w)], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(w,), env=env)
        os.close(w)
        self.messages = os.fdopen(r, "r")
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request).encode())
        self.proc.stdin.close()

    def until(self, pred) -> dict | None:  # type: ignore[no-untyped-def]
        for line in self.messages:
            msg = json.loads(line)
            if pred(msg):
                return msg
        return None

    def finish(self) -> tuple[int, list[dict]]:
        rest = [json.loads(line) for line in self.messages]
        self.messages.close()
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read().decode()
        self.proc.stderr.close()
        return self.proc.wait(timeout=120), rest


class QuantizeProcess(unittest.TestCase):
    def test_sigterm_sigkill_and_resume(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            ck = make_checkpoint("qwen3_moe", Path(d) / "m", seed=11, num_hidden_layers=4)
            text = Path(d) / "t.txt"
            text.write_bytes(stable_text(8000))
            plan = plan_for(ck, {"attn_q": spec(4, 32, True, GPTQ), "attn_o": spec(4, 32, False, GPTQ), "expert_gate": spec(4, 32, True, GPTQ), "expert_down": spec(3, 32, False, GPTQ)})

            def request(out: str) -> dict:
                cal = {"files": [str(text)], "tokens": 512, "seq": 64, "batch": 4, "minTokensPerExpert": 64, "mode": "sequential"}
                return {"kind": "quantize", "checkpoint": str(ck), "output": f"{d}/{out}", "plan": plan, "calibration": cal, "device": "cpu", "memoryCapBytes": None}

            clean = Process(request("clean"))
            code, msgs = clean.finish()
            self.assertEqual(code, 0, clean.stderr[-2000:])
            self.assertEqual(msgs[-1]["type"], "result")

            p = Process(request("out"))
            self.assertIsNotNone(p.until(lambda m: m.get("stage") == "quantize" and m.get("done") == 1))
            p.proc.send_signal(signal.SIGTERM)
            code, _ = p.finish()
            self.assertEqual(code, 143, p.stderr[-2000:])
            self.assertFalse(Path(f"{d}/out").exists())
            done = sorted(f.name for f in Path(f"{d}/out.partial").glob("layer-*.json"))
            self.assertGreaterEqual(len(done), 1)
            self.assertLess(len(done), 4)

            p = Process(request("out"))
            self.assertIsNotNone(p.until(lambda m: m.get("stage") == "quantize" and m.get("done") == 3))
            p.proc.send_signal(signal.SIGKILL)
            code, _ = p.finish()
            self.assertEqual(code, -signal.SIGKILL)
            self.assertGreaterEqual(len(list(Path(f"{d}/out.partial").glob("layer-*.json"))), 3)

            p = Process(request("out"))
            code, msgs = p.finish()
            self.assertEqual(code, 0, p.stderr[-2000:])
            result = msgs[-1]["result"]
            self.assertGreaterEqual(result["resumedLayers"], 3)
            a, b = load_file(f"{d}/clean/model.safetensors"), load_file(f"{d}/out/model.safetensors")
            self.assertEqual(sorted(a), sorted(b))
            self.assertTrue(all(torch.equal(a[k], b[k]) for k in a))


if __name__ == "__main__":
    unittest.main()
