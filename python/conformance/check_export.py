"""Loads compressed-tensors exports with the real consumers and scores them on held-out bytes.

One process for every check (importing torch + transformers costs 15-25 s). Reads a JSON request
on stdin, writes one JSON object on stdout:

  {"jobs": [{"name": str, "dir": str, "path": "transformers" | "ct-decompress",
             "windows": str (raw bytes [count, seq+1]), "count": int, "seq": int,
             "logits": str | null (evoquant's float32 logits of the first logitsWindows windows),
             "logitsWindows": int}]}

Paths:
- transformers: AutoModelForCausalLM.from_pretrained(dir), with CompressedTensorsConfig(dequantize=True)
  when the export is quantized (transformers 5.20 decompresses while loading; its fused-expert path
  resolves one scheme for all experts and one for all dense modules, and passes no zero point).
- ct-decompress: compressed-tensors decompresses every module itself, picking the module's scheme
  from config_groups with compressed_tensors.utils.match_name (the matcher vLLM uses too); the dense
  state dict is then loaded into MixtralForCausalLM by transformers, strictly. This is the consumer
  path for mixed recipes transformers' heuristic cannot express (per-layer expert schemes,
  asymmetric experts).
"""

import json
import math
import os
import sys
import tempfile

import numpy as np
import torch


def load_transformers(d):
    from transformers import AutoModelForCausalLM, CompressedTensorsConfig

    kwargs = {}
    with open(os.path.join(d, "config.json")) as f:
        if "quantization_config" in json.load(f):
            kwargs["quantization_config"] = CompressedTensorsConfig(dequantize=True)
    model, info = AutoModelForCausalLM.from_pretrained(
        d, dtype=torch.float32, output_loading_info=True, **kwargs
    )
    # transformers 5.20 keeps decompressed experts in the scale dtype (fp16); fp16 → fp32 is exact.
    return model.float().eval(), info


def ct_decompress(d, out_dir):
    """Decompress with compressed-tensors' own compressor and matcher into a plain checkpoint."""
    from compressed_tensors.compressors import BaseCompressor
    from compressed_tensors.quantization import QuantizationConfig
    from compressed_tensors.utils.match import match_name
    from safetensors.torch import load_file, save_file

    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    qc = QuantizationConfig.model_validate(config.pop("quantization_config"))
    tensors = load_file(os.path.join(d, "model.safetensors"))
    # Every module with a weight_scale is stored quantized: weight_packed (pack-quantized) or an fp8 weight (float-quantized).
    modules = sorted({k.rsplit(".", 1)[0] for k in tensors if k.endswith(".weight_scale")})
    dense = {k: v for k, v in tensors.items() if not any(k.startswith(m + ".") for m in modules)}
    report = {"decompressed": 0, "schemes": {}}
    for m in modules:
        if any(match_name(m, ign) for ign in qc.ignore or []):
            raise SystemExit(f"ct-decompress: {m} is stored quantized but listed in ignore")
        groups = [g for g, s in qc.config_groups.items() if any(match_name(m, t) for t in s.targets)]
        if len(groups) != 1:
            raise SystemExit(f"ct-decompress: {m} matches config groups {groups}, expected exactly one")
        scheme = qc.config_groups[groups[0]]
        compressor = BaseCompressor.get_value_from_registry(scheme.format or qc.format)
        state = {k.removeprefix(m + "."): v for k, v in tensors.items() if k.startswith(m + ".")}
        state = compressor.decompress(state, scheme)
        dense[m + ".weight"] = state["weight"].to(torch.float32)
        report["decompressed"] += 1
        key = f'{groups[0]}:{scheme.format or qc.format}'
        report["schemes"][key] = report["schemes"].get(key, 0) + 1
    for k, v in tensors.items():
        if k.endswith(".weight") and not any(k.startswith(m + ".") for m in modules):
            if any(match_name(k.removesuffix(".weight"), t) for s in qc.config_groups.values() for t in s.targets):
                raise SystemExit(f"ct-decompress: {k} is targeted by a config group but stored dense")
    os.makedirs(out_dir, exist_ok=True)
    save_file({k: v.contiguous() for k, v in dense.items()}, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f)
    return report


def bits_per_byte_and_logits(model, windows, count, seq, keep):
    data = torch.from_numpy(np.frombuffer(windows, dtype=np.uint8).reshape(count, seq + 1).astype(np.int64))
    nats = 0.0
    kept = []
    with torch.no_grad():
        for start in range(0, count, 16):
            batch = data[start : start + 16]
            logits = model(batch[:, :seq]).logits.float()
            lp = torch.log_softmax(logits.double(), dim=-1)
            nats -= lp.gather(-1, batch[:, 1:].unsqueeze(-1)).sum().item()
            if start < keep:
                kept.append(logits[: max(0, keep - start)])
    return nats / (count * seq) / math.log(2), (torch.cat(kept) if kept else None)


def main():
    torch.manual_seed(0)
    request = json.load(sys.stdin)
    import compressed_tensors
    import transformers

    out = {
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "compressed_tensors": compressed_tensors.__version__},
        "results": {},
    }
    for job in request["jobs"]:
        result = {}
        d = job["dir"]
        with tempfile.TemporaryDirectory() as tmp:
            if job["path"] == "ct-decompress":
                result["ct"] = ct_decompress(d, tmp)
                d = tmp
            model, info = load_transformers(d)
            result["architecture"] = type(model).__name__
            result["loading"] = {k: sorted(v) if isinstance(v, (set, list)) else v for k, v in info.items() if k != "error_msgs"}
            result["loading"]["error_msgs"] = [str(e) for e in info.get("error_msgs", [])]
            with open(job["windows"], "rb") as f:
                windows = f.read()
            keep = job.get("logitsWindows", 0) if job.get("logits") else 0
            bpb, logits = bits_per_byte_and_logits(model, windows, job["count"], job["seq"], keep)
            result["bitsPerByte"] = bpb
            if keep:
                theirs = torch.from_numpy(np.fromfile(job["logits"], dtype=np.float32)).reshape(logits.shape)
                result["maxAbsLogitDiff"] = (logits - theirs).abs().max().item()
        out["results"][job["name"]] = result
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
