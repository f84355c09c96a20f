// KV cache: 2 (K and V) × layers × KV heads × head_dim × bytes per element, per token.
// 16-bit: bf16. 8-bit: fp8 e4m3 with one per-tensor scale (nothing per token). 4-bit: int4
// with an fp16 scale and an fp16 zero per (token, head) of K and of V (LMDeploy TurboMind-class).
import type { ModelArchitecture } from '../../schema/model-config.js';

export type KvBits = 16 | 8 | 4;

/** Bytes of one head's K (or V) vector for one token. */
export function kvHeadEntryBytes(headDim: number, bits: KvBits): number {
  return bits === 4 ? Math.ceil(headDim / 2) + 4 : (headDim * bits) / 8;
}

/** Whole-model KV bytes per token of one sequence (no tensor-parallel replication). */
export function kvBytesPerToken(arch: ModelArchitecture, bits: KvBits): number {
  return 2 * arch.numLayers * arch.numKeyValueHeads * kvHeadEntryBytes(arch.headDim, bits);
}

/**
 * KV heads one GPU holds under tensor parallelism: kv / tp when tp divides kv; when tp exceeds kv,
 * each GPU keeps one head (replicated tp / kv times), as vLLM and SGLang do.
 */
export function kvHeadsPerGpu(numKeyValueHeads: number, tp: number): number {
  return Math.max(1, Math.ceil(numKeyValueHeads / tp));
}

/** KV bytes on one GPU holding `layers` decoder layers, for the whole context of every sequence. */
export function kvBytesPerGpu(arch: ModelArchitecture, layers: number, tp: number, contextLength: number, batch: number, bits: KvBits): number {
  return 2 * layers * kvHeadsPerGpu(arch.numKeyValueHeads, tp) * kvHeadEntryBytes(arch.headDim, bits) * contextLength * batch;
}
