// Which cached tokens a query reads in full precision: 1 where token s is still bf16 when the query
// at position t attends, 0 where it reads the quantized copy. Rows are [rep × seq] (the query heads
// sharing one KV head are stacked, as attention-kv.ts lays them out), columns [seq].
import type { KvLayerPolicy, KvTensorPolicy } from '../../schema/kv-policy.js';

function fullPrecision(tensor: KvTensorPolicy, policy: KvLayerPolicy, t: number, s: number): boolean {
  if (tensor.format === 'bf16') return true;
  if (s < policy.sinkTokens || t - s < policy.recentWindow) return true;
  // A per-channel group (counted from the first token after the sinks) is quantized only once its
  // last token has arrived (KIVI's residual).
  if ((tensor.format === 'int8' || tensor.format === 'int4' || tensor.format === 'int2') && tensor.axis === 'channel') {
    const start = policy.sinkTokens;
    const groupEnd = start + (Math.floor((s - start) / tensor.groupSize) + 1) * tensor.groupSize;
    return groupEnd - 1 > t;
  }
  return false;
}

export interface PrecisionMasks {
  keys: Float32Array;
  values: Float32Array;
}

export function precisionMasks(policy: KvLayerPolicy, seq: number, rep: number): PrecisionMasks {
  const keys = new Float32Array(rep * seq * seq);
  const values = new Float32Array(rep * seq * seq);
  for (let t = 0; t < seq; t++) {
    for (let s = 0; s <= t; s++) {
      keys[t * seq + s] = fullPrecision(policy.keys, policy, t, s) ? 1 : 0;
      values[t * seq + s] = fullPrecision(policy.values, policy, t, s) ? 1 : 0;
    }
  }
  for (let r = 1; r < rep; r++) {
    keys.copyWithin(r * seq * seq, 0, seq * seq);
    values.copyWithin(r * seq * seq, 0, seq * seq);
  }
  return { keys, values };
}
