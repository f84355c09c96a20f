// GPTQ (Frantar et al. 2022, "Accurate Post-Training Quantization for Generative Pre-trained
// Transformers"): quantize one input column at a time and push each column's rounding error
// onto the columns not yet quantized, weighted by the inverse Hessian of the layer-wise
// objective ‖X·Wᵀ − X·Ŵᵀ‖², H = 2/n·Σ x·xᵀ.
//
// Working layout: Wt is the transposed weight [in, out], so the column being quantized and the
// rows the error flows into are contiguous.
import type { GroupSize } from '../../schema/recipe.js';
import { matmul } from '../kernels/matmul.js';
import { HessianNotPositiveDefiniteError } from './errors.js';
import { groupCount, groupWidth, intGrid, maxCode, quantizeInt, rangeOf, type GroupedCodes } from './grid.js';
import { roundFp16, toFp16Bits } from './half.js';
import { upperCholeskyOfInverse } from './linalg.js';

export interface GptqOptions {
  bits: number;
  groupSize: GroupSize;
  symmetric: boolean;
  /** Fraction of mean(diag H) added to the diagonal. */
  damp: number;
  /** Columns per lazy batch: errors propagate inside the block, then once to the rest by GEMM. */
  blockSize: number;
  /** Quantize columns by descending H_jj (most activated first). */
  actOrder: boolean;
  /** [out, in] outliers: kept at their (error-compensated) value in fp16, so their error is ~0. */
  outlierMask?: Uint8Array | null;
  onProgress?: (done: number, total: number) => void;
  label?: string;
}

export interface GptqResult extends GroupedCodes {
  /** fp16 bits of each outlier's final value, by flat [out, in] index. */
  outlierValues: Map<number, number>;
  /** The dampening that made H positive definite (raised ×10 per retry if needed). */
  dampUsed: number;
}

/** Calibration input GPTQ needs: Σ x·xᵀ over `count` rows. */
export interface HessianSource {
  hessian: Float64Array;
  count: number;
}

const MAX_DAMP_RETRIES = 4;

