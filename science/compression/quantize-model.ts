// Applies a recipe to every linear module of the proxy: resolve its spec from the policy,
// quantize it on its calibration activations, keep the stored form and the effective weight.
import type { ProxyWeights } from '../model/forward.js';
import { proxyModules, type ProxyModule } from '../model/modules.js';
import { quantizeLinear } from '../quantization/quantize-linear.js';
import { dequantize, storedBytes, type QuantizedLinear } from '../quantization/quantized-linear.js';
import { resolveSpec, type ModuleRole, type QuantSpec, type Recipe } from '../../schema/recipe.js';
import type { CalibrationSet } from './calibration.js';
import { siteKey } from '../model/calibration-site.js';
import { expertQuantiles, layerQuantiles, type ExpertEvidence } from './expert-ranking.js';
import type { ExpertReductionPlan } from './expert-reduction.js';
import { searchSharedScales, sharedInputGroups } from './awq-shared-input.js';

export interface QuantizedModule {
  module: ProxyModule;
  spec: QuantSpec;
  stored: QuantizedLinear;
}

export interface QuantizedProxy {
  recipe: Recipe;
  modules: QuantizedModule[];
  /** Effective float weights of the whole model (quantized modules dequantized, norms as stored). */
  weights: ProxyWeights;
  /** Bytes the quantized model stores: quantized modules plus bf16 norms. */
  bytes: { total: number; byRole: Partial<Record<ModuleRole | 'norms', number>> };
  /** Which original experts remain (and what merged into them), when the recipe reduced the experts. */
  expertReduction?: ExpertReductionPlan;
}

export interface QuantizeModelOptions {
  calibration: CalibrationSet;
  /** Sensitivity scores per [layer][expert], for recipes that rank experts or expert layers by sensitivity. */
  expertSensitivity?: number[][];
  onProgress?(done: number, total: number, tensor: string): void;
}

/** An embedding table is looked up, not multiplied: it has no activations to calibrate on. */
export function adaptToModule(spec: QuantSpec, module: ProxyModule): QuantSpec {
  if (module.calibration !== null) return spec;
  const adapted: QuantSpec = { ...spec, method: { kind: 'rtn' } };
  if (spec.outliers) adapted.outliers = { ...spec.outliers, criterion: 'magnitude' };
  return adapted;
}

export function specsFor(weights: ProxyWeights, recipe: Recipe, evidence: ExpertEvidence): Array<{ module: ProxyModule; spec: QuantSpec }> {
  const c = weights.config;
  const quantiles = expertQuantiles(recipe, evidence);
  const layers = layerQuantiles(recipe, evidence);
  return proxyModules(c).map((module) => {
    const spec = resolveSpec(recipe, {
      role: module.role,
      layer: module.layer,
      numLayers: c.num_hidden_layers,
      expertQuantile: module.expert !== null && module.layer !== null && quantiles ? quantiles[module.layer][module.expert] : null,
      layerQuantile: module.layer !== null && layers ? layers[module.layer] : null,
    });
    return { module, spec: adaptToModule(spec, module) };
  });
}

export async function quantizeProxy(weights: ProxyWeights, recipe: Recipe, options: QuantizeModelOptions): Promise<QuantizedProxy> {
  const plan = specsFor(weights, recipe, { routing: options.calibration.routedCounts, sensitivity: options.expertSensitivity });
  const { modules, tensors, bytes } = await quantizePlan(plan, weights.tensors, options);
  return { recipe, modules, weights: { config: weights.config, tensors }, bytes };
}

export interface QuantizedPlan {
  modules: QuantizedModule[];
  /** Every tensor of the model, quantized modules dequantized. */
  tensors: Map<string, Float32Array>;
  bytes: QuantizedProxy['bytes'];
}

/** Quantizes each planned module on its calibration, any model layout: the proxy MoE's or the dense proxy's. */
export async function quantizePlan(plan: ReadonlyArray<{ module: ProxyModule; spec: QuantSpec }>, original: ReadonlyMap<string, Float32Array>, options: Omit<QuantizeModelOptions, 'expertSensitivity'>): Promise<QuantizedPlan> {
  const tensors = new Map(original);
  const modules: QuantizedModule[] = [];
  const byRole: Partial<Record<ModuleRole | 'norms', number>> = {};
  let total = 0;
  // One s per shared input, searched jointly before its modules are quantized (clipping stays per module).
  const sharedScales = new Map<number, Uint16Array>();
  for (const group of sharedInputGroups(plan)) {
    const { channelScales } = await searchSharedScales(plan, group, { tensors: original }, options.calibration);
    for (const i of group.members) sharedScales.set(i, channelScales);
  }
  for (const [i, { module, spec }] of plan.entries()) {
    const weight = original.get(module.tensor);
    if (!weight) throw new Error(`quantize: model has no tensor ${module.tensor}`);
    const stats = module.calibration ? options.calibration.stats.get(siteKey(module.calibration)) ?? null : null;
    const stored = await quantizeLinear(weight, module.outFeatures, module.inFeatures, stats, spec, { label: module.tensor, sharedChannelScales: sharedScales.get(i) });
    tensors.set(module.tensor, dequantize(stored));
    modules.push({ module, spec, stored });
    const bytes = storedBytes(stored);
    byRole[module.role] = (byRole[module.role] ?? 0) + bytes;
    total += bytes;
    options.onProgress?.(i + 1, plan.length, module.tensor);
  }
  const linearTensors = new Set(plan.map((p) => p.module.tensor));
  for (const [name, t] of original) {
    if (!linearTensors.has(name)) {
      byRole.norms = (byRole.norms ?? 0) + 2 * t.length;
      total += 2 * t.length;
    }
  }
  return { modules, tensors, bytes: { total, byRole } };
}
