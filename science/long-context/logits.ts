// What the long-context evaluation needs of a model: logits for a batch of byte windows. The dense
// proxy (with its KV policy), the MoE proxy and any quantized copy of either all fit this shape.
import type { KvPolicy } from '../../schema/kv-policy.js';
import type { DenseModel } from '../model/dense-forward.js';

export interface LogitsModel {
  vocab: number;
  /** Logits [batch·seq, vocab] of row-major [batch, seq] byte tokens. */
  logits(tokens: Uint8Array, batch: number, seq: number): Promise<Float32Array>;
}

export function denseLogits(model: DenseModel, kv?: KvPolicy): LogitsModel {
  return { vocab: model.config.vocab_size, logits: (tokens, batch, seq) => model.forward(tokens, batch, seq, { kv }) };
}
