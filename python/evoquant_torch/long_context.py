"""Long-context evaluation of a byte-level checkpoint in torch, with an optional KV-cache policy: the
torch side of science/long-context/{bucketed-eval,retrieval-eval}.ts, built from the same definitions.

  - bits/byte, top-1 and KL(original ‖ model) in bits per byte, overall and per position bucket (a
    position is the 0-based index of the predicted byte in its window; buckets 0–127, 128–511, 512–1023,
    then doubling, up to the window length, unless given); the original is --reference when given (e.g. the
    unquantized checkpoint of a quantized one), else the same checkpoint read without a KV policy, so that
    KL isolates what the cache costs; the original is always read without a KV policy;
  - retrieval accuracy by distance: for each probe the model reads the first seq bytes of its window and
    the argmax at positions query .. query+KEY_LETTERS−1 must be the key's letters (window[query+1+j]).

Inputs are files: the windows as raw bytes ([count, seq+1], as EvalWindows.bytes lays them out), the
probes as JSON ({"probes": [{"window": base64 of seq+1 bytes, "query": int, "distance": int}]}) and the
KV policy as the JSON schema/kv-policy.ts parses. Tokens are bytes (the dense proxy's vocabulary).

    python -m evoquant_torch.long_context --model DIR --windows FILE --seq N [--probes FILE] [--kv FILE]
        [--reference DIR] [--buckets 0:128,128:512] [--batch 2] [--device cpu]

prints one JSON object; bad input is one line on stderr and exit 2.
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import sys
from pathlib import Path
from typing import Any, Iterator

import torch

from .checkpoint import Checkpoint
from .errors import ExecutorError, InvalidRequest
from .kv_cache import KvPolicy, parse_kv_policy, resolve_kv_layer
from .layers import embed_tokens, head_logits, layer_forward

LOG2E = 1.0 / math.log(2.0)
KEY_LETTERS = 6  # science/long-context/retrieval.ts
MAX_INPUT_BYTES = 1 << 30


def position_buckets(seq: int) -> list[tuple[int, int]]:
    """[from, to) ranges 0–127, 128–511, 512–1023, then doubling, the last one ending at seq."""
    edges = [128, 512]
    while edges[-1] < seq:
        edges.append(edges[-1] * 2)
    ends = [e for e in edges if e < seq] + [seq]
    return [(0 if i == 0 else ends[i - 1], to) for i, to in enumerate(ends)]


def parse_buckets(text: str, seq: int) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        try:
            lo, hi = (int(x) for x in part.split(":"))
        except ValueError:
            raise InvalidRequest(f"--buckets: {part!r} is not from:to") from None
        if not 0 <= lo < hi:
            raise InvalidRequest(f"--buckets: {part!r} needs 0 <= from < to")
        out.append((lo, hi))
    return out


class LongContextModel:
    """A checkpoint's weights held on the device, forward over byte windows with a KV policy or none."""

    def __init__(self, ckpt: Checkpoint, device: torch.device) -> None:
        a = ckpt.arch
        if a.vocab < 256:
            raise InvalidRequest(f"checkpoint {ckpt.path} has a vocabulary of {a.vocab}; byte windows need at least 256")
        self.arch = a
        self.embed = ckpt.embed(device)
        self.layers = [ckpt.layer(i, device) for i in range(a.layers)]
        self.norm = ckpt.final_norm(device)
        self.head = ckpt.lm_head(device)
        self.device = device

    def logits(self, ids: torch.Tensor, kv: KvPolicy | None) -> torch.Tensor:
        """Logits [B, S, vocab] (float32) of byte windows ids [B, S]."""
        a = self.arch
        with torch.no_grad():
            h = embed_tokens(self.embed, ids.to(self.device))
            for i, w in enumerate(self.layers):
                h = layer_forward(a, w, h, kv=resolve_kv_layer(kv, i, a.layers) if kv is not None else None)
            return head_logits(a, self.norm, self.head, h).float()


