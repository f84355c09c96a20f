"""Device check of the torch KV-cache simulation (kv_cache.py, layers.py, long_context.py): on the GPU it is
handed, the long-context metrics of every policy of test/long-context-conformance.test.ts equal the CPU's
(float32, TF32 off): bits/byte and KL overall and per bucket within 1e-4; and the
time of one evaluation per policy on each device. The model is artifacts/dense-proxy when present, else the random
fixture of make_dense_fixture.py. Prints one JSON object per policy.
Run: PYTHONPATH=python python python/tests/device_check_kv.py [--windows N]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evoquant_torch.checkpoint import Checkpoint  # noqa: E402
from evoquant_torch.kv_cache import parse_kv_policy  # noqa: E402
from evoquant_torch.long_context import LongContextModel, evaluate_buckets, position_buckets  # noqa: E402
from tests.fixtures import REPO, stable_text  # noqa: E402
from tests.make_dense_fixture import make_dense_fixture  # noqa: E402

TOK = lambda f, axis="token", g=32: {"format": f, "axis": axis, "groupSize": g}  # noqa: E731
POLICIES = {
    "int8 token g32": {"keys": TOK("int8"), "values": TOK("int8")},
    "int4 channel g32 + window 32": {"keys": TOK("int4", "channel"), "values": TOK("int4"), "recentWindow": 32},
    "int2 token g32": {"keys": TOK("int2"), "values": TOK("int2")},
    "fp8 e4m3 K + e5m2 V": {"keys": {"format": "fp8_e4m3"}, "values": {"format": "fp8_e5m2"}},
    "int4 pre-rope + hadamard + 4 sinks": {"keys": TOK("int4", g=16), "values": TOK("int4", g=16), "keyPosition": "pre-rope",
                                           "keyRotation": "hadamard", "sinkTokens": 4},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=8)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with tempfile.TemporaryDirectory() as d:
        proxy = REPO / "artifacts" / "dense-proxy"
        path = proxy if (proxy / "model.safetensors").is_file() else make_dense_fixture(Path(d) / "m", seed=7)
        ckpt = Checkpoint.open(str(path))
        seq = int(ckpt.config.get("max_position_embeddings", 1024))
        windows = torch.tensor(list(stable_text(args.windows * (seq + 1))), dtype=torch.uint8).view(args.windows, seq + 1)
        models = {dev: LongContextModel(ckpt, torch.device(dev)) for dev in ("cpu", "cuda:0")}
        for name, raw in POLICIES.items():
            kv = parse_kv_policy(raw)
            got, secs = {}, {}
            for dev, model in models.items():
                t0 = time.time()
                got[dev] = evaluate_buckets(model, windows, position_buckets(seq), kv, 2)
                if dev != "cpu":
                    torch.cuda.synchronize()
                secs[dev] = round(time.time() - t0, 2)
            pairs = [(got["cpu"], got["cuda:0"])] + list(zip(got["cpu"]["buckets"], got["cuda:0"]["buckets"]))
            d_bpb = max(abs(a["bitsPerByte"] - b["bitsPerByte"]) for a, b in pairs)
            d_kl = max(abs(a["klBitsPerByte"] - b["klBitsPerByte"]) for a, b in pairs)
            print(json.dumps({"policy": name, "model": str(path.name), "seq": seq, "max_dBitsPerByte": d_bpb, "max_dKl": d_kl,
                              "ok": d_bpb <= 1e-4 and d_kl <= 1e-4, "seconds": secs}), flush=True)


if __name__ == "__main__":
    main()
