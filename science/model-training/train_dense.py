"""Trains the dense long-context proxy: a small byte-level Llama (RMSNorm, RoPE, GQA, SwiGLU, no experts).

Training only: evoquant's engine never imports torch. The text is Brown (the same train / held-out
split as the MoE proxy), mixed with a synthetic long-range retrieval task so that long-context
ability can be measured: a key of random capital letters is written early in the window,
   KEY_OPEN + letters + KEY_CLOSE
and after `distance` bytes of Brown filler the same KEY_OPEN comes back, after which the model must
reproduce the letters. The format is science/long-context/retrieval.ts's; keep the two in step.

Retrieval needs an induction head (find the earlier copy of the current byte, predict what followed it),
and a Brown-only or key-only start never formed one here: the key is a handful of bytes per window.
So training is a curriculum. It starts on purely synthetic periodic strings of random capitals, where
every byte after the first period is a copy (the induction head forms there, after about 600 steps),
then keeps the head alive on Brown with repeated random strings and keys inserted at all distances.

The weights are written as bf16 safetensors with Llama's HF tensor names and a LlamaForCausalLM
config, so transformers (and evoquant's torch executor) load them as they are.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

KEY_OPEN = 0x02
KEY_CLOSE = 0x03
KEY_LETTERS = 6
# Answer bytes are a handful per 1,024-byte window; weighting them is what makes retrieval learnable
# in a CPU-sized budget. Only training sees this weight; evaluation weighs every byte alike.
ANSWER_WEIGHT = 8.0
COPY_WEIGHT = 2.0

CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 256,
    "intermediate_size": 768,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "hidden_act": "silu",
    "attention_bias": False,
    "mlp_bias": False,
    "vocab_size": 256,
    "max_position_embeddings": 1024,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "bos_token_id": None,
    "eos_token_id": None,
    "torch_dtype": "bfloat16",
}


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(seq, head_dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Model(torch.nn.Module):
    """Llama decoder with HF tensor names ('.' escaped as '__' because torch forbids it in keys)."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        d, hd, f = c["hidden_size"], c["head_dim"], c["intermediate_size"]
        nh, nkv, L = c["num_attention_heads"], c["num_key_value_heads"], c["num_hidden_layers"]
        std, out_std = 0.02, 0.02 / math.sqrt(2 * L)
        shapes = {"model.embed_tokens.weight": ((c["vocab_size"], d), std), "model.norm.weight": ((d,), None), "lm_head.weight": ((c["vocab_size"], d), std)}
        for i in range(L):
            pre = f"model.layers.{i}."
            shapes[pre + "input_layernorm.weight"] = ((d,), None)
            shapes[pre + "post_attention_layernorm.weight"] = ((d,), None)
            shapes[pre + "self_attn.q_proj.weight"] = ((nh * hd, d), std)
            shapes[pre + "self_attn.k_proj.weight"] = ((nkv * hd, d), std)
            shapes[pre + "self_attn.v_proj.weight"] = ((nkv * hd, d), std)
            shapes[pre + "self_attn.o_proj.weight"] = ((d, nh * hd), out_std)
            shapes[pre + "mlp.gate_proj.weight"] = ((f, d), std)
            shapes[pre + "mlp.up_proj.weight"] = ((f, d), std)
            shapes[pre + "mlp.down_proj.weight"] = ((d, f), out_std)
        self.p = torch.nn.ParameterDict(
            {n.replace(".", "__"): torch.nn.Parameter(torch.ones(s) if sd is None else torch.randn(s) * sd) for n, (s, sd) in shapes.items()}
        )

    def named(self):
        return [(k.replace("__", "."), v) for k, v in self.p.items()]

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def forward(self, tokens):
        c = self.c
        B, T = tokens.shape
        nh, nkv, hd, eps = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"], c["rms_norm_eps"]
        cos, sin = rope_tables(T, hd, c["rope_theta"])
        x = F.embedding(tokens, self.w("model.embed_tokens.weight"))
        for i in range(c["num_hidden_layers"]):
            pre = f"model.layers.{i}."
            h = rms_norm(x, self.w(pre + "input_layernorm.weight"), eps)
            q = (h @ self.w(pre + "self_attn.q_proj.weight").T).view(B, T, nh, hd).transpose(1, 2)
            k = (h @ self.w(pre + "self_attn.k_proj.weight").T).view(B, T, nkv, hd).transpose(1, 2)
            v = (h @ self.w(pre + "self_attn.v_proj.weight").T).view(B, T, nkv, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            a = F.scaled_dot_product_attention(q, k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1), is_causal=True)
            x = x + a.transpose(1, 2).reshape(B, T, nh * hd) @ self.w(pre + "self_attn.o_proj.weight").T
            h = rms_norm(x, self.w(pre + "post_attention_layernorm.weight"), eps)
            g = F.silu(h @ self.w(pre + "mlp.gate_proj.weight").T) * (h @ self.w(pre + "mlp.up_proj.weight").T)
            x = x + g @ self.w(pre + "mlp.down_proj.weight").T
        x = rms_norm(x, self.w("model.norm.weight"), eps)
        return x @ self.w("lm_head.weight").T


