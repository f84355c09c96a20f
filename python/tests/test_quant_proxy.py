"""The proxy conformance of quantization: the trained proxy exported as a Hugging Face Mixtral
checkpoint (the names and config of science/export/compressed-tensors) goes through the torch
executor's quantize request in `original` mode, and its GPTQ codes are compared with the reference
executor's own calibration + GPTQ (python/tests/oracle/proxy-gptq-oracle.ts) on the same text.

The two calibrate through different forward passes (torch against onnxruntime, both float32), so the
Hessians agree to float32 rounding, not bit for bit, and a code flipped on a rounding boundary feeds
GPTQ's error propagation (a flipped code moves the later columns' targets, so a few codes can move
by more than one step). The stated tolerance: identical routed counts and balancing, >= 90% of the
modules bit-identical, >= 99.9% identical codes overall and >= 99.5% in every module, and at most
0.01% of codes more than one step apart. `npm test` logs the measured shares."""
from __future__ import annotations

import json
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.pack import unpack_rows
from evoquant_torch.quantize import run

from .quant_oracle import PROXY, REPO
from .fixtures import stable_text

torch.set_num_threads(1)
ORACLE = REPO / "python" / "tests" / "oracle" / "proxy-gptq-oracle.ts"
_EXPERT = re.compile(r"^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$")
_ROUTER = re.compile(r"^model\.layers\.(\d+)\.mlp\.gate\.weight$")
_W = {"gate": "w1", "down": "w2", "up": "w3"}
MIN_MODULE_IDENTICAL = 0.995
MIN_IDENTICAL = 0.999
MIN_EXACT_MODULES = 0.9
MAX_FAR_SHARE = 1e-4  # codes more than one step apart


def mixtral_name(proxy_name: str) -> str:
    """science/export/compressed-tensors/mixtral-names.ts mixtralTensorName."""
    if m := _EXPERT.match(proxy_name):
        return f"model.layers.{m[1]}.block_sparse_moe.experts.{m[2]}.{_W[m[3]]}.weight"
    if m := _ROUTER.match(proxy_name):
        return f"model.layers.{m[1]}.block_sparse_moe.gate.weight"
    return proxy_name


