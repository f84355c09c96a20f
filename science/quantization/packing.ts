// Bit packing of unsigned b-bit codes into a dense little-endian (LSB-first) bitstream.

export const PACKABLE_BITS = [2, 3, 4, 8] as const;
export type PackableBits = (typeof PACKABLE_BITS)[number];

export function packedLength(count: number, bits: number): number {
  return Math.ceil((count * bits) / 8);
}

function checkBits(bits: number): void {
  if (!(PACKABLE_BITS as readonly number[]).includes(bits)) throw new RangeError(`cannot pack ${bits}-bit codes`);
}

/** Packs codes (each < 2^bits) so that code i occupies bits [i·b, (i+1)·b) of the stream. */
export function packCodes(codes: ArrayLike<number>, bits: number): Uint8Array {
  checkBits(bits);
  const n = codes.length;
  if (bits === 8) return Uint8Array.from(codes as ArrayLike<number>);
  const out = new Uint8Array(packedLength(n, bits));
  const limit = 1 << bits;
  for (let i = 0, pos = 0; i < n; i++, pos += bits) {
    const c = codes[i];
    if (!(c >= 0 && c < limit) || c !== Math.floor(c)) throw new RangeError(`code ${c} at ${i} does not fit in ${bits} bits`);
    const byte = pos >>> 3;
    const shift = pos & 7;
    // A code spans at most two bytes because bits ≤ 8.
    out[byte] |= (c << shift) & 0xff;
    if (shift + bits > 8) out[byte + 1] |= c >>> (8 - shift);
  }
  return out;
}

/** Inverse of packCodes: the first `count` codes of the stream. */
export function unpackCodes(packed: Uint8Array, bits: number, count: number): Uint8Array {
  checkBits(bits);
  if (packed.length < packedLength(count, bits)) {
    throw new RangeError(`packed stream has ${packed.length} bytes, ${count} ${bits}-bit codes need ${packedLength(count, bits)}`);
  }
  if (bits === 8) return packed.slice(0, count);
  const out = new Uint8Array(count);
  const mask = (1 << bits) - 1;
  for (let i = 0, pos = 0; i < count; i++, pos += bits) {
    const byte = pos >>> 3;
    const shift = pos & 7;
    let v = packed[byte] >>> shift;
    if (shift + bits > 8) v |= packed[byte + 1] << (8 - shift);
    out[i] = v & mask;
  }
  return out;
}
