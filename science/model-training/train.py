"""Trains the evoquant proxy: a small byte-level MoE transformer on the Brown corpus.

Training only: evoquant itself never imports torch. The architecture mirrors model/forward.ts
(Qwen3-MoE style: RMSNorm, RoPE, grouped KV heads, top-k routed SwiGLU experts, untied lm_head),
and the weights are written as bf16 safetensors with HF tensor names.
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

CONFIG = {
    "model_type": "evoquant_moe",
    "architectures": ["EvoquantMoeForCausalLM"],
    "hidden_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "num_experts": 8,
    "num_experts_per_tok": 2,
    "moe_intermediate_size": 256,
    "norm_topk_prob": True,
    "vocab_size": 256,
    "max_position_embeddings": 128,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(seq, head_dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class _Params(torch.nn.ParameterDict):
    """A ParameterDict keyed by HF tensor names ('.' is escaped because torch forbids it in keys)."""

    def __setitem__(self, key, value):
        super().__setitem__(key.replace(".", "__"), value)

    def __getitem__(self, key):
        return super().__getitem__(key.replace(".", "__"))

    def named(self):
        return [(k.replace("__", "."), v) for k, v in super().items()]


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, hd = c["hidden_size"], c["head_dim"]
        nh, nkv, E, f = c["num_attention_heads"], c["num_key_value_heads"], c["num_experts"], c["moe_intermediate_size"]
        P = torch.nn.Parameter
        std = 0.02
        self.p = _Params()
        self.p["model.embed_tokens.weight"] = P(torch.randn(c["vocab_size"], d) * std)
        for i in range(c["num_hidden_layers"]):
            pre = f"model.layers.{i}."
            self.p[pre + "input_layernorm.weight"] = P(torch.ones(d))
            self.p[pre + "post_attention_layernorm.weight"] = P(torch.ones(d))
            self.p[pre + "self_attn.q_proj.weight"] = P(torch.randn(nh * hd, d) * std)
            self.p[pre + "self_attn.k_proj.weight"] = P(torch.randn(nkv * hd, d) * std)
            self.p[pre + "self_attn.v_proj.weight"] = P(torch.randn(nkv * hd, d) * std)
            self.p[pre + "self_attn.o_proj.weight"] = P(torch.randn(d, nh * hd) * std / math.sqrt(2 * c["num_hidden_layers"]))
            self.p[pre + "mlp.gate.weight"] = P(torch.randn(E, d) * std)
            for e in range(E):
                ep = pre + f"mlp.experts.{e}."
                self.p[ep + "gate_proj.weight"] = P(torch.randn(f, d) * std)
                self.p[ep + "up_proj.weight"] = P(torch.randn(f, d) * std)
                self.p[ep + "down_proj.weight"] = P(torch.randn(d, f) * std / math.sqrt(2 * c["num_hidden_layers"]))
        self.p["model.norm.weight"] = P(torch.ones(d))
        self.p["lm_head.weight"] = P(torch.randn(c["vocab_size"], d) * std)

    def w(self, name):
        # ParameterDict keys cannot contain '.', so they are stored escaped.
        return self.p[name]

    def forward(self, tokens):
        c = self.c
        B, T = tokens.shape
        nh, nkv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        E, k, eps = c["num_experts"], c["num_experts_per_tok"], c["rms_norm_eps"]
        cos, sin = rope_tables(T, hd, c["rope_theta"])
        x = F.embedding(tokens, self.w("model.embed_tokens.weight"))
        aux = 0.0
        counts = []
        for i in range(c["num_hidden_layers"]):
            pre = f"model.layers.{i}."
            h = rms_norm(x, self.w(pre + "input_layernorm.weight"), eps)
            q = (h @ self.w(pre + "self_attn.q_proj.weight").T).view(B, T, nh, hd).transpose(1, 2)
            kk = (h @ self.w(pre + "self_attn.k_proj.weight").T).view(B, T, nkv, hd).transpose(1, 2)
            v = (h @ self.w(pre + "self_attn.v_proj.weight").T).view(B, T, nkv, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            kk = kk * cos + rotate_half(kk) * sin
            rep = nh // nkv
            kk = kk.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            a = F.scaled_dot_product_attention(q, kk, v, is_causal=True)
            a = a.transpose(1, 2).reshape(B, T, nh * hd)
            x = x + a @ self.w(pre + "self_attn.o_proj.weight").T
            h = rms_norm(x, self.w(pre + "post_attention_layernorm.weight"), eps).view(B * T, -1)
            probs = torch.softmax(h @ self.w(pre + "mlp.gate.weight").T, dim=-1)
            top_p, top_i = probs.topk(k, dim=-1)
            if c["norm_topk_prob"]:
                top_p = top_p / top_p.sum(-1, keepdim=True)
            out = torch.zeros_like(h)
            onehot = F.one_hot(top_i, E).sum(1).float()  # [N, E]
            counts.append(onehot.sum(0).detach())
            aux = aux + E * (onehot.mean(0) / k * probs.mean(0)).sum()
            for e in range(E):
                rows, slot = (top_i == e).nonzero(as_tuple=True)
                if rows.numel() == 0:
                    continue
                ep = pre + f"mlp.experts.{e}."
                he = h[rows]
                y = (F.silu(he @ self.w(ep + "gate_proj.weight").T) * (he @ self.w(ep + "up_proj.weight").T)) @ self.w(ep + "down_proj.weight").T
                out.index_add_(0, rows, y * top_p[rows, slot].unsqueeze(-1))
            x = x + out.view(B, T, -1)
        x = rms_norm(x, self.w("model.norm.weight"), eps)
        return x @ self.w("lm_head.weight").T, aux / c["num_hidden_layers"], counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--aux", type=float, default=0.002)
    ap.add_argument("--seed", type=int, default=20261126)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    train = np.frombuffer(open(os.path.join(args.data, "train.bin"), "rb").read(), dtype=np.uint8)
    T = CONFIG["max_position_embeddings"]

    model = Model(CONFIG)
    decay = [p for n, p in model.p.named() if p.dim() == 2]
    no_decay = [p for n, p in model.p.named() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    warmup = 100
    start = time.time()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        offs = rng.integers(0, len(train) - T - 1, size=args.batch)
        batch = torch.from_numpy(np.stack([train[o : o + T + 1] for o in offs]).astype(np.int64))
        logits, aux, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, CONFIG["vocab_size"]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        (loss + args.aux * aux).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f} bits/byte {loss.item() / math.log(2):.3f} aux {float(aux.detach()):.3f} lr {lr:.2e} {time.time() - start:.0f}s", flush=True)

    os.makedirs(args.out, exist_ok=True)
    tensors = {n: p.detach().to(torch.bfloat16).contiguous() for n, p in model.p.named()}
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt", "trained_by": "science/model-training/train.py", "seed": str(args.seed), "steps": str(args.steps)})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    write_fixture(model, args)


def write_fixture(model, args):
    """Reference logits from the saved bf16 weights, so the TypeScript forward pass can be checked against torch."""
    with torch.no_grad():
        for _, p in model.p.named():
            p.copy_(p.to(torch.bfloat16).float())
        held = open(os.path.join(args.data, "heldout.bin"), "rb").read()
        tokens = torch.tensor(list(held[:64]), dtype=torch.int64).view(1, 64)
        logits, _, counts = model(tokens)
    fixture = {
        "input": list(held[:64]),
        "logits_rows": [0, 1, 31, 63],
        "logits": [logits[0, r].tolist() for r in [0, 1, 31, 63]],
        "expert_counts": [c.tolist() for c in counts],
    }
    with open(os.path.join(args.out, "reference-logits.json"), "w") as f:
        json.dump(fixture, f)


if __name__ == "__main__":
    main()
