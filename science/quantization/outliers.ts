// Salient weights kept exactly (SpQR / SqueezeLLM style): the top `fraction` of weights by
// |w_ij|·rms(x_j) or |w_ij| are stored as sparse fp16 (int32 flat index, value) pairs and
// left out of the grid of their group.
import type { OutlierPolicy } from '../../schema/recipe.js';

export interface OutlierSelection {
  /** [out, in], 1 at outliers. */
  mask: Uint8Array;
  /** Flat row-major indices, ascending. */
  indices: Int32Array;
}

/** Number of outliers kept for a layer of `total` weights. */
export function outlierCount(fraction: number, total: number): number {
  return Math.min(total, Math.round(fraction * total));
}

/**
 * Picks the outliers of w [out, in]. `rms` (per input channel) is required for the
 * activation-weighted criterion. Ties are broken by the lower index, so the choice is deterministic.
 */
export function selectOutliers(
  w: ArrayLike<number>,
  outFeatures: number,
  inFeatures: number,
  policy: OutlierPolicy,
  rms: Float64Array | null,
): OutlierSelection {
  const total = outFeatures * inFeatures;
  const k = outlierCount(policy.fraction, total);
  const mask = new Uint8Array(total);
  if (k === 0) return { mask, indices: new Int32Array(0) };
  const weighted = policy.criterion === 'activation-weighted';
  if (weighted && (!rms || rms.length !== inFeatures)) throw new RangeError('activation-weighted outliers need the per-channel rms of the inputs');
  const scores = new Float64Array(total);
  for (let r = 0; r < outFeatures; r++) {
    for (let j = 0; j < inFeatures; j++) {
      const i = r * inFeatures + j;
      scores[i] = weighted && rms ? Math.abs(w[i]) * rms[j] : Math.abs(w[i]);
    }
  }
  const threshold = scores.slice().sort()[total - k]; // k-th largest score
  const indices = new Int32Array(k);
  let n = 0;
  for (let i = 0; i < total; i++) if (scores[i] > threshold) indices[n++] = i;
  for (let i = 0; i < total && n < k; i++) if (scores[i] === threshold) indices[n++] = i;
  indices.sort();
  for (const i of indices) mask[i] = 1;
  return { mask, indices };
}