def insert_retrieval(window, weights, rng, min_distance, letters=None, distance=None, at=None, answer_weight=ANSWER_WEIGHT):
    """Writes a key and its query into a window of Brown bytes; returns (query position, distance)."""
    T = len(window) - 1
    span = KEY_LETTERS + 2
    if distance is None:
        # Log-uniform distances, so that short and long ones are both trained on.
        distance = int(math.exp(rng.uniform(math.log(min_distance), math.log(T - 2 * span))))
    if at is None:
        at = int(rng.integers(0, T - 2 * span - distance + 1))
    if letters is None:
        letters = rng.integers(ord("A"), ord("Z") + 1, size=KEY_LETTERS).astype(np.uint8)
    key = np.concatenate([[KEY_OPEN], letters, [KEY_CLOSE]]).astype(np.uint8)
    query = at + span + distance
    window[at : at + span] = key
    window[query : query + span] = key
    # Targets at positions query..query+span-1 predict window[query+1..]: the letters and the close.
    weights[query : query + span - 1] = answer_weight
    return query, distance


def insert_pairs(window, weights, rng, min_distance, pairs, answer_weight):
    """Up to `pairs` keys with their queries in one window, no two spans overlapping: several lookups
    per window, each of which must find its own key (not just the latest one)."""
    T = len(window) - 1
    span = KEY_LETTERS + 2
    taken = np.zeros(T + 1, dtype=bool)
    placed = 0
    for _ in range(8 * pairs):
        if placed == pairs:
            break
        distance = int(math.exp(rng.uniform(math.log(min_distance), math.log(T - 2 * span))))
        at = int(rng.integers(0, T - 2 * span - distance + 1))
        query = at + span + distance
        if taken[at : at + span].any() or taken[query : query + span].any():
            continue
        trial = window.copy()
        insert_retrieval(trial, weights, rng, min_distance, distance=distance, at=at, answer_weight=answer_weight)
        window[:] = trial
        taken[at : at + span] = True
        taken[query : query + span] = True
        placed += 1