export async function gptqQuantize(w: Float32Array, outFeatures: number, inFeatures: number, src: HessianSource, opts: GptqOptions): Promise<GptqResult> {
  const n = inFeatures;
  const { bits, groupSize, symmetric, blockSize, actOrder } = opts;
  const mask = opts.outlierMask ?? null;
  const maxq = maxCode(bits);
  const gw = groupWidth(groupSize, n);
  const nGroups = groupCount(groupSize, n);

  const h = new Float64Array(n * n);
  for (let i = 0; i < h.length; i++) h[i] = (2 / src.count) * src.hessian[i];
  const w64 = Float64Array.from(w);
  // Dead inputs (never non-zero in calibration) carry no signal: pin H_jj = 1 and drop the column.
  for (let j = 0; j < n; j++) {
    if (h[j * n + j] === 0) {
      h[j * n + j] = 1;
      for (let r = 0; r < outFeatures; r++) w64[r * n + j] = 0;
    }
  }

  const perm = Int32Array.from({ length: n }, (_, j) => j);
  if (actOrder) perm.sort((a, b) => h[b * n + b] - h[a * n + a] || a - b);

  // Group grids. With act-order they are "static": computed from the original column grouping
  // before any update, so codes stay in natural order and no g_idx has to be stored. Without
  // act-order they are computed when the group's first column comes up, from the updated weights
  // (the original GPTQ behaviour; also needs no g_idx).
  const gScale = new Float64Array(outFeatures * nGroups);
  const gZero = new Float64Array(outFeatures * nGroups);
  const scales = new Uint16Array(outFeatures * nGroups);
  const zeros = symmetric ? null : new Uint8Array(outFeatures * nGroups);
  const setGrid = (r: number, g: number, min: number, max: number): void => {
    const grid = intGrid(min, max, bits, symmetric);
    gScale[r * nGroups + g] = grid.scale;
    gZero[r * nGroups + g] = grid.zero;
    scales[r * nGroups + g] = grid.scaleBits;
    if (zeros) zeros[r * nGroups + g] = grid.zero;
  };
  if (actOrder) {
    for (let r = 0; r < outFeatures; r++) {
      for (let g = 0; g < nGroups; g++) {
        const [min, max] = rangeOf(w64, r * n + g * gw, r * n + Math.min(n, (g + 1) * gw), mask);
        setGrid(r, g, min, max);
      }
    }
  }

  // Permuted, dampened Hessian → upper Cholesky factor of its inverse.
  const hp = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) hp[i * n + j] = h[perm[i] * n + perm[j]];
  let meanDiag = 0;
  for (let j = 0; j < n; j++) meanDiag += hp[j * n + j];
  meanDiag /= n;
  let damp = opts.damp;
  let applied = 0;
  let u: Float64Array | null = null;
  for (let attempt = 0; ; attempt++) {
    const lambda = damp * meanDiag;
    for (let j = 0; j < n; j++) hp[j * n + j] += lambda - applied;
    applied = lambda;
    u = upperCholeskyOfInverse(hp, n);
    if (u) break;
    if (attempt === MAX_DAMP_RETRIES) throw new HessianNotPositiveDefiniteError(damp, opts.label);
    damp *= 10;
  }
  if (!u) throw new HessianNotPositiveDefiniteError(damp, opts.label); // unreachable; narrows the type

  const wt = new Float64Array(n * outFeatures);
  for (let i = 0; i < n; i++) for (let r = 0; r < outFeatures; r++) wt[i * outFeatures + r] = w64[r * n + perm[i]];

  const codes = new Uint8Array(outFeatures * n);
  const outlierValues = new Map<number, number>();
  for (let i1 = 0; i1 < n; i1 += blockSize) {
    const i2 = Math.min(n, i1 + blockSize);
    const width = i2 - i1;
    const err = new Float32Array(width * outFeatures);
    for (let i = i1; i < i2; i++) {
      const col = perm[i];
      const g = Math.floor(col / gw);
      if (!actOrder && col % gw === 0) {
        // Dynamic group: range over the group's columns as they stand now (perm is the identity).
        const end = Math.min(n, col + gw);
        for (let r = 0; r < outFeatures; r++) {
          let min = Infinity;
          let max = -Infinity;
          for (let j = col; j < end; j++) {
            if (mask && mask[r * n + j]) continue;
            const v = wt[j * outFeatures + r];
            if (v < min) min = v;
            if (v > max) max = v;
          }
          if (min === Infinity) min = max = 0;
          setGrid(r, g, min, max);
        }
      }
      const d = u[i * n + i];
      const rowI = i * outFeatures;
      const errRow = (i - i1) * outFeatures;
      for (let r = 0; r < outFeatures; r++) {
        const v = wt[rowI + r];
        const flat = r * n + col;
        const scale = gScale[r * nGroups + g];
        const zero = gZero[r * nGroups + g];
        const code = quantizeInt(v, scale, zero, maxq);
        codes[flat] = code;
        let q: number;
        if (mask && mask[flat]) {
          q = roundFp16(v);
          outlierValues.set(flat, toFp16Bits(v));
        } else {
          q = (code - zero) * scale;
        }
        err[errRow + r] = (v - q) / d;
      }
      // Propagate inside the block: W[:, j] −= err · U[i, j] for the block's later columns.
      for (let j = i + 1; j < i2; j++) {
        const hij = u[i * n + j];
        if (hij === 0) continue;
        const rowJ = j * outFeatures;
        for (let r = 0; r < outFeatures; r++) wt[rowJ + r] -= hij * err[errRow + r];
      }
    }
    // Lazy batch update of every later column: Wt[i2:, :] −= U[i1:i2, i2:]ᵀ · Err.
    const rest = n - i2;
    if (rest > 0) {
      const a = new Float32Array(rest * width);
      for (let k = 0; k < rest; k++) for (let c = 0; c < width; c++) a[k * width + c] = u[(i1 + c) * n + i2 + k];
      const delta = await matmul(a, err, rest, width, outFeatures);
      const base = i2 * outFeatures;
      for (let t = 0; t < delta.length; t++) wt[base + t] -= delta[t];
    }
    opts.onProgress?.(i2, n);
  }
  return { codes, scales, zeros, outlierValues, dampUsed: damp };
}
