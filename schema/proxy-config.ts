// The proxy model's HF-style config.json (model_type evoquant_moe, Qwen3-MoE field names).
import { z } from 'zod';

export const ProxyConfig = z
  .object({
    model_type: z.literal('evoquant_moe'),
    hidden_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive(),
    head_dim: z.number().int().positive(),
    num_experts: z.number().int().positive(),
    num_experts_per_tok: z.number().int().positive(),
    moe_intermediate_size: z.number().int().positive(),
    norm_topk_prob: z.boolean(),
    vocab_size: z.number().int().positive(),
    max_position_embeddings: z.number().int().positive(),
    rope_theta: z.number().positive(),
    rms_norm_eps: z.number().positive(),
    tie_word_embeddings: z.literal(false),
  })
  .loose()
  .refine((c) => c.num_attention_heads % c.num_key_value_heads === 0, {
    message: 'num_attention_heads must be a multiple of num_key_value_heads',
    path: ['num_key_value_heads'],
  })
  .refine((c) => c.num_experts_per_tok <= c.num_experts, { message: 'num_experts_per_tok exceeds num_experts', path: ['num_experts_per_tok'] });
export type ProxyConfig = z.infer<typeof ProxyConfig>;