def periodic_batch(rng, batch, T):
    """Windows that are one random string of capitals repeated: only copying predicts them.
    The first period is unpredictable and carries no weight."""
    windows = np.zeros((batch, T + 1), dtype=np.uint8)
    weights = np.zeros((batch, T), dtype=np.float32)
    for b in range(batch):
        period = int(rng.integers(4, min(65, T // 2)))
        windows[b] = np.resize(rng.integers(ord("A"), ord("Z") + 1, size=period).astype(np.uint8), T + 1)
        weights[b, period - 1 :] = 1.0
    return torch.from_numpy(windows.astype(np.int64)), torch.from_numpy(weights)


def insert_repeats(window, weights, rng, copy_weight):
    """One random string of capitals written 2–6 times at random places in a Brown window; every copy
    after the first is predictable only by looking back (at any distance the window allows)."""
    T = len(window) - 1
    length = int(rng.integers(8, 65))
    copies = int(rng.integers(2, 7))
    text = rng.integers(ord("A"), ord("Z") + 1, size=length).astype(np.uint8)
    taken = np.zeros(T + 1, dtype=bool)
    starts = []
    for _ in range(8 * copies):
        if len(starts) == copies:
            break
        at = int(rng.integers(0, T - length + 1))
        if taken[max(0, at - 1) : at + length + 1].any():
            continue
        window[at : at + length] = text
        taken[at : at + length] = True
        starts.append(at)
    for at in sorted(starts)[1:]:
        weights[at : at + length - 1] = copy_weight


def make_batch(text, rng, batch, T, retrieval_share, min_distance, pairs=1, answer_weight=ANSWER_WEIGHT, copy_share=0.0):
    offs = rng.integers(0, len(text) - T - 1, size=batch)
    windows = np.stack([text[o : o + T + 1] for o in offs]).copy()
    weights = np.ones((batch, T), dtype=np.float32)
    for b in range(batch):
        draw = rng.random()
        if draw < copy_share:
            insert_repeats(windows[b], weights[b], rng, COPY_WEIGHT)
        elif draw < copy_share + retrieval_share:
            if pairs == 1:
                insert_retrieval(windows[b], weights[b], rng, min_distance, answer_weight=answer_weight)
            else:
                insert_pairs(windows[b], weights[b], rng, min_distance, pairs, answer_weight)
    return torch.from_numpy(windows.astype(np.int64)), torch.from_numpy(weights)


@torch.no_grad()
def retrieval_accuracy(model, heldout, distances, trials, seed):
    """Share of key letters predicted exactly (argmax) after the query, per distance, on held-out filler."""
    rng = np.random.default_rng(seed)
    T = model.c["max_position_embeddings"]
    out = {}
    for d in distances:
        correct = 0
        for t in range(trials):
            o = int(rng.integers(0, len(heldout) - T - 1))
            window = heldout[o : o + T + 1].copy()
            weights = np.ones(T, dtype=np.float32)
            q, _ = insert_retrieval(window, weights, rng, 8, distance=d, at=int(rng.integers(0, T - 2 * (KEY_LETTERS + 2) - d + 1)))
            logits = model(torch.from_numpy(window[:-1].astype(np.int64)).view(1, T))[0]
            pred = logits[q : q + KEY_LETTERS].argmax(-1).numpy()
            correct += int((pred == window[q + 1 : q + 1 + KEY_LETTERS]).sum())
        out[d] = correct / (trials * KEY_LETTERS)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--synthetic-steps", type=int, default=1000, help="steps on periodic random strings at 64 bytes first: where the induction head forms")
    ap.add_argument("--synthetic-batch", type=int, default=32)
    ap.add_argument("--copy-share", type=float, default=0.3, help="share of Brown windows with repeated random strings")
    ap.add_argument("--short-steps", type=int, default=1400, help="steps at 256 bytes first: language and short retrieval, cheaply")
    ap.add_argument("--steps", type=int, default=1400, help="steps at the full context")
    ap.add_argument("--short-batch", type=int, default=24)
    ap.add_argument("--batch", type=int, default=6)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--retrieval-share", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--time-budget", type=float, default=0, help="seconds; 0 = none. Stops the full-context phase early (the report says so)")
    ap.add_argument("--pairs", type=int, default=1, help="key/query pairs per retrieval window")
    ap.add_argument("--answer-weight", type=float, default=ANSWER_WEIGHT)
    ap.add_argument("--init", default=None, help="a model.safetensors to start from (a second stage) instead of random weights")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    train = np.frombuffer(open(os.path.join(args.data, "train.bin"), "rb").read(), dtype=np.uint8)
    heldout = np.frombuffer(open(os.path.join(args.data, "heldout.bin"), "rb").read(), dtype=np.uint8)
    T = CONFIG["max_position_embeddings"]
    model = Model(CONFIG)
    if args.init:
        from safetensors.torch import load_file

        start_weights = load_file(args.init)
        with torch.no_grad():
            for n, p in model.named():
                p.copy_(start_weights[n].float())
        print(f"initialized from {args.init}", flush=True)
    print(f"parameters: {sum(p.numel() for p in model.parameters())}", flush=True)
    decay = [p for n, p in model.named() if p.dim() == 2]
    no_decay = [p for n, p in model.named() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    SYNTHETIC = 64
    phases = [(SYNTHETIC, args.synthetic_batch, args.synthetic_steps), (256, args.short_batch, args.short_steps), (T, args.batch, args.steps)]
    total = args.synthetic_steps + args.short_steps + args.steps
    warmup = 100
    start = time.time()
    step = 0
    stopped_early = False
    for seq, batch, steps in phases:
        for _ in range(steps):
            if args.time_budget and seq == T and time.time() - start > args.time_budget:
                stopped_early = True
                break
            lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / total)))
            for g in opt.param_groups:
                g["lr"] = lr
            if seq == SYNTHETIC:
                tokens, weights = periodic_batch(rng, batch, seq)
            else:
                tokens, weights = make_batch(train, rng, batch, seq, args.retrieval_share, 8, args.pairs, args.answer_weight, args.copy_share)
            logits = model(tokens[:, :-1])
            nll = F.cross_entropy(logits.reshape(-1, CONFIG["vocab_size"]), tokens[:, 1:].reshape(-1), reduction="none")
            loss = (nll * weights.reshape(-1)).sum() / weights.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step % 50 == 0:
                plain = float(nll.detach().mean()) / math.log(2)
                print(f"step {step} seq {seq} loss {loss.item():.4f} bits/byte {plain:.3f} lr {lr:.2e} {time.time() - start:.0f}s", flush=True)
            if step % 250 == 249:
                model.eval()
                acc = retrieval_accuracy(model, heldout, [16, 128, 512, 1008], 8, 1)
                print(f"step {step} retrieval {json.dumps(acc)}", flush=True)
                model.train()
            step += 1
    elapsed = time.time() - start

    os.makedirs(args.out, exist_ok=True)
    tensors = {n: p.detach().to(torch.bfloat16).contiguous() for n, p in model.named()}
    meta = {"format": "pt", "trained_by": "science/model-training/train_dense.py", "seed": str(args.seed), "steps": str(step), "stopped_early": str(stopped_early), "seconds": f"{elapsed:.0f}"}
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata=meta)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    print(f"trained {step} steps in {elapsed:.0f}s (stopped early: {stopped_early})", flush=True)
    write_fixture(model, heldout, args.out)


