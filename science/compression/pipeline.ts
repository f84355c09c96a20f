// From a model directory and a recipe to a quantized proxy: calibration capture, the sensitivity
// profile when the recipe ranks experts or expert layers by it, then per-module quantization.
import { loadBrown } from '../corpus/brown.js';
import { ProxyModel } from '../model/forward.js';
import { ModelLoadError, modelHash } from '../model/load.js';
import type { Recipe } from '../../schema/recipe.js';
import type { SensitivityProfile } from '../../schema/sensitivity.js';
import { cachedSensitivity } from '../sensitivity/cache.js';
import { expertSensitivityScores, measureSensitivity } from '../sensitivity/measure.js';
import { captureCalibration, type CalibrationOptions, type CalibrationSet } from './calibration.js';
import { loadModel } from './quantized-format.js';
import { quantizeProxy, type QuantizedProxy } from './quantize-model.js';
import { echo } from '../../schema/echo.js';
import { createHash } from 'node:crypto';
import type { ExpertReduction } from '../../schema/recipe.js';
import { siteKey } from '../model/calibration-site.js';
import { reduceExperts, type ExpertReductionPlan } from './expert-reduction.js';

export type Stage = 'calibrate' | 'sensitivity' | 'quantize';

export interface PreparedModel {
  dir: string;
  hash: string;
  weights: ReturnType<typeof loadModel>;
  calibration: CalibrationSet;
  /** Measured lazily, only for recipes that need it. */
  sensitivity: SensitivityProfile | null;
  /** How the calibration was captured: a model with fewer experts is calibrated again the same way. */
  calibrationOptions?: Omit<CalibrationOptions, 'onProgress'>;
  /** Models with fewer experts derived from this one, by reduction, prepared once each. */
  reductions?: Map<string, Promise<ReducedPreparedModel>>;
}

/** A prepared model whose experts a recipe's expertReduction pruned or merged. */
export interface ReducedPreparedModel extends PreparedModel {
  plan: ExpertReductionPlan;
}

export interface PipelineOptions {
  calibration?: Omit<CalibrationOptions, 'onProgress'>;
  /** Where sensitivity profiles are cached across processes; without it one is measured per prepared model. */
  sensitivityCacheDir?: string;
  onProgress?(stage: Stage, done: number, total: number): void;
}

/** Quantizing stored codes again would compound their error: the input must be the original model. */
export function assertUnquantized(dir: string, weights: ReturnType<typeof loadModel>): void {
  if (weights.quantization) {
    throw new ModelLoadError(`model: ${echo(dir)} is already quantized (recipe ${echo(weights.quantization.recipe.name)}); quantize the unquantized model`);
  }
}

/** Loads an unquantized model and captures its calibration once, for any number of recipes. */
export async function prepareModel(dir: string, options: PipelineOptions & { weights?: ReturnType<typeof loadModel> } = {}): Promise<PreparedModel> {
  const weights = options.weights ?? loadModel(dir);
  assertUnquantized(dir, weights);
  const calibration = await captureCalibration(new ProxyModel(weights), loadBrown().train, {
    ...options.calibration,
    onProgress: (d, t) => options.onProgress?.('calibrate', d, t),
  });
  return { dir, hash: modelHash(dir), weights, calibration, sensitivity: null, calibrationOptions: options.calibration ?? {} };
}

/**
 * The model with the recipe's experts pruned or merged, calibrated again: the experts that remain
 * see the tokens of the removed ones, and later layers see a changed residual stream, so the
 * quantizers must calibrate on the reduced model as it will run. Sensitivity, when a recipe needs
 * it, is measured on the reduced model too (its identity is the original's hash and the reduction).
 */
export function prepareReduced(prepared: PreparedModel, reduction: ExpertReduction, options: PipelineOptions = {}): Promise<ReducedPreparedModel> {
  const key = JSON.stringify([reduction.mode, reduction.fraction, reduction.rankBy]);
  prepared.reductions ??= new Map();
  let p = prepared.reductions.get(key);
  if (!p) {
    p = (async () => {
      const cal = prepared.calibration;
      const { weights, plan } = reduceExperts(prepared.weights, reduction, {
        routedCounts: cal.routedCounts,
        routerInputGram: (layer) => cal.stats.get(siteKey({ kind: 'moe_input', layer }))?.hessian,
      });
      const calibration = await captureCalibration(new ProxyModel(weights), loadBrown().train, {
        ...prepared.calibrationOptions,
        onProgress: (d, t) => options.onProgress?.('calibrate', d, t),
      });
      const hash = createHash('sha256').update(`${prepared.hash}\n${key}`).digest('hex');
      return { dir: prepared.dir, hash, weights: { ...weights, quantization: null }, calibration, sensitivity: null, calibrationOptions: prepared.calibrationOptions, plan };
    })();
    prepared.reductions.set(key, p);
  }
  return p;
}

export async function ensureSensitivity(prepared: PreparedModel, options: PipelineOptions = {}): Promise<SensitivityProfile> {
  if (!prepared.sensitivity) {
    const onProgress = (d: number, t: number): void => options.onProgress?.('sensitivity', d, t);
    const corpus = loadBrown().train;
    prepared.sensitivity =
      options.sensitivityCacheDir === undefined
        ? await measureSensitivity(prepared.weights, prepared.hash, corpus, { onProgress })
        : (await cachedSensitivity(options.sensitivityCacheDir, prepared.weights, prepared.hash, corpus, { onProgress })).profile;
  }
  return prepared.sensitivity;
}

export async function applyRecipe(original: PreparedModel, recipe: Recipe, options: PipelineOptions = {}): Promise<QuantizedProxy> {
  // Experts are pruned or merged first; quantization then applies to the experts that remain.
  const reduced = recipe.expertReduction ? await prepareReduced(original, recipe.expertReduction, options) : null;
  const prepared = reduced ?? original;
  const c = prepared.weights.config;
  const expertSensitivity =
    recipe.experts?.rankBy === 'sensitivity' || recipe.expertLayers?.rankBy === 'sensitivity' ? expertSensitivityScores(await ensureSensitivity(prepared, options), c.num_hidden_layers, c.num_experts) : undefined;
  const qp = await quantizeProxy(prepared.weights, recipe, {
    calibration: prepared.calibration,
    expertSensitivity,
    onProgress: (d, t) => options.onProgress?.('quantize', d, t),
  });
  return reduced ? { ...qp, expertReduction: reduced.plan } : qp;
}
