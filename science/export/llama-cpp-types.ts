// evoquant specs → ggml tensor types for llama-quantize, read from llama.cpp's sources:
// ggml/src/ggml-common.h (block layouts), src/llama-quant.cpp (tensor_allows_quantization,
// tensor_type_fallback) and tools/quantize/quantize.cpp (type names parsed case-insensitively).
// llama-quantize re-quantizes the bf16 original with its own rounding: the type reproduces the
// recipe's storage layout (bits, block, zero point), not evoquant's codes.
import { ExportRefusedError } from './errors.js';
import type { QuantSpec } from '../../schema/recipe.js';

export interface GgmlChoice {
  type: 'bf16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q3_K' | 'q2_K';
  /** How the ggml block relates to the recipe's grid. */
  fidelity: string;
}

/** K-quants pack 256-wide super-blocks (QK_K): a row whose length is not a multiple falls back. */
export const QK_K = 256;

const SOURCE = 'ggml/src/ggml-common.h';

/** The ggml type that stores a module the recipe's way; refuses what no type stores. */
export function ggmlTypeOf(spec: QuantSpec, inFeatures: number, tensor: string): GgmlChoice {
  if (spec.bits === 16) return { type: 'bf16', fidelity: 'unquantized' };
  const refuse = (why: string): never => {
    throw new ExportRefusedError(`llama.cpp: ${tensor}: ${why}`);
  };
  if (spec.format !== 'int') refuse(`no ggml weight type stores ${spec.format} (${SOURCE})`);
  if (spec.groupSize !== 32) refuse(`group ${spec.groupSize} has no ggml block; the legacy blocks are 32 wide (${SOURCE})`);
  let choice: GgmlChoice;
  switch (spec.bits) {
    case 8:
      if (!spec.symmetric) refuse(`no 8-bit weight type stores a zero point (block_q8_0 holds a scale only; ${SOURCE})`);
      choice = { type: 'q8_0', fidelity: 'same layout: 32-wide blocks, one fp16 scale, symmetric int8' };
      break;
    case 4:
      choice = spec.symmetric
        ? { type: 'q4_0', fidelity: 'same layout: 32-wide blocks, one fp16 scale, symmetric 4-bit' }
        : { type: 'q4_1', fidelity: 'same layout: 32-wide blocks, fp16 scale and min (zero point)' };
      break;
    case 3:
      if (!spec.symmetric) refuse(`no 3-bit type stores a zero point (block_q3_K holds scales only; ${SOURCE})`);
      choice = { type: 'q3_K', fidelity: 'nearest: 16-wide sub-blocks with 6-bit scales in 256-wide super-blocks (finer than group 32)' };
      break;
    case 2:
      choice = { type: 'q2_K', fidelity: 'nearest: 16-wide sub-blocks with 4-bit scale and min in 256-wide super-blocks (finer than group 32)' };
      break;
    default:
      return refuse(`no ggml type for ${spec.bits} bits`);
  }
  if ((choice.type === 'q3_K' || choice.type === 'q2_K') && inFeatures % QK_K !== 0) {
    // tensor_type_fallback would silently store it as q4_0 instead.
    refuse(`${choice.type} needs rows a multiple of ${QK_K} (this one has ${inFeatures}); llama-quantize would fall back to q4_0 (src/llama-quant.cpp: tensor_type_fallback)`);
  }
  return choice;
}
