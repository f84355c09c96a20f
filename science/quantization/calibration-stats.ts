// Per-layer calibration statistics of a linear layer's INPUT activations: the second moment
// H = Σ x·xᵀ (GPTQ), Σ|x_j| (AWQ), Σ x_j² (rms for outlier selection) and a bounded sample
// of rows for output-error searches.
//
// The sample is a "bottom-k" sketch: every row gets a pseudo-random priority hashed from its
// identity (or, without one, its content) and a seed, and the k rows of smallest priority are
// kept. That is a uniform sample, fully deterministic, and independent of feeding order, so
// merging two accumulators gives exactly what one accumulator fed with all rows would have.
import { matmul } from '../kernels/matmul.js';

export const DEFAULT_MAX_SAMPLES = 512;
/** Rows per GEMM when accumulating H: bounds the fp32 partial sums before they reach Float64. */
const CHUNK_ROWS = 1024;

export interface CalibrationStatsOptions {
  /** Rows kept for output-error searches (default 512). */
  maxSamples?: number;
  /** Seed of the sampling priorities (default 0). */
  seed?: number;
}

/** Plain-data form, for caching stats or building them from transformed ones (rotation). */
export interface CalibrationStatsParts {
  inFeatures: number;
  count: number;
  hessian: Float64Array;
  absSum: Float64Array;
  sqSum: Float64Array;
  /** [sampleRows, in] in priority order. */
  samples: Float32Array;
  sampleKeys: Float64Array;
  maxSamples: number;
  seed: number;
}

interface SampleEntry {
  key: number;
  row: Float32Array;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 53-bit priority of a row's float32 bits (two independent 32-bit hashes). */
function rowKey(words: Uint32Array, start: number, len: number, seed: number): number {
  let h1 = seed ^ 0x9e3779b9;
  let h2 = Math.imul(seed, 0x2545f491) ^ 0x7f4a7c15;
  for (let i = 0; i < len; i++) {
    const w = words[start + i];
    h1 = Math.imul(h1 ^ w, 0x5bd1e995);
    h1 ^= h1 >>> 15;
    h2 = Math.imul(h2 ^ w, 0x27d4eb2f);
    h2 ^= h2 >>> 13;
  }
  return fmix32(h1 ^ len) * 2 ** 21 + (fmix32(h2) >>> 11);
}

/** 53-bit priority of a row's identity, a safe non-negative integer. */
function idKey(id: number, seed: number): number {
  const lo = id >>> 0;
  const hi = Math.floor(id / 2 ** 32) >>> 0;
  const h1 = fmix32(Math.imul(lo ^ seed, 0x5bd1e995) ^ Math.imul(hi ^ 0x9e3779b9, 0x27d4eb2f));
  const h2 = fmix32(Math.imul(hi ^ Math.imul(seed, 0x2545f491), 0x5bd1e995) ^ Math.imul(lo ^ 0x7f4a7c15, 0x27d4eb2f));
  return h1 * 2 ** 21 + (h2 >>> 11);
}

export class CalibrationStats {
  readonly inFeatures: number;
  readonly maxSamples: number;
  readonly seed: number;
  /** Rows seen. */
  count = 0;
  /** Σ x·xᵀ over all rows, [in, in]. */
  readonly hessian: Float64Array;
  readonly absSum: Float64Array;
  readonly sqSum: Float64Array;
  private pool: SampleEntry[] = [];
  /** Once the pool was pruned, rows with a key ≥ this can never be sampled. */
  private threshold = Infinity;

  constructor(inFeatures: number, opts: CalibrationStatsOptions = {}) {
    if (!(Number.isInteger(inFeatures) && inFeatures > 0)) throw new RangeError(`inFeatures must be a positive integer, got ${inFeatures}`);
    this.inFeatures = inFeatures;
    this.maxSamples = opts.maxSamples ?? DEFAULT_MAX_SAMPLES;
    if (!(Number.isInteger(this.maxSamples) && this.maxSamples >= 0)) throw new RangeError(`maxSamples must be a non-negative integer, got ${this.maxSamples}`);
    this.seed = (opts.seed ?? 0) >>> 0;
    this.hessian = new Float64Array(inFeatures * inFeatures);
    this.absSum = new Float64Array(inFeatures);
    this.sqSum = new Float64Array(inFeatures);
  }

  static fromParts(p: CalibrationStatsParts): CalibrationStats {
    const s = new CalibrationStats(p.inFeatures, { maxSamples: p.maxSamples, seed: p.seed });
    s.count = p.count;
    s.hessian.set(p.hessian);
    s.absSum.set(p.absSum);
    s.sqSum.set(p.sqSum);
    const rows = p.sampleKeys.length;
    for (let i = 0; i < rows; i++) s.pool.push({ key: p.sampleKeys[i], row: p.samples.slice(i * p.inFeatures, (i + 1) * p.inFeatures) });
    s.prune();
    return s;
  }

