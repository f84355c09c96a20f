// The stored form of one quantized linear layer, its exact byte count, and the effective
// weight it stands for.
import type { QuantSpec } from '../../schema/recipe.js';
import { decodeE4m3 } from './fp8.js';
import { groupCount, groupWidth, symmetricZero } from './grid.js';
import { fromBf16Bits, fromFp16Bits } from './half.js';
import { HadamardRotation } from './hadamard.js';
import { unpackCodes } from './packing.js';

export interface QuantizedLinear {
  outFeatures: number;
  inFeatures: number;
  spec: QuantSpec;
  /**
   * [out, in] codes, row-major, packed LSB-first at spec.bits per code (fp8: one e4m3 byte each).
   * For bits 16 (passthrough) the bf16 weight, two little-endian bytes per element.
   */
  codes: Uint8Array;
  /** fp16 bits, [out, nGroups]; empty for the passthrough form. */
  scales: Uint16Array;
  /** Asymmetric int grids: zero points packed at spec.bits, [out, nGroups]. */
  zeros?: Uint8Array;
  /** AWQ: per-input-channel scale s (fp16 bits, [in]); the effective weight divides by it. */
  channelScales?: Uint16Array;
  /** Outliers: ascending flat [out, in] indices (in the rotated basis when rotated)… */
  outlierIndex?: Int32Array;
  /** …and their exact values as fp16 bits. */
  outlierValue?: Uint16Array;
  /** Hadamard rotation seed: codes hold W·R, the effective weight is deq·Rᵀ. Costs no bytes. */
  rotationSeed?: number;
}

export function isPassthrough(q: QuantizedLinear): boolean {
  return q.spec.bits === 16;
}

/** Exact bytes of every stored array (the rotation seed and the spec are metadata). */
export function storedBytes(q: QuantizedLinear): number {
  return (
    q.codes.byteLength +
    q.scales.byteLength +
    (q.zeros?.byteLength ?? 0) +
    (q.channelScales?.byteLength ?? 0) +
    (q.outlierIndex?.byteLength ?? 0) +
    (q.outlierValue?.byteLength ?? 0)
  );
}

/** The effective weight [out, in] (row-major) that the stored form stands for. */
export function dequantize(q: QuantizedLinear): Float32Array {
  const { outFeatures: out, inFeatures: n, spec } = q;
  const total = out * n;
  if (isPassthrough(q)) {
    const w = new Float32Array(total);
    for (let i = 0; i < total; i++) w[i] = fromBf16Bits(q.codes[2 * i] | (q.codes[2 * i + 1] << 8));
    return w;
  }
  const bits = spec.bits;
  const codes = unpackCodes(q.codes, bits, total);
  const gw = groupWidth(spec.groupSize, n);
  const nGroups = groupCount(spec.groupSize, n);
  const zeros = q.zeros ? unpackCodes(q.zeros, bits, out * nGroups) : null;
  const fp8 = spec.format === 'fp8';
  const symZero = symmetricZero(bits);
  const inv = q.channelScales ? Float64Array.from(q.channelScales, (h) => 1 / fromFp16Bits(h)) : null;
  const w = new Float32Array(total);
  for (let r = 0; r < out; r++) {
    for (let g = 0; g < nGroups; g++) {
      const scale = fromFp16Bits(q.scales[r * nGroups + g]);
      const zero = zeros ? zeros[r * nGroups + g] : symZero;
      const end = Math.min(n, (g + 1) * gw);
      for (let j = g * gw; j < end; j++) {
        const t = r * n + j;
        let v = fp8 ? decodeE4m3(codes[t]) * scale : (codes[t] - zero) * scale;
        if (inv) v *= inv[j];
        w[t] = v;
      }
    }
  }
  if (q.outlierIndex && q.outlierValue) {
    for (let k = 0; k < q.outlierIndex.length; k++) w[q.outlierIndex[k]] = fromFp16Bits(q.outlierValue[k]);
  }
  if (q.rotationSeed !== undefined) new HadamardRotation(n, q.rotationSeed, spec.rotation?.blockSize).unrotateRows(w, out);
  return w;
}
