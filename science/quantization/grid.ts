// Uniform integer grids per group: min/max → fp16 scale and integer zero point, and the
// value ↔ code maps. Scales are rounded through fp16 before use, so quantization and
// dequantization see exactly the stored number.
import type { GroupSize } from '../../schema/recipe.js';
import { fromFp16Bits, toFp16BitsCeil } from './half.js';

/** Codes of one layer before packing: one byte per weight, per-group scale bits and zeros. */
export interface GroupedCodes {
  /** [out, in] row-major, one code per weight (unpacked). */
  codes: Uint8Array;
  /** [out, nGroups] fp16 bits. */
  scales: Uint16Array;
  /** [out, nGroups] integer zero points (asymmetric int grids only). */
  zeros: Uint8Array | null;
}

export function maxCode(bits: number): number {
  return (1 << bits) - 1;
}

/** The implicit zero point of a symmetric grid: codes 0..2^b−1 stand for −2^(b−1)..2^(b−1)−1. */
export function symmetricZero(bits: number): number {
  return 1 << (bits - 1);
}

/** Columns per group; 'channel' is one group spanning the whole row. */
export function groupWidth(groupSize: GroupSize, inFeatures: number): number {
  return groupSize === 'channel' ? inFeatures : groupSize;
}

/** Groups per row; the last group is narrower when inFeatures is not a multiple. */
export function groupCount(groupSize: GroupSize, inFeatures: number): number {
  return Math.ceil(inFeatures / groupWidth(groupSize, inFeatures));
}

export interface IntGrid {
  scale: number;
  scaleBits: number;
  zero: number;
}

/**
 * The grid for a group whose values lie in [min, max]. Asymmetric grids always include 0
 * (so zero is an integer in [0, 2^b−1]); symmetric grids are centred on the implicit zero.
 * The scale is rounded *up* to fp16 so the grid still spans the range: error ≤ scale/2.
 */
export function intGrid(min: number, max: number, bits: number, symmetric: boolean): IntGrid {
  const maxq = maxCode(bits);
  let raw: number;
  let lo: number;
  if (symmetric) {
    const amax = Math.max(Math.abs(min), Math.abs(max));
    raw = (2 * amax) / maxq;
    lo = -amax;
  } else {
    lo = Math.min(min, 0);
    raw = (Math.max(max, 0) - lo) / maxq;
  }
  // An all-zero group (or one made only of outliers) quantizes to the zero code under any scale.
  if (raw === 0) raw = 1;
  const scaleBits = Number.isFinite(raw) ? toFp16BitsCeil(raw) : 0x7e00;
  const scale = fromFp16Bits(scaleBits);
  const zero = symmetric ? symmetricZero(bits) : Math.min(maxq, Math.max(0, Math.round(-lo / scale)));
  return { scale, scaleBits, zero };
}

export function quantizeInt(w: number, scale: number, zero: number, maxq: number): number {
  const q = Math.round(w / scale) + zero;
  return q < 0 ? 0 : q > maxq ? maxq : q;
}

export function dequantizeInt(q: number, scale: number, zero: number): number {
  return (q - zero) * scale;
}

/** Min and max of row[start:end], skipping masked positions (outliers); 0,0 when all are masked. */
export function rangeOf(row: ArrayLike<number>, start: number, end: number, mask?: Uint8Array | null, maskOffset = 0): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = start; j < end; j++) {
    if (mask && mask[maskOffset + j]) continue;
    const v = row[j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min === Infinity ? [0, 0] : [min, max];
}

/** Grid values of integer codes: (q − z)·scale per group, [out, in]. */
export function dequantizeIntGroups(g: GroupedCodes, outFeatures: number, inFeatures: number, bits: number, groupSize: GroupSize): Float32Array {
  const gw = groupWidth(groupSize, inFeatures);
  const nGroups = groupCount(groupSize, inFeatures);
  const out = new Float32Array(outFeatures * inFeatures);
  const symZero = symmetricZero(bits);
  for (let r = 0; r < outFeatures; r++) {
    for (let gi = 0; gi < nGroups; gi++) {
      const scale = fromFp16Bits(g.scales[r * nGroups + gi]);
      const zero = g.zeros ? g.zeros[r * nGroups + gi] : symZero;
      const end = Math.min(inFeatures, (gi + 1) * gw);
      for (let j = gi * gw; j < end; j++) out[r * inFeatures + j] = (g.codes[r * inFeatures + j] - zero) * scale;
    }
  }
  return out;
}
