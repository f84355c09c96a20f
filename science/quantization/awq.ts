// AWQ (Lin et al. 2023, "Activation-aware Weight Quantization"): scale input channel j by
// s_j = mean|x_j|^α (normalised by √(max·min)) before quantizing, so salient channels get a finer
// effective grid; the effective weight is Q(W·diag(s))·diag(s)⁻¹. α is grid-searched on the
// output error over the sampled calibration rows, then each group's clipping range is searched.
// Modules that share one input (and so one foldable s) search α jointly: awqSearchSharedScales.
import type { GroupSize } from '../../schema/recipe.js';
import { linear } from '../kernels/matmul.js';
import { dequantizeIntGroups, groupCount, groupWidth, intGrid, maxCode, quantizeInt, rangeOf, type GroupedCodes } from './grid.js';
import { fromFp16Bits, toFp16Bits } from './half.js';
import { pickWithMargin } from './pick.js';
import { rtnQuantize } from './rtn.js';

export interface AwqOptions {
  bits: number;
  groupSize: GroupSize;
  symmetric: boolean;
  /** Number of α values i/scaleGrid, i = 0..scaleGrid−1. */
  scaleGrid: number;
  clip: boolean;
  /** Number of clipping ratios from 1 down to maxShrink (inclusive). */
  clipGrid: number;
  maxShrink: number;
  /** [out, in] outliers: kept exactly, left out of the grids and of the error. */
  outlierMask?: Uint8Array | null;
  onProgress?: (done: number, total: number) => void;
  /** fp16 bits of an s already chosen (jointly, for a shared input): only the clipping is searched. */
  channelScales?: Uint16Array;
}

/** One module of a shared input, as the joint scale search sees it. */
export interface AwqMember {
  /** [out, in] weight in the working basis. */
  w: Float32Array;
  outFeatures: number;
  /** [rows, in] the rows this module multiplies (an expert: its routed tokens). */
  samples: Float32Array;
  rows: number;
  bits: number;
  groupSize: GroupSize;
  symmetric: boolean;
  outlierMask?: Uint8Array | null;
}

export interface SharedScaleSearch {
  /** fp16 bits of the one s every member takes, [in]. */
  channelScales: Uint16Array;
  alpha: number;
  /** Σ over members of ‖X·Wᵀ − X·Ŵᵀ‖² at each α of the grid. */
  losses: Float64Array;
}

/** What AWQ needs from calibration. */
export interface AwqCalibration {
  /** mean |x_j| over all calibration rows. */
  meanAbs: Float64Array;
  /** [rows, in] sampled rows for the output-error searches. */
  samples: Float32Array;
  rows: number;
}

export interface AwqResult extends GroupedCodes {
  /** fp16 bits of s, [in]. */
  channelScales: Uint16Array;
  /** The α searched; NaN when s was given (shared with the modules of the same input). */
  alpha: number;
  /** ‖X·Wᵀ − X·Ŵᵀ‖² on the samples before and after the clipping search. */
  scaleLoss: number;
  finalLoss: number;
}

/** Smallest normal fp16: keeps 1/s finite and precise. */
const MIN_SCALE = 2 ** -14;
const MAX_SCALE = 65504;
/** As in the reference implementation, activation means are floored before the power. */
const MIN_MEAN = 1e-4;
/**
 * A grid point beats an earlier one only by more than this relative loss: onnxruntime's fp32 GEMM
 * losses sit ≤ 3.2e-7 (layer) and at p99 2.5e-7 (clip rows) from a float64 reference on the
 * proxy's real layers, so ties within noise go to the smaller α / less clipping on every CPU.
 */
export const AWQ_LOSS_MARGIN = 1e-4;

/** fp16-rounded s = m^α / √(max·min) for the per-channel activation means m. */
export function awqChannelScales(meanAbs: Float64Array, alpha: number): Uint16Array {
  const raw = Float64Array.from(meanAbs, (m) => Math.max(m, MIN_MEAN) ** alpha);
  let max = 0;
  let min = Infinity;
  for (const v of raw) {
    if (v > max) max = v;
    if (v < min) min = v;
  }
  const norm = Math.sqrt(max * min);
  return Uint16Array.from(raw, (v) => toFp16Bits(Math.min(MAX_SCALE, Math.max(MIN_SCALE, v / norm))));
}

