"""Device check of the layer-streamed executor (pymodel): on the GPU it is handed,
1. the layer-streamed logits equal transformers' own on the same device (float32, TF32 off) per fixture architecture;
2. evaluate over the protocol on cuda reports torch.cuda.max_memory_allocated and the device total, and a memory cap
   far below the need is GpuOutOfMemory (torch.OutOfMemoryError via set_per_process_memory_fraction);
3. time and peak memory of one Qwen3-235B-sized MoE decoder layer (hidden 4096, 64/4 heads, 128 experts top-8,
   moe_intermediate 1536) over N tokens in float32.
Prints one JSON object per check. Run: PYTHONPATH=python python python/tests/device_check_layers.py [--tokens N]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evoquant_torch.architectures import arch_from_config  # noqa: E402
from evoquant_torch.checkpoint import Checkpoint  # noqa: E402
from evoquant_torch.layers import embed_tokens, head_logits, layer_forward  # noqa: E402
from tests.fixtures import KINDS, make_checkpoint  # noqa: E402


def say(**kw: object) -> None:
    print(json.dumps(kw), flush=True)


def conformance(dev: torch.device, tmp: Path) -> None:
    from transformers import AutoModelForCausalLM

    ids = torch.randint(0, 300, (4, 128), generator=torch.Generator().manual_seed(7)).to(dev)
    for kind in KINDS:
        d = make_checkpoint(kind, tmp / kind, seed=3)
        hf = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32).to(dev).eval()
        c = Checkpoint.open(str(d))
        with torch.no_grad():
            ref = hf(input_ids=ids).logits
            h = embed_tokens(c.embed(dev), ids)
            for i in range(c.arch.layers):
                h = layer_forward(c.arch, c.layer(i, dev), h)
            mine = head_logits(c.arch, c.final_norm(dev), c.lm_head(dev), h)
        say(check="conformance", device=str(dev), kind=kind, maxAbsLogitDiff=float((ref - mine).abs().max()))


def protocol(dev: torch.device, tmp: Path) -> None:
    d = make_checkpoint("qwen3_moe", tmp / "proto", seed=5)
    text = tmp / "t.txt"
    text.write_bytes(("It is a truth universally acknowledged, that a single man in possession of a good fortune " * 80).encode())
    base = {"kind": "evaluate", "model": str(d), "reference": str(d), "cacheDir": str(tmp / "cache"), "device": "cuda" if dev.type == "cuda" else "cpu",
            "text": {"files": [str(text)], "tokens": 2048, "seq": 256, "batch": 4}}
    for cap in (None, 4096):
        r, w = os.pipe()
        p = subprocess.Popen([sys.executable, "-m", "evoquant_torch", "--message-fd", str(w)], stdin=subprocess.PIPE, pass_fds=(w,),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        os.close(w)
        t0 = time.time()
        _, err = p.communicate(json.dumps({**base, "memoryCapBytes": cap}).encode())
        msgs = [json.loads(x) for x in os.fdopen(r).read().splitlines()]
        last = msgs[-1] if msgs else {}
        say(check="protocol-evaluate", cap=cap, exit=p.returncode, seconds=round(time.time() - t0, 2), last=last.get("errorType") or
            {k: last.get("result", {}).get(k) for k in ("bitsPerByte", "klBitsPerToken", "peakMemoryBytes", "deviceTotalBytes")},
            message=last.get("message"), stderrTail=err.decode(errors="replace")[-300:] if p.returncode not in (0, 1) else "")


def big_layer(dev: torch.device, tokens: int, seq: int) -> None:
    cfg = {"model_type": "qwen3_moe", "hidden_size": 4096, "num_hidden_layers": 1, "num_attention_heads": 64, "num_key_value_heads": 4,
           "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 1536, "norm_topk_prob": True,
           "vocab_size": 151936, "rope_theta": 1e6, "rms_norm_eps": 1e-6}
    a = arch_from_config(cfg)
    g = torch.Generator(device=dev).manual_seed(0)
    w: dict[str, torch.Tensor] = {}
    for k, shape in a.layer_shapes().items():
        if len(shape) == 1:
            w[k] = 1 + 0.1 * torch.randn(shape, device=dev, generator=g)
        else:
            w[k] = torch.randn(shape, device=dev, generator=g) / shape[1] ** 0.5
    wbytes = sum(t.numel() * t.element_size() for t in w.values())
    batch = max(1, tokens // seq)
    h = torch.randn((batch, seq, a.hidden), device=dev, generator=g)
    counts = torch.zeros(a.experts, dtype=torch.long, device=dev)
    with torch.no_grad():
        layer_forward(a, w, h[:1], routed_counts=counts)  # warm-up
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.time()
        out = layer_forward(a, w, h, routed_counts=counts)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.time() - t0
    say(check="qwen3-235b-layer", device=str(dev), tokens=batch * seq, seq=seq, seconds=round(dt, 4), weightBytes=wbytes,
        peakBytes=torch.cuda.max_memory_allocated() if dev.type == "cuda" else None, finite=bool(torch.isfinite(out).all()),
        minRouted=int(counts.min()), maxRouted=int(counts.max()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--skip-big", action="store_true")
    args = ap.parse_args()
    import transformers

    dev = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    say(check="environment", torch=torch.__version__, transformers=transformers.__version__, cuda=torch.version.cuda,
        device=torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        conformance(dev, Path(tmp))
        protocol(dev, Path(tmp))
    if not args.skip_big:
        big_layer(dev, args.tokens, args.seq)


if __name__ == "__main__":
    main()
