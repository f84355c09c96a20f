// Randomized Hadamard rotation of a layer's input dimension (QuIP#/QuaRot style):
// R = diag(±1 signs from a seeded PRNG) · blockdiag(H_b/√b), with b the largest power of two
// dividing n (1536 → three 512-blocks). R is orthogonal, so X·Wᵀ = (X·R)·(W·R)ᵀ: we quantize
// W·R and the effective weight is deq(W·R)·Rᵀ. Only the seed needs storing.
import { CalibrationStats } from './calibration-stats.js';
import { mulberry32 } from './prng.js';

type Rows = Float32Array | Float64Array;

/** Largest power of two dividing n, capped at maxBlock (itself a power of two). */
export function hadamardBlockSize(n: number, maxBlock = Number.POSITIVE_INFINITY): number {
  if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`hadamard size must be a positive integer, got ${n}`);
  return Math.min(n & -n, maxBlock);
}

/** In-place unnormalized fast Walsh–Hadamard transform of x[start : start+len], len a power of two. */
function fwht(x: Rows, start: number, len: number): void {
  for (let h = 1; h < len; h <<= 1) {
    for (let i = start; i < start + len; i += h << 1) {
      for (let j = i; j < i + h; j++) {
        const a = x[j];
        const b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

export class HadamardRotation {
  readonly n: number;
  readonly block: number;
  readonly signs: Float64Array;
  private readonly norm: number;

  constructor(n: number, readonly seed: number, maxBlock?: number) {
    this.n = n;
    this.block = hadamardBlockSize(n, maxBlock);
    this.norm = 1 / Math.sqrt(this.block);
    const rand = mulberry32(seed);
    this.signs = Float64Array.from({ length: n }, () => (rand() < 0.5 ? -1 : 1));
  }

  /** x ← x·R for each of the `rows` rows of x [rows, n], in place. */
  rotateRows<T extends Rows>(x: T, rows: number): T {
    this.checkRows(x, rows);
    const { n, block, norm, signs } = this;
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      for (let j = 0; j < n; j++) x[base + j] *= signs[j];
      for (let b = 0; b < n; b += block) fwht(x, base + b, block);
      for (let j = 0; j < n; j++) x[base + j] *= norm;
    }
    return x;
  }

  /** x ← x·Rᵀ (the inverse rotation) for each row, in place. */
  unrotateRows<T extends Rows>(x: T, rows: number): T {
    this.checkRows(x, rows);
    const { n, block, norm, signs } = this;
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      for (let b = 0; b < n; b += block) fwht(x, base + b, block);
      for (let j = 0; j < n; j++) x[base + j] *= norm * signs[j];
    }
    return x;
  }

  /** Rᵀ·H·R for a symmetric H [n, n]: the second moment of rotated inputs x·R. */
  rotateHessian(h: Float64Array): Float64Array {
    const n = this.n;
    const m = this.rotateRows(h.slice(), n); // H·R
    const t = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = m[i * n + j]; // (H·R)ᵀ = Rᵀ·H
    this.rotateRows(t, n); // Rᵀ·H·R
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const v = 0.5 * (t[i * n + j] + t[j * n + i]);
        t[i * n + j] = v;
        t[j * n + i] = v;
      }
    }
    return t;
  }

  /**
   * Statistics of the rotated inputs x·R. H, Σx² and the samples rotate exactly; Σ|x| cannot be
   * derived from the others, so it is estimated from the rotated samples.
   */
  rotateStats(stats: CalibrationStats): CalibrationStats {
    if (stats.inFeatures !== this.n) throw new RangeError(`rotateStats: stats have ${stats.inFeatures} features, rotation ${this.n}`);
    const p = stats.toParts();
    const n = this.n;
    const rows = p.sampleKeys.length;
    const hessian = this.rotateHessian(p.hessian);
    const samples = this.rotateRows(p.samples, rows);
    const sqSum = Float64Array.from({ length: n }, (_, j) => hessian[j * n + j]);
    const absSum = new Float64Array(n);
    if (rows > 0) {
      for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) absSum[j] += Math.abs(samples[i * n + j]);
      const f = p.count / rows;
      for (let j = 0; j < n; j++) absSum[j] *= f;
    }
    return CalibrationStats.fromParts({ ...p, hessian, samples, sqSum, absSum });
  }

  private checkRows(x: Rows, rows: number): void {
    if (x.length !== rows * this.n) throw new RangeError(`rotation expects ${rows}×${this.n} values, got ${x.length}`);
  }
}
