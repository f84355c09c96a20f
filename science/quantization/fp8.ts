// FP8 e4m3fn (1 sign, 4 exponent bits with bias 7, 3 mantissa bits, max 448, no infinities;
// 0x7f/0xff are NaN) with an fp16 scale per channel or per group: scale = amax / 448.
import type { GroupSize } from '../../schema/recipe.js';
import { fromFp16Bits, toFp16BitsCeil } from './half.js';
import { groupCount, groupWidth, rangeOf, type GroupedCodes } from './grid.js';

export const E4M3_MAX = 448;

function decodeMagnitude(code: number): number {
  const exp = (code >>> 3) & 0xf;
  const mant = code & 7;
  return exp === 0 ? mant * 2 ** -9 : (1 + mant / 8) * 2 ** (exp - 7);
}

/** Non-negative finite e4m3 values, indexed by code 0..126 (monotonically increasing). */
const POSITIVE = Float64Array.from({ length: 127 }, (_, c) => decodeMagnitude(c));

export function decodeE4m3(code: number): number {
  const mag = code & 0x7f;
  if (mag === 0x7f) return NaN;
  return code & 0x80 ? -POSITIVE[mag] : POSITIVE[mag];
}

/**
 * Nearest e4m3 code, ties to the even code (= even mantissa), saturating at ±448.
 * NaN encodes to 0x7f. A binary search over the value table keeps it obviously exact.
 */
export function encodeE4m3(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a >= E4M3_MAX) return sign | 126;
  // Largest code whose value ≤ a.
  let lo = 0;
  let hi = 126;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (POSITIVE[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  let code = lo;
  if (lo < 126) {
    const down = a - POSITIVE[lo];
    const up = POSITIVE[lo + 1] - a;
    if (up < down || (up === down && (lo & 1) === 1)) code = lo + 1;
  }
  return sign | code;
}

/** Per-group fp8 codes of w [out, in]; masked positions (outliers) are left out of amax. */
export function fp8Quantize(w: ArrayLike<number>, outFeatures: number, inFeatures: number, groupSize: GroupSize, mask?: Uint8Array | null): GroupedCodes {
  const gw = groupWidth(groupSize, inFeatures);
  const nGroups = groupCount(groupSize, inFeatures);
  const codes = new Uint8Array(outFeatures * inFeatures);
  const scales = new Uint16Array(outFeatures * nGroups);
  for (let r = 0; r < outFeatures; r++) {
    const base = r * inFeatures;
    for (let g = 0; g < nGroups; g++) {
      const start = base + g * gw;
      const end = Math.min(base + inFeatures, start + gw);
      const [min, max] = rangeOf(w, start, end, mask);
      const amax = Math.max(Math.abs(min), Math.abs(max));
      // Rounded up so amax/scale ≤ 448: nothing saturates except through rounding.
      const scaleBits = Number.isFinite(amax) ? toFp16BitsCeil(amax > 0 ? amax / E4M3_MAX : 1) : 0x7e00;
      scales[r * nGroups + g] = scaleBits;
      const scale = fromFp16Bits(scaleBits);
      for (let j = start; j < end; j++) codes[j] = encodeE4m3(w[j] / scale);
    }
  }
  return { codes, scales, zeros: null };
}

/** decode(code)·scale per group, [out, in]. */
export function dequantizeFp8Groups(g: GroupedCodes, outFeatures: number, inFeatures: number, groupSize: GroupSize): Float32Array {
  const gw = groupWidth(groupSize, inFeatures);
  const nGroups = groupCount(groupSize, inFeatures);
  const out = new Float32Array(outFeatures * inFeatures);
  for (let r = 0; r < outFeatures; r++) {
    for (let gi = 0; gi < nGroups; gi++) {
      const scale = fromFp16Bits(g.scales[r * nGroups + gi]);
      const end = Math.min(inFeatures, (gi + 1) * gw);
      for (let j = gi * gw; j < end; j++) out[r * inFeatures + j] = decodeE4m3(g.codes[r * inFeatures + j]) * scale;
    }
  }
  return out;
}
