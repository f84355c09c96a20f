// The pack-quantized layout vLLM 0.33.0 loads (model_executor/layers/quantization/compressed_tensors/
// schemes/compressed_tensors_wNa16.py: packed_input_dim = ceil(in·b/32), pack_factor Fraction(32, b)):
// each row's b-bit values are a dense LSB-first bitstream cut into int32 words (32 values → b words),
// rows padded to whole words. compressed-tensors 0.17's own pack_to_int32 packs 32 // b values per word:
// the same words for 2, 4 and 8 bits; for 3 bits it packs 10 per word, so a 3-bit export loads in vLLM
// but not through compressed-tensors' decompressor. Stored values are unsigned: the signed code q plus
// 2^(b−1), which is exactly evoquant's unsigned code, so codes move over bit for bit.
import { unpackCodes } from '../../quantization/packing.js';

/** ceil(cols·b/32): int32 words per packed row. */
export function packedWords(cols: number, bits: number): number {
  return Math.ceil((cols * bits) / 32);
}

/** Packs rows of unsigned b-bit values ([rows, cols] row-major) into [rows, packedWords(cols)] int32. */
export function packRows(values: ArrayLike<number>, rows: number, cols: number, bits: number): Int32Array {
  const words = packedWords(cols, bits);
  const out = new Uint32Array(rows * words);
  for (let r = 0; r < rows; r++) {
    for (let c = 0, pos = 0; c < cols; c++, pos += bits) {
      const v = values[r * cols + c];
      const w = r * words + (pos >>> 5);
      const shift = pos & 31;
      out[w] = (out[w] | (v << shift)) >>> 0;
      // A value spills into the next word when it straddles a 32-bit boundary (3-bit codes).
      if (shift + bits > 32) out[w + 1] = (out[w + 1] | (v >>> (32 - shift))) >>> 0;
    }
  }
  return new Int32Array(out.buffer);
}

/** weight_packed of one module: evoquant's LSB-first packed codes regrouped per row. */
export function packWeightCodes(codes: Uint8Array, out: number, inFeatures: number, bits: number): Int32Array {
  return packRows(unpackCodes(codes, bits, out * inFeatures), out, inFeatures, bits);
}

/**
 * weight_zero_point of an asymmetric module: compressed-tensors packs zero points along dim 0
 * (`pack_to_int32(zero_point, num_bits, packed_dim=0)`), so the [out, groups] unsigned zeros are
 * transposed, packed per group column and transposed back to [packedWords(out), groups].
 */
export function packZeroPoints(zeros: Uint8Array, out: number, groups: number, bits: number): Int32Array {
  const z = unpackCodes(zeros, bits, out * groups);
  const transposed = new Uint8Array(out * groups);
  for (let r = 0; r < out; r++) for (let g = 0; g < groups; g++) transposed[g * out + r] = z[r * groups + g];
  const packed = packRows(transposed, groups, out, bits); // [groups, words]
  const words = packedWords(out, bits);
  const result = new Int32Array(words * groups);
  for (let g = 0; g < groups; g++) for (let w = 0; w < words; w++) result[w * groups + g] = packed[g * words + w];
  return result;
}
