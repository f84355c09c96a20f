// Stored bytes of one weight matrix [rows = out, cols = in] under a QuantSpec:
// - bits 16: bf16, 2 bytes per weight (format, groups, outliers and rotation do not apply).
// - int b-bit: codes packed densely, ceil(rows·cols·b / 8) bytes; per group (groupSize columns of
//   one row, the last group narrower; 'channel' = one group per row) one fp16 scale, and for
//   asymmetric grids one b-bit zero point, zeros packed densely: ceil(groups·b / 8) bytes.
// - fp8 e4m3: 1 byte per weight + one fp16 scale per group/channel; fp8 grids are symmetric
//   (no zero point whatever `symmetric` says).
// - AWQ: one fp16 per-input-channel scale s (cols values), stored with the layer.
// - outliers: nnz = min(n, round(fraction · n)) weights kept exactly as COO pairs: an int32 flat
//   [out, in] index and an fp16 value each (6 bytes). The dense codes keep their slots.
// - Hadamard rotation stores nothing: the signs are regenerated from the seed.
// These are exactly the arrays quantization/quantized-linear.ts stores (storedBytes), so a
// compiled size is the size of the real artifact.
//
// A compressed-tensors checkpoint (science/export/compressed-tensors, pack-quantized as
// compressed_tensors/compressors/pack_quantized 0.20 lays it out) stores int grids differently:
// - codes: each row packed on its own into int32 words, rows · ceil(cols·b / 32) · 4 bytes;
// - scales: in the file fp32 (the fp16 values widened: compressed-tensors dequantizes in the
//   scale's dtype, so fp16 scales would round every product), 4 bytes per group; on the GPU vLLM
//   loads int-grid scales into params_dtype (bf16, 2 bytes: compressed_tensors_wNa16.py) and fp8
//   scales as fp32 (fp8_utils.py create_fp8_scale_parameter);
// - zero points (asymmetric): packed along the output dimension, ceil(rows·b / 32) · 4 bytes per
//   group column;
// - weight_shape: an int64 pair (16 bytes) per quantized module, counted with the scales;
// - AWQ scales are folded into the op before the module, so they store nothing;
// - fp8 (float-quantized): one e4m3 byte per weight and an fp32 scale per row, no weight_shape.
import type { CheckpointFormat } from '../../schema/serving-stack.js';
import type { QuantSpec } from '../../schema/recipe.js';

export const BF16_BYTES = 2;
export const FP16_SCALE_BYTES = 2;
export const OUTLIER_VALUE_BYTES = 2;
export const OUTLIER_INDEX_BYTES = 4;

export interface ByteBreakdown {
  codes: number;
  scales: number;
  zeros: number;
  outliers: number;
  bf16: number;
}

export function emptyBreakdown(): ByteBreakdown {
  return { codes: 0, scales: 0, zeros: 0, outliers: 0, bf16: 0 };
}

export function addBreakdown(into: ByteBreakdown, b: ByteBreakdown, times = 1): void {
  into.codes += b.codes * times;
  into.scales += b.scales * times;
  into.zeros += b.zeros * times;
  into.outliers += b.outliers * times;
  into.bf16 += b.bf16 * times;
}

export function breakdownTotal(b: ByteBreakdown): number {
  return b.codes + b.scales + b.zeros + b.outliers + b.bf16;
}

/** Quantization groups of a [rows, cols] matrix. */
export function groupCount(rows: number, cols: number, groupSize: QuantSpec['groupSize']): number {
  return rows * (groupSize === 'channel' ? 1 : Math.ceil(cols / groupSize));
}

export function outlierCount(rows: number, cols: number, fraction: number): number {
  const n = rows * cols;
  return Math.min(n, Math.round(fraction * n));
}

export function outlierBytes(rows: number, cols: number, fraction: number): number {
  return outlierCount(rows, cols, fraction) * (OUTLIER_VALUE_BYTES + OUTLIER_INDEX_BYTES);
}

/** compressed-tensors' weight_shape: torch.tensor(weight.shape), two int64. */
export const CT_WEIGHT_SHAPE_BYTES = 16;
export const CT_SCALE_BYTES = 4;
/** vLLM's in-memory int-grid scales: params_dtype, the model's bf16. */
export const CT_GPU_INT_SCALE_BYTES = 2;

/** Where the bytes are counted: in GPU memory as the stack holds them, or in the checkpoint file. */
export type BytesWhere = 'gpu' | 'file';

function compressedTensorsIntBytes(rows: number, cols: number, spec: QuantSpec, where: BytesWhere): ByteBreakdown {
  const b = emptyBreakdown();
  const groupsPerRow = spec.groupSize === 'channel' ? 1 : Math.ceil(cols / spec.groupSize);
  b.codes = rows * Math.ceil((cols * spec.bits) / 32) * 4;
  b.scales = rows * groupsPerRow * (where === 'file' ? CT_SCALE_BYTES : CT_GPU_INT_SCALE_BYTES) + CT_WEIGHT_SHAPE_BYTES;
  if (!spec.symmetric) b.zeros = Math.ceil((rows * spec.bits) / 32) * 4 * groupsPerRow;
  if (spec.outliers) b.outliers = outlierBytes(rows, cols, spec.outliers.fraction);
  return b;
}

/**
 * Stored bytes of one matrix in the given checkpoint format (default: evoquant's own), in GPU
 * memory (what must fit) or in the checkpoint file; they differ only for compressed-tensors' scales.
 */
export function matrixBytes(rows: number, cols: number, spec: QuantSpec, checkpoint: CheckpointFormat = 'evoquant', where: BytesWhere = 'gpu'): ByteBreakdown {
  if (checkpoint === 'compressed-tensors' && spec.bits !== 16 && rows * cols > 0) {
    if (spec.format === 'int') return compressedTensorsIntBytes(rows, cols, spec, where);
    const b = emptyBreakdown();
    b.codes = rows * cols;
    b.scales = groupCount(rows, cols, spec.groupSize) * CT_SCALE_BYTES;
    if (spec.outliers) b.outliers = outlierBytes(rows, cols, spec.outliers.fraction);
    return b;
  }
  const b = emptyBreakdown();
  const n = rows * cols;
  if (n === 0) return b;
  if (spec.bits === 16) {
    b.bf16 = n * BF16_BYTES;
    return b;
  }
  const groups = groupCount(rows, cols, spec.groupSize);
  b.scales = groups * FP16_SCALE_BYTES;
  if (spec.format === 'int' && spec.method.kind === 'awq') b.scales += cols * FP16_SCALE_BYTES;
  if (spec.format === 'fp8') {
    b.codes = n;
  } else {
    b.codes = Math.ceil((n * spec.bits) / 8);
    if (!spec.symmetric) b.zeros = Math.ceil((groups * spec.bits) / 8);
  }
  if (spec.outliers) b.outliers = outlierBytes(rows, cols, spec.outliers.fraction);
  return b;
}

/** Average stored bits per weight of a spec on a [rows, cols] matrix (for messages and notes). */
export function bitsPerWeight(rows: number, cols: number, spec: QuantSpec): number {
  return (breakdownTotal(matrixBytes(rows, cols, spec)) * 8) / (rows * cols);
}
