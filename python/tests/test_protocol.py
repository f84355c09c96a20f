"""The process protocol end to end: `python -m evoquant_torch --message-fd 3`, the request on stdin,
JSON lines on fd 3, exit codes 0 / 1 / 143, typed errors for bad requests and bad checkpoints."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from evoquant_torch.__main__ import classify

from .fixtures import make_checkpoint, remove_tensor

torch.set_num_threads(1)
PYTHON_DIR = Path(__file__).resolve().parents[1]
EVAL_KEYS = {"tokens", "bytes", "bitsPerByte", "perplexity", "top1", "klBitsPerToken", "klBitsPerByte", "expertFrequency",
             "peakMemoryBytes", "deviceTotalBytes", "weightBytes", "lmEval"}


def spawn(request: Any) -> tuple[subprocess.Popen[bytes], Any]:
    r, w = os.pipe()

    def on_fd_3() -> None:  # the child sees the message pipe as fd 3, as the TS side spawns it
        os.dup2(w, 3)  # inheritable; every other descriptor of ours is close-on-exec

    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "evoquant_torch", "--message-fd", "3"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=False, preexec_fn=on_fd_3, env=env)
    os.close(w)
    assert p.stdin is not None
    p.stdin.write(request if isinstance(request, bytes) else json.dumps(request).encode())
    p.stdin.close()
    return p, os.fdopen(r, "r", encoding="utf-8")


def run(request: Any) -> tuple[int, list[dict[str, Any]], str]:
    p, messages = spawn(request)
    with messages:
        lines = [json.loads(line) for line in messages]
    assert p.stderr is not None
    with p.stderr:
        err = p.stderr.read().decode(errors="replace")
    return p.wait(), lines, err


class Protocol(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.text = self.dir / "t.txt"
        self.text.write_bytes(("Call me Ishmael. Some years ago — never mind how long precisely — " * 40).encode())

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def evaluate_request(self, model: Path, **over: Any) -> dict[str, Any]:
        return {"kind": "evaluate", "model": str(model), "reference": None,
                "text": {"files": [str(self.text)], "tokens": 64, "seq": 32, "batch": 2},
                "cacheDir": str(self.dir / "cache"), "device": "cpu", "memoryCapBytes": None, **over}

    def assertError(self, code: int, msgs: list[dict[str, Any]], error_type: str, pattern: str) -> None:
        self.assertEqual(code, 1, msgs)
        self.assertEqual(msgs[-1]["type"], "error")
        self.assertEqual(msgs[-1]["errorType"], error_type)
        self.assertFalse(msgs[-1]["retryable"])
        self.assertNotIn("\n", msgs[-1]["message"])
        self.assertRegex(msgs[-1]["message"], pattern)

    def test_describe_and_evaluate(self) -> None:
        d = make_checkpoint("qwen3_moe", self.dir / "m")
        code, msgs, err = run({"kind": "describe", "checkpoint": str(d)})
        self.assertEqual(code, 0, err)
        self.assertEqual([m["type"] for m in msgs], ["result"])
        self.assertEqual(msgs[0]["result"]["architecture"], "qwen3_moe")
        self.assertEqual(msgs[0]["result"]["modules"][1]["name"], "model.layers.0.self_attn.q_proj")
        code, msgs, err = run(self.evaluate_request(d, reference=str(d)))
        self.assertEqual(code, 0, err)
        self.assertEqual(msgs[-1]["type"], "result")
        self.assertTrue(all(m["type"] == "progress" for m in msgs[:-1]))
        self.assertIn({"type": "progress", "stage": "reference", "done": 2, "total": 2}, msgs)
        self.assertIn({"type": "progress", "stage": "evaluate", "done": 2, "total": 2}, msgs)
        result = msgs[-1]["result"]
        self.assertEqual(set(result), EVAL_KEYS)
        self.assertEqual(result["tokens"], 64)
        self.assertLess(result["klBitsPerToken"], 1e-9)
        self.assertEqual(len(result["expertFrequency"]), 2)

    def test_bad_requests_are_invalid_request(self) -> None:
        d = make_checkpoint("llama", self.dir / "l")
        cases = [
            (b"{not json", "not JSON"),
            ({"kind": "train"}, "kind must be one of describe, evaluate, quantize"),
            ({"kind": "describe", "checkpoint": "relative/dir"}, "checkpoint must be an absolute path"),
            (self.evaluate_request(d, device="tpu"), 'device must be "cpu" or "cuda"'),
            ({**self.evaluate_request(d), "text": {"files": [str(self.text)], "tokens": 0, "seq": 32, "batch": 1}}, "text.tokens must be a positive integer"),
            (self.evaluate_request(d, memoryCapBytes=-5), "memoryCapBytes must be a positive integer"),
            ({**self.evaluate_request(d), "extra": 1}, "unknown field extra"),
            ({"kind": "quantize", "checkpoint": str(d), "output": str(self.dir / "o"), "device": "cpu", "memoryCapBytes": None,
              "plan": {"recipeName": "r", "recipeHash": "h", "modules": {"model.layers.0.self_attn.q_proj": {"bits": 5}}},
              "calibration": {"files": [str(self.text)], "tokens": 64, "seq": 32, "batch": 1, "minTokensPerExpert": 0, "mode": "sequential"}},
             r'plan.modules\["model.layers.0.self_attn.q_proj"\].bits must be one of'),
        ]
        for request, pattern in cases:
            code, msgs, _ = run(request)
            self.assertError(code, msgs, "InvalidRequest", pattern)

    def test_missing_tensor_is_invalid_checkpoint(self) -> None:
        d = make_checkpoint("mixtral", self.dir / "x")
        remove_tensor(d, "model.layers.0.block_sparse_moe.experts.1.w2.weight")
        for request in ({"kind": "describe", "checkpoint": str(d)}, self.evaluate_request(d)):
            code, msgs, _ = run(request)
            self.assertError(code, msgs, "InvalidCheckpoint", r"missing tensor model\.layers\.0\.block_sparse_moe\.experts\.1\.w2\.weight")

    def test_missing_text_file_and_non_finite_weights(self) -> None:
        d = make_checkpoint("llama", self.dir / "n")
        missing = {**self.evaluate_request(d), "text": {"files": [str(self.dir / "nope.txt")], "tokens": 64, "seq": 32, "batch": 1}}
        self.assertError(*run(missing)[:2], "InputFileError", "does not exist")
        sd = load_file(str(d / "model.safetensors"))
        sd["model.layers.1.mlp.up_proj.weight"][3, 5] = float("nan")
        save_file(sd, str(d / "model.safetensors"), metadata={"format": "pt"})
        self.assertError(*run(self.evaluate_request(d))[:2], "NonFiniteQuantizationError", "after layer 1")

    def test_sigterm_stops_at_a_layer_boundary_and_writes_nothing(self) -> None:
        d = make_checkpoint("llama", self.dir / "slow", num_hidden_layers=12)
        self.text.write_bytes(("a slow enough evaluation " * 400).encode())
        req = {**self.evaluate_request(d, reference=str(d)), "text": {"files": [str(self.text)], "tokens": 4096, "seq": 512, "batch": 8}}
        p, messages = spawn(req)
        first = json.loads(messages.readline())
        self.assertEqual(first["stage"], "load")
        p.send_signal(signal.SIGTERM)
        with messages:
            rest = [json.loads(line) for line in messages]
        assert p.stderr is not None
        p.stderr.close()
        self.assertEqual(p.wait(), 143)
        self.assertTrue(all(m["type"] == "progress" for m in rest), rest)
        self.assertLess(len(rest), 12)
        self.assertFalse((self.dir / "cache").exists() and any((self.dir / "cache").iterdir()))

    def test_no_message_fd_is_a_crash(self) -> None:
        p = subprocess.run([sys.executable, "-m", "evoquant_torch", "--message-fd", "97"], input=b'{"kind":"describe","checkpoint":"/x"}',
                           capture_output=True, env={**os.environ, "PYTHONPATH": str(PYTHON_DIR)})
        self.assertEqual(p.returncode, 70)
        self.assertIn(b"cannot open message fd 97", p.stderr)

    def test_exception_mapping(self) -> None:
        oom = classify(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore"))
        assert oom is not None
        self.assertEqual((oom.error_type, oom.retryable, str(oom)), ("GpuOutOfMemory", False, "CUDA out of memory. Tried to allocate 2.00 GiB"))
        cuda = classify(RuntimeError("CUDA error: an illegal memory access was encountered"))
        assert cuda is not None
        self.assertEqual((cuda.error_type, cuda.retryable), ("CudaError", True))
        self.assertEqual(classify(torch.AcceleratorError("CUDA error: device-side assert triggered")).error_type, "CudaError")  # type: ignore[union-attr]
        self.assertIsNone(classify(RuntimeError("Expected all tensors to be on the same device, but found cuda:0 and cpu")))
        self.assertIsNone(classify(ValueError("a bug")))
        self.assertIsNone(classify(RuntimeError("shape mismatch")))


if __name__ == "__main__":
    unittest.main()
