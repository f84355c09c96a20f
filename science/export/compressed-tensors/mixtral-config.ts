// config.json of the exported checkpoint: the proxy's sizes under transformers' MixtralConfig
// field names (models/mixtral/configuration_mixtral.py, transformers 5.20).
import type { ProxyConfig } from '../../../schema/proxy-config.js';
import { ExportRefusedError, EXPORT_RULES } from './refusal.js';

export function mixtralConfig(c: ProxyConfig): Record<string, unknown> {
  if (!c.norm_topk_prob) {
    throw new ExportRefusedError(EXPORT_RULES.mixtralRouting, ['model.layers.*.mlp.gate'], 'the proxy does not renormalise its top-k gates, Mixtral always does');
  }
  return {
    architectures: ['MixtralForCausalLM'],
    model_type: 'mixtral',
    hidden_size: c.hidden_size,
    intermediate_size: c.moe_intermediate_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: c.num_key_value_heads,
    head_dim: c.head_dim,
    num_local_experts: c.num_experts,
    num_experts_per_tok: c.num_experts_per_tok,
    vocab_size: c.vocab_size,
    max_position_embeddings: c.max_position_embeddings,
    rope_parameters: { rope_type: 'default', rope_theta: c.rope_theta },
    rms_norm_eps: c.rms_norm_eps,
    hidden_act: 'silu',
    sliding_window: null,
    output_router_logits: false,
    tie_word_embeddings: false,
    use_cache: true,
    dtype: 'bfloat16',
  };
}
