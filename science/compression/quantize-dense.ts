// Applies a recipe to every linear module of the dense proxy: the spec from the recipe's policy
// (roles and depth bands; dense models have no experts), quantized on its calibration.
import { resolveSpec, type Recipe } from '../../schema/recipe.js';
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

export function denseSpecs(weights: DenseWeights, recipe: Recipe) {
  const c = weights.config;
  return denseModules(c).map((module) => ({
    module,
    spec: adaptToModule(resolveSpec(recipe, { role: module.role, layer: module.layer, numLayers: c.num_hidden_layers, expertQuantile: null }), module),
  }));
}

export async function quantizeDense(weights: DenseWeights, recipe: Recipe, options: { calibration: CalibrationSet; onProgress?(done: number, total: number, tensor: string): void }): Promise<QuantizedDense> {
  const { modules, tensors, bytes } = await quantizePlan(denseSpecs(weights, recipe), weights.tensors, options);
  return { recipe, modules, weights: { config: weights.config, tensors }, bytes };
}
