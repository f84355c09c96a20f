// AutoRound (Cheng et al. 2023, "Optimize Weight Rounding via Signed Gradient Descent for the
// Quantization of LLMs", arXiv 2309.05516): learn, per weight, a rounding offset V ∈ [−0.5, 0.5]
// added before rounding, and per group factors α, β ∈ [0.5, 1] that shrink the group's max and min
// (a learned clipping), by signed gradient descent with a straight-through estimator for round().
//
//   s = (α·max⁺ − β·min⁻) / (2^b − 1)   (fp16, rounded up, as every evoquant grid: grid.ts intGrid)
//   z = round(−β·min⁻ / s)
//   Ŵ = s · (clamp(round(W/s + V) + z, 0, 2^b − 1) − z)
//
// The learned state is only a choice of codes and of a grid: the stored form (codes, fp16 scales,
// integer zero points) is exactly RTN's and GPTQ's, so every kernel, byte count and export applies.
//
// Objective. The paper reconstructs each transformer block's output on mini-batches of calibration
// tokens; this reference executor reconstructs each linear layer's output, ‖X·Wᵀ − X·Ŵᵀ‖², over ALL
// of its calibration rows (the input GPTQ gets). Through H = Σ x·xᵀ that loss is Σ_r Δ_r·H·Δ_rᵀ with
// Δ = W − Ŵ, so no activation row is touched during the search. Its gradient G = Δ·H (one row per
// output) is kept incrementally: G_r = H·W_r − Σ_g s_rg·Σ_{j∈g} (q_rj − z_rg)·H_j, where the sum only
// changes for the codes whose grid value q − z moves (a few per step). H is first rounded to a fixed-point
// grid (2^−K of its largest entry), so those sums are exact integers in float64: the same codes,
// in any order, give the same bits, and the search is bit-reproducible on every CPU (pure
// JavaScript arithmetic, no BLAS whose last bits differ between AVX2 and AVX-512).
//
// As in auto-round (auto_round/algorithms/quantization/sign_round/quantizer.py): the step size
// decays linearly to 0 over the iterations, and the parameters of the step with the lowest loss are
// kept, so the result is never worse than RTN (step 0) on the calibration objective. Bounds follow
// the paper ([−0.5, 0.5] and [0.5, 1]); auto-round 0.15 relaxes α, β to (0, 1].
//
// This is the CPU reference executor, sized for the proxy (each step costs O(out·in·groups) plus
// in per code that flips). Running it at the scale of a real model belongs to a GPU executor
// (issue #9), on the same stored form.
import type { GroupSize } from '../../schema/recipe.js';
import { groupCount, groupWidth, intGrid, maxCode, quantizeInt, rangeOf, type GroupedCodes } from './grid.js';

export interface AutoRoundOptions {
  bits: number;
  groupSize: GroupSize;
  symmetric: boolean;
  /** Signed-gradient steps. */
  iterations: number;
  /** Initial step of V, α and β; it decays linearly to 0. */
  learningRate: number;
  /** Also learn the per-group factors α, β (the paper's min-max tuning). */
  minMax: boolean;
  /** [out, in] outliers: kept in fp16, left out of the grids and the objective. */
  outlierMask?: Uint8Array | null;
  onProgress?: (done: number, total: number) => void;
}

/** Calibration input AutoRound needs: Σ x·xᵀ over `count` rows (what GPTQ gets). */
export interface AutoRoundHessian {
  hessian: Float64Array;
  count: number;
}

export interface AutoRoundResult extends GroupedCodes {
  /**
   * The objective Σ_r Δ_r·H·Δ_rᵀ / count (the mean squared output error per calibration row, summed
   * over outputs) before each step and after the last: iterations + 1 values, losses[0] is RTN's.
   * Within 2^−K of H's largest entry per entry of H.
   */
  losses: Float64Array;
  /** Index into `losses` of the parameters kept. */
  bestStep: number;
}

/** Smallest α, β: a group's range shrinks at most to half (the paper's bound). */
export const AUTOROUND_MIN_FACTOR = 0.5;
export const AUTOROUND_MAX_OFFSET = 0.5;

/** Fixed-point bits of the rounded Hessian, such that every sum of codes × entries is exact. */
function fixedPointBits(inFeatures: number, maxq: number): number {
  return Math.max(8, Math.min(28, Math.floor(52 - Math.log2(inFeatures * (maxq + 1)))));
}

const sign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : 0);