/** ‖X·Δᵀ‖² for X [rows, k] and Δ [out, k]. */
async function outputError(x: Float32Array, delta: Float32Array, rows: number, k: number, outFeatures: number): Promise<number> {
  const y = await linear(x, delta, rows, k, outFeatures);
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += y[i] * y[i];
  return sum;
}

/** ‖X·(W − Q(W·diag(s))·diag(s)⁻¹)ᵀ‖² on the samples, outliers left out: AWQ's objective. */
async function scaledLoss(
  w: Float32Array,
  outFeatures: number,
  n: number,
  s: Float64Array,
  x: Float32Array,
  rows: number,
  grid: { bits: number; groupSize: GroupSize; symmetric: boolean },
  mask: Uint8Array | null,
): Promise<number> {
  const ws = new Float32Array(w.length);
  for (let r = 0; r < outFeatures; r++) for (let j = 0; j < n; j++) ws[r * n + j] = w[r * n + j] * s[j];
  const q = rtnQuantize(ws, outFeatures, n, grid, { outlierMask: mask });
  const deq = dequantizeIntGroups(q, outFeatures, n, grid.bits, grid.groupSize);
  const delta = new Float32Array(w.length);
  for (let r = 0; r < outFeatures; r++) {
    for (let j = 0; j < n; j++) {
      const t = r * n + j;
      delta[t] = mask && mask[t] ? 0 : w[t] - deq[t] / s[j];
    }
  }
  return outputError(x, delta, rows, n, outFeatures);
}

/**
 * One α for every module that reads one input (a layer's q/k/v; a layer's routed experts'
 * gate/up): s = mean|x|^α of that input minimises the summed output error of all of them, as in
 * llm-compressor's AWQ, whose mappings balance all of a norm's consumers against one scale vector.
 * Members are visited in the order given, so the search is as deterministic as its inputs.
 */
export async function awqSearchSharedScales(members: readonly AwqMember[], meanAbs: Float64Array, scaleGrid: number, onProgress?: (done: number, total: number) => void): Promise<SharedScaleSearch> {
  if (members.length === 0) throw new RangeError('shared AWQ search needs at least one module');
  const n = meanAbs.length;
  for (const m of members) {
    if (m.w.length !== m.outFeatures * n) throw new RangeError(`shared AWQ member has ${m.w.length} weights, expected ${m.outFeatures}×${n}`);
    if (m.samples.length !== m.rows * n) throw new RangeError(`shared AWQ member has ${m.samples.length} sample values, expected ${m.rows}×${n}`);
  }
  const losses = new Float64Array(scaleGrid);
  const scaleBits: Uint16Array[] = [];
  for (let i = 0; i < scaleGrid; i++) {
    const sBits = awqChannelScales(meanAbs, i / scaleGrid);
    const s = Float64Array.from(sBits, fromFp16Bits);
    let loss = 0;
    for (const m of members) {
      if (m.rows === 0) continue;
      loss += await scaledLoss(m.w, m.outFeatures, n, s, m.samples, m.rows, m, m.outlierMask ?? null);
    }
    losses[i] = loss;
    scaleBits.push(sBits);
    onProgress?.(i + 1, scaleGrid);
  }
  const pick = pickWithMargin(losses, AWQ_LOSS_MARGIN);
  return { channelScales: scaleBits[pick], alpha: pick / scaleGrid, losses };
}