  toParts(): CalibrationStatsParts {
    const kept = this.sortedSamples();
    const samples = new Float32Array(kept.length * this.inFeatures);
    kept.forEach((e, i) => samples.set(e.row, i * this.inFeatures));
    return {
      inFeatures: this.inFeatures,
      count: this.count,
      hessian: this.hessian.slice(),
      absSum: this.absSum.slice(),
      sqSum: this.sqSum.slice(),
      samples,
      sampleKeys: Float64Array.from(kept, (e) => e.key),
      maxSamples: this.maxSamples,
      seed: this.seed,
    };
  }

  /**
   * Accumulates `rows` activation rows x [rows, in] (row-major). `ids` name the rows (e.g. each
   * token's index in the calibration text, unique per accumulator) and then decide the sample
   * instead of the rows' float bits: activations differ in the last place between CPUs (AVX2 vs
   * AVX-512 GEMM kernels), and a content hash would then sample other rows on every machine.
   */
  async addRows(x: Float32Array, rows: number, ids?: ArrayLike<number>): Promise<void> {
    const n = this.inFeatures;
    if (x.length !== rows * n) throw new RangeError(`addRows: expected ${rows}×${n} values, got ${x.length}`);
    if (ids) {
      if (ids.length !== rows) throw new RangeError(`addRows: ids has ${ids.length} entries, expected ${rows}`);
      for (let i = 0; i < rows; i++) if (!(Number.isSafeInteger(ids[i]) && ids[i] >= 0)) throw new RangeError(`addRows: ids[${i}] must be a non-negative safe integer, got ${ids[i]}`);
    }
    for (let c = 0; c < rows; c += CHUNK_ROWS) {
      const m = Math.min(CHUNK_ROWS, rows - c);
      const chunk = x.subarray(c * n, (c + m) * n);
      // H += chunkᵀ·chunk through the GEMM kernel.
      const xt = new Float32Array(n * m);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) xt[j * m + i] = chunk[i * n + j];
      const h = await matmul(xt, chunk, n, m, n);
      for (let i = 0; i < h.length; i++) this.hessian[i] += h[i];
    }
    const words = new Uint32Array(x.buffer, x.byteOffset, x.length);
    for (let i = 0; i < rows; i++) {
      const base = i * n;
      for (let j = 0; j < n; j++) {
        const v = x[base + j];
        this.absSum[j] += Math.abs(v);
        this.sqSum[j] += v * v;
      }
      const key = ids ? idKey(ids[i], this.seed) : rowKey(words, base, n, this.seed);
      if (key < this.threshold) this.offer({ key, row: x.slice(base, base + n) });
    }
    this.count += rows;
  }

  /** Adds another accumulator's rows into this one (same width, sample size and seed). */
  merge(other: CalibrationStats): void {
    if (other.inFeatures !== this.inFeatures) throw new RangeError(`merge: inFeatures ${other.inFeatures} ≠ ${this.inFeatures}`);
    if (other.maxSamples !== this.maxSamples || other.seed !== this.seed) {
      throw new RangeError('merge: both accumulators need the same maxSamples and seed for a consistent sample');
    }
    this.count += other.count;
    for (let i = 0; i < this.hessian.length; i++) this.hessian[i] += other.hessian[i];
    for (let j = 0; j < this.inFeatures; j++) {
      this.absSum[j] += other.absSum[j];
      this.sqSum[j] += other.sqSum[j];
    }
    for (const e of other.pool) if (e.key < this.threshold) this.offer({ key: e.key, row: e.row.slice() });
  }

  get sampleCount(): number {
    return Math.min(this.pool.length, this.maxSamples);
  }

  /** The sampled rows [sampleCount, in], in priority order. */
  samples(): Float32Array {
    const kept = this.sortedSamples();
    const out = new Float32Array(kept.length * this.inFeatures);
    kept.forEach((e, i) => out.set(e.row, i * this.inFeatures));
    return out;
  }

  /** mean |x_j| per input channel. */
  meanAbs(): Float64Array {
    return this.absSum.map((v) => (this.count > 0 ? v / this.count : 0));
  }

  /** sqrt(mean x_j²) per input channel. */
  rms(): Float64Array {
    return this.sqSum.map((v) => (this.count > 0 ? Math.sqrt(v / this.count) : 0));
  }

  private offer(e: SampleEntry): void {
    this.pool.push(e);
    if (this.pool.length >= 2 * this.maxSamples) this.prune();
  }

  private prune(): void {
    this.pool.sort((a, b) => a.key - b.key);
    if (this.maxSamples === 0) {
      this.pool.length = 0;
      this.threshold = -Infinity;
    } else if (this.pool.length > this.maxSamples) {
      this.pool.length = this.maxSamples;
      this.threshold = this.pool[this.maxSamples - 1].key;
    }
  }

  private sortedSamples(): SampleEntry[] {
    this.prune();
    return this.pool.slice(0, this.maxSamples);
  }
}