export function autoRoundQuantize(w: ArrayLike<number>, outFeatures: number, inFeatures: number, src: AutoRoundHessian, opts: AutoRoundOptions): AutoRoundResult {
  const n = inFeatures;
  const { bits, groupSize, symmetric, iterations, learningRate, minMax } = opts;
  if (w.length !== outFeatures * n) throw new RangeError(`AutoRound: weight has ${w.length} values, expected ${outFeatures}×${n}`);
  if (src.hessian.length !== n * n) throw new RangeError(`AutoRound: Hessian has ${src.hessian.length} entries, expected ${n}×${n}`);
  if (!(Number.isInteger(iterations) && iterations >= 0)) throw new RangeError(`AutoRound: iterations must be a non-negative integer, got ${iterations}`);
  if (!(learningRate > 0 && Number.isFinite(learningRate))) throw new RangeError(`AutoRound: learningRate must be positive, got ${learningRate}`);
  if (!(src.count > 0)) throw new RangeError('AutoRound: the Hessian has no calibration rows');
  const mask = opts.outlierMask ?? null;
  const maxq = maxCode(bits);
  const gw = groupWidth(groupSize, n);
  const nGroups = groupCount(groupSize, n);

  // H rounded to integers: Hq = round(H / maxDiag · 2^K). |H_ij| ≤ max diag for a Gram matrix.
  let maxDiag = 0;
  for (let j = 0; j < n; j++) maxDiag = Math.max(maxDiag, src.hessian[j * n + j]);
  const K = fixedPointBits(n, maxq);
  const unit = maxDiag > 0 ? 2 ** K / maxDiag : 0;
  const hq = new Float64Array(n * n);
  for (let i = 0; i < hq.length; i++) hq[i] = Math.round(src.hessian[i] * unit);
  /** Converts a loss in Hq units back to H / count units. */
  const lossUnit = unit > 0 ? 1 / (unit * src.count) : 0;

  // Per (row, group) range, and the learned factors.
  const minNeg = new Float64Array(outFeatures * nGroups);
  const maxPos = new Float64Array(outFeatures * nGroups);
  for (let r = 0; r < outFeatures; r++) {
    for (let g = 0; g < nGroups; g++) {
      const start = r * n + g * gw;
      const [min, max] = rangeOf(w, start, Math.min(r * n + n, start + gw), mask);
      minNeg[r * nGroups + g] = Math.min(min, 0);
      maxPos[r * nGroups + g] = Math.max(max, 0);
    }
  }
  const alpha = new Float64Array(outFeatures * nGroups).fill(1);
  const beta = new Float64Array(outFeatures * nGroups).fill(1);
  const v = new Float64Array(outFeatures * n);

  // Current grid and codes, and the incremental sums they feed.
  const scale = new Float64Array(outFeatures * nGroups);
  const scaleBits = new Uint16Array(outFeatures * nGroups);
  const zero = new Float64Array(outFeatures * nGroups);
  const codes = new Uint8Array(outFeatures * n);
  const clipped = new Uint8Array(outFeatures * n);
  // The grid value of each code relative to its zero point, q − z: a moved zero point shifts every
  // code of its group but not these. qSum[(r·nGroups + g)·n + k] = Σ_{j∈g, unmasked} (q_rj − z_rg)·Hq[j,k].
  const rel = new Int16Array(outFeatures * n);
  const qSum = new Float64Array(outFeatures * nGroups * n);
  // H·W'_r, W' = W with outliers zeroed (their error is ~0: they are kept in fp16).
  const hw = new Float64Array(outFeatures * n);
  for (let r = 0; r < outFeatures; r++) {
    const out = hw.subarray(r * n, (r + 1) * n);
    for (let j = 0; j < n; j++) {
      const x = w[r * n + j];
      if (x === 0 || (mask && mask[r * n + j])) continue;
      const row = j * n;
      for (let k = 0; k < n; k++) out[k] += x * hq[row + k];
    }
  }

  const best: GroupedCodes = { codes: new Uint8Array(codes.length), scales: new Uint16Array(scaleBits.length), zeros: symmetric ? null : new Uint8Array(zero.length) };
  const losses = new Float64Array(iterations + 1);
  let bestLoss = Infinity;
  let bestStep = 0;
  const grad = new Float64Array(n);

  for (let step = 0; step <= iterations; step++) {
    let loss = 0;
    const lr = learningRate * (1 - step / Math.max(1, iterations));
    const update = step < iterations;
    for (let r = 0; r < outFeatures; r++) {
      const base = r * n;
      // 1. Forward: the grid of every group and the codes under V; flipped codes update qSum.
      for (let g = 0; g < nGroups; g++) {
        const gi = r * nGroups + g;
        const grid = intGrid(minNeg[gi] * beta[gi], maxPos[gi] * alpha[gi], bits, symmetric);
        scale[gi] = grid.scale;
        scaleBits[gi] = grid.scaleBits;
        zero[gi] = grid.zero;
        const qo = gi * n;
        const end = Math.min(n, (g + 1) * gw);
        for (let j = g * gw; j < end; j++) {
          const t = base + j;
          let q: number;
          if (mask && mask[t]) {
            q = quantizeInt(w[t], grid.scale, grid.zero, maxq);
            clipped[t] = 0;
          } else {
            const u = Math.round(w[t] / grid.scale + v[t]) + grid.zero;
            q = u < 0 ? 0 : u > maxq ? maxq : u;
            clipped[t] = u === q ? 0 : 1;
            const c = q - grid.zero;
            const old = rel[t];
            if (c !== old) {
              const d = c - old;
              const row = j * n;
              for (let k = 0; k < n; k++) qSum[qo + k] += d * hq[row + k];
              rel[t] = c;
            }
          }
          codes[t] = q;
        }
      }
      // 2. G_r = H·Δ_r.
      for (let k = 0; k < n; k++) grad[k] = hw[base + k];
      for (let g = 0; g < nGroups; g++) {
        const gi = r * nGroups + g;
        const s = scale[gi];
        const qo = gi * n;
        for (let k = 0; k < n; k++) grad[k] -= s * qSum[qo + k];
      }
      // 3. The row's loss Δ_r·G_r, and signed steps. dL/dŴ = −2G; dŴ/dV = s off the clip bounds
      // (STE), so V moves by sign(G).
      for (let g = 0; g < nGroups; g++) {
        const gi = r * nGroups + g;
        const s = scale[gi];
        const wmin = minNeg[gi] * beta[gi];
        const end = Math.min(n, (g + 1) * gw);
        // An all-zero (or all-outlier) group has a placeholder scale of 1: nothing to learn there.
        const learn = update && !(minNeg[gi] === 0 && maxPos[gi] === 0);
        // Σ G·∂Ŵ/∂s and Σ G·∂Ŵ/∂wmin (through z, asymmetric grids, clipped codes only).
        let gScale = 0;
        let gMin = 0;
        for (let j = g * gw; j < end; j++) {
          const t = base + j;
          if (mask && mask[t]) continue;
          const gj = grad[j];
          loss += (w[t] - s * rel[t]) * gj;
          if (!learn) continue;
          if (clipped[t]) {
            gScale += gj * (rel[t] - (symmetric ? 0 : wmin / s));
            if (!symmetric) gMin += gj;
          } else {
            gScale += gj * (rel[t] - w[t] / s);
            const nv = v[t] + lr * sign(gj);
            v[t] = nv > AUTOROUND_MAX_OFFSET ? AUTOROUND_MAX_OFFSET : nv < -AUTOROUND_MAX_OFFSET ? -AUTOROUND_MAX_OFFSET : nv;
          }
        }
        if (!learn || !minMax) continue;
        // dL/dα and dL/dβ up to positive factors (only their signs are used); dL/d· = −2·Σ G·∂Ŵ/∂·.
        let dAlpha: number;
        let dBeta: number;
        if (symmetric) {
          // s = 2·max(α·max⁺, −β·min⁻)/maxq: the larger side takes the gradient.
          const hiSide = maxPos[gi] * alpha[gi] >= -wmin;
          dAlpha = hiSide ? -gScale * maxPos[gi] : 0;
          dBeta = hiSide ? 0 : -gScale * -minNeg[gi];
        } else {
          // s = (α·max⁺ − β·min⁻)/maxq; z = round(−β·min⁻/s).
          dAlpha = -gScale * maxPos[gi];
          dBeta = -(gMin - gScale / maxq) * minNeg[gi];
        }
        alpha[gi] = Math.min(1, Math.max(AUTOROUND_MIN_FACTOR, alpha[gi] - lr * sign(dAlpha)));
        beta[gi] = Math.min(1, Math.max(AUTOROUND_MIN_FACTOR, beta[gi] - lr * sign(dBeta)));
      }
    }
    losses[step] = loss * lossUnit;
    if (loss < bestLoss) {
      bestLoss = loss;
      bestStep = step;
      best.codes.set(codes);
      best.scales.set(scaleBits);
      if (best.zeros) for (let i = 0; i < zero.length; i++) best.zeros[i] = zero[i];
    }
    opts.onProgress?.(step + 1, iterations + 1);
  }
  return { ...best, losses, bestStep };
}
