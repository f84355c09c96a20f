// Round-to-nearest: each group gets its own min/max grid and every weight its nearest code.
import type { GroupSize } from '../../schema/recipe.js';
import { groupCount, groupWidth, intGrid, maxCode, quantizeInt, rangeOf, type GroupedCodes } from './grid.js';

export interface IntGridSpec {
  bits: number;
  groupSize: GroupSize;
  symmetric: boolean;
}

export interface RtnOptions {
  /** [out, in]; 1 marks an outlier kept in fp16: left out of the group's min/max. */
  outlierMask?: Uint8Array | null;
  /** [out, nGroups] factor in (0, 1] shrinking each group's range before the grid is built (AWQ clipping). */
  clipRatios?: Float64Array | null;
}

/** Quantizes the rows of w [out, in] group by group. */
export function rtnQuantize(w: ArrayLike<number>, outFeatures: number, inFeatures: number, spec: IntGridSpec, opts: RtnOptions = {}): GroupedCodes {
  const { bits, groupSize, symmetric } = spec;
  const gw = groupWidth(groupSize, inFeatures);
  const nGroups = groupCount(groupSize, inFeatures);
  const maxq = maxCode(bits);
  const codes = new Uint8Array(outFeatures * inFeatures);
  const scales = new Uint16Array(outFeatures * nGroups);
  const zeros = symmetric ? null : new Uint8Array(outFeatures * nGroups);
  for (let r = 0; r < outFeatures; r++) {
    const base = r * inFeatures;
    for (let g = 0; g < nGroups; g++) {
      const start = base + g * gw;
      const end = Math.min(base + inFeatures, start + gw);
      let [min, max] = rangeOf(w, start, end, opts.outlierMask);
      if (opts.clipRatios) {
        const ratio = opts.clipRatios[r * nGroups + g];
        min *= ratio;
        max *= ratio;
      }
      const grid = intGrid(min, max, bits, symmetric);
      scales[r * nGroups + g] = grid.scaleBits;
      if (zeros) zeros[r * nGroups + g] = grid.zero;
      for (let j = start; j < end; j++) codes[j] = quantizeInt(w[j], grid.scale, grid.zero, maxq);
    }
  }
  return { codes, scales, zeros };
}