def _batches(n: int, batch: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, batch):
        yield lo, min(n, lo + batch)


def evaluate_buckets(model: LongContextModel, windows: torch.Tensor, buckets: list[tuple[int, int]], kv: KvPolicy | None,
                     batch: int, reference: LongContextModel | None = None) -> dict[str, Any]:
    """BucketedMetrics of windows [W, seq+1] (uint8): the model with `kv` scored on the last seq bytes of
    each window; KL per byte against `reference` (read without a KV policy) when given, else against the
    same model without a policy when `kv` is given, else null."""
    original = reference if reference is not None else (model if kv is not None else None)
    count, span = windows.shape
    seq = span - 1
    bucket_of = torch.full((seq,), -1, dtype=torch.long)
    for i, (lo, hi) in enumerate(buckets):
        bucket_of[lo:min(hi, seq)] = i
    nb = len(buckets)
    # sums per bucket and (last row) overall: tokens, nats, correct, kl
    sums = torch.zeros(nb + 1, 4, dtype=torch.float64)
    for lo, hi in _batches(count, batch):
        ids = windows[lo:hi, :seq].long()
        targets = windows[lo:hi, 1:].long()
        lp = torch.log_softmax(model.logits(ids, kv).double(), dim=-1)
        nats = -lp.gather(-1, targets[..., None])[..., 0]
        correct = (lp.argmax(-1) == targets).double()
        if original is not None:
            ref = torch.log_softmax(original.logits(ids, None).double(), dim=-1)
            kl = (ref.exp() * (ref - lp)).sum(-1)
        else:
            kl = torch.zeros_like(nats)
        rows = torch.stack([torch.ones_like(nats), nats, correct, kl], dim=-1).sum(0)  # [seq, 4]
        sums[nb] += rows.sum(0)
        inside = bucket_of >= 0
        sums[:nb].index_add_(0, bucket_of[inside], rows[inside])

    def metrics(s: torch.Tensor) -> dict[str, Any]:
        tokens, nats, correct, kl = (float(x) for x in s)
        return {"tokens": int(tokens), "bitsPerByte": nats * LOG2E / tokens if tokens else None,
                "top1": correct / tokens if tokens else None,
                "klBitsPerByte": (max(0.0, kl * LOG2E / tokens) if tokens else None) if original is not None else None}

    return {**metrics(sums[nb]), "buckets": [{"from": lo, "to": hi, **metrics(sums[i])} for i, (lo, hi) in enumerate(buckets)]}


def evaluate_retrieval(model: LongContextModel, probes: list[dict[str, Any]], kv: KvPolicy | None, batch: int) -> list[dict[str, Any]]:
    """RetrievalMetrics by distance, ascending: the share of key letters predicted exactly (argmax over the vocabulary)."""
    if not probes:
        return []
    seq = len(probes[0]["window"]) - 1
    by_distance: dict[int, list[int]] = {}
    for lo, hi in _batches(len(probes), batch):
        chunk = probes[lo:hi]
        ids = torch.tensor([list(p["window"][:seq]) for p in chunk], dtype=torch.long)
        best = model.logits(ids, kv).argmax(-1)
        for b, p in enumerate(chunk):
            q, win = p["query"], p["window"]
            hits = sum(int(best[b, q + j]) == win[q + 1 + j] for j in range(KEY_LETTERS))
            entry = by_distance.setdefault(p["distance"], [0, 0])
            entry[0] += 1
            entry[1] += hits
    return [{"distance": d, "probes": n, "letters": n * KEY_LETTERS, "accuracy": c / (n * KEY_LETTERS)}
            for d, (n, c) in sorted(by_distance.items())]


# ----- the command line ----------------------------------------------------------------------------

