"""The proxy conformance of AWQ: the trained proxy exported as a Hugging Face Mixtral checkpoint goes
through the torch executor's quantize request in `original` mode with AWQ (q/k/v and every expert's
gate/up on one shared s per input, down_proj per module), and its codes and folded norms are compared
with the reference executor's own calibration + awq-shared-input.ts + awq.ts on the same text
(python/tests/oracle/proxy-awq-oracle.ts); lm_head too (per module, its s folded into the final norm).

The sampled calibration rows are the same tokens on both sides (rows are named by their token index and
sampled by the same hash, awq_capture.py), but their values come through different forward passes
(torch vs onnxruntime, float32), so mean |x| and the output errors agree to float32 rounding: an fp16
s or a clipping choice on a rounding boundary can differ. The stated tolerance: identical routed
counts and balancing, >= 99.9% identical codes overall and >= 99% in every module, the folded
input_layernorm identical in >= 99% of its entries in every layer. (Measured on this CPU: 109/109 modules and
all 3,309,568 codes identical, every folded norm identical.)"""
from __future__ import annotations

import json
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.pack import unpack_rows
from evoquant_torch.quantize import run

from .quant_oracle import PROXY, REPO
from .fixtures import stable_text
from .test_quant_proxy import export_proxy, mixtral_name

torch.set_num_threads(1)
ORACLE = REPO / "python" / "tests" / "oracle" / "proxy-awq-oracle.ts"
MIN_MODULE_IDENTICAL = 0.99
MIN_IDENTICAL = 0.999
MIN_NORM_IDENTICAL = 0.99

AWQ = {"kind": "awq", "scaleGrid": 20, "clip": True, "clipGrid": 10, "maxShrink": 0.5}
SPECS = {  # proxy role suffix -> spec
    "self_attn.q_proj": {"bits": 4, "format": "int", "groupSize": 32, "symmetric": True, "method": {**AWQ, "scales": "shared-input"}},
    "self_attn.k_proj": {"bits": 4, "format": "int", "groupSize": 32, "symmetric": True, "method": {**AWQ, "scales": "shared-input"}},
    "self_attn.v_proj": {"bits": 4, "format": "int", "groupSize": 64, "symmetric": False, "method": {**AWQ, "scales": "shared-input"}},
    "gate_proj": {"bits": 3, "format": "int", "groupSize": 32, "symmetric": False, "method": {**AWQ, "scales": "shared-input"}},
    "up_proj": {"bits": 4, "format": "int", "groupSize": 32, "symmetric": True, "method": {**AWQ, "scales": "shared-input"}},
    "down_proj": {"bits": 3, "format": "int", "groupSize": 64, "symmetric": False, "method": AWQ},
    "lm_head": {"bits": 4, "format": "int", "groupSize": 32, "symmetric": False, "method": AWQ},
}
KEEP = {"bits": 16, "format": "int", "groupSize": "channel", "symmetric": True, "method": {"kind": "rtn"}}
O_RTN = {"bits": 4, "format": "int", "groupSize": 32, "symmetric": True, "method": {"kind": "rtn"}}


def spec_of(proxy_tensor: str) -> dict | None:
    if ".mlp.gate.weight" in proxy_tensor:
        return None
    for suffix, s in SPECS.items():
        if proxy_tensor.endswith(suffix + ".weight"):
            return s
    return None


def proxy_name(hf_module: str) -> str:
    return hf_module.replace("block_sparse_moe", "mlp").replace(".w1", ".gate_proj").replace(".w3", ".up_proj").replace(".w2", ".down_proj") + ".weight"