export async function awqQuantize(w: Float32Array, outFeatures: number, inFeatures: number, calib: AwqCalibration, opts: AwqOptions): Promise<AwqResult> {
  const n = inFeatures;
  const grid = { bits: opts.bits, groupSize: opts.groupSize, symmetric: opts.symmetric };
  const mask = opts.outlierMask ?? null;
  const { samples: x, rows } = calib;
  const gw = groupWidth(opts.groupSize, n);
  const nGroups = groupCount(opts.groupSize, n);
  const fixed = opts.channelScales ?? null;
  if (fixed && fixed.length !== n) throw new RangeError(`AWQ channel scales have ${fixed.length} entries, the layer ${n} inputs`);
  const searched = fixed ? 0 : opts.scaleGrid;
  const total = searched + (opts.clip ? nGroups : 0);

  const scaled = (s: Float64Array): Float32Array => {
    const ws = new Float32Array(w.length);
    for (let r = 0; r < outFeatures; r++) for (let j = 0; j < n; j++) ws[r * n + j] = w[r * n + j] * s[j];
    return ws;
  };

  // 1. Scale search: α = 0 is plain RTN, so the search never does worse than RTN on the samples
  // (beyond the margin). A shared s was searched with the input's other modules: keep it.
  let best: { alpha: number; loss: number; bits: Uint16Array };
  if (fixed) {
    const sFixed = Float64Array.from(fixed, fromFp16Bits);
    best = { alpha: Number.NaN, loss: await scaledLoss(w, outFeatures, n, sFixed, x, rows, grid, mask), bits: fixed };
  } else {
    const scaleLosses = new Float64Array(opts.scaleGrid);
    const scaleBits: Uint16Array[] = [];
    for (let i = 0; i < opts.scaleGrid; i++) {
      const sBits = awqChannelScales(calib.meanAbs, i / opts.scaleGrid);
      scaleLosses[i] = await scaledLoss(w, outFeatures, n, Float64Array.from(sBits, fromFp16Bits), x, rows, grid, mask);
      scaleBits.push(sBits);
      opts.onProgress?.(i + 1, total);
    }
    const pick = pickWithMargin(scaleLosses, AWQ_LOSS_MARGIN);
    best = { alpha: pick / opts.scaleGrid, loss: scaleLosses[pick], bits: scaleBits[pick] };
  }
  const s = Float64Array.from(best.bits, fromFp16Bits);
  const ws = scaled(s);

  // 2. Clipping search per (row, group) on the partial output of that group: the scaled weight
  // sees inputs x/s. Ratio 1 (no clipping) is tried first and kept on ties within the margin.
  let clipRatios: Float64Array | null = null;
  if (opts.clip) {
    clipRatios = new Float64Array(outFeatures * nGroups).fill(1);
    const maxq = maxCode(opts.bits);
    const ratios = Float64Array.from({ length: opts.clipGrid }, (_, k) => 1 - (k * (1 - opts.maxShrink)) / (opts.clipGrid - 1));
    // [clipGrid, out] errors of one group, and one row's errors across the ratios.
    const errs = new Float64Array(opts.clipGrid * outFeatures);
    const rowErrs = new Float64Array(opts.clipGrid);
    for (let g = 0; g < nGroups; g++) {
      const c0 = g * gw;
      const width = Math.min(n, c0 + gw) - c0;
      const xg = new Float32Array(rows * width);
      for (let t = 0; t < rows; t++) for (let c = 0; c < width; c++) xg[t * width + c] = x[t * n + c0 + c] / s[c0 + c];
      const delta = new Float32Array(outFeatures * width);
      errs.fill(0);
      for (let k = 0; k < opts.clipGrid; k++) {
        const ratio = ratios[k];
        for (let r = 0; r < outFeatures; r++) {
          const base = r * n + c0;
          const [min, max] = rangeOf(ws, base, base + width, mask);
          const { scale, zero } = intGrid(min * ratio, max * ratio, opts.bits, opts.symmetric);
          for (let c = 0; c < width; c++) {
            const v = ws[base + c];
            delta[r * width + c] = mask && mask[base + c] ? 0 : v - (quantizeInt(v, scale, zero, maxq) - zero) * scale;
          }
        }
        const y = await linear(xg, delta, rows, width, outFeatures);
        const e = errs.subarray(k * outFeatures, (k + 1) * outFeatures);
        for (let t = 0; t < rows; t++) for (let r = 0; r < outFeatures; r++) e[r] += y[t * outFeatures + r] * y[t * outFeatures + r];
      }
      for (let r = 0; r < outFeatures; r++) {
        for (let k = 0; k < opts.clipGrid; k++) rowErrs[k] = errs[k * outFeatures + r];
        clipRatios[r * nGroups + g] = ratios[pickWithMargin(rowErrs, AWQ_LOSS_MARGIN)];
      }
      opts.onProgress?.(searched + g + 1, total);
    }
  }

  const q = rtnQuantize(ws, outFeatures, n, grid, { outlierMask: mask, clipRatios });
  let finalLoss = best.loss;
  if (clipRatios) {
    const deq = dequantizeIntGroups(q, outFeatures, n, opts.bits, opts.groupSize);
    const delta = new Float32Array(w.length);
    for (let t = 0; t < w.length; t++) delta[t] = mask && mask[t] ? 0 : w[t] - deq[t] / s[t % n];
    finalLoss = await outputError(x, delta, rows, n, outFeatures);
  }
  return { ...q, channelScales: best.bits, alpha: best.alpha, scaleLoss: best.loss, finalLoss };
}
