// Working-set estimate of quantizing and evaluating one candidate on the proxy: what a device must
// hold at once. Checked before work starts, so an impossible candidate fails fast and typed.
import type { DenseProxyConfig } from '../../schema/dense-proxy-config.js';
import type { ProxyConfig } from '../../schema/proxy-config.js';

export function workingSetBytes(c: ProxyConfig, evalBatchTokens: number): number {
  const d = c.hidden_size;
  const f = c.moe_intermediate_size;
  const params =
    2 * c.vocab_size * d +
    c.num_hidden_layers * (d * (c.num_attention_heads + 2 * c.num_key_value_heads) * c.head_dim + c.num_attention_heads * c.head_dim * d + c.num_experts * (3 * d * f + d));
  const weights = 3 * 4 * params; // original, quantized and the fused copies the forward pass keeps
  // One fp64 Hessian per calibration site of the widest input.
  const hessians = c.num_hidden_layers * (3 + 2 * c.num_experts) * 8 * Math.max(d, f) ** 2;
  const activations = 4 * evalBatchTokens * (4 * d + 2 * f + c.vocab_size + c.num_attention_heads * c.max_position_embeddings);
  return weights + hessians + activations;
}

/** The dense long-context proxy: weights, one Hessian per site, and a batch's full-context attention (scores for full-precision and stored keys, probabilities, masks). */
export function denseWorkingSetBytes(c: DenseProxyConfig, batch: number): number {
  const d = c.hidden_size;
  const f = c.intermediate_size;
  const T = c.max_position_embeddings;
  const params = 2 * c.vocab_size * d + c.num_hidden_layers * (d * (2 * c.num_attention_heads + 2 * c.num_key_value_heads) * c.head_dim + 3 * d * f);
  const hessians = c.num_hidden_layers * 4 * 8 * Math.max(d, f) ** 2;
  const attention = 4 * batch * c.num_attention_heads * T * T * 6;
  const activations = 4 * batch * T * (4 * d + 2 * f + c.vocab_size);
  return 3 * 4 * params + hessians + attention + activations;
}
