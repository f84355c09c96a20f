// What a layer's KV cache holds after storing K and V by its policy: the dequantized keys (after
// RoPE, as attention reads them) and values. Tokens the policy keeps in bf16 are chosen per query by
// precision-masks.ts; this file quantizes every token as if it were stored quantized.
import { kvElementBits, type KvLayerPolicy, type KvTensorPolicy } from '../../schema/kv-policy.js';
import { HadamardRotation } from '../quantization/hadamard.js';
import { FP8_FORMATS, isFp8, roundFp8 } from './float8.js';
import { fakeQuantizePerChannel, fakeQuantizePerToken } from './integer-groups.js';

/** Shape of one layer's cache: [batch, kvHeads, seq, headDim], row-major. */
export interface KvShape {
  batch: number;
  kvHeads: number;
  seq: number;
  headDim: number;
}

/** Fixed seed of the key rotation: QuaRot's randomized Hadamard, reproducible. */
const KEY_ROTATION_SEED = 0x6b76;

/** Quantizes and dequantizes one sequence's slab [seq, headDim] of one head in place. */
function storeSlab(slab: Float32Array, shape: KvShape, policy: KvTensorPolicy, fp8Scale: number): void {
  const { seq, headDim } = shape;
  if (policy.format === 'bf16') return;
  if (isFp8(policy.format)) {
    for (let i = 0; i < slab.length; i++) slab[i] = roundFp8(slab[i] / fp8Scale, policy.format) * fp8Scale;
    return;
  }
  if (policy.format === 'int8' || policy.format === 'int4' || policy.format === 'int2') {
    const bits = kvElementBits(policy);
    if (policy.axis === 'token') fakeQuantizePerToken(slab, seq, headDim, bits, policy.groupSize);
    else fakeQuantizePerChannel(slab, seq, headDim, bits, policy.groupSize);
  }
}

/** One fp32 scale per sequence for a layer's K (or V): amax / the format's largest value (vLLM's k_scale / v_scale). */
function fp8Scale(x: Float32Array, from: number, to: number, format: 'fp8_e4m3' | 'fp8_e5m2'): number {
  let amax = 0;
  for (let i = from; i < to; i++) amax = Math.max(amax, Math.abs(x[i]));
  return amax > 0 ? amax / FP8_FORMATS[format].max : 1;
}

/** Stores every slab of a [batch, kvHeads, seq, headDim] tensor by `policy`, optionally rotating each token's vector first. */
function storeTensor(x: Float32Array, shape: KvShape, policy: KvTensorPolicy, rotation: HadamardRotation | null): Float32Array {
  if (policy.format === 'bf16') return x;
  const out = x.slice();
  const slabSize = shape.seq * shape.headDim;
  const perSequence = shape.kvHeads * slabSize;
  if (rotation) rotation.rotateRows(out, out.length / shape.headDim);
  for (let b = 0; b < shape.batch; b++) {
    const scale = isFp8(policy.format) ? fp8Scale(out, b * perSequence, (b + 1) * perSequence, policy.format) : 1;
    for (let h = 0; h < shape.kvHeads; h++) {
      const from = (b * shape.kvHeads + h) * slabSize;
      storeSlab(out.subarray(from, from + slabSize), shape, policy, scale);
    }
  }
  if (rotation) rotation.unrotateRows(out, out.length / shape.headDim);
  return out;
}

/** x·cos + rotate_half(x)·sin per token, for [batch, kvHeads, seq, headDim] (HF layout tables [seq, headDim]). */
export function applyRope(x: Float32Array, shape: KvShape, cos: Float32Array, sin: Float32Array): Float32Array {
  const { seq, headDim } = shape;
  const half = headDim / 2;
  const out = new Float32Array(x.length);
  for (let row = 0; row < x.length / headDim; row++) {
    const t = row % seq;
    const o = row * headDim;
    for (let j = 0; j < headDim; j++) {
      const rotated = j < half ? -x[o + j + half] : x[o + j - half];
      out[o + j] = Math.fround(Math.fround(x[o + j] * cos[t * headDim + j]) + Math.fround(rotated * sin[t * headDim + j]));
    }
  }
  return out;
}

export interface StoredKv {
  /** Keys as attention reads them from the cache: dequantized, after RoPE. */
  keys: Float32Array;
  values: Float32Array;
}

/**
 * K and V as the cache returns them. `keysPreRope` and `keysRoped` are the same keys before and after
 * RoPE; pre-RoPE policies quantize the former and rotate the dequantized result (KVQuant).
 */
export function storeKv(policy: KvLayerPolicy, shape: KvShape, keysPreRope: Float32Array, keysRoped: Float32Array, values: Float32Array, rope: { cos: Float32Array; sin: Float32Array }): StoredKv {
  const rotation = policy.keyRotation === 'hadamard' && policy.keys.format !== 'bf16' ? new HadamardRotation(shape.headDim, KEY_ROTATION_SEED) : null;
  const keys =
    policy.keys.format === 'bf16'
      ? keysRoped
      : policy.keyPosition === 'pre-rope'
        ? applyRope(storeTensor(keysPreRope, shape, policy.keys, rotation), shape, rope.cos, rope.sin)
        : storeTensor(keysRoped, shape, policy.keys, rotation);
  return { keys, values: storeTensor(values, shape, policy.values, null) };
}
