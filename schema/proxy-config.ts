// The proxy model's HF-style config.json (model_type evoquant_moe, Qwen3-MoE field names).
import { z } from 'zod';

// The proxy runs on the CPU in this process, so its bounds are tighter than a served model's:
// tokens are bytes (vocab ≥ 256; more only for padding or specials), calibration windows span
// max_position_embeddings (attention is quadratic in it) and evaluation windows are 128 bytes.
export const PROXY_LIMITS = {
  layers: 1024,
  hidden: 65_536,
  heads: 1024,
  headDim: 4096,
  minVocab: 256,
  vocab: 4096,
  positions: 8192,
  intermediate: 1 << 20,
  experts: 4096,
  expertLayers: 1 << 17,
} as const;

const int = (max: number) => z.number().int().positive().max(max);

export const ProxyConfig = z
  .object({
    model_type: z.literal('evoquant_moe'),
    hidden_size: int(PROXY_LIMITS.hidden),
    num_hidden_layers: int(PROXY_LIMITS.layers),
    num_attention_heads: int(PROXY_LIMITS.heads),
    num_key_value_heads: int(PROXY_LIMITS.heads),
    head_dim: int(PROXY_LIMITS.headDim),
    num_experts: int(PROXY_LIMITS.experts),
    num_experts_per_tok: int(PROXY_LIMITS.experts),
    moe_intermediate_size: int(PROXY_LIMITS.intermediate),
    norm_topk_prob: z.boolean(),
    vocab_size: int(PROXY_LIMITS.vocab).min(PROXY_LIMITS.minVocab, { message: `must be at least ${PROXY_LIMITS.minVocab}: the proxy reads bytes` }),
    max_position_embeddings: int(PROXY_LIMITS.positions),
    rope_theta: z.number().positive().max(1e12),
    rms_norm_eps: z.number().positive().max(1),
    tie_word_embeddings: z.literal(false),
  })
  .loose()
  .refine((c) => c.num_attention_heads % c.num_key_value_heads === 0, {
    message: 'num_attention_heads must be a multiple of num_key_value_heads',
    path: ['num_key_value_heads'],
  })
  .refine((c) => c.num_experts_per_tok <= c.num_experts, { message: 'num_experts_per_tok exceeds num_experts', path: ['num_experts_per_tok'] })
  .refine((c) => c.num_hidden_layers * c.num_experts <= PROXY_LIMITS.expertLayers, {
    message: `num_hidden_layers × num_experts exceeds ${PROXY_LIMITS.expertLayers}`,
    path: ['num_experts'],
  });
export type ProxyConfig = z.infer<typeof ProxyConfig>;

/** Bytes per window evoquant evaluates and calibrates the proxy on; a proxy needs at least this many positions. */
export const PROXY_WINDOW_BYTES = 128;
