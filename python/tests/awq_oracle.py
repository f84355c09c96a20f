"""Runs science/quantization's TypeScript AWQ and AutoRound (python/tests/oracle/awq-oracle.ts) on the
same inputs as the torch ones, for conformance tests."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
ORACLE = REPO / "python" / "tests" / "oracle" / "awq-oracle.ts"

_DTYPES = {torch.float32: "<f4", torch.float64: "<f8", torch.float16: "<f2"}


def _write(d: str, name: str, t: torch.Tensor) -> str:
    path = os.path.join(d, name)
    t.detach().cpu().contiguous().numpy().astype(_DTYPES[t.dtype]).tofile(path)
    return path


def run_awq_oracle(jobs: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """jobs: dicts as awq-oracle.ts takes them, with tensors in place of paths (weight, samples, meanAbs,
    hessian, channelScales; shared jobs: members with weight and samples). Returns, per job, the raw
    outputs: codes [out,in] uint8, scales [out,groups] uint16, zeros, s (uint16 [in]), losses (float64)."""
    with tempfile.TemporaryDirectory() as d:
        spec = []
        for job in jobs:
            entry: dict = {}
            for k, v in job.items():
                if isinstance(v, torch.Tensor):
                    entry[k] = _write(d, f"{job['name']}.{k}.in", v)
                elif k == "members":
                    entry[k] = [{mk: (_write(d, f"{job['name']}.{i}.{mk}.in", mv) if isinstance(mv, torch.Tensor) else mv) for mk, mv in m.items()} for i, m in enumerate(v)]
                else:
                    entry[k] = v
            spec.append(entry)
        jobs_path = os.path.join(d, "jobs.json")
        Path(jobs_path).write_text(json.dumps({"dir": d, "jobs": spec}))
        subprocess.run(["node", "--import", "tsx", str(ORACLE), jobs_path], cwd=REPO, check=True)
        results: dict[str, dict[str, np.ndarray]] = {}
        for job in jobs:
            base = os.path.join(d, job["name"])
            r: dict[str, np.ndarray] = {}
            if os.path.exists(base + ".codes"):
                out, n = job["out"], job["in"]
                gw = n if job["groupSize"] == "channel" else job["groupSize"]
                r["codes"] = np.fromfile(base + ".codes", dtype=np.uint8).reshape(out, n)
                r["scales"] = np.fromfile(base + ".scales", dtype="<u2").reshape(out, -(-n // gw))
                if os.path.exists(base + ".zeros"):
                    r["zeros"] = np.fromfile(base + ".zeros", dtype=np.uint8).reshape(out, -(-n // gw))
            if os.path.exists(base + ".s"):
                r["s"] = np.fromfile(base + ".s", dtype="<u2")
            r["losses"] = np.fromfile(base + ".losses", dtype="<f8")
            results[job["name"]] = r
        return results