def write_fixture(model, heldout, out):
    """Reference logits of the saved bf16 weights on a full-context window, from transformers' LlamaForCausalLM
    when it is installed (else from this file's model), so that the TypeScript forward pass is checked against torch."""
    T = CONFIG["max_position_embeddings"]
    tokens = torch.tensor(list(heldout[:T]), dtype=torch.int64).view(1, T)
    rows = [0, 1, 127, 511, T - 1]
    with torch.no_grad():
        for _, p in model.named():
            p.copy_(p.to(torch.bfloat16).float())
        source = "train_dense.py"
        try:
            from transformers import LlamaConfig, LlamaForCausalLM

            hf = LlamaForCausalLM(LlamaConfig(**{k: v for k, v in CONFIG.items() if k not in ("architectures", "model_type", "torch_dtype")}))
            hf.load_state_dict({n: p.float() for n, p in model.named()}, strict=True)
            hf.eval()
            logits = hf(tokens).logits[0]
            mine = model(tokens)[0]
            print(f"transformers vs train_dense.py: max |dlogit| {float((logits - mine).abs().max()):.2e}", flush=True)
            source = f"transformers {__import__('transformers').__version__} LlamaForCausalLM"
        except ImportError:
            logits = model(tokens)[0]
    fixture = {"source": source, "input": list(int(b) for b in heldout[:T]), "logits_rows": rows, "logits": [logits[r].tolist() for r in rows]}
    with open(os.path.join(out, "reference-logits.json"), "w") as f:
        json.dump(fixture, f)


if __name__ == "__main__":
    main()
