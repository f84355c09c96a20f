"""Device check of AWQ and AutoRound in the torch executor: the same inputs on CPU and on the GPU it is
handed give the same alpha, fp16 s and codes (AWQ; within the pick margin) and the same learned output
error (AutoRound); per-call times on both; then a quantize request with AWQ + AutoRound on a random
Qwen3-MoE fixture with device cuda against the same request on CPU (stored tensors compared).
Prints one JSON object per check. Run: PYTHONPATH=python python python/tests/device_check_awq.py
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evoquant_torch.quant.autoround import autoround_quantize  # noqa: E402
from evoquant_torch.quant.awq import awq_quantize  # noqa: E402


def say(**kw: object) -> None:
    print(json.dumps(kw), flush=True)


def rows(count: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.2, 2.0, n)
    scale[torch.randperm(n, generator=g)[: n // 32]] *= 12.0
    return (torch.randn(count, n, generator=g) * scale).to(torch.float32)


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    r = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return r, time.perf_counter() - t


def main() -> None:
    say(check="env", torch=torch.__version__, cuda=torch.version.cuda, device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    small = "--dry-run" in sys.argv  # on a machine without a GPU: tiny shapes, "cuda" = the CPU (catches script errors only)
    cuda = torch.device("cpu" if small else "cuda:0")
    torch.backends.cuda.matmul.allow_tf32 = False
    shapes = ((64, 128, 4, 32), (128, 64, 3, 32)) if small else ((1536, 4096, 4, 128), (4096, 1536, 3, 64))
    for out, n, bits, group in shapes:
        g = torch.Generator().manual_seed(out)
        w = (torch.randn(out, n, generator=g) * 0.02).to(torch.float32)
        x = rows(2048, n, seed=n)
        mean_abs = x.to(torch.float64).abs().mean(dim=0)
        samples = x[:512].contiguous()
        a_cpu, t_cpu = timed(lambda: awq_quantize(w, mean_abs, samples, bits, group, True, 20, True, 10, 0.5))
        a_gpu, t_gpu = timed(lambda: awq_quantize(w.to(cuda), mean_abs.to(cuda), samples.to(cuda), bits, group, True, 20, True, 10, 0.5))
        say(check="awq", shape=[out, n], bits=bits, group=group, alpha_cpu=a_cpu.alpha, alpha_gpu=a_gpu.alpha,
            s_identical=bool(torch.equal(a_cpu.channel_scales, a_gpu.channel_scales.cpu())),
            codes_identical=float((a_cpu.codes.codes == a_gpu.codes.codes.cpu()).to(torch.float64).mean()),
            loss_rel=abs(a_cpu.final_loss - a_gpu.final_loss) / a_cpu.final_loss, seconds_cpu=round(t_cpu, 3), seconds_gpu=round(t_gpu, 3))
        # AutoRound walks G = D Hq every step (out * in^2): one expert-sized module, 30 steps.
        w, x = w[: min(out, 768), : min(n, 2048)].contiguous(), x[:, : min(n, 2048)].contiguous()
        h = x.to(torch.float64).T @ x.to(torch.float64)
        r_cpu, t_cpu = timed(lambda: autoround_quantize(w, h, 2048, bits, group, True, 30, 1 / 30, True))
        r_gpu, t_gpu = timed(lambda: autoround_quantize(w.to(cuda), h.to(cuda), 2048, bits, group, True, 30, 1 / 30, True))
        say(check="autoround", shape=list(w.shape), bits=bits, group=group, rtn_loss=r_cpu.losses[0], best_cpu=min(r_cpu.losses), best_gpu=min(r_gpu.losses),
            best_step_cpu=r_cpu.best_step, best_step_gpu=r_gpu.best_step,
            codes_identical=float((r_cpu.codes.codes == r_gpu.codes.codes.cpu()).to(torch.float64).mean()), seconds_cpu=round(t_cpu, 3), seconds_gpu=round(t_gpu, 3))
    try:
        from safetensors.torch import load_file

        from evoquant_torch.quantize import run
        from tests.fixtures import make_checkpoint, stable_text
        from tests.test_quant_awq_driver import AUTOROUND, awq_roles
        from tests.test_quant_driver import plan_for
    except Exception as e:  # noqa: BLE001 - the fixture needs transformers; report what is missing
        say(check="quantize", skipped=f"{type(e).__name__}: {e}")
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        text = tmp / "t.txt"
        text.write_bytes(stable_text(12000))
        src = make_checkpoint("qwen3_moe", tmp / "src", seed=3)
        plan = plan_for(src, awq_roles(AUTOROUND), "gpu-awq")
        out = {}
        for dev in ("cpu", "cpu" if small else "cuda"):
            req = {"kind": "quantize", "checkpoint": str(src), "output": str(tmp / dev) + ("-2" if dev in out else ""), "plan": plan, "device": dev, "memoryCapBytes": None,
                   "calibration": {"files": [str(text)], "tokens": 512, "seq": 64, "batch": 4, "minTokensPerExpert": 8, "mode": "sequential"}}
            res, secs = timed(lambda: run(req, lambda m: None))
            out["cuda" if dev in out else dev] = (load_file(str(req["output"]) + "/model.safetensors"), secs, res["routedCounts"])
        a, b = out["cpu"][0], out["cuda"][0]
        same = [k for k in a if torch.equal(a[k], b[k])]
        say(check="quantize", tensors=len(a), identical=len(same), differing=sorted(set(a) - set(same))[:12],
            routed_equal=out["cpu"][2] == out["cuda"][2], seconds_cpu=round(out["cpu"][1], 2), seconds_gpu=round(out["cuda"][1], 2))


if __name__ == "__main__":
    main()
