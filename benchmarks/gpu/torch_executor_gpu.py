"""The torch executor on a GPU machine (issue 9's GPU check), prepared by benchmarks/gpu/prepare.ts.

A random-initialised Qwen3-MoE with four real Qwen3-235B-A22B layers (11.2 B parameters) is written
as a sharded safetensors checkpoint, quantized layer by layer on the GPU through the executor's own
protocol (python -m evoquant_torch), then:
  - the executor's peak GPU memory (torch.cuda.max_memory_allocated) while quantizing and evaluating;
  - the quantized checkpoint loaded onto the GPU the way vLLM holds it (int32-packed codes and zero
    points, scales in bf16 params_dtype) against compile's prediction of the same bytes;
  - seconds per layer on the GPU, against the CPU path on one such layer with 16 experts, and
    against GPTQModel when it is installed (it is not on the machines seen so far: reported as such).
Only what the machine already has is used: torch and safetensors. Results: <out>/gpu-check.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parents[2]


def log(*args: object) -> None:
    print(*args, flush=True)


def environment() -> dict:
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cpuCount": os.cpu_count(),
    }
    for name in ("transformers", "safetensors", "tokenizers", "gptqmodel", "lm_eval", "compressed_tensors"):
        spec = importlib.util.find_spec(name)
        if spec is None:
            env[name] = None
            continue
        try:
            env[name] = __import__(name).__version__
        except Exception as err:  # a package that is present but does not import is reported, not fatal
            env[name] = f"present, import failed: {err}"
    if torch.cuda.is_available():
        env["deviceTotalBytes"] = torch.cuda.get_device_properties(0).total_memory
    return env


def write_random_checkpoint(config_path: Path, out: Path, seed: int) -> int:
    """Per-expert tensor names, one shard per decoder layer, as Qwen3-MoE checkpoints on the hub."""
    c = json.loads(config_path.read_text())
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(c, indent=2))
    d, hd, h, kv = c["hidden_size"], c["head_dim"], c["num_attention_heads"], c["num_key_value_heads"]
    e, f, v, n = c["num_experts"], c["moe_intermediate_size"], c["vocab_size"], c["num_hidden_layers"]
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=dev).manual_seed(seed)

    def rnd(*shape: int, std: float = 0.02) -> torch.Tensor:
        return (torch.randn(*shape, generator=gen, device=dev, dtype=torch.float32) * std).to(torch.bfloat16).cpu()

    ones = lambda k: torch.ones(k, dtype=torch.bfloat16)  # noqa: E731
    shards: list[dict[str, torch.Tensor]] = []
    for layer in range(n):
        p = f"model.layers.{layer}."
        t = {
            p + "input_layernorm.weight": ones(d),
            p + "post_attention_layernorm.weight": ones(d),
            p + "self_attn.q_proj.weight": rnd(h * hd, d),
            p + "self_attn.k_proj.weight": rnd(kv * hd, d),
            p + "self_attn.v_proj.weight": rnd(kv * hd, d),
            p + "self_attn.o_proj.weight": rnd(d, h * hd),
            p + "self_attn.q_norm.weight": ones(hd),
            p + "self_attn.k_norm.weight": ones(hd),
            p + "mlp.gate.weight": rnd(e, d, std=0.1),
        }
        for x in range(e):
            q = f"{p}mlp.experts.{x}."
            t[q + "gate_proj.weight"] = rnd(f, d)
            t[q + "up_proj.weight"] = rnd(f, d)
            t[q + "down_proj.weight"] = rnd(d, f)
        shards.append(t)
    shards.append({"model.embed_tokens.weight": rnd(v, d), "model.norm.weight": ones(d), "lm_head.weight": rnd(v, d)})
    weight_map: dict[str, str] = {}
    total = 0
    for i, t in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(t, str(out / name), metadata={"format": "pt"})
        for k, x in t.items():
            weight_map[k] = name
            total += x.numel() * x.element_size()
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    return sum(x.numel() for t in shards for x in t.values())


def executor(request: dict, label: str) -> dict:
    """One request through the executor's protocol: JSON on stdin, JSON lines on fd 3."""
    read_fd, write_fd = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(REPO / "python"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evoquant_torch", "--message-fd", str(write_fd)],
        stdin=subprocess.PIPE,
        pass_fds=(write_fd,),
        env=env,
    )
    os.close(write_fd)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(request).encode())
    proc.stdin.close()
    result: dict | None = None
    last = 0.0
    with os.fdopen(read_fd, "r") as messages:
        for line in messages:
            msg = json.loads(line)
            if msg["type"] == "progress":
                now = time.time()
                if now - last > 5 or msg["done"] == msg["total"]:
                    log(f"  [{label}] {msg['stage']} {msg['done']}/{msg['total']}")
                    last = now
            elif msg["type"] == "result":
                result = msg["result"]
            elif msg["type"] == "error":
                raise RuntimeError(f"{label}: {msg['errorType']}: {msg['message']}")
    code = proc.wait()
    if result is None or code != 0:
        raise RuntimeError(f"{label}: executor exited {code} without a result")
    return result


def plan_for(checkpoint: Path, specs: dict[str, dict[str, dict]], recipe: str) -> dict:
    described = executor({"kind": "describe", "checkpoint": str(checkpoint)}, "describe")
    modules = {}
    for m in described["modules"]:
        modules[m["name"]] = specs[m["role"]][str(m["layer"]) if m["layer"] is not None else "null"]
    return {"recipeName": recipe, "recipeHash": f"gpu-check:{recipe}", "modules": modules}


