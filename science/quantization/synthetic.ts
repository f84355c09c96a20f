// Seeded synthetic layers for tests and benchmarks: weights ~N(0, 0.02) with a few heavy input
// columns, and inputs with correlated channels plus a few high-magnitude (outlier) channels,
// the shape of real LLM activations that makes activation-aware methods matter.
import { gaussian, mulberry32 } from './prng.js';

export interface SyntheticWeightOptions {
  std?: number;
  /** Fraction of input columns scaled up by heavyScale. */
  heavyFraction?: number;
  heavyScale?: number;
}

export function syntheticWeight(outFeatures: number, inFeatures: number, seed: number, opts: SyntheticWeightOptions = {}): Float32Array {
  const { std = 0.02, heavyFraction = 0.02, heavyScale = 4 } = opts;
  const rand = mulberry32(seed);
  const normal = gaussian(rand);
  const colScale = Float64Array.from({ length: inFeatures }, () => (rand() < heavyFraction ? heavyScale : 1));
  const w = new Float32Array(outFeatures * inFeatures);
  for (let r = 0; r < outFeatures; r++) for (let j = 0; j < inFeatures; j++) w[r * inFeatures + j] = std * colScale[j] * normal();
  return w;
}

export interface SyntheticInputOptions {
  /** Latent factors shared by all channels (the source of correlation). */
  factors?: number;
  noise?: number;
  /** Fraction of channels with a large scale and offset. */
  outlierFraction?: number;
  outlierScale?: number;
}

/**
 * A fixed input distribution (drawn from `distributionSeed`); `sample` draws rows from it, so
 * calibration and held-out rows come from the same distribution with different seeds.
 */
export class SyntheticInputs {
  private readonly loadings: Float64Array;
  private readonly channelScale: Float64Array;
  private readonly channelMean: Float64Array;
  private readonly factors: number;
  private readonly noise: number;

  constructor(
    readonly inFeatures: number,
    distributionSeed: number,
    opts: SyntheticInputOptions = {},
  ) {
    const { factors = 8, noise = 0.5, outlierFraction = 0.02, outlierScale = 12 } = opts;
    this.factors = factors;
    this.noise = noise;
    const rand = mulberry32(distributionSeed);
    const normal = gaussian(rand);
    this.loadings = Float64Array.from({ length: factors * inFeatures }, () => normal() / Math.sqrt(factors));
    this.channelScale = new Float64Array(inFeatures);
    this.channelMean = new Float64Array(inFeatures);
    for (let j = 0; j < inFeatures; j++) {
      const outlier = rand() < outlierFraction;
      this.channelScale[j] = (outlier ? outlierScale : 1) * (0.5 + rand());
      this.channelMean[j] = outlier ? outlierScale * (rand() - 0.5) : 0;
    }
  }

  /** rows × inFeatures activations, row-major. */
  sample(rows: number, seed: number): Float32Array {
    const n = this.inFeatures;
    const normal = gaussian(mulberry32(seed));
    const x = new Float32Array(rows * n);
    const z = new Float64Array(this.factors);
    for (let i = 0; i < rows; i++) {
      for (let f = 0; f < this.factors; f++) z[f] = normal();
      for (let j = 0; j < n; j++) {
        let v = this.noise * normal();
        for (let f = 0; f < this.factors; f++) v += z[f] * this.loadings[f * n + j];
        x[i * n + j] = this.channelMean[j] + this.channelScale[j] * v;
      }
    }
    return x;
  }
}
