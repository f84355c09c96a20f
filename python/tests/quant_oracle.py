"""Runs science/quantization's TypeScript quantizers (python/tests/oracle/quantize-oracle.ts) on
the same inputs as the torch ones, for bit-by-bit conformance tests."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

REPO = Path(__file__).resolve().parents[2]
PROXY = REPO / "artifacts" / "proxy" / "model.safetensors"
ORACLE = REPO / "python" / "tests" / "oracle" / "quantize-oracle.ts"


def proxy_tensor(name: str) -> torch.Tensor:
    """A weight of the trained proxy MoE as float32."""
    with safe_open(str(PROXY), framework="pt") as f:
        return f.get_tensor(name).to(torch.float32)


@dataclass
class OracleResult:
    codes: np.ndarray  # [out, in] uint8
    scales: np.ndarray  # [out, groups] uint16 fp16 bits
    zeros: np.ndarray | None


def run_oracle(jobs: list[dict]) -> dict[str, OracleResult]:
    """jobs: dicts with name, kind, weight (float32 [out,in] tensor), bits, groupSize, symmetric and,
    for gptq, hessian (float64 [in,in]), count, damp, blockSize, actOrder."""
    with tempfile.TemporaryDirectory() as d:
        spec = []
        shapes = {}
        for job in jobs:
            w: torch.Tensor = job["weight"]
            out, n = w.shape
            wpath = os.path.join(d, f"{job['name']}.w")
            w.to(torch.float32).contiguous().numpy().astype("<f4").tofile(wpath)
            entry = {k: v for k, v in job.items() if k not in ("weight", "hessian")}
            entry.update(weight=wpath, out=out, **{"in": n})
            if "hessian" in job:
                hpath = os.path.join(d, f"{job['name']}.h")
                job["hessian"].to(torch.float64).contiguous().numpy().astype("<f8").tofile(hpath)
                entry["hessian"] = hpath
            spec.append(entry)
            gw = n if job["groupSize"] == "channel" else job["groupSize"]
            shapes[job["name"]] = (out, n, -(-n // gw))
        jobs_path = os.path.join(d, "jobs.json")
        Path(jobs_path).write_text(json.dumps({"dir": d, "jobs": spec}))
        subprocess.run(["node", "--import", "tsx", str(ORACLE), jobs_path], cwd=REPO, check=True)
        results = {}
        for name, (out, n, groups) in shapes.items():
            base = os.path.join(d, name)
            codes = np.fromfile(base + ".codes", dtype=np.uint8).reshape(out, n)
            scales = np.fromfile(base + ".scales", dtype="<u2").reshape(out, groups)
            zeros = np.fromfile(base + ".zeros", dtype=np.uint8).reshape(out, groups) if os.path.exists(base + ".zeros") else None
            results[name] = OracleResult(codes, scales, zeros)
        return results
