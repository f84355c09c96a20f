// compressed-tensors' pack-quantized layout (compressed_tensors/compressors/pack_quantized/
// helpers.py pack_to_int32, 0.17.0 as vLLM 0.33.0 pins it): each int32 word holds pack_factor =
// floor(32/b) values of one row, LSB first (3-bit: 10 values, the top 2 bits unused), rows padded
// to whole words. Stored values are unsigned: the signed code q
// plus 2^(b−1), which is exactly evoquant's unsigned code, so codes move over bit for bit.
import { unpackCodes } from '../../quantization/packing.js';

/** Values per int32 word: compressed-tensors' pack_factor = 32 // num_bits. */
export function packFactor(bits: number): number {
  return Math.floor(32 / bits);
}

/** ceil(cols / pack_factor): int32 words per packed row. */
export function packedWords(cols: number, bits: number): number {
  return Math.ceil(cols / packFactor(bits));
}

/** Packs rows of unsigned b-bit values ([rows, cols] row-major) into [rows, packedWords(cols)] int32. */
export function packRows(values: ArrayLike<number>, rows: number, cols: number, bits: number): Int32Array {
  const words = packedWords(cols, bits);
  const factor = packFactor(bits);
  const out = new Uint32Array(rows * words);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const w = r * words + Math.floor(c / factor);
      out[w] = (out[w] | (values[r * cols + c] << ((c % factor) * bits))) >>> 0;
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
