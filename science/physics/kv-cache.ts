// KV cache bytes under a KV policy (schema/kv-policy.ts), charged as the dense proxy's forward pass
// stores it, per layer (per-layer bands) and per KV head:
//   bf16      2 bytes per element.
//   fp8       1 byte per element and one fp32 scale per layer for K and one for V (vLLM's k_scale /
//             v_scale, model_executor/layers/quantization/kv_cache.py): nothing per token.
//   int       packed bits per element plus an fp16 scale and an fp16 zero per group (KIVI, asymmetric
//             min/max). axis 'token': a group is min(groupSize, headDim) channels of one token's head.
//             axis 'channel': a group is groupSize tokens of one channel; a group is quantized only
//             once complete, so the newest (quantizable tokens mod groupSize) stay bf16 (KIVI's residual).
//   windows   the first sinkTokens and the newest recentWindow tokens are stored in bf16 instead of
//             quantized, once each (capped together at the context); channel groups start after the sinks.
// Keys' position (pre/post-RoPE) and Hadamard rotation change no bytes: the rotation is applied online.
import type { ModelArchitecture } from '../../schema/model-config.js';
import { BF16_KV, isUnquantizedKv, KV_INT_BITS, resolveKvLayer, type KvLayerPolicy, type KvPolicy, type KvTensorPolicy } from '../../schema/kv-policy.js';

const BF16 = 2;
/** An fp16 scale and an fp16 zero per int group. */
const GROUP_PARAMS = 4;
/** One fp32 scale per layer's K and one per V (fp8). */
const FP8_LAYER_SCALE = 4;

/**
 * Bytes of one KV head's K (or V) in one layer for one sequence of `context` tokens, with
 * `sinkTokens` first and `recentWindow` newest tokens kept in bf16.
 */
export function kvTensorBytes(t: KvTensorPolicy, headDim: number, context: number, windows: Pick<KvLayerPolicy, 'sinkTokens' | 'recentWindow'>): number {
  if (t.format === 'bf16') return BF16 * headDim * context;
  const full = Math.min(context, windows.sinkTokens + windows.recentWindow);
  const middle = context - full;
  if (!('axis' in t)) return headDim * middle + BF16 * headDim * full;
  const bits = KV_INT_BITS[t.format];
  if (t.axis === 'token') {
    const g = Math.min(t.groupSize, headDim);
    return middle * (Math.ceil((headDim * bits) / 8) + Math.ceil(headDim / g) * GROUP_PARAMS) + BF16 * headDim * full;
  }
  const quantized = Math.floor(middle / t.groupSize) * t.groupSize;
  const residual = middle - quantized;
  return Math.ceil((quantized * headDim * bits) / 8) + (quantized / t.groupSize) * headDim * GROUP_PARAMS + BF16 * headDim * (full + residual);
}

/** Bytes per token of one KV head's K (or V) far from the windows: the long-context asymptote. */
export function kvTensorBytesPerToken(t: KvTensorPolicy, headDim: number): number {
  if (t.format === 'bf16') return BF16 * headDim;
  if (!('axis' in t)) return headDim;
  const bits = KV_INT_BITS[t.format];
  if (t.axis === 'token') return Math.ceil((headDim * bits) / 8) + Math.ceil(headDim / Math.min(t.groupSize, headDim)) * GROUP_PARAMS;
  return (headDim * bits) / 8 + (headDim * GROUP_PARAMS) / t.groupSize;
}

const isFp8 = (t: KvTensorPolicy): boolean => t.format === 'fp8_e4m3' || t.format === 'fp8_e5m2';

/** Bytes of one layer's cache that do not grow with tokens or heads: the fp8 per-layer scales. */
function layerConstantBytes(p: KvLayerPolicy): number {
  return (isFp8(p.keys) ? FP8_LAYER_SCALE : 0) + (isFp8(p.values) ? FP8_LAYER_SCALE : 0);
}

/** Bytes of one layer for `kvHeads` heads and `batch` sequences of `context` tokens. */
export function kvLayerBytes(p: KvLayerPolicy, headDim: number, kvHeads: number, context: number, batch: number): number {
  const perHead = kvTensorBytes(p.keys, headDim, context, p) + kvTensorBytes(p.values, headDim, context, p);
  return kvHeads * batch * perHead + layerConstantBytes(p);
}

/** Per-token asymptote of one layer (all its KV heads, one sequence). */
export function kvLayerBytesPerToken(p: KvLayerPolicy, headDim: number, kvHeads: number): number {
  return kvHeads * (kvTensorBytesPerToken(p.keys, headDim) + kvTensorBytesPerToken(p.values, headDim));
}

