// 16-bit float storage formats: fp16 for scales and outlier values, bf16 for passthrough weights.
// Hand-rolled rather than through a DataView helper: these run per group in every search loop.

/** Every fp16 bit pattern decoded (fp16 values are exact in fp32). */
const FP16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

function roundHalfEven(v: number): number {
  const r = Math.round(v); // v ≥ 0 here, so Math.round breaks ties upwards
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** IEEE binary16 bits of x, rounded to nearest even directly from the double (overflow gives ±inf). */
export function toFp16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65520 is the tie between 65504 and 2^16: even goes to inf
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal; 1024 lands on the smallest normal
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // A mantissa rounding up to 1024 carries into the exponent, which the addition does by itself.
  return sign | (((e + 15) << 10) + roundHalfEven((a / 2 ** e) * 1024) - 1024);
}

export function fromFp16Bits(h: number): number {
  return FP16_TABLE[h & 0xffff];
}

/** x rounded through fp16, as dequantization will see it. */
export function roundFp16(x: number): number {
  return fromFp16Bits(toFp16Bits(x));
}

/**
 * Bits of the smallest fp16 value ≥ x, for x ≥ 0. Scales are rounded up so the stored grid
 * still covers the group's range and the per-element error stays ≤ scale/2.
 */
export function toFp16BitsCeil(x: number): number {
  if (!(x >= 0)) throw new RangeError(`toFp16BitsCeil expects x >= 0, got ${x}`);
  let h = toFp16Bits(x);
  if (fromFp16Bits(h) < x) h += 1; // positive fp16 bit patterns are ordered like their values
  return h;
}

/** Decodes a whole fp16 array at once. */
export function fp16ArrayToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = FP16_TABLE[bits[i]];
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits of x, rounded to nearest even from its fp32 value. */
export function toBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return 0x7fc0; // NaN stays NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBf16Bits(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}