def _read(path: str, what: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InvalidRequest(f"{what} {path} is not a file")
    if p.stat().st_size > MAX_INPUT_BYTES:
        raise InvalidRequest(f"{what} {path} is larger than {MAX_INPUT_BYTES} bytes")
    return p.read_bytes()


def read_windows(path: str, seq: int) -> torch.Tensor:
    raw = _read(path, "--windows")
    span = seq + 1
    if not raw or len(raw) % span:
        raise InvalidRequest(f"--windows {path}: {len(raw)} bytes are not a whole number of windows of {span} bytes (--seq {seq})")
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, span)


def read_probes(path: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(_read(path, "--probes"))
        items = doc["probes"]
        if not isinstance(items, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise InvalidRequest(f"--probes {path}: expected JSON {{\"probes\": [{{window, query, distance}}]}}") from None
    probes = []
    for i, p in enumerate(items):
        try:
            window = base64.b64decode(p["window"], validate=True)
            query, distance = p["query"], p["distance"]
        except (KeyError, TypeError, ValueError):
            raise InvalidRequest(f"--probes {path}: probes.{i} needs a base64 window, a query and a distance") from None
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in (query, distance)):
            raise InvalidRequest(f"--probes {path}: probes.{i}: query and distance must be non-negative integers")
        if query + KEY_LETTERS >= len(window) or (probes and len(window) != len(probes[0]["window"])):
            raise InvalidRequest(f"--probes {path}: probes.{i}: window of {len(window)} bytes does not fit its query {query} or the other probes")
        probes.append({"window": window, "query": query, "distance": distance})
    return probes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evoquant_torch.long_context", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory (config.json + safetensors)")
    ap.add_argument("--windows", required=True, help="raw bytes, [count, seq+1]")
    ap.add_argument("--seq", required=True, type=int)
    ap.add_argument("--probes", help='JSON {"probes": [{"window": base64, "query", "distance"}]}')
    ap.add_argument("--kv", help="KV policy JSON file (schema/kv-policy.ts); absent: bf16 cache")
    ap.add_argument("--reference", help="checkpoint KL is measured against (default: --model without the KV policy; no KL without either)")
    ap.add_argument("--buckets", help="from:to,... (default: 0-127, 128-511, 512-1023, doubling)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    try:
        if args.seq < 1 or args.batch < 1 or args.threads < 1:
            raise InvalidRequest("--seq, --batch and --threads must be positive")
        torch.set_num_threads(args.threads)
        kv = None
        if args.kv is not None:
            try:
                raw = json.loads(_read(args.kv, "--kv"))
            except ValueError:
                raise InvalidRequest(f"--kv {args.kv} is not valid JSON") from None
            kv = parse_kv_policy(raw)
        windows = read_windows(args.windows, args.seq)
        buckets = parse_buckets(args.buckets, args.seq) if args.buckets else position_buckets(args.seq)
        if args.device == "cuda" and not torch.cuda.is_available():
            raise InvalidRequest("--device cuda but torch sees no CUDA device")
        ckpt = Checkpoint.open(args.model)
        probes = read_probes(args.probes) if args.probes else []
        longest = max([args.seq] + [len(p["window"]) - 1 for p in probes])
        limit = ckpt.config.get("max_position_embeddings")
        if isinstance(limit, int) and longest > limit:
            raise InvalidRequest(f"windows of {longest} bytes exceed the model's max_position_embeddings {limit}")
        device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
        model = LongContextModel(ckpt, device)
        reference = None
        if args.reference is not None:
            reference = LongContextModel(Checkpoint.open(args.reference), device)
            if reference.arch.vocab != model.arch.vocab:
                raise InvalidRequest(f"--reference has a vocabulary of {reference.arch.vocab}, --model {model.arch.vocab}")
        out = {"seq": args.seq, "windows": int(windows.shape[0]),
               "metrics": evaluate_buckets(model, windows, buckets, kv, args.batch, reference),
               "retrieval": evaluate_retrieval(model, probes, kv, args.batch)}
    except ExecutorError as e:
        print(f"{e.error_type}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
