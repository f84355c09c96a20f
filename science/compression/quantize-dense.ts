// Applies a recipe to every linear module of the dense proxy: the spec from the recipe's policy
// (roles and depth bands; dense models have no experts), quantized on its calibration.
import { ordersByLongContext, resolveSpec, type Recipe } from '../../schema/recipe.js';
import type { DenseWeights } from '../model/dense-forward.js';
import { denseModules } from '../model/dense-modules.js';
import type { CalibrationSet } from './calibration.js';
import { adaptToModule, quantizePlan, type QuantizedModule, type QuantizedProxy } from './quantize-model.js';

export interface QuantizedDense {
  recipe: Recipe;
  modules: QuantizedModule[];
  weights: DenseWeights;
  bytes: QuantizedProxy['bytes'];
}

/** `longContextQuantiles`: each layer's rank by measured long-context sensitivity, for bands ordered by it. */
export function denseSpecs(weights: DenseWeights, recipe: Recipe, longContextQuantiles?: readonly number[]) {
  const c = weights.config;
  return denseModules(c).map((module) => ({
    module,
    spec: adaptToModule(
      resolveSpec(recipe, {
        role: module.role,
        layer: module.layer,
        numLayers: c.num_hidden_layers,
        expertQuantile: null,
        longContextQuantile: module.layer === null ? null : (longContextQuantiles?.[module.layer] ?? null),
      }),
      module,
    ),
  }));
}

export interface QuantizeDenseOptions {
  calibration: CalibrationSet;
  /** Required when the recipe orders a band by long-context sensitivity (science/sensitivity/long-context.ts). */
  longContextQuantiles?: readonly number[];
  onProgress?(done: number, total: number, tensor: string): void;
}

export async function quantizeDense(weights: DenseWeights, recipe: Recipe, options: QuantizeDenseOptions): Promise<QuantizedDense> {
  if (ordersByLongContext(recipe) && !options.longContextQuantiles) throw new RangeError('recipe orders a depth band by long-context sensitivity: measure it first (longContextQuantiles)');
  const { modules, tensors, bytes } = await quantizePlan(denseSpecs(weights, recipe, options.longContextQuantiles), weights.tensors, options);
  return { recipe, modules, weights: { config: weights.config, tensors }, bytes };
}
