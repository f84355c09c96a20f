// Rounding to the two fp8 formats a KV cache is stored in (OCP FP8: e4m3fn and e5m2), as vLLM's
// fp8 KV cache casts them: round to nearest even, saturating at the largest finite value.
import type { KvFormat } from '../../schema/kv-policy.js';

interface Minifloat {
  mantissaBits: number;
  /** Exponent of the smallest normal value. */
  minNormalExponent: number;
  max: number;
}

export const FP8_FORMATS: Record<'fp8_e4m3' | 'fp8_e5m2', Minifloat> = {
  fp8_e4m3: { mantissaBits: 3, minNormalExponent: -6, max: 448 },
  fp8_e5m2: { mantissaBits: 2, minNormalExponent: -14, max: 57344 },
};

/** Round half to even on the integer grid. */
function roundHalfEven(q: number): number {
  const r = Math.round(q);
  return Math.abs(q - Math.trunc(q)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The fp8 value nearest to x (ties to even), saturating at ±max. */
export function roundFp8(x: number, format: 'fp8_e4m3' | 'fp8_e5m2'): number {
  const f = FP8_FORMATS[format];
  const a = Math.abs(x);
  if (!Number.isFinite(x)) return Number.isNaN(x) ? NaN : Math.sign(x) * f.max;
  if (a >= f.max) return Math.sign(x) * f.max;
  const exponent = Math.max(f.minNormalExponent, Math.floor(Math.log2(a || 2 ** f.minNormalExponent)));
  const step = 2 ** (exponent - f.mantissaBits);
  const r = roundHalfEven(a / step) * step;
  return Math.sign(x) * Math.min(r, f.max);
}

export function isFp8(format: KvFormat): format is 'fp8_e4m3' | 'fp8_e5m2' {
  return format === 'fp8_e4m3' || format === 'fp8_e5m2';
}