def export_proxy(dest: Path) -> Path:
    """The bf16 proxy as a Mixtral checkpoint (mixtral-config.ts field for field)."""
    c = json.loads((PROXY.parent / "config.json").read_text())
    config = {
        "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": c["hidden_size"],
        "intermediate_size": c["moe_intermediate_size"], "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"], "num_key_value_heads": c["num_key_value_heads"], "head_dim": c["head_dim"],
        "num_local_experts": c["num_experts"], "num_experts_per_tok": c["num_experts_per_tok"], "vocab_size": c["vocab_size"],
        "max_position_embeddings": c["max_position_embeddings"], "rope_parameters": {"rope_type": "default", "rope_theta": c["rope_theta"]},
        "rms_norm_eps": c["rms_norm_eps"], "hidden_act": "silu", "sliding_window": None, "output_router_logits": False,
        "tie_word_embeddings": False, "use_cache": True, "dtype": "bfloat16",
    }
    dest.mkdir(parents=True)
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    save_file({mixtral_name(k): v for k, v in load_file(str(PROXY)).items()}, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return dest


GPTQ_SPECS = {  # proxy role suffix -> (bits, group, symmetric, actOrder, blockSize)
    "self_attn.q_proj": (4, 32, True, True, 32),
    "self_attn.o_proj": (3, 32, False, False, 64),
    "gate_proj": (4, 64, True, False, 128),
    "up_proj": (2, 32, False, True, 128),
    "down_proj": (4, 128, True, True, 32),
}


def spec_of(proxy_tensor: str) -> tuple[int, int, bool, bool, int] | None:
    for suffix, s in GPTQ_SPECS.items():
        if proxy_tensor.endswith(suffix + ".weight"):
            return s
    return None


class ProxyConformance(unittest.TestCase):
    def test_gptq_codes_against_the_reference_executor(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            text = tmp / "calib.txt"
            text.write_bytes(stable_text(40000))
            cal = {"files": [str(text)], "tokens": 2048, "seq": 128, "batch": 8, "minTokensPerExpert": 64, "mode": "original"}
            ckpt = export_proxy(tmp / "proxy-hf")
            with safe_open(str(PROXY), framework="pt") as f:
                proxy_names = [k for k in f.keys() if spec_of(k) is not None and ".layers." in k]
            # The reference executor.
            jobs = [{"tensor": t, "name": f"m{i}", "bits": s[0], "groupSize": s[1], "symmetric": s[2], "actOrder": s[3], "blockSize": s[4], "damp": 0.01}
                    for i, t in enumerate(proxy_names) if (s := spec_of(t)) is not None]
            job = {"proxy": str(PROXY.parent), "text": str(text), "dir": d, **{k: cal[k] for k in ("tokens", "seq", "batch", "minTokensPerExpert")}, "modules": jobs}
            (tmp / "job.json").write_text(json.dumps(job))
            subprocess.run(["node", "--import", "tsx", str(ORACLE), str(tmp / "job.json")], cwd=REPO, check=True)
            ref = json.loads((tmp / "calibration.json").read_text())
            # The torch executor.
            arch = Checkpoint.open(str(ckpt)).arch
            modules = {}
            for m in arch.modules():
                if m["role"] == "embeddings":
                    continue
                s = spec_of(m["name"].replace("block_sparse_moe", "mlp").replace(".w1", ".gate_proj").replace(".w3", ".up_proj").replace(".w2", ".down_proj") + ".weight")
                modules[m["name"]] = ({"bits": 16, "format": "int", "groupSize": "channel", "symmetric": True, "method": {"kind": "rtn"}} if s is None or m["role"] == "lm_head" else
                                      {"bits": s[0], "format": "int", "groupSize": s[1], "symmetric": s[2], "method": {"kind": "gptq", "damp": 0.01, "blockSize": s[4], "actOrder": s[3]}})
            plan = {"recipeName": "proxy-gptq", "recipeHash": "proxy-gptq-1", "modules": modules}
            res = run({"kind": "quantize", "checkpoint": str(ckpt), "output": f"{d}/out", "plan": plan, "calibration": cal, "device": "cpu", "memoryCapBytes": None}, lambda m: None)
            self.assertEqual(res["routedCounts"], ref["routedCounts"])
            self.assertEqual(res["coverage"]["added"], ref["added"])
            stored = load_file(f"{d}/out/model.safetensors")
            lines, total, same, worst, exact, far = [], 0, 0, 0, 0, 0
            for j in jobs:
                name = mixtral_name(j["tensor"])[: -len(".weight")]
                shape = stored[f"{name}.weight_shape"].tolist()
                ours = unpack_rows(stored[f"{name}.weight_packed"], j["bits"], shape[1]).numpy()
                theirs = np.fromfile(f"{d}/{j['name']}.codes", dtype=np.uint8).reshape(shape).astype(np.int32)
                delta = np.abs(ours - theirs)
                share = float((delta == 0).mean())
                total += delta.size
                same += int((delta == 0).sum())
                worst = max(worst, int(delta.max()))
                far += int((delta > 1).sum())
                exact += int(share == 1.0)
                lines.append(f"{name}: {share:.4%} identical, max |dcode| {delta.max()}")
                self.assertGreaterEqual(share, MIN_MODULE_IDENTICAL, name)
            print(f"\nproxy GPTQ, torch executor vs reference executor: {exact}/{len(jobs)} modules bit-identical, "
                  f"{same}/{total} codes identical ({same / total:.4%}), {far} more than one step apart, max |dcode| {worst}\n  " + "\n  ".join(l for l in lines if "100.0000%" not in l))
            self.assertGreaterEqual(same / total, MIN_IDENTICAL)
            self.assertGreaterEqual(exact / len(jobs), MIN_EXACT_MODULES)
            self.assertLessEqual(far / total, MAX_FAR_SHARE)


if __name__ == "__main__":
    unittest.main()
