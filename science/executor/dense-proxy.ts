// Quantize and evaluate candidates on the dense long-context proxy with the CPU kernels: weights by
// the recipe's policy, the KV cache by its kvCache policy, scored per position bucket and by
// retrieval distance against the original model (computed once per process).
import { PromiseCache } from '../caching/promise-cache.js';
import { loadBrown } from '../corpus/brown.js';
import { captureDenseCalibration } from '../compression/dense-calibration.js';
import { loadDenseWeights } from '../compression/dense-artifact.js';
import { quantizeDense, type QuantizedDense } from '../compression/quantize-dense.js';
import type { CalibrationSet } from '../compression/calibration.js';
import { DenseModel, type DenseWeights } from '../model/dense-forward.js';
import { ModelLoadError, modelHash } from '../model/load.js';
import { cachedProfile } from '../sensitivity/cache.js';
import { longContextQuantiles, measureLongContextSensitivity } from '../sensitivity/long-context.js';
import { LongContextSensitivity } from '../../schema/sensitivity.js';
import { denseLogits } from '../long-context/logits.js';
import { evaluateLongContext, longContextReference, longContextSet, type LongContextMetrics, type LongContextSet } from '../long-context/long-context-set.js';
import { echo } from '../../schema/echo.js';
import type { LongContextSummary } from '../../schema/long-context.js';
import { ordersByLongContext, type Recipe } from '../../schema/recipe.js';
import type { EvaluateOutcome } from './executor.js';

interface PreparedDense {
  weights: DenseWeights;
  calibration: CalibrationSet;
  hash: string;
}

interface Baseline {
  set: LongContextSet;
  reference: Float32Array;
  metrics: LongContextMetrics;
}

export class DenseProxyRunner {
  private readonly prepared = new PromiseCache<PreparedDense>();
  private readonly baselines = new PromiseCache<Baseline>();
  private readonly longContextProfiles = new PromiseCache<LongContextSensitivity>();

  /** `cacheDir`: where long-context sensitivity profiles are kept across processes (absent: this process only). */
  constructor(private readonly cacheDir: () => string | undefined = () => undefined) {}

  /** The unquantized proxy and its calibration, once per (proxy, calibration tokens). */
  private prepare(dir: string, calibrationTokens: number, onProgress: (done: number, total: number) => void): Promise<PreparedDense> {
    return this.prepared.get(`${dir}:${calibrationTokens}`, async () => {
      const weights = loadDenseWeights(dir);
      if (weights.quantization) throw new ModelLoadError(`model: ${echo(dir)} is already quantized (recipe ${echo(weights.quantization.recipe.name)}); quantize the unquantized model`);
      const calibration = await captureDenseCalibration(new DenseModel(weights), loadBrown().train, { tokens: calibrationTokens, onProgress });
      return { weights, calibration, hash: modelHash(dir) };
    });
  }

  /** The proxy's long-context sensitivity profile: measured once per model, on training text. */
  longContextSensitivity(dir: string, calibrationTokens: number, onProgress: (done: number, total: number) => void): Promise<LongContextSensitivity> {
    return this.longContextProfiles.get(dir, async () => {
      const { weights, hash } = await this.prepare(dir, calibrationTokens, () => {});
      const corpus = loadBrown().train;
      const measure = () => measureLongContextSensitivity(weights, hash, corpus, { onProgress });
      const cacheDir = this.cacheDir();
      if (!cacheDir) return measure();
      return (await cachedProfile(cacheDir, 'long-context-sensitivity', { modelHash: hash, corpus: corpus.length }, LongContextSensitivity, hash, measure)).profile;
    });
  }

  async quantize(
    dir: string,
    recipe: Recipe,
    calibrationTokens: number,
    onProgress: (stage: 'calibrate' | 'sensitivity' | 'quantize', done: number, total: number) => void,
  ): Promise<QuantizedDense> {
    const prepared = await this.prepare(dir, calibrationTokens, (d, t) => onProgress('calibrate', d, t));
    const quantiles = ordersByLongContext(recipe)
      ? longContextQuantiles(await this.longContextSensitivity(dir, calibrationTokens, (d, t) => onProgress('sensitivity', d, t)))
      : undefined;
    return quantizeDense(prepared.weights, recipe, { calibration: prepared.calibration, longContextQuantiles: quantiles, onProgress: (d, t) => onProgress('quantize', d, t) });
  }

  /** The original model's scores and log-probabilities on the standard long-context set. */
  private baseline(dir: string, tokens: number): Promise<Baseline> {
    return this.baselines.get(`${dir}:${tokens}`, async () => {
      const model = new DenseModel(loadDenseWeights(dir));
      const original = denseLogits(model);
      const seq = model.config.max_position_embeddings;
      // As many retrieval probes per distance as windows scored, within 4..16: a short evaluation stays short.
      const set = longContextSet(seq, { tokens, probesPerDistance: Math.min(16, Math.max(4, Math.round(tokens / seq))) });
      const reference = await longContextReference(original, set);
      return { set, reference, metrics: await evaluateLongContext(original, set, reference) };
    });
  }

  async evaluate(proxyDir: string, artifactDir: string, tokens: number, onProgress: (done: number, total: number) => void): Promise<EvaluateOutcome> {
    onProgress(0, 2);
    const base = await this.baseline(proxyDir, tokens);
    onProgress(1, 2);
    const weights = loadDenseWeights(artifactDir);
    const kv = weights.quantization?.recipe.kvCache;
    const metrics = await evaluateLongContext(denseLogits(new DenseModel(weights), kv), base.set, base.reference);
    onProgress(2, 2);
    const longContext = summarize(metrics, base.metrics);
    return {
      bitsPerByte: metrics.bitsPerByte,
      top1: metrics.top1,
      // The worst bucket, so that a loss far into the context cannot hide behind a good average.
      kl: Math.max(...longContext.buckets.map((b) => b.kl)),
      baselineTop1: base.metrics.top1,
      expertFrequency: [],
      longContext,
    };
  }
}

function summarize(m: LongContextMetrics, base: LongContextMetrics): LongContextSummary {
  return {
    buckets: m.buckets.map((b, i) => ({ from: b.from, to: b.to, bits_per_byte: b.bitsPerByte, baseline_bits_per_byte: base.buckets[i].bitsPerByte, kl: b.klBitsPerByte ?? 0 })),
    retrieval: m.retrieval.map((r, i) => ({ distance: r.distance, accuracy: r.accuracy, baseline_accuracy: base.retrieval[i].accuracy })),
  };
}