def vllm_resident_bytes(output: Path) -> tuple[int, int]:
    """The quantized checkpoint moved onto the GPU as vLLM keeps it: (allocator bytes, checkpoint file bytes)."""
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    held: list[torch.Tensor] = []
    stored = 0
    for shard in sorted(output.glob("*.safetensors")):
        with safe_open(str(shard), framework="pt") as f:
            for key in f.keys():
                t = f.get_tensor(key)
                stored += t.numel() * t.element_size()
                if key.endswith(".weight_shape"):
                    continue  # metadata vLLM reads at load time, not a device tensor
                if key.endswith(".weight_scale") and t.dtype == torch.float32:
                    t = t.to(torch.bfloat16)  # vLLM's compressed-tensors WNA16 keeps scales in params_dtype
                held.append(t.to("cuda"))
    torch.cuda.synchronize()
    resident = torch.cuda.memory_allocated() - before
    del held
    torch.cuda.empty_cache()
    return resident, stored


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prepared", required=True, help="the folder benchmarks/gpu/prepare.ts wrote")
    ap.add_argument("--work", required=True, help="scratch folder (about 25 GB)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--calibration-tokens", type=int, default=4096)
    ap.add_argument("--eval-tokens", type=int, default=4096)
    ap.add_argument("--dry-run-cpu", action="store_true", help="run the whole flow on the CPU (a small prepared config), to check the script")
    args = ap.parse_args()
    prepared, work, out = Path(args.prepared).resolve(), Path(args.work).resolve(), Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"environment": environment()}
    log("environment:", json.dumps(report["environment"]))
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2))
    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run_cpu:
        log("no CUDA device: nothing to measure (--dry-run-cpu runs the flow on the CPU)")
        return
    device = "cuda" if cuda else "cpu"
    specs = json.loads((prepared / "specs.json").read_text())
    prediction = json.loads((prepared / "prediction.json").read_text())
    text = [str(prepared / "calibration.txt")]

    def quantize(model_dir: Path, output: Path, device: str, role_specs: dict) -> tuple[dict, float]:
        plan = plan_for(model_dir, role_specs, specs["recipe"])
        start = time.time()
        res = executor(
            {
                "kind": "quantize",
                "checkpoint": str(model_dir),
                "output": str(output),
                "plan": plan,
                "calibration": {"files": text, "tokens": args.calibration_tokens, "seq": 512, "batch": 8, "minTokensPerExpert": 256, "mode": "sequential"},
                "device": device,
                "memoryCapBytes": None,
            },
            f"quantize/{device}",
        )
        return res, time.time() - start

    t0 = time.time()
    params = write_random_checkpoint(prepared / "model" / "config.json", work / "model", seed=0)
    report["model"] = {"parameters": params, "layers": 4, "experts": 128, "writeSeconds": round(time.time() - t0, 1)}
    log(f"random checkpoint: {params / 1e9:.2f} B parameters in {time.time() - t0:.0f} s")

    q, seconds = quantize(work / "model", work / "quantized", device, specs["model"])
    resident, stored = vllm_resident_bytes(work / "quantized") if cuda else (0, 0)
    report["gpu"] = {
        "quantizeSeconds": round(seconds, 1),
        "secondsPerLayer": q["secondsPerLayer"],
        "peakMemoryBytes": q["peakMemoryBytes"],
        "deviceTotalBytes": q["deviceTotalBytes"],
        "storedBytes": q["storedBytes"],
        "coverage": q.get("coverage"),
    }
    report["memory"] = {
        "residentAsVllmBytes": resident,
        "predictedWeightBytes": prediction["weightBytes"]["total"],
        "residentVsPrediction": resident / prediction["weightBytes"]["total"] - 1,
        "checkpointTensorBytes": stored,
        "predictedCheckpointBytes": prediction["checkpointBytes"]["total"],
        "checkpointVsPrediction": stored / prediction["checkpointBytes"]["total"] - 1,
    }
    log("memory:", json.dumps(report["memory"]))
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2))

    ev = executor(
        {
            "kind": "evaluate",
            "model": str(work / "quantized"),
            "reference": str(work / "model"),
            "text": {"files": text, "tokens": args.eval_tokens, "seq": 512, "batch": 8},
            "cacheDir": str(work / "cache"),
            "device": device,
            "memoryCapBytes": None,
        },
        f"evaluate/{device}",
    )
    report["evaluate"] = {k: ev[k] for k in ("tokens", "bitsPerByte", "klBitsPerByte", "top1", "peakMemoryBytes", "weightBytes") if k in ev}
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2))

    # The scratch checkpoints are this script's own; free the disk for the next ones.
    shutil.rmtree(work / "quantized")
    shutil.rmtree(work / "model")

    # The same layer shape with 16 experts, on the GPU and on this machine's CPU cores.
    write_random_checkpoint(prepared / "cpu-model" / "config.json", work / "small", seed=1)
    small_gpu, _ = quantize(work / "small", work / "small-gpu", device, specs["cpuModel"])
    torch.set_num_threads(os.cpu_count() or 1)
    small_cpu, _ = quantize(work / "small", work / "small-cpu", "cpu", specs["cpuModel"])
    report["cpuVsGpu"] = {
        "layer": "one Qwen3-235B layer with 16 of its 128 experts",
        "gpuSecondsPerLayer": small_gpu["secondsPerLayer"][0],
        "cpuSecondsPerLayer": small_cpu["secondsPerLayer"][0],
        "cpuThreads": torch.get_num_threads(),
        "speedup": small_cpu["secondsPerLayer"][0] / small_gpu["secondsPerLayer"][0],
        "gptqmodel": report["environment"].get("gptqmodel") or "not installed on this machine",
    }
    log("cpu vs gpu:", json.dumps(report["cpuVsGpu"]))
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