class ProxyAwqConformance(unittest.TestCase):
    def test_awq_codes_against_the_reference_executor(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            text = tmp / "calib.txt"
            text.write_bytes(stable_text(40000))
            cal = {"files": [str(text)], "tokens": 2048, "seq": 128, "batch": 8, "minTokensPerExpert": 64, "mode": "original"}
            ckpt = export_proxy(tmp / "proxy-hf")
            with safe_open(str(PROXY), framework="pt") as f:
                names = [k for k in f.keys() if spec_of(k) is not None]
            jobs = [{"tensor": t, "name": f"m{i}", "spec": spec_of(t)} for i, t in enumerate(names)]
            job = {"proxy": str(PROXY.parent), "text": str(text), "dir": d, **{k: cal[k] for k in ("tokens", "seq", "batch", "minTokensPerExpert")}, "modules": jobs}
            (tmp / "job.json").write_text(json.dumps(job))
            subprocess.run(["node", "--import", "tsx", str(ORACLE), str(tmp / "job.json")], cwd=REPO, check=True)
            ref = json.loads((tmp / "calibration.json").read_text())
            arch = Checkpoint.open(str(ckpt)).arch
            modules = {}
            for m in arch.modules():
                if m["role"] == "embeddings":
                    continue
                s = spec_of(proxy_name(m["name"]))
                modules[m["name"]] = O_RTN if m["role"] == "attn_o" else KEEP if s is None else s
            plan = {"recipeName": "proxy-awq", "recipeHash": "proxy-awq-1", "modules": modules}
            res = run({"kind": "quantize", "checkpoint": str(ckpt), "output": f"{d}/out", "plan": plan, "calibration": cal, "device": "cpu", "memoryCapBytes": None}, lambda m: None)
            self.assertEqual(res["routedCounts"], ref["routedCounts"])
            self.assertEqual(res["coverage"]["added"], ref["added"])
            stored = load_file(f"{d}/out/model.safetensors")
            source = load_file(str(ckpt / "model.safetensors"))
            total, same, worst_share, exact, lines = 0, 0, 1.0, 0, []
            for j in jobs:
                name = mixtral_name(j["tensor"])[: -len(".weight")]
                shape = stored[f"{name}.weight_shape"].tolist()
                ours = unpack_rows(stored[f"{name}.weight_packed"], j["spec"]["bits"], shape[1]).numpy()
                theirs = np.fromfile(f"{d}/{j['name']}.codes", dtype=np.uint8).reshape(shape).astype(np.int32)
                share = float((ours == theirs).mean())
                total += ours.size
                same += int((ours == theirs).sum())
                worst_share = min(worst_share, share)
                exact += int(share == 1.0)
                if share < 1.0:
                    lines.append(f"{name}: {share:.4%} identical")
                self.assertGreaterEqual(share, MIN_MODULE_IDENTICAL, name)
            norm_shares = []
            for i in range(arch.layers):
                q_job = next(j for j in jobs if j["tensor"] == f"model.layers.{i}.self_attn.q_proj.weight")
                s_ts = torch.from_numpy(np.fromfile(f"{d}/{q_job['name']}.s", dtype="<u2").astype(np.int16)).view(torch.float16).to(torch.float64)
                norm = f"model.layers.{i}.input_layernorm.weight"
                want = (source[norm].to(torch.float64) / s_ts).to(source[norm].dtype)
                norm_shares.append(float((stored[norm] == want).to(torch.float64).mean()))
                self.assertGreaterEqual(norm_shares[-1], MIN_NORM_IDENTICAL, norm)
            head_job = next(j for j in jobs if j["tensor"] == "lm_head.weight")
            s_head = torch.from_numpy(np.fromfile(f"{d}/{head_job['name']}.s", dtype="<u2").astype(np.int16)).view(torch.float16).to(torch.float64)
            want = (source["model.norm.weight"].to(torch.float64) / s_head).to(source["model.norm.weight"].dtype)
            norm_shares.append(float((stored["model.norm.weight"] == want).to(torch.float64).mean()))
            self.assertGreaterEqual(norm_shares[-1], MIN_NORM_IDENTICAL, "model.norm.weight")
            print(f"\nproxy AWQ, torch executor vs reference executor: {exact}/{len(jobs)} modules bit-identical, {same}/{total} codes identical "
                  f"({same / total:.4%}), worst module {worst_share:.4%}; folded input_layernorm / final norm identical {min(norm_shares):.4%} (worst)"
                  + ("\n  " + "\n  ".join(lines) if lines else ""))
            self.assertGreaterEqual(same / total, MIN_IDENTICAL)


if __name__ == "__main__":
    unittest.main()
