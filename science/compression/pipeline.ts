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

export type Stage = 'calibrate' | 'sensitivity' | 'quantize';

export interface PreparedModel {
  dir: string;
  hash: string;
  weights: ReturnType<typeof loadModel>;
  calibration: CalibrationSet;
  /** Measured lazily, only for recipes that need it. */
  sensitivity: SensitivityProfile | null;
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
  return { dir, hash: modelHash(dir), weights, calibration, sensitivity: null };
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

export async function applyRecipe(prepared: PreparedModel, recipe: Recipe, options: PipelineOptions = {}): Promise<QuantizedProxy> {
  const c = prepared.weights.config;
  const expertSensitivity =
    recipe.experts?.rankBy === 'sensitivity' || recipe.expertLayers?.rankBy === 'sensitivity' ? expertSensitivityScores(await ensureSensitivity(prepared, options), c.num_hidden_layers, c.num_experts) : undefined;
  return quantizeProxy(prepared.weights, recipe, {
    calibration: prepared.calibration,
    expertSensitivity,
    onProgress: (d, t) => options.onProgress?.('quantize', d, t),
  });
}