/** The policy each layer of the model caches by. */
export function kvLayerPolicies(arch: ModelArchitecture, policy: KvPolicy | undefined): KvLayerPolicy[] {
  return Array.from({ length: arch.numLayers }, (_, i) => (policy ? resolveKvLayer(policy, i, arch.numLayers) : BF16_KV));
}

/** Whole-model KV bytes per token of one sequence far from the windows (no tensor-parallel replication). */
export function kvBytesPerToken(arch: ModelArchitecture, policy: KvPolicy | undefined): number {
  return kvLayerPolicies(arch, policy).reduce((s, p) => s + kvLayerBytesPerToken(p, arch.headDim, arch.numKeyValueHeads), 0);
}

/** Whole-model KV bytes at `context` tokens for `batch` sequences (no tensor-parallel replication). */
export function kvTotalBytes(arch: ModelArchitecture, policy: KvPolicy | undefined, context: number, batch: number): number {
  return kvLayerPolicies(arch, policy).reduce((s, p) => s + kvLayerBytes(p, arch.headDim, arch.numKeyValueHeads, context, batch), 0);
}

/**
 * KV heads one GPU holds under tensor parallelism: kv / tp when tp divides kv; when tp exceeds kv,
 * each GPU keeps one head (replicated tp / kv times), as vLLM and SGLang do.
 */
export function kvHeadsPerGpu(numKeyValueHeads: number, tp: number): number {
  return Math.max(1, Math.ceil(numKeyValueHeads / tp));
}

/** KV bytes on one GPU holding layers [firstLayer, endLayer), for the whole context of every sequence. */
export function kvBytesPerGpu(arch: ModelArchitecture, policy: KvPolicy | undefined, firstLayer: number, endLayer: number, tp: number, contextLength: number, batch: number): number {
  const heads = kvHeadsPerGpu(arch.numKeyValueHeads, tp);
  return kvLayerPolicies(arch, policy)
    .slice(firstLayer, endLayer)
    .reduce((s, p) => s + kvLayerBytes(p, arch.headDim, heads, contextLength, batch), 0);
}

/** How a tensor policy reads: `int4/channel/g32`, `fp8_e4m3`. */
export function kvTensorLabel(t: KvTensorPolicy): string {
  return 'axis' in t ? `${t.format}/${t.axis}/g${t.groupSize}` : t.format;
}

/** One layer's policy in a few words: `K int4/channel/g32 V int4/token/g32, sinks 4, window 128, pre-rope, hadamard keys`. */
export function kvLayerLabel(p: KvLayerPolicy): string {
  if (isUnquantizedKv(p)) return 'bf16';
  const kv = kvTensorLabel(p.keys) === kvTensorLabel(p.values) ? kvTensorLabel(p.keys) : `K ${kvTensorLabel(p.keys)} V ${kvTensorLabel(p.values)}`;
  const extras = [
    p.sinkTokens > 0 ? `sinks ${p.sinkTokens}` : '',
    p.recentWindow > 0 ? `window ${p.recentWindow}` : '',
    p.keys.format !== 'bf16' && p.keyPosition === 'pre-rope' ? 'pre-rope keys' : '',
    p.keys.format !== 'bf16' && p.keyRotation === 'hadamard' ? 'hadamard keys' : '',
  ].filter((x) => x !== '');
  return extras.length > 0 ? `${kv} (${extras.join(', ')})` : kv;
}

/** A whole policy in a few words: its base, and its bands by relative depth. */
export function kvPolicyLabel(policy: KvPolicy | undefined): string {
  if (!policy) return 'bf16';
  const { layers, ...base } = policy;
  const bands = layers.map((b) => `[${b.from}, ${b.to}): ${kvLayerLabel({ ...base, ...b.override })}`);
  return bands.length > 0 ? `${kvLayerLabel(base)}; ${bands.join('; ')}` : kvLayerLabel(base);
}

export interface KvBand {
  firstLayer: number;
  endLayer: number;
  policy: string;
  bytesPerToken: number;
}

/** Runs of consecutive layers that cache alike, with their per-token bytes (all KV heads, one sequence). */
export function kvBands(arch: ModelArchitecture, policy: KvPolicy | undefined): KvBand[] {
  const out: KvBand[] = [];
  kvLayerPolicies(arch, policy).forEach((p, i) => {
    const label = kvLayerLabel(p);
    const bytes = kvLayerBytesPerToken(p, arch.headDim, arch.numKeyValueHeads);
    const last = out[out.length - 1];
    if (last && last.policy === label && last.endLayer === i) {
      last.endLayer = i + 1;
      last.bytesPerToken += bytes;
    } else out.push({ firstLayer: i, endLayer: i + 1, policy: label, bytesPerToken: bytes });
  });
  return out;
}
