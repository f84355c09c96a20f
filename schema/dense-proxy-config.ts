// The dense long-context proxy's config.json: a real LlamaForCausalLM config (transformers and the
// torch executor load it as it is), restricted to what the CPU forward pass implements.
import { z } from 'zod';
import { PROXY_LIMITS } from './proxy-config.js';

const int = (max: number) => z.number().int().positive().max(max);

export const DenseProxyConfig = z
  .object({
    model_type: z.literal('llama'),
    hidden_size: int(PROXY_LIMITS.hidden),
    intermediate_size: int(PROXY_LIMITS.intermediate),
    num_hidden_layers: int(PROXY_LIMITS.layers),
    num_attention_heads: int(PROXY_LIMITS.heads),
    num_key_value_heads: int(PROXY_LIMITS.heads),
    head_dim: int(PROXY_LIMITS.headDim).refine((d) => d % 2 === 0, { message: 'head_dim must be even (RoPE rotates pairs)' }),
    hidden_act: z.literal('silu'),
    attention_bias: z.literal(false),
    mlp_bias: z.literal(false),
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
  });
export type DenseProxyConfig = z.infer<typeof DenseProxyConfig>;
